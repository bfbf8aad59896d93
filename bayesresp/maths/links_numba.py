"""The links' Numba twins, for the compiled kernel (:mod:`bayesresp.inference.kernel`).

Scalar functions of a link code (:data:`bayesresp.maths.links.LOGIT` ...) and ``x``:
``log_cdf``, ``log_sf``, ``log_pdf`` and its derivative, ``cdf``, and ``interval``, the
log-probability of ``a < Z <= b`` with its derivatives. They follow the NumPy/PyTensor
forms in :mod:`bayesresp.maths.links` formula for formula, except the probit's: its
``log_ndtr``'s lower tail is an asymptotic series, and its interval
(:func:`probit_interval`) a branch-free form on the scaled complementary error function
of :mod:`bayesresp.maths.vector_numba`, so that the kernel's loop over rows vectorises.
``tests/maths/test_links.py`` checks each against the NumPy form and against 50-digit
arithmetic. Only the kernel imports this module: it loads Numba.

Compiled with ``cache=True`` and without fast-math. The kernel's own cached functions
inline these; its cache guard (:func:`bayesresp.inference.kernel_cache.guard`) hashes
this file too, so an edit here recompiles the kernel instead of loading stale code.
"""

from __future__ import annotations

import math

from numba import njit

from bayesresp.maths.links import CAUCHIT, CLOGLOG, LOGIT, LOGLOG, PROBIT
from bayesresp.maths.vector_numba import erf_small, erfcx, vexp, vlog, vlog1p

LOG_2PI = math.log(2.0 * math.pi)
LOG_PI = math.log(math.pi)
SQRT2 = math.sqrt(2.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

_jit = njit(cache=True, nogil=True, error_model="numpy", fastmath=False)


@_jit
def log1mexp(x):
    """log(1 - exp(x)) for x <= 0."""
    if x > -0.6931471805599453:
        return math.log(-math.expm1(x))
    return math.log1p(-math.exp(x))


@_jit
def softplus(x):
    """log(1 + exp(x)) without overflow."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@_jit
def log_ndtr(x):
    """log Phi(x), accurate in both tails (below -30 the asymptotic series of the Mills
    ratio, whose truncation error there is below 3e-16 relative)."""
    if x < -30.0:
        x2 = 1.0 / (x * x)
        s = x2 * (-1.0 + x2 * (3.0 + x2 * (-15.0 + x2 * (105.0 + x2 * (-945.0 + x2 * 10395.0)))))
        return -0.5 * x * x - math.log(-x) - 0.5 * LOG_2PI + math.log1p(s)
    if x < -1.0:
        return math.log(0.5 * math.erfc(-x / SQRT2))
    return math.log1p(-0.5 * math.erfc(x / SQRT2))


@_jit
def symmetric(link):
    """F(-x) = 1 - F(x): the interval may be reflected (as in links.Link.symmetric). A
    link not listed here is not symmetric."""
    return link == LOGIT or link == PROBIT or link == CAUCHIT  # noqa: SIM109  (Numba)


@_jit
def log_cdf(link, x):
    """log F(x); NaN for an unknown link code."""
    if link == LOGIT:
        return -softplus(-x)
    if link == PROBIT:
        return log_ndtr(x)
    if link == CLOGLOG:
        return log1mexp(-math.exp(x))
    if link == CAUCHIT:
        return math.log(math.atan2(1.0, -x)) - LOG_PI
    if link == LOGLOG:  # the reflected cloglog: log S_cloglog(-x)
        return -math.exp(-x)
    return math.nan


@_jit
def log_sf(link, x):
    """log(1 - F(x))."""
    if link == CLOGLOG:
        return -math.exp(x)
    if link == LOGLOG:
        return log1mexp(-math.exp(-x))
    if symmetric(link):
        return log_cdf(link, -x)
    return math.nan


@_jit
def log_pdf(link, x):
    """log f(x), the latent residual's log density."""
    if link == LOGIT:
        return -softplus(-x) - softplus(x)
    if link == PROBIT:
        return -0.5 * x * x - 0.5 * LOG_2PI
    if link == CLOGLOG:
        return x - math.exp(x)
    if link == CAUCHIT:
        return -LOG_PI - math.log1p(x * x)
    if link == LOGLOG:
        return -x - math.exp(-x)
    return math.nan


@_jit
def dlog_pdf(link, x):
    """d log f(x) / dx."""
    if link == LOGIT:
        return 1.0 - 2.0 / (1.0 + math.exp(-x))
    if link == PROBIT:
        return -x
    if link == CLOGLOG:
        return 1.0 - math.exp(x)
    if link == CAUCHIT:
        return -2.0 * x / (1.0 + x * x)
    if link == LOGLOG:
        return math.exp(-x) - 1.0
    return math.nan


@_jit
def cdf(link, x):
    """F(x)."""
    if link == LOGIT:
        return 1.0 / (1.0 + math.exp(-x))
    if link == PROBIT:
        return 0.5 * math.erfc(-x / SQRT2)
    if link == CLOGLOG:
        return -math.expm1(-math.exp(x))
    if link == CAUCHIT:
        return math.atan2(1.0, -x) / math.pi
    if link == LOGLOG:
        return math.exp(-math.exp(-x))
    return math.nan


@_jit
def interval(link, a, b):
    """(log(F(b) - F(a)), d/da, d/db) for a < b (:func:`_interval`); the reflected
    cloglog (``LOGLOG``) as the cloglog's interval (-b, -a), its derivatives swapped and
    negated."""
    if link == LOGLOG:
        logp, da, db = _interval(CLOGLOG, -b, -a)
        return logp, -db, -da
    if link == PROBIT:
        return probit_interval(a, b)
    return _interval(link, a, b)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=False, inline="always")
def probit_interval_wide(a, b):
    """(log(Phi(b) - Phi(a)), d/da, d/db) for a < b, in arithmetic and selects only, so
    that a loop over rows calling it vectorises (:mod:`bayesresp.maths.vector_numba`).

    The interval is reflected to (lo, hi) with lo + hi <= 0, so lo < 0 and |lo| >= |hi|.
    With E(x) = exp(-x^2/2) and Q(x) = erfcx(|x| / sqrt 2) / 2, Phi(-|x|) = E(x) Q(x);
    and d = E(lo) / E(hi) = exp((hi^2 - lo^2) / 2) <= 1.

    - hi <= 0: ``p = E(hi) (Q(hi) - d Q(lo))``, taken in logs (E(hi) may underflow, the
      bracket does not).
    - hi > 0: ``p = M(hi) + M(lo)``, with M(x) = Phi(|x|) - 1/2 = erf(|x| / sqrt 2) / 2,
      two positive terms: ``1/2 - E(x) Q(x)``, or below |x| = 1/2 erf's series, so that
      a narrow interval around zero keeps its precision; and where the tails beyond the
      interval, ``E(hi) (Q(hi) + d Q(lo))``, are below 1/4, log p is log1p of minus
      them, so that log p near 0 keeps its relative precision.

    The derivatives are the densities over p: ``phi(hi) / p = E(hi) / (sqrt(2 pi) p)``,
    which for hi <= 0 is ``1 / (sqrt(2 pi) (Q(hi) - d Q(lo)))``, and
    ``phi(lo) / p = d phi(hi) / p``. The first form loses precision to the subtraction of
    two close probabilities when the interval is narrow (and may round to a negative
    bracket a few hundred ulp wide): :func:`probit_interval` takes a series there. The
    kernel calls this form for its cells wider than 0.02, where that series is never
    chosen, the same values at a third less cost.

    Numba inlines this function into the kernel's row loops (``inline="always"``;
    LLVM's inliner would leave a call, which keeps the loop scalar), where its body
    compiles with the loop's reassociation and contraction; the functions it calls keep
    their own flags. ``tests/maths/test_links.py`` checks it so compiled, against
    50-digit values."""
    flip = a + b > 0.0
    lo = -b if flip else a
    hi = -a if flip else b
    upper = hi > 0.0
    h2 = 0.5 * hi * hi
    q_lo = 0.5 * erfcx(-lo / SQRT2)
    q_hi = 0.5 * erfcx(abs(hi) / SQRT2)
    d = vexp(0.5 * (hi - lo) * (hi + lo))  # exact difference: no cancellation of squares
    e_hi = vexp(-h2)
    m_lo = 0.5 * erf_small(-lo / SQRT2) if lo > -0.5 else 0.5 - d * e_hi * q_lo
    m_hi = 0.5 * erf_small(hi / SQRT2) if hi < 0.5 else 0.5 - e_hi * q_hi
    bracket = m_hi + m_lo if upper else q_hi - d * q_lo
    tails = e_hi * (q_hi + d * q_lo)  # 1 - p when upper
    logp = vlog(bracket) - h2
    if upper:
        logp = vlog1p(-tails) if tails < 0.25 else vlog(bracket)
    k = (e_hi if upper else 1.0) / (SQRT_2PI * bracket)  # phi(hi) / p
    da = -k if flip else -d * k
    db = d * k if flip else k
    return logp, da, db


@njit(cache=True, nogil=True, error_model="numpy", fastmath=False, inline="always")
def probit_interval(a, b):
    """(log(Phi(b) - Phi(a)), d/da, d/db) for a < b: :func:`probit_interval_wide`, and
    where the interval is narrow (half-width times max(|midpoint|, 1) at most 0.01) a
    series about its midpoint, which subtracts no close probabilities. Branch-free,
    inlined like it."""
    logp, da, db = probit_interval_wide(a, b)
    # A narrow interval: p = 2 h phi(m) S, with m its midpoint, h its half-width and S
    # the mean of exp(-m t - t^2 / 2) over |t| <= h, 1 + sum over k of
    # He_2k(m) h^2k / ((2k)! (2k + 1)) (Hermite polynomials); where h max(|m|, 1) <= 0.01
    # the terms after k = 3 are below 1e-19. No subtraction of close probabilities.
    m = 0.5 * (a + b)
    h = 0.5 * (b - a)
    mm, hh = m * m, h * h
    series = hh * (
        (mm - 1.0) / 6.0
        + hh
        * (((mm - 6.0) * mm + 3.0) / 120.0 + hh * (((mm - 15.0) * mm + 45.0) * mm - 15.0) / 5040.0)
    )
    if h * max(abs(m), 1.0) <= 0.01:
        logp = vlog(2.0 * h) - 0.5 * mm - LOG_SQRT_2PI + vlog1p(series)
        inv = 1.0 / (2.0 * h * (1.0 + series))
        da = -vexp(0.5 * h * (2.0 * m - h)) * inv  # phi(a) / p = exp((m^2 - a^2) / 2) / (2 h S)
        db = vexp(-0.5 * h * (2.0 * m + h)) * inv
    return logp, da, db


@_jit
def _interval(link, a, b):
    """(log(F(b) - F(a)), d/da, d/db) for a < b, stable in both tails: through F below
    zero and through 1 - F above (a symmetric link reflects the interval instead).

    The cloglog's upper tail is doubly exponential (log S(x) = -e^x): there the
    derivatives go through its hazard, ``f/S = e^x``, and ``r = S(b)/S(a)``:
    ``d/da = -e^a / (1 - r)``, ``d/db = e^b r / (1 - r)``, where the plain
    ``f(a)/p`` would subtract two numbers of size e^a."""
    if link == CLOGLOG and a + b > 0.0:
        log_sa = -math.exp(a)
        log_r = min(-math.exp(b) - log_sa, 0.0)
        tail = log1mexp(log_r)  # log(1 - r)
        return log_sa + tail, -math.exp(a - tail), math.exp(b + log_r - tail)
    if not symmetric(link):
        log_fb = log_cdf(link, b)
        logp = log_fb + log1mexp(min(log_cdf(link, a) - log_fb, 0.0))
    else:
        if a + b > 0.0:
            lo, hi = -b, -a
        else:
            lo, hi = a, b
        log_hi = log_cdf(link, hi)
        logp = log_hi + log1mexp(log_cdf(link, lo) - log_hi)
    da = -math.exp(log_pdf(link, a) - logp)
    db = math.exp(log_pdf(link, b) - logp)
    return logp, da, db
