"""The coders' layer (a hierarchical rater model), written once for NumPy and PyTensor.

When several coders code the same response, their codes are readings of one **true
level** ``xi`` of that response, and the cumulative model is the model of ``xi``:
``P(xi = j) = F(c_j - eta) - F(c_{j-1} - eta)``. Coder ``c`` reading a response whose
true level is ``j`` sees ``j + l_c + e``, with ``e`` logistic of sd ``s_c``, and writes
the nearest level (the end levels take everything beyond them):

``R_c[j, k] = G(k + 1/2 - j - l_c) - G(k - 1/2 - j - l_c)``,
``G(x) = 1 / (1 + exp(-x pi / (sqrt(3) s_c)))``

(a signal-detection reading, as in DeCarlo, Kim and Johnson 2011, "A hierarchical rater
model for constructed responses, with a signal detection rater model", itself a
development of the hierarchical rater model of Patz, Junker, Johnson and Mariano 2002):
``l_c`` is the coder's **leniency**, in levels (positive: the coder places responses
towards confrontation), ``s_c`` the coder's **spread**, the sd of the reading error in
levels (``1 / s_c`` is the precision; at ``s_c = 0.5`` a coder of no leniency reads an
inner level right with probability 0.72, at 0.3 with 0.91, at 0.1 with 0.9998).

Why logistic: a coder's log-probability of misreading by one level then falls as
``-1 / s_c``, not as ``-1 / s_c^2`` as under a normal reading. Where a precise coder
and another disagree, the sum over the true level switches from one explanation to the
other within a band of ``log s_c`` whose curvature grows with the square of that
exponent; under the normal reading these bands made the posterior's tail at small
spreads too sharp for the sampler's step (over six fits of double-coded data at default
settings, 58 divergences against 28 on data the normal reading made, 14 against 5 on
data the logistic one made: benchmarks/README.md, "The coders' reading kernel"). Given
the true level the codes of one response are independent, and the true level is summed
out exactly:

``p(codes of r) = sum_j P(xi_r = j) prod_{c codes r} R_c[j, code_rc]``,

one term per response, however many coders read it: double coding adds information on
the coders and on ``xi``, never a second copy of the response, and the coefficients stay
those of the true responses, not attenuated by the coders' misreadings. An ambiguous code
(a range ``lo .. hi``) reads as ``sum_{k = lo}^{hi} R_c[j, k]``.

Each function takes ``xp`` (:data:`~bayesresp.maths.ops.NUMPY` or
:data:`~bayesresp.maths.ops.TENSOR`); the NumPy form also takes leading draw dimensions.
A test ties the two, and ties both to a brute-force sum over every true level.
"""

from __future__ import annotations

import numpy as np

from bayesresp.maths.cumulative import log_prob_interval
from bayesresp.maths.families import Family, get_family
from bayesresp.maths.links import Link, get_link
from bayesresp.maths.ops import NUMPY, TENSOR

#: pi / sqrt(3): a logistic variable of scale ``s / READING_SCALE`` has sd ``s``.
READING_SCALE = float(np.pi / np.sqrt(3.0))

#: The :func:`leniency_signal` from which the coders' leniencies are sampled centred
#: (:func:`bayesresp.model.graph.leniency_centred`). benchmarks/coders_reading.py
#: (benchmarks/README.md, "The coders' reading kernel") found the non-centred form
#: better up to 2.4 and the centred one from 10; no data set fell between, so the
#: place of 3 in that gap is provisional.
LENIENCY_CENTRE_SIGNAL = 3.0


def _logsumexp(x, axis, xp):
    if xp is TENSOR:
        import pytensor.tensor as pt

        return pt.logsumexp(x, axis=axis)
    from scipy.special import logsumexp

    return logsumexp(x, axis=axis)


def log_reading(leniency, spread, levels: int, xp=NUMPY):
    """``log R_c[j, k]``: the log-probability that each coder writes level ``k`` when the
    true level is ``j``.

    Parameters
    ----------
    leniency, spread : array, shape (..., C)
        Each coder's leniency and spread (levels).
    levels : int
        K, the number of levels.

    Returns
    -------
    array, shape (..., C, K, K)
        Indexed ``[..., coder, true level, written level]``; each row sums to one.
    """
    link = get_link("logit")
    steps = np.arange(levels, dtype=float)
    # the boundary between written levels m and m + 1 less the true level j: (K, K - 1)
    bounds = (steps[None, : levels - 1] + 0.5) - steps[:, None]
    if xp is NUMPY:
        leniency, spread = np.asarray(leniency, float), np.asarray(spread, float)
    scale = READING_SCALE / spread[..., None, None]
    inner = (bounds - leniency[..., None, None]) * scale
    # the end levels' outer bounds: the link's padding beyond every inner bound
    end = link.pad + (levels + abs(leniency[..., None, None])) * scale
    edge = xp.zeros_like(inner[..., :1]) + end
    padded = xp.concatenate([-edge, inner, edge], axis=-1)
    return log_prob_interval(padded[..., :-1], padded[..., 1:], link, xp)


def log_codes(log_r, coder, low, high=None, xp=NUMPY):
    """``log P(code | xi = j)`` of every code, for every true level ``j``.

    Parameters
    ----------
    log_r : array, shape (..., C, K, K)
        :func:`log_reading`.
    coder : int array, shape (m,)
        The coder of each code (an index into C).
    low, high : int array, shape (m,)
        The code (0-based level), or a range's lowest and highest level; ``high`` None:
        every code exact. Exact codes are read off ``log_r``; only the ranges sum over
        their levels.

    Returns
    -------
    array, shape (..., m, K)
    """
    if xp is NUMPY:
        log_r = np.asarray(log_r, float)
    coder, low = np.asarray(coder), np.asarray(low)
    picked = log_r[..., coder, :, low]  # advanced indices apart: (m, ..., K)
    exact = picked if xp is TENSOR else np.moveaxis(picked, 0, -2)
    if high is None:
        return exact
    high = np.asarray(high)
    ranged = np.flatnonzero(high > low)
    if ranged.size == 0:
        return exact
    levels = log_r.shape[-1] if xp is NUMPY else log_r.type.shape[-1]  # static: K
    k = np.arange(levels)
    inside = (k >= low[ranged, None]) & (k <= high[ranged, None])
    outside = np.where(inside, 0.0, -np.inf)
    # (..., r, K true, K written) plus the mask of the written levels inside each range
    summed = _logsumexp(log_r[..., coder[ranged], :, :] + outside[:, None, :], -1, xp)
    if xp is TENSOR:
        import pytensor.tensor as pt

        return pt.set_subtensor(exact[ranged], summed)
    out = exact.copy()
    out[..., ranged, :] = summed
    return out


def log_levels(eta, cutpoints, family: str | Link | Family, levels: int, xp=NUMPY):
    """``log P(xi = j | eta)`` for every level ``j``: shape (..., n, K), the family's
    (:meth:`bayesresp.maths.families.Family.log_probs`; a link's name: the cumulative
    family, all levels in one vectorised interval stable in both tails)."""
    return get_family(family).log_probs(eta, cutpoints, xp)


def codes_by_response(code_lp, response, n_responses: int, xp=NUMPY):
    """``sum_{c codes r} log P(code_rc | xi_r = j)`` per response and true level ``j``.

    Parameters
    ----------
    code_lp : array, shape (..., m, K)
        :func:`log_codes` of every code.
    response : int array, shape (m,)
        The response each code reads (an index into the responses).

    Returns
    -------
    array, shape (..., n_responses, K)
    """
    if xp is TENSOR:
        import pytensor.tensor as pt

        summed = pt.zeros((n_responses, code_lp.shape[-1]))  # no draw dimension here
        return pt.inc_subtensor(summed[response], code_lp)
    code_lp = np.asarray(code_lp, float)
    lead = code_lp.shape[:-2]
    summed = np.zeros((*lead, n_responses, code_lp.shape[-1]))
    moved = np.moveaxis(summed, -2, 0)  # a view: (n_responses, ..., K)
    np.add.at(moved, np.asarray(response), np.moveaxis(code_lp, -2, 0))
    return summed


def response_log_lik(level_lp, code_lp, response, n_responses: int, xp=NUMPY):
    """``log sum_j P(xi_r = j) prod_c P(code_rc | xi_r = j)`` per response.

    Parameters
    ----------
    level_lp : array, shape (..., n_responses, K)
        :func:`log_levels` at each response's linear predictor.
    code_lp : array, shape (..., m, K)
        :func:`log_codes` of every code.
    response : int array, shape (m,)
        The response each code reads (an index into the responses).

    Returns
    -------
    array, shape (..., n_responses)
    """
    summed = codes_by_response(code_lp, response, n_responses, xp)
    return _logsumexp(level_lp + summed, -1, xp)


def leniency_signal(coder, response, low, high, n_coders: int) -> float:
    """How far the data alone set the coders' leniencies apart, against the noise of
    that reading: the hierarchical-centring measure of the coders' layer
    (:data:`LENIENCY_CENTRE_SIGNAL`).

    The exact codes of the responses coded twice or more read ``code = mu_r + l_c +
    noise``, one ``mu_r`` per response: least squares within responses (each response's
    codes less their mean) gives zero-sum leniencies ``l^`` with covariance
    ``sigma^2 L+``, where ``L = sum_r (diag(n_r) - n_r n_r' / m_r)`` (``n_r`` the codes of
    each coder in response r, ``m_r`` their number: for two codes, half the Laplacian of
    the pair) and ``sigma^2`` the residual variance on ``sum_r (m_r - 1) - (C - 1)``
    degrees of freedom. The signal is ``(sum l^2 - tr cov) / tr cov``: the leniencies'
    spread beyond what noise alone gives, in units of that noise (the expectation of
    ``sum l^2`` is the truth's plus ``tr cov``); for two coders, the paired t statistic
    squared less one.

    0 where the codes cannot say: no residual degrees of freedom, or a coder who shares
    no response with the others (or coders in two camps no response links), whose
    leniency the codes barely inform and the centred form would funnel on. ``inf``
    where the codes fit the leniencies exactly and they differ.

    Parameters
    ----------
    coder, response : int arrays, shape (m,)
        Each code's coder (an index into the coders) and response.
    low, high : int arrays, shape (m,)
        Each code, or a range's ends (``high > low``: a range, left out); ``high`` None:
        every code exact.
    """
    coder, response = np.asarray(coder), np.asarray(response)
    code = np.asarray(low, dtype=float)
    keep = np.arange(code.size) if high is None else np.flatnonzero(code == np.asarray(high))
    _, r, m = np.unique(response[keep], return_inverse=True, return_counts=True)
    shared = m[r] >= 2  # codes of responses with two exact codes or more
    keep, r = keep[shared], r[shared]
    df = int(np.sum(m[m >= 2] - 1)) - (n_coders - 1)
    if df <= 0:
        return 0.0
    c, y = coder[keep], code[keep]
    size = np.bincount(r).clip(1)  # codes per response (0 for those left out)

    def less_response_mean(v):
        return v - (np.bincount(r, weights=v) / size)[r]

    centred = less_response_mean(y)
    # L = sum_r diag(n_r) - n_r n_r' / m_r, from the codes' coder counts per response
    counts = np.zeros((size.size, n_coders))
    np.add.at(counts, (r, c), 1.0)
    lap = np.diag(counts.sum(axis=0)) - (counts / size[:, None]).T @ counts
    if np.linalg.matrix_rank(lap, hermitian=True) < n_coders - 1:
        return 0.0
    ones = np.full((n_coders, n_coders), 1.0 / n_coders)
    pinv = np.linalg.inv(lap + ones) - ones  # L+ of a connected L (null space: 1)
    rhs = np.bincount(c, weights=centred, minlength=n_coders)
    est = pinv @ rhs
    resid = centred - less_response_mean(est[c])
    sigma2 = float(resid @ resid) / df
    noise = sigma2 * float(np.trace(pinv))
    if noise <= 0.0:
        return float("inf") if np.any(np.abs(est) > 1e-12) else 0.0
    return max(float(est @ est) - noise, 0.0) / noise
