"""Missing covariates summed out (bayesresp.maths.missing): the NumPy and PyTensor forms
agree, and both equal a mixture over the levels written out by hand."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from bayesresp.maths.missing import (
    copy_log_weights,
    covariate_log_probs,
    pick_levels,
    row_mixture,
)
from bayesresp.maths.ops import TENSOR
from tests.pymc_eval import PY


def _case(seed=0):
    rng = np.random.default_rng(seed)
    n, P, L, G = 7, 3, 4, 3
    intercept = rng.normal(0, 1, L - 1)
    coef = rng.normal(0, 1, (P, L - 1))
    predictors = rng.normal(0, 1, (n, P))
    group = rng.integers(0, G, n)
    u = rng.normal(0, 0.7, (G, L - 1))
    return intercept, coef, predictors, u[group]


def _by_hand(intercept, coef, predictors, effects):
    """Softmax of (0, a + z'g + u) per row, one row at a time."""
    out = []
    for i in range(len(predictors)):
        logits = np.concatenate([[0.0], intercept + predictors[i] @ coef + effects[i]])
        p = np.exp(logits) / np.exp(logits).sum()
        out.append(np.log(p))
    return np.array(out)


def test_covariate_log_probs_numpy_tensor_and_by_hand_agree():
    intercept, coef, predictors, effects = _case()
    expected = _by_hand(intercept, coef, predictors, effects)
    np.testing.assert_allclose(
        covariate_log_probs(intercept, coef, predictors, effects), expected, rtol=1e-12
    )
    a, g, e = pt.dvector(), pt.dmatrix(), pt.dmatrix()
    f = pytensor.function(
        [a, g, e], covariate_log_probs(a, g, pt.as_tensor(predictors), e, xp=TENSOR), mode=PY
    )
    np.testing.assert_allclose(f(intercept, coef, effects), expected, rtol=1e-12)
    # with draws in front (NumPy), each draw is its own case
    S = 2
    stacked = covariate_log_probs(
        np.stack([intercept, intercept + 1]),
        np.stack([coef, -coef]),
        predictors,
        np.stack([effects, 0 * effects]),
    )
    assert stacked.shape == (S, *expected.shape)
    np.testing.assert_allclose(stacked[0], expected, rtol=1e-12)
    np.testing.assert_allclose(
        stacked[1], _by_hand(intercept + 1, -coef, predictors, 0 * effects), rtol=1e-12
    )
    # without predictors or group effects: the same probabilities for every row
    plain = covariate_log_probs(intercept, None, np.zeros((4, 0)), None)
    np.testing.assert_allclose(plain, np.repeat(plain[:1], 4, axis=0))
    np.testing.assert_allclose(np.exp(plain).sum(axis=1), 1.0)


def test_row_mixture_sums_each_rows_copies():
    rng = np.random.default_rng(2)
    # three rows: one copy, three copies, two copies
    row = np.array([0, 1, 1, 1, 2, 2])
    slots = np.array([[0, 0, 0], [1, 2, 3], [4, 5, 4]])
    mask = np.array([[True, False, False], [True, True, True], [True, True, False]])
    terms = rng.normal(-2, 1, 6)
    expected = [np.log(np.exp(terms[row == r]).sum()) for r in range(3)]
    np.testing.assert_allclose(row_mixture(terms, slots, mask), expected, rtol=1e-12)
    t = pt.dvector()
    f = pytensor.function([t], row_mixture(t, slots, mask, xp=TENSOR), mode=PY)
    np.testing.assert_allclose(f(terms), expected, rtol=1e-12)
    # draws in front, and the weights of each row's copies sum to one
    both = np.stack([terms, terms - 3])
    np.testing.assert_allclose(row_mixture(both, slots, mask)[1], np.array(expected) - 3)
    w = np.exp(copy_log_weights(both, slots, mask, row))
    np.testing.assert_allclose(np.stack([np.bincount(row, s) for s in w]), 1.0)
    # the gradient through the padding is finite (PyMC samples it)
    grad = pytensor.function([t], pt.grad(row_mixture(t, slots, mask, xp=TENSOR).sum(), t))
    g = grad(terms)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(np.bincount(row, g), 1.0)  # each row's weights


def test_pick_levels_reads_each_rows_level():
    lp = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(pick_levels(lp, [1, 0, 3]), [1.0, 4.0, 11.0])
    np.testing.assert_array_equal(pick_levels(np.stack([lp, -lp]), [1, 0, 3])[1], [-1, -4, -11])
    m = pt.dmatrix()
    f = pytensor.function([m], pick_levels(m, np.array([1, 0, 3])), mode=PY)
    np.testing.assert_array_equal(f(lp), [1.0, 4.0, 11.0])


def test_a_latent_numbers_model_numpy_tensor_and_scipy_agree():
    """number_means is a + z'g + u per row (by hand), and normal_log_density scipy's
    normal log density, in both dialects; with draws in front (NumPy), each draw its
    own case."""
    from scipy import stats

    from bayesresp.maths.missing import normal_log_density, number_means

    rng = np.random.default_rng(3)
    n, P, G = 9, 3, 4
    a, g = rng.normal(), rng.normal(0, 1, P)
    z, u = rng.normal(0, 1, (n, P)), rng.normal(0, 0.7, G)[rng.integers(0, G, n)]
    value, sigma = rng.normal(0, 1, n), 0.8
    mu = np.array([a + z[i] @ g + u[i] for i in range(n)])
    np.testing.assert_allclose(number_means(np.float64(a), g, z, u), mu, rtol=1e-12)
    expected = stats.norm.logpdf(value, mu, sigma)
    np.testing.assert_allclose(normal_log_density(value, mu, sigma), expected, rtol=1e-12)
    ta, tg, te, ts = pt.dscalar(), pt.dvector(), pt.dvector(), pt.dscalar()
    means = number_means(ta, tg, pt.as_tensor(z), te, xp=TENSOR)
    f = pytensor.function(
        [ta, tg, te, ts],
        [means, normal_log_density(pt.as_tensor(value), means, ts, xp=TENSOR)],
        mode=PY,
    )
    got_mu, got_lp = f(a, g, u, sigma)
    np.testing.assert_allclose(got_mu, mu, rtol=1e-12)
    np.testing.assert_allclose(got_lp, expected, rtol=1e-12)
    # no predictors, no group: the intercept for every row
    np.testing.assert_allclose(number_means(np.float64(a), None, np.zeros((n, 0)), None), a)
    stacked = number_means(np.array([a, -a]), np.stack([g, 2 * g]), z, np.stack([u, 0 * u]))
    np.testing.assert_allclose(stacked[1], [-a + z[i] @ (2 * g) for i in range(n)], rtol=1e-12)
