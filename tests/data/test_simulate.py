import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.data import simulate as simmod
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
    res = run_cli("simulate", "--missions", "3", "--officials", "2", "--out", tmp_path / "x.csv")
    assert res.code == 2 and "at least one official per mission" in res.err
    assert not (tmp_path / "x.csv").exists()
    with pytest.raises(ValueError, match="one official per mission"):
        bayesresp.simulate(missions=3, rows=30, officials=2)


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


# -- the simulator reads its draws in bulk: the same numbers, in the same order ---------
@pytest.mark.parametrize(
    ("settings", "csv_sha", "truth_sha"),
    [
        (dict(missions=20, rows=3000, seed=5), "6c682715a03c9d09", "11a1ec02352c3338"),
        (
            dict(missions=5, rows=400, seed=6, coders=3, double_coded=0.3),
            # since coders read true levels (hierarchical rater model) with leniencies
            # relative to their mean, through the logistic reading (the truth's file,
            # which holds no codes, is unchanged by the reading)
            "4739de77891a0b56",
            "ca1d3a87451437b3",
        ),
        (dict(missions=1, rows=60, seed=12, officials=3), "7793cc9eaf1f5dd2", "d16044624c3d805a"),
        (dict(missions=12, rows=20000, seed=8), "54788b3ee8c404ce", "15bbf780f7318a10"),
    ],
)
def test_files_are_those_of_the_stepwise_simulator(tmp_path, settings, csv_sha, truth_sha):
    """Fingerprints of the files the simulator wrote when it made one numpy call per draw
    (numpy 2.5): reading the draws in bulk changed no byte. More than 15 missions, one
    mission, few officials (the same official drawn twice for an incident), coders and
    double coding, and 20,000 rows. The codes of the coders' case are pinned since the
    reading became logistic (the stepwise simulator read with a normal one): its truth's
    file, which holds no codes, is still the stepwise simulator's."""
    bayesresp.simulate(**settings).write(tmp_path / "d.csv", tmp_path / "t.json")
    assert hashlib.sha256((tmp_path / "d.csv").read_bytes()).hexdigest()[:16] == csv_sha
    assert hashlib.sha256((tmp_path / "t.json").read_bytes()).hexdigest()[:16] == truth_sha


def _numpy_op(rng, op, arg):
    """One draw made by numpy's own call, as :class:`_Words` emulates it."""
    if op == "random":
        return rng.random(arg).tolist()
    if op == "below":
        return int(rng.integers(0, arg))
    if op == "poisson":
        return int(rng.poisson(arg))
    p = np.array([1.0, 4.0, 1.0, 0.5, 2.0])
    return rng.choice(5, size=arg, replace=False, p=p / p.sum()).tolist()


def _words_op(words, op, arg):
    if op == "random":
        return words.random(arg)
    if op == "below":
        return words.below(arg)
    if op == "poisson":
        return words.poisson(math.exp(-arg))
    p = np.array([1.0, 4.0, 1.0, 0.5, 2.0])
    return words.choice(simmod._cdf(p), p / p.sum(), arg)


def _script(seed, n=3000):
    """A random sequence of draws: uniforms, integers (ranges of one, small, 2**32 and
    2**31 + 1, where Lemire's method rejects half of the draws), Poisson counts (long
    runs with lam 9.5) and draws without replacement (often of one official twice)."""
    pick = np.random.default_rng(seed)
    args = {
        "random": (1, 2, 5),
        "below": (1, 2, 25, 2**31 + 1, 2**32),
        "poisson": (0.5, 1.2, 9.5),
        "choice": (1, 2, 3, 5),
    }
    ops = pick.choice(list(args), n)
    return [(op, args[op][pick.integers(len(args[op]))]) for op in ops]


@pytest.mark.parametrize("chunk", [1, 3, 64, None])
def test_bulk_words_are_numpy_draws(chunk):
    """Uniforms, integers, Poisson counts and draws without replacement read from the
    generator's words are numpy's own, and the generator ends where numpy leaves it (the
    half word kept for the next 32-bit draw included), whatever the chunk size."""
    ref, rng = np.random.default_rng(123), np.random.default_rng(123)
    ref.integers(0, 7), rng.integers(0, 7)  # start with half a word kept
    words = simmod._Words(rng, chunk=chunk)
    for op, arg in _script(1):
        assert _words_op(words, op, arg) == _numpy_op(ref, op, arg), (op, arg)
    words.close()
    assert rng.bit_generator.state == ref.bit_generator.state
    assert rng.random() == ref.random() and rng.integers(0, 9) == ref.integers(0, 9)


def test_lazy_words_mix_with_numpy_calls():
    """Lazily read words can be mixed with the generator's own calls (the gamma draws
    of the officials' loop)."""
    ref, rng = np.random.default_rng(5), np.random.default_rng(5)
    words = simmod._Words(rng, lazy=True)
    for i, (op, arg) in enumerate(_script(2, 1500)):
        assert _words_op(words, op, arg) == _numpy_op(ref, op, arg), (op, arg)
        if i % 3 == 0:
            assert rng.gamma(2.0, 1.8) == ref.gamma(2.0, 1.8)
        if i % 5 == 0:
            assert rng.random() == ref.random()
    words.close()
    assert rng.bit_generator.state == ref.bit_generator.state


def _incidents_stepwise(rng, per_mission, weights, years, vt_p, sev_p):
    """The incident loop as first written: one numpy call per draw."""
    incidents, sizes, staff = [], [], []
    for m, (n_m, w, (start, end)) in enumerate(zip(per_mission, weights, years, strict=True)):
        done = k = 0
        while done < n_m:
            k += 1
            size = int(min(n_m - done, len(w), 1 + rng.poisson(simmod._EXTRA_RESPONDERS)))
            who = rng.choice(len(w), size=size, replace=False, p=w / w.sum())
            year = int(rng.integers(start, end + 1))
            vt = int(rng.choice(len(vt_p), p=vt_p / vt_p.sum()))
            sev = int(rng.choice(len(sev_p), p=sev_p / sev_p.sum()))
            incidents += (m, k, year, vt, sev)
            sizes.append(size)
            staff.extend(who.tolist())
            done += size
    return incidents, np.repeat(np.arange(len(sizes)), sizes), np.array(staff)


@pytest.mark.parametrize(
    ("chunk", "poisson_max"), [(None, 32), (1, 32), (7, 32), (None, 0), (5, 1)]
)
def test_incident_loop_draws_as_numpy_calls(monkeypatch, chunk, poisson_max):
    """The incident loop's shortcut (an incident read straight from the buffered words)
    and its step-by-step path give numpy's draws: staffs of one, three and 500 (the
    same official drawn twice is common in small staffs), a mission of one year (no
    draw), one of 2**31 + 1 years (Lemire's method rejects half the draws), at every
    chunk size and whichever path takes each incident."""
    if chunk:
        monkeypatch.setattr(simmod, "_WORDS_PER_CHUNK", chunk)
    monkeypatch.setattr(simmod, "_FAST_POISSON_MAX", poisson_max)
    vt_p, sev_p = np.array([0.35, 0.15, 0.2, 0.12, 0.1, 0.08]), np.array([1.0, 2.0, 3.0])
    per_mission = [40, 300, 2, 500, 700]
    weights = [np.array([4.0]), np.array([4.0, 1.0, 1.0]), np.ones(3), np.ones(500), np.ones(50)]
    weights[3][0] = 4.0
    years = [(2000, 2010), (2003, 2003), (0, 2**31), (1990, 1995), (1999, 2023)]
    ref, rng = np.random.default_rng(17), np.random.default_rng(17)
    ref.integers(0, 3), rng.integers(0, 3)
    got = simmod._draw_incidents(
        rng, per_mission, weights, years, simmod._cdf(vt_p), simmod._cdf(sev_p)
    )
    want = _incidents_stepwise(ref, per_mission, weights, years, vt_p, sev_p)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert rng.bit_generator.state == ref.bit_generator.state


def test_chunk_size_changes_nothing(monkeypatch):
    """Reading the generator's words a few at a time or in large chunks gives the same
    data and truth."""
    whole = bayesresp.simulate(missions=4, rows=600, seed=21, coders=2, double_coded=0.2)
    monkeypatch.setattr(simmod, "_WORDS_PER_CHUNK", 3)
    bits = bayesresp.simulate(missions=4, rows=600, seed=21, coders=2, double_coded=0.2)
    pd.testing.assert_frame_equal(whole.data, bits.data)
    assert whole.truth == bits.truth


@pytest.mark.parametrize(
    "settings",
    [
        dict(missions=1, rows=1),
        dict(missions=3, rows=3),
        dict(missions=2, rows=57, officials=2),
        dict(missions=17, rows=1234),
        dict(missions=3, rows=500, officials=900),
        dict(missions=3, rows=200, coders=2, double_coded=0.25),
    ],
)
def test_rows_and_columns_are_as_asked(settings):
    """Exactly the rows asked for (plus the second codings), every column of the
    codebook's order, typed as validate types them; every mission, at most the officials
    asked for."""
    sim = bayesresp.simulate(seed=3, **settings)
    d = sim.data
    columns = list(simmod.COLUMNS)
    if settings.get("coders"):
        columns.insert(columns.index("official_id") + 1, "coder_id")
        assert d["response_id"].nunique() == settings["rows"]
        assert len(d) == settings["rows"] + d["response_id"].duplicated().sum()
    else:
        assert len(d) == settings["rows"] and d["response_id"].is_unique
    assert list(d.columns) == columns
    assert d["mission"].nunique() == settings["missions"]
    n_off = settings.get("officials") or max(settings["missions"] * 4, settings["rows"] // 5)
    assert d["official_id"].nunique() <= max(n_off, settings["missions"])
    assert sim.truth["settings"]["officials"] == n_off
    assert len(sim.truth["group_effects"]["official_id"]) == max(n_off, settings["missions"])
    pd.testing.assert_frame_equal(bayesresp.validate(d), d)
    assert not d.isna().any().any()


def _eta_plain(frame, truth):
    """The true linear predictor as first written: a comparison per cell, a dictionary
    look-up per row."""
    names = list(truth["coefficients"])
    X = np.zeros((len(frame), len(names)))
    for j, name in enumerate(names):
        col, level = name.split("[") if "[" in name else (name, None)
        if level is None:
            X[:, j] = frame[col].astype(float).to_numpy()
        else:
            X[:, j] = (frame[col].astype(object) == level.rstrip("]")).to_numpy()
    b = np.array([truth["coefficients"][name] for name in names], dtype=float)
    eta = np.dot(b, X.T)
    mission = frame["mission"].astype(str)
    labels = {"mission": mission, "mission:department": mission + ":" + frame["department"]}
    if "official_id" in frame:
        labels["official_id"] = frame["official_id"]
    for key, lab in labels.items():
        eta = eta + lab.astype(str).map(truth["group_effects"][key]).fillna(0.0).to_numpy()
    return eta


@pytest.mark.parametrize("variant", ["typed", "text", "gaps", "no official"])
def test_linear_predictor_is_the_plain_recipe(example, variant):
    """Indicators from category codes and group effects looked up once per label give
    the plain recipe's predictor to the last bit (typed or text columns, missing and
    unknown labels, no official column)."""
    truth = bayesresp.load_example_truth()
    frame = example
    if variant == "text":
        frame = bayesresp.load_example(typed=False)
    elif variant == "gaps":
        every = np.arange(len(example))
        frame = example.assign(
            mission=example["mission"].where(every % 7 != 0),
            background=example["background"].where(every % 3 != 0),
            official_id=example["official_id"].astype(object).where(every % 5 != 0, "ZZZ"),
        )
    elif variant == "no official":
        frame = example.drop(columns="official_id")
    eta = linear_predictor(frame, truth, bayesresp.Codebook.default())
    np.testing.assert_array_equal(eta, _eta_plain(frame, truth))


def test_ambiguous_codes_are_ranges_coarsened_at_random():
    """simulate(ambiguous=s): the same responses as without (the ranges are drawn last),
    a share s of them, chosen independently of their level, coded as a window of two or
    three levels on a grid with a random offset, holding the drawn level. Coarsening at
    random: for every window, the chance that a response at a level inside it is coded
    as that window does not depend on the level. Checked for each interior window of
    width 2 (a chance of s * 1/2 * 1/2 = 7.5% at s = 0.3): the two levels' shares agree
    within 4 binomial standard errors of their difference."""
    rows, share = 40_000, 0.3
    exact = bayesresp.simulate(missions=20, rows=rows, seed=4).data
    coarse = bayesresp.simulate(missions=20, rows=rows, seed=4, ambiguous=share).data
    level = exact["response"].cat.codes.to_numpy()
    ranged = coarse["response"].isna().to_numpy()
    pd.testing.assert_frame_equal(
        exact.drop(columns="response"),
        coarse.drop(columns=["response", "response_low", "response_high"]),
    )
    assert (coarse["response"][~ranged] == exact["response"][~ranged]).all()
    assert coarse["response_low"][~ranged].isna().all()
    low = coarse["response_low"].cat.codes.to_numpy()
    high = coarse["response_high"].cat.codes.to_numpy()
    assert np.all((low[ranged] <= level[ranged]) & (level[ranged] <= high[ranged]))
    assert set(np.unique(high[ranged] - low[ranged])) == {1, 2}
    # the ranged share: s, less the windows clipped to one level at the spectrum's ends
    assert 0.25 < ranged.mean() < share
    K = len(exact["response"].cat.categories)
    for a in range(K - 1):  # the end windows too, where width-3 windows are clipped
        window = ranged & (low == a) & (high == a + 1)
        p = [window[level == k].mean() for k in (a, a + 1)]
        n = [(level == k).sum() for k in (a, a + 1)]
        se = math.sqrt(sum(np.mean(p) * (1 - np.mean(p)) / m for m in n))
        assert abs(p[0] - p[1]) < 4 * se, (a, p, se)
        if 0 < a < K - 2:
            assert abs(np.mean(p) - 0.075) < 4 * se, (a, p)


def test_cli_simulate_ambiguous_validates(tmp_path, run_cli):
    out = tmp_path / "coarse.csv"
    result = run_cli("simulate", "--rows", "300", "--seed", "2", "--ambiguous", "0.3", "--out", out)
    assert result.code == 0, result.err
    header = out.read_text().splitlines()[0].split(",")
    assert header[header.index("response") + 1 : header.index("response") + 3] == [
        "response_low",
        "response_high",
    ]
    data = bayesresp.validate(out)
    assert data["response"].isna().sum() == data["response_low"].notna().sum() > 0
    bad = run_cli("simulate", "--rows", "300", "--ambiguous", "1.5", "--out", out)
    assert bad.code == 2 and "--ambiguous" in bad.err
