"""The ordinal families (bayesresp.maths.families): each one written once for NumPy and
PyTensor; the two dialects agree, both agree with the families' definitions written out
level by level here, ranges sum their levels, and the anchor case's map from thresholds
to level probabilities has the log-Jacobian and the inverse the induced-Dirichlet prior
reads."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import special

from bayesresp.maths.families import FAMILIES, get_family
from bayesresp.maths.links import LINKS
from bayesresp.maths.ops import TENSOR
from tests.pymc_eval import PY

K = 5
CASES = [(f, k) for f in FAMILIES for k in LINKS]
IDS = [f"{f}-{k}" for f, k in CASES]


def _by_definition(family: str, link: str, eta: float, c: np.ndarray) -> np.ndarray:
    """The K level probabilities of one row, from each family's definition, one level at
    a time (plain floats, SciPy's distribution functions)."""
    F = {
        "logit": special.expit,
        "probit": special.ndtr,
        "cloglog": lambda x: -np.expm1(-np.exp(x)),
        "cauchit": lambda x: 0.5 + np.arctan(x) / np.pi,
    }[link]
    p = np.empty(K)
    if family == "cumulative":
        cum = np.concatenate([[0.0], F(c - eta), [1.0]])
        return np.diff(cum)
    if family in ("sratio", "cratio"):
        reach = 1.0
        for k in range(K - 1):
            stop = F(c[k] - eta) if family == "sratio" else 1.0 - F(eta - c[k])
            p[k] = reach * stop
            reach *= 1.0 - stop
        p[K - 1] = reach
        return p
    # acat: p_{k+1} / p_k = F(eta - c_k) / (1 - F(eta - c_k))
    u = [1.0]
    for k in range(K - 1):
        q = F(eta - c[k])
        u.append(u[-1] * q / (1.0 - q))
    u = np.array(u)
    return u / u.sum()


def _thresholds(rng, family):
    # within +-3: the anchor's levels keep more than 1e-12 of the mass under every link
    # (thresholds_of clips probabilities there)
    c = np.clip(rng.normal(0.0, 1.2, size=(3, K - 1)), -3.0, 3.0)
    return np.sort(c, axis=-1) if get_family(family).ordered else c


@pytest.mark.parametrize("family,link", CASES, ids=IDS)
def test_probabilities_follow_the_definition_and_sum_to_one(family, link):
    rng = np.random.default_rng(7)
    f = get_family(family, link)
    c = _thresholds(rng, family)
    eta = rng.normal(0.0, 1.5, size=(3, 6))
    p = f.probs(eta, c)
    assert p.shape == (3, 6, K)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-12)
    want = np.array(
        [[_by_definition(family, link, eta[s, i], c[s]) for i in range(6)] for s in range(3)]
    )
    np.testing.assert_allclose(p, want, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(f.expected_position(eta, c), want @ np.arange(K), atol=1e-12)


@pytest.mark.parametrize("family,link", CASES, ids=IDS)
def test_numpy_and_pytensor_twins_agree_with_ranges(family, link):
    """Observed levels and ranges y .. y_high (an ambiguous code: the sum of its
    levels), NumPy against PyTensor, and both against the sum of the probabilities."""
    rng = np.random.default_rng(11)
    f = get_family(family, link)
    c = _thresholds(rng, family)[0]
    eta = rng.normal(0.0, 2.0, size=40)
    y = rng.integers(0, K, 40)
    y_high = np.minimum(y + rng.integers(0, 3, 40), K - 1)
    p = np.exp(f.log_probs(eta, c))  # a cumulative cloglog top level rounds to 0 in probs
    brute = np.log([p[i, y[i] : y_high[i] + 1].sum() for i in range(40)])
    np.testing.assert_allclose(f.log_prob(y, eta, c, y_high=y_high), brute, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(f.log_prob(y, eta, c), np.log(p[np.arange(40), y]), rtol=1e-10)
    e, cc = pt.vector("eta"), pt.vector("c")
    exact = f.log_prob(pt.as_tensor(y), e, cc, TENSOR)
    ranged = f.log_prob(pt.as_tensor(y), e, cc, TENSOR, y_high=pt.as_tensor(y_high))
    grad = pt.grad(ranged.sum(), [e, cc])
    out = pytensor.function([e, cc], [exact, ranged, *grad], mode=PY)(eta, c)
    np.testing.assert_allclose(out[0], f.log_prob(y, eta, c), rtol=1e-10)
    np.testing.assert_allclose(out[1], brute, rtol=1e-9, atol=1e-12)
    assert all(np.isfinite(g).all() for g in out[2:])


@pytest.mark.parametrize("family,link", CASES, ids=IDS)
def test_anchor_map_inverse_and_log_jacobian(family, link):
    """thresholds_of inverts the anchor case's probabilities; log_jacobian is log |det|
    of that map's derivative, here by central differences; the PyTensor twin agrees."""
    rng = np.random.default_rng(3)
    f = get_family(family, link)
    c = _thresholds(rng, family)
    p = np.exp(f.anchor_log_probs(c))
    np.testing.assert_allclose(f.thresholds_of(p), c, atol=1e-7)
    # dp/dc = p * dlog p/dc, the log-probabilities differenced (well scaled where a
    # level's probability is tiny)
    h = 1e-5
    for s in range(3):

        def first(v):
            return f.anchor_log_probs(v)[:-1]

        dlp = np.column_stack(
            [(first(c[s] + h * e) - first(c[s] - h * e)) / (2 * h) for e in np.eye(K - 1)]
        )
        sign, logdet = np.linalg.slogdet(dlp)
        want = first(c[s]).sum() + logdet
        # central differences err by h^2 times third derivatives in each entry, up to
        # 1e-5 relative where a cloglog threshold nears 3 (e^3 = 20); a wrong Jacobian
        # misses by O(1)
        assert f.log_jacobian(c[s]) == pytest.approx(want, abs=1e-4)
    cc = pt.vector("c")
    twin = pytensor.function(
        [cc], [f.log_jacobian(cc, TENSOR), f.anchor_log_probs(cc, TENSOR)], mode=PY
    )
    jac, lp = twin(c[0])
    assert jac == pytest.approx(f.log_jacobian(c[0]), rel=1e-12)
    np.testing.assert_allclose(lp, f.anchor_log_probs(c[0]), rtol=1e-12)


def test_sratio_is_cratio_under_a_symmetric_link_only():
    rng = np.random.default_rng(5)
    c, eta = rng.normal(size=(2, K - 1)), rng.normal(size=(2, 9))
    for link in LINKS:
        s, r = get_family("sratio", link).probs(eta, c), get_family("cratio", link).probs(eta, c)
        if LINKS[link].symmetric:
            np.testing.assert_allclose(s, r, rtol=1e-12)
        else:
            assert np.abs(s - r).max() > 0.05


def test_only_the_cumulative_family_needs_ordered_thresholds():
    """Unordered thresholds are a valid sequential or adjacent-category model."""
    c = np.array([1.0, -0.5, 0.3, -1.0])
    for name in ("sratio", "cratio", "acat"):
        f = get_family(name)
        assert not f.ordered
        p = f.probs(np.array([0.2, -1.0]), c)
        assert (p > 0).all() and np.allclose(p.sum(-1), 1.0)
    assert get_family("cumulative").ordered


def test_names_and_errors():
    assert get_family("probit") == get_family("cumulative", "probit")
    assert get_family("acat", "cloglog").link.name == "cloglog"
    assert repr(get_family("sratio")) == "<family sratio(logit)>"
    with pytest.raises(ValueError, match="family 'sratios' is not one of cumulative"):
        get_family("sratios")


@pytest.mark.parametrize("family", FAMILIES)
def test_thresholds_per_row_are_each_rows_own(family):
    """Category-specific effects give each row its own thresholds (..., n, K - 1): every
    row's probabilities are those of its own thresholds alone, in NumPy and PyTensor,
    exact levels and ranges (the cumulative family's, ordered per row)."""
    rng = np.random.default_rng(2)
    f = get_family(family, "cloglog")
    eta = rng.normal(size=(2, 5))
    c = rng.normal(size=(2, 5, K - 1))
    if f.ordered:
        c = np.sort(c, axis=-1)
    y = rng.integers(0, K, 5)
    y_high = np.minimum(y + 1, K - 1)
    each = np.stack(
        [np.stack([f.log_probs(eta[s, i : i + 1], c[s, i])[0] for i in range(5)]) for s in range(2)]
    )
    np.testing.assert_allclose(f.log_probs(eta, c), each, rtol=1e-12)
    ranged = f.log_prob(y, eta, c, y_high=y_high)
    want = np.log(
        [[np.exp(each[s, i, y[i] : y_high[i] + 1]).sum() for i in range(5)] for s in range(2)]
    )
    np.testing.assert_allclose(ranged, want, rtol=1e-10)
    exact = f.log_prob(y, eta, c)
    np.testing.assert_allclose(exact, np.take_along_axis(each, y[None, :, None], -1)[..., 0])
    e, cc = pt.vector("eta"), pt.matrix("c")
    out = pytensor.function(
        [e, cc],
        [
            f.log_prob(pt.as_tensor(y), e, cc, TENSOR, y_high=pt.as_tensor(y_high)),
            f.log_prob(pt.as_tensor(y), e, cc, TENSOR),
            f.log_probs(e, cc, TENSOR),
        ],
        mode=PY,
    )(eta[0], c[0])
    np.testing.assert_allclose(out[0], ranged[0], rtol=1e-10)
    np.testing.assert_allclose(out[1], exact[0], rtol=1e-10)
    np.testing.assert_allclose(out[2], each[0], rtol=1e-10, atol=1e-14)


def test_precision_where_a_step_is_nearly_certain():
    """Cases a difference of cumulative sums would round away: a range (here an exact
    level through the range formula) whose steps are all but certain, and an acat
    cloglog level next to a threshold far below (log S = -e^30)."""
    f = get_family("sratio", "probit")
    exact = f.log_prob(np.array([1]), np.array([0.0]), np.array([1.0, -8.6]))
    ranged = f.log_prob(np.array([1]), np.array([0.0]), np.array([1.0, -8.6]), y_high=np.array([1]))
    assert np.isfinite(exact).all() and ranged == pytest.approx(exact, rel=1e-12)
    f = get_family("acat", "cloglog")
    c = np.array([-30.0, 0.0, 0.5, 1.0])
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60  # the definition in 60 digits: q / (1 - q) with 1 - q = e^(-e^30)
    u = [mpmath.mpf(1)]
    for ck in c:
        x = mpmath.mpf(0.3) - mpmath.mpf(ck)
        u.append(u[-1] * (1 - mpmath.exp(-mpmath.exp(x))) / mpmath.exp(-mpmath.exp(x)))
    want = np.array([float(mpmath.log(v / sum(u))) for v in u])
    np.testing.assert_allclose(f.log_probs(np.array([0.3]), c)[0], want, rtol=1e-10)


@pytest.mark.parametrize("family", ["sratio", "cratio", "acat"])
def test_thresholds_of_a_draw_with_an_empty_level_are_finite(family):
    """A Dirichlet draw can give a level probability 0 (small alpha): its thresholds
    stay finite (the level's share is floored at 1e-12), not 0/0."""
    p = np.array([[0.5, 0.0, 0.3, 0.2, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    c = get_family(family).thresholds_of(p)
    assert np.isfinite(c).all()
    back = np.exp(get_family(family).anchor_log_probs(c))
    np.testing.assert_allclose(back, p, atol=1e-9)
