"""The compiled kernel's data: a design and its priors packed into the arrays and the
header the kernel reads (:func:`pack`), and the sampler's unconstrained draws mapped back
to the PyMC model's variables (:func:`posterior`).

Plain NumPy: the Numba code is in :mod:`bayesresp.inference.kernel`, nutpie's model
object in :mod:`bayesresp.inference.nutpie_adapter`. The codes and the header layout
below are shared with the kernel, which imports them from here.

The unconstrained vector, in order: ``b`` (p); the ``mo()`` totals ``b_mo`` and each
term's simplex of increments (PyMC's simplex transform, steps - 1); per group term ``z``
(levels x terms, row-major) and ``log(sd)`` (terms); the cutpoints of the average case
through PyMC's ordered transform (``c_0 = u_0``, ``c_k = c_{k-1} + exp(u_k)``).
Hierarchically centred terms (``pack(..., centring=...)``, :func:`centred_terms`) hold
their level means where their ``z`` would be. Under the r2d2 prior
(:mod:`bayesresp.model.r2d2`): each component's log variance ratio ``log(tau2 share_c)``
(C; R2's log odds and the shares' simplex coordinates are functions of them,
:func:`r2d2_coordinates`); the whitened coefficients ``b_w`` (p); the ``mo()`` totals
``b_mo_w`` and the simplexes; per group term ``z`` and, with varying slopes, the split
of its share over its q columns (a simplex, q - 1); the cutpoints. A term with
correlated varying slopes adds, after its sds (or its split), the Cholesky factor of
their correlation matrix through PyMC's CholeskyCorrTransform (q (q - 1) / 2;
:func:`correlation_fill`). In the rows, each ``mo()`` step is an indicator column (level
>= k) after the design's columns, its coefficient the total times the step's share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from bayesresp.maths.families import get_family
from bayesresp.maths.links import get_link
from bayesresp.maths.thresholds import get_structure
from bayesresp.model.design import Design, compress
from bayesresp.model.graph import (
    ResolvedPriors,
    coefficient_priors,
    coords_of,
    cutpoint_start,
    data_values,
)

# Codes shared by the packer and the kernel.
NORMAL, STUDENT_T = 0, 1  # coefficient priors
HALFNORMAL, HALFSTUDENT_T, EXPONENTIAL = 0, 1, 2  # group sd priors
CUT_NORMAL, CUT_DIRICHLET = 0, 1  # cutpoint priors

# Layout of the header the C callback reads its data from (int64 slots): sizes and codes,
# then the addresses of the arrays.
_H_NDIM, _H_N, _H_P, _H_G, _H_QT, _H_PB, _H_PF, _H_NT, _H_NZ, _H_K = range(10)
_H_LINK, _H_BFAM, _H_CFAM, _H_HIER, _H_SUML = range(10, 15)
_H_XB, _H_BCOL, _H_XF, _H_FCOL, _H_W, _H_CELLS, _H_GT, _H_TMETA, _H_ZT = range(15, 24)
_H_XMEAN, _H_GMETA, _H_BPAR, _H_SPAR, _H_CPAR, _H_WMAT, _H_PARENT = range(24, 31)
_H_R2D2, _H_PT, _H_T, _H_RPAR, _H_RCOMP, _H_RSCALE, _H_RNC = range(31, 38)
_H_PCOL, _H_NMO, _H_MOMETA, _H_MOPAR = range(38, 42)
_H_NCELL = 42
_H_GW = 43  # columns of gmeta
_H_LEN = 44


# -- packing a design -------------------------------------------------------------------------
def unsupported(info, family=None, ranges: bool = False) -> str | None:
    """Why the kernel cannot sample this model (None when it can); ``family`` (a
    :class:`~bayesresp.maths.families.Family`; None: the cumulative family) is the
    model's ordinal family; ``ranges``: the rows hold ambiguous codes (ranges of
    levels)."""
    if family is not None and not family.compiled:
        return f"the {family.name} family (its log density is PyMC's graph)"
    sequential = family is not None and not family.ordered
    if sequential and ranges:
        return (
            f"ambiguous codes (ranges of levels) in the {family.name} family (a range's "
            "probability is no product of steps)"
        )
    if sequential and family.thresholds.name != "flexible":
        return f"{family.thresholds.name} thresholds in the {family.name} family"
    if getattr(info, "cs_columns", ()):
        names = ", ".join(sorted({c.term for c in info.cs_columns}))
        if sequential:
            return f"category-specific effects ({names})"
        return f"category-specific thresholds kept ordered ({names}; the cumulative family)"
    varying = [g.label for g in getattr(info, "groups", ()) if getattr(g, "thresholds", False)]
    if varying:
        return f"thresholds varying by group ((cs(1) | {varying[0]}))"
    if getattr(info, "coders", ()):
        return "the coders' layer (each coder's leniency and spread)"
    if getattr(info, "imputed", ()):
        names = ", ".join(m.var for m in info.imputed)
        return f"missing covariates summed out in the model ({names}; missing='model')"
    if getattr(info, "latent", ()):
        names = ", ".join(m.var for m in info.latent)
        return f"numbers' missing cells as latent values ({names}; missing='model')"
    return None


@dataclass
class Packed:
    """A design's arrays and priors in the kernel's layout."""

    info: object
    n_dim: int
    header: np.ndarray
    arrays: dict[str, np.ndarray]
    blocks: list[tuple[str, int, tuple[int, ...]]]  # (value variable, offset, shape)
    start: np.ndarray
    centred: tuple[str, ...] = ()  # the hierarchically centred group terms' labels

    @property
    def X_mean(self) -> np.ndarray:
        return self.arrays["X_mean"]


_SD_FAMILIES = {
    "halfnormal": HALFNORMAL,
    "halfstudent_t": HALFSTUDENT_T,
    "exponential": EXPONENTIAL,
}


# Hierarchical centring pays when the data pin each level's mean down relative to the
# spread of the levels (Papaspiliopoulos, Roberts & Skold 2007: the centred form mixes
# well when a level's data precision times the group variance is large, the non-centred
# form when it is small). :func:`level_signal` estimates that ratio for every term
# before fitting, by an analysis of variance of the outcome's codes stratum by stratum
# (:func:`signal_of`). Measured (min bulk ESS; benchmarks/README.md, "Hierarchical
# centring"), on the benchmark's data (12 missions, about 4.7 departments each, the r2d2
# default; signals of missions and departments): 10,000 rows, seed 11 (10.2, 4.9): both
# centred 2,025 in 13.7 s, departments only 598, neither 1,353 in 65 s; seed 1 (2.1,
# 7.3): both 540 with 5 divergences and r_hat 1.011, departments only 638 in 13.7 s,
# neither 923 in 77 s; 3,000 rows (13.8, 0.3): both 321 against 871 for neither; the
# example (0.3, 1.3): both 163 with 17 divergences, missions only 531, neither 1,026;
# 4 missions of 3,000 rows (0, 4.0): departments only 130 per second of sampling,
# neither 32, both 66. A single term: the example's missions (2.4) 3,646 against 652;
# lme4's VerbAgg (7.1) 970 in 9 s against 348 with an r_hat of 1.022; a grid of 200
# levels (benchmarks/centring_grid.py) gained at 2.1 and above (1.7x to 5.1x in ESS per
# second), lost or was even at 1.1 and below (0.24x to 1.07x).
#
# The number of levels moves the innermost term's crossover. The centred form's
# trouble is the funnel where a term's sd nears zero; with many levels the data hold
# the sd away from zero (the standard error of its analysis-of-variance estimate is
# about (1 + 1 / signal) / sqrt(2 levels) relative), so the funnel, and with it the
# centred form's loss at a low signal, fades, while centring still gains where outer
# terms or level-constant covariates sit on the level means (Chem97's slowest
# parameter was the authorities' sd). On the grid's simulator (single seeds; the same
# cell's ratio moved by up to 45% between runs), 50 levels lost by centring at 0.7 to
# 1.4 (1.4x to 3.3x) and gained at 2.7; 1,000 levels crossed between 1.1 and 1.6, 2,500
# between 0.9 and 1.3; nested terms gained by centring the inner one at 1.5 with 600
# levels (2.2x) and at 1.4 with 2,340 (1.2x), both of 13 rows a level, and were even
# at 1.3 with 60 of 40 rows; mlmRev's Chem97 (2,410 schools, 1.4) misses the
# convergence targets non-centred (r_hat 1.019, bulk ESS 141 on the authorities' sd)
# and meets them with its schools centred (4.0x the min bulk ESS per second of
# sampling), while the example's 56 departments (1.3) lose by it (1.2x and 2.3x). So
# the innermost term is centred from CENTRE_SIGNAL up to CENTRE_FEW levels, from
# CENTRE_SIGNAL_MANY from CENTRE_MANY levels, and between the two from a threshold
# linear in the logarithm of the levels (:func:`centre_threshold`). The constants were
# set on the same cells they are judged by (26 of 29 picks the faster form, 22 under
# the former 2.0), and CENTRE_SIGNAL_MANY is provisional: more seeds at 1,000 levels
# and above would place it better. Each term above the innermost is centred while its
# own signal is at least CENTRE_SIGNAL_OUTER (an outer term lost at 2.1, gained at
# 10.2; no evidence yet that its levels move it), never an outer term over a
# non-centred inner one.
CENTRE_SIGNAL = 2.0
CENTRE_SIGNAL_MANY = 1.2
CENTRE_FEW = 100
CENTRE_MANY = 1000
CENTRE_SIGNAL_OUTER = 2.5


def centre_threshold(levels: int) -> float:
    """The signal from which the innermost of nested intercepts is centred, given its
    number of levels: ``CENTRE_SIGNAL`` up to ``CENTRE_FEW`` levels,
    ``CENTRE_SIGNAL_MANY`` from ``CENTRE_MANY``, linear in ``log(levels)`` between."""
    where = np.log(max(levels, 1) / CENTRE_FEW) / np.log(CENTRE_MANY / CENTRE_FEW)
    where = min(max(float(where), 0.0), 1.0)
    return CENTRE_SIGNAL + where * (CENTRE_SIGNAL_MANY - CENTRE_SIGNAL)


def nesting(design: Design) -> tuple[list[np.ndarray], np.ndarray] | None:
    """How the design's groups nest, for hierarchical centring; None when they do not.

    Centring needs intercept-only groups, each nested in the one before it (every level
    of a group lies in one level of the previous group: ``mission``, then
    ``mission:department``), with every level present in the rows. Returns the parent
    level of every level of the second and later groups, and for every fixed-effect
    column, the design's then the ``mo()`` steps' indicator columns
    (:func:`step_columns`), the first group within whose levels it is constant (-1: it
    varies within the innermost group's levels). Centring moves the columns constant
    within a centred group's levels (owner >= 0, up to the deepest centred group) from
    the rows to the prior means of the level means (:func:`_centred_means`).
    """
    info = design.info
    if not info.groups:
        return None
    index = []
    for g in info.groups:
        Z = design.group_Z[g.label]
        if len(g.columns) != 1 or g.columns[0].term != "1" or not np.all(Z == 1.0):
            return None
        idx = design.group_index[g.label]
        if idx.min() < 0 or np.bincount(idx, minlength=len(g.levels)).min() == 0:
            return None
        index.append(idx)
    parents = []
    for outer, inner, g in zip(index[:-1], index[1:], info.groups[1:], strict=True):
        parent = np.full(len(g.levels), -1, dtype=np.int64)
        parent[inner] = outer
        if np.any(parent[inner] != outer):  # a level inside two outer levels
            return None
        parents.append(parent)
    X = np.column_stack([np.asarray(design.X, dtype=np.float64), step_columns(design)])
    owner = np.full(X.shape[1], -1, dtype=np.int64)
    for g, idx in enumerate(index):
        order = np.argsort(idx, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(idx[order]) != 0])
        Xs = X[order]
        const = np.all(np.maximum.reduceat(Xs, starts) == np.minimum.reduceat(Xs, starts), axis=0)
        owner[(owner < 0) & const] = g
    return parents, owner


def level_signal(design: Design) -> list[float]:
    """Each group term's signal (outermost first), :func:`signal_of` the design's outcome
    codes (a range's midpoint), weights, columns and group terms: the
    hierarchical-centring rule's measure (``CENTRE_SIGNAL``, ``CENTRE_SIGNAL_OUTER``)."""
    y = np.asarray(design.y, dtype=np.float64)
    if design.y_high is not None:
        y = 0.5 * (y + np.asarray(design.y_high, dtype=np.float64))
    terms = [(np.asarray(design.group_index[g.label]), len(g.levels)) for g in design.info.groups]
    return signal_of(y, np.asarray(design.weights, dtype=np.float64), design.X, terms)


def signal_of(y, w, X, terms: list[tuple[np.ndarray, int]]) -> list[float]:
    """Each of nested ``terms``' (level index, number of levels; outermost first) signal:
    its levels' between-variance over the average noise variance of a level's mean, by
    an analysis of variance of ``y`` stratum by stratum, each with the columns of ``X``
    that vary there (:func:`_owners`), so that no stratum's estimate carries another's
    variation.

    - Rows: ``y`` and the columns varying within the innermost levels, less their level
      means; weighted least squares gives those columns' coefficients and the noise
      variance, with the degrees of freedom the levels and columns leave.
    - Each term, innermost first: its level means of ``y`` (less the row columns' fit and
      the inner terms' columns' fits) less their parent's weighted mean (the outermost's
      parent: the grand mean), regressed on the columns first constant within its levels
      (their level means, likewise less their parent's); the residuals' sum of squares
      has expectation ``A tau^2 + B``, from each level's share of its parent's weight
      (its leverage) and its mean's noise, less what the columns took, plus what the
      row columns' fitted slopes' and the inner terms' columns' fitted coefficients'
      sampling errors add (their covariances carried through the term's level means).
      A term whose own columns take every degree of freedom its levels leave reads 0,
      and its columns are fitted in the term above instead.
    - The noise of an innermost level's mean is the noise variance over its weight; of
      an outer level's mean, the sum over its children of (child weight / its weight)^2
      (child between-variance + child noise). The signal is tau^2 over the term's
      average noise, so that unequal sizes average the noise, not the sizes.

    inf where the noise is 0 and the levels differ; all 0 when the innermost levels leave
    no within-level degrees of freedom (one row each: an observation-level term, whose
    means the data do not pin down)."""
    if not terms:
        return []
    n = len(y)
    X = np.asarray(X, dtype=np.float64).reshape(n, -1)
    y = np.asarray(y, dtype=np.float64)
    owner = _owners(X, w, terms)
    sizes, parents = [], []
    for t, (idx, L) in enumerate(terms):
        sizes.append(np.bincount(idx, weights=w, minlength=L))
        parent = np.zeros(L, dtype=np.int64)  # the outermost's parent: the grand mean
        if t:
            parent[idx] = terms[t - 1][0]
        parents.append(parent)
    inner, inner_size = terms[-1][0], sizes[-1]
    rows = owner < 0
    e = y - _means_by_level(y, w, inner, inner_size)[inner]
    Xw = X[:, rows] - _means_by_level(X[:, rows], w, inner, inner_size)[inner]
    e, beta, rank = _fit(e, Xw, w)
    dof = float(w.sum()) - int((inner_size > 0).sum()) - rank
    if dof <= 0.0:
        return [0.0] * len(terms)
    sigma2 = float((w * e * e).sum() / dof)
    y = y - X[:, rows] @ beta  # less the row columns' fit, by their within-level slopes
    # the slopes' sampling covariance: their error reaches every term's level means
    slopes = sigma2 * np.linalg.pinv(Xw.T @ (Xw * w[:, None])) if rows.any() else None
    noise = sigma2 / np.maximum(inner_size, 1e-300)  # of each innermost level's mean
    signals = []
    fitted = []  # (columns, their fitted coefficients' covariance) of the inner terms
    for g in range(len(terms) - 1, -1, -1):
        idx = terms[g][0]
        present = sizes[g] > 0
        parent, v, n_g = parents[g][present], noise[present], sizes[g][present]
        groups = int(parent.max()) + 1
        weight = np.bincount(parent, weights=n_g, minlength=groups)
        share = n_g / weight[parent]  # of its parent's weight
        children = np.bincount(parent, minlength=groups)[parent]

        def less_parent(a, parent=parent, share=share, groups=groups):
            """Each level's values less its parent's weighted mean of them."""
            out = a.copy()
            for j in range(a.shape[1]):
                out[:, j] -= np.bincount(parent, weights=share * a[:, j], minlength=groups)[parent]
            return out

        m = less_parent(_means_by_level(y, w, idx, sizes[g])[present][:, None])[:, 0]
        owned = owner == g
        raw = _means_by_level(X[:, owned], w, idx, sizes[g])[present]
        C = less_parent(raw)
        # The level means are a + noise, independent across levels with variances tau^2
        # and v; the residuals are Q M (a + noise), M taking each parent's weighted mean
        # off, Q the projection off C's columns: E[sum m^2] = A tau^2 + B, with
        # A = tr(M'M) - tr(U' M M' U) and B the same weighted by v (U: C's basis).
        lever = 1.0 - 2.0 * share + children * share**2  # diagonal of M'M
        a, b = float(lever.sum()), float((v * lever).sum())
        rank = 0
        if C.shape[1]:
            # one decomposition for the fit and for A and B, so that both see the same
            # directions; rounding noise of the columns' own size is none (a constant
            # that floats cannot hold leaves it in C)
            u, sv, vt = np.linalg.svd(C, full_matrices=False)
            size = max(float(sv.max()), float(np.abs(raw).max()) * np.sqrt(len(raw)))
            keep = sv > size * max(C.shape) * 1e-12
            u, sv, vt = u[:, keep], sv[keep], vt[keep]
            rank = u.shape[1]
            along = u.T @ m
            m = m - u @ along
            if len(m) - len(np.unique(parent)) - rank > 0:  # outer terms: less this fit
                y = y - X[:, owned] @ (vt.T @ (along / sv))
            elif g:  # the columns take every degree of freedom the levels leave (this
                # term reads 0, below): their fit would be the noise's; the term above
                # fits them instead
                owner[owned] = g - 1
            # M'u: each u less its parent's sum times the level's share
            mu = u.copy()
            for j in range(u.shape[1]):
                mu[:, j] -= share * np.bincount(parent, weights=u[:, j], minlength=groups)[parent]
            a -= float((mu**2).sum())
            b -= float((v[:, None] * mu**2).sum())
        # + E|Q M xbar (error)|^2 for every fit taken off y below this stratum: the row
        # columns' slopes, and the inner terms' columns' coefficients (xbar: their means
        # at this term's levels, less the parent's)
        for columns, cov in ([(rows, slopes)] if slopes is not None else []) + fitted:
            G = less_parent(_means_by_level(X[:, columns], w, idx, sizes[g])[present])
            if C.shape[1]:
                G = G - u @ (u.T @ G)
            b += float(np.einsum("ij,jk,ik->", G, cov, G))
        # no degrees of freedom left (the columns took them all): nothing to estimate,
        # where A's rounding could leave 1e-16 and a power of 2 for tau^2
        free = len(m) - len(np.unique(parent)) - rank > 0 and a > 1e-9 * float(lever.sum())
        tau2 = max((float(m @ m) - b) / a, 0.0) if free else 0.0
        if C.shape[1] and len(m) - len(np.unique(parent)) - rank > 0:
            # this fit's coefficients' covariance, for the terms
            # above: (vt' S^-1 u') M D M' (u S^-1 vt), D the level means' variances
            k = (vt.T / sv) @ (mu.T * (tau2 + v))
            fitted.append((owned, k @ (mu / sv) @ vt))
        average = float(v.mean())
        signals.append(tau2 / average if average > 0.0 else (math.inf if tau2 > 0.0 else 0.0))
        if g:  # the outer term's level means: weighted means of their children's rows
            noise = np.zeros(len(sizes[g - 1]))
            np.add.at(noise, parent, share**2 * (tau2 + v))
    return signals[::-1]


def _means_by_level(a, w, idx, total):
    """Weighted means of ``a``'s values (a vector, or a matrix's columns) per level."""
    scale = np.maximum(total, 1e-300)
    if a.ndim == 1:
        return np.bincount(idx, weights=w * a, minlength=len(total)) / scale
    out = np.zeros((len(total), a.shape[1]))
    for j in range(a.shape[1]):
        out[:, j] = np.bincount(idx, weights=w * a[:, j], minlength=len(total)) / scale
    return out


def _fit(target, C, weights):
    """Weighted least squares of ``target`` on ``C``'s columns (no constant): the
    residuals, the coefficients and ``C``'s rank."""
    if C.shape[1] == 0:
        return target, np.zeros(0), 0
    root = np.sqrt(weights)
    beta, _, rank, _ = np.linalg.lstsq(C * root[:, None], target * root, rcond=None)
    return target - C @ beta, beta, int(rank)


def _owners(X, w, terms) -> np.ndarray:
    """Each column's stratum: the outermost term within whose levels its weighted spread
    is nil (a mission's context, a department's composition), -1 when it varies within
    the innermost levels."""
    owner = np.full(X.shape[1], -1)
    if X.shape[1] == 0:
        return owner
    scale = np.abs(X - X.mean(axis=0)).max(axis=0)  # the column's own spread
    for idx_level, (idx, L) in enumerate(terms):
        total = np.bincount(idx, weights=w, minlength=L)
        spread = np.abs(X - _means_by_level(X, w, idx, total)[idx]).max(axis=0)
        owner[(owner < 0) & (spread <= 1e-9 * scale)] = idx_level
    return owner


def centred_terms(design: Design, centring: bool | Sequence[str] | None) -> tuple[str, ...]:
    """The group terms to centre hierarchically (their labels, outermost first).

    ``centring``: None chooses by the data: in a chain of nested intercepts
    (:func:`nesting`), the innermost term when its :func:`level_signal` is at least
    :func:`centre_threshold` of its number of levels (``CENTRE_SIGNAL``, 2.0, up to
    100 levels, down to ``CENTRE_SIGNAL_MANY``, 1.2, from 1,000), and each term above
    it while its own signal is at least
    ``CENTRE_SIGNAL_OUTER`` (never an outer term over a non-centred inner one); True
    centres every term of the chain, False none, and a label or a sequence of labels
    those terms.
    """
    info = design.info
    labels = [g.label for g in info.groups]
    if not isinstance(centring, bool | str | None):
        centring = tuple(centring)  # a list, tuple or array of labels
    if centring is False or centring == ():
        return ()  # False, or no terms (a resolved default that chose none)
    nested = nesting(design) if labels else None
    if centring is None:
        if nested is None:
            return ()
        signal = level_signal(design)
        strong = len(labels)
        innermost = centre_threshold(len(info.groups[-1].levels))
        while strong and signal[strong - 1] >= (
            innermost if strong == len(labels) else CENTRE_SIGNAL_OUTER
        ):
            strong -= 1
        return tuple(labels[strong:])
    if nested is None:
        raise ValueError(
            "hierarchical centring needs nested group intercepts, such as "
            "(1 | mission/department), with every level present"
            + ("" if labels else " (the model has no group terms)")
        )
    if centring is True:
        return tuple(labels)
    asked = [centring] if isinstance(centring, str) else list(centring)
    unknown = [c for c in asked if c not in labels]
    if unknown:
        raise ValueError(
            f"centring names {', '.join(map(repr, unknown))}, not a group term of the model "
            f"(its group terms: {', '.join(labels)})"
        )
    return tuple(label for label in labels if label in asked)


# The data arrays in log_density's argument order; the header holds their addresses in
# the same order (from _H_XB on), then W's and anc's.
_DATA_ORDER = (
    "Xb",
    "bcol",
    "Xf",
    "fcol",
    "w",
    "cells",
    "gT",
    "tmeta",
    "Zt",
    "X_shift",
    "gmeta",
    "bpar",
    "spar",
    "cpar",
)


def _row_layout(design: Design, X: np.ndarray, K: int, rows_see: int) -> dict[str, np.ndarray]:
    """The rows as :func:`_rows` reads them, from the design's outcome, weights, groups
    from ``rows_see`` on, and fixed-effect design ``X`` (n, p).

    Rows come in blocks by outcome cell (stably sorted: ``order`` holds each packed
    row's row in the design). A cell is a range of levels; a row of ``cells`` holds its
    lowest and highest level and its block's first and end row: the K levels first (cell
    k is level k, present even without rows), then each range (ambiguous code) the rows
    hold, lowest first. Columns by kind:
    small-integer columns (dummies, counts) as int8, exactly; the others in double
    precision; columns of zeros (those centring moved to its W) are left out. Group
    terms (``tmeta``): offset of the term's effects in the concatenated ``r`` of all
    groups, stride, row of ``Zt`` (-1: a column of ones), with their level codes in
    ``gT``."""
    info = design.info
    n = design.n
    y = np.asarray(design.y)
    _check_codes(y, K, n)
    cell, cells = outcome_cells(y, design.y_high, K)
    w = np.asarray(design.weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{w.shape[0]} weights for {n} rows")
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(len(cells) + 1))
    X = X[order]
    used = np.any(X != 0.0, axis=0)
    small = np.all((np.round(X) == X) & (np.abs(X) <= 127.0), axis=0)
    bcol, fcol = np.flatnonzero(used & small), np.flatnonzero(used & ~small)
    tmeta, gT, Zt, r_off = [], [], [], 0
    for g_i, g in enumerate(info.groups):
        L, q = len(g.levels), len(g.columns)
        idx = np.asarray(design.group_index[g.label])
        if n and (idx.min() < 0 or idx.max() >= L):
            raise ValueError(f"group index of {g.label} outside 0 .. {L - 1}")
        if L * q > np.iinfo(np.int32).max:
            raise ValueError(f"{g.label} has too many levels for the kernel's 32-bit codes")
        if g_i >= rows_see:
            Z = np.asarray(design.group_Z[g.label], dtype=np.float64).reshape(n, q)[order]
            for t in range(q):
                ones = bool(np.all(Z[:, t] == 1.0))
                tmeta.append([r_off + t, q, -1 if ones else len(Zt)])
                gT.append(idx[order])
                if not ones:
                    Zt.append(Z[:, t])
        r_off += L * q
    return {
        "Xb": np.ascontiguousarray(X[:, bcol].T, dtype=np.int8).reshape(len(bcol), n),
        "bcol": bcol.astype(np.int64),
        "Xf": np.ascontiguousarray(X[:, fcol].T, dtype=np.float64).reshape(len(fcol), n),
        "fcol": fcol.astype(np.int64),
        "w": np.ascontiguousarray(w[order]),
        "cells": np.ascontiguousarray(
            np.column_stack([cells, bounds[:-1], bounds[1:]]), dtype=np.int64
        ),
        "gT": np.asarray(gT, dtype=np.int32).reshape(len(tmeta), n),
        "tmeta": np.asarray(tmeta, dtype=np.int64).reshape(len(tmeta), 3),
        "Zt": np.asarray(Zt, dtype=np.float64).reshape(len(Zt), n),
        "order": order.astype(np.int64),
    }


def outcome_cells(y: np.ndarray, y_high: np.ndarray | None, K: int):
    """Each row's cell and the cells (lowest, highest level), see :func:`_row_layout`."""
    cells = np.column_stack([np.arange(K), np.arange(K)]).astype(np.int64)
    if y_high is None:
        return y.astype(np.int64), cells
    y_high = np.asarray(y_high)
    _check_codes(y_high, K, len(y))
    if np.any(y_high < y):
        raise ValueError("a range's highest level lies below its lowest")
    ranged = y_high > y
    pairs, which = np.unique(np.column_stack([y, y_high])[ranged], axis=0, return_inverse=True)
    cell = y.astype(np.int64).copy()
    cell[ranged] = K + which.ravel()
    return cell, np.ascontiguousarray(np.concatenate([cells, pairs.astype(np.int64)]))


def step_terms(design: Design, family) -> tuple[Design, np.ndarray]:
    """A sequential family's rows as the terms of their steps, each an interval of the
    cumulative family's (:meth:`bayesresp.maths.families.Family.intervals`): a plain
    design of the terms, each weighted as its row, and each term's row (sorted). What
    the kernel samples (:func:`pack`) and the per-row log-likelihood sums
    (:func:`bayesresp.inference.kernel.log_likelihood`)."""
    rows, low, high = family.intervals(design.y, len(design.info.spectrum))
    weights = np.asarray(design.weights)[rows]
    return replace(design.take(rows), y=low, y_high=high, weights=weights), rows


def step_columns(design: Design) -> np.ndarray:
    """The ``mo()`` terms' steps as indicator columns (n, steps), term by term: column
    ``k`` of a term is 1 where its level is at least ``k`` (k = 1 .. levels - 1). With
    the total times the step's share as coefficient, they give the term's part of the
    linear predictor, ``b_mo * steps[level]``."""
    info = design.info
    mono = np.asarray(design.mono).reshape(design.n, len(info.monotonic))
    columns = [
        mono[:, j] >= k for j, m in enumerate(info.monotonic) for k in range(1, len(m.levels))
    ]
    return np.column_stack(columns).astype(np.float64) if columns else np.zeros((design.n, 0))


def step_coefficients(b_mo: np.ndarray, simplexes: list[np.ndarray]) -> np.ndarray:
    """The steps' coefficients (..., steps) from the totals (..., terms) and each term's
    simplex (..., levels - 1), in :func:`step_columns`' order."""
    parts = [b_mo[..., j, None] * s for j, s in enumerate(simplexes)]
    return np.concatenate(parts, axis=-1) if parts else b_mo[..., :0]


def pack(
    design: Design,
    prior_overrides: dict[str, str],
    link: str,
    centring: bool | Sequence[str] | None = None,
    thresholds: str = "flexible",
    family: str = "cumulative",
) -> Packed:
    """The kernel's data for a design (rows, weights and priors).

    ``family``: the ordinal family. A sequential one (sratio, cratio) is packed as the
    cumulative family's intervals under the link its steps stop with
    (:meth:`bayesresp.maths.families.Family.intervals` and ``step_link_code``: each row
    one term per step it goes past and one where it stops, on average the mean level
    plus one; equal terms of different rows merged,
    :func:`~bayesresp.model.design.compress`), with free thresholds (no ordered
    transform) and its own induced-Dirichlet prior; the kernel's rows are those terms.

    ``centring``: which of nested group intercepts to centre hierarchically
    (:func:`centred_terms`; the kernel's :func:`_centred_level`). ``thresholds``: their
    structure (:mod:`bayesresp.maths.thresholds`; equidistant: the vector holds the first
    and last, ``cutpoint_ends``).
    """
    info = design.info
    ordinal = get_family(family, link, thresholds)
    reason = unsupported(info, ordinal, bool(design.ranges.any()))
    if reason is not None:
        raise ValueError(f"the kernel does not cover {reason}")
    sequential = not ordinal.ordered
    centred = centred_terms(design, centring)
    flags = [g.label in centred for g in info.groups]
    nested = nesting(design) if centred else None
    priors = ResolvedPriors(info, prior_overrides, link)
    r2d2 = priors.r2d2
    values = data_values(design)  # (the prior's location: the rows', not their terms')
    if sequential:  # the rows as the terms of their steps, equal terms merged
        design, _ = compress(step_terms(design, ordinal)[0])
    n, p = design.X.shape
    blocks: list[tuple[str, int, tuple[int, ...]]] = []
    start: list[np.ndarray] = []

    if r2d2 is None:
        family, mu, sigma, nu = coefficient_priors(
            "b", [priors.coefficient(c.name, c.term) for c in info.columns]
        )
        bpar = np.column_stack([mu, sigma, nu]) if p else np.zeros((0, 3))
        blocks.append(("b", 0, (p,)))
        start.append(mu.astype(float) if p else np.zeros(0))
        offset = p
        if info.monotonic:
            mo_family, mo_mu, mo_sigma, mo_nu = coefficient_priors(
                "b_mo", [priors.monotonic(m.name) for m in info.monotonic]
            )
            blocks.append(("b_mo", offset, (len(info.monotonic),)))
            start.append(mo_mu.astype(float))
    else:  # R2, the shares, the whitened coefficients b_w ~ N(0, scale_k)
        family, bpar = "normal", np.zeros((p, 3))
        C = r2d2.n_components
        # each component's log variance ratio log(tau2 share_c) (kernel._r2d2_coordinates)
        blocks.append(("r2d2_log_variance", 0, (C,)))
        mean = min(max(r2d2.prior_mean, 1e-12), 1.0 - 1e-12)  # a tail near 0: mean near 1
        start.append(np.full(C, math.log(mean / (1.0 - mean)) - math.log(C)))
        blocks.append(("b_w", C, (p,)))
        start.append(np.zeros(p))
        offset = C + p
        if info.monotonic:
            mo_family = "normal"
            mo_mu = mo_sigma = mo_nu = np.zeros(len(info.monotonic))
            blocks.append(("b_mo_w", offset, (len(info.monotonic),)))
            start.append(np.zeros(len(info.monotonic)))
    # mo() terms: the total effects (above), then each term's simplex of increments; in
    # the rows, an indicator column per step (level >= k) whose coefficient is the total
    # times the step's share
    mometa, mopar = [], []
    column = p
    offset_mo = offset
    offset += len(info.monotonic)
    for j, m in enumerate(info.monotonic):
        steps = len(m.levels) - 1
        blocks.append((f"simplex[{m.var}]_simplex__", offset, (steps - 1,)))
        start.append(np.zeros(steps - 1))
        mometa.append([steps, offset_mo + j, offset, column])
        unit = values["r2d2_mo"][j] if r2d2 is not None else 1.0
        nc = values["r2d2_mo_nc"][j] if r2d2 is not None else 0.0
        comp = r2d2.mo_component[j] if r2d2 is not None else 0
        mopar.append(
            [
                NORMAL if mo_family == "normal" else STUDENT_T,
                mo_mu[j],
                mo_sigma[j],
                mo_nu[j],
                priors.simplex(m.var).param("alpha"),
                unit,
                nc,
                comp,
            ]
        )
        offset += steps - 1
        column += steps

    gmeta, spar, zcol = [], [], 0
    # per group term: the offset of its correlations' Cholesky factor in x (-1: none),
    # where each of its values goes (gmeta's columns from 7 on)
    lkjpos: list[list[int]] = []
    for g, centre in zip(info.groups, flags, strict=True):
        L, q = len(g.levels), len(g.columns)
        blocks.append((f"{'mu' if centre else 'z'}[{g.label}]", offset, (L, q)))
        start.append(np.zeros(L * q))
        if r2d2 is not None:  # the sds come from the shares, split over the columns
            gmeta.append([offset, L, q, offset + L * q, zcol, HALFNORMAL, len(spar)])
            spar.extend([[1.0, 1.0, 1.0, 0.0, 0.0] for _ in range(q)])
            if q > 1:
                blocks.append((f"shares[{g.label}]_simplex__", offset + L * q, (q - 1,)))
                start.append(np.zeros(q - 1))
            offset += L * q + q - 1
        else:
            prior = priors.sd(g.label)
            fam = _SD_FAMILIES[prior.family]
            sigma_sd = prior.param("sigma") if fam != EXPONENTIAL else 1.0
            nu_sd = prior.param("nu") if fam == HALFSTUDENT_T else 1.0
            lam = prior.param("lam") if fam == EXPONENTIAL else 1.0
            gmeta.append([offset, L, q, offset + L * q, zcol, fam, len(spar)])
            spar.extend([[sigma_sd, nu_sd, lam, 0.0, 0.0] for _ in range(q)])
            blocks.append((f"sd[{g.label}]_log__", offset + L * q, (q,)))
            start.append(np.full(q, math.log(sigma_sd if fam != EXPONENTIAL else 1.0 / lam)))
            offset += L * q + q
        zcol += q
        # correlated varying slopes: the Cholesky factor of their correlation matrix
        m = q * (q - 1) // 2
        if q > 1 and g.correlated:
            eta = priors.cor(g.label).param("eta")
            blocks.append((f"cor_chol[{g.label}]_cholesky_corr__", offset, (m,)))
            start.append(np.zeros(m))  # the identity
            for row in spar[-q:]:  # eta and the log constant beside the sds' priors
                row[3:] = [eta, lkj_log_constant(eta, q)]
            lkjpos.append([offset, *correlation_fill(q)])
            offset += m
        else:
            lkjpos.append([-1])

    if r2d2 is None:
        T, rpar, rnc = np.zeros((0, 0)), np.zeros(6), np.zeros(0)
        rcomp, rscale = np.zeros(zcol, dtype=np.int64), np.ones(zcol)
    else:
        C = r2d2.n_components
        a_, b_ = r2d2.beta
        T = np.ascontiguousarray(values["r2d2_T"], dtype=np.float64).reshape(p, p)
        rnc = np.asarray(values["r2d2_nc"], dtype=np.float64).reshape(p)
        rpar = np.array(
            [a_, b_, r2d2.alpha, r2d2.residual_variance, C, 0, *r2d2.concentrations], dtype=float
        )
        group_comp = [
            c for g, c in zip(info.groups, r2d2.group_component, strict=True) for _ in g.columns
        ]
        rcomp = np.asarray([*r2d2.column_component, *group_comp], dtype=np.int64)
        rscale = np.concatenate(
            [np.asarray(values[f"r2d2_z[{g.label}]"], dtype=float) for g in info.groups]
            or [np.zeros(0)]
        )

    K = len(info.spectrum)
    pad = get_link(link).pad
    cut_prior = priors.cutpoints()
    structure = get_structure(thresholds)
    equi = structure.n_free(K) < K - 1
    if cut_prior.family == "normal":
        cfam, cpar = CUT_NORMAL, [cut_prior.param("mu"), cut_prior.param("sigma"), pad]
    else:
        cfam, cpar = CUT_DIRICHLET, [cut_prior.param("alpha"), 0.0, pad]
    cpar += [K, float(equi), float(sequential)]
    c0 = structure.free_of(cutpoint_start(K, link))
    name = "cutpoint_ends" if equi else "cutpoints_centred"
    if sequential:  # free thresholds
        blocks.append((name, offset, (len(c0),)))
        start.append(c0)
    else:
        blocks.append((f"{name}_ordered__", offset, (len(c0),)))
        start.append(np.concatenate([c0[:1], np.log(np.diff(c0))]))
    n_dim = offset + len(c0)

    G = len(info.groups)
    X = np.asarray(design.X, dtype=np.float64).reshape(n, p)
    X_mean = np.asarray(values["X_mean"], dtype=np.float64).reshape(p)
    if info.monotonic:  # the indicator columns of the mo() steps, and their means
        steps_mean = [
            np.asarray(values[f"mono_share[{m.var}]"], dtype=np.float64)[k:].sum()
            for m in info.monotonic
            for k in range(1, len(m.levels))
        ]
        X = np.column_stack([X, step_columns(design)])
        X_mean = np.concatenate([X_mean, steps_mean])
    pe = X.shape[1]
    X_shift = X_mean  # the columns whose average case shifts the rows' cutpoints
    if centred:
        W, anc, X, X_shift = _centred_means(design, X, X_mean, nested, flags)
    else:
        W, anc = np.zeros((0, pe)), np.zeros((0, G))
    deepest = max((g for g in range(G) if flags[g]), default=0)
    arrays = _row_layout(design, X, K, rows_see=deepest)
    Zt = arrays["Zt"]
    arrays |= {
        "X_mean": np.ascontiguousarray(X_mean, dtype=np.float64).reshape(pe),
        "X_shift": np.ascontiguousarray(X_shift, dtype=np.float64).reshape(pe),
        "gmeta": np.column_stack(
            [np.asarray(gmeta, dtype=np.int64).reshape(G, 7), _ragged(lkjpos, G)]
        ),
        "bpar": np.ascontiguousarray(bpar, dtype=np.float64).reshape(p, 3),
        "spar": np.asarray(spar, dtype=np.float64).reshape(len(spar), 5),
        "cpar": np.asarray(cpar, dtype=np.float64),
        "W": np.ascontiguousarray(W, dtype=np.float64),
        "anc": np.ascontiguousarray(anc, dtype=np.int64).reshape(len(W), G),
        "T": np.ascontiguousarray(T, dtype=np.float64),
        "rpar": np.ascontiguousarray(rpar, dtype=np.float64),
        "rcomp": np.ascontiguousarray(rcomp, dtype=np.int64),
        "rscale": np.ascontiguousarray(rscale, dtype=np.float64),
        "rnc": np.ascontiguousarray(rnc, dtype=np.float64),
        "mometa": np.asarray(mometa, dtype=np.int64).reshape(len(mometa), 4),
        "mopar": np.asarray(mopar, dtype=np.float64).reshape(len(mopar), 8),
    }
    header = np.zeros(_H_LEN, dtype=np.int64)
    header[_H_NDIM], header[_H_N], header[_H_P], header[_H_G] = n_dim, n, pe, G
    header[_H_PCOL], header[_H_NMO] = p, len(mometa)
    header[_H_QT], header[_H_PB] = zcol, len(arrays["bcol"])
    header[_H_PF], header[_H_NT] = len(arrays["fcol"]), len(arrays["tmeta"])
    header[_H_NZ], header[_H_K] = len(Zt), K
    # a sequential family's steps: intervals under the link they stop with
    header[_H_LINK] = ordinal.step_link_code if sequential else get_link(link).code
    header[_H_BFAM] = NORMAL if family == "normal" else STUDENT_T
    header[_H_CFAM] = cfam
    header[_H_HIER] = sum(1 << g for g in range(G) if flags[g])  # the centred terms
    header[_H_SUML] = len(W)
    header[_H_NCELL] = len(arrays["cells"])
    for slot, name in enumerate((*_DATA_ORDER, "W", "anc"), start=_H_XB):
        header[slot] = arrays[name].ctypes.data
    header[_H_R2D2], header[_H_PT] = int(r2d2 is not None), T.shape[0]
    late_slots = {  # the r2d2 prior's and the mo() terms' arrays
        _H_T: "T",
        _H_RPAR: "rpar",
        _H_RCOMP: "rcomp",
        _H_RSCALE: "rscale",
        _H_RNC: "rnc",
        _H_MOMETA: "mometa",
        _H_MOPAR: "mopar",
    }
    header[_H_GW] = arrays["gmeta"].shape[1]
    for slot, name in late_slots.items():
        header[slot] = arrays[name].ctypes.data
    return Packed(info, n_dim, header, arrays, blocks, np.concatenate(start), centred)


def _centred_means(design: Design, X: np.ndarray, X_mean: np.ndarray, nested, flags):
    """The centred terms' level means' predictors: ``W`` (one row per level of each
    centred term, outermost first) holds the columns constant within the term's levels
    but not within the previous centred term's (those are in its own means), less their
    average case ``X_mean``; ``anc`` each such level's level in every outer term.
    Returns them, ``X`` without the columns the means took (all constant within the
    deepest centred term's levels) and ``X_mean`` without them either.

    The sampled means are the level means less the moved columns' average case: the
    rows' cutpoints shift by the other columns' average case only, so the likelihood is
    the same, and a moved coefficient no longer moves the common level of the means
    with the cutpoints (the ridge a varying r2d2 scale bends).
    """
    parents, owner = nested
    groups = design.info.groups
    W, anc = [], []
    prev = -1
    for g, group in enumerate(groups):
        if not flags[g]:
            continue
        first = np.unique(design.group_index[group.label], return_index=True)[1]
        W.append(np.where((owner > prev) & (owner <= g), X[first] - X_mean, 0.0))
        up = np.zeros((len(first), len(groups)), dtype=np.int64)
        level = np.arange(len(first))
        for h in range(g - 1, -1, -1):
            level = parents[h][level]
            up[:, h] = level
        anc.append(up)
        prev = g
    moved = (owner >= 0) & (owner <= prev)
    X = X.copy()
    X[:, moved] = 0.0
    return np.concatenate(W), np.concatenate(anc), X, np.where(moved, 0.0, X_mean)


def correlation_fill(q: int) -> list[int]:
    """Where PyMC's CholeskyCorrTransform puts each of its q (q - 1) / 2 unconstrained
    values in the q x q Cholesky factor (the flat index ``i * q + j``, j < i), before each
    row (with a 1 on the diagonal) is scaled to unit length: TensorFlow Probability's
    spiral fill of the lower triangle below the diagonal. The test of the kernel against
    PyMC's graph ties it to the transform."""
    n = q - 1
    m = q * (q - 1) // 2
    x = np.arange(m)
    fill = np.tril(np.concatenate([x[n:], x[::-1]]).reshape(n, n)) if n else np.zeros((0, 0))
    where = np.empty(m, dtype=np.int64)
    for a in range(n):
        for b in range(a + 1):
            where[fill[a, b]] = (a + 1) * q + b
    return where.tolist()


def lkj_log_constant(eta: float, q: int) -> float:
    """The log normalising constant of the LKJ(eta) density of q x q correlation
    matrices, as PyMC's LKJCorr adds it."""
    total = (q - 1) * math.lgamma(eta + 0.5 * (q - 1))
    for k in range(1, q):
        total -= 0.5 * k * math.log(math.pi) + math.lgamma(eta + 0.5 * (q - 1 - k))
    return total


def correlation_factor(u: np.ndarray, q: int) -> np.ndarray:
    """The Cholesky factors (..., q, q) of correlation matrices from the unconstrained
    values (..., q (q - 1) / 2) of PyMC's CholeskyCorrTransform (the kernel's
    ``_lkj_factor``, for draws)."""
    lead = u.shape[:-1]
    flat = np.zeros((*lead, q * q))
    flat[..., correlation_fill(q)] = u
    L = flat.reshape(*lead, q, q) + np.eye(q)
    return L / np.linalg.norm(L, axis=-1, keepdims=True)


def _ragged(rows: list[list[int]], G: int) -> np.ndarray:
    """Integer rows of different lengths as one array, padded with -1."""
    width = max((len(r) for r in rows), default=1)
    out = np.full((G, width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def posterior(packed: Packed, draws: xr.Dataset) -> xr.Dataset:
    """The posterior with the PyMC model's variables (same names, values and dims), from
    nutpie's draws of the unconstrained vector (variable ``unconstrained``).

    Hierarchically centred fits store the same variables: a centred term's effects
    ``r = mu - W b - m`` (:func:`_level_mean`) and ``z = r / sd`` of the non-centred form, which
    the log prior (sensitivity checks) is evaluated on (the outer groups, intercepts by
    :func:`nesting`, are never correlated). Correlated varying slopes store the
    Cholesky factor ``cor_chol[g]``, the matrix ``cor[g]`` and ``r = z (diag(sd) L)^T``.
    Fits under the r2d2 prior store
    ``R2``, ``shares``, ``b_w`` (and ``b_mo_w``) and the coefficients, ``mo()`` totals
    and sds they give. ``mo()`` terms store their totals and ``simplex[var]``.
    """
    U = np.asarray(draws["unconstrained"].values, dtype=np.float64)
    lead = U.shape[:-1]
    sample = ("chain", "draw")
    out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    effects = {}
    means: dict[str, np.ndarray] = {}
    r2d2 = bool(packed.header[_H_R2D2])
    zs: dict[str, np.ndarray] = {}
    splits: dict[str, np.ndarray] = {}
    chols: dict[str, np.ndarray] = {}  # correlated slopes: Cholesky factors (..., q, q)
    u = y = None
    for name, offset, shape in packed.blocks:
        block = U[..., offset : offset + int(np.prod(shape))].reshape(*lead, *shape)
        label = name[name.index("[") + 1 : name.rindex("]")] if "[" in name else ""
        level_dims = (*sample, f"{label}_level", f"{label}_term")
        if name in ("b", "b_w"):
            b = block
            if shape[0]:
                out[name] = ((*sample, "coef"), block)
        elif name in ("b_mo", "b_mo_w"):
            out[name] = ((*sample, "mo_term"), block)
        elif name.startswith("simplex["):
            out[f"simplex[{label}]"] = ((*sample, f"{label}_step"), _softmax_draws(block))
        elif name.startswith("z["):
            out[name] = (level_dims, block)
            zs[label] = block
        elif name.startswith("mu["):
            means[label] = block
            out[f"z[{label}]"] = (level_dims, block)  # replaced below, keeps PyMC's order
        elif name.startswith("sd["):
            sd = np.exp(block)
            out[f"sd[{label}]"] = ((*sample, f"{label}_term"), sd)
            if label in means:  # centred: the outer terms came first
                r = means[label] - _level_mean(packed, label, b, out, effects, means)
                out[f"z[{label}]"] = (level_dims, r / sd[..., None, :])
            else:
                r = out[f"z[{label}]"][1] * sd[..., None, :]
            effects[f"r[{label}]"] = (level_dims, r)
        elif name == "r2d2_log_variance":
            u, y = r2d2_coordinates(block)
        elif name.startswith("shares["):
            splits[label] = block
        elif name.startswith("cor_chol["):
            q = len(next(g for g in packed.info.groups if g.label == label).columns)
            chol = correlation_factor(block, q)
            chols[label] = chol
            pair = (*sample, f"{label}_term", f"{label}_term_")
            out[f"cor_chol[{label}]"] = (pair, chol)
            out[f"cor[{label}]"] = (pair, chol @ np.swapaxes(chol, -1, -2))
        elif name == "cutpoints_centred":  # free thresholds (a sequential family)
            centred = block
        else:  # the ordered transform, backwards
            steps = np.concatenate([block[..., :1], np.exp(block[..., 1:])], axis=-1)
            centred = np.cumsum(steps, axis=-1)
            if name.startswith("cutpoint_ends"):  # equidistant: the first and last
                out["cutpoint_ends"] = ((*sample, "cutpoint_end"), centred)
                centred = get_structure("equidistant").expand(centred, len(packed.info.spectrum))
    if r2d2:
        b = _r2d2_draws(packed, b, u, y, zs, means, splits, out, effects)
    for label, chol in chols.items():  # r = z (diag(sd) L)^T
        dims_, _ = effects[f"r[{label}]"]
        z, sd = out[f"z[{label}]"][1], out[f"sd[{label}]"][1]
        r = np.einsum("...lj,...ij->...li", z, chol) * sd[..., None, :]
        effects[f"r[{label}]"] = (dims_, r)
    out["cutpoints_centred"] = ((*sample, "cutpoint"), centred)
    out.update(effects)
    p = b.shape[-1]
    shift = b @ packed.X_mean[:p] if p else np.zeros(lead)
    if packed.info.monotonic:  # the average case's mo() steps
        steps = step_coefficients(
            out["b_mo"][1], [out[f"simplex[{m.var}]"][1] for m in packed.info.monotonic]
        )
        shift = shift + steps @ packed.X_mean[p:]
    out["cutpoints"] = ((*sample, "cutpoint"), centred + shift[..., None])
    dims = {d for dims_, _ in out.values() for d in dims_}
    coords = coords_of(packed.info)
    coords["cutpoint_end"] = [coords["cutpoint"][0], coords["cutpoint"][-1]]
    coords = {k: v for k, v in coords.items() if k in dims}
    coords |= {"chain": draws["chain"].values, "draw": draws["draw"].values}
    return xr.Dataset(out, coords=coords)


def r2d2_coordinates(log_variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R2's log odds and the shares' simplex coordinates (PyMC's) from the kernel's log
    variance ratios (..., C) (:func:`bayesresp.inference.kernel._r2d2_coordinates`)."""
    top = log_variance.max(axis=-1, keepdims=True)
    u = (top + np.log(np.exp(log_variance - top).sum(axis=-1, keepdims=True)))[..., 0]
    y = (log_variance - log_variance.mean(axis=-1, keepdims=True))[..., :-1]
    return u, y


def _softmax_draws(y: np.ndarray) -> np.ndarray:
    """PyMC's simplex transform backwards, over the last axis."""
    v = np.concatenate([y, -y.sum(axis=-1, keepdims=True)], axis=-1)
    v = v - v.max(axis=-1, keepdims=True)
    return np.exp(v) / np.exp(v).sum(axis=-1, keepdims=True)


def _level_mean(packed: Packed, label: str, b, out, effects, means) -> np.ndarray:
    """The prior mean of a centred term's level means (..., levels, 1): ``W b`` over the
    design's and the ``mo()`` steps' columns, plus the last centred outer term's means
    (in ``means``) at each level's ancestor and the effects of the non-centred terms
    between (``effects`` must hold them; all outer terms' when none is centred)."""
    groups = packed.info.groups
    g = next(i for i, grp in enumerate(groups) if grp.label == label)
    outer = [h for h in range(g) if groups[h].label in packed.centred]
    prev = outer[-1] if outer else -1
    w_off = sum(len(groups[h].levels) for h in outer)
    rows = slice(w_off, w_off + len(groups[g].levels))
    W, anc = packed.arrays["W"][rows], packed.arrays["anc"][rows]
    coef = b
    if packed.info.monotonic:  # the steps' coefficients: total x share
        simplexes = [out[f"simplex[{m.var}]"][1] for m in packed.info.monotonic]
        coef = np.concatenate([b, step_coefficients(out["b_mo"][1], simplexes)], axis=-1)
    mean = (coef @ W.T)[..., None]
    for h in range(max(prev, 0), g):
        name = groups[h].label
        value = means[name] if h == prev else effects[f"r[{name}]"][1]
        mean = mean + value[..., anc[:, h], :]
    return mean


def _r2d2_draws(packed: Packed, b_w, u, y, zs, means, splits, out, effects):
    """Under the r2d2 prior: R2, the shares, and the coefficients, group sds and effects
    they give (the PyMC graph's deterministics, :func:`bayesresp.model.graph.build_model`),
    into ``out`` and ``effects``; returns the coefficients. A centred term (its level
    means in ``means``) stores the non-centred form's ``z`` and effects."""
    a = packed.arrays
    sample = ("chain", "draw")
    s2, C = a["rpar"][3], int(a["rpar"][4])
    R2 = 1.0 / (1.0 + np.exp(-u))
    out["R2"] = (sample, R2)
    if C > 1:
        shares = _softmax_draws(y)
        out["shares"] = ((*sample, "component"), shares)
    else:
        shares = np.ones((*u.shape, 1))
    scale = np.sqrt(shares * (s2 * np.exp(u))[..., None])
    p = b_w.shape[-1]
    comp = a["rcomp"]
    # non-centred coefficients (rnc = 1) are standardised: times their scale
    whitened = b_w * (1.0 + a["rnc"] * (scale[..., comp[:p]] - 1.0))
    b = whitened @ a["T"].T
    if p:
        out["b"] = ((*sample, "coef"), b)
    if "b_mo_w" in out:  # the same rule for the mo() totals
        mopar = a["mopar"]
        s_mo = scale[..., mopar[:, 7].astype(np.int64)] * mopar[:, 5]
        b_mo = out["b_mo_w"][1] * (1.0 + mopar[:, 6] * (s_mo - 1.0))
        out["b_mo"] = ((*sample, "mo_term"), b_mo)
    pos = 0
    for g in packed.info.groups:
        q = len(g.columns)
        sd = scale[..., comp[p + pos : p + pos + q]] * a["rscale"][pos : pos + q]
        pos += q
        if q > 1:  # the term's share split over its columns
            split = _softmax_draws(splits[g.label])
            out[f"shares[{g.label}]"] = ((*sample, f"{g.label}_term"), split)
            sd = sd * np.sqrt(split)
        out[f"sd[{g.label}]"] = ((*sample, f"{g.label}_term"), sd)
        level_dims = (*sample, f"{g.label}_level", f"{g.label}_term")
        if g.label in means:  # centred: the outer terms came first
            r = means[g.label] - _level_mean(packed, g.label, b, out, effects, means)
            out[f"z[{g.label}]"] = (level_dims, r / sd[..., None, :])
        else:
            r = zs[g.label] * sd[..., None, :]
        effects[f"r[{g.label}]"] = (level_dims, r)
    return b


def _check_codes(y, K: int, n: int) -> None:
    """The kernel indexes arrays with the codes unchecked: check them here."""
    if y.shape != (n,):
        raise ValueError(f"{y.shape[0]} outcome codes for {n} rows")
    if n and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"outcome codes must lie in 0 .. {K - 1}")
