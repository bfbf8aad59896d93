"""The R2D2 prior's structure: its components and the scalings the design gives them.

``r2d2(alpha, tail)`` (the default, ``alpha = 0.5, tail = 1``) is a joint prior on the
whole linear predictor (Zhang et al. 2022; Aguilar and Bürkner 2023, R2D2M2, for
multilevel models; with rstanarm's cutpoint scaling for ordinal outcomes):

- ``R2``: the share of the latent variance that the covariates and the group effects
  explain, with the link's residual variance ``s2`` fixed (pi^2/3 for logit, 1 for
  probit, pi^2/6 for cloglog), so that the explained variance is
  ``tau2 = s2 * R2 / (1 - R2)``;
- ``shares ~ Dirichlet(conc)`` over the components: one per block of covariates (the
  codebook's blocks, a specification's ``[blocks]``, ``interactions``) and one per
  group term (``group(mission)``), the rows of :func:`bayesresp.variance_decomposition`
  but the residual; a model with one component has no ``shares``. Each coefficient
  column, ``mo()`` total and group-term column is a unit of concentration ``alpha``;
  a component's ``conc`` is the sum of its units';
- ``R2 ~ Beta(A, tail)``, ``A = sum(conc)``: R2's first shape tied to the Dirichlet,
  Zhang et al.'s construction (rstanarm's R2 prior likewise takes K/2 for K
  predictors). Then ``tau2 / s2 = G_A / G_tail`` and each component's explained
  variance is ``G_k / G_tail``, ``G_k ~ Gamma(conc_k)`` independent: a component's prior
  (``BetaPrime(conc_k, tail)``) does not depend on the others. Within a block the
  coefficients share one scale (below), which the data set; with ``alpha = 1/2`` the
  density of that scale cancels the ``p_k`` dimensions' volume (``conc_k = p_k / 2``),
  where a fixed ``Beta(1, 1)`` pulled the block's strongest coefficient towards zero by
  about ``(p_k - 2) z / sum(z^2)`` posterior sds (the James-Stein effect of a learned scale:
  0.47 sd on ``ordinal::soup``, 0.19-0.21 under the tied form). R2's prior mean,
  ``A / (A + tail)``, grows with the number of units; the cutpoints' scaling keeps the
  prior predictive spread over the spectrum even whatever R2;
- the fixed form, ``r2d2(mean, precision, alpha)`` (the default until the tied form
  replaced it): ``R2 ~ Beta(mean * precision, (1 - mean) * precision)`` and a flat
  ``Dirichlet(alpha)`` over the components;
- within block ``k`` of ``p_k`` columns (``mo()`` totals counted), each term's
  coefficients are ``b = T b_w`` with ``b_w ~ N(0, shares_k * tau2)`` and
  ``T = L^-T / sqrt(p_k)``, ``L L^T`` the covariance of the term's ``q_t`` columns over
  the fitting rows: a g-prior within the term (``b ~ N(0, shares_k tau2 S^-1 / p_k)``),
  so that the prior of the linear predictor does not depend on how a factor is coded
  (its reference level) or on a covariate's unit, and the term's part of the linear
  predictor has expected variance ``shares_k * tau2 * q_t / p_k`` over the rows. A
  ``mo()`` total is scaled by the sd of its rank ``0 .. 1`` over the rows (an
  approximation: the increments' simplex changes the variance somewhat);
- a group term's sds are ``sqrt(shares_g * split_t * tau2 / mean(Z_t^2))`` for its
  ``q`` columns, ``split ~ Dirichlet(alpha)`` sharing the term's share out over them
  (``sqrt(shares_g * tau2)`` for an intercept alone): so an intercept and a slope of one
  term have sds of their own;
- the cutpoints' prior (the induced Dirichlet of the average case, on the link's scale)
  is scaled by ``D = 1 / sqrt(1 - R2)``, the sd of the latent response next to the
  residual's (rstanarm's ``stan_polr``): ``c / D`` has the induced Dirichlet density.
  The prior predictive spread over the spectrum then stays even whatever the number of
  covariates, where independent coefficient priors pile responses on the two ends as
  covariates are added (the README's table: 25-26% on the two end levels of eight with
  2, 10 and 40 covariates, against 35%, 55% and 75% under ``normal(0, 1.5)``).

The parameterisation the samplers see: ``R2`` (log odds), ``shares`` (simplex), the
coefficients on the whitened columns (``b_w``), centred where the rows inform them (a
non-centred ``b_z ~ N(0, 1)`` trades its size against R2 along a ridge, and R2's ESS fell
to 250 of 4,000 draws on MASS::housing) and non-centred (``b_w ~ N(0, 1)``, times the
scale) for covariates of a group, constant within its levels (mission context: twelve
missions inform them little, and centred they form a funnel with their block's share,
which gave divergences on the example), the cutpoints themselves (scaling a sampled
``c / D`` makes the data-pinned cutpoints slide along R2: divergences on carData::WVS),
and the group effects non-centred (``z``; few levels inform their sd less than the
prior does). ``mo()`` totals follow the coefficients' rule (``b_mo``).

This module holds the structure (plain NumPy, shared by the PyMC graph in
:mod:`bayesresp.model.graph` and the compiled kernel's packing); the maths that maps
``(R2, shares, b_w, z)`` to ``(b, sd)`` is written once per dialect, in the graph and in
the kernel, tied by the kernel's twin test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesresp.errors import PriorError
from bayesresp.maths.links import get_link
from bayesresp.model.design import Design, DesignInfo

#: Below this variance (relative to the largest in its term) a column counts as constant.
_CONSTANT = 1e-12


@dataclass(frozen=True)
class R2D2Layout:
    """Which component each coefficient, ``mo()`` total and group term belongs to."""

    mean: float  # the fixed form's (0 in the tied form)
    precision: float
    alpha: float
    tail: float  # the tied form's (0 in the fixed form)
    residual_variance: float
    components: tuple[str, ...]
    column_component: tuple[int, ...]  # per fixed-effect column
    mo_component: tuple[int, ...]  # per mo() term
    group_component: tuple[int, ...]  # per group term
    concentrations: tuple[float, ...]  # the shares' Dirichlet, per component

    @property
    def n_components(self) -> int:
        return len(self.components)

    @property
    def tied(self) -> bool:
        """R2's Beta tied to the Dirichlet (the default form)."""
        return self.tail > 0.0

    @property
    def beta(self) -> tuple[float, float]:
        """The Beta prior's two shape parameters: ``(sum of the concentrations, tail)``
        in the tied form, ``(mean * precision, (1 - mean) * precision)`` in the fixed."""
        if self.tied:
            return float(sum(self.concentrations)), self.tail
        return self.mean * self.precision, (1.0 - self.mean) * self.precision

    @property
    def prior_mean(self) -> float:
        """R2's prior mean."""
        a, b = self.beta
        return a / (a + b)


def component_names(info: DesignInfo) -> list[str]:
    """The components of the R2D2 prior and of the variance decomposition (its
    residual aside): blocks in order of first appearance, then group terms (those of the
    linear predictor: thresholds varying by group are outside it)."""
    blocks = dict.fromkeys([c.block for c in info.columns] + [m.block for m in info.monotonic])
    return list(blocks) + [f"group({g.label})" for g in info.eta_groups]


def layout(info: DesignInfo, prior, link: str) -> R2D2Layout:
    """The R2D2 prior's structure for a design (``prior``: the parsed ``r2d2(...)``)."""
    lk = get_link(link)
    if lk.residual_variance is None:
        raise PriorError(
            f"the r2d2 prior shares out the latent variance, and the {lk.name} link's latent "
            f"residual ({lk.latent}) has none; use the logit, probit or cloglog link, or a "
            "normal or student_t prior for b"
        )
    names = component_names(info)
    where = {n: i for i, n in enumerate(names)}
    alpha, tail = prior.param("alpha"), prior.param("tail")
    column_component = tuple(where[c.block] for c in info.columns)
    mo_component = tuple(where[m.block] for m in info.monotonic)
    group_component = tuple(where[f"group({g.label})"] for g in info.eta_groups)
    if tail > 0.0:  # tied: alpha per unit, summed over each component's units
        units = np.zeros(len(names))
        for c in (*column_component, *mo_component):
            units[c] += 1.0
        for g, c in zip(info.eta_groups, group_component, strict=True):
            units[c] += len(g.columns)
        concentrations = tuple(float(alpha * u) for u in units)
    else:
        concentrations = (float(alpha),) * len(names)
    return R2D2Layout(
        mean=prior.param("mean"),
        precision=prior.param("precision"),
        alpha=alpha,
        tail=tail,
        residual_variance=float(lk.residual_variance),
        components=tuple(names),
        column_component=column_component,
        mo_component=mo_component,
        group_component=group_component,
        concentrations=concentrations,
    )


def _block_sizes(info: DesignInfo) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for c in info.columns:
        sizes[c.block] = sizes.get(c.block, 0) + 1
    for m in info.monotonic:
        sizes[m.block] = sizes.get(m.block, 0) + 1
    return sizes


def _weighted_cov(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    mean = w @ X
    D = X - mean
    return (D * w[:, None]).T @ D


def _group_level(X: np.ndarray, design: Design) -> np.ndarray:
    """Which columns of ``X`` are constant within the levels of some group term (mission
    context within missions, department composition within departments): covariates of
    the groups, informed by as many units as the group has levels, not by the rows."""
    out = np.zeros(X.shape[1], dtype=bool)
    for g in design.info.groups:
        idx = np.asarray(design.group_index[g.label])
        if idx.size == 0 or idx.min() < 0:
            continue
        order = np.argsort(idx, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(idx[order]) != 0])
        Xs = X[order]
        out |= np.all(np.maximum.reduceat(Xs, starts) == np.minimum.reduceat(Xs, starts), axis=0)
    return out


def scalings(design: Design) -> dict[str, np.ndarray]:
    """The data arrays of the R2D2 prior, from the fitting rows (weighted by their
    counts): ``r2d2_T`` (p x p, block diagonal by term: ``L^-T / sqrt(p_k)``),
    ``r2d2_mo`` (one per ``mo()`` term: ``1 / (sd(rank) sqrt(p_k))``),
    ``r2d2_z[label]`` (one per column of a group term: ``1 / sqrt(mean(Z_t^2))``), and
    which coefficients and ``mo()`` totals are sampled non-centred (``r2d2_nc``,
    ``r2d2_mo_nc``: 1 for covariates of a group, constant within its levels).

    A column constant over the rows (a level no fitting row has) takes the unit scale: the
    data cannot inform its coefficient. A term whose columns are collinear over the rows
    is scaled column by column (``1 / sd``) instead of by its covariance's Cholesky factor.
    """
    info = design.info
    w = np.asarray(design.weights, dtype=np.float64)
    w = w / w.sum() if w.size and w.sum() > 0 else w
    X = np.asarray(design.X, dtype=np.float64).reshape(design.n, len(info.columns))
    sizes = _block_sizes(info)
    p = len(info.columns)
    T = np.zeros((p, p))
    terms: dict[str, list[int]] = {}
    for j, c in enumerate(info.columns):
        terms.setdefault(c.term, []).append(j)
    for cols in terms.values():
        root = 1.0 / np.sqrt(sizes[info.columns[cols[0]].block])
        S = _weighted_cov(X[:, cols], w) if design.n else np.eye(len(cols))
        var = np.diag(S).copy()
        live = var > _CONSTANT * max(var.max(initial=0.0), 1.0)
        for j in np.asarray(cols)[~live]:
            T[j, j] = root
        idx = np.asarray(cols)[live]
        if idx.size == 0:
            continue
        sub = S[np.ix_(live, live)]
        try:
            L = np.linalg.cholesky(sub)
            # a near-singular covariance (collinear columns) would give the aliased
            # direction an unbounded prior scale
            if np.min(np.diag(L)) ** 2 < 1e-10 * np.max(np.diag(sub)):
                raise np.linalg.LinAlgError
            block = np.linalg.solve(L.T, np.eye(idx.size))  # L^-T
        except np.linalg.LinAlgError:
            block = np.diag(1.0 / np.sqrt(np.diag(sub)))
        T[np.ix_(idx, idx)] = block * root
    out = {"r2d2_T": T, "r2d2_nc": _group_level(X, design).astype(np.float64)}
    mono = np.asarray(design.mono, dtype=np.float64).reshape(design.n, len(info.monotonic))
    out["r2d2_mo_nc"] = _group_level(mono, design).astype(np.float64)
    mo = np.empty(len(info.monotonic))
    for j, m in enumerate(info.monotonic):
        rank = np.asarray(design.mono[:, j], dtype=np.float64) / max(len(m.levels) - 1, 1)
        var = float(w @ (rank - w @ rank) ** 2) if design.n else 0.0
        sd = np.sqrt(var) if var > _CONSTANT else 1.0
        mo[j] = 1.0 / (sd * np.sqrt(sizes[m.block]))
    out["r2d2_mo"] = mo
    for g in info.eta_groups:
        q = len(g.columns)
        Z = np.asarray(design.group_Z[g.label], dtype=np.float64).reshape(design.n, q)
        msq = w @ (Z * Z) if design.n else np.ones(q)
        msq = np.where(msq > _CONSTANT, msq, 1.0)
        out[f"r2d2_z[{g.label}]"] = 1.0 / np.sqrt(msq)
    return out
