"""Cumulative-link maths, written once for NumPy and PyTensor.

The model: ``P(y <= k) = F(c_k - eta)`` with ordered cutpoints ``c_1 < ... < c_{K-1}``
and ``F`` the logistic (``logit`` link) or standard normal (``probit``) distribution
function. A positive ``eta`` moves mass towards the top of the spectrum (the sign
convention of R's ``ordinal::clmm`` and ``brms``).

The log-probability of the observed category, ``log(F(b) - F(a))`` with
``a = c_{y-1} - eta`` and ``b = c_y - eta``, is for the logit link a sum of two
log-sigmoids and a cutpoint-gap term (see :func:`log_prob`); for the probit link it is
evaluated as
``log F(b) + log1mexp(log F(a) - log F(b))`` after reflecting ``(a, b)`` to
``(-b, -a)`` whenever the interval lies mostly above zero (``F`` is symmetric), so
that neither term loses precision in either tail. The outer categories use padded
cutpoints at ``-PAD`` and ``+PAD``, which keeps the graph free of infinities (and its
gradient free of NaN); at ``|eta| <= 50`` the padding changes a probability by less than
``exp(-150)`` of itself or less. PAD is 200, not larger: ``exp(PAD + |eta|)`` then stays
finite, so every branch of a guarded expression is finite too, which JAX's gradients
need (JAX differentiates both branches of a switch).

The same functions serve the PyMC model (``xp=TENSOR``) and predictions from posterior
draws (``xp=NUMPY``); a test checks they agree.
"""

from __future__ import annotations

import numpy as np
from scipy import special

PAD = 200.0
LINKS = ("logit", "probit")

#: Variance of the standard link distribution: the residual variance on the latent scale.
RESIDUAL_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0}


class _NumpyOps:
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)

    @staticmethod
    def log1mexp(x):
        """log(1 - exp(x)) for x <= 0, accurate near 0 and for very negative x."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))

    @staticmethod
    def log_cdf(x, link):
        if link == "logit":
            return -np.logaddexp(0.0, -x)
        return special.log_ndtr(x)

    @staticmethod
    def concat_pad(c):
        c = np.asarray(c, dtype=float)
        shape = (*c.shape[:-1], 1)
        return np.concatenate([np.full(shape, -PAD), c, np.full(shape, PAD)], axis=-1)


class _TensorOps:
    @staticmethod
    def minimum(a, b):
        import pytensor.tensor as pt

        return pt.minimum(a, b)

    @staticmethod
    def where(cond, a, b):
        import pytensor.tensor as pt

        return pt.switch(cond, a, b)

    @staticmethod
    def log1mexp(x):
        import pytensor.tensor as pt

        return pt.log1mexp(x)

    @staticmethod
    def log_cdf(x, link):
        import pytensor.tensor as pt

        if link == "logit":
            return -pt.softplus(-x)
        # log Phi(x): the scaled complementary error function in the lower tail, log1p in
        # the rest. Each branch sees a harmless argument where it is not chosen, so that
        # neither makes an infinity whose zero-weighted gradient would be NaN (JAX
        # differentiates both branches of a switch).
        lower = x < -1.0
        x_lo = pt.switch(lower, x, -1.0)
        x_hi = pt.switch(lower, 0.0, x)
        tail = pt.log(pt.erfcx(-x_lo / np.sqrt(2.0)) / 2.0) - x_lo**2 / 2.0
        body = pt.log1p(-pt.erfc(x_hi / np.sqrt(2.0)) / 2.0)
        return pt.switch(lower, tail, body)

    @staticmethod
    def concat_pad(c):
        import pytensor.tensor as pt

        return pt.concatenate([pt.as_tensor([-PAD]), c, pt.as_tensor([PAD])])


NUMPY = _NumpyOps()
TENSOR = _TensorOps()


def log_prob_interval(a, b, link: str = "logit", xp=NUMPY):
    """``log(F(b) - F(a))`` for ``a < b``, stable in both tails."""
    flip = (a + b) > 0
    lo = xp.where(flip, -b, a)
    hi = xp.where(flip, -a, b)
    log_hi = xp.log_cdf(hi, link)
    return log_hi + xp.log1mexp(xp.log_cdf(lo, link) - log_hi)


def log_prob(y, eta, cutpoints, link: str = "logit", xp=NUMPY):
    """Log-probability of observed categories ``y`` (0-based codes).

    For the logit link, with ``a = c_{y-1} - eta`` and ``b = c_y - eta``, the identity
    ``F(b) - F(a) = F(b) F(-a) (1 - exp(a - b))`` gives

    ``log P = log F(b) + log F(-a) + log(1 - exp(-(c_y - c_{y-1})))``:

    two log-sigmoids, each accurate in both tails, and a term that depends on the
    cutpoints only (computed once per category, not per row). No difference of
    probabilities is ever formed, so nothing cancels; the gradient in ``eta`` is
    ``F(a) - F(-b)``, cheap. The PyTensor form (the model's) merges the two
    log-sigmoids into one ``log1p`` (:func:`_log1p_both_tails`); the NumPy form keeps
    them apart, so the two are independent computations that a test compares. The
    probit link uses :func:`log_prob_interval`.

    Parameters
    ----------
    y : int array, shape (n,)
        Observed category codes, ``0 .. K-1``.
    eta : array, shape (..., n)
        Linear predictor.
    cutpoints : array, shape (K-1,) for ``xp=TENSOR``; (..., K-1) for NumPy
        Ordered cutpoints.

    Examples
    --------
    >>> import numpy as np
    >>> float(np.exp(log_prob(np.array([0]), np.array([0.0]), np.array([0.0]))[0]))
    0.5
    """
    padded = xp.concat_pad(cutpoints)
    if xp is NUMPY:
        eta, y = np.asarray(eta, dtype=float), np.asarray(y)
    upper, lower = padded[..., y + 1], padded[..., y]
    if link != "logit":
        return log_prob_interval(lower - eta, upper - eta, link, xp)
    # (..., K), one per category; a level squeezed to nothing (a cutpoint beyond the
    # padding, far outside any sensible posterior) has probability 0: -inf, not NaN.
    gap = xp.log1mexp(xp.minimum(padded[..., :-1] - padded[..., 1:], 0.0))
    if xp is TENSOR:
        return gap[y] - _log1p_both_tails(padded, y, eta)
    return xp.log_cdf(upper - eta, link) + xp.log_cdf(eta - lower, link) + gap[..., y]


def _log1p_both_tails(padded, y, eta):
    """``-log F(b) - log F(-a)`` for the logit link in PyTensor, with one ``exp`` and one
    ``log1p`` per row: the model's inner loop.

    With ``u = exp(eta)``, ``exp(-b) = u exp(-c_y)`` and ``exp(a) = exp(c_{y-1}) / u``, so
    ``log(1 + exp(-b)) + log(1 + exp(a)) = log1p(u A_y + B_y / u + C_y)`` with per-category
    constants ``A = exp(-c_y)``, ``B = exp(c_{y-1})`` and ``C = exp(c_{y-1} - c_y) < 1``.
    Every term is positive (no cancellation), the derivative is rational in ``u``, and
    nothing overflows for ``|eta|`` below 709 - max|c|; beyond, the log density is -inf,
    which the samplers reject like a divergence.
    """
    import pytensor.tensor as pt

    upper, lower = padded[1:], padded[:-1]
    A, B, C = pt.exp(-upper), pt.exp(lower), pt.exp(lower - upper)
    u = pt.exp(eta)
    return pt.log1p(u * A[y] + B[y] / u + C[y])


def cdf(x, link: str = "logit"):
    """The link's distribution function ``F`` (NumPy)."""
    return special.expit(x) if link == "logit" else special.ndtr(x)


def category_probs(eta, cutpoints, link: str = "logit"):
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


def expected_position(eta, cutpoints, link: str = "logit"):
    """Expected 0-based level, ``sum_k P(y >= k) = sum_k F(eta - c_k)`` (NumPy).

    Cheaper than the full probability array: K - 1 distribution-function values.
    """
    eta = np.asarray(eta, dtype=float)
    return cdf(eta[..., None] - np.asarray(cutpoints, dtype=float), link).sum(axis=-1)
