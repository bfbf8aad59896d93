"""The coders' layer (a hierarchical rater model), written once for NumPy and PyTensor.

When several coders code the same response, their codes are readings of one **true
level** ``xi`` of that response, and the cumulative model is the model of ``xi``:
``P(xi = j) = F(c_j - eta) - F(c_{j-1} - eta)``. Coder ``c`` reading a response whose
true level is ``j`` writes level ``k`` with probability

``R_c[j, k] = exp(-(k - j - l_c)^2 / (2 s_c^2)) / sum_k' exp(-(k' - j - l_c)^2 / (2 s_c^2))``

(the discrete signal-detection reading of Patz, Junker, Johnson and Mariano 2002, "The
hierarchical rater model for rated test items"): ``l_c`` is the coder's **leniency**, in
levels (positive: the coder places responses towards confrontation), ``s_c`` the coder's
**spread**, in levels (``1 / s_c`` is the precision; at ``s_c = 0.5`` a coder reads an
inner level right with probability 0.79, at 0.3 with 0.99). Given the true level the
codes of one response are independent, and the true level is summed out exactly:

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

from bayesresp.maths.families import Family, get_family
from bayesresp.maths.links import Link
from bayesresp.maths.ops import NUMPY, TENSOR


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
    steps = np.arange(levels, dtype=float)
    offset = steps[None, :] - steps[:, None]  # (K, K): written minus true
    if xp is NUMPY:
        leniency, spread = np.asarray(leniency, float), np.asarray(spread, float)
    d = offset - leniency[..., None, None]
    score = -(d**2) / (2.0 * spread[..., None, None] ** 2)
    return score - _logsumexp(score, -1, xp)[..., None]


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
