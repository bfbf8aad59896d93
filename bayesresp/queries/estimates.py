"""What the posterior says about the model's parameters: tables a researcher reads.

``summary`` (every parameter with a readable name, interval, r_hat and ESS),
``odds_ratios``, ``group_effects`` and ``variance_decomposition``. Each takes the fitted
record (:class:`bayesresp.inference.record.FittedModel`); ``bayesresp.Fit`` offers them as
methods.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from bayesresp.errors import BayesrespError
from bayesresp.inference.arrays import arviz_tree, latent_values, readable_posterior
from bayesresp.inference.record import FittedModel
from bayesresp.maths.links import get_link
from bayesresp.maths.predictor import linear_predictor
from bayesresp.model.design import apply_design


def interval_names(ci: float) -> tuple[str, str]:
    """Column names of a central ``ci`` interval: ``("q5", "q95")`` for 0.9."""
    lo = (1 - ci) / 2 * 100
    return f"q{lo:g}", f"q{100 - lo:g}"


def describe_draws(draws: np.ndarray, ci: float = 0.9) -> dict[str, float]:
    """Mean, sd, median and central interval of a 1-D array of draws."""
    lo, hi = interval_names(ci)
    q = np.quantile(draws, [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2])
    return {
        "mean": float(np.mean(draws)),
        "sd": float(np.std(draws, ddof=1)),
        "median": float(q[1]),
        lo: float(q[0]),
        hi: float(q[2]),
    }


def summary(fit: FittedModel, ci: float = 0.9) -> pd.DataFrame:
    """One row per parameter: mean, sd, median, central interval, r_hat, ESS, block.

    Names are tied to codebook levels: ``background[military_security]``,
    ``mo(hierarchy_level)``, ``cutpoint[silence|mild_concern]``, ``sd(mission)``,
    ``sd(mission:department)``. A positive coefficient moves responses towards the
    confrontational end of the spectrum. Continuous covariates are per standard
    deviation of the fitting data (the ``scale`` column says how many units).

    Examples
    --------
    >>> fit.summary(ci=0.95).loc["sd(mission)"]  # doctest: +SKIP
    """
    ds, block, scale = readable_posterior(fit.posterior, fit.info)
    tree, readable_of = arviz_tree(ds)
    stats = az.summary(tree, ci_prob=ci, ci_kind="eti", round_to="none")
    stats = stats.rename(index=readable_of)
    lo, hi = interval_names(ci)
    lb = next(c for c in stats.columns if c.endswith("_lb"))
    ub = next(c for c in stats.columns if c.endswith("_ub"))
    med = {name: float(ds[name].median()) for name in ds.data_vars}
    table = pd.DataFrame(
        {
            "mean": stats["mean"],
            "sd": stats["sd"],
            "median": pd.Series(med),
            lo: stats[lb],
            hi: stats[ub],
            "r_hat": stats["r_hat"],
            "ess_bulk": stats["ess_bulk"],
            "ess_tail": stats["ess_tail"],
            "block": pd.Series(block),
            "scale": pd.Series(scale),
        }
    )
    table.index.name = "parameter"
    return table.loc[list(ds.data_vars)]


def odds_ratios(fit: FittedModel, ci: float = 0.9) -> pd.DataFrame:
    """exp(coefficient): the factor on the odds the family's model reads (the logit
    link only).

    In the cumulative model (proportional odds), ``background[military_security] =
    2.5`` says that the odds of a response more confrontational than any given level
    are 2.5 times those of the reference background, other things equal. In the
    sequential models (``sratio``, ``cratio``) it is the factor on the odds of going on
    past a level, given that the response reached it; in the adjacent-category model
    (``acat``), on the odds of each level against the one below it
    (:attr:`bayesresp.maths.families.Family.odds_reading`; the table's
    ``attrs["reading"]`` says which). Category-specific coefficients (``cs()``) are not
    in the table: each is read at its threshold in ``summary()``.

    Examples
    --------
    >>> fit.odds_ratios().loc["background[military_security]", "mean"]  # doctest: +SKIP
    """
    if not get_link(fit.spec.link).odds:
        raise BayesrespError(
            f"odds ratios belong to the logit link; this model uses {fit.spec.link}: "
            "read its coefficients on the latent scale (summary()) instead"
        )
    ds, block, _ = readable_posterior(fit.posterior, fit.info)
    names = [c.name for c in fit.info.columns] + [m.name for m in fit.info.monotonic]
    rows = {}
    for name in names:
        d = describe_draws(np.exp(ds[name].values.ravel()), ci)
        rows[name] = {
            "odds_ratio": d["median"],
            **{k: v for k, v in d.items() if k.startswith("q")},
            "p_above_1": float((ds[name].values > 0).mean()),
            "block": block[name],
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "parameter"
    out.attrs["reading"] = fit.spec.response.odds_reading
    return out


def group_effects(fit: FittedModel, group: str | None = None, ci: float = 0.9) -> pd.DataFrame:
    """Estimated effect of each mission, department, official... on the latent scale
    (but see below for thresholds varying by group).

    For thresholds varying by group (``(cs(1) | mission)``) the terms are the
    thresholds, and each value a level's deviation with the sign of an effect (positive:
    the threshold lower, responses higher); in the cumulative family, from the second
    threshold on, the deviation of the log of the gap below it
    (:mod:`bayesresp.maths.thresholds`).

    Examples
    --------
    >>> fit.group_effects("mission")  # doctest: +SKIP
    """
    frames = []
    for g in fit.info.groups:
        if group is not None and g.label != group:
            continue
        r = fit.arrays.r[g.label]  # (S, levels, q)
        for j, term in enumerate(g.column_names):
            for i, level in enumerate(g.levels):
                frames.append(
                    {
                        "group": g.label,
                        "level": level,
                        "term": term,
                        **describe_draws(r[:, i, j], ci),
                    }
                )
    if group is not None and not frames:
        known = ", ".join(g.label for g in fit.info.groups) or "none"
        raise KeyError(f"no group term '{group}' in this model (group terms: {known})")
    if not frames:  # a model without group terms has no group effects
        lo, hi = interval_names(ci)
        cols = ["group", "level", "term", "mean", "sd", "median", lo, hi]
        return pd.DataFrame(columns=cols).set_index(["group", "level", "term"])
    return pd.DataFrame(frames).set_index(["group", "level", "term"])


def no_decomposition(fit: FittedModel) -> str | None:
    """Why the fit has no variance decomposition (None when it has one): a family or
    link without a latent variance, or terms that move thresholds rather than the
    latent propensity (cs() covariates, thresholds varying by group)."""
    why = fit.spec.response.no_decomposition()
    if why is None and fit.info.threshold_groups:
        g = fit.info.threshold_groups[0]
        why = (
            f"(cs(1) | {g.label}) moves each {g.label}'s thresholds on their own, not the "
            "latent propensity, so its spread has no share of its variance"
        )
    if why is None and fit.info.cs_columns:
        terms = ", ".join(dict.fromkeys(c.term for c in fit.info.cs_columns))
        why = (
            f"{terms} move each threshold on its own, not the latent propensity, so they "
            "have no share of its variance"
        )
    return why


def variance_decomposition(fit: FittedModel, ci: float = 0.9) -> pd.DataFrame:
    """Share of latent variance due to each block, each grouping level and the residual.

    Rows: one per block of covariates (``incident``, ``individual``, ...), one per
    grouping term (``group(mission)``, ``group(mission:department)``) and
    ``residual``.

    Per posterior draw: a block's variance is the variance, over the fitted rows, of
    its part of the linear predictor; a grouping level's is the average over rows of
    ``z' Sigma z`` (``sd^2`` for an intercept); the residual's is the link's
    (pi^2/3 for logit, 1 for probit, pi^2/6 for cloglog). Shares divide each by their
    sum, so they add to one; covariance between blocks is not attributed to either. The
    cauchit link's Cauchy residual has no variance, so its model has no decomposition
    (an error says so).

    In the sequential families (``sratio``, ``cratio``) every step of the climb up the
    spectrum is a choice with one latent propensity, the same linear predictor plus the
    link's residual at each step: the shares are those of that propensity. The
    adjacent-category family (``acat``) has no latent scale, and an error says so.

    Under the r2d2 prior (the default; :mod:`bayesresp.model.r2d2`) the table also holds
    what the prior's own parameters say, ``allotted`` with its interval
    (``allotted_q5``, ``allotted_q95`` for ``ci=0.9``): ``R2 * shares[k]`` per component
    and ``1 - R2`` for the residual, the share of the latent variance each is given in
    expectation over its coefficients. ``share`` is what the drawn coefficients realise
    over the fitted rows; the two agree when a component has many columns and differ for
    one of few (a single coefficient's square varies widely around its expectation).

    Examples
    --------
    >>> fit.variance_decomposition()[["share", "q5", "q95"]]  # doctest: +SKIP
    """
    why = no_decomposition(fit)
    if why is not None:
        refit = (
            "fit a cumulative or sequential (sratio, cratio) model with the logit, probit "
            "or cloglog link to decompose it"
            if fit.spec.response.no_decomposition() is not None
            else "fit the model with common effects and group intercepts ((1 | group)) in "
            "their place to decompose it"
        )
        raise BayesrespError(
            f"{why}: shares of the latent variance are not defined; compare blocks with "
            f"contrasts or marginal effects, or {refit}"
        )
    residual = fit.spec.response.link.residual_variance
    info, d = fit.info, fit.arrays
    # a response coded twice counts once; a fitted row's latent values are the fit's
    design = apply_design(info, fit.responses, positions=fit.response_positions)
    # Each row's weight per draw; a row lacking covariates the fit sums out is spread over
    # its copies by their posterior given its outcome (under the model of coders, by the
    # covariates' own models): the variance over rows is then that of the mixture, by
    # the law of total variance.
    if design.imputation is None:
        W = np.full((d.n_draws, design.n), 1.0 / design.n)
    else:
        from bayesresp.inference.imputation import copy_weights

        link = None if info.coders else fit.spec.response
        W = copy_weights(design, d, link) / design.imputation.n_rows
    comps: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    # each latent number's value per draw and row (zero where observed: X holds it)
    values = [
        np.where(lat.missing, latent_values(d, design, j), 0.0)
        for j, lat in enumerate(design.latent)
    ]
    blocks = list(
        dict.fromkeys([c.block for c in info.columns] + [m.block for m in info.monotonic])
    )
    for block in blocks:
        cols = [j for j, c in enumerate(info.columns) if c.block == block]
        mo = [j for j, m in enumerate(info.monotonic) if m.block == block]
        part = linear_predictor(
            design.X[:, cols],
            d.b[:, cols],
            mono=design.mono[:, mo],
            b_mo=d.b_mo[:, mo],
            simplexes=[d.simplex[info.monotonic[j].var] for j in mo],
        )
        for v, lat in zip(values, design.latent, strict=True):  # latent numbers' part
            part = part + v * (d.b[:, cols] @ lat.dX[:, cols].T)
        mean = (W * part).sum(axis=1)
        comps[block], kinds[block] = (W * part**2).sum(axis=1) - mean**2, "block"
    for g in info.groups:
        Z = design.group_Z[g.label]
        cov = d.cor[g.label] * d.sd[g.label][:, :, None] * d.sd[g.label][:, None, :]
        slopes = [
            (v, lat.dZ[g.label])
            for v, lat in zip(values, design.latent, strict=True)
            if lat.dZ[g.label].any()
        ]
        if slopes:  # a slope on a latent number: each draw's Z is Z + sum_j v_j dZ_j
            comps[f"group({g.label})"] = _latent_slope_variance(W, Z, cov, slopes)
        else:
            comps[f"group({g.label})"] = np.einsum("sn,nq,sqr,nr->s", W, Z, cov, Z, optimize=True)
        kinds[f"group({g.label})"] = "group"
    comps["residual"] = np.full(d.n_draws, residual)
    kinds["residual"] = "residual"
    total = sum(comps.values())
    lo, hi = interval_names(ci)
    rows = {}
    for name, v in comps.items():
        share = describe_draws(v / total, ci)
        rows[name] = {
            "kind": kinds[name],
            "variance": float(v.mean()),
            "share": share["mean"],
            lo: share[lo],
            hi: share[hi],
        }
    post = fit.posterior
    if "R2" in post:
        R2 = post["R2"].values.ravel()
        for name in rows:
            if name == "residual":
                allotted = 1.0 - R2
            elif "shares" in post:
                allotted = R2 * post["shares"].sel(component=name).values.ravel()
            else:  # one component takes all of R2
                allotted = R2
            given = describe_draws(allotted, ci)
            rows[name] |= {
                "allotted": given["mean"],
                f"allotted_{lo}": given[lo],
                f"allotted_{hi}": given[hi],
            }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "component"
    return out


def _latent_slope_variance(W, Z, cov, slopes) -> np.ndarray:
    """``sum_n W[s, n] Z_sn' cov_s Z_sn`` per draw, for rows whose group columns are
    ``Z_sn = Z_n + sum_j v_j[s, n] dZ_j[n]`` (slopes on latent numbers, ``slopes`` the
    pairs (v_j, dZ_j)): the quadratic form expanded into (S, n) pieces, never an
    (S, n, q) array."""
    parts = [(None, Z), *slopes]
    out = 0.0
    for a, (va, Za) in enumerate(parts):
        for b in range(a, len(parts)):
            vb, Zb = parts[b]
            form = np.einsum("nq,sqr,nr->sn", Za, cov, Zb, optimize=True)
            if va is not None:
                form = form * va
            if vb is not None:
                form = form * vb
            out = out + (1.0 if a == b else 2.0) * (W * form).sum(axis=1)
    return out


def imputed_values(fit: FittedModel, ci: float = 0.9) -> pd.DataFrame:
    """The posterior of each missing cell of a number in a fit with ``missing="model"``
    (a latent value of the model, :class:`bayesresp.model.design.Latent`): its mean, sd
    and central ``ci`` interval in the number's units, given everything the row says (its
    outcome, its other covariates, its mission), beside the number's observed mean.

    Indexed by row (the data's row key, else its 1-based position) and covariate; under
    the model of coders, by response (one value per response, given all its codes). A
    fit without latent numbers is refused.

    Examples
    --------
    >>> imputed_values(fit).loc[("17", "years_at_station"), "mean"]  # doctest: +SKIP
    """
    if not fit.info.latent:
        raise BayesrespError(
            "this fit has no number with latent missing cells (it was fitted without "
            "missing='model', or no number in its data lacked a value): nothing to show"
            + (" (its missing covariates have levels: fit.imputed())" if fit.info.imputed else "")
        )
    if not 0 < ci < 1:
        raise BayesrespError(f"ci must lie strictly between 0 and 1, not {ci}")
    ids = fit.tree["observed_data"]["row"].values
    name = "row"
    if fit.info.coders:
        design = fit.design
        ids = np.empty(len(fit.data), dtype=object)
        ids[design.coders.first] = design.coders.labels
        name = fit.info.coder_columns[0]
    a = (1 - ci) / 2
    lo, hi = f"q{a * 100:g}", f"q{100 - a * 100:g}"
    records = []
    for m in fit.info.latent:
        if not m.n_cells:
            continue
        x = fit.posterior[f"mi_x[{m.var}]"].values.reshape(-1, m.n_cells)
        q = np.quantile(x, [a, 1 - a], axis=0)
        for c, row in enumerate(m.first_rows()):
            records.append(
                (ids[row], m.var, x[:, c].mean(), x[:, c].std(), q[0, c], q[1, c], m.center)
            )
    columns = [name, "variable", "mean", "sd", lo, hi, "observed_mean"]
    return pd.DataFrame(records, columns=columns).set_index([name, "variable"])


def imputed(fit: FittedModel, ci: float = 0.9) -> pd.DataFrame:
    """The posterior of each missing covariate cell of a fit with ``missing="model"``:
    per cell and level, the probability that the row has that level given everything the
    row says (its outcome, its other covariates, its mission), averaged over the
    posterior, with a central interval over the draws.

    Indexed by row (the data's row key, else its 1-based position), covariate and level;
    a row's probabilities of one covariate sum to one. Under the model of coders, by
    response (its identifier), given all its codes. A fit without modelled missing
    cells is refused.
    """
    from bayesresp.inference.imputation import imputed_probabilities

    if not fit.info.imputed and fit.info.latent:
        raise BayesrespError(
            "this fit's missing cells are numbers ("
            + ", ".join(m.var for m in fit.info.latent)
            + "), latent values of the model: fit.imputed_values() gives their posterior "
            "(bayesresp imputed FIT --numbers)"
        )
    if not fit.info.imputed:
        raise BayesrespError(
            "this fit sums out no missing covariate (it was fitted without "
            "missing='model', or its data lacked none): nothing to show"
        )
    design = fit.design
    if design.coders is None:
        table = imputed_probabilities(design, fit.arrays, fit.spec.response, ci)
        ids, name = fit.tree["observed_data"]["row"].values, "row"
    else:  # given all the codes of the response, one entry per response
        from bayesresp.inference.coders import copy_log_terms

        terms = copy_log_terms(design, fit.arrays, fit.posterior, fit.spec.response)
        first = design.coders.first
        table = imputed_probabilities(design, fit.arrays, fit.spec.response, ci, terms, first)
        ids = np.empty(len(fit.data), dtype=object)
        ids[first] = design.coders.labels
        name = fit.info.coder_columns[0]
    table["row"] = ids[table["row"].to_numpy()]
    return table.rename(columns={"row": name}).set_index([name, "variable", "level"])
