"""Fitting the model: the shipped specifications on the example, recovery, files, the CLI.

The three shipped specifications are fitted once per session, with the defaults a user
gets (nutpie, 4 chains x 1,000 draws after 1,000 tuning steps), and shared by the tests.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.errors import MissingDataError
from bayesresp.inference.fitting import prepare_data
from bayesresp.model.spec import ModelSpec
from tests.conftest import SPECS


@pytest.mark.slow
@pytest.mark.parametrize("name", SPECS)
def test_shipped_specs_converge_without_divergences(shipped_fits, name):
    # every shipped specification on the compiled kernel (full: mo() terms and an LKJ)
    fit = shipped_fits[name]
    assert fit.meta["log_density"] == "kernel"
    c = fit.convergence()
    _isolated_divergences_only(fit, c)
    assert c["max_r_hat"] <= 1.01, c
    assert c["min_ess_bulk"] >= 400, c


def _isolated_divergences_only(fit, c) -> None:
    """No divergence, or at most one per 2,000 draws.

    Why not none: the baseline fit at its seed has one divergent transition in 4,000 on
    an AMD EPYC machine (chain 3, draw 218, tree depth 3, R2 = 0.35 against its median
    0.31) and none on the machines before it: the compiled kernel's floating point
    differs by processor, and an energy error that once crosses the threshold is a
    step-size event; seeds 1, 2 and 3 there have none. A funnel or a ridge the sampler
    cannot follow shows as divergences by the dozen, which this still fails."""
    div = fit.tree["sample_stats"]["diverging"].values.astype(bool)
    assert div.sum() <= div.size // 2000, c


def _truth_in_model_units(fit, truth):
    """True coefficients on the fitted scale (continuous covariates per fitted sd)."""
    out = {}
    for c in fit.info.columns:
        value = truth["coefficients"][c.name]
        if len(c.parts) == 1 and c.parts[0][1] is None:
            value *= fit.info.codings[c.name].scale
        out[c.name] = value
    return out


@pytest.mark.slow
def test_parameter_recovery_hierarchical(hierarchical, example):
    """Fixed effects: 90% intervals cover the truth at about the nominal rate (>= 75%),
    none is more than 3 posterior sd away; group sds inside their 95% intervals."""
    truth = bayesresp.load_example_truth()
    s90 = hierarchical.summary(ci=0.9)
    true = _truth_in_model_units(hierarchical, truth)
    rows = s90.loc[list(true)]
    t = pd.Series(true)
    covered = (rows["q5"] <= t) & (t <= rows["q95"])
    z = (rows["mean"] - t).abs() / rows["sd"]
    assert covered.mean() >= 0.75, covered[~covered]
    assert z.max() <= 3, z.sort_values().tail()
    s95 = hierarchical.summary(ci=0.95)
    for label in ("mission", "mission:department"):
        row = s95.loc[f"sd({label})"]
        assert row["q2.5"] <= truth["sd"][label] <= row["q97.5"], (label, row)


@pytest.mark.slow
def test_parameter_recovery_full(shipped_fits):
    """Monotonic totals and the official sd of the full specification."""
    fit = shipped_fits["full"]
    truth = bayesresp.load_example_truth()
    s = fit.summary(ci=0.95)
    for var, mo in truth["monotonic"].items():
        row = s.loc[f"mo({var})"]
        assert abs(row["mean"] - mo["total"]) <= 3 * row["sd"], (var, row)
    for label in ("official_id", "mission:department"):
        row = s.loc[f"sd({label})"]
        assert row["q2.5"] <= truth["sd"][label] <= row["q97.5"], (label, row)


def test_summary_names_columns_and_blocks(shipped_fits):
    s = shipped_fits["hierarchical"].summary()
    assert list(s.columns) == [
        "mean",
        "sd",
        "median",
        "q5",
        "q95",
        "r_hat",
        "ess_bulk",
        "ess_tail",
        "block",
        "scale",
    ]
    for name in (
        "background[military_security]",
        "cutpoint[silence|mild_concern]",
        "sd(mission)",
        "sd(mission:department)",
        "years_at_station",
    ):
        assert name in s.index
    assert s.loc["background[military_security]", "block"] == "individual"
    assert s.loc["host_consent_leverage[high]", "block"] == "mission"
    assert "per sd" in s.loc["years_at_station", "scale"]
    assert "vs development_agency" in s.loc["background[humanitarian]", "scale"]
    full = shipped_fits["full"].summary(ci=0.8)
    for name in (
        "mo(hierarchy_level)",
        "simplex(hierarchy_level)[head_of_mission]",
        "sd(official_id)",
        "sd(mission)[years_at_station]",
        "cor(mission)[Intercept,years_at_station]",
    ):
        assert name in full.index
    assert {"q10", "q90"} <= set(full.columns)


def test_positive_coefficient_means_towards_confrontation(hierarchical):
    """Sign convention: the simulator's strong positive and negative effects come back so."""
    s = hierarchical.summary()
    assert s.loc["severity[grave]", "q5"] > 0
    assert s.loc["interlocutor[security_forces]", "q95"] < 0


def test_odds_ratios(hierarchical):
    o = hierarchical.odds_ratios()
    s = hierarchical.summary()
    name = "severity[grave]"
    # exp is monotone, so the median odds ratio is exp(median), up to the interpolation
    # between the two middle draws of an even number of draws.
    assert o.loc[name, "odds_ratio"] == pytest.approx(np.exp(s.loc[name, "median"]), rel=1e-6)
    assert 0 <= o.loc[name, "p_above_1"] <= 1


def test_group_effects_cover_every_level(hierarchical, example):
    g = hierarchical.group_effects()
    n_dept = example.groupby(["mission", "department"]).ngroups
    assert len(g.loc["mission"]) == 12 and len(g.loc["mission:department"]) == n_dept
    with pytest.raises(KeyError, match="no group term 'official_id'"):
        hierarchical.group_effects("official_id")


def test_variance_decomposition(shipped_fits):
    v = shipped_fits["full"].variance_decomposition()
    assert set(v.index) >= {
        "incident",
        "individual",
        "departmental",
        "positional",
        "mission",
        "group(mission)",
        "group(mission:department)",
        "group(official_id)",
        "residual",
    }
    assert v["share"].sum() == pytest.approx(1.0, abs=1e-12)
    assert v.loc["residual", "variance"] == pytest.approx(np.pi**2 / 3)
    assert (v["q5"] <= v["share"]).all() and (v["share"] <= v["q95"]).all()
    base = shipped_fits["baseline"].variance_decomposition()
    assert set(base["kind"]) == {"block", "residual"}


def test_log_likelihood_is_stored_per_row(hierarchical, example):
    ll = hierarchical.tree["log_likelihood"]["response"]
    assert ll.sizes["row"] == len(example)
    assert list(ll["row"].values[:2]) == list(example["response_id"][:2])
    assert np.all(np.isfinite(ll.values)) and np.all(ll.values < 0)


def test_loo_is_computed_once_and_each_caller_gets_its_own_copy(shipped_fits):
    import arviz as az

    fit = shipped_fits["baseline"]
    first = fit.loo()
    cached = fit.__dict__["_psis_loo"]  # computed once, kept on the fit object
    first.elpd_i[:] = 0.0  # what an exact refit does to its copy
    first.elpd = 0.0
    second = fit.loo()
    fresh = az.loo(fit.tree, pointwise=True)
    assert second.elpd == fresh.elpd != 0.0
    np.testing.assert_array_equal(second.elpd_i, fresh.elpd_i)
    assert fit.loo() is not second
    assert fit.__dict__["_psis_loo"] is cached and cached.elpd == fresh.elpd
    assert cached.log_weights is second.log_weights  # shared, not copied per call


def test_saved_fit_loads_in_a_new_process_with_identical_summary(hierarchical, tmp_path):
    path = hierarchical.save(tmp_path / "fit.nc")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "bayesresp",
            "summary",
            str(path),
            "--table",
            "parameters",
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout == hierarchical.summary().to_csv()
    back = bayesresp.load_fit(path)
    pd.testing.assert_frame_equal(back.summary(), hierarchical.summary())
    pd.testing.assert_frame_equal(
        back.variance_decomposition(), hierarchical.variance_decomposition()
    )
    assert back.codebook == hierarchical.codebook and back.spec == hierarchical.spec
    assert back.file_attrs["bayesresp_format_version"] == 2


def test_fit_file_errors(hierarchical, tmp_path):
    with pytest.raises(bayesresp.FitFileError, match="not found"):
        bayesresp.load_fit(tmp_path / "none.nc")
    junk = tmp_path / "junk.nc"
    junk.write_bytes(b"not a netcdf file at all")
    with pytest.raises(bayesresp.FitFileError, match="cannot be read as a fit file"):
        bayesresp.load_fit(junk)
    path = hierarchical.save(tmp_path / "fit.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(bayesresp.FitFileError, match="cannot be read"):
        bayesresp.load_fit(truncated)


def test_tampered_and_newer_fit_files_are_refused(hierarchical, tmp_path):
    import xarray as xr

    path = hierarchical.save(tmp_path / "fit.nc")
    tree = xr.load_datatree(path, engine="h5netcdf")
    newer = tree.copy()
    newer.attrs = {**tree.attrs, "bayesresp_format_version": 99}
    newer.to_netcdf(tmp_path / "newer.nc", engine="h5netcdf")
    with pytest.raises(bayesresp.FitFileError, match="format 99.*upgrade bayesresp"):
        bayesresp.load_fit(tmp_path / "newer.nc")
    tampered = tree.copy()
    data = tampered["fit_data"].to_dataset()
    data["response"] = data["response"].copy(data=np.roll(data["response"].values, 1))
    tampered["fit_data"] = xr.DataTree(data)
    tampered.to_netcdf(tmp_path / "tampered.nc", engine="h5netcdf")
    with pytest.raises(bayesresp.FitFileError, match="do not match their recorded hash"):
        bayesresp.load_fit(tmp_path / "tampered.nc")
    foreign = xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset()})
    foreign.to_netcdf(tmp_path / "foreign.nc", engine="h5netcdf")
    with pytest.raises(bayesresp.FitFileError, match="not a bayesresp fit file"):
        bayesresp.load_fit(tmp_path / "foreign.nc")


def test_zarr_round_trip(hierarchical, tmp_path):
    path = hierarchical.save(tmp_path / "fit.zarr")
    back = bayesresp.load_fit(path)
    pd.testing.assert_frame_equal(back.summary(), hierarchical.summary())


# -- data that come without a codebook ---------------------------------------------------
def _rating_data(seed=4, n=600):
    rng = np.random.default_rng(seed)
    raters = np.array([f"rater{i}" for i in range(8)])
    rater = rng.choice(raters, n)
    effect = dict(zip(raters, rng.normal(0, 0.5, len(raters)), strict=True))
    treat_a = rng.choice(["control", "treated"], n)
    treat_b = rng.choice(["no", "yes"], n)
    eta = 1.0 * (treat_a == "treated") - 0.7 * (treat_b == "yes") + np.vectorize(effect.get)(rater)
    latent = eta + rng.logistic(size=n)
    rating = 1 + np.searchsorted([-1.5, -0.3, 0.8, 2.0], latent)
    return pd.DataFrame({"rating": rating, "treat_a": treat_a, "treat_b": treat_b, "rater": rater})


@pytest.fixture(scope="session")
def foreign_fit():
    return bayesresp.fit(
        _rating_data(),
        "rating ~ treat_a + treat_b + (1 | rater)",
        draws=300,
        tune=300,
        chains=2,
        seed=5,
        progress=False,
    )


def test_foreign_data_fit_from_one_line(foreign_fit):
    s = foreign_fit.summary()
    assert list(s.index) == [
        "treat_a[treated]",
        "treat_b[yes]",
        "cutpoint[1|2]",
        "cutpoint[2|3]",
        "cutpoint[3|4]",
        "cutpoint[4|5]",
        "sd(rater)",
        "R2",  # the default r2d2 prior: one block of covariates and the rater intercepts
        "share(covariates)",
        "share(group(rater))",
    ]
    assert foreign_fit.codebook.spectrum == ("1", "2", "3", "4", "5")
    assert s.loc["treat_a[treated]", "q5"] > 0 and s.loc["treat_b[yes]", "q95"] < 0
    assert set(s["block"]) == {"covariates", "cutpoints", "groups", "r2d2"}


def test_same_seed_same_draws(foreign_fit):
    again = bayesresp.fit(
        _rating_data(),
        "rating ~ treat_a + treat_b + (1 | rater)",
        draws=300,
        tune=300,
        chains=2,
        seed=5,
        progress=False,
    )
    for name in ("b", "cutpoints", "r[rater]"):
        np.testing.assert_array_equal(
            again.posterior[name].values, foreign_fit.posterior[name].values
        )


def test_probit_link(foreign_fit):
    spec = bayesresp.ModelSpec("rating ~ treat_a + treat_b + (1 | rater)", link="probit")
    f = bayesresp.fit(_rating_data(), spec, draws=300, tune=300, chains=2, seed=5, progress=False)
    s = f.summary()
    assert s.loc["treat_a[treated]", "q5"] > 0 and s.loc["treat_b[yes]", "q95"] < 0
    # Probit coefficients are logit ones divided by about 1.6-1.8.
    ratio = (
        foreign_fit.summary().loc["treat_a[treated]", "mean"] / s.loc["treat_a[treated]", "mean"]
    )
    assert 1.3 < ratio < 2.1
    assert f.variance_decomposition().loc["residual", "variance"] == 1.0
    with pytest.raises(bayesresp.BayesrespError, match="odds ratios belong to the logit"):
        f.odds_ratios()
    assert f.convergence()["divergences"] == 0


def test_pymc_sampler_is_selectable():
    data = _rating_data(n=200)
    f = bayesresp.fit(
        data,
        "rating ~ treat_a",
        draws=100,
        tune=100,
        chains=2,
        seed=1,
        sampler="pymc",
        progress=False,
    )
    assert "tree_depth" in f.tree["sample_stats"].to_dataset()  # PyMC's own NUTS
    assert f.summary().loc["treat_a[treated]", "mean"] > 0


def test_numpyro_sampler_runs_or_says_what_to_install():
    data = _rating_data(n=200)
    try:
        import numpyro  # noqa: F401
    except ImportError:
        with pytest.raises(bayesresp.SamplerError, match=r"pip install 'bayesresp\[jax\]'"):
            bayesresp.fit(data, "rating ~ treat_a", sampler="numpyro", progress=False)
        return
    f = bayesresp.fit(
        data,
        "rating ~ treat_a",
        draws=100,
        tune=100,
        chains=2,
        seed=1,
        sampler="numpyro",
        progress=False,
    )
    assert f.summary().loc["treat_a[treated]", "mean"] > 0


def test_unknown_sampler():
    with pytest.raises(bayesresp.SamplerError, match="'stan' is not one of"):
        bayesresp.fit(_rating_data(n=50), "rating ~ treat_a", sampler="stan")


# -- missing values ----------------------------------------------------------------------
def test_missing_values_stop_the_fit_with_the_rows(example):
    data = example.copy()
    data.loc[[3, 10], "severity"] = None
    spec = ModelSpec("response ~ severity + background")
    with pytest.raises(MissingDataError, match="rows 4, 11") as info:
        prepare_data(data, spec, None)
    assert info.value.rows == [4, 11] and "missing='drop'" in str(info.value)
    with pytest.warns(UserWarning, match="dropped 2 row"):
        frame, _ = prepare_data(data, spec, None, missing="drop")
    assert len(frame) == len(example) - 2
    # A column the formula does not use may have gaps.
    frame, _ = prepare_data(data, ModelSpec("response ~ background"), None)
    assert len(frame) == len(example)


# -- command line --------------------------------------------------------------------------
def test_cli_fit_and_summary(tmp_path, run_cli):
    data = bayesresp.simulate(missions=3, rows=150, seed=2)
    data.write(tmp_path / "d.csv")
    out = tmp_path / "f.nc"
    res = run_cli(
        "fit",
        tmp_path / "d.csv",
        "--spec",
        "baseline",
        "--out",
        out,
        "--draws",
        "100",
        "--tune",
        "100",
        "--chains",
        "2",
        "--seed",
        "3",
        "--quiet",
    )
    assert res.code == 0, res.err
    assert "Variance decomposition" in res.out and f"Saved the fit to {out}" in res.out
    meta = bayesresp.load_fit(out).meta
    assert (meta["log_density"], meta["centred"]) == ("kernel", False)
    # Centring needs nested group intercepts, and the kernel: one-line errors, no fit.
    new = tmp_path / "new.nc"  # (an existing --out is refused first)
    for flags, message in [
        (["--centring"], "needs nested group intercepts"),
        (["--no-kernel", "--centring"], "needs the compiled kernel"),
        (["--centre", "mission"], "needs nested group intercepts"),
        (["--centre", "mission", "--no-centring"], "not both"),
    ]:
        bad = run_cli("fit", tmp_path / "d.csv", "--spec", "baseline", "--out", new, *flags)
        assert bad.code == 2 and message in bad.err and len(bad.err.strip().splitlines()) == 1
    res = run_cli("summary", out, "--table", "variance", "--format", "json")
    assert res.code == 0 and '"component":"residual"' in res.out.replace(" ", "")
    assert run_cli("summary", out, "--format", "csv").code == 2
    bad = run_cli("fit", tmp_path / "d.csv", "--spec", "nonexistent_spec", "--out", new)
    assert bad.code == 2 and "specification file not found" in bad.err
    bad = run_cli("summary", tmp_path / "d.csv")
    assert bad.code == 2 and "cannot be read as a fit file" in bad.err


@pytest.mark.parametrize(
    "option, value",
    [
        ("draws", 0),
        ("draws", -5),
        ("tune", -10),
        ("chains", 0),
        ("target_accept", 1.5),
        ("seed", -1),
        ("cores", 0),
        ("kernel", "yes"),
    ],
)
def test_sampler_settings_out_of_range_are_refused_before_sampling(example, option, value):
    """Issue 14, item 13: fit() arguments get the package's own error, not a library's
    (nothing is validated or sampled before the settings are checked)."""
    with pytest.raises(bayesresp.SamplerError, match=option):
        bayesresp.fit(example, "response ~ severity", **{option: value})


def test_one_chain_fit_is_diagnosed_without_r_hat(example, run_cli, tmp_path):
    """r_hat compares chains: with one chain the check says so (a warning), instead of
    failing on an all-NaN column; the command line fits and reports without a traceback."""
    fit = bayesresp.fit(
        example.head(300),
        "response ~ severity + (1 | mission)",
        draws=100,
        tune=100,
        chains=1,
        seed=2,
        progress=False,
    )
    report = fit.diagnose()
    check = next(c for c in report.checks if c.name == "max r_hat")
    assert check.verdict == "warn" and "1 chain" in check.detail
    assert "nan" in fit.convergence_line()
    data = tmp_path / "d.csv"
    example.head(300).to_csv(data, index=False)
    res = run_cli(
        "fit",
        data,
        "--spec",
        "baseline",
        "--out",
        tmp_path / "f.nc",
        "--chains",
        "1",
        "--draws",
        "100",
        "--seed",
        "1",
    )
    assert res.code == 0 and "Traceback" not in res.err, res.err


# -- degenerate data (issue 14, items 9-11) -------------------------------------------------
def test_an_outcome_with_one_level_is_refused(example):
    one = example[example["response"] == "quiet_diplomacy"]
    with pytest.raises(bayesresp.BayesrespError, match=r"1 level\(s\) in the data"):
        bayesresp.fit(one, "response ~ severity", draws=50, tune=50, chains=1)


def test_terms_the_data_cannot_inform_are_named():
    """A factor with one level present, and interaction cells no row has: listed with
    their reasons, without sampling."""
    from bayesresp.inference.fitting import dropped_terms, prepare_data
    from bayesresp.model.design import make_design

    data = bayesresp.load_example()
    data = data[data["background"] == "military_security"]
    spec = bayesresp.ModelSpec(
        "response ~ background + duty_location * interlocutor + (1 | mission)"
    )
    frame, cb = prepare_data(data, spec, None)
    sub = frame[
        ~(
            (frame["duty_location"] == "field_office")
            & (frame["interlocutor"] != frame["interlocutor"].iloc[0])
        )
    ]
    design = make_design(sub, spec.parsed, cb)
    dropped = dropped_terms(design.info, spec.parsed)
    assert "only 'military_security' of background occurs" in dropped["background"]
    assert "cell(s) no row has" in dropped["interaction cells"]


def test_a_fit_says_what_it_could_not_estimate(example):
    data = example[example["background"] == "military_security"].head(300)
    with pytest.warns(UserWarning, match="not estimable from these data: background"):
        fit = bayesresp.fit(
            data,
            "response ~ background + severity",
            draws=50,
            tune=50,
            chains=1,
            seed=1,
            progress=False,
        )
    assert "background" in fit.meta["dropped"]


def test_a_factor_left_with_columns_is_not_reported():
    """A factor with one level present that still has columns through an interaction with
    another variable is estimable there: only terms left without any column are named."""
    from bayesresp.inference.fitting import dropped_terms, prepare_data
    from bayesresp.model.design import make_design

    data = bayesresp.load_example()
    data = data[data["background"] == "military_security"]
    spec = bayesresp.ModelSpec("response ~ background:duty_location + (1 | mission)")
    frame, cb = prepare_data(data, spec, None)
    design = make_design(frame, spec.parsed, cb)
    assert any(c.term == "background:duty_location" for c in design.info.columns)
    assert dropped_terms(design.info, spec.parsed) == {}


def test_a_monotonic_effect_is_named_only_when_one_level_is_present():
    """mo() terms are looked up under their own coding: with every severity level present
    nothing is reported, with one level the monotonic effect is named with its reason."""
    from bayesresp.inference.fitting import dropped_terms, prepare_data
    from bayesresp.model.design import make_design

    data = bayesresp.load_example()
    spec = bayesresp.ModelSpec("response ~ mo(severity) + background + (1 | mission)")
    frame, cb = prepare_data(data, spec, None)
    assert dropped_terms(make_design(frame, spec.parsed, cb).info, spec.parsed) == {}
    level = frame["severity"].iloc[0]
    one = frame[frame["severity"] == level]
    dropped = dropped_terms(make_design(one, spec.parsed, cb).info, spec.parsed)
    assert set(dropped) == {"mo(severity)"}
    assert f"only '{level}' of severity occurs" in dropped["mo(severity)"]
