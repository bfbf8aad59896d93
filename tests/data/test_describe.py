"""describe(): counts per level of the spectrum, mission and group, and the ambiguous
codes (ranges of levels, issue 16), which are counted as ranges and at no one level."""

import json

import pandas as pd
import pytest

import bayesresp
from bayesresp import describe, validate

RANGE = ["response", "response_low", "response_high"]


@pytest.fixture(scope="module")
def ranged(example_raw):
    """60 rows of the example: 5 + 2 ranges, 1 range with equal ends, the rest exact."""
    frame = example_raw.head(60).assign(response_low="", response_high="")
    for row in (0, 3, 9, 20, 41):
        frame.loc[row, RANGE] = ["", "quiet_diplomacy", "private_condemnation"]
    for row in (5, 6):
        frame.loc[row, RANGE] = ["", "1", "2"]  # silence..mild_concern, as codes
    frame.loc[7, RANGE] = ["", "enforcement", "enforcement"]  # one level, as a range
    return frame


def test_describe_without_ranges(example):
    s = describe(example)
    assert int(s.spectrum["rows"].sum()) == s.n_rows == len(example)
    assert s.n_ranges == 0 and s.ranges.empty and s.ranges_line() == ""
    assert "ranges" not in str(s) and "ranges" not in s._repr_html_()
    assert "ranges" not in s.departments.columns
    assert int(s.departments["rows"].sum()) == len(example)


def test_describe_counts_ranges_apart_from_levels(ranged):
    data = validate(ranged)
    s = describe(data)
    assert s.n_rows == 60 and s.n_ranges == 7
    exact = ranged["response"].where(ranged["response"] != "")
    counts = exact.value_counts()
    # levels over the rows coded at one level; the equal-ended range at its level
    for level in bayesresp.Codebook.default().spectrum:
        expected = counts.get(level, 0) + (level == "enforcement")
        assert s.spectrum.loc[level, "rows"] == expected, level
    assert int(s.spectrum["rows"].sum()) == 60 - 7
    assert s.spectrum.loc["quiet_diplomacy", "share"] == round(counts["quiet_diplomacy"] / 60, 3)
    assert list(s.ranges.index) == [
        "quiet_diplomacy..private_condemnation",
        "silence..mild_concern",
    ]
    assert s.ranges["rows"].tolist() == [5, 2]
    assert s.ranges[["low", "high"]].values.tolist() == [
        ["quiet_diplomacy", "private_condemnation"],
        ["silence", "mild_concern"],
    ]
    line = "ranges: 7 rows (quiet_diplomacy..private_condemnation: 5, silence..mild_concern: 2)"
    assert s.ranges_line() == line
    assert line in s.text() and line in s._repr_html_()
    assert "the 53 rows coded at one level" in s.text()
    # every row counted once per group: at its level, or among the ranges
    dep = s.departments
    assert int(dep["rows"].sum()) == 60 and int(dep["ranges"].sum()) == 7
    assert (dep.drop(columns="rows").sum(axis=1) == dep["rows"]).all()


def test_mean_level_leaves_ranges_out(ranged):
    data = validate(ranged)
    s = describe(data)
    spectrum = list(bayesresp.Codebook.default().spectrum)
    position = data["response"].astype(object).map(lambda v: spectrum.index(v), na_action="ignore")
    position[7] = spectrum.index("enforcement")
    expected = position.astype(float).groupby(data["mission"]).mean().round(2)
    pd.testing.assert_series_equal(s.missions["mean_level"], expected, check_names=False)


def test_describe_command_shows_the_ranges(ranged, tmp_path, run_cli):
    path = tmp_path / "ranged.csv"
    ranged.to_csv(path, index=False)
    text = run_cli("describe", path)
    assert text.code == 0, text.err
    assert "ranges: 7 rows (quiet_diplomacy..private_condemnation: 5" in text.out
    as_json = run_cli("describe", path, "--table", "ranges", "--format", "json")
    assert as_json.code == 0, as_json.err
    records = json.loads(as_json.out)
    assert [(r["range"], r["low"], r["high"], r["rows"]) for r in records] == [
        ("quiet_diplomacy..private_condemnation", "quiet_diplomacy", "private_condemnation", 5),
        ("silence..mild_concern", "silence", "mild_concern", 2),
    ]
    spectrum = json.loads(run_cli("describe", path, "--format", "json").out)
    assert sum(r["rows"] for r in spectrum) == 53
