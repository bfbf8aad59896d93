"""Krippendorff's alpha and the reliability report (bayesresp.reliability)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.checks.reliability import (
    ReliabilityError,
    ReliabilityReport,
    krippendorff_alpha,
    reliability,
)
from bayesresp.data.codebook import Codebook
from bayesresp.errors import BayesrespError

SPECTRUM = list(Codebook.default().spectrum)


def long_frame(table: dict, categories: list | None = None) -> pd.DataFrame:
    """{coder: [value per unit, None = missing]} to long form; ordered Categorical if asked."""
    rows = [(u + 1, coder, v) for coder, values in table.items() for u, v in enumerate(values)]
    d = pd.DataFrame(rows, columns=["response_id", "coder_id", "response"])
    if categories is not None:
        d["response"] = pd.Categorical(d["response"], categories=categories, ordered=True)
    return d


# --- A small example, computed by hand --------------------------------------------------------
# Categories a < b < c. Unit 4 has one value only, so it is not pairable.
#   unit 1: a a      unit 2: a b      unit 3: b b c      unit 4: c (coder B missing)
# Coincidences: each ordered pair of values within a unit, weighted 1 / (m_u - 1):
#   unit 1 (m=2): (a,a) twice, weight 1            -> o_aa += 2
#   unit 2 (m=2): (a,b), (b,a), weight 1           -> o_ab += 1, o_ba += 1
#   unit 3 (m=3): (b,b) x2, (b,c) x2, (c,b) x2, weight 1/2 -> o_bb += 1, o_bc += 1, o_cb += 1
#          a  b  c
#     a    2  1  0      n_a = 3
#     b    1  1  1      n_b = 3
#     c    0  1  0      n_c = 1,  n = 7
# alpha = 1 - (n - 1) * sum_ck o_ck delta_ck / sum_ck n_c n_k delta_ck
# Nominal (delta = 1 off the diagonal): observed 4 (the off-diagonal o's),
#   expected n^2 - sum n_c^2 = 49 - 19 = 30;  alpha = 1 - 6 * 4 / 30 = 1/5.
# Ordinal: delta_ab = (3 + 3 - (3+3)/2)^2 = 9, delta_bc = (3 + 1 - (3+1)/2)^2 = 4,
#   delta_ac = (3 + 3 + 1 - (3+1)/2)^2 = 25.
#   observed 2 * (1 * 9 + 1 * 4) = 26; expected 2 * (3*3*9 + 3*1*4 + 3*1*25) = 336;
#   alpha = 1 - 6 * 26 / 336 = 15/28.
# Interval (positions 0, 1, 2): delta_ab = delta_bc = 1, delta_ac = 4.
#   observed 2 * (1 + 1) = 4; expected 2 * (9 + 3 + 12) = 48; alpha = 1 - 6 * 4 / 48 = 1/2.
HAND = {"A": ["a", "a", "b", "c"], "B": ["a", "b", "b", None], "C": [None, None, "c", None]}
HAND_ALPHA = {"nominal": 1 / 5, "ordinal": 15 / 28, "interval": 1 / 2}


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_hand_computed_example(level):
    d = long_frame(HAND, ["a", "b", "c"])
    assert abs(krippendorff_alpha(d, level=level) - HAND_ALPHA[level]) < 1e-12


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
def test_empty_category_changes_nothing(level):
    # An unused level "x" between b and c: no coincidences, no frequency, so the same alpha.
    d = long_frame(HAND, ["a", "b", "x", "c"])
    assert abs(krippendorff_alpha(d, level=level) - HAND_ALPHA[level]) < 1e-12
    row = reliability(d, n_boot=0).disagreement.loc["x"]
    assert row["n_values"] == 0 and math.isnan(row["share_disagree"])


def test_hand_example_report():
    rep = reliability(long_frame(HAND, ["a", "b", "c"]), n_boot=0)
    assert (rep.n_units, rep.n_coders, rep.n_pairable_values) == (3, 3, 7)
    expected = np.array([[2, 1, 0], [1, 1, 1], [0, 1, 0]], float)
    np.testing.assert_allclose(rep.confusion.to_numpy(), expected, atol=1e-12)
    assert list(rep.confusion.index) == ["a", "b", "c"]
    dis = rep.disagreement
    assert list(dis["n_values"]) == [3, 3, 1]
    # share with another category: 1 - o_cc / n_c = 1 - 2/3, 1 - 1/3, 1 - 0/1
    np.testing.assert_allclose(dis["share_disagree"], [1 / 3, 2 / 3, 1.0], atol=1e-12)
    # mean |level distance|: a: (1*1 + 0*2)/3, b: (1*1 + 1*1)/3, c: (0*2 + 1*1)/1
    np.testing.assert_allclose(dis["mean_distance"], [1 / 3, 2 / 3, 1.0], atol=1e-12)
    assert math.isnan(rep.ci_low) and math.isnan(rep.ci_high)


# --- Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C -------------
# 4 observers, 12 units, values 1-5, missing values; unit 12 has a single value.
K2011 = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_2011_reference(level, published):
    d = long_frame(K2011)  # float column with NaN: levels are its sorted values 1..5
    assert round(krippendorff_alpha(d, level=level), 3) == published


# --- An independent brute-force implementation -------------------------------------------------
def brute_alpha(d: pd.DataFrame, level: str, levels: list, positions: list) -> float:
    """Alpha straight from the definition: all ordered pairs of values, no coincidence matrix."""
    d = d[d["response"].notna()]
    units = [list(g["response"]) for _, g in d.groupby("response_id") if len(g) >= 2]
    pooled = [v for vals in units for v in vals]
    n = len(pooled)
    freq = {c: pooled.count(c) for c in levels}
    rank = {c: i for i, c in enumerate(levels)}
    pos = dict(zip(levels, positions, strict=True))

    def delta(a, b) -> float:
        if level == "nominal":
            return float(a != b)
        if level == "interval":
            return float(pos[a] - pos[b]) ** 2
        lo, hi = sorted((rank[a], rank[b]))
        return (sum(freq[levels[g]] for g in range(lo, hi + 1)) - (freq[a] + freq[b]) / 2) ** 2

    observed = sum(
        delta(vals[i], vals[j]) / (len(vals) - 1)
        for vals in units
        for i in range(len(vals))
        for j in range(len(vals))
        if i != j
    )
    expected = sum(delta(pooled[i], pooled[j]) for i in range(n) for j in range(n) if i != j)
    return 1 - (observed / n) / (expected / (n * (n - 1)))


def random_long(rng, values: list, n_units: int = 14, n_coders: int = 4, p_missing: float = 0.3):
    """Units with a true level, coders off by -1/0/+1 levels, some codes missing."""
    rows = []
    for u in range(n_units):
        true = rng.integers(len(values))
        for c in range(n_coders):
            k = int(np.clip(true + rng.integers(-1, 2), 0, len(values) - 1))
            rows.append((f"r{u}", f"coder{c}", None if rng.random() < p_missing else values[k]))
    return pd.DataFrame(rows, columns=["response_id", "coder_id", "response"])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_matches_brute_force_labels(seed, level):
    # Five user levels plus one that is never used; interval uses positions 0..5.
    levels = ["never", "rarely", "unused", "sometimes", "often", "always"]
    drawn = [v for v in levels if v != "unused"]
    d = random_long(np.random.default_rng(seed), drawn)
    d["response"] = pd.Categorical(d["response"], categories=levels, ordered=True)
    expected = brute_alpha(d, level, levels, list(range(len(levels))))
    assert abs(krippendorff_alpha(d, level=level) - expected) < 1e-12


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_matches_brute_force_numeric(seed, level):
    # A numeric column with NaN: levels are its sorted values, interval uses the values.
    d = random_long(np.random.default_rng(100 + seed), [0, 1, 4, 9])
    d["response"] = d["response"].astype(float)
    levels = sorted(d["response"].dropna().unique())
    expected = brute_alpha(d, level, levels, levels)
    assert abs(krippendorff_alpha(d, level=level) - expected) < 1e-12


def test_category_order_is_the_categoricals_not_alphabetical():
    rng = np.random.default_rng(7)
    d = random_long(rng, list(range(8)), n_units=20)
    codes = d["response"]
    d["response"] = pd.Categorical(
        [None if pd.isna(v) else SPECTRUM[int(v)] for v in codes], categories=SPECTRUM, ordered=True
    )
    by_label = krippendorff_alpha(d)
    assert by_label == pytest.approx(krippendorff_alpha(d.assign(response=codes)), abs=1e-12)
    # A plain string column needs levels= for ordinal; given in order, it agrees.
    as_str = d.assign(response=d["response"].astype(object))
    assert krippendorff_alpha(as_str, levels=SPECTRUM) == pytest.approx(by_label, abs=1e-12)


# --- Perfect agreement and the bootstrap -------------------------------------------------------
def test_perfect_agreement():
    same = ["silence", "enforcement", "conceal"]
    d = long_frame({"A": same, "B": same, "C": [None, "enforcement", None]}, SPECTRUM)
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(d, level=level) == 1.0
    rep = reliability(d, n_boot=200, seed=0)
    assert rep.alpha == 1.0 and rep.ci_low == rep.ci_high == 1.0


def test_bootstrap_interval_reproducible_and_contains_estimate():
    d = long_frame(K2011)
    first = reliability(d, n_boot=500, seed=42)
    again = reliability(d, n_boot=500, seed=42)
    other = reliability(d, n_boot=500, seed=43)
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
    assert first.ci_low <= first.alpha <= first.ci_high
    assert first.alpha == pytest.approx(krippendorff_alpha(d), abs=1e-15)
    wider = reliability(d, n_boot=500, seed=42, ci=0.99)
    assert wider.ci_low <= first.ci_low and wider.ci_high >= first.ci_high


def test_report_renders_and_serialises():
    rep = reliability(long_frame(HAND, ["a", "b", "x", "c"]), n_boot=100, seed=1)
    assert isinstance(rep, ReliabilityReport)
    text = str(rep)
    assert "Krippendorff's alpha (ordinal) = 0.536" in text and "share_disagree" in text
    assert "<table" in rep._repr_html_()
    out = rep.to_dict()
    back = json.loads(json.dumps(out, allow_nan=False))
    assert back["alpha"] == pytest.approx(15 / 28)
    assert back["confusion"]["categories"] == ["a", "b", "x", "c"]
    assert back["disagreement"][2] == {
        "category": "x",
        "n_values": 0,
        "share_disagree": None,
        "mean_distance": None,
    }


# --- Errors ------------------------------------------------------------------------------------
def test_missing_column_is_named():
    d = long_frame(HAND).drop(columns="coder_id")
    with pytest.raises(ReliabilityError, match=r"'coder_id' not found.*'response_id'"):
        krippendorff_alpha(d)
    assert issubclass(ReliabilityError, BayesrespError)


def test_unit_coded_twice_by_one_coder():
    d = long_frame(HAND, ["a", "b", "c"])
    d = pd.concat([d, d.iloc[[1]]], ignore_index=True)  # response 2, coder A again
    with pytest.raises(ReliabilityError, match=r"response 2 .*coder 'A'"):
        reliability(d)


def test_no_pairable_unit():
    d = long_frame({"A": ["a", None], "B": [None, "b"]}, ["a", "b"])
    with pytest.raises(ValueError, match="no pairable unit"):
        krippendorff_alpha(d)


def test_alpha_undefined_when_all_values_identical():
    d = long_frame({"A": ["b", "b"], "B": ["b", "b"]}, ["a", "b", "c"])
    for level in ("nominal", "ordinal", "interval"):
        with pytest.raises(ValueError, match="undefined"):
            krippendorff_alpha(d, level=level)


def test_bad_arguments_and_values():
    d = long_frame(HAND, ["a", "b", "c"])
    with pytest.raises(ValueError, match="level must be one of"):
        krippendorff_alpha(d, level="ratio")
    with pytest.raises(ReliabilityError, match=r"not among the levels.*'c'"):
        krippendorff_alpha(d, levels=["a", "b"])
    with pytest.raises(ValueError, match="ci must"):
        reliability(d, ci=95)
    unordered = d.assign(response=d["response"].cat.as_unordered())
    with pytest.raises(ReliabilityError, match="unordered Categorical"):
        krippendorff_alpha(unordered)
    assert krippendorff_alpha(unordered, level="nominal") == pytest.approx(1 / 5)
    with pytest.raises(ReliabilityError, match="without an order"):
        krippendorff_alpha(d.assign(response=d["response"].astype(object)))


def test_codes_given_as_ranges_are_left_out_and_counted(run_cli, tmp_path):
    """Ambiguous codes (ranges of levels) have no single level for alpha to compare: they
    are left out, counted in the report and named in its headline, never placed at a
    level. Alpha equals that of the same data without those rows."""
    sim = bayesresp.simulate(
        missions=4, rows=400, seed=3, coders=3, double_coded=0.5, ambiguous=0.2
    ).data
    ranged = sim["response"].isna()
    assert ranged.sum() > 0
    rep = reliability(sim, seed=1, n_boot=50)
    assert rep.n_ranges_left_out == ranged.sum()
    assert "left out" in str(rep) and rep.to_dict()["n_ranges_left_out"] == ranged.sum()
    without = reliability(sim.loc[~ranged], seed=1, n_boot=50)
    assert rep.alpha == without.alpha and without.n_ranges_left_out == 0
    path = tmp_path / "coded.csv"
    sim.to_csv(path, index=False)
    out = run_cli("reliability", path, "--format", "json")
    assert out.code == 0, out.err
    assert json.loads(out.out)["n_ranges_left_out"] == ranged.sum()
