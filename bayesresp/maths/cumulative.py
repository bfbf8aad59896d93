"""Cumulative-link maths, written once for NumPy and PyTensor.

The model: ``P(y <= k) = F(c_k - eta)`` with ordered cutpoints ``c_1 < ... < c_{K-1}``
and ``F`` the link's distribution function (:mod:`bayesresp.maths.links`: logistic,
standard normal, minimum Gumbel or Cauchy). A positive ``eta`` moves mass towards the top
of the spectrum (the sign convention of R's ``ordinal::clmm`` and ``brms``).

The log-probability of the observed category, ``log(F(b) - F(a))`` with
``a = c_{y-1} - eta`` and ``b = c_y - eta``, is for the logit link a sum of two
log-sigmoids and a cutpoint-gap term (see :func:`log_prob`); for the other links it is
evaluated as ``log F(b) + log1mexp(log F(a) - log F(b))`` below zero and through the
survival function above (:func:`log_prob_interval`), so that neither term loses precision
in either tail. The outer categories use padded
cutpoints at ``-PAD`` and ``+PAD``, which keeps the graph free of infinities (and its
gradient free of NaN); at ``|eta| <= 50`` the padding changes a probability by less than
``exp(-150)`` of itself or less. PAD is 200, not larger: ``exp(PAD + |eta|)`` then stays
finite, so every branch of a guarded expression is finite too, which JAX's gradients
need (JAX differentiates both branches of a switch). The cauchit link's Cauchy
residual has heavy tails (1/(pi x) of its mass lies beyond x): it pads at 1e100 instead
(:attr:`bayesresp.maths.links.Link.pad`), where its formulas stay finite.

The same functions serve the PyMC model (``xp=TENSOR``) and predictions from posterior
draws (``xp=NUMPY``); a test checks they agree.
"""

from __future__ import annotations

import numpy as np

from bayesresp.maths.links import LINKS, Link, get_link
from bayesresp.maths.ops import NUMPY, PAD, TENSOR

__all__ = ["LINKS", "NUMPY", "PAD", "TENSOR"]


def log_prob_interval(a, b, link: str | Link = "logit", xp=NUMPY):
    """``log(F(b) - F(a))`` for ``a < b``, stable in both tails.

    Below zero (``a + b <= 0``) it is ``log F(b) + log1mexp(log F(a) - log F(b))``, above
    ``log S(a) + log1mexp(log S(b) - log S(a))`` with ``S = 1 - F``: each subtracts two
    numbers that are not both near one. A symmetric link (``S(x) = F(-x)``) reflects the
    interval instead and evaluates ``F`` once.
    """
    link = get_link(link)
    flip = (a + b) > 0
    if link.symmetric:
        lo = xp.where(flip, -b, a)
        hi = xp.where(flip, -a, b)
        log_hi = link.log_cdf(hi, xp)
        return log_hi + xp.log1mexp(link.log_cdf(lo, xp) - log_hi)
    # Each form sees a harmless interval, (-1, 0) or (0, 1), where it is not chosen: the
    # other form's arguments would make log1mexp(0) = -inf, whose zero-weighted gradient
    # is NaN.
    a_lo, b_lo = xp.where(flip, -1.0, a), xp.where(flip, 0.0, b)
    a_hi, b_hi = xp.where(flip, a, 0.0), xp.where(flip, b, 1.0)
    log_fb = link.log_cdf(b_lo, xp)
    below = log_fb + xp.log1mexp(xp.minimum(link.log_cdf(a_lo, xp) - log_fb, 0.0))
    log_sa = link.log_sf(a_hi, xp)
    above = log_sa + xp.log1mexp(xp.minimum(link.log_sf(b_hi, xp) - log_sa, 0.0))
    return xp.where(flip, above, below)


def log_prob(y, eta, cutpoints, link: str | Link = "logit", xp=NUMPY, y_high=None):
    """Log-probability of observed categories ``y`` (0-based codes), or of the ranges
    ``y .. y_high`` (inclusive) where ``y_high`` is given: ``P(y <= Y <= y_high)``, the
    likelihood of an ambiguous code. An exact row has ``y_high == y``.

    For the logit link, with ``a = c_{y-1} - eta`` and ``b = c_y - eta``, the identity
    ``F(b) - F(a) = F(b) F(-a) (1 - exp(a - b))`` gives

    ``log P = log F(b) + log F(-a) + log(1 - exp(-(c_y - c_{y-1})))``:

    two log-sigmoids, each accurate in both tails, and a term that depends on the
    cutpoints only (computed once per category, not per row). No difference of
    probabilities is ever formed, so nothing cancels; the gradient in ``eta`` is
    ``F(a) - F(-b)``, cheap. The PyTensor form (the model's) merges the two
    log-sigmoids into one ``log1p`` (:func:`_log1p_both_tails`); the NumPy form keeps
    them apart, so the two are independent computations that a test compares. The
    other links use :func:`log_prob_interval`.

    Parameters
    ----------
    y : int array, shape (n,)
        Observed category codes, ``0 .. K-1`` (a range's lowest level).
    eta : array, shape (..., n)
        Linear predictor.
    cutpoints : array, shape (K-1,) for ``xp=TENSOR``; (..., K-1) for NumPy
        Ordered cutpoints.
    y_high : int array, shape (n,), optional
        Each range's highest level (``y_high >= y``); ``None``: every row exact.

    Examples
    --------
    >>> import numpy as np
    >>> float(np.exp(log_prob(np.array([0]), np.array([0.0]), np.array([0.0]))[0]))
    0.5
    """
    link = get_link(link)
    padded = xp.concat_pad(cutpoints, link.pad)
    if xp is NUMPY:
        eta, y = np.asarray(eta, dtype=float), np.asarray(y)
        y_high = None if y_high is None else np.asarray(y_high)
    top = y if y_high is None else y_high
    upper, lower = padded[..., top + 1], padded[..., y]
    if link.name != "logit":
        return log_prob_interval(lower - eta, upper - eta, link, xp)
    if y_high is None:
        # (..., K), one per category; a level squeezed to nothing (a cutpoint beyond the
        # padding, far outside any sensible posterior) has probability 0: -inf, not NaN.
        gap = xp.log1mexp(xp.minimum(padded[..., :-1] - padded[..., 1:], 0.0))
        gap_y = gap[y] if xp is TENSOR else gap[..., y]
    else:  # per row: the gap spans the range's levels
        gap_y = xp.log1mexp(xp.minimum(lower - upper, 0.0))
    if xp is TENSOR:
        return gap_y - _log1p_both_tails(padded, y, eta, top)
    return link.log_cdf(upper - eta, xp) + link.log_cdf(eta - lower, xp) + gap_y


def _log1p_both_tails(padded, y, eta, top):
    """``-log F(b) - log F(-a)`` for the logit link in PyTensor, with one ``exp`` and one
    ``log1p`` per row: the model's inner loop.

    With ``u = exp(eta)``, ``exp(-b) = u exp(-c_t)`` and ``exp(a) = exp(c_{y-1}) / u``
    (``t = top``: ``y`` for an exact row, the range's highest level otherwise), so
    ``log(1 + exp(-b)) + log(1 + exp(a)) = log1p(u A_t + B_y / u + C)`` with per-category
    constants ``A = exp(-c_t)``, ``B = exp(c_{y-1})`` and ``C = exp(c_{y-1} - c_t) < 1``.
    Every term is positive (no cancellation), the derivative is rational in ``u``, and
    nothing overflows for ``|eta|`` below 709 - max|c|; beyond, the log density is -inf,
    which the samplers reject like a divergence.
    """
    import pytensor.tensor as pt

    upper, lower = padded[1:], padded[:-1]
    A, B = pt.exp(-upper), pt.exp(lower)
    C = pt.exp(lower - upper)[y] if top is y else pt.exp(lower[y] - upper[top])
    u = pt.exp(eta)
    return pt.log1p(u * A[top] + B[y] / u + C)


def cdf(x, link: str | Link = "logit"):
    """The link's distribution function ``F`` (NumPy)."""
    return get_link(link).cdf(x)


def category_probs(eta, cutpoints, link: str | Link = "logit"):
    """Probability of every category (NumPy).

    Parameters
    ----------
    eta : array, shape (...,)
    cutpoints : array, shape (..., K-1), broadcastable against ``eta[..., None]``

    Returns
    -------
    array, shape (..., K)
        Rows sum to one exactly up to rounding (a telescoping difference of ``F``).
    """
    eta = np.asarray(eta, dtype=float)
    cum = cdf(np.asarray(cutpoints, dtype=float) - eta[..., None], link)
    out = np.empty(cum.shape[:-1] + (cum.shape[-1] + 1,))
    out[..., 0] = cum[..., 0]
    np.subtract(cum[..., 1:], cum[..., :-1], out=out[..., 1:-1])
    np.subtract(1.0, cum[..., -1], out=out[..., -1])
    return out


def expected_position(eta, cutpoints, link: str | Link = "logit"):
    """Expected 0-based level, ``sum_k P(y >= k) = sum_k (1 - F(c_k - eta))`` (NumPy).

    Cheaper than the full probability array: K - 1 survival-function values.
    """
    eta = np.asarray(eta, dtype=float)
    return get_link(link).sf(np.asarray(cutpoints, dtype=float) - eta[..., None]).sum(axis=-1)
