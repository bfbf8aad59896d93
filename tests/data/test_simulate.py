import json

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.data.examples import EXAMPLE_MISSIONS, EXAMPLE_ROWS, EXAMPLE_SEED, example_path
from bayesresp.data.simulate import DEFAULT_CUTPOINTS, DEFAULT_SD, linear_predictor


@pytest.fixture(scope="module")
def sim():
    return bayesresp.simulate(missions=12, rows=2000, seed=11)


def test_size_and_nesting(sim):
    d = sim.data
    assert len(d) == 2000 and d["mission"].nunique() == 12
    depts = d.groupby(["mission", "department"], observed=True).ngroups
    assert 50 <= depts <= 70
    assert 300 <= d["official_id"].nunique() <= 500
    # Department names repeat across missions: identity is mission + department.
    assert d.groupby("department")["mission"].nunique().max() > 1
    # Each incident belongs to one mission, and incidents are shared by several rows.
    assert d.groupby("incident_id")["mission"].nunique().max() == 1
    assert (d["incident_id"].value_counts() > 1).mean() > 0.3
    # Officials appear in several rows; some served in two missions.
    assert d["official_id"].value_counts().median() >= 3
    assert (d.groupby("official_id")["mission"].nunique() > 1).any()


def _constant_within(d, keys, cols):
    g = d.groupby(keys, observed=True)[cols].nunique()
    return bool((g <= 1).all().all())


def test_levels_are_constant_where_the_theory_says(sim):
    d = sim.data
    assert _constant_within(d, ["mission"], ["host_consent_leverage", "mission_phase"])
    assert _constant_within(
        d,
        ["mission", "department"],
        ["politicization", "professional_composition", "interlocutor", "external_link"],
    )
    assert _constant_within(d, ["official_id"], ["background", "nationality_group"])
    assert _constant_within(d, ["incident_id"], ["violation_type", "severity", "year"])
    assert _constant_within(
        d, ["official_id", "mission"], ["department", "hierarchy_level", "years_at_station"]
    )


def test_staffing_looks_like_a_mission(sim):
    d = sim.data
    heads = d.loc[d["hierarchy_level"] == "head_of_mission"]
    per_mission = heads.groupby("mission", observed=True)["official_id"].nunique()
    assert (per_mission == 1).all() and len(per_mission) == 12
    assert (heads["duty_location"] == "mission_hq_capital").all()
    assert (heads["department"] == "Office of the SRSG").all()
    officials = d.drop_duplicates(["official_id", "mission"])
    share = officials["hierarchy_level"].value_counts(normalize=True)
    assert share["working_level"] == share.max() and share["working_level"] > 0.5
    hr = d.loc[d["department"] == "Human Rights"].drop_duplicates("mission")
    assert (hr["politicization"] == "high").mean() > 0.5  # typical, not universal
    assert (hr["external_link"] == "integrated_reporting_line").mean() > 0.5


def test_spectrum_is_spread(sim):
    share = sim.data["response"].value_counts(normalize=True)
    assert (share > 0.02).all()
    assert share.idxmax() in ("quiet_diplomacy", "private_condemnation", "mild_concern")


def test_truth_is_complete_and_consistent(sim):
    t = sim.truth
    assert t["synthetic"] is True and t["seed"] == 11
    assert list(t["cutpoints"].values()) == list(DEFAULT_CUTPOINTS)
    assert list(t["cutpoints"])[0] == "conceal|silence"
    assert t["sd"] == DEFAULT_SD
    assert t["coefficients"]["background[military_security]"] == 0.9
    mo = t["monotonic"]["hierarchy_level"]
    assert mo["total"] == -1.0
    assert t["coefficients"]["hierarchy_level[head_of_mission]"] == pytest.approx(-1.0)
    assert t["coefficients"]["hierarchy_level[section_chief]"] == pytest.approx(-0.2)
    assert set(t["group_effects"]["mission"]) == set(sim.data["mission"])
    depts = set(sim.data["mission"] + ":" + sim.data["department"])
    assert depts <= set(t["group_effects"]["mission:department"])
    json.dumps(t)  # JSON-ready


def test_paper_signs(sim):
    c = sim.truth["coefficients"]
    assert c["background[human_rights_legal]"] > 0 and c["background[military_security]"] > 0
    assert c["nationality_group[global_south]"] > 0  # i.e. global_north is conciliatory
    assert c["years_at_station"] < 0
    assert c["interlocutor[security_forces]"] < 0
    assert c["professional_composition[administrators_and_technicians]"] < 0
    assert c["duty_location[field_office]"] > 0 and c["duty_location[un_headquarters]"] > 0
    assert c["external_link[integrated_reporting_line]"] > 0
    assert c["host_consent_leverage[high]"] < 0 and c["mission_phase[drawdown]"] < 0
    assert c["severity[grave]"] > c["severity[serious]"] > c["severity[moderate]"] > 0


def test_responses_follow_the_generating_model():
    """The empirical share at or below each level matches the model's mean probability.

    With n = 20,000 rows, the standard error of a share is at most 0.5/sqrt(n) = 0.0035;
    we allow 4 standard errors (0.014), plus nothing for group effects, which are in eta.
    """
    sim = bayesresp.simulate(missions=12, rows=20000, seed=5)
    eta = linear_predictor(sim.data, sim.truth, bayesresp.Codebook.default())
    cuts = np.asarray(list(sim.truth["cutpoints"].values()))
    expected = (1 / (1 + np.exp(-(cuts[None, :] - eta[:, None])))).mean(axis=0)
    codes = sim.data["response"].cat.codes.to_numpy()
    observed = np.array([(codes <= k).mean() for k in range(len(cuts))])
    np.testing.assert_allclose(observed, expected, atol=0.014)


def test_same_seed_same_data_other_seed_other_data():
    a = bayesresp.simulate(missions=4, rows=300, seed=9)
    b = bayesresp.simulate(missions=4, rows=300, seed=9)
    c = bayesresp.simulate(missions=4, rows=300, seed=10)
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.truth == b.truth
    assert not a.data["response"].equals(c.data["response"])


def test_without_seed_the_seed_used_is_recorded():
    a = bayesresp.simulate(missions=2, rows=40)
    b = bayesresp.simulate(missions=2, rows=40, seed=a.truth["seed"])
    pd.testing.assert_frame_equal(a.data, b.data)


def test_every_row_says_synthetic(sim):
    assert sim.data["source"].str.startswith("synthetic").all()


def test_cli_simulate_is_byte_reproducible(tmp_path, run_cli):
    args = ["simulate", "--missions", "5", "--rows", "400", "--seed"]
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        res = run_cli(
            *args, seed, "--out", tmp_path / f"{name}.csv", "--truth", tmp_path / f"{name}.json"
        )
        assert res.code == 0 and "SYNTHETIC" in res.out
    read = lambda n: (tmp_path / n).read_bytes()  # noqa: E731
    assert read("a.csv") == read("b.csv") and read("a.json") == read("b.json")
    assert read("a.csv") != read("c.csv")
    assert run_cli("validate", tmp_path / "a.csv").code == 0
    assert "synthetic (bayesresp.simulate, seed 3)" in read("a.csv").decode()


def test_cli_simulate_parquet(tmp_path, run_cli):
    out = tmp_path / "s.parquet"
    assert (
        run_cli("simulate", "--missions", "2", "--rows", "50", "--seed", "1", "--out", out).code
        == 0
    )
    assert len(bayesresp.validate(out)) == 50


def test_cli_simulate_bad_options(tmp_path, run_cli):
    res = run_cli("simulate", "--missions", "5", "--rows", "3", "--out", tmp_path / "x.csv")
    assert res.code == 2 and "at least one row per mission" in res.err
    res = run_cli("simulate", "--rows", "30", "--out", tmp_path / "x.xlsx")
    assert res.code == 2 and ".csv or .parquet" in res.err


def test_embedded_example_is_what_the_simulator_gives(tmp_path, run_cli):
    """The shipped example regenerates byte for byte from its documented seed."""
    out, truth = tmp_path / "ex.csv", tmp_path / "ex.json"
    res = run_cli(
        "simulate",
        "--missions",
        EXAMPLE_MISSIONS,
        "--rows",
        EXAMPLE_ROWS,
        "--seed",
        EXAMPLE_SEED,
        "--out",
        out,
        "--truth",
        truth,
    )
    assert res.code == 0
    assert out.read_bytes() == example_path().read_bytes()
    assert json.loads(truth.read_text()) == bayesresp.load_example_truth()


def test_example_shape(example):
    assert len(example) == 2000 and example["mission"].nunique() == 12
    assert 50 <= example.groupby(["mission", "department"]).ngroups <= 70
    assert 300 <= example["official_id"].nunique() <= 500
