"""The posterior as plain arrays (:class:`PosteriorArrays`), and the linear predictor
computed from them (NumPy).

Everything that predicts (what-if, contrasts, posterior predictive checks) goes through
:func:`eta_from_draws`, which gathers each row's group effects (known, new or average) and
evaluates :func:`bayesresp.maths.predictor.linear_predictor`, the body the PyMC model
evaluates in PyTensor (:func:`bayesresp.model.graph.linear_predictor`); a test ties the
two together. The per-row log-likelihood stored with a fit goes through the compiled
kernel's packed rows (:func:`bayesresp.inference.kernel.log_likelihood`, tested against
this module), except for designs with ``mo()`` terms, which come here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from bayesresp.errors import UnknownGroupError, Usage
from bayesresp.maths.predictor import linear_predictor
from bayesresp.maths.thresholds import vary_thresholds
from bayesresp.model.design import Design, DesignInfo, cutpoint_names


@dataclass
class PosteriorArrays:
    """Flattened posterior draws (``S = chains * draws`` first axis)."""

    b: np.ndarray  # (S, p)
    b_mo: np.ndarray  # (S, m)
    simplex: dict[str, np.ndarray]  # var -> (S, K_var - 1)
    cutpoints: np.ndarray  # (S, K - 1)
    r: dict[str, np.ndarray]  # group -> (S, levels, q)
    sd: dict[str, np.ndarray]  # group -> (S, q)
    cor: dict[str, np.ndarray]  # group -> (S, q, q), identity when uncorrelated
    # imputed covariate -> its own model's (intercept (S, L - 1), coefficients
    # (S, P, L - 1) or None, group effects (S, levels, L - 1) and their sd (S,), or None)
    missing: dict[str, tuple] = field(default_factory=dict)
    # (S, p_cs, K - 1) the category-specific coefficients (cs() terms), or None
    b_cs: np.ndarray | None = None
    # latent number -> its model's draws and its missing cells' values (LatentDraws)
    latent: dict[str, LatentDraws] = field(default_factory=dict)

    @property
    def n_draws(self) -> int:
        return self.cutpoints.shape[0]

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, info: DesignInfo) -> PosteriorArrays:
        def flat(name: str) -> np.ndarray:
            da = posterior[name]
            return da.values.reshape((-1, *da.shape[2:]))

        S = posterior.sizes["chain"] * posterior.sizes["draw"]
        b = flat("b") if info.columns else np.zeros((S, 0))
        b_mo = flat("b_mo") if info.monotonic else np.zeros((S, 0))
        simplex = {m.var: flat(f"simplex[{m.var}]") for m in info.monotonic}
        r, sd, cor = {}, {}, {}
        for g in info.groups:
            r[g.label] = flat(f"r[{g.label}]")
            sd[g.label] = flat(f"sd[{g.label}]")
            q = len(g.columns)
            if f"cor[{g.label}]" in posterior:
                cor[g.label] = flat(f"cor[{g.label}]")
            else:
                cor[g.label] = np.broadcast_to(np.eye(q), (S, q, q))
        missing = {
            m.var: (
                flat(f"mi_intercept[{m.var}]"),
                flat(f"mi_b[{m.var}]") if m.predictors else None,
                flat(f"mi_r[{m.var}]") if m.group is not None else None,
                flat(f"mi_sd[{m.var}]") if m.group is not None else None,
            )
            for m in info.imputed
        }
        b_cs = flat("b_cs") if info.cs_columns else None
        latent = {
            m.var: LatentDraws(
                flat(f"mi_intercept[{m.var}]"),
                flat(f"mi_b[{m.var}]") if m.predictors else None,
                flat(f"mi_r[{m.var}]") if m.group is not None else None,
                flat(f"mi_sd[{m.var}]") if m.group is not None else None,
                flat(f"mi_sigma[{m.var}]"),
                (flat(f"mi_x[{m.var}]") - m.center) / m.scale if m.n_cells else np.zeros((S, 0)),
            )
            for m in info.latent
        }
        return cls(b, b_mo, simplex, flat("cutpoints"), r, sd, cor, missing, b_cs, latent)

    def subset(self, idx: np.ndarray) -> PosteriorArrays:
        """The draws at positions ``idx``."""
        return PosteriorArrays(
            self.b[idx],
            self.b_mo[idx],
            {k: v[idx] for k, v in self.simplex.items()},
            self.cutpoints[idx],
            {k: v[idx] for k, v in self.r.items()},
            {k: v[idx] for k, v in self.sd.items()},
            {k: v[idx] for k, v in self.cor.items()},
            {k: tuple(None if a is None else a[idx] for a in v) for k, v in self.missing.items()},
            None if self.b_cs is None else self.b_cs[idx],
            {k: v.subset(idx) for k, v in self.latent.items()},
        )


@dataclass
class LatentDraws:
    """A latent number's draws (:class:`bayesresp.model.design.Latent`), on its own
    standard scale: its model's intercept (S,), coefficients (S, P) or None, mission
    effects (S, levels) and their sd (S,) or None, residual sd (S,), and the fitted rows'
    missing cells' values (S, n_cells)."""

    intercept: np.ndarray
    coef: np.ndarray | None
    r: np.ndarray | None
    sd: np.ndarray | None
    sigma: np.ndarray
    values: np.ndarray

    def subset(self, idx: np.ndarray) -> LatentDraws:
        return LatentDraws(
            *(None if a is None else a[idx] for a in (self.intercept, self.coef, self.r)),
            None if self.sd is None else self.sd[idx],
            self.sigma[idx],
            self.values[idx],
        )


GROUP_MODES = ("known", "new", "average")
# How a user asks for fresh groups: in Python, and on the command line (whatif, contrast).
GROUPS_NEW = Usage(python="groups='new'", cli="--groups new")


def thresholds_from_draws(
    draws: PosteriorArrays,
    design: Design,
    which=slice(None),
    groups: str | dict[str, str] = "known",
    rng: np.random.Generator | None = None,
    shared_new: bool = False,
):
    """Each draw's thresholds for the design's rows: (S, K - 1), shared by the rows, or
    each row's own (S, n, K - 1) where category-specific effects (cs()) move them,
    ``c_k - x_cs b_cs[:, k]``, and where they vary by group (``(cs(1) | mission)``: the
    row's group's deviations, known, new or average as in :func:`eta_from_draws`, added,
    or on the ordered transform where the design's group says so, ``Group.ordered``:
    :func:`bayesresp.maths.thresholds.vary_thresholds`). ``which``: the draws (a slice
    or indices), for work in chunks."""
    info = design.info
    cut = draws.cutpoints[which]
    if draws.b_cs is not None:
        if design.X_cs is None:
            raise ValueError("a model with cs() terms needs a design with their columns (X_cs)")
        cut = cut[:, None, :] - np.einsum("np,spk->snk", design.X_cs, draws.b_cs[which])
    if not info.threshold_groups:
        return cut
    part = draws if isinstance(which, slice) and which == slice(None) else draws.subset(which)
    modes = _modes(groups, info)
    r = sum(
        _gathered(part, design, g, modes.get(g.label, "known"), rng, shared_new)
        for g in info.threshold_groups
    )
    deviations = np.broadcast_to(r, (r.shape[0], design.n, r.shape[2]))
    return vary_thresholds(cut, deviations, info.threshold_groups[0].ordered)


def _modes(groups: str | dict[str, str], info: DesignInfo) -> dict[str, str]:
    modes = groups if isinstance(groups, dict) else {g.label: groups for g in info.groups}
    for mode in modes.values():
        if mode not in GROUP_MODES:
            raise ValueError(f"groups must be one of {', '.join(GROUP_MODES)}, not {mode!r}")
    return modes


def _gathered(
    draws: PosteriorArrays, design: Design, g, mode: str, rng, shared_new: bool
) -> np.ndarray:
    """The rows' effects of the group term ``g`` per draw, (S, n, q), or (S, 1, q) for
    one new group shared by the rows, and zeros (S, 1, q) for ``average``."""
    idx = design.group_index[g.label]
    if mode == "average":
        return np.zeros((draws.n_draws, 1, len(g.columns)))
    if mode == "known":
        unseen = np.flatnonzero(idx < 0)
        if unseen.size:
            raise UnknownGroupError.spelt(
                [
                    f"{unseen.size} row(s) (first: row {unseen[0] + 1}) name a "
                    f"{g.label} the fit has not seen; known {g.label} levels: "
                    + ", ".join(g.levels[:10])
                    + (" ..." if len(g.levels) > 10 else "")
                    + ". Predictions for unseen groups need ",
                    GROUPS_NEW,
                    Usage(
                        python=" (what-if and contrasts offer it).",
                        cli=" (bayesresp whatif and contrast offer it).",
                    ),
                ]
            )
        return draws.r[g.label][:, idx, :]  # (S, n, q)
    imp = design.imputation
    if imp is not None and not shared_new:  # a row's copies: one new group
        return _new_group_effects(draws, g.label, imp.n_rows, rng)[:, imp.row]
    return _new_group_effects(draws, g.label, 1 if shared_new else design.n, rng)


def eta_from_draws(
    draws: PosteriorArrays,
    design: Design,
    groups: str | dict[str, str] = "known",
    rng: np.random.Generator | None = None,
    shared_new: bool = False,
) -> np.ndarray:
    """Linear predictor for every draw and row, shape ``(S, n)``; a fitted row's latent
    numbers (:class:`bayesresp.model.design.Latent`) at the fit's draws of them. A row
    lacking a latent number that is not a fitted row's cell has no one linear predictor
    per draw (its value is unknown, its distribution the number's model): such designs
    are refused here, and :func:`eta_and_fresh` gives the part those values add as a
    normal distribution to integrate over (:func:`integrate_fresh`).

    Parameters
    ----------
    groups : {"known", "new", "average"} or dict of group label to one of them
        ``known``: each row's estimated group effects (an unseen group is an error);
        ``new``: a fresh draw from the estimated population of groups, for every row and
        posterior draw; ``average``: group effects at zero, their population mean. A dict
        chooses per group term (``{"mission": "known", "official_id": "new"}``).
    shared_new : bool
        With ``new``: one fresh group per posterior draw, shared by all rows (the rows
        of a contrast are then in the same new mission); otherwise a fresh one per row.

    Group terms that move the thresholds (``(cs(1) | mission)``) are
    :func:`thresholds_from_draws`'s.
    """
    eta, fresh = eta_and_fresh(draws, design, groups, rng, shared_new)
    if fresh is not None:
        raise ValueError(
            "rows lack a latent number and are not the fit's own: their linear predictor "
            "is a distribution (eta_and_fresh and integrate_fresh integrate over it)"
        )
    return eta


def eta_and_fresh(
    draws: PosteriorArrays,
    design: Design,
    groups: str | dict[str, str] = "known",
    rng: np.random.Generator | None = None,
    shared_new: bool = False,
):
    """:func:`eta_from_draws` for designs whose rows may lack a latent number without
    being a fitted row's cell (a what-if profile leaving it unknown, new data): returns
    ``eta`` (S, n) without those values' part, and that part's distribution given each
    draw at the rows that have one, normal (:class:`Fresh`: mean ``m`` and sd ``tau``
    at the columns ``cols``), or None where no row has one. The values are independent normals under
    their models (:func:`bayesresp.maths.missing.number_means`, ``sigma``) and ``eta``
    is linear in each (their slopes), so their sum is normal: one quadrature integrates
    over any number of them (:func:`integrate_fresh`). The numbers' models' group effects
    follow ``groups``: ``new`` draws them fresh (one per row, or per draw with
    ``shared_new``) from ``rng``."""
    modes = _modes(groups, design.info)
    info = design.info
    gathered, labelled = [], []
    for g in info.eta_groups:
        mode = modes.get(g.label, "known")
        if mode != "average":
            r = _gathered(draws, design, g, mode, rng, shared_new)
            gathered.append((design.group_Z[g.label], r))
            labelled.append((g.label, r))
    eta = linear_predictor(
        design.X,
        draws.b,
        mono=design.mono,
        b_mo=draws.b_mo,
        simplexes=[draws.simplex[m.var] for m in info.monotonic],
        groups=gathered,
    )
    mean = var = None
    columns = np.zeros(design.n, dtype=bool)
    for j, lat in enumerate(design.latent):  # numbers' latent values times their slopes
        if not lat.missing.any():
            continue
        slope = linear_predictor(lat.dX, draws.b, groups=[(lat.dZ[g], r) for g, r in labelled])
        eta = eta + np.where(lat.missing, latent_values(draws, design, j), 0.0) * slope
        fresh = lat.missing & (lat.cell < 0)
        if fresh.any():
            mu, sigma = _fresh_model(draws, design, j, fresh, modes, rng, shared_new)
            mean = (0.0 if mean is None else mean) + np.where(fresh, mu * slope, 0.0)
            spread = np.where(fresh, (sigma[:, None] * slope) ** 2, 0.0)
            var = spread if var is None else var + spread
            columns |= fresh
    if mean is None:
        return eta, None
    cols = np.flatnonzero(columns)
    return eta, Fresh(mean[:, cols], np.sqrt(var[:, cols]), cols)


@dataclass(frozen=True)
class Fresh:
    """The part of eta that latent values not fitted (:func:`eta_and_fresh`) add, at the
    design's columns ``cols`` only (the other columns have none): normal per draw, with
    mean ``m`` and sd ``tau``, each (S, len(cols))."""

    m: np.ndarray
    tau: np.ndarray
    cols: np.ndarray

    def draws(self, part) -> Fresh:
        """The same at the draws ``part`` (a slice or indices)."""
        return Fresh(self.m[part], self.tau[part], self.cols)


def fresh_draws(fresh: Fresh | None, part) -> Fresh | None:
    """``fresh`` at the draws ``part`` (None stays None)."""
    return None if fresh is None else fresh.draws(part)


def latent_values(draws: PosteriorArrays, design: Design, j: int) -> np.ndarray:
    """The ``j``-th latent number's value at every draw and design row, on its own
    standard scale, (S, n): a fitted row's cell from the fit's draws of it; zero where
    the row gives the number, or lacks it without being a fitted row (a fresh value:
    :func:`eta_and_fresh`)."""
    lat = design.latent[j]
    values = draws.latent[design.info.latent[j].var].values
    out = np.zeros((draws.n_draws, design.n))
    fitted = lat.missing & (lat.cell >= 0)
    if fitted.any():
        out[:, fitted] = values[:, lat.cell[fitted]]
    return out


def _fresh_model(draws, design, j, fresh, modes, rng, shared_new):
    """The ``j``-th latent number's model at the rows ``fresh`` (bool (n,)): its mean
    (S, n) (zero elsewhere) and sd (S,), on its own standard scale. Its group effects
    follow the group's mode in ``modes``: ``known`` the row's group's (an unseen group:
    their mean, zero), ``new`` a fresh one per data row (a row's copies share it), or per
    draw with ``shared_new``, ``average`` zero."""
    from bayesresp.maths.missing import number_means
    from bayesresp.model.design import predictor_values

    m, lat = design.info.latent[j], design.latent[j]
    d = draws.latent[m.var]
    rows = np.flatnonzero(fresh)
    effects = None
    mode = modes.get(m.group, "known") if m.group is not None else "average"
    if d.r is not None and mode == "known":
        idx = design.group_index[m.group][rows]
        effects = d.r[:, np.maximum(idx, 0)] * (idx >= 0)[None, :]
    elif d.r is not None and mode == "new":
        rng = np.random.default_rng() if rng is None else rng
        sources, first = np.unique(lat.source[rows], return_inverse=True)
        z = rng.standard_normal((draws.n_draws, 1 if shared_new else len(sources)))
        effects = (z * d.sd[:, None])[:, 0 if shared_new else first]
        effects = np.broadcast_to(effects, (draws.n_draws, len(rows)))
    mu = np.zeros((draws.n_draws, design.n))
    mu[:, rows] = number_means(d.intercept, d.coef, predictor_values(design, m, rows), effects)
    return mu, d.sigma


#: Gauss-Hermite nodes for a fresh latent value's part of eta (:func:`integrate_fresh`)
#: while its sd is at most FRESH_WIDE logits: for a cumulative-logit probability the
#: quadrature's relative error is below 1e-9 for an sd up to 2 and below 2e-4 up to 4 (a
#: strong effect: 4 logits per sd of the number left unexplained by its model). A wider
#: part (prior draws, say), whose probabilities the fixed nodes would miss by percents,
#: takes the trapezoid rule on a grid of at most 0.25 logits over 8 sds either side,
#: exact to 1e-8 there (both checked against adaptive quadrature in
#: tests/inference/test_missing_numbers.py).
FRESH_NODES = 64
FRESH_WIDE = 4.0


def row_thresholds(cut: np.ndarray, cols) -> np.ndarray:
    """Thresholds for the design's columns ``cols``: shared ones (S, K - 1) as they are,
    each row's own (S, n, K - 1) at those rows."""
    return cut[:, cols] if cut.ndim == 3 else cut


def _fresh_rule(widest: float) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal nodes and weights (summing to one) for an sd of ``widest``."""
    if widest <= FRESH_WIDE:
        nodes, weights = np.polynomial.hermite.hermgauss(FRESH_NODES)
        return np.sqrt(2.0) * nodes, weights / np.sqrt(np.pi)
    step = 0.25 / widest
    z = np.arange(-8.0, 8.0 + step / 2, step)
    weights = np.exp(-0.5 * z * z)
    return z, weights / weights.sum()


def integrate_fresh(
    function, eta: np.ndarray, fresh: Fresh | None, log: bool = False
) -> np.ndarray:
    """``E[function(eta + w)]`` over ``w ~ Normal(m, tau)`` per draw and row (``fresh``,
    from :func:`eta_and_fresh`), by Gauss-Hermite quadrature (:data:`FRESH_NODES`), or
    the trapezoid rule where the part is wider than :data:`FRESH_WIDE`. ``function(e,
    cols)`` maps linear predictors (S, c) of the design's columns ``cols`` (indices, or
    ``slice(None)`` for all) to their values (S, c, ...), probabilities; only the columns
    with a fresh part are integrated, the others evaluated once. With ``log=True`` it
    gives log-probabilities and the result is the log of the expectation (a running
    log-sum: no underflow). ``fresh`` None (no row has a fresh part): ``function`` of
    ``eta`` itself."""
    out = np.asarray(function(eta, slice(None)), dtype=float)  # (a new array: written in)
    if fresh is None or fresh.cols.size == 0:
        return out
    cols = fresh.cols
    e = eta[:, cols] + fresh.m
    z, weights = _fresh_rule(float(fresh.tau.max()))
    acc = -np.inf if log else 0.0
    for t, w in zip(z, weights, strict=True):
        if w <= 0.0:
            continue
        value = function(e + fresh.tau * t, cols)
        acc = np.logaddexp(acc, np.log(w) + value) if log else acc + w * value
    out[:, cols] = acc
    return out


def _new_group_effects(draws: PosteriorArrays, label: str, n: int, rng) -> np.ndarray:
    """Fresh group effects from N(0, Sigma) for each draw and row: (S, n, q)."""
    rng = rng if rng is not None else np.random.default_rng()
    sd, cor = draws.sd[label], draws.cor[label]
    S, q = sd.shape
    cov = cor * sd[:, :, None] * sd[:, None, :]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(q))
    z = rng.standard_normal((S, n, q))
    return np.einsum("sij,snj->sni", chol, z)


def cs_name(column, cut: str) -> str:
    """A category-specific coefficient's name: ``cs(background)[military_security]`` at
    the threshold ``quiet_diplomacy|private_condemnation`` is
    ``cs(background)[military_security][quiet_diplomacy|private_condemnation]``."""
    var = column.parts[0][0]  # the term is cs(var); the column, var or var[level]
    return f"{column.term}{column.name[len(var) :]}[{cut}]"


def readable_posterior(
    posterior: xr.Dataset, info: DesignInfo
) -> tuple[xr.Dataset, dict[str, str], dict[str, str]]:
    """Every parameter as its own variable with a readable name.

    Returns the dataset, the block of each parameter and the scale note of each. The
    names hold the codebook's labels as they are (any character, ``/`` included), so the
    dataset cannot go into a DataTree as it is: :func:`arviz_tree` gives ArviZ its draws.

    Examples
    --------
    >>> posterior, blocks, scales = readable_posterior(fit.posterior, fit.info)  # doctest: +SKIP
    >>> posterior["sd(mission)"].mean()  # doctest: +SKIP
    """
    post = posterior
    out, block, scale = {}, {}, {}
    for j, c in enumerate(info.columns):
        out[c.name] = post["b"].isel(coef=j, drop=True)
        block[c.name] = c.block
        scale[c.name] = _scale_note(c, info)
    for j, m in enumerate(info.monotonic):
        out[m.name] = post["b_mo"].isel(mo_term=j, drop=True)
        block[m.name] = m.block
        scale[m.name] = f"total effect, {m.levels[0]} to {m.levels[-1]}"
        for k, lv in enumerate(m.levels[1:]):
            name = f"simplex({m.var})[{lv}]"
            out[name] = post[f"simplex[{m.var}]"].isel({f"{m.var}_step": k}, drop=True)
            block[name] = m.block
            scale[name] = f"share of the total effect at the step to {lv}"
    cuts = cutpoint_names(info.spectrum)
    for j, c in enumerate(info.cs_columns):  # one coefficient per threshold
        for k, cut in enumerate(cuts):
            name = cs_name(c, cut)
            out[name] = post["b_cs"].isel(cs_coef=j, cutpoint=k, drop=True)
            block[name] = c.block
            scale[name] = f"{_scale_note(c, info)}; at the threshold {cut}"
    for k, name in enumerate(cutpoint_names(info.spectrum)):
        out[f"cutpoint[{name}]"] = post["cutpoints"].isel(cutpoint=k, drop=True)
        block[f"cutpoint[{name}]"] = "cutpoints"
        scale[f"cutpoint[{name}]"] = "latent scale"
    for g in info.groups:
        names = g.column_names
        for j, term in enumerate(names):
            name = f"sd({g.label})" if names == ["Intercept"] else f"sd({g.label})[{term}]"
            out[name] = post[f"sd[{g.label}]"].isel({f"{g.label}_term": j}, drop=True)
            block[name] = "groups"
            scale[name] = _sd_scale(g, j)
        if f"cor[{g.label}]" in post:
            for a in range(len(names)):
                for b in range(a + 1, len(names)):
                    name = f"cor({g.label})[{names[a]},{names[b]}]"
                    out[name] = post[f"cor[{g.label}]"].isel(
                        {f"{g.label}_term": a, f"{g.label}_term_": b}, drop=True
                    )
                    block[name] = "groups"
                    scale[name] = "correlation"
    # the r2d2 prior's own parameters (bayesresp.model.r2d2); a covariate of the same
    # name (a column called R2) keeps its name, and R2 is told apart
    if "R2" in post:
        name = "R2" if "R2" not in out else "R2 (r2d2 prior)"
        out[name] = post["R2"]
        block[name] = "r2d2"
        scale[name] = "share of the latent variance explained"
    if "shares" in post:
        for k, comp in enumerate(post["shares"].coords["component"].values):
            name = f"share({comp})"
            out[name] = post["shares"].isel(component=k, drop=True)
            block[name] = "r2d2"
            scale[name] = "share of the explained variance"
    for g in info.groups:  # a term's share split over its columns
        if f"shares[{g.label}]" in post:
            for j, term in enumerate(g.column_names):
                name = f"split(group({g.label}))[{term}]"
                out[name] = post[f"shares[{g.label}]"].isel({f"{g.label}_term": j}, drop=True)
                block[name] = "r2d2"
                scale[name] = f"share of group({g.label})'s share"
    if info.coders and "leniency" in post:  # the coders' layer (bayesresp.maths.rater)
        for kind, note in (
            ("leniency", "levels; + codes towards confrontation"),
            ("spread", "levels; 1 / precision"),
        ):
            for k, coder in enumerate(info.coders):
                name = f"{kind}[{coder}]"
                out[name] = post[kind].isel(coder=k, drop=True)
                block[name] = "coders"
                scale[name] = note
        for name, note in (
            ("leniency_sd", "levels: sd of the coders' leniencies"),
            ("spread_median", "levels: the coders' median spread"),
            ("spread_sd", "log scale: sd of the coders' spreads"),
        ):
            out[name] = post[name]
            block[name] = "coders"
            scale[name] = note
    return xr.Dataset(out), block, scale


def _sd_scale(g, j: int) -> str:
    """What a group term's sd is on: the latent scale, or for thresholds varying by group
    each threshold's (in the cumulative family: the first threshold's, then each gap's
    log, :mod:`bayesresp.maths.thresholds`)."""
    if not g.thresholds:
        return "latent scale"
    if g.ordered and j > 0:
        return "log of the gap below this threshold"
    return "threshold deviations"


def arviz_tree(readable: xr.Dataset) -> tuple[xr.DataTree, dict[str, str]]:
    """The readable posterior (:func:`readable_posterior`) as a DataTree for ArviZ.

    A DataTree's variable names cannot contain ``/``, which codebook levels bring into the
    readable names (``background[1-4/month]``, ``cutpoint[1/5|2/5]``). So the variables
    take safe names (``p0``, ``p1`` ...) in the tree, and the map returned gives each safe
    name its readable one: rename ArviZ's results back with it (readable names live only
    in pandas indexes and plain Datasets, which accept any label).
    """
    readable_of = {f"p{i}": name for i, name in enumerate(readable.data_vars)}
    safe = xr.Dataset({s: readable[name] for s, name in readable_of.items()})
    return xr.DataTree.from_dict({"posterior": safe}), readable_of


def _scale_note(col, info: DesignInfo) -> str:
    notes = []
    for name, level in col.parts:
        c = info.codings[name]
        if level is None:
            if c.scale != 1.0 or c.center != 0.0:
                unit = f" {c.unit}" if c.unit else ""
                notes.append(f"{name}: per sd ({c.scale:.3g}{unit}), centred at {c.center:.3g}")
            else:
                notes.append(f"{name}: per unit")
        else:
            notes.append(f"{name}: vs {c.reference}")
    return "; ".join(notes)
