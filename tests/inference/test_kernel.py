"""The compiled kernel (nutpie's default path) is the PyMC model's log density.

At random points of the unconstrained space, and at extreme ones, the kernel's log
density and gradient equal those PyMC compiles from the model's graph, for every kind of
model the kernel covers; fits through either path agree within Monte Carlo error.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesresp
from bayesresp.errors import SamplerError
from bayesresp.inference import fitting, kernel, packing
from bayesresp.maths import vector_numba
from bayesresp.model.design import compress, make_design
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec
from tests.pymc_eval import PY, logp_dlogp

# Independent priors (the default before the r2d2 prior): hierarchical centring and the
# sd priors need them.
NORMAL_B = {"b": "normal(0, 1)"}

# (formula, link, prior overrides): every prior family, every link, uncorrelated and
# correlated slopes, one and two group terms, no covariates at all; the r2d2 prior (the
# default where the link has a residual variance) with several components, one, and its
# options.
CASES = [
    ("models/hierarchical.toml", "logit", {}),
    ("models/hierarchical.toml", "probit", {}),
    (
        "response ~ severity + background + years_at_station + (1 + years_at_station || mission)",
        "logit",
        {"b": "student_t(4, 0, 2)", "sd": "halfstudent_t(3, 1)", "cutpoints": "normal(0, 3)"},
    ),
    (
        "response ~ severity + duty_location + (1 | mission)",
        "probit",
        {
            "b": "normal(0, 1)",
            "sd": "exponential(2)",
            "cutpoints": "induced_dirichlet(2)",
            "severity": "normal(0.5, 2)",
        },
    ),
    ("response ~ 1 + (1 | mission/department)", "logit", {"cutpoints": "induced_dirichlet(3)"}),
    ("response ~ severity + interlocutor", "logit", {}),
    ("models/hierarchical.toml", "cloglog", {}),
    (
        "response ~ severity + duty_location + (1 | mission)",
        "cauchit",
        {"cutpoints": "normal(0, 3)"},
    ),
    (
        "response ~ severity + background + (1 | mission)",
        "cauchit",
        {"cutpoints": "induced_dirichlet(2)"},
    ),
    ("models/hierarchical.toml", "logit", NORMAL_B),
    (
        "response ~ severity + background + years_at_station + (1 + years_at_station || mission)",
        "probit",
        {"b": "r2d2(mean=0.3, precision=5, alpha=0.7)", "cutpoints": "normal(0, 3)"},
    ),
    ("response ~ 1 + (1 | mission)", "logit", {}),  # one component: no shares
    ("response ~ 1", "probit", {}),  # no component: no R2 either
    ("response ~ severity + interlocutor", "cloglog", {"b": "r2d2(alpha=2)"}),
    # the tied form with a tail of its own: the shares' concentrations differ by component
    (
        "response ~ severity + background + politicization + (1 + years_at_station || mission)",
        "logit",
        {"b": "r2d2(alpha=0.8, tail=3)"},
    ),
    # mo() terms: under r2d2 (centred, and non-centred for a mission-level covariate;
    # alone, with no other column and one component), under normal and student_t
    # priors, two at once
    ("response ~ severity + background + mo(hierarchy_level) + (1 | mission)", "logit", {}),
    ("response ~ severity + mo(host_consent_leverage) + (1 | mission)", "cloglog", {}),
    ("response ~ mo(severity)", "logit", {}),
    (
        "response ~ mo(severity) + mo(politicization) + duty_location",
        "probit",
        {**NORMAL_B, "simplex": "dirichlet(2)", "mo(severity)": "normal(0.3, 0.8)"},
    ),
    (
        "response ~ background + mo(career_security) + (1 + years_at_station || mission)",
        "logit",
        {"b": "student_t(4, 0, 2)", "simplex(career_security)": "dirichlet(0.7)"},
    ),
    # correlated varying slopes (LKJ): q = 2, 3 and 4 (PyMC's spiral fill of the
    # Cholesky factor), under r2d2 and under independent sd priors, beside other terms
    ("response ~ severity + years_at_station + (1 + years_at_station | mission)", "logit", {}),
    (
        "response ~ severity + (1 + duty_location | mission) + (1 | mission:department)",
        "probit",
        {**NORMAL_B, "sd": "halfstudent_t(3, 1)", "cor": "lkj(1.5)"},
    ),
    ("models/full.toml", "logit", {}),
    ("response ~ severity + (1 + interlocutor | mission)", "cloglog", {"cor": "lkj(3)"}),
    (
        "response ~ mo(severity) + (1 + duty_location | mission)",
        "logit",
        {**NORMAL_B, "sd": "exponential(2)"},
    ),
]
LINKS = ["logit", "probit", "cloglog", "cauchit"]


def _design(example, formula, link, priors, compressed=False):
    spec = dataclasses.replace(ModelSpec.coerce(formula), link=link, priors=priors)
    frame, cb = fitting.prepare_data(example, spec, None)
    design = make_design(frame, spec.parsed, cb, blocks=spec.blocks)
    if compressed:
        design, _ = compress(design)
    return design, spec


def _as_point(packed, x):
    """The kernel's vector as PyMC's dict of value variables (the r2d2 prior's log
    variance ratios as R2's log odds and the shares' simplex coordinates)."""
    point = {}
    for name, offset, shape in packed.blocks:
        value = x[offset : offset + int(np.prod(shape))].reshape(shape)
        if name == "r2d2_log_variance":
            u, y = packing.r2d2_coordinates(value)
            point["R2_logodds__"] = np.asarray(u)
            if shape[0] > 1:
                point["shares_simplex__"] = y
        elif not (name in ("b", "b_w") and shape == (0,)):
            point[name] = value
    return point


def _r2d2_map(packed, x):
    """d (PyMC's coordinates) / d (the kernel's) at ``x``: the identity but for the r2d2
    prior's block, (u, y) of its log variance ratios l (u = log sum exp l: d u / d l =
    softmax(l); y_k = l_k - mean(l)), written out here from the definitions; and the log
    |determinant| of that block, computed numerically."""
    J = np.eye(packed.n_dim)
    for name, offset, shape in packed.blocks:
        if name == "r2d2_log_variance":
            (C,) = shape
            v = x[offset : offset + C]
            share = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
            J[offset : offset + C, offset : offset + C] = np.vstack(
                [share, np.eye(C)[:-1] - 1.0 / C]
            )
    return J, np.linalg.slogdet(J)[1]


def _model_at(packed, x, logp, dlogp):
    """PyMC's model's log density and gradient at the kernel's ``x``, in the kernel's
    coordinates (chain rule and log |Jacobian| through :func:`_r2d2_map`)."""
    point = _as_point(packed, x)
    J, log_det = _r2d2_map(packed, x)
    return float(logp(point)) + log_det, J.T @ dlogp(point)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_kernel_is_the_model_log_density(example, case):
    """Equal gradients to rounding; equal log densities up to PyMC's own rounding.

    (PyMC's model is the non-centred form; the centred one is tied to it below.)

    The gradient sums a few thousand terms in another order: relative differences of a
    few 1e-16 per term, so 1e-12 of the largest component bounds them. Log densities are
    compared as differences between points (what the sampler uses), to 1e-12 of their
    size; the constant itself agrees to 1e-6: PyTensor folds some prior constants in
    single precision (log(2) of exponential(2) comes out 1.9e-9 off), the kernel in
    double.
    """
    formula, link, priors = CASES[case]
    design, spec = _design(example, formula, link, priors)
    model = build_model(design, spec.priors, spec.link)
    packed = packing.pack(design, spec.priors, spec.link, centring=False)
    _assert_twins(model, packed, np.random.default_rng(case).normal(0.0, 1.0, (4, packed.n_dim)))


def _assert_twins(model, packed, noise) -> None:
    """The kernel's log density and gradient are the model's at ``start + noise`` (each
    row a point), to the tolerances above."""
    assert [v.name for v in model.value_vars] == list(_as_point(packed, packed.start))
    logp, dlogp = logp_dlogp(model)
    ours, theirs = [], []
    for x in packed.start + noise:
        lp, grad = kernel.evaluate(packed, x)
        ref, ref_grad = _model_at(packed, x, logp, dlogp)
        np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-12 * np.abs(ref_grad).max())
        ours.append(lp)
        theirs.append(ref)
    ours, theirs = np.array(ours), np.array(theirs)
    # far from the mode (1e12) a sum of thousands of terms rounds at 1e-13 of itself
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-6)
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours - ours[0], theirs - theirs[0], rtol=0, atol=1e-12 * scale)


def _assert_posterior_is_the_models(model, packed, x, names=None) -> list[str]:
    """packing.posterior of the points ``x`` (3, n_dim) holds the model's variables
    (``names``, by default every one it stores that the model has) with their values;
    returns the names compared."""
    import pytensor

    draws = xr.Dataset(
        {"unconstrained": (("chain", "draw", "d"), x[None])},
        coords={"chain": [0], "draw": [0, 1, 2]},
    )
    post = packing.posterior(packed, draws)
    names = names or [name for name in post.data_vars if name in model.named_vars]
    graphs = model.replace_rvs_by_values([model[name] for name in names])
    values = pytensor.function(model.value_vars, graphs, on_unused_input="ignore", mode=PY)
    for i in range(3):
        point = _as_point(packed, x[i])
        computed = values(*(point[v.name] for v in model.value_vars))
        for name, value in zip(names, computed, strict=True):
            np.testing.assert_allclose(post[name].values[0, i], value, rtol=1e-10, atol=1e-12)
    for name in names:  # and the model's dims
        assert post[name].dims == ("chain", "draw", *model.named_vars_to_dims.get(name, ())), name
    return names


# Equidistant thresholds (the vector holds the first and last): both cutpoint priors,
# under r2d2 (the ends' prior scaled by D) and independent priors, four links.
EQUIDISTANT = [
    ("models/hierarchical.toml", "logit", {}),
    (
        "response ~ severity + duty_location + (1 | mission)",
        "probit",
        {"cutpoints": "normal(0, 3)"},
    ),
    (
        "response ~ severity + background + (1 | mission)",
        "cloglog",
        {**NORMAL_B, "cutpoints": "induced_dirichlet(2)"},
    ),
    ("response ~ severity + mo(hierarchy_level)", "cauchit", {"cutpoints": "normal(0.5, 2)"}),
]


@pytest.mark.parametrize("case", range(len(EQUIDISTANT)))
def test_kernel_is_the_equidistant_models_log_density(example, case):
    """As above, for equidistant thresholds; and packing.posterior gives the model's
    cutpoint_ends and evenly spaced cutpoints."""
    formula, link, priors = EQUIDISTANT[case]
    design, spec = _design(example, formula, link, priors)
    spec = spec.with_response(thresholds="equidistant")
    model = build_model(design, spec.priors, spec.response)
    packed = packing.pack(design, spec.priors, spec.link, centring=False, thresholds="equidistant")
    assert "cutpoint_ends_ordered__" in list(_as_point(packed, packed.start))
    noise = np.random.default_rng(100 + case).normal(0.0, 1.0, (4, packed.n_dim))
    _assert_twins(model, packed, noise)
    names = ["cutpoint_ends", "cutpoints_centred", "cutpoints"]
    _assert_posterior_is_the_models(model, packed, packed.start + noise[:3], names)


# The sequential families (sratio with any link, cratio with a symmetric one): the rows
# as the cumulative family's intervals of their steps, free thresholds and the family's
# own induced Dirichlet; both cutpoint priors, under r2d2 and independent priors,
# correlated slopes, mo() terms, compressed rows (weights).
SEQUENTIAL = [
    ("sratio", "models/hierarchical.toml", "logit", {}, False),
    (
        "sratio",
        "response ~ severity + duty_location + (1 + duty_location | mission)",
        "probit",
        {"cutpoints": "normal(0, 3)"},
        True,
    ),
    (
        "sratio",
        "response ~ severity + background + mo(hierarchy_level) + (1 | mission)",
        "cloglog",
        {**NORMAL_B, "cutpoints": "induced_dirichlet(2)"},
        False,
    ),
    (
        "cratio",
        "response ~ severity + (1 | mission)",
        "logit",
        {"cutpoints": "induced_dirichlet(0.7)"},
        True,
    ),
    ("cratio", "response ~ severity + background", "cauchit", NORMAL_B, False),
    # cloglog: the steps stop with the reflected cloglog (the kernel's loglog)
    ("cratio", "response ~ severity + background + (1 | mission)", "cloglog", {}, False),
    # hierarchically centred: the innermost group's level means in the vector
    (
        "sratio",
        "response ~ severity + background + (1 | mission/department)",
        "logit",
        NORMAL_B,
        True,
    ),
]


@pytest.mark.parametrize("case", range(len(SEQUENTIAL)))
def test_kernel_is_the_sequential_models_log_density(example, case):
    """As above, for the sequential families: their log density and gradient, and
    packing.posterior's thresholds and coefficients, are the model's."""
    family, formula, link, priors, compressed = SEQUENTIAL[case]
    design, spec = _design(example, formula, link, priors, compressed)
    spec = spec.with_response(family=family)
    assert packing.unsupported(design.info, spec.response) is None
    model = build_model(design, spec.priors, spec.response)
    packed = packing.pack(design, spec.priors, spec.link, centring=False, family=family)
    assert "cutpoints_centred" in list(_as_point(packed, packed.start))
    noise = np.random.default_rng(200 + case).normal(0.0, 1.0, (4, packed.n_dim))
    _assert_twins(model, packed, noise)
    if "/department" in formula:  # centred: a change of variables of the above
        c = packing.pack(design, spec.priors, spec.link, centring=True, family=family)
        assert c.centred
        for x in packed.start + noise[:2]:
            xc, log_jac = _centre(design, packed, c, x)
            lp_c = kernel.evaluate(c, xc)[0]
            assert lp_c == pytest.approx(kernel.evaluate(packed, x)[0] - log_jac, rel=1e-12)
    names = ["cutpoints_centred", "cutpoints"] + (["b"] if design.info.columns else [])
    _assert_posterior_is_the_models(model, packed, packed.start + noise[:3], names)


def test_sequential_intervals_are_the_familys_likelihood():
    """The terms packed for a sequential family (each step gone past, and the stop) sum,
    row by row, to the family's log-probability, every link of both families; the terms'
    link is the family's own in sratio, the reflected one in cratio."""
    from bayesresp.maths.families import get_family

    rng = np.random.default_rng(4)
    K, n = 6, 300
    y = rng.integers(0, K, n)
    eta = rng.normal(0, 2, n)
    c = rng.normal(0, 2, K - 1)  # unordered
    from bayesresp.maths.links import LOGLOG
    from bayesresp.maths.ops import NUMPY

    for name, link in [(f, lk) for f in ("sratio", "cratio") for lk in LINKS]:
        fam = get_family(name, link)
        reflected = name == "cratio" and link == "cloglog"
        assert fam.step_link_code == (LOGLOG if reflected else fam.link.code)
        rows, low, high = fam.intervals(y, K)
        assert np.array_equal(np.bincount(rows, minlength=n), y + (y < K - 1))
        # each term an interval of the cumulative family's, open at one end (its outer,
        # padded threshold): levels 0 .. k is F(c_k - eta), levels j + 1 .. K - 1 is
        # S(c_j - eta) (the kernel's padded interval is tied to the model below)
        stop = low == 0
        assert np.all(stop | (high == K - 1)) and np.all(high[stop] < K - 1)
        x = np.where(stop, c[np.minimum(high, K - 2)], c[np.maximum(low - 1, 0)]) - eta[rows]
        log_stop, log_go = fam._steps(x[:, None], NUMPY)  # the family's steps at c - eta
        terms = np.where(stop, log_stop[:, 0], log_go[:, 0])
        by_row = np.bincount(rows, weights=terms, minlength=n)
        np.testing.assert_allclose(by_row, fam.log_prob(y, eta, c), rtol=1e-10, atol=1e-12)


def test_kernel_refuses_what_it_does_not_cover_in_the_sequential_families(example):
    design, spec = _design(example, "response ~ severity", "cloglog", {})
    assert packing.unsupported(design.info, spec.with_response(family="cratio").response) is None
    assert "ambiguous codes" in packing.unsupported(
        design.info, spec.with_response(family="sratio").response, ranges=True
    )
    equi = spec.with_response(family="sratio", thresholds="equidistant").response
    assert "equidistant thresholds in the sratio" in packing.unsupported(design.info, equi)
    assert packing.unsupported(design.info, spec.with_response(family="acat").response)


def _mo_or_correlated(formula: str) -> bool:
    return "mo(" in formula or ("(1 +" in formula and "||" not in formula)


@pytest.mark.parametrize(
    "case",
    [i for i, (formula, _, _) in enumerate(CASES) if _mo_or_correlated(formula)]
    + [0, 10, CASES.index(("models/full.toml", "logit", {}))],
)
def test_posterior_is_the_models_variables(example, case):
    """packing.posterior maps the kernel's vector to the PyMC model's variables: at random
    points, every variable it stores (mo() totals and simplexes, under r2d2 from their
    centred or non-centred form; cutpoints shifted by the average case, mo() steps
    included; sds; correlations and their Cholesky factors; effects) equals the model's
    own, computed from the same values."""

    formula, link, priors = CASES[case]
    design, spec = _design(example, formula, link, priors)
    model = build_model(design, spec.priors, spec.link)
    packed = packing.pack(design, spec.priors, spec.link, centring=False)
    rng = np.random.default_rng(case)
    x = packed.start + rng.normal(0.0, 0.5, (3, packed.n_dim))
    names = _assert_posterior_is_the_models(model, packed, x)
    assert {"b_mo", "cutpoints"} <= set(names) or "mo(" not in formula


@pytest.mark.parametrize("link", LINKS)
def test_kernel_at_extreme_linear_predictors(example, link):
    """|eta| up to 50: mission effects of +-50 (z = +-5, sd = 10). Finite, and equal to
    the PyMC model, whose likelihood is tested against 1,200-digit references."""
    design, spec = _design(example, "response ~ severity + (1 | mission)", link, NORMAL_B)
    model = build_model(design, spec.priors, spec.link)
    packed = packing.pack(design, spec.priors, spec.link, centring=False)
    point = _as_point(packed, packed.start.copy())
    levels = point["z[mission]"].shape[0]
    point["z[mission]"][:, 0] = np.where(np.arange(levels) % 2 == 0, 5.0, -5.0)
    point["sd[mission]_log__"][:] = np.log(10.0)
    x = np.concatenate([v.ravel() for v in point.values()])
    lp, grad = kernel.evaluate(packed, x)
    assert np.isfinite(lp) and np.isfinite(grad).all()
    logp, dlogp = logp_dlogp(model)
    ref = float(logp(point))
    ref_grad = dlogp(point)
    assert abs(lp - ref) <= 1e-6 + 1e-12 * abs(ref)
    np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-10 * np.abs(ref_grad).max())


def _pymc_agrees(design, spec, packed, seed, b_scale=1.0):
    """Kernel and PyMC at three random points (coefficients times ``b_scale``): equal
    gradients, equal log-density differences (tolerances as in
    test_kernel_is_the_model_log_density)."""
    model = build_model(design, spec.priors, spec.link)
    logp, dlogp = logp_dlogp(model)
    rng = np.random.default_rng(seed)
    values = []
    p = len(design.info.columns)
    for _ in range(3):
        x = packed.start + rng.normal(0.0, 0.5, packed.n_dim)
        x[:p] *= b_scale
        lp, grad = kernel.evaluate(packed, x)
        ref, ref_grad = _model_at(packed, x, logp, dlogp)
        assert np.isfinite(ref_grad).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-12 * np.abs(ref_grad).max())
        values.append((lp, ref))
    (a0, r0), *rest = values
    for a, ref in rest:
        assert a - a0 == pytest.approx(ref - r0, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("scale", [0.5, 200.0, -3.0])
def test_kernel_design_storage_is_exact(example, scale):
    """The rows keep small-integer columns (dummies) as int8 and the others in double
    precision: a design scaled to non-integers (0.5), past int8's range (200) or to
    negative integers (-3) still gives PyMC's density, and so does a design in which a
    level of the outcome has no rows (an empty block of rows), also where its cutpoints
    have collapsed."""
    design, spec = _design(
        example, "response ~ severity + years_at_station + (1 | mission)", "logit", {}
    )
    scaled = dataclasses.replace(design, X=np.asarray(design.X) * scale)
    packed = packing.pack(scaled, spec.priors, spec.link, centring=False)
    small = np.asarray(scaled.X)[:, packed.arrays["bcol"]]
    assert np.all(np.abs(small) <= 127.0) and np.all(small == np.round(small))
    assert len(packed.arrays["bcol"]) == (3 if scale == -3.0 else 0)  # severity dummies
    _pymc_agrees(scaled, spec, packed, seed=int(abs(scale) * 10), b_scale=1.0 / abs(scale))
    if scale == -3.0:
        keep = design.y != 2
        frame = example[keep.tolist()]
        sparse, spec = _design(frame, "response ~ severity + (1 | mission)", "probit", {})
        packed = packing.pack(sparse, spec.priors, spec.link, centring=False)
        assert packed.arrays["cells"][2, 3] == packed.arrays["cells"][2, 2]
        _pymc_agrees(sparse, spec, packed, seed=5)
        # Its cutpoints collapsed (exp(-800) underflows: c_2 = c_1) leave the density
        # finite for both links, as the level has no rows to be impossible for.
        for link in LINKS:
            sparse, spec = _design(frame, "response ~ severity + (1 | mission)", link, {})
            packed = packing.pack(sparse, spec.priors, spec.link, centring=False)
            x = packed.start.copy()
            x[packed.n_dim - 7 + 2] = -800.0  # u_2 = log(c_2 - c_1)
            lp, grad = kernel.evaluate(packed, x)
            assert np.isfinite(lp) and np.isfinite(grad).all()


def test_kernel_weights_are_counts(example):
    """A compressed design (distinct rows with counts) has the full design's density."""
    formula = "response ~ severity + background + (1 | mission)"
    full, spec = _design(example, formula, "logit", {})
    small, _ = _design(example, formula, "logit", {}, compressed=True)
    assert small.n < full.n
    a = packing.pack(full, spec.priors, spec.link)
    b = packing.pack(small, spec.priors, spec.link)
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = a.start + rng.normal(0.0, 1.0, a.n_dim)
        (lp_a, g_a), (lp_b, g_b) = kernel.evaluate(a, x), kernel.evaluate(b, x)
        assert lp_a == pytest.approx(lp_b, rel=1e-12)
        np.testing.assert_allclose(g_a, g_b, rtol=0, atol=1e-11 * np.abs(g_a).max())


def test_kernel_and_graph_fits_agree(example):
    """Both paths sample one posterior: means agree within Monte Carlo error.

    With 4 chains x 500 draws each, the difference of two posterior means has standard
    error sqrt(sd_a^2 / ess_a + sd_b^2 / ess_b); 4.5 of those bound every one of the ~20
    parameters with probability above 0.9999 each.
    """
    formula = "response ~ severity + background + mo(hierarchy_level) + (1 | mission)"
    settings = dict(draws=500, tune=500, chains=4, seed=21, progress=False)
    data = example.iloc[::2]  # every other row: half the rows, every mission
    assert data["mission"].nunique() == example["mission"].nunique()
    a = bayesresp.fit(data, formula, **settings)
    b = bayesresp.fit(data, formula, kernel=False, **settings)
    assert (a.meta["log_density"], b.meta["log_density"]) == ("kernel", "pytensor")
    assert a.meta["compiled"] == "kernel"
    sa, sb = a.summary(), b.summary()
    se = np.sqrt(sa["sd"] ** 2 / sa["ess_bulk"] + sb["sd"] ** 2 / sb["ess_bulk"])
    gap = (sa["mean"] - sb["mean"]).abs() / se
    assert gap.max() < 4.5, gap.sort_values().tail(3)
    # The posterior has the graph path's variables, dims and labels.
    pa, pb = a.tree["posterior"].to_dataset(), b.tree["posterior"].to_dataset()
    assert set(pa.data_vars) == set(pb.data_vars)
    for name in pa.data_vars:
        assert pa[name].dims == pb[name].dims
    for name in pa.coords:
        np.testing.assert_array_equal(pa[name].values, pb[name].values)


def test_kernel_is_reproducible(example):
    formula = "response ~ severity + (1 | mission)"
    settings = dict(draws=50, tune=50, chains=2, seed=8, progress=False)
    a = bayesresp.fit(example, formula, **settings)
    b = bayesresp.fit(example, formula, **settings)
    np.testing.assert_array_equal(a.posterior["b"].values, b.posterior["b"].values)


def test_kernel_value_does_not_depend_on_memory_addresses(example):
    """The row loops' sums are vectorised with reassociation allowed; their order must
    follow the data alone (no peeling to an aligned address), or draws would differ
    between processes. The same data at shifted addresses give the same bits."""
    design, spec = _design(example, "models/hierarchical.toml", "logit", {})
    packed = packing.pack(design, spec.priors, spec.link, centring=False)
    rng = np.random.default_rng(12)
    points = [packed.start + rng.normal(0.0, 0.5, packed.n_dim) for _ in range(3)]
    for residue in (8, 24, 40):  # offsets from a 64-byte boundary (an AVX-512 vector)
        moved = {}
        for name, arr in packed.arrays.items():
            buf = np.empty(arr.nbytes + 128, dtype=np.uint8)
            start = (residue - buf.ctypes.data) % 64
            view = buf[start : start + arr.nbytes].view(arr.dtype).reshape(arr.shape)
            view[...] = arr
            assert view.ctypes.data % 64 == residue or arr.size == 0
            moved[name] = view
        other = dataclasses.replace(packed, arrays=moved)
        for x in points:
            (lp_a, g_a), (lp_b, g_b) = kernel.evaluate(packed, x), kernel.evaluate(other, x)
            assert lp_a == lp_b and np.array_equal(g_a, g_b)


def test_kernel_choice_errors(example):
    with pytest.raises(SamplerError, match="needs sampler='nutpie'"):
        bayesresp.fit(example, "response ~ severity", sampler="pymc", kernel=True)
    for name in ("baseline", "hierarchical", "full"):  # every shipped specification
        design, _ = _design(example, f"models/{name}.toml", "logit", {})
        assert packing.unsupported(design.info) is None, name


@pytest.mark.parametrize("q", [2, 3, 4, 5])
def test_correlation_factor_is_pymcs_transform(q):
    """The fill of the correlations' Cholesky factor (the kernel's and the draws') is
    PyMC's CholeskyCorrTransform backwards, and its log constant PyMC's LKJ's: at random
    values, equal to rounding."""
    from pymc.distributions.multivariate import _lkj_normalizing_constant
    from pymc.distributions.transforms import CholeskyCorrTransform

    u = np.random.default_rng(q).normal(size=(3, q * (q - 1) // 2))
    theirs = CholeskyCorrTransform(n=q).backward(u).eval()
    np.testing.assert_allclose(packing.correlation_factor(u, q), theirs, rtol=0, atol=1e-14)
    for eta in (0.5, 1.0, 2.0, 7.0):
        want = float(_lkj_normalizing_constant(eta, q).eval())
        assert packing.lkj_log_constant(eta, q) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("eta", [0.7, 1.0, 2.0, 5.0])
def test_kernels_lkj_density_is_a_normalised_lkj_prior(eta):
    """Independently of PyMC: for two terms, the kernel's LKJ density of the
    unconstrained value (with the transform's Jacobian) integrates to one, and the
    correlation it implies, rho = u / sqrt(1 + u^2), has the LKJ(eta) moments of
    (1 + rho) / 2 ~ Beta(eta, eta): mean 0, variance 1 / (2 eta + 1). Quadrature to 1e-8."""
    from scipy import integrate

    gmeta = np.array([[0, 0, 2, 0, 0, 0, 0, 0, *packing.correlation_fill(2)]], dtype=np.int64)
    spar = np.array([[1.0, 1.0, 1.0, eta, packing.lkj_log_constant(eta, 2)]] * 2)

    def density(u):
        chol, norm2 = np.empty((2, 2)), np.empty(2)
        return np.exp(kernel._lkj_factor(np.array([u]), 0, 2, gmeta, spar, chol, norm2))

    def moment(k):
        weighted = lambda u: (u / np.hypot(1.0, u)) ** k * density(u)  # noqa: E731
        return integrate.quad(weighted, -np.inf, np.inf)[0]

    assert moment(0) == pytest.approx(1.0, abs=1e-8)
    assert moment(1) == pytest.approx(0.0, abs=1e-8)
    assert moment(2) == pytest.approx(1.0 / (2.0 * eta + 1.0), abs=1e-8)


# -- hierarchical centring ---------------------------------------------------------------
@pytest.fixture(scope="module")
def rich_data():
    """Few missions, many rows per department (centred layouts are asked for)."""
    return bayesresp.validate(bayesresp.simulate(missions=4, rows=3000, seed=3).data)


def _one_draw(v):
    return xr.Dataset(
        {"unconstrained": (("chain", "draw", "d"), v[None, None, :])},
        coords={"chain": [0], "draw": [0]},
    )


def _centre(design, nc, c, x):
    """The centred point of a non-centred one: each centred term's level means, its
    level's total of every effect at or above it (r = z sd, the non-centred model's, so
    r2d2's sds from the shares too) plus the columns constant within it (the design's
    and the mo() steps', at a row of the level, less their average case); and the log
    |Jacobian| of z -> mu (L log sd per centred term)."""
    post = packing.posterior(nc, _one_draw(x)).isel(chain=0, draw=0)
    owner = packing.nesting(design)[1]
    X = np.column_stack([design.X, packing.step_columns(design)])
    coef = post["b"].values if "b" in post else np.zeros(0)
    for m in nc.info.monotonic:  # each step's coefficient: the total times its share
        total = float(post["b_mo"].sel(mo_term=m.name))
        coef = np.concatenate([coef, total * post[f"simplex[{m.var}]"].values])
    out, log_jac = x.copy(), 0.0
    groups = nc.info.groups
    for g, group in enumerate(groups):
        if group.label not in c.centred:
            continue
        rows = np.unique(design.group_index[group.label], return_index=True)[1]
        own = (owner >= 0) & (owner <= g)
        # the sampled means leave out the moved columns' average case
        mean = (X[rows][:, own] - c.X_mean[own]) @ coef[own]
        for outer in groups[: g + 1]:
            level = design.group_index[outer.label][rows]
            mean = mean + post[f"r[{outer.label}]"].values[level, 0]
        oz, (L, _) = next((o, s) for n, o, s in nc.blocks if n == f"z[{group.label}]")
        out[oz : oz + L] = mean
        log_jac += L * np.log(float(post[f"sd[{group.label}]"].values[0]))
    return out, log_jac


# Centring under independent priors (every link), under the r2d2 default (the sd from the
# shares), and with mo() terms (their steps' indicator columns, some constant within a
# department, some within a mission, some varying within it); every term of the chain,
# the inner or the outer one alone.
CENTRED = [
    *[("models/hierarchical.toml", link, NORMAL_B, True) for link in LINKS],
    ("models/hierarchical.toml", "logit", {}, True),
    ("models/hierarchical.toml", "cloglog", {"b": "r2d2(mean=0.4, precision=3)"}, True),
    (
        "response ~ severity + mo(host_consent_leverage) + mo(hierarchy_level) "
        "+ professional_composition + (1 | mission/department)",
        "probit",
        {},
        True,
    ),
    (
        "response ~ mo(politicization) + mo(career_security) + (1 | mission/department)",
        "logit",
        NORMAL_B,
        ["mission:department"],
    ),
    ("models/hierarchical.toml", "logit", {}, ["mission:department"]),
    ("models/hierarchical.toml", "probit", NORMAL_B, ["mission"]),
    ("models/hierarchical.toml", "logit", {}, "mission"),
]


@pytest.mark.parametrize("case", range(len(CENTRED)))
def test_centring_is_a_change_of_variables(example, rich_data, case):
    """Centred density = non-centred density - log |d mu / d z| at the mapped point (the
    non-centred one is tied to PyMC above, for both links); the gradient matches central
    differences; both give the same posterior variables."""
    formula, link, priors, centring = CENTRED[case]
    design, spec = _design(rich_data, formula, link, priors)
    nc = packing.pack(design, spec.priors, spec.link, centring=False)
    c = packing.pack(design, spec.priors, spec.link, centring=centring)
    expected = [g.label for g in design.info.groups] if centring is True else centring
    assert c.centred == tuple([expected] if isinstance(expected, str) else expected)
    assert not nc.centred
    # Covariates constant within missions or departments predict the level means.
    owner = packing.nesting(design)[1]
    assert owner.shape == (c.X_mean.shape[0],)
    if formula.startswith("models/"):
        names = np.array(design.info.column_names)
        assert any(n.startswith("host_consent_leverage") for n in names[owner[: len(names)] == 0])
        assert (owner == 1).any() and (owner == -1).any()
    else:  # some mo() steps move to the level means, some stay in the rows
        steps = owner[len(design.info.columns) :]
        assert (steps >= 0).any() and (steps == -1).any(), steps
    moved = (owner >= 0) & (owner <= (1 if "mission:department" in c.centred else 0))
    np.testing.assert_array_equal(c.arrays["W"][:, ~moved], 0.0)
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = nc.start + rng.normal(0.0, 0.7, nc.n_dim)
        xc, log_jac = _centre(design, nc, c, x)
        lp_nc, _ = kernel.evaluate(nc, x)
        lp_c, grad_c = kernel.evaluate(c, xc)
        assert lp_c == pytest.approx(lp_nc - log_jac, rel=1e-12, abs=1e-9)
    # Every component against a central difference with step h = 1e-5: the truncation
    # error is h^2/6 times a third derivative (~1e-10 times its size), the rounding error
    # about 1e-16 |lp| / h (4e-8 here, |lp| ~ 4,000); 1e-6 absolute plus 1e-6 relative
    # bounds both with room, and catches an error in any single component.
    h = 1e-5
    numeric = np.array(
        [
            (kernel.evaluate(c, xc + h * e)[0] - kernel.evaluate(c, xc - h * e)[0]) / (2 * h)
            for e in np.eye(c.n_dim)
        ]
    )
    np.testing.assert_allclose(grad_c, numeric, rtol=1e-6, atol=1e-6)
    # The same posterior variables from either form.
    a, b = packing.posterior(nc, _one_draw(x)), packing.posterior(c, _one_draw(xc))
    assert list(a.data_vars) == list(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("priors", [NORMAL_B, {}], ids=["normal", "r2d2"])
def test_centred_and_non_centred_fits_agree(priors):
    """Same posterior within Monte Carlo error (as in test_kernel_and_graph_fits_agree),
    on data where both forms converge without divergences: 12 missions, 94 rows per
    department (centring forced on both terms), under independent priors and the r2d2
    default (its sds from the shares)."""
    data = bayesresp.validate(bayesresp.simulate(missions=12, rows=6000, seed=3).data)
    settings = dict(draws=400, tune=400, chains=4, seed=9, progress=False)
    spec = dataclasses.replace(ModelSpec.coerce("hierarchical"), priors=priors)
    centred = bayesresp.fit(data, spec, centring=True, **settings)
    plain = bayesresp.fit(data, spec, centring=False, **settings)
    assert centred.meta["centred_terms"] == ["mission", "mission:department"]
    assert not plain.meta["centred"] and plain.meta["centred_terms"] == []
    for fit in (centred, plain):
        assert int(fit.tree["sample_stats"]["diverging"].sum()) == 0
    sa, sb = centred.summary(), plain.summary()
    se = np.sqrt(sa["sd"] ** 2 / sa["ess_bulk"] + sb["sd"] ** 2 / sb["ess_bulk"])
    gap = (sa["mean"] - sb["mean"]).abs() / se
    assert gap.max() < 4.5, gap.sort_values().tail(3)


def test_centring_needs_nested_intercepts(example):
    with pytest.raises(SamplerError, match="nested group intercepts"):
        bayesresp.fit(
            example, "response ~ severity + (1 + years_at_station || mission)", centring=True
        )
    with pytest.raises(SamplerError, match="needs the compiled kernel"):
        bayesresp.fit(example, "hierarchical", centring=True, kernel=False)
    with pytest.raises(SamplerError, match="'nope', not a group term.*mission, mission:dep"):
        bayesresp.fit(example, "hierarchical", centring=["mission", "nope"])
    with pytest.raises(SamplerError, match="centring must be True, False, None, or the"):
        bayesresp.fit(example, "hierarchical", centring=3)


def test_centring_rule(example, rich_data):
    """The default centres nested intercepts from the innermost term outward while each
    term's signal (between-level variance over a level mean's noise, after the
    covariates) reaches CENTRE_SIGNAL (the innermost) or CENTRE_SIGNAL_OUTER (those
    above it); the signals of simulated levels follow their true spreads."""
    design, _ = _design(example, "models/hierarchical.toml", "logit", {})
    assert packing.level_signal(design)[-1] < packing.CENTRE_SIGNAL
    # The example's missions alone (signal 2.4, between the two thresholds): centred as
    # the innermost term (measured: min bulk ESS 3,646 against 652).
    formula = ModelSpec.coerce("hierarchical").formula
    assert formula.endswith("(1 | mission/department)")
    missions, _ = _design(example, formula.replace("mission/department", "mission"), "logit", {})
    assert packing.CENTRE_SIGNAL <= packing.level_signal(missions)[0] < packing.CENTRE_SIGNAL_OUTER
    assert packing.centred_terms(missions, None) == ("mission",)
    assert packing.centred_terms(design, None) == ()
    # 4 missions, 20 departments of about 150 rows, 9 department-level columns and 3
    # mission-level ones (signals 0, the missions' stratum left without degrees of
    # freedom, and 4.0): departments only. Measured: 130 min bulk ESS per second sampling
    # against 32 for neither (30 divergences) and 66 for both (50).
    few = _design(rich_data, "hierarchical", "logit", {})[0]
    assert packing.centred_terms(few, None) == ("mission:department",)
    # strong departments, weaker missions (signals about 2.1 and 7.3): departments only
    inner = bayesresp.validate(bayesresp.simulate(missions=12, rows=10000, seed=1).data)
    rich, _ = _design(inner, "models/hierarchical.toml", "logit", {})
    outer_signal, inner_signal = packing.level_signal(rich)
    assert outer_signal < packing.CENTRE_SIGNAL_OUTER and inner_signal >= packing.CENTRE_SIGNAL
    assert packing.centred_terms(rich, None) == ("mission:department",)
    assert packing.centred_terms(rich, "mission") == ("mission",)
    assert packing.centred_terms(rich, True) == ("mission", "mission:department")
    assert packing.centred_terms(rich, False) == ()
    # An empty list is none (the sampler passes the rule's resolved choice on), with or
    # without group terms; an array of labels is a list.
    assert packing.centred_terms(rich, ()) == ()
    assert packing.centred_terms(rich, np.array(["mission:department", "mission"])) == (
        "mission",
        "mission:department",
    )
    assert packing.centred_terms(_design(example, "response ~ severity", "logit", {})[0], ()) == ()
    # Compressed rows (weights) give the same signals.
    np.testing.assert_allclose(
        packing.level_signal(compress(rich)[0]), [outer_signal, inner_signal]
    )
    # both strong (about 10.2 and 4.9): both
    both = bayesresp.validate(bayesresp.simulate(missions=12, rows=10000, seed=11).data)
    strong, _ = _design(both, "models/hierarchical.toml", "logit", {})
    assert min(packing.level_signal(strong)) >= packing.CENTRE_SIGNAL_OUTER
    assert packing.centred_terms(strong, None) == ("mission", "mission:department")
    # Known truth (balanced, the covariate varying within levels): 400 outer levels of
    # spread tau_o, each with 4 inner levels of spread tau, n = 40 rows each, a
    # covariate's effect and unit noise. The inner signal estimates n tau^2, the outer
    # one tau_o^2 / ((tau^2 + 1 / n) / 4), with se about sqrt(2 / dof) (1 + 1 / signal):
    # 8% at 14 with 399 outer dof, 5% at 3.6 with 1,200 inner ones. 25% plus 0.3 holds
    # all four cases on 99 of 100 seeds (this one among them), and misses the inner
    # signal by 40% if its level means are taken with dof levels - 1, as a one-way
    # analysis would.
    rng = np.random.default_rng(4)
    n, L, K = 40, 1600, 400
    inner_level = np.repeat(np.arange(L), n)
    outer_level = inner_level // (L // K)
    x = rng.normal(0.0, 1.0, n * L)
    for tau, tau_o in ((0.0, 0.3), (0.3, 0.5), (0.5, 0.2), (0.3, 0.0)):
        y = rng.normal(0.0, tau_o, K)[outer_level] + rng.normal(0.0, tau, L)[inner_level]
        y = y + 1.5 * x + rng.normal(0.0, 1.0, n * L)
        terms = [(outer_level, K), (inner_level, L)]
        signal = packing.signal_of(y, np.ones(n * L), x[:, None], terms)
        expected = [tau_o**2 / ((tau**2 + 1.0 / n) / (L // K)), n * tau**2]
        np.testing.assert_allclose(signal, expected, rtol=0.25, atol=0.3)
    # One row per level (an observation-level term): nothing pins a level's mean down,
    # and the rule must not read the zero within-level residual as a perfect signal.
    single, _ = _design(example, "response ~ severity + (1 | response_id)", "logit", {})
    assert packing.level_signal(single) == [0.0]
    assert packing.centred_terms(single, None) == ()


def test_centring_threshold_falls_with_the_number_of_levels():
    """The innermost term's threshold is CENTRE_SIGNAL up to CENTRE_FEW levels,
    CENTRE_SIGNAL_MANY from CENTRE_MANY, monotone between; and the rule applies it to the
    innermost term's own levels: a moderate signal (1.67 and 1.76 here, between the two)
    centres a term of 1,500 levels and leaves one of 90 non-centred."""
    assert packing.centre_threshold(2) == packing.centre_threshold(packing.CENTRE_FEW) == 2.0
    assert packing.centre_threshold(packing.CENTRE_MANY) == pytest.approx(1.2)
    assert packing.centre_threshold(10**6) == pytest.approx(1.2)
    steps = [packing.centre_threshold(j) for j in range(100, 1001, 50)]
    assert np.all(np.diff(steps) < 0)
    # half way in log levels (316), half way in threshold
    assert packing.centre_threshold(10**2.5) == pytest.approx(1.6)
    rng = np.random.default_rng(5)
    levels_of = ["no", "perhaps", "yes"]

    def design_of(groups):
        g = np.repeat(np.arange(groups), 8)
        x = rng.normal(size=len(g))
        latent = 0.5 * x + rng.normal(0.0, 0.875, groups)[g] + rng.logistic(size=len(g))
        y = np.digitize(latent, [-0.8, 0.8])
        codes = pd.Categorical(np.array(levels_of)[y], categories=levels_of, ordered=True)
        frame = pd.DataFrame({"resp": codes, "x": x, "id": g.astype(str)})
        return _design(frame, "resp ~ x + (1 | id)", "logit", {})[0]

    many, few = design_of(1500), design_of(90)
    assert 1.3 < packing.level_signal(many)[0] < 1.9
    assert packing.centred_terms(many, None) == ("id",)
    assert 1.3 < packing.level_signal(few)[0] < 1.9
    assert packing.centred_terms(few, None) == ()
    # Nested: 20 outer levels over 1,500 inner ones (75 each, 8 rows each). The inner
    # signal (1.59) is judged by the inner term's 1,500 levels (threshold 1.2), not the
    # outer term's 20 (2.0); the outer one (1.13) stays below 2.5.
    nested = np.random.default_rng(3)
    sizes = nested.integers(4, 13, 1500)
    school = np.repeat(np.arange(1500), sizes)
    x = nested.normal(size=len(school))
    latent = 0.5 * x + nested.normal(0.0, 0.3, 20)[school // 75]
    latent = latent + nested.normal(0.0, 0.95, 1500)[school] + nested.logistic(size=len(school))
    codes = pd.Categorical(
        np.array(levels_of)[np.digitize(latent, [-0.8, 0.8])], categories=levels_of, ordered=True
    )
    frame = pd.DataFrame(
        {"resp": codes, "x": x, "lea": (school // 75).astype(str), "school": school.astype(str)}
    )
    two = _design(frame, "resp ~ x + (1 | lea/school)", "logit", {})[0]
    outer_signal, inner_signal = packing.level_signal(two)
    assert outer_signal < packing.CENTRE_SIGNAL_OUTER and 1.3 < inner_signal < 1.9
    assert packing.centred_terms(two, None) == ("lea:school",)


def test_level_signal_of_a_stratum_without_degrees_of_freedom_is_zero():
    """Where a term's own columns take all its degrees of freedom (6 outer levels, 5
    independent columns constant within them), nothing is left to estimate its spread
    from: the signal is 0 on every draw, not the quotient of two rounding errors (which
    read up to 2.6, above both thresholds, on 9% of such draws before)."""
    rng = np.random.default_rng(8)
    K, per = 6, 3
    sizes = rng.integers(5, 40, K * per)
    inner = np.repeat(np.arange(K * per), sizes)
    outer = (np.arange(K * per) // per)[inner]
    for _ in range(40):
        Z = rng.normal(size=(K, K - 1))
        y = rng.normal(0, 1.0, K)[outer] + rng.normal(0, 0.3, K * per)[inner]
        y = y + rng.normal(size=len(inner))
        X = np.column_stack([rng.normal(size=len(inner)), Z[outer]])
        signal = packing.signal_of(y, np.ones(len(inner)), X, [(outer, K), (inner, K * per)])
        assert signal[0] == 0.0 and np.isfinite(signal[1])


def test_level_signal_counts_the_row_slopes_sampling_error():
    """A column constant within levels but for one row (a data-entry slip in a 0/1
    mission-level covariate) is a row column whose slope rests on that one row: its
    sampling error reaches the level means, and the signal counts it. One term of 200
    levels of 10 rows, true signal 3.0, 300 draws: the mean within 4 se plus 0.35 of
    it (truncation at 0, 8% of draws here, lifts a mean by at most about 8% of the
    draws' sd of 4). Without the slopes' error in B it read 5.9."""
    rng = np.random.default_rng(3)
    L, n = 200, 10
    idx = np.repeat(np.arange(L), n)
    N = len(idx)
    estimates = []
    for _ in range(300):
        z = rng.integers(0, 2, L).astype(float)[idx]
        slip = rng.integers(N)
        z[slip] = 1.0 - z[slip]
        x = rng.normal(size=N)
        y = rng.normal(0, np.sqrt(0.3), L)[idx] + 2.0 * z + 0.5 * x + rng.normal(size=N)
        estimates.append(packing.signal_of(y, np.ones(N), np.column_stack([x, z]), [(idx, L)])[0])
    estimates = np.array(estimates)
    se = estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - 3.0) <= 4 * se + 0.35, (estimates.mean(), se)


def test_level_signal_counts_the_inner_terms_fitted_columns():
    """An outer term's level means are taken less the fit of the inner term's own columns
    (a department's composition), whose coefficients carry sampling error; the
    expectation of the outer sum of squares counts it. 60 outer levels of spread 1 with
    2 to 4 inner levels each of spread 1 and 3 to 9 rows, 30 inner-level columns without
    effect and 2 outer-level ones: the outer signal's truth (its spread over the average
    noise of its level means, from the sizes) is 2.16. Over 400 draws its mean reads
    2.23 (se 0.044); it read 2.58 with the coefficients taken as known, and 1.87 with
    their covariance doubled. Tolerance: 4 se plus 3% for the ratio estimator's own bias
    (2.64 against 2.57 on a balanced layout without columns). The covariance's
    second-order parts (the parent's mean taken off, the outer columns' projection) move
    the mean by less than its se; they follow the row slopes' code. And where the inner
    columns take every degree of freedom the inner levels leave, both terms read 0 (the
    outer one read 600 to 5,400 on such data: the inner fit, the noise's, was taken off
    its level means)."""
    rng = np.random.default_rng(1)
    K, p, q = 60, 30, 2
    outer_of_inner = np.repeat(np.arange(K), rng.integers(2, 5, K))
    L = len(outer_of_inner)
    n = rng.integers(3, 10, L)
    inner = np.repeat(np.arange(L), n)
    outer = outer_of_inner[inner]
    share = n / np.bincount(outer_of_inner, weights=n)[outer_of_inner]
    noise = np.bincount(outer_of_inner, weights=share**2 * (1.0 + 1.0 / n))
    truth = np.array([1.0 / noise.mean(), 1.0 / (1.0 / n).mean()])
    terms = [(outer, K), (inner, L)]
    signals = []
    for _ in range(400):
        Z, W = rng.normal(size=(L, p)), rng.normal(size=(K, q))
        x = rng.normal(size=len(inner))
        y = rng.normal(0, 1.0, K)[outer] + rng.normal(0, 1.0, L)[inner] + 0.5 * x
        y = y + W[outer] @ np.full(q, 0.3) + rng.normal(size=len(inner))
        X = np.column_stack([x, Z[inner], W[outer]])
        signals.append(packing.signal_of(y, np.ones(len(inner)), X, terms))
    mean, se = np.mean(signals, axis=0), np.std(signals, axis=0) / np.sqrt(400)
    np.testing.assert_array_less(np.abs(mean - truth), 4 * se + 0.03 * truth)
    n = 6
    K, per, p = 100, 2, 100
    inner = np.repeat(np.arange(K * per), n)
    outer = inner // per
    Z = rng.normal(size=(K * per, p))
    y = rng.normal(0, 0.4, K)[outer] + rng.normal(0, 1.0, K * per)[inner]
    y = y + rng.normal(size=len(inner))
    saturated = packing.signal_of(y, np.ones(len(inner)), Z[inner], [(outer, K), (inner, K * per)])
    assert saturated == [0.0, 0.0]


def test_level_signal_on_known_truth_with_unequal_sizes_and_level_columns():
    """The signal of each of two nested terms with unequal level sizes (5 to 80 rows)
    and columns constant within each term's levels (4 outer, 1 inner) besides a row
    covariate: 100 outer levels of 4 inner ones, 200 draws of effects and noise per
    case. The truth is tau^2 over the average noise of a level's mean: sigma^2 / n_l
    for an inner level, sum of (n_c / N_j)^2 (tau^2 + sigma^2 / n_c) over an outer
    level's children. The mean of the 200 estimates must be within 4 of its standard
    errors plus 2% (a ratio's second-order bias: the noise estimate in the denominator
    varies by about 10%, which biases 1/noise by about 1%) of the truth. The former
    estimator (sizes averaged before the noise, owned columns' degrees of freedom not
    counted, one fit over all rows) read the inner signals 1.9 to 3.4 times too high
    and the outer ones from 11% too high to 26% too low on these data."""
    rng = np.random.default_rng(5)
    K, per = 100, 4
    L = K * per
    sizes = rng.integers(5, 81, L)
    inner = np.repeat(np.arange(L), sizes)
    outer_of = np.arange(L) // per
    outer = outer_of[inner]
    N = len(inner)
    Z, z = rng.normal(size=(K, 4)), rng.normal(size=L)
    share = sizes / np.bincount(outer_of, weights=sizes)[outer_of]
    for tau_o, tau in ((0.3, 0.3), (0.2, 0.5), (0.5, 0.15)):
        truth = [
            tau_o**2 / np.bincount(outer_of, weights=share**2 * (tau**2 + 1.0 / sizes)).mean(),
            tau**2 / np.mean(1.0 / sizes),
        ]
        estimates = []
        for _ in range(200):
            x = rng.normal(size=N)
            y = rng.normal(0, tau_o, K)[outer] + rng.normal(0, tau, L)[inner]
            y = y + Z[outer] @ [0.5, -0.3, 0.2, 0.4] + 0.3 * z[inner] + 0.8 * x + rng.normal(size=N)
            X = np.column_stack([x, Z[outer], z[inner]])
            estimates.append(packing.signal_of(y, np.ones(N), X, [(outer, K), (inner, L)]))
        estimates = np.array(estimates)
        se = estimates.std(axis=0) / np.sqrt(len(estimates))
        assert np.all(np.abs(estimates.mean(axis=0) - truth) <= 4 * se + 0.02 * np.array(truth)), (
            tau_o,
            tau,
            estimates.mean(axis=0),
            truth,
        )


@pytest.mark.parametrize("link", LINKS)
def test_pointwise_log_prob_is_the_numpy_one(link):
    """The stored per-row log-likelihood (kernel.pointwise_log_prob) equals
    maths.log_prob, which is tested against 1,200-digit references, for |eta| up to 50
    and every level, to 1e-12 relative (both evaluate the same stable formula in
    double precision, in another order)."""
    from bayesresp.maths.cumulative import log_prob

    rng = np.random.default_rng(7)
    S, n, K = 6, 400, 8
    cut = np.sort(rng.normal(0.0, 2.0, (S, K - 1)), axis=1)
    eta = rng.uniform(-50.0, 50.0, (S, n))
    y = rng.integers(0, K, n)
    ours = kernel.pointwise_log_prob(y, eta, cut, link)
    ref = log_prob(y, eta, cut, link)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)


def test_the_row_loops_helpers_keep_their_own_fast_math_flags():
    """Numba would otherwise compile them with their callers' reassociation, which could
    undo the rounding steps of the branch-free exp, log and erfcx
    (tests/maths/test_vector_numba.py holds them to their accuracy inside such a loop).
    The probit's intervals are inlined by Numba itself, so their own bodies take the
    loop's flags whatever they set: tests/maths/test_links.py checks them so compiled."""
    helpers = (kernel._vexp, kernel._vlog1p, kernel.link_interval, kernel._logit_terms)
    for helper in (*helpers, vector_numba.vlog, vector_numba.erfcx, vector_numba.erf_small):
        assert helper.targetoptions["fastmath"] in (False, {"contract"})
    for inlined in (kernel.probit_interval, kernel.probit_wide):
        assert inlined.targetoptions["inline"] == "always"


def _wide_draws(info, S, rng, far=None):
    """S posterior draws wide enough (effects of sd 3-4) to reach the likelihood's tails;
    with ``far``, every group's first level sits at that effect."""
    from bayesresp.inference.arrays import PosteriorArrays

    r = {g.label: rng.normal(0, 3, (S, len(g.levels), len(g.columns))) for g in info.groups}
    if far is not None:
        for effects in r.values():
            effects[:, 0, 0] = far  # one level far out: the tails are reached
    return PosteriorArrays(
        b=rng.normal(0.0, 4.0, (S, len(info.columns))),
        b_mo=rng.normal(0.0, 3.0, (S, len(info.monotonic))),
        simplex={m.var: rng.dirichlet(np.ones(len(m.levels) - 1), S) for m in info.monotonic},
        cutpoints=np.sort(rng.normal(0.0, 3.0, (S, len(info.spectrum) - 1)), axis=1),
        r=r,
        sd={},
        cor={},
    )


@pytest.mark.parametrize("case", range(len(CASES)))
def test_log_likelihood_is_the_numpy_one(example, case):
    """The stored per-row log-likelihood (kernel.log_likelihood: packed rows, one compiled
    pass) equals eta_from_draws + maths.log_prob (the NumPy twin of the model) for every
    CASE, at draws with effects large enough (|eta| up to 8 and more) to reach the tails,
    to 1e-12 relative, and keeps the design's row order; compressed rows too."""
    from bayesresp.inference.arrays import eta_from_draws
    from bayesresp.maths.cumulative import log_prob

    formula, link, priors = CASES[case]
    for compressed in (False, True):
        design, spec = _design(example, formula, link, priors, compressed=compressed)
        info = design.info
        draws = _wide_draws(info, 7, np.random.default_rng(case), far=9.0)
        ours = kernel.log_likelihood(design, draws, link)
        eta = eta_from_draws(draws, design, "known")
        assert np.abs(eta).max() > 8.0 or not (info.columns or info.groups)  # ~ 1: eta = 0
        ref = log_prob(design.y, eta, draws.cutpoints, link)
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("case", range(len(SEQUENTIAL)))
def test_sequential_log_likelihood_is_the_numpy_one(example, case):
    """For the sequential families the stored per-row log-likelihood is the compiled
    pass over the rows' steps, summed per row: it equals the family's NumPy
    log-probability at wide draws (free thresholds, unordered), to 1e-10 relative (a
    row's steps add up to K - 1 terms, the NumPy form's cumulative sums as many), in the
    design's row order."""
    from bayesresp.inference.arrays import eta_from_draws, thresholds_from_draws

    family, formula, link, priors, compressed = SEQUENTIAL[case]
    design, spec = _design(example, formula, link, priors, compressed)
    response = spec.with_response(family=family).response
    draws = _wide_draws(design.info, 7, np.random.default_rng(case), far=6.0)
    draws.cutpoints = np.random.default_rng(50 + case).normal(0.0, 3.0, draws.cutpoints.shape)
    ours = kernel.log_likelihood(design, draws, response)
    eta = eta_from_draws(draws, design, "known")
    ref = response.log_prob(design.y, eta, thresholds_from_draws(draws, design))
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def _packings(example, rich_data):
    """Every layout the C callback reads: all CASES (no covariates, no groups, one to
    three groups, uncorrelated and correlated slopes), and CENTRED's centred layouts
    (one and two centred terms, the inner or the outer one, r2d2, mo() steps), with one
    group and compressed."""
    out = []
    for formula, link, priors in CASES:
        design, spec = _design(example, formula, link, priors)
        out.append(packing.pack(design, spec.priors, spec.link, centring=False))
    for formula, link, priors, centring in CENTRED:
        design, spec = _design(rich_data, formula, link, priors)
        out.append(packing.pack(design, spec.priors, spec.link, centring=centring))
    design, spec = _design(rich_data, "response ~ 1 + (1 | mission)", "logit", NORMAL_B)
    out.append(packing.pack(design, spec.priors, spec.link, centring=True))
    design, spec = _design(
        rich_data, "models/hierarchical.toml", "probit", NORMAL_B, compressed=True
    )
    out.append(packing.pack(design, spec.priors, spec.link, centring=True))
    return out


def test_c_callback_is_the_kernel(example, rich_data):
    """What nutpie calls (the C callback reading the packed header) gives bit for bit what
    the kernel gives from Python, for every layout; points where the density is not
    finite are reported as such (status 4 or 3), never as a log density."""
    import ctypes

    logp_c, _ = kernel.callbacks()
    rng = np.random.default_rng(11)
    for packed in _packings(example, rich_data):
        x = packed.start + rng.normal(0.0, 0.5, packed.n_dim)
        lp, grad = kernel.evaluate(packed, x)
        out, value = np.empty(packed.n_dim), np.empty(1)

        def call(point, dim=packed.n_dim, out=out, value=value, packed=packed):
            point = np.ascontiguousarray(point)
            pointer = ctypes.POINTER(ctypes.c_double)
            return logp_c.ctypes(
                dim,
                point.ctypes.data_as(pointer),
                out.ctypes.data_as(pointer),
                value.ctypes.data_as(pointer),
                ctypes.c_void_p(packed.header.ctypes.data),
            )

        assert call(x) == 0
        assert value[0] == lp and np.array_equal(out, grad)
        far = x.copy()
        far[-1] = 800.0  # the last cutpoint gap exp(800): overflows
        assert call(far) in (3, 4)
        assert call(x, dim=packed.n_dim - 1) == -1  # another model's length is refused


def test_pack_refuses_codes_out_of_range(example):
    design, spec = _design(example, "response ~ severity + (1 | mission)", "logit", {})
    bad_y = dataclasses.replace(design, y=design.y + 1)  # the top level becomes K
    with pytest.raises(ValueError, match="outcome codes"):
        packing.pack(bad_y, spec.priors, spec.link)
    index = dict(design.group_index, mission=design.group_index["mission"] + 100)
    with pytest.raises(ValueError, match="group index"):
        packing.pack(dataclasses.replace(design, group_index=index), spec.priors, spec.link)
    with pytest.raises(ValueError, match="outcome codes"):
        kernel.pointwise_log_prob(np.array([9]), np.zeros((1, 1)), np.zeros((1, 7)), "logit")


def test_nesting_edge_cases(example, rich_data):
    """Centring only where the groups nest in the order given, with every level present."""
    nested, _ = _design(rich_data, "models/hierarchical.toml", "logit", {})
    parents, owner = packing.nesting(nested)
    assert len(parents) == 1 and (parents[0] >= 0).all()
    reverse, _ = _design(
        rich_data, "response ~ severity + (1 | mission:department) + (1 | mission)", "logit", {}
    )
    assert packing.nesting(reverse) is None
    crossed, _ = _design(
        example, "response ~ severity + (1 | mission) + (1 | violation_type)", "logit", {}
    )
    assert packing.nesting(crossed) is None
    # A level without rows (a refit on part of the data with the full data's recipe).
    g = nested.info.groups[-1].label
    keep = nested.group_index[g] != 0
    part = dataclasses.replace(
        nested,
        X=nested.X[keep],
        mono=nested.mono[keep],
        y=nested.y[keep],
        weights=nested.weights[keep],
        group_index={k: v[keep] for k, v in nested.group_index.items()},
        group_Z={k: v[keep] for k, v in nested.group_Z.items()},
    )
    assert packing.nesting(part) is None
    single, _ = _design(
        rich_data, "response ~ severity + host_consent_leverage + (1 | mission)", "logit", {}
    )
    parents, owner = packing.nesting(single)
    assert parents == [] and (owner == 0).any() and (owner == -1).any()


def test_sbc_of_the_sequential_model_through_the_kernel():
    """The sratio model fitted through the kernel is calibrated: truths from the graph's
    prior (its own induced Dirichlet, in the graph's code), each simulated outcome
    refitted with the kernel (its steps as intervals, its prior in the kernel's code);
    the ranks of every truth among 49 posterior draws are uniform (chi-square per
    parameter, Bonferroni at 1%; 40 simulations). A mismatch between the two codes of
    the prior, or a wrong side of an interval, would shift the ranks of the thresholds;
    the twin tests above tie the log densities point by point."""
    data = bayesresp.simulate(missions=6, rows=300, seed=5).data
    spec = {"formula": "response ~ severity + background + (1 | mission)", "family": "sratio"}
    assert packing.unsupported(None, ModelSpec.coerce(spec).response) is None  # the kernel
    result = bayesresp.sbc(
        data, spec, simulations=40, draws=200, tune=200, n_posterior=49, seed=8, progress=False
    )
    assert "cutpoint[conceal|silence]" in result.ranks.columns
    assert result.miscalibrated() == [], result.uniformity().sort_values("p_value").head()
