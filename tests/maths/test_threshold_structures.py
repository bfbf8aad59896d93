"""Threshold structures (bayesresp.maths.thresholds): the equidistant expansion and its
inverse, NumPy and PyTensor twins, and the equidistant model's prior on its two free
thresholds, which must be the flexible prior's marginal of the first and last.

That marginal is written per family (``Family.log_end_prior``) and, for a normal prior
in the cumulative family, as the density of the smallest and largest of K - 1 normals
(``sorted_normal_ends``). Each density is tied to draws from the flexible prior (the
equidistant prior's own draws: the flexible ones, ends kept) by quadrature on a grid:
it integrates to one, and its mean and variance equal the draws' within 4 Monte Carlo
standard errors (40,000 draws; one wrong Beta parameter, a missing Jacobian, or the
cumulative family's aggregation read as independence moves a mean by tens of standard
errors)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesresp.maths.families import FAMILIES, get_family
from bayesresp.maths.ops import TENSOR
from bayesresp.maths.thresholds import Equidistant, Flexible, get_structure, sorted_normal_ends
from tests.pymc_eval import PY

_GRID = np.linspace(-14.0, 14.0, 561)
_STEP = _GRID[1] - _GRID[0]
_A, _B = np.meshgrid(_GRID, _GRID, indexing="ij")
_ENDS = np.stack([_A, _B], axis=-1)


def _moments_agree(log_density, draws, ordered: bool) -> None:
    if ordered:
        log_density = np.where(_A < _B, log_density, -np.inf)
    d = np.exp(log_density) * _STEP**2
    assert abs(d.sum() - 1.0) < 2e-3, d.sum()
    mean = (d[..., None] * _ENDS).sum(axis=(0, 1))
    var = (d[..., None] * (_ENDS - mean) ** 2).sum(axis=(0, 1))
    n = len(draws)
    se_mean = draws.std(axis=0) / np.sqrt(n)
    centred = (draws - draws.mean(axis=0)) ** 2
    se_var = centred.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(mean - draws.mean(axis=0)) < 4 * se_mean), (mean, draws.mean(axis=0))
    assert np.all(np.abs(var - centred.mean(axis=0)) < 4 * se_var), (var, centred.mean(axis=0))


def test_equidistant_expansion_is_evenly_spaced_and_inverted():
    eq = Equidistant()
    ends = np.array([[-1.5, 3.0], [0.2, 0.2]])
    full = eq.expand(ends, 7)
    np.testing.assert_allclose(full[0], np.linspace(-1.5, 3.0, 6))
    np.testing.assert_allclose(eq.free_of(full), ends)
    assert eq.n_free(7) == 2 and eq.n_free(3) == 2 and eq.n_free(2) == 1
    np.testing.assert_allclose(eq.expand(np.array([0.1, 0.4]), 3), [0.1, 0.4])  # 3 levels
    v = pt.vector("v")
    got = pytensor.function([v], eq.expand(v, 7, TENSOR), mode=PY)(ends[0])
    np.testing.assert_allclose(got, full[0], rtol=1e-12)
    flex = Flexible()
    assert flex.n_free(7) == 6
    np.testing.assert_array_equal(flex.expand(full[0], 7), full[0])
    assert get_structure(eq) is eq and isinstance(get_structure("equidistant"), Equidistant)
    with pytest.raises(ValueError, match="not one of flexible, equidistant"):
        get_structure("equal")


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
@pytest.mark.parametrize("K,alpha", [(4, 1.0), (7, 1.0), (5, 2.5)])
def test_end_prior_is_the_flexible_priors_marginal(family, link, K, alpha):
    fam = get_family(family, link)
    rng = np.random.default_rng(K * 10 + int(alpha * 2))
    draws = fam.thresholds_of(rng.dirichlet(np.full(K, alpha), size=40_000))[:, [0, -1]]
    _moments_agree(fam.log_end_prior(_ENDS, alpha, K), draws, fam.ordered)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_end_prior_twins_agree(family):
    fam = get_family(family, "cloglog")
    ends = np.array([[-2.0, 1.5], [-0.3, 4.0], [0.5, 0.9]])
    v = pt.matrix("v")
    got = pytensor.function([v], fam.log_end_prior(v, 1.5, 6, TENSOR), mode=PY)(ends)
    np.testing.assert_allclose(got, fam.log_end_prior(ends, 1.5, 6), rtol=1e-10)


def test_sorted_normal_ends_is_the_smallest_and_largest_of_normal_draws():
    rng = np.random.default_rng(3)
    mu, sigma, n = 0.5, 2.0, 6
    draws = np.sort(rng.normal(mu, sigma, size=(40_000, n)), axis=-1)[:, [0, -1]]
    _moments_agree(sorted_normal_ends(_ENDS, mu, sigma, n), draws, ordered=True)
    v = pt.vector("v")
    got = pytensor.function([v], sorted_normal_ends(v, mu, sigma, n, TENSOR), mode=PY)(
        np.array([-1.0, 2.0])
    )
    np.testing.assert_allclose(got, sorted_normal_ends(np.array([-1.0, 2.0]), mu, sigma, n))
