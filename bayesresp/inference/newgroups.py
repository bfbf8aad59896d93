"""The responses of groups the model has not seen, predicted jointly, with the new
groups' effects integrated out per posterior draw (NumPy).

Cross-validation that leaves a whole mission out scores the mission's responses by
their joint predictive density under a refit without them,

``p(y_G | y_-G) = E_theta[ p(y_G | theta) ]``, with

``p(y_G | theta) = integral prod_i p(y_i | eta_i + a_i . u, theta) N(u | 0, Sigma(theta)) du``:

``u`` stacks the effects the training rows say nothing about (the new mission's
intercept and slopes, and the effects of its departments and officials that no other
mission has), ``a_i`` is row ``i``'s loading on them (its group-level columns: 1 for an
intercept, the covariate for a slope), and ``Sigma(theta)`` is block diagonal, one block
per new level with its term's covariance. Every row of the mission shares ``u``.

Drawing one ``u`` per posterior draw, as prediction for a new group does, estimates this
without bias but uselessly: a mission's rows pin its effects far more tightly than the
population of missions does, so almost every draw misses and the average rests on two or
three of them. Here, per posterior draw ``theta_s``:

1. **Laplace.** Newton's method (with step halving) finds the mode ``u_s`` of the
   integrand and its curvature ``H_s = A' W A + Sigma^-1``. The units' log-likelihoods
   enter only through their linear predictor, and their first and second derivatives in
   it are central differences, so every likelihood (either link, ranges, the coders'
   layer) goes through the same code; the proposal needs no more accuracy than that.
2. **Importance sampling** from a defensive mixture (Hesterberg 1995, "Weighted average
   importance sampling and defensive mixture distributions"): ``(1 - alpha)
   N(u_s, H_s^-1) + alpha t_4(u_s, H_s^-1)``, with a fixed share of draws from each part
   and the weights taken against the mixture (deterministic-mixture weights, unbiased).
   The normal part makes it efficient; the Student-t part bounds the weights wherever the
   integrand's tails are heavier than the normal's.

``log p(y_G | y_-G)`` is then ``log mean_{s, m} w_sm``: one importance-sampling estimate
over the joint draws ``(theta_s, u_sm)``, whose Pareto k (PSIS, Vehtari et al. 2024,
"Pareto smoothed importance sampling") says whether it can be trusted (k <= 0.7). With
nothing to integrate the weights are ``p(y_G | theta_s)`` themselves and their k says
whether the refit's draws cover the held-out rows.

A test ties the estimate to quadrature on a grid (one, two and three effects), per draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import gammaln, logsumexp

from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws, thresholds_from_draws
from bayesresp.maths.families import get_family
from bayesresp.model.design import Design

#: Importance draws per posterior draw.
IMPORTANCE = 40
#: The Student-t part of the defensive mixture: its share of the draws and its degrees of
#: freedom.
T_SHARE = 0.2
T_DF = 4.0
#: Central-difference step in the linear predictor (the log-likelihoods are smooth and of
#: order one there; the error of the second difference is ~step^2).
STEP = 1e-3
#: (draw x importance draw x unit) cells per chunk.
CELLS = 1_000_000

#: log p(codes or code | eta) of every unit, for the posterior draws ``which``:
#: ``unit_log_lik(eta of shape (T, n), which of shape (T,)) -> (T, n)``.
UnitLogLik = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Integrated:
    """A held-out group's joint predictive density and how far it can be trusted."""

    log_density: float  # log p(y_G | y_-G) = log mean_s p(y_G | theta_s)
    # Pareto k of the importance weights, each relative to its draw's mean (pooled over
    # draws): whether the integrals over the new effects are reliable (NaN: none)
    pareto_k: float
    # Pareto k of p(y_G | theta_s) over the draws: whether their mean is (the k a
    # K-fold term would have, were its weights examined)
    draws_k: float
    ess: float  # effective number of draws behind the mean (Kish)
    dims: int  # effects integrated out per draw
    per_draw: np.ndarray  # (S,) log p(y_G | theta_s)
    # (S,) the Monte Carlo standard error of each per_draw (delta method: the relative
    # weights' standard deviation over the square root of their number); 0 when exact
    per_draw_se: np.ndarray

    @property
    def mc_se(self) -> float:
        """The Monte Carlo standard error of ``log_density`` from the integrals alone
        (given the posterior draws): the per-draw errors, weighted by each draw's share
        of the mean."""
        share = np.exp(self.per_draw - logsumexp(self.per_draw))
        return float(np.sqrt(np.sum((share * self.per_draw_se) ** 2)))


def row_units(design: Design, draws: PosteriorArrays, link: str) -> tuple[Design, UnitLogLik]:
    """The rows of ``design`` as units: ``log P(y_i | eta_i, draw)``, a range's
    ``P(low <= y <= high)``."""

    family, cut = get_family(link), thresholds_from_draws(draws, design)

    def unit_log_lik(eta: np.ndarray, which: np.ndarray) -> np.ndarray:
        return family.log_prob(design.y, eta, cut[which], y_high=design.y_high)

    return design, unit_log_lik


def held_out_units(
    design: Design, draws: PosteriorArrays, posterior, link: str
) -> tuple[Design, UnitLogLik]:
    """The units whose joint density is scored: the rows, or under the coders' layer
    the responses (all their codes)."""
    if design.coders is not None:
        from bayesresp.inference.coders import response_units

        return response_units(design, draws, posterior, link)
    return row_units(design, draws, link)


def new_levels(train: Design, test: Design) -> dict[str, np.ndarray]:
    """Per group term, the levels the rows of ``test`` have and those of ``train`` lack
    (both designs under one recipe): the effects a refit on ``train`` knows only from
    the population of groups."""
    out = {}
    for label, idx in test.group_index.items():
        there = np.unique(idx[idx >= 0])
        fresh = np.setdiff1d(there, np.unique(train.group_index[label]))
        if fresh.size:
            out[label] = fresh
    return out


def loadings(design: Design, new: dict[str, np.ndarray]) -> tuple[np.ndarray, list[tuple]]:
    """Each unit's loading on the stacked new effects, ``A`` of shape (n, d), and the
    blocks of ``u``: ``(term, level, start, q)`` per new level."""
    blocks, d = [], 0
    for g in design.info.groups:
        q = len(g.columns)
        for level in new.get(g.label, ()):
            blocks.append((g.label, int(level), d, q))
            d += q
    A = np.zeros((design.n, d))
    for label, level, start, q in blocks:
        rows = design.group_index[label] == level
        A[rows, start : start + q] = design.group_Z[label][rows]
    return A, blocks


def _prior(draws: PosteriorArrays, blocks: list[tuple], d: int) -> tuple[np.ndarray, np.ndarray]:
    """The new effects' prior precision (S, d, d) and log normalising constant (S,)."""
    S = draws.n_draws
    P = np.zeros((S, d, d))
    const = np.zeros(S)
    for label, _, start, q in blocks:
        sd, cor = draws.sd[label], draws.cor[label]
        cov = cor * sd[:, :, None] * sd[:, None, :]
        # a floor far below any sd that matters, so that an sd of exactly zero (its
        # effects pinned at zero) still inverts
        cov = cov + 1e-18 * np.eye(q)
        P[:, start : start + q, start : start + q] = np.linalg.inv(cov)
        const -= 0.5 * (q * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1])
    return P, const


def _quadratic(P: np.ndarray, u: np.ndarray) -> np.ndarray:
    """u' P u per draw; ``u`` of shape (S, d) or (S, M, d)."""
    if u.ndim == 2:
        return np.einsum("si,sij,sj->s", u, P, u)
    return np.einsum("smi,sij,smj->sm", u, P, u)


def _mode(
    eta0: np.ndarray, A: np.ndarray, P: np.ndarray, unit_log_lik: UnitLogLik
) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method per draw: the mode of log p(y | eta0 + A u) - u'Pu/2 and the
    negative Hessian there, ``A' W A + P`` (``W``: minus the units' second derivatives,
    floored at a small positive value so that ``H`` stays positive definite)."""
    S, d = eta0.shape[0], A.shape[1]
    which = np.arange(S)

    def objective(u):
        ll = unit_log_lik(eta0 + u @ A.T, which).sum(-1)
        return ll - 0.5 * _quadratic(P, u)

    def curvature(u):
        eta = eta0 + u @ A.T
        f0 = unit_log_lik(eta, which)
        up, down = unit_log_lik(eta + STEP, which), unit_log_lik(eta - STEP, which)
        g1 = (up - down) / (2 * STEP)
        w = np.maximum(-(up - 2 * f0 + down) / STEP**2, 1e-8)
        grad = g1 @ A - np.einsum("sij,sj->si", P, u)
        H = np.matmul(A.T[None, :, :] * w[:, None, :], A) + P
        return grad, H

    u = np.zeros((S, d))
    value = objective(u)
    for _ in range(100):
        grad, H = curvature(u)
        step = np.linalg.solve(H, grad[:, :, None])[:, :, 0]
        decrement = np.einsum("si,si->s", grad, step)
        if np.all(decrement < 1e-10):
            break
        scale = np.ones(S)
        todo = np.ones(S, dtype=bool)
        for _ in range(40):  # halve the step where it does not increase the objective
            candidate = u[todo] + scale[todo, None] * step[todo]
            ll = unit_log_lik(eta0[todo] + candidate @ A.T, which[todo]).sum(-1)
            new = ll - 0.5 * _quadratic(P[todo], candidate)
            better = np.isfinite(new) & (new >= value[todo] - 1e-12)
            rows = np.flatnonzero(todo)
            u[rows[better]] = candidate[better]
            value[rows[better]] = new[better]
            scale[rows[~better]] *= 0.5
            todo[rows[better]] = False
            if not todo.any():
                break
    return u, curvature(u)[1]


def integrated_log_density(
    draws: PosteriorArrays,
    design: Design,
    unit_log_lik: UnitLogLik,
    new: dict[str, np.ndarray],
    *,
    importance: int = IMPORTANCE,
    rng: np.random.Generator | None = None,
) -> Integrated:
    """``log p(y_G | data)``: the joint predictive density of the units of ``design``
    under the posterior ``draws``, with the effects of the ``new`` levels integrated out
    per draw (module docstring).

    Parameters
    ----------
    draws : PosteriorArrays
        Posterior draws of a fit whose recipe holds every level of ``design``.
    design : Design
        The units: rows, or one row per response under the coders' layer.
    unit_log_lik : callable
        ``(eta (T, n), which (T,)) -> (T, n)``: each unit's log-likelihood at the linear
        predictor ``eta`` under posterior draw ``which``.
    new : dict of term label -> level indices
        The levels whose effects are integrated out (:func:`new_levels`); the other
        levels' effects are the draws'.
    importance : int
        Importance draws per posterior draw.
    """
    if importance < 2:
        raise ValueError(f"importance: 2 or more draws per posterior draw, not {importance}")
    rng = np.random.default_rng() if rng is None else rng
    S = draws.n_draws
    r = dict(draws.r)
    for label, levels in new.items():  # the new levels' effects enter through u only
        r[label] = r[label].copy()
        r[label][:, levels, :] = 0.0
    eta0 = eta_from_draws(replace(draws, r=r), design, "known")
    A, blocks = loadings(design, new)
    d = A.shape[1]
    if d == 0:
        lw = unit_log_lik(eta0, np.arange(S)).sum(-1)
        return _result(lw, lw, 0)
    P, const = _prior(draws, blocks, d)
    mode, H = _mode(eta0, A, P, unit_log_lik)
    L = np.linalg.cholesky(H)
    half_logdet = np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)  # log|H|^(1/2)
    # a fixed number of draws from each part, weighted against the mixture with exactly
    # those shares: unbiased (Owen and Zhou 2000)
    n_t = max(1, int(round(T_SHARE * importance)))
    share = n_t / importance
    per_draw = np.empty(S)
    lw = np.empty((S, importance))
    step = max(1, CELLS // max(importance * design.n, 1))
    for start in range(0, S, step):
        part = slice(start, min(start + step, S))
        s = part.stop - part.start
        z = rng.standard_normal((s, importance, d))
        scale = np.ones((s, importance))  # the radial scale: 1 normal, a t's otherwise
        scale[:, :n_t] = np.sqrt(T_DF / rng.chisquare(T_DF, size=(s, n_t)))
        z *= scale[:, :, None]
        r2 = np.einsum("smi,smi->sm", z, z)  # |L'(u - mode)|^2
        # u = mode + L'^-1 z: a normal (or t) draw with covariance H^-1
        Lt = np.swapaxes(L[part], 1, 2)
        offset = np.linalg.solve(Lt, np.swapaxes(z, 1, 2))  # (s, d, M)
        u = mode[part, None, :] + np.swapaxes(offset, 1, 2)  # (s, M, d)
        log_normal = -0.5 * d * np.log(2 * np.pi) + half_logdet[part, None] - 0.5 * r2
        log_t = (
            gammaln((T_DF + d) / 2)
            - gammaln(T_DF / 2)
            - 0.5 * d * np.log(T_DF * np.pi)
            + half_logdet[part, None]
            - 0.5 * (T_DF + d) * np.log1p(r2 / T_DF)
        )
        log_q = np.logaddexp(np.log1p(-share) + log_normal, np.log(share) + log_t)
        eta = eta0[part, None, :] + u @ A.T  # (s, M, n)
        which = np.repeat(np.arange(part.start, part.stop), importance)
        ll = unit_log_lik(eta.reshape(s * importance, -1), which).sum(-1).reshape(s, importance)
        log_prior = const[part, None] - 0.5 * _quadratic(P[part], u)
        lw[part] = ll + log_prior - log_q
        per_draw[part] = logsumexp(lw[part], axis=1) - np.log(importance)
    return _result(lw, per_draw, d)


def bridge_log_ratio(
    log_l1: np.ndarray,
    log_l2: np.ndarray,
    chains: tuple[int, int] = (1, 1),
    tol: float = 1e-10,
) -> tuple[float, float]:
    """``log E_1[l]`` by bridge sampling, from draws of two posteriors whose densities
    differ by the factor ``l``: ``p_2(theta) = p_1(theta) l(theta) / E_1[l]``.

    Here ``p_1`` is the refit without a held-out group, ``p_2`` the fit with it and
    ``l(theta) = p(y_G | theta)``, so ``E_1[l] = p(y_G | y_-G)``. The mean of ``l`` over
    the refit's draws alone estimates it without bias but rests on the few draws where
    ``l`` is largest, and ``1 / E_2[1 / l]`` over the fit's draws alone is the unstable
    harmonic mean; the optimal bridge (Meng and Wong 1996, "Simulating ratios of
    normalizing constants via a simple identity"; Gronau et al. 2017, "A tutorial on
    bridge sampling") uses both samples and is stable wherever the two posteriors
    overlap. With ``s_i`` each sample's share of the draws, it iterates

    ``r = mean_1[l / (s_2 l + s_1 r)] / mean_2[1 / (s_2 l + s_1 r)]``

    (in logarithms) to its fixed point.

    Returns ``log r`` and its approximate relative standard error (Fruhwirth-Schnatter
    2004), with each sample's variance term divided by its effective sample size (the
    draws are ``chains`` chains each, in order) rather than its number of draws.
    """
    n1, n2 = log_l1.size, log_l2.size
    log_s1, log_s2 = np.log(n1 / (n1 + n2)), np.log(n2 / (n1 + n2))
    m = float(logsumexp(log_l1) - np.log(n1))  # start from the one-sample mean
    for _ in range(1000):
        top = -np.logaddexp(log_s2, log_s1 + m - log_l1)  # log f1
        bottom = -np.logaddexp(log_s2 + log_l2, log_s1 + m)  # log f2 (times r)
        new = float(logsumexp(top) - np.log(n1) - logsumexp(bottom) + np.log(n2))
        done = abs(new - m) < tol
        m = new
        if done:
            break
    f1 = np.exp(-np.logaddexp(log_s2, log_s1 + m - log_l1))
    f2 = np.exp(-np.logaddexp(log_s2 + log_l2 - m, log_s1))
    re2 = f1.var() / (_ess(f1, chains[0]) * f1.mean() ** 2) + f2.var() / (
        _ess(f2, chains[1]) * f2.mean() ** 2
    )
    return m, float(np.sqrt(re2))


def _ess(values: np.ndarray, chains: int) -> float:
    """Effective sample size of the mean of ``values`` (``chains`` chains in order);
    their number where it cannot be estimated (constant values, too few draws)."""
    from arviz_stats.base import array_stats

    if values.size < 8 * chains or np.ptp(values) == 0:
        return float(values.size)
    ess = float(array_stats.ess(values.reshape(chains, -1), method="mean"))
    return ess if np.isfinite(ess) and ess > 0 else float(values.size)


def _khat(lw: np.ndarray) -> float:
    """PSIS's Pareto k of log weights (ArviZ's ``psislw`` takes the log-likelihood of
    leave-one-out, whose weights are its reciprocals: hence the minus)."""
    from arviz_stats.base import array_stats

    if not np.all(np.isfinite(lw)):
        return float("inf")
    if lw.size < 20 or np.ptp(lw) == 0:  # too few, or all equal: no tail to fit
        return float("nan")
    return float(array_stats.psislw(-(lw - lw.max()), axis=-1)[1])


def _result(lw: np.ndarray, per_draw: np.ndarray, d: int) -> Integrated:
    """The estimate and its diagnostics from the log weights (S, M) and each draw's
    estimate (S,); with nothing integrated, ``lw`` is ``per_draw``."""
    total = logsumexp(per_draw) - np.log(per_draw.size)
    relative = lw - per_draw[:, None] if d else None
    if d:  # relative weights have mean one per draw
        rel = np.exp(relative)
        se = np.sqrt(rel.var(axis=1, ddof=1) / rel.shape[1])
    else:
        se = np.zeros_like(per_draw)
    return Integrated(
        log_density=float(total),
        pareto_k=_khat(relative.ravel()) if d else float("nan"),
        draws_k=_khat(per_draw),
        ess=float(np.exp(2 * logsumexp(per_draw) - logsumexp(2 * per_draw))),
        dims=d,
        per_draw=per_draw,
        per_draw_se=se,
    )
