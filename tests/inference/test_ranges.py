"""Ambiguous codes (issue 16, part A): a response coded as a range of levels counts as
P(low <= y <= high) in every path, the PyMC graph, the compiled kernel (and its C
callback) and the per-row log-likelihood, compressed or not.

The maths itself is tied to 1,200-digit references in
``tests/model/test_maths_model.py::test_log_prob_of_ranges_is_accurate_in_both_tails``;
here the paths are tied to it and to each other.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.inference import kernel, packing
from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws
from bayesresp.maths.cumulative import log_prob
from bayesresp.model.design import compress
from bayesresp.model.graph import build_model
from tests.inference.test_kernel import NORMAL_B, _design, _pymc_agrees, _wide_draws
from tests.pymc_eval import PY


def _ranged(design, share=0.2, seed=0):
    """The design with a share of its rows widened into ranges around their level (one
    to three levels below, above or both), as a coder unsure between neighbours, and a
    few into the whole spectrum (both padded ends at once)."""
    rng = np.random.default_rng(seed)
    K = len(design.info.spectrum)
    y = np.asarray(design.y)
    pick = rng.random(design.n) < share
    down = rng.integers(0, 3, design.n) * pick
    up = (rng.integers(0, 3, design.n) + (down == 0)) * pick
    low = np.maximum(y - down, 0)
    high = np.minimum(y + up, K - 1)
    whole = rng.random(design.n) < 0.01
    low, high = np.where(whole, 0, low), np.where(whole, K - 1, high)
    out = dataclasses.replace(design, y=low, y_high=high)
    assert out.ranges.sum() > 0.15 * design.n  # some widened rows hit an end: not all count
    return out


# Each path of the kernel: every link, r2d2 (the default) and normal priors, mo() steps,
# two nested groups and an uncorrelated slope.
RANGED_CASES = [
    ("models/hierarchical.toml", "logit", {}),
    ("models/hierarchical.toml", "probit", NORMAL_B),
    ("response ~ severity + background + mo(hierarchy_level) + (1 | mission)", "cloglog", {}),
    (
        "response ~ severity + years_at_station + (1 + years_at_station || mission)",
        "cauchit",
        {"cutpoints": "normal(0, 3)"},
    ),
]


@pytest.mark.parametrize("case", range(len(RANGED_CASES)))
def test_kernel_with_ranges_is_the_model_log_density(example, case):
    """Kernel and PyMC's graph at random points: equal gradients (1e-12 of the largest)
    and log-density differences (tolerances argued in test_kernel); the cells are the K
    levels then the distinct ranges; the C callback equals the kernel bit for bit."""
    formula, link, priors = RANGED_CASES[case]
    exact, spec = _design(example, formula, link, priors)
    design = _ranged(exact, seed=case)
    packed = packing.pack(design, spec.priors, spec.link, centring=False)
    cells = packed.arrays["cells"]  # lowest, highest level, first row, end row
    K = len(design.info.spectrum)
    assert np.array_equal(cells[:K, :2], np.column_stack([np.arange(K), np.arange(K)]))
    assert np.all(cells[K:, 0] < cells[K:, 1]) and len(cells) > K
    assert cells[0, 2] == 0 and np.array_equal(cells[1:, 2], cells[:-1, 3])
    assert cells[-1, 3] == design.n
    assert [0, K - 1] in cells[:, :2].tolist()  # the whole spectrum
    counts = cells[:, 3] - cells[:, 2]
    pairs = {(a, b): 0 for a, b in cells[:, :2].tolist()}
    for a, b in zip(design.y.tolist(), design.y_high.tolist(), strict=True):
        pairs[(a, b)] += 1
    assert counts.tolist() == list(pairs.values())
    _pymc_agrees(design, spec, packed, seed=case)
    # the ranges change the density: the exact design's differs
    x = packed.start + np.random.default_rng(9).normal(0.0, 0.5, packed.n_dim)
    exact_packed = packing.pack(exact, spec.priors, spec.link, centring=False)
    assert kernel.evaluate(packed, x)[0] != pytest.approx(kernel.evaluate(exact_packed, x)[0])
    # the C callback reads the cells from the header
    import ctypes

    logp_fn, _ = kernel.callbacks()
    grad, out = np.empty(packed.n_dim), np.empty(1)
    dbl = ctypes.POINTER(ctypes.c_double)
    rc = logp_fn.ctypes(
        packed.n_dim,
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        out.ctypes.data_as(dbl),
        packed.header.ctypes.data_as(ctypes.c_void_p),
    )
    lp, ref_grad = kernel.evaluate(packed, x)
    assert rc == 0 and out[0] == lp
    np.testing.assert_array_equal(grad, ref_grad)


@pytest.fixture(scope="module")
def many_rows_per_level():
    """Few missions, many rows per department (centred layouts are asked for)."""
    return bayesresp.validate(bayesresp.simulate(missions=4, rows=3000, seed=3).data)


def test_ranges_in_a_centred_model(many_rows_per_level):
    """Hierarchical centring (the innermost group's level means in place of its z) reads
    the ranged rows through the same cells: finite, not the exact design's density, and
    its likelihood at a point is maths.log_prob's with y_high at the effects the point
    maps to (packing.posterior)."""
    import xarray as xr

    exact, spec = _design(many_rows_per_level, "models/hierarchical.toml", "logit", NORMAL_B)
    design = _ranged(exact, seed=3)
    centred = packing.pack(design, spec.priors, spec.link, centring=True)
    exact_centred = packing.pack(exact, spec.priors, spec.link, centring=True)
    assert centred.centred
    x = centred.start + np.random.default_rng(2).normal(0.0, 0.3, centred.n_dim)
    lp, grad = kernel.evaluate(centred, x)
    assert np.isfinite(lp) and np.isfinite(grad).all()
    assert lp != pytest.approx(kernel.evaluate(exact_centred, x)[0])
    draws = xr.Dataset(
        {"unconstrained": (("chain", "draw", "d"), x[None, None])},
        coords={"chain": [0], "draw": [0]},
    )
    arrays = PosteriorArrays.from_posterior(packing.posterior(centred, draws), design.info)
    eta = eta_from_draws(arrays, design, "known")
    ref = log_prob(design.y, eta, arrays.cutpoints, "logit", y_high=design.y_high)
    np.testing.assert_allclose(kernel.log_likelihood(design, arrays, "logit"), ref, rtol=1e-12)
    # the kernel's log density minus its prior part is that likelihood's sum: move only
    # the data (exact vs ranged) and the difference is the likelihoods' difference. Both
    # sides sum 3,000 terms of size ~1 in another order (rounding ~1e-13 absolute) and
    # the difference is ~100: 1e-12 relative bounds it with room.
    ref_exact = log_prob(exact.y, eta, arrays.cutpoints, "logit")
    assert lp - kernel.evaluate(exact_centred, x)[0] == pytest.approx(
        float(ref.sum() - ref_exact.sum()), rel=1e-12
    )


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog", "cauchit"])
def test_log_likelihood_of_ranges_is_the_numpy_one(example, link):
    """The stored per-row log-likelihood (kernel.log_likelihood) of a ranged design equals
    eta_from_draws + maths.log_prob with y_high, in the design's row order, at draws
    reaching the tails; kernel.pointwise_log_prob too; compressed rows too."""
    formula = "response ~ severity + background + mo(hierarchy_level) + (1 | mission)"
    exact, _ = _design(example, formula, link, {})
    for compressed in (False, True):
        design = _ranged(exact, seed=11)
        if compressed:
            design, _ = compress(design)
        draws = _wide_draws(design.info, 5, np.random.default_rng(7))
        ours = kernel.log_likelihood(design, draws, link)
        eta = eta_from_draws(draws, design, "known")
        ref = log_prob(design.y, eta, draws.cutpoints, link, y_high=design.y_high)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)
        pointwise = kernel.pointwise_log_prob(
            design.y, eta, draws.cutpoints, link, y_high=design.y_high
        )
        np.testing.assert_allclose(pointwise, ref, rtol=1e-12, atol=1e-300)
        # a range is at least as likely as any level it covers
        for_low = log_prob(design.y, eta, draws.cutpoints, link)
        assert np.all(ours >= for_low - 1e-12 * (1.0 + np.abs(for_low)))


def test_compression_keeps_ranges_apart(example):
    """Exact compression: rows with the same covariates and groups but another range
    are different rows; the compressed design's density is the full one's."""
    exact, spec = _design(example, "response ~ severity + background + (1 | mission)", "logit", {})
    design = _ranged(exact, seed=5)
    small, inverse = compress(design)
    assert small.n < design.n
    np.testing.assert_array_equal(small.y[inverse], design.y)
    np.testing.assert_array_equal(small.y_high[inverse], design.y_high)
    a = packing.pack(design, spec.priors, spec.link, centring=False)
    b = packing.pack(small, spec.priors, spec.link, centring=False)
    x = a.start + np.random.default_rng(1).normal(0.0, 0.5, a.n_dim)
    (lp_a, g_a), (lp_b, g_b) = kernel.evaluate(a, x), kernel.evaluate(b, x)
    assert lp_a == pytest.approx(lp_b, rel=1e-12)
    np.testing.assert_allclose(g_a, g_b, rtol=0, atol=1e-11 * np.abs(g_a).max())
    # and PyMC's graph (its pm.Data y_high) is the compressed kernel's density: a graph
    # that ignored the ranges would differ from the kernel, which reads them
    _pymc_agrees(small, spec, b, seed=6)


def test_the_graph_of_a_correlated_slope_model_reads_ranges(example):
    """PyMC's graph of a model with correlated varying slopes (LKJ): its summed
    likelihood (the Potential) with ranges equals maths.log_prob with y_high in NumPy at
    the linear predictor and cutpoints of the same point (the model's own variables,
    through eta_from_draws), and the log density moves from the exact codes' by that
    change of likelihood alone."""
    import xarray as xr

    formula = "response ~ severity + years_at_station + (1 + years_at_station | mission)"
    exact, spec = _design(example, formula, "probit", NORMAL_B)
    design = _ranged(exact, seed=8)
    m_exact = build_model(exact, spec.priors, spec.link)
    m_range = build_model(design, spec.priors, spec.link)
    point = m_range.initial_point(random_seed=4)
    point = {k: v + np.random.default_rng(1).normal(0, 0.3, np.shape(v)) for k, v in point.items()}
    names = ["b", "cutpoints", "r[mission]", "sd[mission]", "cor[mission]"]

    def at_point(model, outputs):
        graphs = model.replace_rvs_by_values(outputs)
        return model.compile_fn(graphs, inputs=model.value_vars, on_unused_input="ignore", mode=PY)(
            point
        )

    values = at_point(m_range, [m_range[n] for n in names])
    post = xr.Dataset(
        {
            n: (
                ("chain", "draw", *(f"{n}_{i}" for i in range(np.ndim(v)))),
                np.asarray(v)[None, None],
            )
            for n, v in zip(names, values, strict=True)
        }
    )
    arrays = PosteriorArrays.from_posterior(post, design.info)
    eta = eta_from_draws(arrays, design, "known")
    ref = log_prob(design.y, eta, arrays.cutpoints, "probit", y_high=design.y_high).sum()
    ref_exact = log_prob(exact.y, eta, arrays.cutpoints, "probit").sum()

    def loglik(model):
        return float(at_point(model, [model["loglik"]])[0])

    # sums of 2,000 terms of size ~1, in other orders: ~1e-13 absolute each
    assert loglik(m_range) == pytest.approx(ref, rel=1e-12)
    moved = m_range.compile_logp(mode=PY)(point) - m_exact.compile_logp(mode=PY)(point)
    assert moved == pytest.approx(ref - ref_exact, rel=1e-9, abs=1e-9)


# -- fits: the ranges carry information, and everything downstream reads them ----------
@pytest.fixture(scope="module")
def coarsened():
    """The same simulated responses three ways (the coding is drawn last, so the seed
    gives the same rows and levels): every response exact; 30% of them coded as ranges
    of two or three levels (coarsened at random); and only the exact rows of the
    latter, the ranges dropped. Default priors and sampler settings but the seed and
    2,000 draws per chain, as the README advises for hierarchical fits (at 1,000, a
    coefficient's r_hat reached 1.0105 on an AMD EPYC machine)."""
    settings = dict(seed=5, progress=False, draws=2000)
    full = bayesresp.simulate(missions=12, rows=2000, seed=20261)
    coarse = bayesresp.simulate(missions=12, rows=2000, seed=20261, ambiguous=0.3)
    assert full.data.drop(columns="response").equals(
        coarse.data.drop(columns=["response", "response_low", "response_high"])
    )
    ranged = coarse.data["response"].isna().to_numpy()
    exact_rows = coarse.data.loc[~ranged].drop(columns=["response_low", "response_high"])
    spec = "models/hierarchical.toml"
    return {
        "truth": coarse.truth,
        "data": coarse.data,
        "ranged": ranged,
        "exact": bayesresp.fit(full.data, spec, **settings),
        "ranges": bayesresp.fit(coarse.data, spec, **settings),
        "exact rows only": bayesresp.fit(exact_rows, spec, **settings),
    }


@pytest.mark.slow
def test_ranges_add_information_and_recover_the_truth(coarsened):
    """30% of 2,000 responses coded as ranges. Against the fit of the exact rows alone
    (the ranges dropped), the coefficients' posterior sds shrink: a range of two or
    three levels still says where on the spectrum a response lies. Against the fit of
    every response exact, they do not shrink: a range says no more than its level.

    Sizes (seed 20261, 29% of rows ranges): dropping the ranges inflates the sds by
    13% (geometric mean over the 30 coefficients); coding them as ranges instead of
    levels by about 1%, so a range of two or three of eight levels keeps ~90% of an
    exact row's information about the coefficients (the latent logistic noise blurs a
    response more than the coarsening does). The sds of the ranges fit are 0.895 of
    those of the exact rows alone (geometric mean; measured at 1,000 draws per chain).
    Monte Carlo error at 2,000 draws per chain: a posterior sd at bulk ESS ~1,800 is off
    by ~1.7% relative, a ratio of two by ~2.4%, a geometric mean of 30 ratios by ~0.4%
    (at 1,000: 2.4%, 3.4%, 0.6%). Hence: every ratio to the exact-rows fit below 1.1,
    their geometric mean below 0.95 (9 errors at 1,000 draws above 0.895, 8 below no
    gain at all); the ratio of the all-exact fit's sds to the ranges fit's, expected
    0.988, below 1.005 (ranges no more informative than exact codes, 3 errors of margin
    at 1,000 draws, more at 2,000)."""
    from tests.inference.test_fit import _truth_in_model_units

    fits = {k: coarsened[k] for k in ("exact", "ranges", "exact rows only")}
    for name, fit in fits.items():
        assert fit.meta["log_density"] == "kernel", name
        assert fit.convergence()["verdict"] == "ok", (name, fit.convergence())
    names = fits["ranges"].info.column_names
    sd = {k: f.summary().loc[names, "sd"] for k, f in fits.items()}
    shrink = sd["ranges"] / sd["exact rows only"]
    assert shrink.max() < 1.1, shrink.sort_values().tail()
    assert np.exp(np.log(shrink).mean()) < 0.95, shrink.describe()
    grow = sd["exact"] / sd["ranges"]
    assert np.exp(np.log(grow).mean()) < 1.005, grow.describe()
    # Recovery. Against the truth: the 90% intervals cover it at about the nominal
    # rate (>= 75%). Against the fit of the same responses all exact: coarsening moves
    # no coefficient by more than one posterior sd. For nested data the two means differ
    # by about sqrt(sd_r^2 - sd_e^2) (the information the ranges lose): ~0.25 sd at the
    # sd ratios seen here (1.00-1.06), a little more as the r2d2 prior's shared scale
    # moves with the data; the largest of 30 shifts is then ~0.7 sd (0.66 at this seed),
    # and the Monte Carlo error of each mean adds ~0.03 sd. (The distance to the truth
    # itself is not bounded per coefficient: on this data set the exact fit lies 3.6 sd
    # from it for hierarchy_level[section_chief], a property of the data, not of the
    # ranges.)
    fit = fits["ranges"]
    true = pd.Series(_truth_in_model_units(fit, coarsened["truth"]))
    rows = fit.summary(ci=0.9).loc[list(true.index)]
    covered = (rows["q5"] <= true) & (true <= rows["q95"])
    assert covered.mean() >= 0.75, covered[~covered]
    r, e = fit.summary().loc[names], fits["exact"].summary().loc[names]
    moved = (r["mean"] - e["mean"]).abs() / r["sd"]
    assert moved.max() <= 1.0, moved.sort_values().tail()


@pytest.mark.slow
def test_a_fit_with_ranges_downstream(coarsened, tmp_path):
    """What a user does next reads the ranges as ranges: the stored observed data (NaN
    where a row is a range, its bounds beside), the per-row log-likelihood (each row's
    P(low <= y <= high)), LOO, the predictive check (levels counted over the completed
    data; a table of the ranges), the saved fit, and the report."""
    from bayesresp.checks.predictive import replicate

    fit, data, ranged = coarsened["ranges"], coarsened["data"], coarsened["ranged"]
    assert fit.design.ranges.sum() == ranged.sum() > 0
    observed = fit.tree["observed_data"].to_dataset()
    assert np.isnan(observed["response"].values[ranged]).all()
    assert not np.isnan(observed["response"].values[~ranged]).any()
    low = data["response_low"].cat.codes.to_numpy().astype(float)  # -1: no range
    np.testing.assert_array_equal(observed["response_low"].values[ranged], low[ranged])
    ll = fit.tree["log_likelihood"].to_dataset()["response"].values.reshape(-1, len(data))
    eta = eta_from_draws(fit.arrays, fit.design, "known")
    ref = log_prob(fit.design.y, eta, fit.arrays.cutpoints, "logit", y_high=fit.design.y_high)
    np.testing.assert_allclose(ll, ref, rtol=1e-10)
    assert np.isfinite(fit.loo().elpd)
    # the predictive check: levels counted over the completed data (every row, a range
    # row at a level drawn within its range draw by draw), against replicates of all rows
    y_rep, completed = replicate(fit, 50, complete=True)
    assert y_rep.shape == completed.shape == (50, len(data))
    assert (completed[:, ~ranged] == fit.design.y[~ranged]).all()
    assert ((completed >= fit.design.y) & (completed <= fit.design.y_high)).all()
    assert len(np.unique(completed[:, ranged], axis=0)) > 1  # redrawn, not fixed
    np.testing.assert_array_equal(replicate(fit, 50), y_rep)  # the same replicates
    ppc = fit.ppc(progress=False)
    levels = ppc.table.loc["overall"]
    assert levels["observed"].sum() == pytest.approx(len(data))
    # Under the right model few cells fall outside their 95% interval: the completed
    # counts vary less than an observed count would, so each cell is outside with
    # probability below 5%; two or more of eight has probability under 6%. (Counting
    # the exact rows alone would be biased: coarsening at random leaves the end levels
    # exact more often, 0.83 against 0.70 in the middle.)
    assert levels["outside"].sum() <= 1, levels
    ranges = ppc.ranges.loc["overall"]
    assert ranges["rows"].sum() == ranged.sum()
    assert all(".." in r for r in ranges.index)
    assert ((ranges["p_inside"] > 0.2) & (ranges["p_inside"] < 1)).all(), ranges
    assert ppc.pit.min() >= 0.0 and ppc.pit.max() <= 1.0
    assert "Ranges (ambiguous codes)" in str(ppc)
    path = fit.save(tmp_path / "ranges.nc")
    again = bayesresp.load_fit(path)
    np.testing.assert_array_equal(again.design.y_high, fit.design.y_high)
    np.testing.assert_array_equal(again.design.y, fit.design.y)
    page = fit.report(tmp_path / "report.html").read_text()
    assert "Ranges (ambiguous codes)" in page and "coded as a range of levels" in page
    assert "completed data" in page


def test_old_designs_and_refusals():
    """A design recipe saved before ranges (no outcome_range) loads as exact-only; a
    data set whose exact rows sit at one level is still fitted when ranges reach
    others, and refused when every row says the same."""
    from bayesresp.inference.fitting import _refuse_one_level
    from bayesresp.model.design import DesignInfo

    d = {
        "outcome": "response",
        "spectrum": ["a", "b"],
        "codings": {},
        "columns": [],
        "monotonic": [],
        "groups": [],
    }
    assert DesignInfo.from_dict(d).outcome_range is None
    cb = bayesresp.Codebook.default()
    frame = bayesresp.simulate(missions=2, rows=40, seed=1, ambiguous=0.5).data
    ranged = frame["response"].isna()
    frame.loc[~ranged, "response"] = "silence"
    _refuse_one_level(frame, "response", cb)  # ranges elsewhere: information
    with pytest.raises(bayesresp.errors.BayesrespError, match="level"):
        _refuse_one_level(frame.loc[~ranged], "response", cb)
