"""Link functions: each link's NumPy, PyTensor and Numba forms against each other and
against 50-digit arithmetic; the interval log-probability in both tails; and the
cloglog and cauchit links fitted to real data against maximum likelihood."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from bayesresp.maths import links_numba
from bayesresp.maths.cumulative import (
    TENSOR,
    category_probs,
    expected_position,
    log_prob,
    log_prob_interval,
)
from bayesresp.maths.links import LINKS, get_link

mpmath.mp.dps = 50
NAMES = list(LINKS)
# Arguments from deep in the lower tail to deep in the upper one; 250 is the padded outer
# cutpoint (PAD = 200) minus a linear predictor of -50.
X = np.array([-250.0, -60.0, -35.0, -8.0, -1.5, -1e-3, 0.0, 0.7, 3.0, 9.0, 36.0, 250.0])


def _mp_cdf(name: str, x):
    x = mpmath.mpf(x)
    if name == "logit":
        return 1 / (1 + mpmath.exp(-x))
    if name == "probit":
        return mpmath.ncdf(x)
    if name == "cloglog":
        return -mpmath.expm1(-mpmath.exp(x))
    return mpmath.mpf(1) / 2 + mpmath.atan(x) / mpmath.pi


def _mp_sf(name: str, x):
    x = mpmath.mpf(x)
    if name == "cloglog":
        return mpmath.exp(-mpmath.exp(x))
    return _mp_cdf(name, -x)  # the symmetric links


def _mp_pdf(name: str, x):
    x = mpmath.mpf(x)
    if name == "logit":
        e = mpmath.exp(-abs(x))
        return e / (1 + e) ** 2
    if name == "probit":
        return mpmath.npdf(x)
    if name == "cloglog":
        return mpmath.exp(x - mpmath.exp(x))
    return 1 / (mpmath.pi * (1 + x * x))


def _rel(ours: float, ref) -> float:
    ref = float(ref)
    return abs(ours - ref) / max(abs(ref), 1e-300)


@pytest.mark.parametrize("name", NAMES)
def test_log_cdf_log_sf_log_pdf_against_50_digits(name):
    """NumPy and Numba forms within a few ulp (4e-15 relative; the log of a number near
    one, log F at x = 36, is compared absolutely) of 50-digit references."""
    link = get_link(name)
    for x in X:
        for ours_np, ours_nb, ref in (
            (link.log_cdf(x), links_numba.log_cdf(link.code, x), mpmath.log(_mp_cdf(name, x))),
            (link.log_sf(x), links_numba.log_sf(link.code, x), mpmath.log(_mp_sf(name, x))),
            (link.log_pdf(x), links_numba.log_pdf(link.code, x), mpmath.log(_mp_pdf(name, x))),
        ):
            for ours in (float(ours_np), float(ours_nb)):
                assert np.isfinite(ours), (name, x)
                assert _rel(ours, ref) < 4e-15 or abs(ours - float(ref)) < 1e-300 + 4e-16, (
                    name,
                    x,
                    ours,
                    float(ref),
                )


@pytest.mark.parametrize("name", NAMES)
def test_cdf_quantile_and_density_derivative(name):
    link = get_link(name)
    p = np.array([1e-9, 0.01, 0.3, 0.5, 0.8, 0.999])
    np.testing.assert_allclose(link.cdf(link.quantile(p)), p, rtol=1e-9)
    for x in (-7.0, -0.4, 0.0, 1.3, 5.0):
        assert abs(links_numba.cdf(link.code, x) - float(_mp_cdf(name, x))) < 1e-15
        h = 1e-5  # central difference of the 50-digit log density: error O(h^2)
        slope = (mpmath.log(_mp_pdf(name, x + h)) - mpmath.log(_mp_pdf(name, x - h))) / (2 * h)
        assert abs(links_numba.dlog_pdf(link.code, x) - float(slope)) < 1e-8


def _mp_interval(name: str, a: float, b: float):
    if a + b > 0:
        return mpmath.log(_mp_sf(name, a) - _mp_sf(name, b))
    return mpmath.log(_mp_cdf(name, b) - _mp_cdf(name, a))


INTERVALS = [(-250.0, -48.0), (-52.0, -49.5), (-3.0, -1.0), (-0.5, 0.25), (0.1, 0.1000001)]
INTERVALS += [(2.0, 4.0), (49.0, 52.0), (48.0, 250.0), (-50.0, 150.0), (-250.0, 250.0)]


@pytest.mark.parametrize("name", NAMES)
def test_interval_log_probability_in_both_tails(name):
    """log(F(b) - F(a)) and its derivatives, NumPy, PyTensor and Numba, against 50-digit
    references: 1e-12 relative (an interval of width 1e-7 loses about 1e-9 of its
    relative precision to the subtraction of its end points, which are exact inputs)."""
    import pytensor
    import pytensor.tensor as pt

    link = get_link(name)
    a_t, b_t = pt.dvector("a"), pt.dvector("b")
    value = log_prob_interval(a_t, b_t, link, TENSOR)
    grads = pytensor.grad(value.sum(), [a_t, b_t])
    graph = pytensor.function([a_t, b_t], [value, *grads])
    a = np.array([i[0] for i in INTERVALS])
    b = np.array([i[1] for i in INTERVALS])
    v_t, da_t, db_t = graph(a, b)
    v_np = log_prob_interval(a, b, link)
    for i, (lo, hi) in enumerate(INTERVALS):
        ref = _mp_interval(name, lo, hi)
        tol = 1e-9 if hi - lo < 1e-5 else 1e-12
        v_nb, da_nb, db_nb = links_numba.interval(link.code, lo, hi)
        for ours in (v_np[i], v_t[i], v_nb):
            assert _rel(float(ours), ref) < tol or abs(float(ours) - float(ref)) < 1e-15, (
                name,
                lo,
                hi,
                float(ours),
                float(ref),
            )
        p = mpmath.exp(ref)
        ref_da = -_mp_pdf(name, lo) / p
        ref_db = _mp_pdf(name, hi) / p
        for da, db in ((da_t[i], db_t[i]), (da_nb, db_nb)):
            assert np.isfinite(da) and np.isfinite(db)
            assert _rel(float(da), ref_da) < 1e-7 or abs(float(da) - float(ref_da)) < 1e-12
            assert _rel(float(db), ref_db) < 1e-7 or abs(float(db) - float(ref_db)) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_probabilities_sum_to_one_and_expected_position_agrees(name):
    rng = np.random.default_rng(3)
    cut = np.sort(rng.normal(0.0, 2.0, (5, 6)), axis=1)
    eta = rng.normal(0.0, 3.0, (5, 40))
    p = category_probs(eta, cut[:, None, :], name)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        expected_position(eta, cut[:, None, :], name), (p * np.arange(7)).sum(-1), atol=1e-12
    )
    # the log-likelihood of each level is the log of its probability (where a difference
    # of distribution functions still resolves it: above 1e-8)
    y = rng.integers(0, 7, 40)
    lp = log_prob(y, eta, cut, name)
    p_y = np.take_along_axis(p, y[None, :, None], -1)[..., 0]
    big = p_y > 1e-8
    assert big.mean() > 0.8
    np.testing.assert_allclose(lp[big], np.log(p_y[big]), rtol=1e-7, atol=1e-15)


# -- real data: MASS's housing satisfaction survey ----------------------------------------
def _mle(housing, name: str) -> dict[str, float]:
    """Maximum likelihood by statsmodels' OrderedModel, with the link's distribution from
    SciPy (minimum Gumbel for cloglog, Cauchy for cauchit): an implementation that shares
    nothing with bayesresp. Its parameters: the coefficients, the first cutpoint, then
    the logs of the cutpoints' increments."""
    import pandas as pd
    from scipy import stats
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    distr = {"cloglog": stats.gumbel_l, "cauchit": stats.cauchy}[name]
    X = pd.get_dummies(housing[["Infl", "Type", "Cont"]], drop_first=True, dtype=float)
    res = OrderedModel(housing["Sat"], X, distr=distr).fit(method="bfgs", disp=False)
    out = {}
    for column in X.columns:
        var, level = column.split("_", 1)
        out[f"{var}[{level}]"] = float(res.params[column])
    t = res.params.iloc[len(X.columns) :].to_numpy()
    cuts = np.concatenate([[t[0]], t[0] + np.cumsum(np.exp(t[1:]))])
    out["cutpoint[Low|Medium]"], out["cutpoint[Medium|High]"] = cuts
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cloglog", "cauchit"])
@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "graph"])
def test_new_links_agree_with_maximum_likelihood_on_real_data(housing, name, kernel):
    """At default settings (default priors, 1,000 draws x 4 chains), the posterior
    median of every coefficient and cutpoint lies within 0.3 posterior sd of the maximum
    likelihood estimate, through the compiled kernel and through PyMC's graph.

    The links are under test here, not the default prior (that is
    tests/inference/test_default_prior_real_data.py's): both get independent normal(0, s)
    coefficients with s their latent unit (cloglog 0.71, cauchit 0.91; cauchit's default).

    Why 0.3 sd: with 1,681 rows the likelihood is close to normal around the MLE, and a
    normal(0, s) prior moves the posterior towards zero by about ``sd^2 / s^2`` times the
    estimate, that is by ``sd |estimate| / s^2`` posterior sds: at most 0.17 here (for
    Infl[High], 0.9 with sd 0.09, under cloglog's s = 0.71). The Monte Carlo error of a
    median is about 1.25 sd / sqrt(ESS), under 0.03 sd at ESS 2,000, so three of them add
    0.09. A wrong link, sign or reference level misses by several sds (the cloglog fit is
    6.5 sds from the cauchit MLE)."""
    import bayesresp

    scale = round(get_link(name).scale, 4)
    spec = {
        "formula": "Sat ~ Infl + Type + Cont",
        "link": name,
        "priors": {"b": f"normal(0, {scale})"},
    }
    fit = bayesresp.fit(housing, spec, seed=11, progress=False, kernel=kernel)
    assert fit.meta["log_density"] == ("kernel" if kernel else "pytensor")
    assert fit.convergence()["verdict"] == "ok"
    table = fit.summary()
    mle = _mle(housing, name)
    assert set(mle) == set(table.index)
    for parameter, value in mle.items():
        row = table.loc[parameter]
        assert abs(row["median"] - value) < 0.3 * row["sd"], (parameter, row["median"], value)


@pytest.mark.parametrize("name", ["cloglog", "cauchit"])
def test_new_links_work_in_every_verb(example, tmp_path, name):
    """A short fit with each new link goes through what-if, contrasts, checks, the fit
    file and the report; cauchit says plainly that it has no variance decomposition."""
    import bayesresp

    spec = {"formula": "response ~ severity + background + (1 | mission)", "link": name}
    fit = bayesresp.fit(
        example.head(400), spec, draws=100, tune=150, chains=2, seed=3, progress=False
    )
    assert fit.meta["log_density"] == "kernel"
    profile = {
        "mission": example["mission"].iloc[0],
        "severity": 3,
        "background": "military_security",
    }
    answer = fit.what_if(profile, fill="typical").summary()
    assert 0 <= answer["expected_position"].iloc[0] <= 7
    fit.contrast(profile, {"background": "development_agency"}, fill="typical")
    assert fit.ppc(draws=50, progress=False).table is not None
    assert fit.diagnose().verdict in ("ok", "warn", "fail")
    loaded = bayesresp.load_fit(fit.save(tmp_path / "f.nc"))
    assert loaded.spec.link == name
    page = fit.report(tmp_path / "r.html", ppc_draws=20).read_text()
    assert f"cumulative {name}" in page
    if name == "cauchit":
        with pytest.raises(bayesresp.BayesrespError, match="has no variance"):
            fit.variance_decomposition()
        assert "Not available: the cauchit link" in page
        with pytest.raises(bayesresp.BayesrespError, match="logit link"):
            fit.odds_ratios()
    else:
        shares = fit.variance_decomposition()["share"]
        assert abs(shares.sum() - 1) < 1e-9


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_induced_dirichlet_prior_in_both_tails(name, alpha):
    """The cutpoint prior, PyMC's graph and the kernel, against 50-digit arithmetic, with
    cutpoints whose outer levels are nearly empty (a cloglog's top level above c = 4.5
    has probability exp(-90), which 1 - F(c) rounds to 0); the kernel's gradient against
    central differences."""
    import pytensor.tensor as pt

    from bayesresp.inference import kernel
    from bayesresp.model.graph import induced_dirichlet

    link = get_link(name)
    c = np.array([-6.0, -0.5, 1.0, 4.5])
    K = len(c) + 1
    log_p = []
    for k in range(K):  # each level's probability without cancellation
        lo = c[k - 1] if k > 0 else -np.inf
        hi = c[k] if k < K - 1 else np.inf
        if hi == np.inf:
            log_p.append(mpmath.log(_mp_sf(name, lo)))
        elif lo == -np.inf:
            log_p.append(mpmath.log(_mp_cdf(name, hi)))
        else:
            log_p.append(_mp_interval(name, lo, hi))
    ref = mpmath.loggamma(K * alpha) - K * mpmath.loggamma(alpha)
    ref += sum((alpha - 1) * lp for lp in log_p)
    ref += sum(mpmath.log(_mp_pdf(name, v)) for v in c)
    logp, _ = induced_dirichlet(name)
    graph = float(logp(pt.as_tensor(c), pt.as_tensor(np.full(K - 1, alpha)), alpha).eval())
    gc = np.zeros(len(c))
    ours = kernel._induced_dirichlet(c, alpha, link.code, link.pad, gc)
    for value in (graph, ours):
        assert abs(value - float(ref)) < 1e-10 * max(1.0, abs(float(ref))), (value, float(ref))
    h = 1e-6
    for k in range(len(c)):
        up, down = c.copy(), c.copy()
        up[k] += h
        down[k] -= h
        scratch = np.zeros(len(c))
        slope = (
            kernel._induced_dirichlet(up, alpha, link.code, link.pad, scratch)
            - kernel._induced_dirichlet(down, alpha, link.code, link.pad, scratch)
        ) / (2 * h)
        assert abs(gc[k] - slope) < 1e-5 * max(1.0, abs(slope)), (k, gc[k], slope)


def test_the_kernels_reflected_cloglog_against_50_digits():
    """The kernel's reflected cloglog (``LOGLOG``: F(x) = exp(-exp(-x)), the link with
    which cratio's steps stop under the cloglog link): log F, log S, log f, its
    derivative, F, and the interval with its derivatives, against 50-digit references
    (1e-12 relative, or 1e-15 absolute near zero; the interval as above)."""
    from bayesresp.maths.links import LOGLOG

    def cdf(x):
        return mpmath.exp(-mpmath.exp(-mpmath.mpf(x)))

    def sf(x):
        return -mpmath.expm1(-mpmath.exp(-mpmath.mpf(x)))

    def pdf(x):
        x = mpmath.mpf(x)
        return mpmath.exp(-x - mpmath.exp(-x))

    def close(ours, ref, tol=1e-12):
        return _rel(float(ours), ref) < tol or abs(float(ours) - float(ref)) < 1e-15

    for x in X:
        for ours, ref in (
            (links_numba.log_cdf(LOGLOG, x), mpmath.log(cdf(x))),
            (links_numba.log_sf(LOGLOG, x), mpmath.log(sf(x))),
            (links_numba.log_pdf(LOGLOG, x), mpmath.log(pdf(x))),
            (links_numba.cdf(LOGLOG, x), cdf(x)),
            (links_numba.dlog_pdf(LOGLOG, x), mpmath.diff(lambda t: mpmath.log(pdf(t)), x)),
        ):
            assert close(ours, ref), (x, float(ours), float(ref))
    for lo, hi in INTERVALS:
        ref = mpmath.log(cdf(hi) - cdf(lo)) if lo + hi < 0 else mpmath.log(sf(lo) - sf(hi))
        v, da, db = links_numba.interval(LOGLOG, lo, hi)
        tol = 1e-9 if hi - lo < 1e-5 else 1e-12
        assert close(v, ref, tol), (lo, hi, v, float(ref))
        p = mpmath.exp(ref)
        assert close(da, -pdf(lo) / p, 1e-7) and close(db, pdf(hi) / p, 1e-7), (lo, hi)


def test_the_kernels_branch_free_probit_interval_in_a_row_loop():
    """The probit's interval as the kernel's loops over rows evaluate it
    (links_numba.probit_interval and probit_interval_wide inlined into a loop with the
    kernel's reassociation, contraction and error model, where they vectorise), against
    50-digit values: 8,000 intervals from the far lower tail to the far upper one, of
    widths 1e-14 to 300, straddling zero or not, with one-ulp intervals, intervals from
    zero, intervals within 1/2 of zero on both sides, and intervals whose log p is near 0.

    The tolerances are the forms' error bounds. Their terms carry a few ulp each (erfcx,
    exp, products); a density exp(-x^2 / 2) carries the rounding of x^2 / 2, a relative
    (x^2 / 2) eps.
    - Wide (half-width times max(|midpoint|, 1) over 0.01): on one side of zero p is the
      difference of two terms, each at most T = min(Phi(b), 1 - Phi(a)), so p's relative
      error is at most about 4 eps T / p; straddling zero it is a sum (T / p taken as 1,
      which needs erf's series below |x| = 1/2). log p is held to 8 eps (T / p + |log p|)
      absolute, the derivatives to 8 eps (T / p + 1 + (a^2 + b^2) / 2) relative.
    - Narrow: the series about the midpoint subtracts nothing: log p to
      8 eps (1 + |log p|) absolute, the derivatives to 16 eps relative.
    - log p near 0 (p above 1/2, with tails beyond both ends) goes through log1p of the
      tails: held to 8 eps (1 + (a^2 + b^2) / 2) relative (the tails' density rounding),
      where log of the rounded p would be off by up to 1e-16 absolute, that is
      entirely, once log p is below 1e-16.
    - Around zero, (-1e-9, 1e-9) to 1e-15 relative, where the general form through
      libm's erfc (links_numba._interval) is 1.9e-9 off; (0, 1e-300), beyond 50 digits,
      against log(1e-300 phi(0)).
    - The wide form is the full one, bit for bit, on intervals wider than 0.02, where the
      kernel calls it; a == b gives (-inf, -inf, inf), as the general form does."""
    import numba

    from bayesresp.inference import kernel

    @numba.njit(fastmath=kernel._ROW_MATH, error_model="numpy")
    def rows(a, b, out, wide):
        for i in range(a.shape[0]):
            out[0, i], out[1, i], out[2, i] = links_numba.probit_interval(a[i], b[i])
            wide[0, i], wide[1, i], wide[2, i] = links_numba.probit_interval_wide(a[i], b[i])

    rng = np.random.default_rng(11)
    centre = np.concatenate([rng.normal(0.0, 3.0, 4_000), rng.uniform(-60.0, 60.0, 4_000)])
    width = 10.0 ** rng.uniform(-14.0, 2.5, 8_000)
    ulp = np.array([-0.15105991226761262, 0.09660896678280295, -3.0, 7.5, 0.5, -0.5])
    near_one = [(-250.0, 10.0), (-60.0, 3.0), (-40.0, 8.0), (-9.0, 30.0), (-5.0, 250.0)]
    # straddling zero with both ends within 1/2 of it: where erf's series is needed
    around = (-(10.0 ** rng.uniform(-3.0, -0.3, 300)), 10.0 ** rng.uniform(-3.0, -0.3, 300))
    a = np.concatenate(
        [
            centre - width / 2,
            [i[0] for i in INTERVALS],
            ulp,
            np.zeros(5),
            [lo for lo, _ in near_one],
            [-hi for _, hi in near_one],
            around[0],
            [-1e-9],
        ]
    )
    b = np.concatenate(
        [
            centre + width / 2,
            [i[1] for i in INTERVALS],
            np.nextafter(ulp, np.inf),
            [1e-12, 1e-9, 1e-3, 0.3, 2.0],
            [hi for _, hi in near_one],
            [-lo for lo, _ in near_one],
            around[1],
            [1e-9],
        ]
    )
    out, wide = np.empty((3, len(a))), np.empty((3, len(a)))
    rows(a, b, out, wide)
    assert np.isfinite(out).all()
    eps = np.finfo(float).eps
    for i in range(len(a)):
        lo, hi = mpmath.mpf(a[i]), mpmath.mpf(b[i])
        p = (
            mpmath.ncdf(-lo) - mpmath.ncdf(-hi)
            if lo + hi > 0
            else mpmath.ncdf(hi) - mpmath.ncdf(lo)
        )
        # near 1, p's tails beyond both ends (50 digits of p would round them away)
        log_p = mpmath.log1p(-(mpmath.ncdf(lo) + mpmath.ncdf(-hi))) if p > 0.5 else mpmath.log(p)
        da, db = -mpmath.npdf(lo) / p, mpmath.npdf(hi) / p
        half, mid = (b[i] - a[i]) / 2, (a[i] + b[i]) / 2
        if half * max(abs(mid), 1.0) <= 0.01:
            bound, dbound = 8 * eps * (1 + abs(float(log_p))), 16 * eps
        else:
            # straddling zero, p is a sum of two positive terms: nothing to lose
            ratio = 1.0 if a[i] < 0 < b[i] else float(min(mpmath.ncdf(hi), mpmath.ncdf(-lo)) / p)
            bound = 8 * eps * (ratio + abs(float(log_p)))
            dbound = 8 * eps * (ratio + 1 + (a[i] ** 2 + b[i] ** 2) / 2)
            assert tuple(wide[:, i]) == tuple(out[:, i]), (a[i], b[i])
        assert abs(out[0, i] - float(log_p)) <= bound, (a[i], b[i])
        for ours, ref in ((out[1, i], da), (out[2, i], db)):
            assert abs(ours - float(ref)) <= dbound * abs(float(ref)) + 1e-300, (a[i], b[i])
        if p > 0.5:
            relative = 8 * eps * (1 + (a[i] ** 2 + b[i] ** 2) / 2)  # a tail's density rounding
            assert abs(out[0, i] - float(log_p)) <= relative * abs(float(log_p)), (a[i], b[i])
    assert sum(abs(v) < 1e-16 for v in out[0]) >= 5  # log p near 0 was reached
    assert abs(out[0, -1] / float(mpmath.log(mpmath.ncdf(1e-9) - mpmath.ncdf(-1e-9))) - 1) < 1e-15
    tiny = links_numba.probit_interval(0.0, 1e-300)
    assert abs(tiny[0] - (math.log(1e-300) - 0.5 * math.log(2 * math.pi))) < 1e-12
    assert links_numba.probit_interval(1.0, 1.0) == (-math.inf, -math.inf, math.inf)
