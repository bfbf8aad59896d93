"""The branch-free elementary functions of the row loops (bayesresp.maths.vector_numba)
against NumPy's and SciPy's (their twins) and against 50-digit arithmetic, evaluated as
the row loops evaluate them: inlined into a loop compiled with the kernel's reassociation
and contraction flags."""

from __future__ import annotations

import mpmath as mp
import numba
import numpy as np
from scipy import special

from bayesresp.inference import kernel
from bayesresp.maths import vector_numba


@numba.njit(fastmath=kernel._ROW_MATH)
def _in_a_row_loop(x, s, z, out):
    total = 0.0
    for i in range(x.shape[0]):
        e = vector_numba.vexp(x[i])
        v = vector_numba.vlog1p(s[i])
        g = vector_numba.vlog(s[i])
        h = vector_numba.erfcx(z[i])
        out[0, i], out[1, i], out[2, i], out[3, i] = e, v, g, h
        total += e + v + g + h
    return total


def _evaluate(x, s, z):
    out = np.empty((4, len(x)))
    _in_a_row_loop(x, s, z, out)
    return out


RNG = np.random.default_rng(3)
X = np.concatenate(
    [
        RNG.uniform(-745.0, 709.7, 200_000),
        RNG.uniform(-60.0, 60.0, 200_000),
        RNG.normal(0, 1e-9, 1000),
    ]
)
S = np.concatenate([10.0 ** RNG.uniform(-323, 308, 200_000), RNG.uniform(0.0, 3.0, 201_000)])
Z = np.concatenate([RNG.uniform(0.0, 30.0, 300_000), 10.0 ** RNG.uniform(-320, 300, 101_000)])


def test_vectorised_exp_log1p_and_log():
    """exp, log1p (on (-1, inf)) and log are within 2 ulp of NumPy's over their whole
    range (each within 1 ulp of the truth: Cody-Waite reduction and a degree-13 Taylor
    polynomial; an atanh series to t^23, with the rounding of 1 + s restored for log1p
    and subnormals scaled for log), within 3e-16 relative of 50-digit values, and exact
    at the edges: overflow to inf, gradual underflow to subnormals and 0, log(0) = -inf,
    nan and inf passed on, nan below log's domain."""
    e, v, g, _ = _evaluate(X, S, Z)
    ref_e, ref_v, ref_g = np.exp(X), np.log1p(S), np.log(S)
    # log1p below zero too (the probit interval's log of 1 - tails): down to -1 + 1e-16
    neg = -np.concatenate(
        [10.0 ** RNG.uniform(-320, -0.5, 200_000), 1.0 - 10.0 ** RNG.uniform(-16, 0, 201_000)]
    )
    v_neg = _evaluate(X, neg, Z)[1]
    assert np.all(np.abs(v_neg - np.log1p(neg)) <= 2 * np.spacing(np.abs(np.log1p(neg))))
    normal = ref_e > np.finfo(float).tiny
    assert np.all(np.abs(e - ref_e)[normal] <= 2 * np.spacing(ref_e[normal]))
    assert np.all(np.abs(e - ref_e)[~normal] <= 5e-324)  # subnormals: within one step
    assert np.all(np.abs(v - ref_v) <= 2 * np.spacing(ref_v))
    assert np.all(np.abs(g - ref_g) <= 2 * np.spacing(np.abs(ref_g)))
    assert (S < 2.3e-308).sum() > 1000  # subnormal arguments of log were drawn
    mp.mp.dps = 50
    for i in RNG.choice(len(X), 300, replace=False):
        if normal[i]:
            assert abs(mp.mpf(e[i]) / mp.exp(mp.mpf(X[i])) - 1) < 3e-16
    for i in RNG.choice(len(S), 300, replace=False):
        pairs = ((v[i], mp.log1p(mp.mpf(S[i]))), (g[i], mp.log(mp.mpf(S[i]))))
        for ours, truth in (*pairs, (v_neg[i], mp.log1p(mp.mpf(neg[i])))):
            if truth != 0:
                assert abs((mp.mpf(ours) - truth) / truth) < 3e-16
    edges_x = np.array([709.78, 709.79, 800.0, np.inf, -745.1, -746.0, -np.inf, np.nan, 0.0])
    edges_s = np.array([0.0, 5e-324, 1e-300, 1e-17, 1.0, 1.7e308, np.inf, np.nan, 2.0**-52])
    ours = _evaluate(edges_x, edges_s, np.zeros(9))
    with np.errstate(over="ignore"):
        refs = (np.exp(edges_x), np.log1p(edges_s))
    for got, ref in zip(ours[:2], refs, strict=True):
        special = ~np.isfinite(ref) | (ref == 0.0) | (np.abs(ref) < np.finfo(float).tiny)
        np.testing.assert_array_equal(got[special], ref[special])
        np.testing.assert_array_max_ulp(got[~special], ref[~special], maxulp=2)
    edges = np.array([0.0, -1.0, np.inf, np.nan, 5e-324, 1.0])
    out = _evaluate(np.array([710.0, -746.0, np.inf, np.nan, -np.inf, 0.0]), edges, edges)
    np.testing.assert_array_equal(out[0], [np.inf, 0.0, np.inf, np.nan, 0.0, 1.0])
    np.testing.assert_array_equal(out[2][:4], [-np.inf, np.nan, np.inf, np.nan])
    np.testing.assert_array_equal(out[1][[0, 2, 3]], [0.0, np.inf, np.nan])
    assert out[2][4] == np.log(5e-324) and out[2][5] == 0.0


def test_erfcx_on_the_half_line():
    """erfcx against 50-digit values: within 6e-16 relative below z = 0.3, where the
    Chebyshev series' terms alternate near Z = -1 (5 ulp, as a dense scan of 21,000
    points measured), within 3.5e-16 above (3 ulp), up to 1e300; so within 1.5e-15 of
    SciPy's, whose own error near 0 reaches 8e-16; 0 at inf and nan below 0."""
    h = _evaluate(X, S, Z)[3]
    ref = special.erfcx(Z)
    assert np.all(np.abs(h / ref - 1) < 1.5e-15)
    small = 10.0 ** RNG.uniform(-10.0, np.log10(0.3), 400)
    near = _evaluate(np.zeros(400), np.ones(400), small)[3]
    mp.mp.dps = 50
    picks = RNG.choice(len(Z), 400, replace=False)
    for z_, ours in [*zip(Z[picks], h[picks], strict=True), *zip(small, near, strict=True)]:
        z = mp.mpf(z_)
        # past 1e8 the asymptotic series' first two terms are exact to double precision
        truth = (
            mp.exp(z * z) * mp.erfc(z) if z_ < 1e8 else (1 - 1 / (2 * z * z)) / (mp.sqrt(mp.pi) * z)
        )
        assert abs(mp.mpf(ours) / truth - 1) < (6e-16 if z_ < 0.3 else 3.5e-16), z_
    out = _evaluate(np.zeros(4), np.ones(4), np.array([0.0, np.inf, -1e-300, np.nan]))[3]
    assert out[0] == 1.0 and out[1] == 0.0 and np.isnan(out[2]) and np.isnan(out[3])


def test_erfcx_coefficients_are_the_chebyshev_interpolant():
    """The stored coefficients are the Chebyshev interpolant of
    g(Z) = erfcx(z) (1 + 2 z), z = L (1 + Z) / (1 - Z), at 400 nodes in 40-digit
    arithmetic, recomputed here; and the series is complete: the next coefficient
    is below 1e-17."""
    mp.mp.dps = 40
    L, M = mp.mpf(vector_numba._ERFCX_L), 400
    angles = [(k + mp.mpf(1) / 2) * mp.pi / M for k in range(M)]

    def g(Z):
        z = L * (1 + Z) / (1 - Z)
        return mp.exp(z * z) * mp.erfc(z) * (1 + 2 * z)

    values = [g(mp.cos(t)) for t in angles]
    coef = [
        2 * mp.fsum(v * mp.cos(j * t) for v, t in zip(values, angles, strict=True)) / M
        for j in range(26)
    ]
    coef[0] /= 2
    stored = vector_numba._ERFCX_T
    np.testing.assert_allclose(
        stored, [float(c) for c in coef[: len(stored)]], rtol=1e-15, atol=1e-19
    )
    assert abs(coef[len(stored)]) < 1e-17
