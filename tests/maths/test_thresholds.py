"""The vertex parameterisation of ordered category-specific thresholds
(bayesresp.maths.thresholds): its NumPy and PyTensor forms agree, the map from the
vertices' thresholds to (cutpoints of the average case, coefficients) is inverted exactly,
and thresholds ordered at the vertices stay ordered everywhere inside the simplex (and
only there: outside, they cross)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesresp.maths.ops import TENSOR
from bayesresp.maths.thresholds import Simplex
from tests.pymc_eval import PY

K1 = 6  # thresholds


def _factor(J: int) -> Simplex:
    return Simplex(np.vstack([np.zeros(J), np.eye(J)]), tuple(f"l{j}" for j in range(J + 1)))


def _number() -> Simplex:
    return Simplex(np.array([[-1.3], [2.9]]), ("min", "max"))


def _ordered_vertices(rng, simplex: Simplex, size=()) -> np.ndarray:
    J = simplex.n_columns
    T = rng.normal(0.0, 1.0, size=(*size, J + 1, 1)) + np.cumsum(
        rng.exponential(0.8, size=(*size, J + 1, K1)), axis=-1
    )
    return T


@pytest.mark.parametrize("simplex", [_factor(1), _factor(3), _number()], ids=["f1", "f3", "num"])
def test_numpy_and_pytensor_twins_agree(simplex):
    rng = np.random.default_rng(1)
    J = simplex.n_columns
    T = _ordered_vertices(rng, simplex)
    x = rng.dirichlet(np.ones(J + 1)) @ simplex.vertices  # a mean inside the simplex
    cbar, B = simplex.from_vertices(T, x)
    t, xm = pt.matrix("T"), pt.vector("x")
    got = pytensor.function(
        [t, xm],
        [*simplex.from_vertices(t, xm, TENSOR), simplex.weights(xm, TENSOR)],
        mode=PY,
    )(T, x)
    np.testing.assert_allclose(got[0], cbar, rtol=1e-12)
    np.testing.assert_allclose(got[1], B, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[2], simplex.weights(x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("simplex", [_factor(1), _factor(3), _number()], ids=["f1", "f3", "num"])
def test_the_map_is_inverted_and_reads_as_the_rows_thresholds(simplex):
    """to_vertices inverts from_vertices (batched over draws); each vertex's thresholds
    are a row's ``cbar - (x - xbar) B`` at that vertex, and the average case's cutpoints
    the barycentric mix of the vertices'."""
    rng = np.random.default_rng(2)
    J = simplex.n_columns
    T = _ordered_vertices(rng, simplex, size=(4,))
    x = rng.dirichlet(np.ones(J + 1)) @ simplex.vertices
    cbar, B = simplex.from_vertices(T, x)
    assert cbar.shape == (4, K1) and B.shape == (4, J, K1)
    np.testing.assert_allclose(simplex.to_vertices(cbar, B, x), T, atol=1e-12)
    for j, v in enumerate(simplex.vertices):
        np.testing.assert_allclose(cbar - np.einsum("p,spk->sk", v - x, B), T[:, j], atol=1e-12)
    lam = simplex.weights(x)
    np.testing.assert_allclose(lam.sum(), 1.0)
    np.testing.assert_allclose(lam @ simplex.vertices, x, atol=1e-12)
    np.testing.assert_allclose(cbar, np.einsum("j,sjk->sk", lam, T), atol=1e-12)


def test_a_factor_reads_as_each_levels_thresholds():
    """For a factor the coefficients are the reference level's thresholds minus each
    level's (clm's nominal effects with the opposite sign), and the average case's
    cutpoints the level shares' mix."""
    rng = np.random.default_rng(3)
    s = _factor(2)
    T = _ordered_vertices(rng, s)
    shares = np.array([0.3, 0.2])
    cbar, B = s.from_vertices(T, shares)
    np.testing.assert_allclose(B, T[0] - T[1:], atol=1e-12)
    np.testing.assert_allclose(cbar, 0.5 * T[0] + 0.3 * T[1] + 0.2 * T[2], atol=1e-12)


@pytest.mark.parametrize("simplex", [_factor(3), _number()], ids=["f3", "num"])
def test_ordered_at_the_vertices_is_ordered_inside_and_may_cross_outside(simplex):
    """Any point of the simplex (random barycentric weights, 2,000 of them, for 50
    draws of vertex thresholds) has ordered thresholds; a number beyond its fitted range
    can have crossed ones, and contains() says which rows are inside."""
    rng = np.random.default_rng(4)
    J = simplex.n_columns
    T = _ordered_vertices(rng, simplex, size=(50,))
    x_mean = np.full(J, 0.2) if J > 1 else np.array([0.4])
    cbar, B = simplex.from_vertices(T, x_mean)
    x = rng.dirichlet(np.ones(J + 1), size=2000) @ simplex.vertices
    assert simplex.contains(x).all()
    rows = cbar[:, None, :] - np.einsum("np,spk->snk", x - x_mean, B)
    assert (np.diff(rows, axis=-1) > 0).all()
    if J == 1:  # far beyond the largest value, steep opposite slopes cross
        far = np.array([[40.0], [2.9], [-1.3], [-1.3001]])
        np.testing.assert_array_equal(simplex.contains(far), [False, True, True, False])
        out = cbar[:, None, :] - np.einsum("np,spk->snk", far[:1] - x_mean, B)
        assert (np.diff(out, axis=-1) <= 0).any()


def test_a_flat_simplex_is_refused():
    with pytest.raises(ValueError, match="not affinely independent"):
        Simplex(np.array([[1.0], [1.0]]), ("a", "b"))
    with pytest.raises(ValueError, match="J \\+ 1 vertices"):
        Simplex(np.zeros((3, 1)), ("a", "b", "c"))
