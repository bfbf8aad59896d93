"""Model checking: diagnostics, predictive checks, comparison, reliability on the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesresp
from bayesresp.checks import comparison as compare_mod
from bayesresp.checks.predictive import prior_predictive_check
from bayesresp.data.tables import write_csv


@pytest.fixture(scope="module")
def broken_fit(example):
    """Too few draws and no tuning to speak of: must fail the convergence checks."""
    return bayesresp.fit(
        example, "hierarchical", draws=30, tune=15, chains=2, seed=2, progress=False
    )


def test_diagnose_passes_the_example_fit(hierarchical):
    report = hierarchical.diagnose()
    assert report.ok and report.verdict == "ok", str(report)
    names = [c.name for c in report.checks]
    assert names == [
        "max r_hat",
        "min bulk ESS",
        "min tail ESS",
        "max MCSE / sd",
        "divergent transitions",
        "draws at max tree depth",
        "min E-BFMI",
        "separated levels",
    ]
    assert "Convergence diagnostics (nutpie): OK" in str(report)
    assert "<table>" in report._repr_html_()


def test_diagnose_fails_a_broken_fit_and_says_what_to_do(broken_fit):
    report = broken_fit.diagnose()
    verdicts = {c.name: c.verdict for c in report.checks}
    assert not report.ok and report.verdict == "fail"
    assert verdicts["min bulk ESS"] == "fail" and verdicts["max r_hat"] != "ok"
    text = str(report)
    assert "draw more" in text and "run longer" in text
    assert "NOT CONVERGED" in broken_fit.convergence_line()


def test_diagnose_reads_pymc_sampler_stats():
    data = bayesresp.simulate(missions=3, rows=150, seed=4).data
    f = bayesresp.fit(
        data,
        "response ~ severity",
        draws=100,
        tune=100,
        chains=2,
        seed=1,
        sampler="pymc",
        progress=False,
    )
    names = {c.name for c in f.diagnose().checks}
    assert "draws at max tree depth" in names and "min E-BFMI" in names


@pytest.fixture(scope="module")
def by_mission(hierarchical):
    """The hierarchical fit's check by mission, for the two tests that read it (its
    numbers, its plot): seeded by the fit, so the same result wherever it is made, and
    made once instead of twice."""
    return hierarchical.ppc(by="mission")


def test_ppc_on_the_right_model(hierarchical, by_mission):
    overall = hierarchical.ppc()
    assert len(overall.table) == 8 and overall.share_outside == 0
    # 96 cells at 95%: about 5 outside by chance; 10% leaves room for their correlation.
    assert by_mission.share_outside <= 0.10, by_mission.flagged
    assert by_mission.pit_test()["p_value"] > 0.001
    assert np.all((by_mission.pit > 0) & (by_mission.pit < 1))


def test_ppc_flags_omitted_mission_effects():
    sim = bayesresp.simulate(
        missions=8,
        rows=1200,
        seed=21,
        sd={"mission": 1.5, "mission:department": 0.0, "official_id": 0.0},
    )
    f = bayesresp.fit(
        sim.data,
        "response ~ severity + background",
        draws=300,
        tune=300,
        chains=2,
        seed=3,
        progress=False,
    )
    ppc = f.ppc(by="mission")
    assert ppc.share_outside > 0.25, ppc.share_outside
    assert set(ppc.flagged.index.get_level_values("mission")) <= set(sim.data["mission"])


def test_ppc_plot(by_mission, tmp_path):
    ax = by_mission.plot()
    assert len(ax.figure.axes) == 12
    ax.figure.savefig(tmp_path / "ppc.png")


def test_prior_predictive_of_the_cutpoint_prior_is_flat(example):
    """With covariate and group effects switched off (tiny priors), each level's expected
    share is 1/K under the flat induced-Dirichlet prior. 1,000 draws: the Monte Carlo sd of
    a mean share is at most sqrt((1/8)(7/8)/9)/sqrt(1000) = 0.0035; we allow 0.015."""
    spec = bayesresp.ModelSpec(
        "response ~ severity + (1 | mission)",
        priors={"b": "normal(0, 0.001)", "sd": "halfnormal(0.001)"},
    )
    pp = prior_predictive_check(example, spec, draws=1000, seed=1)
    np.testing.assert_allclose(pp.to_dataframe()["mean_share"], 1 / 8, atol=0.015)


def test_prior_predictive_defaults_and_profiles(example, hierarchical):
    pp = prior_predictive_check(example, "hierarchical", draws=300, seed=2)
    table = pp.to_dataframe()
    assert table["mean_share"].sum() == pytest.approx(1.0)
    assert (table["mean_share"] > 0.02).all()
    profile = hierarchical.data.iloc[[0]].drop(columns="response")
    answer = pp.for_profiles(profile)
    assert answer.probabilities.sizes["draw"] == 300
    assert set(answer.group_modes.values()) == {"new"}
    pp.plot()


def test_compare_ranks_the_fuller_model_first(shipped_fits):
    result = bayesresp.compare(shipped_fits, refit_high_k=False)
    table = result.table
    assert table.index[0] in ("full", "hierarchical") and table.index[-1] == "baseline"
    assert abs(table.loc["baseline", "elpd_diff"]) > 2 * table.loc["baseline", "dse"]
    assert table["weight"].sum() == pytest.approx(1.0)
    assert "PSIS-LOO comparison" in str(result)


def test_exact_refit_replaces_high_k_rows(monkeypatch):
    """Flag two rows artificially (threshold 0) and check the exact LOO terms replace the
    PSIS ones: for well-behaved rows they agree closely (PSIS is accurate there)."""
    data = bayesresp.simulate(missions=4, rows=300, seed=6).data
    # A continuous covariate makes every row distinct: identical rows would share their
    # Pareto k, and a tie at the top would flag more than the two rows meant (the
    # simulator's years are whole numbers: four identical rows tied at the top).
    jitter = np.random.default_rng(0).uniform(0.0, 0.5, len(data))
    data = data.assign(years_at_station=data["years_at_station"] + jitter)
    spec = "response ~ severity + years_at_station + (1 | mission)"
    settings = dict(draws=400, tune=400, chains=2, seed=1, progress=False)
    a = bayesresp.fit(data, spec, **settings)
    b = bayesresp.fit(data, "response ~ severity + years_at_station", **settings)
    psis = np.asarray(a.loo().elpd_i).ravel()
    monkeypatch.setattr(compare_mod, "K_THRESHOLD", -np.inf)  # every row flagged
    with pytest.warns(UserWarning, match="use K-fold"):
        many = compare_mod.compare({"a": a, "b": b}, max_refits=2)
    assert many.refitted == {} and len(many.flagged["a"]) == 300 and many.notes
    monkeypatch.setattr(compare_mod, "K_THRESHOLD", np.sort(np.asarray(a.loo().pareto_k))[-3])
    result = compare_mod.compare({"a": a, "b": b}, max_refits=2, refit_draws=300)
    rows = result.flagged["a"]["row"].tolist()
    assert len(result.refitted["a"]) == 2 and result.refitted["a"] == rows
    exact = np.asarray(result.loos["a"].elpd_i).ravel()
    positions = [int(np.flatnonzero(a.tree["log_likelihood"]["row"].values == r)[0]) for r in rows]
    assert np.abs(exact[positions] - psis[positions]).max() < 0.1


def test_compare_refuses_fits_of_other_data(hierarchical, full_fit):
    other = bayesresp.fit(
        hierarchical.data.iloc[:100],
        "response ~ severity",
        draws=50,
        tune=50,
        chains=1,
        seed=1,
        progress=False,
    )
    with pytest.raises(bayesresp.BayesrespError, match="other rows"):
        bayesresp.compare({"h": hierarchical, "o": other})
    with pytest.raises(bayesresp.BayesrespError, match="at least two"):
        bayesresp.compare({"h": hierarchical})


# -- command line --------------------------------------------------------------------------
def test_cli_diagnose_check_compare(shipped_fits, thinned_fits, broken_fit, tmp_path, run_cli):
    # diagnose reads a shipped fit as it is (its verdict needs all its draws); ppc, check
    # and compare, whose output is checked here, not its numbers, read the thinned fits
    every_draw = shipped_fits["hierarchical"].save(tmp_path / "every_draw.nc")
    paths = {n: thinned_fits[n].save(tmp_path / f"{n}.nc") for n in ("baseline", "hierarchical")}
    res = run_cli("diagnose", every_draw)
    assert res.code == 0 and "OK" in res.out
    broken = broken_fit.save(tmp_path / "broken.nc")
    res = run_cli("diagnose", broken, "--format", "json")
    assert res.code == 1 and json.loads(res.out)["verdict"] == "fail"
    res = run_cli("ppc", paths["hierarchical"], "--by", "mission", "--out", tmp_path / "plots")
    assert res.code == 0 and "cells outside" in res.out
    old = run_cli("check", paths["baseline"])  # its name in 0.1, with a note
    assert old.code == 0 and "cells outside" in old.out
    assert "'bayesresp check' is now 'bayesresp ppc'" in old.err
    assert (tmp_path / "plots" / "ppc_mission.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "pit.png").stat().st_size > 1000
    res = run_cli("compare", paths["baseline"], paths["hierarchical"], "--no-refit")
    assert res.code == 0 and "elpd_diff" in res.out


def test_cli_reliability(tmp_path, run_cli, example):
    double = pd.concat([example.head(60), example.head(60)], ignore_index=True)
    double["coder_id"] = ["A"] * 60 + ["B"] * 60
    spectrum = list(bayesresp.Codebook.default().spectrum)
    shifted = double["response"].astype(str).map(lambda v: spectrum[min(spectrum.index(v) + 1, 7)])
    rng = np.random.default_rng(0)
    change = (double["coder_id"] == "B") & (rng.random(120) < 0.3)
    double.loc[change, "response"] = shifted[change]
    path = tmp_path / "double.csv"
    write_csv(double, path)
    res = run_cli("reliability", path, "--boot", "200", "--format", "json")
    assert res.code == 0, res.err
    alpha = json.loads(res.out)["alpha"]
    assert 0.5 < alpha < 1.0


def _ratings(n=500, seed=4):
    rng = np.random.default_rng(seed)
    treat = rng.choice(["control", "treated"], n)
    latent = 1.2 * (treat == "treated") + rng.logistic(size=n)
    return pd.DataFrame({"rating": 1 + np.searchsorted([-1.0, 0.5, 2.0], latent), "treat": treat})


def test_prior_sensitivity_flags_a_conflicting_prior():
    """A tight prior far from the data's answer is flagged; a weak one is not."""
    data = _ratings()
    kw = dict(draws=500, tune=500, chains=2, seed=3, progress=False)
    weak = bayesresp.fit(
        data, bayesresp.ModelSpec("rating ~ treat", priors={"b": "normal(0, 10)"}), **kw
    )
    tight = bayesresp.fit(
        data, bayesresp.ModelSpec("rating ~ treat", priors={"b": "normal(-2, 0.3)"}), **kw
    )
    s_weak, s_tight = weak.prior_sensitivity(), tight.prior_sensitivity()
    assert "treat[treated]" not in s_weak.prior_dependent
    assert "treat[treated]" in s_tight.prior_dependent
    assert "conflict" in s_tight.table.loc["treat[treated]", "diagnosis"]
    assert "depend on the prior" in str(s_tight)


@pytest.fixture(scope="module")
def sbc_data():
    return bayesresp.simulate(missions=4, rows=200, seed=1).data


def test_sbc_produces_ranks(sbc_data):
    result = bayesresp.sbc(
        sbc_data,
        "response ~ severity + (1 | mission)",
        simulations=6,
        draws=150,
        tune=150,
        n_posterior=49,
        seed=3,
    )
    assert result.ranks.shape == (6, 3 + 7 + 1 + 3)  # + R2 and two shares
    assert result.ranks.to_numpy().min() >= 0 and result.ranks.to_numpy().max() <= 49
    assert "sd(mission)" in result.uniformity().index
    result.plot()


def test_sbc_detects_a_wrong_prior_in_the_fitting_model(sbc_data):
    """Truths drawn from the default (r2d2) prior, fitted with normal(3, 0.2): the
    posterior of each coefficient sits far above its truth, so ranks pile at zero; with 8
    simulations the chi-square test rejects uniformity far below the Bonferroni-corrected
    1% level. R2 and the shares, which the fitting model lacks, are not ranked.

    The fits run in this process, one after another (each simulation's ranks depend on its
    seed alone, wherever it runs): new worker processes would each import PyMC and
    compile the prior's draws again. test_sbc_produces_ranks keeps the default, a pool of
    processes."""
    from concurrent.futures import ThreadPoolExecutor

    wrong = bayesresp.ModelSpec(
        "response ~ severity + (1 | mission)", priors={"b": "normal(3, 0.2)"}
    )
    with ThreadPoolExecutor(max_workers=1) as here:
        result = bayesresp.sbc(
            sbc_data,
            "response ~ severity + (1 | mission)",
            fit_spec=wrong,
            simulations=8,
            draws=150,
            tune=150,
            n_posterior=49,
            seed=4,
            executor=here,
        )
    assert {"severity[moderate]", "severity[serious]", "severity[grave]"} <= set(
        result.miscalibrated()
    )
    assert "R2" not in result.ranks.columns


def test_kfold_replaces_psis_when_many_rows_are_flagged(monkeypatch):
    """With every row flagged and folds=3, each model's elpd comes from 3-fold CV: for a
    well-specified small model it is close to PSIS-LOO (within a few elpd per 150 rows)."""
    data = bayesresp.simulate(missions=3, rows=150, seed=9).data
    kw = dict(draws=200, tune=200, chains=2, seed=2, progress=False)
    a = bayesresp.fit(data, "response ~ severity", **kw)
    b = bayesresp.fit(data, "response ~ background", **kw)
    psis = float(a.loo().elpd)
    monkeypatch.setattr(compare_mod, "K_THRESHOLD", -np.inf)
    result = compare_mod.compare({"a": a, "b": b}, max_refits=2, folds=3, refit_draws=200)
    assert len(result.refitted["a"]) == 150 and any("3-fold" in n for n in result.notes)
    kfold_elpd = float(result.loos["a"].elpd)
    assert kfold_elpd != psis and abs(kfold_elpd - psis) < 0.1 * abs(psis)


def _shifted_codes(seed=12, coders=6, shift_sd=0.8, double=0.33):
    """The simulator's responses coded by coders who each shift the latent propensity
    (a coder's codes are the levels of latent + shift: what a (1 | coder_id) term
    models), a share of them coded twice. Returns the rows and each coder's shift."""
    from bayesresp.data.codebook import Codebook
    from bayesresp.data.simulate import linear_predictor

    sim = bayesresp.simulate(missions=6, rows=900, seed=seed)
    data, rng = sim.data, np.random.default_rng(seed)
    latent = linear_predictor(data, sim.truth, Codebook.default()) + rng.logistic(size=len(data))
    names = np.array([f"C{i}" for i in range(coders)])
    shift = rng.normal(0.0, shift_sd, coders)
    first = rng.integers(0, coders, len(data))
    twice = rng.random(len(data)) < double
    second = ((first + rng.integers(1, coders, len(data))) % coders)[twice]
    rows = pd.concat(
        [data.assign(coder_id=names[first]), data[twice].assign(coder_id=names[second])],
        ignore_index=True,
    )
    lat = np.concatenate([latent + shift[first], latent[twice] + shift[second]])
    spectrum = data["response"].cat.categories
    level = np.searchsorted(np.array(list(sim.truth["cutpoints"].values())), lat)
    rows["response"] = pd.Categorical(spectrum[level], categories=spectrum, ordered=True)
    return rows, dict(zip(names, shift, strict=True))


@pytest.mark.slow
def test_coder_leniency_is_estimated_by_a_coder_term():
    """Six coders who shift the latent propensity (sd 0.8), a third of responses coded
    twice: with coders='rows', (1 | coder_id) recovers each coder's shift (95% intervals
    cover at least 5 of 6, estimates correlate with the truth) and their spread, and
    reliability sees the disagreement."""
    data, truth = _shifted_codes()
    spec = bayesresp.ModelSpec(
        "response ~ severity + background + (1 | mission) + (1 | coder_id)", coders="rows"
    )
    f = bayesresp.fit(data, spec, draws=400, tune=400, chains=2, seed=1, progress=False)
    g = f.group_effects("coder_id", ci=0.95).loc["coder_id"].xs("Intercept", level="term")
    true = pd.Series(truth).loc[g.index]
    assert ((g["q2.5"] <= true) & (true <= g["q97.5"])).sum() >= 5
    assert np.corrcoef(g["mean"], true)[0, 1] > 0.8
    # The six shifts drawn here have an sd of 0.39 (a draw in the 5% lower tail of six
    # from sd 0.8): the data speak of those, so the interval is held to cover them.
    s = f.summary(ci=0.95).loc["sd(coder_id)"]
    realised = float(np.std(list(truth.values()), ddof=1))
    assert s["q2.5"] <= realised <= s["q97.5"]
    report = bayesresp.reliability(data, n_boot=200, seed=1)
    assert 0.3 < report.alpha < 0.95


def _grouped_ratings(n_groups=50, per_group=30, seed=5):
    rng = np.random.default_rng(seed)
    group = np.repeat([f"g{i:02d}" for i in range(n_groups)], per_group)
    effect = np.repeat(rng.normal(0.0, 0.8, n_groups), per_group)
    treat = rng.choice(["control", "treated"], len(group))
    latent = 1.0 * (treat == "treated") + effect + rng.logistic(size=len(group))
    rating = 1 + np.searchsorted([-1.0, 0.5, 2.0], latent)
    return pd.DataFrame({"rating": rating, "treat": treat, "judge": group})


@pytest.fixture(scope="module")
def grouped_fits():
    """1,500 ratings by 50 judges: default priors, and a prior on sd(judge) that the
    data contradict (halfnormal(0.05) against a true sd of 0.8)."""
    data = _grouped_ratings()
    kw = dict(draws=500, tune=500, chains=2, seed=4, progress=False)
    default = bayesresp.fit(data, "rating ~ treat + (1 | judge)", **kw)
    tight = bayesresp.fit(
        data,
        bayesresp.ModelSpec(
            "rating ~ treat + (1 | judge)",
            priors={"b": "normal(0, 1)", "sd(judge)": "halfnormal(0.05)"},
        ),
        **kw,
    )
    return default, tight


def test_prior_sensitivity_does_not_scale_the_group_effects(grouped_fits):
    """Issue 14, item 8: the standardised group effects' N(0, 1) is not a prior. With
    default priors and 30 rows per judge no coefficient, cutpoint or sd depends on the
    prior; scaling z too flagged every parameter here. (The r2d2 prior's R2 and shares
    may: with one coefficient in its block, the data inform its share of the explained
    variance little, which is what the report's sensitivity table is for.)"""
    default, _ = grouped_fits
    result = default.prior_sensitivity()
    assert {"treat[treated]", "sd(judge)", "cutpoint[1|2]"} <= set(result.table.index)
    own = [p for p in result.prior_dependent if p != "R2" and not p.startswith("share(")]
    assert own == []


def test_prior_sensitivity_finds_a_conflict_in_a_group_sd(grouped_fits):
    _, tight = grouped_fits
    result = tight.prior_sensitivity()
    assert "sd(judge)" in result.prior_dependent
    assert "conflict" in result.table.loc["sd(judge)", "diagnosis"]


def test_sensitivity_reads_the_correlation_factor_of_an_older_file():
    """A fit saved before correlated slopes under sd priors were built with LKJCorr has
    cor[g] but no cor_chol[g]: the factor is its Cholesky decomposition, exactly."""
    from bayesresp.checks.sensitivity import _with_correlation_factors

    rng = np.random.default_rng(3)
    A = rng.normal(size=(2, 5, 3, 3))
    cov = A @ np.swapaxes(A, -1, -2) + 3 * np.eye(3)
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    cor = cov / sd[..., :, None] / sd[..., None, :]
    dims = ("chain", "draw", "mission_term", "mission_term_")
    old = xr.Dataset({"cor[mission]": (dims, cor)})
    new = _with_correlation_factors(old, {"cor_chol[mission]", "z[mission]"})
    L = new["cor_chol[mission]"].values
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), cor, atol=1e-12)
    assert np.allclose(np.triu(L, 1), 0.0) and (np.diagonal(L, axis1=-2, axis2=-1) > 0).all()
    assert new["cor_chol[mission]"].dims == dims
    assert _with_correlation_factors(new, {"cor_chol[mission]"}) is new  # present: kept
