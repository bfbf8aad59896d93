"""The coders' layer (bayesresp.maths.rater): its NumPy and PyTensor forms agree, and both
equal a brute-force sum over the true levels written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import logistic

from bayesresp.maths.cumulative import category_probs
from bayesresp.maths.ops import TENSOR
from bayesresp.maths.rater import log_codes, log_levels, log_reading, response_log_lik
from tests.pymc_eval import PY

K = 5


def _case(seed=0, ranges=False):
    rng = np.random.default_rng(seed)
    n_resp, coders = 6, 3
    eta = rng.normal(0, 1.5, n_resp)
    cut = np.sort(rng.normal(0, 2, K - 1))
    leniency = rng.normal(0, 0.6, coders)
    spread = np.exp(rng.normal(np.log(0.6), 0.4, coders))
    # responses coded once, twice and three times
    response = np.array([0, 1, 1, 2, 3, 3, 3, 4, 5, 5])
    coder = np.array([0, 0, 1, 2, 0, 1, 2, 1, 2, 0])
    low = rng.integers(0, K, response.size)
    high = np.minimum(low + (rng.integers(0, 3, response.size) if ranges else 0), K - 1)
    return eta, cut, leniency, spread, response, coder, low, high


def _brute(eta, cut, leniency, spread, response, coder, low, high, link="logit"):
    """The likelihood of each response's codes, by summing over its true level."""
    p_level = category_probs(eta, cut, link)
    out = np.empty(len(eta))
    for r in range(len(eta)):
        total = 0.0
        for j in range(K):
            term = p_level[r, j]
            for i in np.flatnonzero(response == r):
                c = coder[i]
                # the reading j + l + e, e logistic of sd s, rounded to the nearest level
                e = logistic(loc=j + leniency[c], scale=spread[c] * np.sqrt(3) / np.pi)
                top = np.inf if high[i] == K - 1 else high[i] + 0.5
                bottom = -np.inf if low[i] == 0 else low[i] - 0.5
                term *= e.cdf(top) - e.cdf(bottom)
            total += term
        out[r] = np.log(total)
    return out


def _numpy(eta, cut, leniency, spread, response, coder, low, high, link="logit"):
    exact = np.array_equal(low, high)
    log_r = log_reading(leniency, spread, K)
    codes = log_codes(log_r, coder, low, None if exact else high)
    levels = log_levels(eta, cut, link, K)
    return response_log_lik(levels, codes, response, len(eta))


@pytest.mark.parametrize("ranges", [False, True])
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_numpy_form_is_the_sum_over_true_levels(ranges, link):
    case = _case(1, ranges)
    np.testing.assert_allclose(_numpy(*case, link=link), _brute(*case, link=link), rtol=1e-12)


def test_a_reading_is_a_distribution_shifted_by_leniency_and_sharpened_by_precision():
    log_r = log_reading(np.array([0.0, 0.8, 0.0, 0.0]), np.array([0.5, 0.5, 0.005, 2.0]), K)
    r = np.exp(log_r)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, rtol=1e-12)
    mean = r @ np.arange(K)
    assert np.all(mean[1, :-1] > mean[0, :-1])  # the lenient coder reads higher
    np.testing.assert_allclose(r[2], np.eye(K), atol=1e-70)  # a precise coder: the level
    # an inner level read right: P(|e| < 1/2) for e logistic of sd 0.5 and 2
    for c, s in ((0, 0.5), (3, 2.0)):
        e = logistic(scale=s * np.sqrt(3) / np.pi)
        np.testing.assert_allclose(np.diag(r[c])[1:-1], e.cdf(0.5) - e.cdf(-0.5), rtol=1e-12)
    # far tails stay finite: a misreading by four levels at spread 0.05
    tiny = log_reading(np.zeros(1), np.full(1, 0.05), K)
    assert np.isfinite(tiny).all() and tiny[0, 0, -1] < -100
    # by hand: 2 G(1/2) - 1 with G(x) = 1 / (1 + exp(-x pi / (sqrt(3) 0.5)))
    assert r[0, 2, 2] == pytest.approx(2 / (1 + np.exp(-np.pi / np.sqrt(3))) - 1, rel=1e-12)


def test_draw_dimensions_broadcast_as_one_draw_at_a_time():
    cases = [_case(seed, ranges=True) for seed in (2, 3)]
    stacked = [np.stack(parts) for parts in zip(*(c[:4] for c in cases), strict=True)]
    _, _, _, _, response, coder, low, high = cases[0]
    eta, cut, leniency, spread = stacked
    log_r = log_reading(leniency, spread, K)
    codes = log_codes(log_r, coder, low, high)
    both = response_log_lik(log_levels(eta, cut, "logit", K), codes, response, eta.shape[-1])
    for s, case in enumerate(cases):
        one = _numpy(*case[:4], response, coder, low, high)
        np.testing.assert_allclose(both[s], one, rtol=1e-12)
    exact = log_codes(log_r, coder, low)
    assert exact.shape == (2, len(low), K)
    np.testing.assert_allclose(exact[1], log_codes(log_r[1], coder, low), rtol=0)


@pytest.mark.parametrize("ranges", [False, True])
def test_pytensor_form_equals_the_numpy_form_with_its_gradient(ranges):
    import pytensor
    import pytensor.tensor as pt

    eta, cut, leniency, spread, response, coder, low, high = _case(4, ranges)
    e, c, lv, sp = pt.vector("eta"), pt.vector("cut"), pt.vector("len"), pt.vector("spread")
    log_r = log_reading(lv, sp, K, xp=TENSOR)
    codes = log_codes(log_r, coder, low, high if ranges else None, xp=TENSOR)
    total = response_log_lik(log_levels(e, c, "logit", K, xp=TENSOR), codes, response, 6, TENSOR)
    f = pytensor.function([e, c, lv, sp], [total, pt.grad(total.sum(), lv)], mode=PY)
    value, grad = f(eta, cut, leniency, spread)
    np.testing.assert_allclose(
        value, _brute(eta, cut, leniency, spread, response, coder, low, high), rtol=1e-10
    )
    h = 1e-6
    numeric = [
        (
            _numpy(eta, cut, leniency + h * d, spread, response, coder, low, high).sum()
            - _numpy(eta, cut, leniency - h * d, spread, response, coder, low, high).sum()
        )
        / (2 * h)
        for d in np.eye(len(leniency))
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_one_precise_coder_gives_back_the_cumulative_model():
    """A coder who reads every level right (spread near 0) and codes each response once:
    each response's likelihood is the cumulative model's probability of its code."""
    rng = np.random.default_rng(5)
    eta, cut = rng.normal(size=8), np.array([-1.5, -0.2, 0.7, 2.0])
    codes = rng.integers(0, K, 8)
    log_r = log_reading(np.zeros(1), np.full(1, 0.005), K)
    got = response_log_lik(
        log_levels(eta, cut, "logit", K), log_codes(log_r, np.zeros(8, int), codes), np.arange(8), 8
    )
    want = np.log(category_probs(eta, cut)[np.arange(8), codes])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_the_leniency_signal_of_two_coders_is_the_paired_t_statistic_squared_less_one():
    """Two coders who share n responses: the least-squares leniencies are -+ mean(d) / 2,
    their noise var(d) / (2 n), so the signal is t^2 - 1 with t the paired t statistic
    of the differences d (codes of coder 1 less coder 0)."""
    from bayesresp.maths.rater import leniency_signal

    rng = np.random.default_rng(2)
    n = 40
    first = rng.integers(0, K, n)
    second = np.clip(first + rng.choice([0, 0, 1, 1, 2, -1], n), 0, K - 1)
    response = np.repeat(np.arange(n), 2)
    coder = np.tile([0, 1], n)
    code = np.column_stack([first, second]).ravel()
    d = second - first
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    got = leniency_signal(coder, response, code, None, 2)
    assert got == pytest.approx(t**2 - 1, rel=1e-12) and got > 3
    # responses coded once say nothing of the leniencies; ranges are left out
    once = leniency_signal(
        np.r_[coder, 0, 1],
        np.r_[response, n, n + 1],
        np.r_[code, 0, 4],
        np.r_[code, 0, 4],
        2,
    )
    ranged = leniency_signal(
        np.r_[coder, 0, 1], np.r_[response, n, n], np.r_[code, 0, 0], np.r_[code, 4, 3], 2
    )
    assert once == pytest.approx(got, rel=1e-12) and ranged == pytest.approx(got, rel=1e-12)


def test_the_leniency_signal_is_a_regression_with_one_mean_per_response():
    """Responses coded by two to four of four coders (one coder twice on some): the
    signal equals one computed independently, by least squares on response and coder
    indicator columns (numpy's lstsq, the leniencies' covariance from its design's
    pseudo-inverse, projected to zero sum)."""
    from bayesresp.maths.rater import leniency_signal

    rng = np.random.default_rng(7)
    C, n = 4, 60
    coder, response, code = [], [], []
    for r in range(n):
        who = rng.choice(C, rng.integers(2, 5), replace=True)
        coder += list(who)
        response += [r] * len(who)
        code += list(
            np.clip(
                2 + np.array([0.0, 0.6, -0.3, -0.3])[who] + rng.normal(0, 0.7, len(who)), 0, K - 1
            )
            .round()
            .astype(int)
        )
    coder, response, code = map(np.asarray, (coder, response, code))
    X = np.column_stack([np.eye(n)[response], np.eye(C)[coder]])
    beta, *_ = np.linalg.lstsq(X, code.astype(float), rcond=None)
    resid = code - X @ beta
    df = len(code) - np.linalg.matrix_rank(X)
    V = (resid @ resid / df) * np.linalg.pinv(X.T @ X)[n:, n:]
    P = np.eye(C) - 1.0 / C  # the zero-sum projection of the coders' effects
    est, cov = P @ beta[n:], P @ V @ P
    want = (est @ est - np.trace(cov)) / np.trace(cov)
    got = leniency_signal(coder, response, code, None, C)
    assert got == pytest.approx(want, rel=1e-9) and got > 3


def test_the_leniency_signal_is_zero_where_the_codes_cannot_say():
    from bayesresp.maths.rater import leniency_signal

    rng = np.random.default_rng(4)
    # two camps: coders 0 and 1 share 30 responses, coders 2 and 3 another 30, and no
    # response links the camps (plenty of pairs, far apart within each camp)
    coder = np.tile([0, 1, 2, 3], 30)
    response = np.repeat(np.arange(60), 2)
    code = np.tile([0, 3, 1, 4], 30) + rng.integers(0, 1, 120)
    assert leniency_signal(coder, response, code, None, 4) == 0.0
    linked = leniency_signal(
        np.r_[coder, 1, 2], np.r_[response, 60, 60], np.r_[code, 3, 1], None, 4
    )
    assert linked > 3  # one response coded by both camps links them
    # a coder who codes only alone
    pair, shared, apart = np.tile([0, 1], 30), response[:60], np.tile([0, 3], 30)
    alone = leniency_signal(np.r_[pair, 2], np.r_[shared, 99], np.r_[apart, 1], None, 3)
    assert alone == 0.0 and leniency_signal(pair, shared, apart, None, 2) > 3
    # no residual degrees of freedom: one pair, two coders
    assert leniency_signal(coder[:2], response[:2], code[:2], None, 2) == 0.0
    # coders who always agree: no spread beyond the noise (none)
    assert leniency_signal(coder[:6] % 2, response[:6], np.repeat([1, 3, 2], 2), None, 2) == 0.0


def test_the_reading_and_its_gradient_stay_finite_at_extreme_spreads():
    import pytensor
    import pytensor.tensor as pt

    lv, sp = pt.vector("leniency"), pt.vector("spread")
    total = pt.sum(log_reading(lv, sp, K, xp=TENSOR)[..., 1, 3])  # one misreading
    f = pytensor.function([lv, sp], [total, *pt.grad(total, [lv, sp])], mode=PY)
    for spread in (1e-4, 0.05, 1.0, 50.0, 1e4):
        for leniency in (0.0, 0.49, -2.5, 7.0):
            out = f(np.array([leniency]), np.array([spread]))
            assert all(np.all(np.isfinite(v)) for v in out), (leniency, spread, out)
