"""What-if queries, contrasts, marginal effects and scenarios on the shipped fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

import bayesresp
from bayesresp import DataValidationError
from bayesresp.data.simulate import linear_predictor
from bayesresp.data.tables import write_csv
from bayesresp.queries.whatif import ProfileError

MISSION_COLS = ("host_consent_leverage", "mission_phase")


def _profile_from_row(data: pd.DataFrame, i: int, label: str) -> dict:
    row = data.iloc[i]
    cols = ["mission", "department", *[f.name for f in bayesresp.Codebook.default().covariates]]
    out = {c: row[c] for c in cols}
    out["profile"] = label
    return out


def _true_probabilities(profiles: pd.DataFrame, truth: dict, sd_official: float) -> np.ndarray:
    """True P(level) for a profile's mission and department, averaged over officials.

    The official's effect is unknown for a hypothetical official, so the truth integrates
    it out: E_u[P(level | eta + u)], u ~ N(0, sd_official^2), by Gauss-Hermite (40 nodes).
    """
    eta = linear_predictor(
        profiles.drop(columns="official_id", errors="ignore"), truth, bayesresp.Codebook.default()
    )
    cuts = np.array(list(truth["cutpoints"].values()))
    x, w = np.polynomial.hermite.hermgauss(40)
    u = np.sqrt(2) * sd_official * x
    cum = special.expit(cuts[None, None, :] - (eta[:, None] + u[None, :])[:, :, None])
    cum = np.concatenate(
        [np.zeros(cum.shape[:2] + (1,)), cum, np.ones(cum.shape[:2] + (1,))], axis=2
    )
    p = np.diff(cum, axis=2)
    return np.einsum("nqk,q->nk", p, w / np.sqrt(np.pi))


@pytest.fixture(scope="module")
def profiles(example):
    rows = np.random.default_rng(0).choice(len(example), 20, replace=False)
    return pd.DataFrame([_profile_from_row(example, i, f"p{j}") for j, i in enumerate(rows)])


@pytest.mark.slow
def test_probabilities_close_to_the_truth(full_fit, profiles):
    """Posterior mean P(level) vs the truth, for 20 profiles x 8 levels (known groups,
    a new official integrated over, as the truth is).

    Tolerance: each cell within 3 posterior sd of the truth (a calibrated posterior puts
    the truth that far out rarely), and the 90% intervals cover at least 75% of the 160
    cells: cells of one profile are strongly correlated, so the coverage of 160 cells
    varies far more than a binomial 0.9 would; 0.75 is the rate the recovery test uses.
    """
    truth = bayesresp.load_example_truth()
    r = full_fit.what_if(profiles, groups="known")
    assert r.group_modes == {
        "mission": "known",
        "mission:department": "known",
        "official_id": "new",
    }
    true = _true_probabilities(r.profiles, truth, truth["sd"]["official_id"])
    p = r._flat()
    mean, sd = p.mean(axis=0), p.std(axis=0)
    lo, hi = np.quantile(p, [0.05, 0.95], axis=0)
    assert np.all(np.abs(mean - true) <= 3 * sd + 1e-3), np.abs(mean - true).max()
    assert ((lo <= true) & (true <= hi)).mean() >= 0.75


def test_probabilities_sum_to_one_and_thresholds_are_monotone(hierarchical, profiles):
    r = hierarchical.what_if(profiles.head(5))
    p = r.probabilities
    np.testing.assert_allclose(p.sum("level").values, 1.0, atol=1e-12)
    assert r.probabilities.dims == ("chain", "draw", "profile", "level")
    assert list(p["level"].values) == list(bayesresp.Codebook.default().spectrum)
    ge = np.stack([r.at_least(lv).values for lv in r.levels], axis=-1)
    assert np.all(np.diff(ge, axis=-1) <= 1e-12)  # P(>= k) falls as k rises, every draw
    table = r.to_dataframe()
    assert table.loc[("p0", "conceal"), "p_at_least"] == pytest.approx(1.0)
    assert set(r.summary()["most_probable"]) <= set(r.levels)


def test_new_missions_are_more_uncertain_than_known(hierarchical, profiles):
    known = hierarchical.what_if(profiles.head(6), groups="known").summary()
    new = hierarchical.what_if(profiles.head(6), groups="new").summary()
    width = lambda s: s["position_q95"] - s["position_q5"]  # noqa: E731
    assert (width(new) > width(known)).all()
    avg = hierarchical.what_if(
        profiles.head(6).drop(columns=["mission", "department"]), groups="average"
    )
    assert set(avg.group_modes.values()) == {"average"}


def test_what_if_is_reproducible(hierarchical, profiles):
    a = hierarchical.what_if(profiles.head(3), groups="new").to_dataframe()
    b = hierarchical.what_if(profiles.head(3), groups="new").to_dataframe()
    pd.testing.assert_frame_equal(a, b)


def test_bad_profiles_get_one_clear_error(hierarchical, profiles):
    good = profiles.iloc[0].to_dict()
    with pytest.raises(DataValidationError) as info:
        hierarchical.what_if(dict(good, background="militray"))
    msg = str(info.value)
    assert "profile 'p0'" in msg and "did you mean 'military_security'" in msg
    assert "development_agency" in msg  # the valid levels are named
    no_sev = {k: v for k, v in good.items() if k != "severity"}
    with pytest.raises(ProfileError, match="lack severity.*fill='typical'"):
        hierarchical.what_if(no_sev)
    filled = hierarchical.what_if(no_sev, fill="typical")
    assert filled.filled == {"severity": hierarchical.data["severity"].mode().iloc[0]}
    with pytest.raises(ProfileError, match="mission 'ATLANTIS' is not in the fitted data"):
        hierarchical.what_if(dict(good, mission="ATLANTIS"))
    new = hierarchical.what_if(dict(good, mission="ATLANTIS"), groups="new")
    assert new.group_modes["mission"] == "new"
    with pytest.raises(ProfileError, match="groups must be one of"):
        hierarchical.what_if(good, groups="some")


def test_a_misspelt_profile_column_is_an_error_with_fill_too(hierarchical, profiles):
    good = profiles.iloc[0].to_dict()
    typo = {("backgrund" if k == "background" else k): v for k, v in good.items()}
    message = (
        r"profile column 'backgrund' is not a covariate or group of this model; "
        r"did you mean 'background'\?"
    )
    for fill in (None, "typical"):  # never answered for the typical background
        with pytest.raises(ProfileError, match=message):
            hierarchical.what_if(typo, fill=fill)
    with pytest.raises(ProfileError, match=message):
        hierarchical.contrast(typo, {"severity": "grave"}, fill="typical")
    with pytest.raises(
        ProfileError,
        match=r"profile columns 'backgrund' \(did you mean 'background'\?\), 'zzz' are not",
    ):
        hierarchical.what_if(dict(typo, zzz=1), fill="typical")
    # Codebook columns the model does not use are accepted, and change nothing.
    extra = dict(good, year=1999, official_id="O-1", source="hypothetical")
    pd.testing.assert_frame_equal(
        hierarchical.what_if(extra).to_dataframe(), hierarchical.what_if(good).to_dataframe()
    )


def test_contrast_signs_match_strong_true_effects(full_fit, profiles):
    """For every strong effect (|coefficient| >= 0.5 in the truth), the contrast of its
    level against the reference at a typical profile moves the expected position in the
    true direction."""
    truth = bayesresp.load_example_truth()
    base = profiles.iloc[0].to_dict()
    cb = bayesresp.Codebook.default()
    checked = 0
    for name, value in truth["coefficients"].items():
        if "[" not in name or abs(value) < 0.5:
            continue
        var, level = name[:-1].split("[")
        if var in MISSION_COLS:
            continue  # mission context cannot change within a known mission
        start = dict(base, **{var: cb.field(var).categories[0]})
        if level not in full_fit.data[var].astype(str).unique():
            with pytest.raises(ProfileError, match="never occurs in the fitted data"):
                full_fit.contrast(start, {var: level})
            continue
        c = full_fit.contrast(start, {var: level})
        assert np.sign(c.position.mean()) == np.sign(value), (name, c.position.mean())
        checked += 1
    assert checked >= 8
    # Mission context: contrast in a new mission, where it can change.
    start = dict(base, host_consent_leverage="low")
    c = full_fit.contrast(start, {"host_consent_leverage": "high"}, groups="new")
    assert c.position.mean() < 0


def test_contrast_table(hierarchical, profiles):
    c = hierarchical.contrast(profiles.iloc[0].to_dict(), {"duty_location": "field_office"})
    t = c.to_dataframe()
    assert t.loc[("P(level)", "enforcement"), "mean"] == pytest.approx(c.difference[:, -1].mean())
    assert t["mean"].loc["P(level)"].sum() == pytest.approx(0.0, abs=1e-12)
    assert 0 <= t.loc[("expected position", ""), "p_positive"] <= 1
    with pytest.raises(ProfileError, match="no changes given"):
        hierarchical.contrast(profiles.iloc[0].to_dict(), {})


def test_marginal_effects_rank_and_agree_with_truth(hierarchical):
    me = hierarchical.marginal_effects(draws=300)
    assert list(me["mean"].abs()) == sorted(me["mean"].abs(), reverse=True)
    row = me.loc[(me["variable"] == "severity") & (me["contrast"] == "grave vs minor")].iloc[0]
    assert row["q5"] > 0 and row["block"] == "incident"
    yrs = me.loc[me["variable"] == "years_at_station"].iloc[0]
    assert yrs["contrast"].startswith("+1 sd") and yrs["mean"] < 0
    assert {"incident", "individual", "departmental", "positional", "mission"} <= set(me["block"])


# The scenarios' plumbing (rules, rows changed, notes, errors, shifts of exactly zero) holds
# whatever the draws: those tests read the hierarchical fit thinned to 250 draws per chain
# (conftest.py: thinned_fits), a scenario's time growing with the draws; the rotation's
# shift, a claim about the posterior, reads the fit itself.
def test_scenario_that_changes_nothing_shifts_nothing(thinned_fits):
    s = thinned_fits["hierarchical"].scenario({"column": "years_at_station", "max": 1000})
    assert s.changed_rows == 0
    assert np.all(s.shift == 0.0)


def test_scenario_on_an_unused_covariate_says_so(thinned_fits):
    s = thinned_fits["hierarchical"].scenario({"column": "year", "set": 2000})
    assert any("does not use 'year'" in n for n in s.notes)
    assert np.all(s.shift == 0.0)


def test_rotation_scenario_moves_towards_confrontation(hierarchical, tmp_path):
    rules = tmp_path / "rotate.toml"
    rules.write_text('[[rule]]\ncolumn = "years_at_station"\nmax = 3\n')
    s = hierarchical.scenario(rules)
    pos = s.position_shift()
    assert pos.loc["overall", "shift"] > 0  # the truth: -0.1 per year
    assert s.changed_rows == int((hierarchical.data["years_at_station"] > 3).sum())
    table = s.to_dataframe()
    assert set(table.index.get_level_values("mission")) == set(s.groups)
    shares = s.after.sum(axis=2)
    np.testing.assert_allclose(shares, 1.0, atol=1e-12)


def test_scenario_rules_where_and_errors(thinned_fits):
    hierarchical = thinned_fits["hierarchical"]
    s = hierarchical.scenario(
        {
            "column": "external_link",
            "set": "integrated_reporting_line",
            "where": {"department": "Human Rights"},
        }
    )
    hr = hierarchical.data["department"] == "Human Rights"
    already = (hierarchical.data.loc[hr, "external_link"] == "integrated_reporting_line").sum()
    assert s.changed_rows == hr.sum() - already
    with pytest.raises(bayesresp.BayesrespError, match="'ohchr' is not a level"):
        hierarchical.scenario({"column": "external_link", "set": "ohchr"})
    with pytest.raises(bayesresp.BayesrespError, match="needs 'set', 'max' or 'min'"):
        hierarchical.scenario({"column": "external_link"})


# -- command line ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(thinned_fits, tmp_path_factory):
    """The hierarchical fit thinned to 250 draws per chain (conftest.py: thinned_fits), saved:
    the command-line tests check what the commands print and write, and each command loads
    the file and queries every draw in it."""
    return thinned_fits["hierarchical"].save(tmp_path_factory.mktemp("fits") / "h.nc")


@pytest.fixture(scope="module")
def saved_all(hierarchical, tmp_path_factory):
    path = tmp_path_factory.mktemp("fits") / "h.nc"
    return hierarchical.save(path)


def test_cli_whatif_contrast_scenario_effects(saved, profiles, tmp_path, run_cli):
    csv = tmp_path / "profiles.csv"
    profiles.head(3).to_csv(csv, index=False)
    out = tmp_path / "answers.csv"
    res = run_cli("whatif", saved, csv, "--out", out)
    assert res.code == 0, res.err
    assert "p0" in res.out and "most_probable" in res.out
    assert len(pd.read_csv(out)) == 3 * 8
    res = run_cli("whatif", saved, csv, "--groups", "new", "--format", "json")
    assert res.code == 0 and '"profile":"p0"' in res.out.replace(" ", "")
    res = run_cli("contrast", saved, csv, "--profile", "p1", "--set", "duty_location=field_office")
    assert res.code == 0 and "expected position" in res.out
    rules = tmp_path / "r.toml"
    rules.write_text('[[rule]]\ncolumn = "years_at_station"\nmax = 3\n')
    data = tmp_path / "d.csv"
    write_csv(bayesresp.load_example(), data)
    res = run_cli("scenario", saved, data, rules)
    assert res.code == 0 and "overall" in res.out
    res = run_cli("effects", saved, "--draws", "100", "--format", "csv")
    assert res.code == 0 and res.out.startswith("variable,contrast")


def test_cli_query_errors(saved, profiles, tmp_path, run_cli):
    bad = tmp_path / "bad.csv"
    profiles.head(1).assign(background="militray").to_csv(bad, index=False)
    res = run_cli("whatif", saved, bad)
    assert res.code == 1 and "did you mean 'military_security'" in res.err
    typo = tmp_path / "typo.csv"
    profiles.head(1).drop(columns="background").assign(backgrund="other").to_csv(typo, index=False)
    res = run_cli("whatif", saved, typo, "--fill-typical")
    assert res.code == 1 and res.out == ""
    assert res.err.splitlines() == [
        "error: profile column 'backgrund' is not a covariate or group of this model; "
        "did you mean 'background'? (the model uses: "
        + ", ".join(v for v in bayesresp.load_fit(saved).info.variables if v != "response")
        + ")"
    ]
    res = run_cli("contrast", saved, bad, "--set", "nonsense")
    assert res.code == 2 and "COLUMN=VALUE" in res.err
    rules = tmp_path / "r.toml"
    rules.write_text("[[rule]]\ncolumn = 3 = 4\n")
    res = run_cli("scenario", saved, tmp_path / "missing.csv", rules)
    assert res.code == 2


def test_profile_plot(hierarchical, profiles, tmp_path):
    r = hierarchical.what_if(profiles.head(3))
    ax = r.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["p0", "p1", "p2"]
    assert len(ax.patches) == 3 * 8  # one segment per profile and level
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(bayesresp.Codebook.default().spectrum)
    ax.figure.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_contrast_of_a_column_the_model_does_not_use(hierarchical, profiles):
    base = profiles.iloc[0].to_dict()
    with pytest.raises(ProfileError, match="did you mean 'duty_location'"):
        hierarchical.contrast(base, {"duty_locaton": "field_office"})
    with pytest.raises(ProfileError, match="does not use 'year'"):
        hierarchical.contrast(base, {"year": 1990})
    no_duty = {k: v for k, v in base.items() if k != "duty_location"}
    c = hierarchical.contrast(no_duty, {"duty_location": "field_office"}, fill="typical")
    assert np.isfinite(c.position).all()


def test_scenario_data_with_gaps_is_refused(hierarchical):
    data = hierarchical.data.head(50).copy()
    data.loc[data.index[3], "years_at_station"] = np.nan
    with pytest.raises(bayesresp.BayesrespError, match="rows 4.*years_at_station|years_at_"):
        hierarchical.scenario({"column": "years_at_station", "max": 3}, data)


def test_group_effects_of_a_fit_without_group_terms(shipped_fits):
    empty = shipped_fits["baseline"].group_effects()
    assert len(empty) == 0 and list(empty.index.names) == ["group", "level", "term"]


def test_what_if_tables_are_byte_identical_from_a_new_process(
    hierarchical, saved_all, profiles, tmp_path
):
    """A saved fit, loaded in a fresh Python process and queried there, writes the very
    bytes this process computes from the fit in memory."""
    import subprocess
    import sys

    csv = tmp_path / "profiles.csv"
    profiles.head(4).to_csv(csv, index=False)
    out = tmp_path / "answers.csv"
    subprocess.run(
        [sys.executable, "-m", "bayesresp", "whatif", str(saved_all), str(csv), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    here = tmp_path / "here.csv"
    hierarchical.what_if(csv).to_dataframe().to_csv(here)
    assert out.read_bytes() == here.read_bytes()
