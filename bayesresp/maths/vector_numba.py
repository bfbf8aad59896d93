"""Branch-free elementary functions for the loops over rows, which LLVM vectorises.

Numba calls libm's ``exp``, ``log`` and ``erfc`` one value at a time (without Intel's SVML
no vector versions exist), which keeps a loop that calls them scalar. The functions here
are arithmetic and selects only, so a loop over rows that inlines them runs four or eight
rows at a time: ``vexp``, ``vlog``, ``vlog1p`` and ``erfcx`` (the scaled complementary
error function on the half line, for the probit link's interval,
:func:`bayesresp.maths.links_numba.probit_interval`). Their NumPy twins are NumPy's and
SciPy's own functions; ``tests/maths/test_vector_numba.py`` holds ``vexp``, ``vlog`` and
``vlog1p`` within 2 ulp of those and within 3e-16 of 50-digit values, ``erfcx`` within
6e-16 of 50-digit values (5 ulp near 0, 3 above 0.3) and 1.5e-15 of SciPy's, and all
exact at the edges (overflow, underflow, nan, inf).

Numba compiles a callee with its caller's fast-math flags unless the callee sets its own,
and reassociation could undo their rounding steps: so these allow contraction into fused
multiply-adds only (which rounds less, never more), and the other scalar helpers the
row loops call set fastmath=False (but the probit's intervals, which Numba inlines into
the loops: their bodies take the loops' flags, and are tested so compiled). Only modules
that compile Numba code import this one (it loads Numba); the kernel's cache guard
hashes it (:mod:`bayesresp.inference.kernel_cache`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

EXACT_FMA = {"contract"}
_SQRT2 = math.sqrt(2.0)


@intrinsic
def _as_int(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _as_float(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts: the first times any k is exact
_LN2_LO = 1.90821492927058770002e-10
_EXP_MAX = 709.8  # above: inf (exp(709.79) is the largest finite double)
_EXP_MIN = -745.2  # below: 0
# Taylor coefficients 1/n!, n = 2 .. 13: on |r| <= ln(2)/2 the first term left out,
# r^14/14!, is below 1.3e-17 relative.
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = (
    1.0 / math.factorial(k) for k in range(2, 14)
)


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def vexp(x):
    """exp(x) as 2^k exp(r), with r = x - k ln 2 (|r| <= ln(2)/2, exact in two steps) and
    exp(r) by Horner's rule; 2^k is built in the exponent bits, in two halves so that
    subnormal results come out."""
    xc = min(max(x, _EXP_MIN), _EXP_MAX)
    kf = np.float64(math.floor(xc * _LOG2E + 0.5))
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    q = _E13
    q = q * r + _E12
    q = q * r + _E11
    q = q * r + _E10
    q = q * r + _E9
    q = q * r + _E8
    q = q * r + _E7
    q = q * r + _E6
    q = q * r + _E5
    q = q * r + _E4
    q = q * r + _E3
    q = q * r + _E2
    q = q * r + 1.0
    q = q * r + 1.0
    k = np.int64(kf)
    half = k >> 1
    out = (q * _as_float((half + 1023) << 52)) * _as_float((k - half + 1023) << 52)
    if x > _EXP_MAX:
        out = math.inf
    if x != x:
        out = x
    return out


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def _log_core(m, c, shift):
    """log(m 2^-shift) + c for a positive normal m: from m's exponent e and mantissa f in
    [sqrt(1/2), sqrt(2)) as e ln 2 + 2 atanh((f - 1) / (f + 1)) (series to t^23,
    |t| <= 0.172: remainder below 1e-19 relative), with c, a small correction, added
    before the large part."""
    bits = _as_int(m)
    e = ((bits >> 52) & 0x7FF) - 1023 - shift
    f = _as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    if f > _SQRT2:
        f = 0.5 * f
        e = e + 1
    t = (f - 1.0) / (f + 1.0)
    t2 = t * t
    q = 1.0 / 23.0
    q = q * t2 + 1.0 / 21.0
    q = q * t2 + 1.0 / 19.0
    q = q * t2 + 1.0 / 17.0
    q = q * t2 + 1.0 / 15.0
    q = q * t2 + 1.0 / 13.0
    q = q * t2 + 1.0 / 11.0
    q = q * t2 + 1.0 / 9.0
    q = q * t2 + 1.0 / 7.0
    q = q * t2 + 1.0 / 5.0
    q = q * t2 + 1.0 / 3.0
    ef = np.float64(e)
    return ef * _LN2_HI + ((2.0 * t + 2.0 * t * t2 * q) + (c + ef * _LN2_LO))


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def vlog1p(s):
    """log(1 + s) for s > -1: log(m) of m = 1 + s rounded (:func:`_log_core`) plus the
    rounding of 1 + s, (s - (m - 1)) / m (m - 1 is exact), which keeps tiny s exact.
    inf at inf, nan at nan; s <= -1 is not checked (the logit's row loop, whose s >= 0,
    would pay for the check)."""
    m = 1.0 + s
    c = (s - (m - 1.0)) / m
    out = _log_core(m, c, 0)
    if m == math.inf:
        out = m
    if s != s:
        out = s
    return out


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def vlog(x):
    """log(x) for x >= 0 (:func:`_log_core`); a subnormal x is scaled by 2^54 first.
    -inf at 0, nan below 0 and at nan, inf at inf."""
    small = x < 2.2250738585072014e-308
    m = x * 18014398509481984.0 if small else x
    out = _log_core(m, 0.0, 54 if small else 0)
    if x == 0.0:
        out = -math.inf
    if x < 0.0:
        out = math.nan
    if x == math.inf:
        out = x
    if x != x:
        out = x
    return out


# erfcx(z) = exp(z^2) erfc(z) on z >= 0 as g(Z) / (1 + 2 z), with Z = (z - 4) / (z + 4)
# mapping the half line onto [-1, 1) and g a Chebyshev series in Z of degree 24. g tends to
# 2/sqrt(pi) as z grows (erfcx(z) ~ 1/(sqrt(pi) z)), so the series converges at both ends.
# Its coefficients were computed here by Chebyshev interpolation at 400 nodes in 40-digit
# arithmetic (tests/maths/test_vector_numba.py recomputes them); the first one left out
# is below 6e-18, and the evaluated series is within 6e-16 of 40-digit values of erfcx
# (5 ulp near 0, where its terms alternate; 3 ulp above 0.3).
_ERFCX_L = 4.0
_ERFCX_T = (
    1.1774832005374487,
    -0.007260796620301901,
    -0.081265123236185,
    0.06009212804122225,
    -0.02875393558027666,
    0.01059566336347286,
    -0.003136927294554264,
    0.0007456494372536184,
    -0.0001369696503010054,
    1.7183861600300937e-05,
    -7.158364623450346e-07,
    -2.4261399442449534e-07,
    5.5765709395703566e-08,
    -2.1057869513809494e-09,
    -1.1717889351884957e-09,
    1.9098355172456688e-10,
    1.408871764208813e-11,
    -6.901108320480815e-12,
    9.167958364111294e-14,
    2.1454508286554553e-13,
    -1.4716575027010623e-14,
    -6.668675118770408e-15,
    7.504598509880083e-16,
    2.2200930066663205e-16,
    -3.1704898956330855e-17,
)
# One name each, so that the recurrence below is written out (Numba would index a tuple at
# run time in a loop, which LLVM then neither unrolls nor vectorises).
(_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12) = _ERFCX_T[:13]
(_C13, _C14, _C15, _C16, _C17, _C18, _C19, _C20, _C21, _C22, _C23, _C24) = _ERFCX_T[13:]


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def erfcx(z):
    """exp(z^2) erfc(z) for z >= 0, by the Chebyshev series above (Clenshaw's
    recurrence); 0 at inf, nan below 0 and at nan."""
    big = z == math.inf
    zc = 0.0 if big else z
    Z = (zc - _ERFCX_L) / (zc + _ERFCX_L)
    Z2 = 2.0 * Z
    b1 = _C24
    b2 = 0.0
    b1, b2 = Z2 * b1 - b2 + _C23, b1
    b1, b2 = Z2 * b1 - b2 + _C22, b1
    b1, b2 = Z2 * b1 - b2 + _C21, b1
    b1, b2 = Z2 * b1 - b2 + _C20, b1
    b1, b2 = Z2 * b1 - b2 + _C19, b1
    b1, b2 = Z2 * b1 - b2 + _C18, b1
    b1, b2 = Z2 * b1 - b2 + _C17, b1
    b1, b2 = Z2 * b1 - b2 + _C16, b1
    b1, b2 = Z2 * b1 - b2 + _C15, b1
    b1, b2 = Z2 * b1 - b2 + _C14, b1
    b1, b2 = Z2 * b1 - b2 + _C13, b1
    b1, b2 = Z2 * b1 - b2 + _C12, b1
    b1, b2 = Z2 * b1 - b2 + _C11, b1
    b1, b2 = Z2 * b1 - b2 + _C10, b1
    b1, b2 = Z2 * b1 - b2 + _C9, b1
    b1, b2 = Z2 * b1 - b2 + _C8, b1
    b1, b2 = Z2 * b1 - b2 + _C7, b1
    b1, b2 = Z2 * b1 - b2 + _C6, b1
    b1, b2 = Z2 * b1 - b2 + _C5, b1
    b1, b2 = Z2 * b1 - b2 + _C4, b1
    b1, b2 = Z2 * b1 - b2 + _C3, b1
    b1, b2 = Z2 * b1 - b2 + _C2, b1
    b1, b2 = Z2 * b1 - b2 + _C1, b1
    out = (Z * b1 - b2 + _C0) / (1.0 + 2.0 * zc)
    if big:
        out = 0.0
    if z < 0.0 or z != z:
        out = math.nan
    return out


# erf(u) = 2 u / sqrt(pi) sum_n (-1)^n u^(2n) / (n! (2n + 1)): on |u| <= 0.36 the first
# term left out, n = 11, is below 1e-18 of the sum.
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_S = tuple((-1.0) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(11))
(_S0, _S1, _S2, _S3, _S4, _S5, _S6, _S7, _S8, _S9, _S10) = _S


@njit(cache=True, nogil=True, error_model="numpy", fastmath=EXACT_FMA)
def erf_small(u):
    """erf(u) for |u| <= 0.36 by its Taylor series (Horner's rule in u^2), where
    1 - erfc(u) would lose up to 1 - log2(u) of its bits to the subtraction."""
    v = u * u
    q = _S10
    q = q * v + _S9
    q = q * v + _S8
    q = q * v + _S7
    q = q * v + _S6
    q = q * v + _S5
    q = q * v + _S4
    q = q * v + _S3
    q = q * v + _S2
    q = q * v + _S1
    q = q * v + _S0
    return _TWO_OVER_SQRT_PI * u * q
