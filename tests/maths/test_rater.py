"""The coders' layer (bayesresp.maths.rater): its NumPy and PyTensor forms agree, and both
equal a brute-force sum over the true levels written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

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
                w = np.exp(-((np.arange(K) - j - leniency[c]) ** 2) / (2 * spread[c] ** 2))
                term *= w[low[i] : high[i] + 1].sum() / w.sum()
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
    log_r = log_reading(np.array([0.0, 0.8, 0.0]), np.array([0.5, 0.5, 0.05]), K)
    r = np.exp(log_r)
    np.testing.assert_allclose(r.sum(axis=-1), 1.0, rtol=1e-12)
    mean = r @ np.arange(K)
    assert np.all(mean[1, :-1] > mean[0, :-1])  # the lenient coder reads higher
    np.testing.assert_allclose(r[2], np.eye(K), atol=1e-30)  # a precise coder: the level
    assert r[0, 2, 2] == pytest.approx(1 / (1 + 2 * np.exp(-2) + 2 * np.exp(-8)))


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
    log_r = log_reading(np.zeros(1), np.full(1, 0.05), K)
    got = response_log_lik(
        log_levels(eta, cut, "logit", K), log_codes(log_r, np.zeros(8, int), codes), np.arange(8), 8
    )
    want = np.log(category_probs(eta, cut)[np.arange(8), codes])
    np.testing.assert_allclose(got, want, rtol=1e-10)
