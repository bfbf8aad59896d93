"""The fast path: exact compression, compiled-model reuse, and the JAX backend.

Speed itself is measured in benchmarks/ (ratios against peers in one run), never timed
here; these tests check that the fast path gives exactly what the plain path gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.inference import fitting, sampling
from bayesresp.inference.arrays import eta_from_draws
from bayesresp.maths.cumulative import TENSOR, log_prob
from bayesresp.model.design import compress, make_design
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec
from tests.pymc_eval import logp_dlogp

# A specification whose rows repeat in the example (factors only), with every kind of
# term that carries data into the model: treatment columns, a monotonic effect (its
# level shares place the average case) and a varying slope.
REPEATING = (
    "response ~ severity + background + mo(hierarchy_level)"
    " + (1 + duty_location | mission) + (1 | mission:department)"
)


# Its rows repeat as much, with the slope uncorrelated.
REPEATING_KERNEL = (
    "response ~ severity + background + mo(hierarchy_level)"
    " + (1 + duty_location || mission) + (1 | mission:department)"
)


@pytest.fixture(scope="module")
def repeating_design(example):
    spec = ModelSpec.coerce(REPEATING)
    frame, cb = fitting.prepare_data(example, spec, None)
    return make_design(frame, spec.parsed, cb)


def _rows(design, index=None):
    """Every array of a design as one table (optionally re-indexed)."""
    parts = [design.X, design.mono, design.y[:, None]]
    for g in design.info.groups:
        parts += [design.group_index[g.label][:, None], design.group_Z[g.label]]
    table = np.column_stack(parts).astype(float)
    return table if index is None else table[index]


def test_compression_keeps_every_row(repeating_design):
    small, inverse = compress(repeating_design)
    assert small.n < 0.9 * repeating_design.n  # this specification does repeat rows
    # Every row is its distinct row, exactly; the counts add up to the rows.
    np.testing.assert_array_equal(_rows(small, inverse), _rows(repeating_design))
    assert small.weights.sum() == repeating_design.n
    np.testing.assert_array_equal(small.weights, np.bincount(inverse))
    # The distinct rows are distinct.
    assert len(np.unique(_rows(small), axis=0)) == small.n


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_compressed_model_has_the_same_log_density(repeating_design, link):
    """Same log density and gradient at random points of the unconstrained space.

    Both sum the same terms in another order (the compressed model multiplies repeats by
    their counts), so they agree to rounding: with n = 2,000 terms of relative rounding
    error 2.2e-16 each, the sums differ by at most about 4e-13 of their magnitude; 1e-11
    leaves room for the gradient's longer chains and nothing more.
    """
    small, _ = compress(repeating_design)
    full_model = build_model(repeating_design, {}, link)
    small_model = build_model(small, {}, link)
    logp_full, dlogp_full = logp_dlogp(full_model)
    logp_small, dlogp_small = logp_dlogp(small_model)
    rng = np.random.default_rng(20261128)
    start = full_model.initial_point()
    for _ in range(10):
        point = {k: v + rng.normal(0.0, 1.0, size=np.shape(v)) for k, v in start.items()}
        np.testing.assert_allclose(logp_small(point), logp_full(point), rtol=1e-11)
        np.testing.assert_allclose(dlogp_small(point), dlogp_full(point), rtol=1e-11, atol=1e-9)


def test_compression_is_automatic_when_it_pays_and_rows_keep_their_loglik(example, hierarchical):
    # The example's covariates include a continuous one: its rows hardly repeat, so the
    # shipped specification is fitted row by row.
    assert hierarchical.meta["compressed"] is False
    assert hierarchical.meta["rows_fitted"] == len(example)

    # The default path (the kernel); the PyMC graph's compressed log density is tied to
    # the full one above, mo() and a correlated slope included.
    fit = bayesresp.fit(
        example, REPEATING_KERNEL, draws=100, tune=100, chains=2, seed=5, progress=False
    )
    assert fit.meta["log_density"] == "kernel"
    assert fit.meta["compressed"] is True
    assert fit.meta["rows_fitted"] < 0.9 * len(example)
    # The per-row log-likelihood (for LOO) is still one value per data row, and each is
    # the row's own log-probability computed without compression.
    ll = fit.tree["log_likelihood"]["response"]
    assert ll.sizes["row"] == len(example)
    d = fit.arrays
    eta = eta_from_draws(d, fit.design, groups="known")
    expected = log_prob(fit.design.y, eta, d.cutpoints, "logit")
    np.testing.assert_allclose(ll.values.reshape(expected.shape), expected, rtol=1e-12)
    np.testing.assert_array_equal(fit.tree["observed_data"]["response"].values, fit.design.y)
    assert fit.loo().n_data_points == len(example)


@pytest.mark.slow
def test_compressed_fit_matches_statsmodels():
    """Accuracy on the compressed path: 10,000 rows of factors only (a few hundred
    distinct rows) against statsmodels' maximum likelihood. Tolerance as in
    test_agreement: 0.1 posterior sd is three Monte Carlo errors at ESS >= 1,000."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    no_groups = {"mission": 0.0, "mission:department": 0.0, "official_id": 0.0}
    data = bayesresp.simulate(missions=12, rows=10000, seed=31, sd=no_groups).data
    formula = "response ~ severity + background"
    fit = bayesresp.fit(
        data,
        ModelSpec(formula, priors={"b": "normal(0, 10)", "cutpoints": "normal(0, 10)"}),
        seed=7,
        progress=False,
    )
    assert fit.meta["compressed"] and fit.meta["rows_fitted"] < 500
    design = fit.design
    model = OrderedModel(design.y, design.X, distr="logit")
    mle = model.fit(method="bfgs", maxiter=5000, gtol=1e-8, disp=False)
    p = design.X.shape[1]
    estimates = np.concatenate([mle.params[:p], model.transform_threshold_params(mle.params)[1:-1]])
    names = design.info.column_names + [f"cutpoint[{c}]" for c in fit.posterior["cutpoint"].values]
    rows = fit.summary().loc[names]
    assert (rows["ess_bulk"] >= 1000).all(), rows["ess_bulk"].min()
    gap = np.abs(rows["mean"].to_numpy() - estimates) / rows["sd"].to_numpy()
    assert gap.max() <= 0.1, dict(zip(names, gap.round(3), strict=True))


def test_refit_of_the_same_structure_reuses_the_compiled_model(example, monkeypatch):
    """PyMC's graph (kernel=False, and every model the kernel does not cover): a second
    fit of the same structure swaps in its data and compiles nothing."""
    import nutpie

    calls = []
    original = nutpie.compile_pymc_model

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(nutpie, "compile_pymc_model", counting)
    sampling.clear_compiled_models()
    # Independent priors: the test is about compiling, and the r2d2 prior's larger graph
    # would only make each compile slower.
    formula = bayesresp.ModelSpec(
        "response ~ severity + background + years_at_station + (1 | mission)",
        priors={"b": "normal(0, 1)"},
    )
    settings = dict(draws=100, tune=100, chains=2, seed=11, progress=False, kernel=False)
    first = bayesresp.fit(example, formula, **settings)
    # New data of the same shape: other outcomes, and the missions renamed.
    rng = np.random.default_rng(3)
    other = example.copy()
    other["response"] = other["response"].to_numpy()[rng.permutation(len(other))]
    names = {m: f"{m}-B" for m in other["mission"].unique()}
    other["mission"] = other["mission"].map(names)
    second = bayesresp.fit(other, formula, **settings)
    assert (first.meta["compiled"], second.meta["compiled"]) == ("new", "reused")
    assert len(calls) == 1
    assert second.meta["timings"]["compile"] < first.meta["timings"]["compile"]
    # The refit is labelled by its own data...
    assert set(second.posterior["mission_level"].values) == set(names.values())
    # ...and is exactly the fit a freshly compiled model gives.
    sampling.clear_compiled_models()
    fresh = bayesresp.fit(other, formula, **settings)
    assert fresh.meta["compiled"] == "new" and len(calls) == 2
    pd.testing.assert_frame_equal(second.summary(), fresh.summary())


def test_kernel_fits_compile_nothing(example, monkeypatch):
    """The default path for nutpie: no model is compiled, first fit or later ones; the
    kernel's callbacks are loaded once per process."""
    import nutpie

    def forbidden(*args, **kwargs):
        raise AssertionError("compiled a PyMC model")

    monkeypatch.setattr(nutpie, "compile_pymc_model", forbidden)
    formula = "response ~ severity + background + years_at_station + (1 | mission)"
    settings = dict(draws=30, tune=30, chains=2, seed=11, progress=False)
    first = bayesresp.fit(example, formula, **settings)
    second = bayesresp.fit(example.sample(frac=1.0, random_state=2), formula, **settings)
    assert first.meta["compiled"] == second.meta["compiled"] == "kernel"


def test_a_new_process_loads_the_kernel_from_the_disk_cache():
    """Compiled once per machine: after this process has the callbacks, a new process
    loads both from Numba's disk cache instead of compiling them."""
    import subprocess
    import sys

    from bayesresp.inference import kernel

    kernel.callbacks()  # compiled here if no earlier process did
    code = (
        "from bayesresp.inference import kernel; print([c.cache_hits for c in kernel.callbacks()])"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[1, 1]"


def test_timings_are_recorded(hierarchical):
    t = hierarchical.meta["timings"]
    assert set(t) == {"build", "compile", "sampling", "finish"}
    assert all(v >= 0 for v in t.values())


# -- JAX --------------------------------------------------------------------------------
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_jax_gradient_is_finite_and_right_at_extremes(link):
    """JAX differentiates both branches of every guarded expression: the log-likelihood's
    gradient must still be finite, and equal a central difference, for |eta| up to 50."""
    jax = pytest.importorskip("jax")
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph

    jax.config.update("jax_enable_x64", True)
    y = np.array([0, 1, 2, 3, 0, 3, 1, 2])
    offsets = np.array([-50.0, -50.0, -20.0, 0.0, 50.0, 50.0, 20.0, 5.0])
    shift, cuts = pt.scalar("shift"), pt.vector("cuts")
    total = pt.sum(log_prob(pt.as_tensor(y), pt.as_tensor(offsets) + shift, cuts, link, TENSOR))
    f = get_jaxified_graph(inputs=[shift, cuts], outputs=[total])

    def value(s, c):
        return f(s, c)[0]

    s0, c0 = np.float64(0.3), np.array([-1.0, 0.5, 2.0])
    g_shift, g_cuts = jax.grad(value, argnums=(0, 1))(s0, c0)
    assert np.isfinite(g_shift) and np.isfinite(g_cuts).all()
    h = 1e-5
    numeric = (float(value(s0 + h, c0)) - float(value(s0 - h, c0))) / (2 * h)
    assert float(g_shift) == pytest.approx(numeric, rel=1e-6)


def test_numpyro_backend_fits_on_cpu(example):
    pytest.importorskip("numpyro")
    formula = "response ~ severity + background + (1 | mission)"
    settings = dict(draws=200, tune=300, chains=2, seed=4, progress=False)
    fit = bayesresp.fit(example, formula, sampler="numpyro", **settings)
    stats = fit.tree["sample_stats"]
    assert int(stats["diverging"].sum()) == 0
    # Same model as the default sampler: the posterior means agree within a few
    # Monte Carlo errors of the short runs.
    ref = bayesresp.fit(example, formula, **settings)
    a, b = fit.summary(), ref.summary()
    # Monte Carlo standard errors of the two means, from each run's bulk ESS; 5 of them
    # for the largest of ~15 differences leaves a false alarm rate far below 1e-4.
    se = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
    z = (a["mean"] - b["mean"]).abs() / se
    assert z.max() < 5, z.sort_values().tail()
