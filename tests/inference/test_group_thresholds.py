"""Thresholds varying by group, ``(cs(1) | mission)`` (issue 17, items 1 and 3): each
mission's K - 1 thresholds deviate from the population's, partially pooled.

- the maths (bayesresp.maths.thresholds.vary_thresholds): additive in the sratio,
  cratio and acat families; on the ordered transform in the cumulative family, where
  every group's thresholds stay ordered whatever its deviations; NumPy and PyTensor
  twins;
- the model's likelihood is the prediction path's (graph against arrays, both families,
  both priors);
- a fit: thresholds ordered in every draw, fitted row and what-if profile (known, new
  and average missions); queries, LOO and the fit file work; the kernel says why it is
  not used; what does not apply is refused with the reason;
- recovery: data drawn with missions whose thresholds differ in shape (not one shift)
  are told apart from (1 | mission) by LOO, and each mission's thresholds are recovered.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytensor.tensor as pt
import pytest

import bayesresp
from bayesresp.checks.comparison import group_kfold
from bayesresp.data.codebook import Codebook
from bayesresp.errors import FormulaError, SpecError
from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws, thresholds_from_draws
from bayesresp.maths.families import get_family
from bayesresp.maths.ops import TENSOR
from bayesresp.maths.thresholds import vary_thresholds
from bayesresp.model.design import apply_design, make_design
from bayesresp.model.formula import parse_formula
from bayesresp.model.graph import build_model
from tests.pymc_eval import loglik_at_random_points

FORMULA = "response ~ severity + background + (cs(1) | mission)"


# -- the maths ----------------------------------------------------------------------------
@pytest.mark.parametrize("ordered", [False, True])
def test_vary_thresholds_twins_and_order(ordered):
    """NumPy and PyTensor give the same thresholds; zero deviations give the population's;
    on the ordered transform every group's thresholds are ordered, even for deviations
    of several units; additive deviations are a plain difference."""
    rng = np.random.default_rng(1)
    cut = np.sort(rng.normal(0, 2, size=(5, 6)), axis=-1)  # (S, K - 1)
    r = rng.normal(0, 3, size=(5, 40, 6))  # (S, n, K - 1)
    got = vary_thresholds(cut, r, ordered)
    twin = vary_thresholds(pt.as_tensor(cut), pt.as_tensor(r), ordered, TENSOR).eval()
    np.testing.assert_allclose(got, twin, rtol=1e-12)
    np.testing.assert_allclose(
        vary_thresholds(cut, np.zeros_like(r), ordered), np.broadcast_to(cut[:, None], r.shape)
    )
    if ordered:
        assert (np.diff(got, axis=-1) > 0).all()
        np.testing.assert_allclose(got[..., 0], cut[:, None, 0] - r[..., 0])
        gaps = np.diff(cut, axis=-1)[:, None, :] * np.exp(-r[..., 1:])
        # (differences of cumulative sums: rounding of the sums, up to ~500, is absolute)
        np.testing.assert_allclose(np.diff(got, axis=-1), gaps, rtol=1e-10, atol=1e-11)
    else:
        np.testing.assert_allclose(got, cut[:, None, :] - r)
    # rows' own thresholds (cs()) are moved row by row
    own = np.sort(rng.normal(0, 2, size=(5, 40, 6)), axis=-1)
    np.testing.assert_allclose(vary_thresholds(own, r, False), own - r)


def test_family_vary_is_the_families_kind():
    cut, r = np.array([-1.0, 0.0, 2.0]), np.array([[0.5, 0.5, 0.5]])
    np.testing.assert_allclose(get_family("sratio").vary(cut, r), [[-1.5, -0.5, 1.5]])
    got = get_family("logit").vary(cut, r)  # cumulative: first moved, gaps shrunk
    np.testing.assert_allclose(got, [[-1.5, -1.5 + np.exp(-0.5), -1.5 + 3 * np.exp(-0.5)]])


# -- the formula and the specification ---------------------------------------------------
def test_formula_reads_group_thresholds():
    f = parse_formula("response ~ severity + (cs(1) || mission/department)")
    assert [(g.label, g.thresholds, g.correlated, g.intercept) for g in f.groups] == [
        ("mission", True, False, False),
        ("mission:department", True, False, False),
    ]
    assert str(f) == ("response ~ severity + (cs(1) || mission) + (cs(1) || mission:department)")


@pytest.mark.parametrize(
    "formula, match",
    [
        ("response ~ severity + (1 + cs(1) | mission)", "stands alone"),
        ("response ~ severity + (cs(1) + severity | mission)", "stands alone"),
        ("response ~ severity + (cs(1) | mission) + (1 | mission)", "would not be identified"),
        ("response ~ cs(1) + severity", "not a term here"),
        ("response ~ severity + (1 + 0 + cs(1) | mission)", "stands alone"),
        ("response ~ severity + (cs(0) | mission)", "not a term here"),
        (
            "response ~ severity + (1 + cs(background) | mission)",
            "written \\(cs\\(1\\) \\| mission\\)",
        ),
    ],
)
def test_formula_refuses_what_is_not_identified(formula, match):
    with pytest.raises(FormulaError, match=match):
        parse_formula(formula)


def test_spec_refuses_equidistant_and_cumulative_cs(example):
    with pytest.raises(SpecError, match="apart from the equal spacing"):
        bayesresp.ModelSpec(FORMULA, thresholds="equidistant", family="sratio")
    with pytest.raises(SpecError, match="ordered transform"):
        bayesresp.ModelSpec("response ~ cs(severity) + (cs(1) | mission)")
    # the sequential families take both: each adds to the thresholds
    bayesresp.ModelSpec("response ~ cs(severity) + (cs(1) | mission)", family="sratio")


def test_design_names_the_deviations_as_the_cutpoints(example):
    design = make_design(example.head(200), parse_formula(FORMULA), Codebook.default())
    (g,) = design.info.groups
    assert g.thresholds and not g.ordered
    assert g.column_names[0] == "conceal|silence" and len(g.columns) == 7
    assert design.info.eta_groups == () and design.info.threshold_groups == (g,)
    again = type(design.info).from_dict(design.info.to_dict())
    assert again == design.info
    ordered = make_design(
        example.head(200), parse_formula(FORMULA), Codebook.default(), ordered_family=True
    )
    assert ordered.info.groups[0].ordered
    with pytest.raises(ValueError, match="another family"):
        build_model(ordered, {}, "sratio")


# -- the model's likelihood is the prediction path's ---------------------------------------
@pytest.mark.parametrize(
    "family, priors, bar",
    [
        ("sratio", {}, "|"),
        ("logit", {}, "|"),
        ("logit", {}, "||"),
        ("logit", {"b": "normal(0, 1)"}, "|"),
        ("acat", {}, "||"),
    ],
)
def test_model_likelihood_is_the_prediction_paths(example, family, priors, bar):
    """At random points of the model's parameters, the graph's log-likelihood equals the
    family's log-probability of the rows with eta and thresholds from the arrays
    (eta_from_draws, thresholds_from_draws): both families' kinds of deviation,
    correlated or not, both priors (the r2d2 prior leaves the deviations' sds outside
    its shares)."""
    fam = get_family(family)
    rows = example.head(250)
    formula = parse_formula(f"response ~ severity + (1 | official_id) + (cs(1) {bar} mission)")
    design = make_design(rows, formula, Codebook.default(), ordered_family=fam.ordered)
    model = build_model(design, priors, fam)
    names = ["b", "cutpoints", "r[official_id]", "sd[official_id]", "r[mission]", "sd[mission]"]
    names += ["cor[mission]"] if bar == "|" else []
    for loglik, post in loglik_at_random_points(model, names):
        draws = PosteriorArrays.from_posterior(post, design.info)
        eta = eta_from_draws(draws, design)
        cut = thresholds_from_draws(draws, design)
        assert cut.shape == (1, design.n, 7)
        ours = fam.log_prob(design.y, eta, cut).sum()
        assert ours == pytest.approx(loglik, rel=1e-9)
    if "b" not in priors:  # r2d2: the deviations are no component of the shares
        assert "group(mission)" not in model.coords["component"]
        assert "group(official_id)" in model.coords["component"]


# -- a fit ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def group_fit(example):
    """The cumulative family (the default): deviations on the ordered transform."""
    return bayesresp.fit(
        example.head(400),
        "response ~ severity + background + (cs(1) || mission)",
        draws=150,
        tune=250,
        chains=2,
        seed=5,
        progress=False,
    )


def test_fit_says_why_it_used_the_graph(group_fit):
    assert group_fit.meta["log_density"] == "pytensor"
    assert "thresholds varying by group" in group_fit.meta["log_density_why"]
    names = group_fit.summary().index
    assert "sd(mission)[conceal|silence]" in names
    table = group_fit.summary()
    assert table.loc["sd(mission)[silence|mild_concern]", "scale"] == (
        "log of the gap below this threshold"
    )


def test_thresholds_are_ordered_in_every_draw_row_and_profile(group_fit, example):
    fit = group_fit
    rows = thresholds_from_draws(fit.arrays, fit.design)
    assert rows.shape == (fit.arrays.n_draws, fit.design.n, 7)
    assert (np.diff(rows, axis=-1) > 0).all()
    grid = pd.DataFrame(
        [
            {"severity": s, "background": "human_rights_legal", "mission": m}
            for s in fit.info.codings["severity"].observed
            for m in fit.info.groups[0].levels
        ]
    )
    design = apply_design(fit.info, grid)
    for groups in ("known", "new", "average"):
        cut = thresholds_from_draws(
            fit.arrays, design, slice(None), groups, np.random.default_rng(2)
        )
        assert (np.diff(cut, axis=-1) > 0).all()
        p = fit.what_if(grid, groups=groups).probabilities.values
        assert (p >= 0).all() and np.isfinite(p).all()
        np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-9)


def test_what_if_reads_the_missions_own_thresholds(group_fit, example):
    """A known mission's what-if probabilities are the family's at that mission's own
    thresholds (rebuilt here from the posterior by the ordered transform); the average
    mission's are at the population thresholds."""
    fit = group_fit
    profile = {"severity": "grave", "background": "other", "mission": fit.info.groups[0].levels[1]}
    d = fit.arrays
    b = d.b[:, fit.info.column_names.index("severity[grave]")]
    b = b + d.b[:, fit.info.column_names.index("background[other]")]
    r = d.r["mission"][:, 1]  # (S, 7)
    c = d.cutpoints
    own = np.concatenate(
        [c[:, :1] - r[:, :1], c[:, :1] - r[:, :1] + np.cumsum(np.diff(c) * np.exp(-r[:, 1:]), -1)],
        axis=1,
    )
    by_hand = get_family("logit").probs(b[:, None], own)[:, 0]
    got = fit.what_if(profile).probabilities.values.reshape(d.n_draws, -1)
    np.testing.assert_allclose(got, by_hand, rtol=1e-9, atol=1e-12)
    average = get_family("logit").probs(b[:, None], c)[:, 0]
    got = fit.what_if(profile, groups="average").probabilities.values.reshape(d.n_draws, -1)
    np.testing.assert_allclose(got, average, rtol=1e-9, atol=1e-12)


def test_queries_checks_and_the_fit_file(group_fit, tmp_path):
    fit = group_fit
    ll = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(fit.arrays.n_draws, -1)
    eta = eta_from_draws(fit.arrays, fit.design)
    by_hand = get_family("logit").log_prob(
        fit.design.y, eta, thresholds_from_draws(fit.arrays, fit.design)
    )
    np.testing.assert_allclose(ll, by_hand, rtol=1e-9)  # the stored terms are the model's
    c = fit.contrast({"severity": "minor"}, {"severity": "grave"}, fill="typical", groups="new")
    assert np.isfinite(c.position).all() and c.position.mean() > 0
    # the two profiles of a contrast are in the same new mission, thresholds included:
    # a change that changes nothing makes no difference in any draw
    same = fit.contrast({"severity": "minor"}, {"severity": "minor"}, fill="typical", groups="new")
    assert np.abs(same.difference).max() == 0.0
    assert fit.ppc(draws=50, progress=False).table is not None
    effects = fit.marginal_effects(draws=100)
    assert np.isfinite(effects.select_dtypes("number").to_numpy()).all()
    moved = fit.scenario({"column": "background", "set": "human_rights_legal"})
    assert moved.position_shift().loc["overall", "shift"] > 0  # its fitted effect's sign
    again = bayesresp.load_fit(fit.save(tmp_path / "groups.nc"))
    assert again.info == fit.info and again.info.groups[0].ordered
    profile = {"severity": "grave", "background": "other", "mission": fit.info.groups[0].levels[0]}
    np.testing.assert_allclose(
        again.what_if(profile).probabilities.values, fit.what_if(profile).probabilities.values
    )


def test_command_line_summary_and_report(group_fit, run_cli, tmp_path):
    """The command line's text and JSON summaries and the report say the decomposition
    is not available, with the reason, instead of failing."""
    path = group_fit.save(tmp_path / "groups.nc")
    text = run_cli("summary", str(path))
    assert text.code == 0, text.err
    assert "sd(mission)[conceal|silence]" in text.out
    assert "Variance decomposition" not in text.out
    js = run_cli("summary", str(path), "--format", "json")
    assert js.code == 0, js.err
    payload = json.loads(js.out)
    assert "moves each mission's thresholds" in payload["variance"]["not_available"]
    page = group_fit.report(tmp_path / "r.html", ppc_draws=20).read_text()
    assert "thresholds varying by group" in page
    assert "moves each mission&#x27;s thresholds" in page or "moves each mission's" in page


def test_what_does_not_apply_is_refused_with_the_reason(group_fit):
    with pytest.raises(bayesresp.BayesrespError, match="moves each mission's thresholds"):
        group_fit.variance_decomposition()
    with pytest.raises(bayesresp.POCheckError, match="ordered transform"):
        group_fit.po_check(["severity"])
    with pytest.raises(bayesresp.ComparisonError, match="thresholds varying by group"):
        group_kfold(group_fit, "mission")
    with pytest.raises(bayesresp.PlanError, match="simulator draws group intercepts"):
        bayesresp.plan(FORMULA, designs=[{"missions": 4, "rows": 20}], progress=False)


# -- recovery ------------------------------------------------------------------------------
def _missions_of_own_shape(example, seed: int = 11):
    """The example's missions and severities with responses drawn afresh from a
    stopping-ratio model whose missions' thresholds each deviate on their own
    (independent normal(0, 0.8) deviations per mission and threshold: not one shift)."""
    rng = np.random.default_rng(seed)
    rows = example.copy()
    missions = sorted(rows["mission"].unique())
    c = np.array([-2.5, -1.5, -1.0, -0.3, 0.5, 1.5, 2.5])
    r = rng.normal(0.0, 0.8, size=(len(missions), 7))
    effect = {"minor": 0.0, "moderate": 0.4, "serious": 0.8, "grave": 1.2}
    eta = rows["severity"].astype(str).map(effect).to_numpy(float)
    g = rows["mission"].map({m: i for i, m in enumerate(missions)}).to_numpy()
    family = get_family("sratio")
    p = family.probs(eta, vary_thresholds(c, r[g], ordered=False))
    u = rng.random(len(rows))
    codes = (np.cumsum(p, axis=-1) < u[:, None]).sum(axis=-1)
    spectrum = Codebook.default().spectrum
    rows["response"] = pd.Categorical(
        [spectrum[k] for k in codes], categories=rows["response"].cat.categories, ordered=True
    )
    truth = {m: c - r[i] for i, m in enumerate(missions)}
    return rows, truth


def test_missions_thresholds_are_recovered_and_told_apart_from_a_shift(example):
    """2,000 responses in 12 missions whose thresholds differ in shape: the model with
    (cs(1) || mission) beats (1 | mission) by PSIS-LOO by more than four standard errors
    of the difference, and recovers every mission's thresholds: each of the 84
    (mission, threshold) truths lies within 4 posterior sd of its posterior median. (For
    a calibrated posterior each such z is about normal; the chance that any of 84
    exceeds 4 is below 0.6%, so a failure is a fault, not bad luck at this seed.)"""
    rows, truth = _missions_of_own_shape(example)
    settings = dict(draws=300, tune=400, chains=2, seed=7, progress=False)
    own = bayesresp.fit(
        rows,
        {"formula": "response ~ severity + (cs(1) || mission)", "family": "sratio"},
        **settings,
    )
    shift = bayesresp.fit(
        rows, {"formula": "response ~ severity + (1 | mission)", "family": "sratio"}, **settings
    )
    result = bayesresp.compare({"own": own, "shift": shift}, refit_high_k=False)
    table = result.table
    assert table.index[0] == "own"
    # (ArviZ 1.x's elpd_diff is the lower model's elpd minus the best's: negative)
    diff, se = abs(float(table.loc["shift", "elpd_diff"])), float(table.loc["shift", "dse"])
    assert diff > 4 * se, (diff, se)
    levels = list(own.info.groups[0].levels)
    d = own.arrays
    thresholds = d.cutpoints[:, None, :] - d.r["mission"]  # (S, missions, 7)
    z = [
        (np.median(thresholds[:, levels.index(m)], axis=0) - t)
        / thresholds[:, levels.index(m)].std(axis=0)
        for m, t in truth.items()
    ]
    assert np.abs(z).max() < 4.0, np.round(z, 2)
