"""The likelihood maths and the PyMC model against independent computations; no sampling."""

import mpmath as mp
import numpy as np
import pytest

import bayesresp
from bayesresp import Codebook
from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws
from bayesresp.maths.cumulative import category_probs, log_prob
from bayesresp.model.design import make_design
from bayesresp.model.formula import parse_formula
from bayesresp.model.graph import build_model, induced_dirichlet
from tests.pymc_eval import loglik_at_random_points

CUTS = np.array([-2.0, -0.5, 1.0, 3.0])


def _reference_log_prob(k, eta, cuts, link, top=None):
    """log(F(c_top - eta) - F(c_{k-1} - eta)) in 1,200-digit arithmetic: level k, or the
    range of levels k .. top (P(k <= y <= top))."""
    top = k if top is None else top
    with mp.workdps(1200):
        F = (lambda x: 1 / (1 + mp.e ** (-x))) if link == "logit" else mp.ncdf
        lo = 0 if k == 0 else F(mp.mpf(cuts[k - 1]) - eta)
        hi = 1 if top == len(cuts) else F(mp.mpf(cuts[top]) - eta)
        return float(mp.log(hi - lo))


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("eta", [-50.0, -20.0, -3.0, 0.0, 0.7, 20.0, 50.0])
def test_log_prob_is_accurate_in_both_tails(link, eta):
    y = np.arange(len(CUTS) + 1)
    got = log_prob(y, np.full(len(y), eta), CUTS, link)
    ref = np.array([_reference_log_prob(k, eta, CUTS, link) for k in y])
    assert np.all(np.isfinite(got))
    # Relative accuracy near machine precision (absolute where the answer is ~0).
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_model_log_prob_is_accurate_in_both_tails(link):
    """The PyTensor form the model samples with (for the logit link a different formula
    from the NumPy one: one exp and one log1p per row) against the same references, with
    eight levels too, and its gradient against a central difference."""
    import pytensor
    import pytensor.tensor as pt

    from bayesresp.maths.cumulative import TENSOR

    etas = np.array([-50.0, -20.0, -3.0, 0.0, 0.7, 20.0, 50.0])
    for cuts in (CUTS, np.linspace(-3.0, 4.0, 7)):
        y = np.tile(np.arange(len(cuts) + 1), len(etas))
        eta = np.repeat(etas, len(cuts) + 1)
        e, c = pt.vector("eta"), pt.vector("cuts")
        lp = log_prob(pt.as_tensor(y), e, c, link, TENSOR)
        f = pytensor.function([e, c], [lp, pytensor.grad(pt.sum(lp), e)])
        got, grad = f(eta, cuts)
        ref = np.array([_reference_log_prob(k, x, cuts, link) for k, x in zip(y, eta, strict=True)])
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-300)
        h = 1e-6
        numeric = (f(eta + h, cuts)[0] - f(eta - h, cuts)[0]) / (2 * h)
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_probabilities_sum_to_one_and_shift_with_eta():
    eta = np.linspace(-5, 5, 11)
    p = category_probs(eta, CUTS)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.all(p >= 0)
    # Sign convention: a larger eta moves mass to the confrontational end.
    mean_level = p @ np.arange(5)
    assert np.all(np.diff(mean_level) > 0)
    np.testing.assert_allclose(np.exp(log_prob(np.full(11, 4), eta, CUTS)), p[:, 4], rtol=1e-12)


def _id_logp(c, alpha):
    import pytensor.tensor as pt

    c = pt.as_tensor(np.asarray(c, float))
    a = np.full(len(np.atleast_1d(c.eval())) + 1, alpha, dtype=float)
    logp, _ = induced_dirichlet("logit")
    return float(logp(c, pt.as_tensor(a[:-1]), pt.as_tensor(a[-1])).eval())


def test_induced_dirichlet_two_levels_is_logistic():
    """With two levels and alpha = 1, p ~ Uniform, so the cutpoint is standard logistic."""
    for c in (-3.0, 0.0, 1.2):
        expect = np.log(np.exp(-c) / (1 + np.exp(-c)) ** 2)
        assert _id_logp([c], 1.0) == pytest.approx(expect, rel=1e-12)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_induced_dirichlet_density_by_change_of_variables(link):
    """Dirichlet density of p(c) times |det dp/dc| from finite differences."""
    import pytensor.tensor as pt
    from scipy import stats
    from scipy.special import expit, ndtr

    F = expit if link == "logit" else ndtr
    alpha = np.array([2.0, 1.5, 3.0, 1.0])
    c = np.array([-1.0, 0.3, 1.4])

    def probs(cc):
        return np.diff(np.concatenate([[0.0], F(cc), [1.0]]))

    h = 1e-6
    jac = np.column_stack(
        [(probs(c + h * e)[:-1] - probs(c - h * e)[:-1]) / (2 * h) for e in np.eye(3)]
    )
    expect = stats.dirichlet.logpdf(probs(c), alpha) + np.log(abs(np.linalg.det(jac)))
    logp, _ = induced_dirichlet(link)
    got = float(logp(pt.as_tensor(c), pt.as_tensor(alpha[:-1]), pt.as_tensor(alpha[-1])).eval())
    assert got == pytest.approx(expect, abs=1e-6)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_induced_dirichlet_sampler_matches_its_density(link):
    """The prior's random draws map back to Dirichlet-distributed level probabilities.

    KS test at level 0.001: a correct sampler fails for 1 seed in 1,000; a wrong mapping
    (say the other link's inverse) gives p-values of essentially zero at n = 20,000.
    """
    from scipy import stats
    from scipy.special import expit, ndtr

    _, random = induced_dirichlet(link)
    alpha = np.array([2.0, 1.0, 3.0])
    c = random(alpha[:-1], alpha[-1], rng=np.random.default_rng(1), size=20000)
    F = expit if link == "logit" else ndtr
    p0 = F(c[:, 0])  # P(lowest level) ~ Beta(alpha_1, sum of the others)
    ks = stats.kstest(p0, stats.beta(alpha[0], alpha[1:].sum()).cdf)
    assert ks.pvalue > 0.001
    assert np.all(np.diff(c, axis=1) > 0)


@pytest.fixture(scope="module")
def rich_design():
    data = bayesresp.simulate(missions=4, rows=300, seed=8).data
    formula = parse_formula(
        "response ~ severity + years_at_station + duty_location:interlocutor"
        " + mo(hierarchy_level) + (1 + duty_location | mission) + (1 | mission:department)"
    )
    return make_design(data, formula, Codebook.default())


def test_pymc_log_likelihood_equals_numpy_path(rich_design):
    """The model's likelihood and the prediction path compute the same eta and log-density."""
    model = build_model(rich_design, {}, "logit")
    names = [
        "b",
        "b_mo",
        "simplex[hierarchy_level]",
        "cutpoints",
        "r[mission]",
        "sd[mission]",
        "cor[mission]",
        "r[mission:department]",
        "sd[mission:department]",
    ]
    for loglik, post in loglik_at_random_points(model, names):
        draws = PosteriorArrays.from_posterior(post, rich_design.info)
        eta = eta_from_draws(draws, rich_design, groups="known")
        ours = log_prob(rich_design.y, eta, draws.cutpoints, "logit").sum()
        assert ours == pytest.approx(loglik, rel=1e-10)


def test_model_has_no_probability_matrix(rich_design):
    model = build_model(rich_design, {}, "logit")
    sizes = {
        v.name: np.prod(model.initial_point().get(v.name, np.zeros(1)).shape)
        for v in model.value_vars
    }
    assert max(sizes.values()) < rich_design.n  # nothing of size N x K among parameters
    assert [d.name for d in model.deterministics if d.name.startswith("r[")] == [
        "r[mission]",
        "r[mission:department]",
    ]


def test_unknown_prior_key_is_refused(rich_design):
    with pytest.raises(bayesresp.PriorError, match="'sd\\(official_id\\)' match nothing"):
        build_model(rich_design, {"b": "normal(0, 1)", "sd(official_id)": "halfnormal(1)"}, "logit")


def test_prior_overrides_reach_the_model(rich_design):
    model = build_model(
        rich_design,
        {
            "b": "normal(0, 10)",
            "severity[grave]": "normal(1, 2)",
            "sd(mission:department)": "exponential(2)",
        },
        "logit",
    )
    *_, mu, sigma = model["b"].owner.inputs
    names = rich_design.info.column_names
    assert sigma.eval()[names.index("severity[grave]")] == 2.0
    assert mu.eval()[names.index("severity[grave]")] == 1.0
    assert sigma.eval()[names.index("years_at_station")] == 10.0
    sd = model["sd[mission:department]"]
    assert "Exponential" in type(sd.owner.op).__name__
    assert np.ravel(sd.owner.inputs[-1].eval())[0] == pytest.approx(1 / 2)  # scale = 1/lam


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_log_prob_of_ranges_is_accurate_in_both_tails(link):
    """Ambiguous codes: P(lo <= y <= hi) for every range of five levels (exact rows
    among them, lo == hi), both forms (NumPy; PyTensor, the model's), at linear
    predictors from -50 to 50, against 1,200-digit references; its gradient against a
    central difference; and the sum of the covered levels' probabilities."""
    import pytensor
    import pytensor.tensor as pt

    from bayesresp.maths.cumulative import TENSOR

    K = len(CUTS) + 1
    pairs = np.array([(lo, hi) for lo in range(K) for hi in range(lo, K)])
    etas = np.array([-50.0, -20.0, -3.0, 0.0, 0.7, 20.0, 50.0])
    lo = np.tile(pairs[:, 0], len(etas))
    hi = np.tile(pairs[:, 1], len(etas))
    eta = np.repeat(etas, len(pairs))
    ref = np.array(
        [_reference_log_prob(a, x, CUTS, link, top=b) for a, b, x in zip(lo, hi, eta, strict=True)]
    )
    # The outer levels' padded cutpoints (+-PAD = 200) leave the whole spectrum a
    # probability of 1 - exp(-(PAD - |eta|)) at most: log P = -7e-66 where it is 0.
    pad = 2 * np.exp(-150.0)
    got = log_prob(lo, eta, CUTS, link, y_high=hi)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=pad)
    e, c = pt.vector("eta"), pt.vector("cuts")
    lp = log_prob(pt.as_tensor(lo), e, c, link, TENSOR, y_high=pt.as_tensor(hi))
    f = pytensor.function([e, c], [lp, pytensor.grad(pt.sum(lp), e)])
    model_lp, grad = f(eta, CUTS)
    np.testing.assert_allclose(model_lp, ref, rtol=1e-12, atol=pad)
    h = 1e-6
    numeric = (f(eta + h, CUTS)[0] - f(eta - h, CUTS)[0]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # an exact row written as a range is the exact row
    same = lo == hi
    np.testing.assert_array_equal(got[same], log_prob(lo[same], eta[same], CUTS, link))
    # where no tail is extreme, the covered levels' probabilities add up to it (to the
    # rounding of category_probs' differences of F, ~1e-16 absolute)
    p = category_probs(eta, CUTS, link)
    covered = np.array([p[i, a : b + 1].sum() for i, (a, b) in enumerate(zip(lo, hi, strict=True))])
    mild = np.abs(eta) <= 3
    np.testing.assert_allclose(np.exp(got[mild]), covered[mild], rtol=1e-12, atol=1e-15)
