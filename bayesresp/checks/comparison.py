"""Model comparison by PSIS-LOO (ArviZ), with exact refits where PSIS is unreliable, and
by leave-one-group-out cross-validation (``folds="mission"``): how well each model
predicts a new mission."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayesresp.errors import ComparisonError
from bayesresp.inference.arrays import eta_from_draws
from bayesresp.inference.record import FittedModel
from bayesresp.maths.cumulative import log_prob
from bayesresp.model.design import apply_design

K_THRESHOLD = 0.7


@dataclass
class ComparisonResult:
    """PSIS-LOO comparison.

    ``table``: ArviZ's comparison (rank, elpd, se, elpd_diff, dse, weight by stacking, ...).
    ``flagged``: per model, the rows whose Pareto k exceeds 0.7 (PSIS unreliable there).
    ``refitted``: per model, the rows whose LOO term was computed exactly by refitting
    the model without them. ``method``: ``"PSIS-LOO"``, or for ``folds="mission"``
    ``"leave-one-mission-out"`` (then ``loos`` holds K-fold results, one term per
    mission).
    """

    table: pd.DataFrame
    loos: dict[str, Any]
    flagged: dict[str, pd.DataFrame]
    refitted: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    method: str = "PSIS-LOO"

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        cols = [
            c
            for c in ("rank", "elpd", "se", "elpd_diff", "dse", "p", "weight")
            if c in self.table.columns
        ]
        text = self.table[cols].to_string(float_format=lambda x: f"{x:.2f}")
        flags = [
            f"{m}: {len(f)} row(s) with Pareto k > {K_THRESHOLD}"
            + (f", {len(self.refitted.get(m, []))} refitted exactly" if m in self.refitted else "")
            for m, f in self.flagged.items()
            if len(f)
        ]
        return "\n".join(
            [
                f"{self.method} comparison (higher elpd is better):",
                text,
                *flags,
                *[f"note: {n}" for n in self.notes],
            ]
        )

    def _repr_html_(self) -> str:
        from html import escape

        notes = "".join(f"<p>{escape(n)}</p>" for n in self.notes)
        return (
            f"<p><b>{escape(self.method)} comparison</b> (higher elpd is better)</p>"
            + self.table.to_html(float_format="%.2f")
            + notes
        )


def _rows(fit: FittedModel) -> np.ndarray:
    return fit.tree["log_likelihood"]["row"].values


def compare(
    fits: dict[str, FittedModel],
    *,
    refit_high_k: bool = True,
    max_refits: int = 10,
    refit_draws: int = 500,
    folds: int | str | None = None,
) -> ComparisonResult:
    """Compare fits of the same data by PSIS-LOO, or by leave-one-group-out
    cross-validation.

    Parameters
    ----------
    fits : dict of name -> FittedModel
    refit_high_k : bool
        Where a row's Pareto k exceeds 0.7, refit the model without that row and use the
        exact LOO term instead of the PSIS estimate (at most ``max_refits`` rows per
        model). With more, ``folds=K`` replaces that model's PSIS-LOO by K-fold
        cross-validation (K refits); without it, a warning recommends doing so.
    folds : int or str, optional
        An int: as above. A grouping column (``"mission"``), or a group term of the
        models (``"mission:department"``): leave-one-group-out cross-validation for
        every model (:func:`~bayesresp.checks.comparison.group_kfold`), one refit per
        group, each group's rows predicted jointly as those of a group the model has not
        seen. PSIS-LOO asks how
        well a model predicts another response from the missions it knows; this asks
        how well it predicts a new mission, the question of a study that will be read
        about other missions.
    refit_draws : int
        Posterior draws per chain of every refit.

    Examples
    --------
    >>> bayesresp.compare({"baseline": fit_b, "hierarchical": fit_h})  # doctest: +SKIP
    >>> fits = {"baseline": fit_b, "hierarchical": fit_h}  # doctest: +SKIP
    >>> bayesresp.compare(fits, folds="mission")  # doctest: +SKIP
    """
    if len(fits) < 2:
        raise ComparisonError("compare needs at least two fits")
    names = list(fits)
    first = _rows(fits[names[0]])
    observed = fits[names[0]].tree["observed_data"].to_dataset()
    for n in names[1:]:
        same_y = observed.equals(fits[n].tree["observed_data"].to_dataset())
        if not np.array_equal(_rows(fits[n]), first) or not same_y:
            raise ComparisonError(
                f"'{n}' was fitted to other rows than '{names[0]}'; LOO "
                "compares fits of the same data only"
            )
    if isinstance(folds, str):
        loos = {name: group_kfold(fit, folds, draws=refit_draws) for name, fit in fits.items()}
        n_groups = next(iter(loos.values())).n_folds
        table = az.compare(loos, round_to="none")
        note = (
            f"elpd from leave-one-{folds}-out cross-validation: {n_groups} refits per model, "
            f"each {folds}'s responses predicted jointly, as those of a {folds} the model has "
            "not seen; one pointwise term per group, so se and dse rest on "
            f"{n_groups} terms"
        )
        empty = {name: pd.DataFrame({"row": [], "pareto_k": []}) for name in fits}
        return ComparisonResult(table, loos, empty, {}, [note], f"leave-one-{folds}-out")
    loos, flagged, refitted, notes = {}, {}, {}, []
    for name, fit in fits.items():
        loo = fit.loo()
        k = np.asarray(loo.pareto_k).ravel()
        # ArviZ's threshold, min(1 - 1/log10(S), 0.7), is stricter for few draws.
        bad = np.flatnonzero(k > min(K_THRESHOLD, float(loo.good_k)))
        flagged[name] = pd.DataFrame({"row": first[bad], "pareto_k": k[bad]})
        if bad.size and refit_high_k:
            if bad.size <= max_refits:
                loo = _exact_loo(fit, loo, bad, refit_draws)
                refitted[name] = list(first[bad])
            elif folds:
                loo = kfold(fit, loo, k=folds, draws=refit_draws)
                refitted[name] = list(first)
                notes.append(
                    f"{name}: {bad.size} rows have Pareto k > {K_THRESHOLD}; its "
                    f"elpd comes from {folds}-fold cross-validation instead"
                )
            else:
                msg = (
                    f"{name}: {bad.size} rows have Pareto k > {K_THRESHOLD}; PSIS-LOO is "
                    "unreliable for this model: use K-fold cross-validation (folds=10)"
                )
                notes.append(msg)
                warnings.warn(msg, UserWarning, stacklevel=2)
        loos[name] = loo
    table = az.compare(loos, round_to="none")
    return ComparisonResult(table, loos, flagged, refitted, notes)


def _refit_without(fit: FittedModel, test: np.ndarray, draws: int, seed: int) -> FittedModel:
    """The fit's model refitted to its data without the rows ``test``, with the full
    data's coding recipe: a level only the held-out rows have keeps its column (its
    coefficient then rests on the prior) instead of silently turning into the reference
    level, and a group level only they have keeps its effect, which without rows is a
    draw from the estimated population of groups (a new group)."""
    from bayesresp.inference.fitting import fit_design
    from bayesresp.inference.sampling import SamplerSettings

    train = fit.data.drop(index=fit.data.index[test])
    settings = SamplerSettings.from_meta(
        fit.meta,
        draws=draws,
        tune=draws,
        chains=fit.posterior.sizes["chain"],
        seed=seed,
        progress=False,
        # The original fit's path: PyMC's graph stays PyMC's graph, and a fit that was
        # not centred is not centred (centring is chosen afresh otherwise: the training
        # rows may lack a level, which rules it out).
        kernel=False if fit.meta.get("log_density") == "pytensor" else None,
        centring=None if fit.meta.get("centred") else False,
    )
    with warnings.catch_warnings():  # the full data's recipe: the fit has said it already
        warnings.simplefilter("ignore", UserWarning)
        return fit_design(apply_design(fit.info, train), train, fit.spec, fit.codebook, settings)


def _heldout_elpd(fit: FittedModel, test: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """log p(y_i | data without ``test``) for each row in ``test``, by refitting
    (:func:`_refit_without`); groups the training recipe lacks are drawn as new."""
    f = _refit_without(fit, test, draws, seed)
    design = apply_design(f.info, fit.data.iloc[test])
    out = np.empty(len(test))
    for j in range(len(test)):
        one = apply_design(f.info, fit.data.iloc[[test[j]]])
        modes = {g: ("known" if one.group_index[g][0] >= 0 else "new") for g in one.group_index}
        eta = eta_from_draws(f.arrays, one, modes, np.random.default_rng(seed + j))
        ll = log_prob(one.y, eta, f.arrays.cutpoints, f.spec.link, y_high=one.y_high)[:, 0]
        out[j] = logsumexp(ll) - np.log(len(ll))
    del design
    return out


def _replace_terms(fit: FittedModel, loo: Any, rows: np.ndarray, values: np.ndarray) -> Any:
    """Put exact held-out terms into a PSIS-LOO result and recompute its totals."""
    elpd_i = np.asarray(loo.elpd_i).ravel().copy()
    elpd_i[rows] = values
    shape = np.shape(loo.elpd_i)
    loo.elpd_i = type(loo.elpd_i)(
        elpd_i.reshape(shape), coords=loo.elpd_i.coords, dims=loo.elpd_i.dims
    )
    k = np.asarray(loo.pareto_k).ravel().copy()
    k[rows] = 0.0  # exact now
    loo.pareto_k = type(loo.pareto_k)(
        k.reshape(shape), coords=loo.pareto_k.coords, dims=loo.pareto_k.dims
    )
    ll = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(-1, len(elpd_i))
    lppd = float(logsumexp(ll, axis=0).sum() - len(elpd_i) * np.log(ll.shape[0]))
    loo.elpd = float(elpd_i.sum())
    loo.se = float(np.sqrt(len(elpd_i) * np.var(elpd_i)))
    loo.p = lppd - loo.elpd
    loo.warning = False
    return loo


def _exact_loo(fit: FittedModel, loo: Any, rows: np.ndarray, draws: int) -> Any:
    """Replace the PSIS terms of ``rows`` by exact leave-one-out refits."""
    seed = int(fit.meta.get("seed", 0))
    values = np.array([_heldout_elpd(fit, np.array([i]), draws, seed + int(i))[0] for i in rows])
    return _replace_terms(fit, loo, rows, values)


def kfold(fit: FittedModel, loo: Any, k: int = 10, draws: int = 500, seed: int = 0) -> Any:
    """K-fold cross-validation: every row's term from a refit without its fold.

    Folds are a random partition of the rows (seeded). Returned in the form of the PSIS
    result it replaces, so that ArviZ's comparison reads it.
    """
    n = len(fit.data)
    folds = np.random.default_rng(seed).permutation(n) % k
    values = np.empty(n)
    for f in range(k):
        test = np.flatnonzero(folds == f)
        values[test] = _heldout_elpd(fit, test, draws, seed + 1000 * (f + 1))
    return _replace_terms(fit, loo, np.arange(n), values)


def group_folds(fit: FittedModel, by: str) -> tuple[np.ndarray, list[str]]:
    """Each fitted row's group under ``by`` (a column of the data, or columns joined by
    ``:`` as in a nested group term, ``"mission:department"``) and the groups' labels."""
    columns = by.split(":")
    absent = [c for c in columns if c not in fit.data]
    if absent:
        groups = [g.label for g in fit.info.groups]
        raise ComparisonError(
            f"folds={by!r}: the fitted data have no column {absent[0]!r}; give a grouping "
            "column or group term of the model"
            + (f" ({', '.join(groups)})" if groups else "")
            + ", or a number of random folds"
        )
    values = fit.data[columns]
    if values.isna().any().any():
        rows = np.flatnonzero(values.isna().any(axis=1).to_numpy())[:5] + 1
        raise ComparisonError(
            f"folds={by!r}: rows {', '.join(map(str, rows))} have no value of {by!r}"
        )
    labels = values.astype(str).agg(":".join, axis=1)
    codes, names = pd.factorize(labels, sort=True)
    if len(names) < 2:
        raise ComparisonError(f"folds={by!r}: leaving one group out needs two groups or more")
    return codes, [str(n) for n in names]


def group_kfold(fit: FittedModel, by: str, draws: int = 500, seed: int | None = None) -> Any:
    """Leave-one-group-out cross-validation: for each group (a mission), the model
    refitted without its rows predicts them jointly, as the responses of a group it has
    not seen.

    A group's term is ``log p(y_g | y_-g) = log mean_s prod_{i in g} p(y_i | theta_s)``
    over the refit's draws ``s``: its rows share each draw's effect of the held-out
    group (without rows in the refit, a draw from the estimated population of groups),
    so the term is the joint predictive density of the group's responses, not a product
    of separate ones. Ranges (ambiguous codes) count as ``P(low <= y <= high)``.

    Returns ArviZ's K-fold result (``elpd_i`` and ``p_kfold_i`` with one term per group,
    labelled by it), which :func:`arviz.compare` reads.
    """
    import xarray as xr
    from arviz_stats.utils import ELPDDataLOOKFold

    codes, names = group_folds(fit, by)
    seed = int(fit.meta.get("seed", 0)) if seed is None else seed
    ll_fit = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(-1, len(fit.data))
    elpd, lppd = np.empty(len(names)), np.empty(len(names))
    for g in range(len(names)):
        test = np.flatnonzero(codes == g)
        f = _refit_without(fit, test, draws, seed + 1000 * (g + 1))
        design = apply_design(f.info, fit.data.iloc[test])
        # every level is in the full recipe: the held-out group's effects are the
        # refit's draws for its empty level
        assert all((idx >= 0).all() for idx in design.group_index.values())
        eta = eta_from_draws(f.arrays, design, "known")
        ll = log_prob(design.y, eta, f.arrays.cutpoints, f.spec.link, y_high=design.y_high)
        elpd[g] = logsumexp(ll.sum(axis=1)) - np.log(ll.shape[0])
        lppd[g] = logsumexp(ll_fit[:, test].sum(axis=1)) - np.log(ll_fit.shape[0])
    dim = by.replace(":", "_")
    coords = {dim: names}
    return ELPDDataLOOKFold(
        elpd=float(elpd.sum()),
        se=float(np.sqrt(len(elpd) * np.var(elpd))),
        p=float((lppd - elpd).sum()),
        n_samples=int(ll_fit.shape[0]),
        n_data_points=len(names),
        scale="log",
        warning=False,
        good_k=0.7,
        elpd_i=xr.DataArray(elpd, dims=[dim], coords=coords),
        pareto_k=None,
        n_folds=len(names),
        p_kfold_i=xr.DataArray(lppd - elpd, dims=[dim], coords=coords),
    )
