import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp import DataFileError, DataValidationError, check, validate
from bayesresp.data.examples import example_path
from bayesresp.data.validation import PROBLEM_KINDS
from tests.conftest import DATA


def _problems(frame, codebook=None):
    return check(frame, codebook).problems


def _only(problems, kind):
    found = [p for p in problems if p.kind == kind]
    assert found, f"no {kind} problem in {[str(p) for p in problems]}"
    return found


def test_example_is_valid_and_typed(example):
    assert example.shape == (2000, 22)
    y = example["response"]
    assert isinstance(y.dtype, pd.CategoricalDtype) and y.dtype.ordered
    assert list(y.cat.categories) == list(bayesresp.Codebook.default().spectrum)
    assert not example["background"].dtype.ordered
    assert example["years_at_station"].dtype == np.float64
    assert str(example["year"].dtype) == "Int64"
    assert example["severity"].cat.categories[0] == "minor"


def test_valid_frame_is_returned_unchanged_in_content(example_raw):
    typed = validate(example_raw)
    for col in example_raw.columns:
        back = typed[col].astype(object).where(typed[col].notna(), "")
        expect = example_raw[col]
        if col in ("years_at_station", "year"):
            back = back.map(lambda v: "" if v == "" else float(v))
            expect = expect.map(lambda v: "" if v == "" else float(v))
        assert (back.astype(str) == expect.astype(str)).all(), col


def test_unknown_label_names_row_column_value_and_suggests(example_raw):
    bad = example_raw.copy()
    bad.loc[4, "background"] = "militray_security"
    (p,) = _only(_problems(bad), "unknown_level")
    assert (p.row, p.column, p.value) == (5, "background", "militray_security")
    assert p.suggestion == "military_security"
    assert "did you mean 'military_security'" in str(p) and "row 5" in str(p)


def test_whitespace_and_case_are_not_silently_fixed(example_raw):
    bad = example_raw.copy()
    bad.loc[0, "severity"] = " grave"
    bad.loc[1, "severity"] = "Grave"
    found = _only(_problems(bad), "unknown_level")
    assert [p.row for p in found] == [1, 2]
    assert all(p.suggestion == "grave" for p in found)


def test_missing_required_column(example_raw):
    (p,) = _only(_problems(example_raw.drop(columns="mission")), "missing_column")
    assert p.column == "mission" and "required column 'mission'" in p.message


def test_unknown_column_is_a_warning_and_kept(example_raw):
    extra = example_raw.assign(notes="x", missoin="y")
    report = check(extra)
    assert report.ok
    warns = _only(report.problems, "unknown_column")
    assert {w.column for w in warns} == {"notes", "missoin"}
    assert all(w.severity == "warning" for w in warns)
    assert next(w for w in warns if w.column == "missoin").suggestion is None  # mission present
    assert list(report.data["notes"]) == ["x"] * len(extra)
    with pytest.warns(UserWarning, match="column 'notes': not in the codebook"):
        validate(extra)


def test_out_of_range_and_wrong_type(example_raw):
    bad = example_raw.copy()
    bad.loc[2, "years_at_station"] = "75"
    bad.loc[3, "years_at_station"] = "seven"
    bad.loc[5, "years_at_station"] = "nan"
    bad.loc[6, "year"] = "2004.5"
    bad.loc[7, "year"] = "1900"
    problems = _problems(bad)
    rng = _only(problems, "out_of_range")
    assert [(p.row, p.column, p.value) for p in rng] == [
        (3, "years_at_station", "75"),
        (8, "year", "1900"),
    ]
    assert "from 0 to 60" in rng[0].expected
    wt = _only(problems, "wrong_type")
    assert [(p.row, p.column, p.value) for p in wt] == [
        (4, "years_at_station", "seven"),
        (6, "years_at_station", "nan"),
        (7, "year", "2004.5"),
    ]
    assert "whole number" in wt[2].message


def test_missing_values_in_required_columns_only(example_raw):
    bad = example_raw.copy()
    bad.loc[0, "response"] = ""
    bad.loc[1, "mission"] = "NA"
    bad.loc[2, "severity"] = ""  # optional covariate: allowed here, the fit decides
    found = _only(_problems(bad), "missing_value")
    assert [(p.row, p.column) for p in found] == [(1, "response"), (2, "mission")]


def test_duplicate_row_identifiers(example_raw):
    bad = example_raw.copy()
    bad.loc[9, "response_id"] = bad.loc[3, "response_id"]
    (p,) = _only(_problems(bad), "duplicate_id")
    assert p.row == 10 and p.value == bad.loc[3, "response_id"]
    assert "already identifies row 4" in p.message


def test_same_response_coded_by_two_coders_is_not_a_duplicate(example_raw):
    two = pd.concat([example_raw.head(5), example_raw.head(5)], ignore_index=True)
    two["coder_id"] = ["A"] * 5 + ["B"] * 5
    assert check(two).ok
    two.loc[7, "coder_id"] = "A"
    (p,) = _only(_problems(two), "duplicate_id")
    assert p.row == 8 and "coder_id='A'" in p.message


def test_mission_level_covariate_must_be_constant(example_raw):
    bad = example_raw.copy()
    mission = bad.loc[0, "mission"]
    rows = bad.index[bad["mission"] == mission]
    current = bad.loc[rows[1], "host_consent_leverage"]
    other = next(v for v in ("low", "medium", "high") if v != current)
    bad.loc[rows[1], "host_consent_leverage"] = other
    (p,) = _only(_problems(bad), "inconsistent_within_group")
    assert (p.row, p.column, p.value) == (rows[1] + 1, "host_consent_leverage", other)
    assert f"mission '{mission}'" in p.message and current in p.expected


def test_official_traits_must_be_constant(example_raw):
    bad = example_raw.copy()
    oid = bad["official_id"].value_counts().index[0]
    rows = bad.index[bad["official_id"] == oid]
    bad.loc[rows[-1], "nationality_group"] = (
        "global_south"
        if bad.loc[rows[-1], "nationality_group"] == "global_north"
        else "global_north"
    )
    (p,) = _only(_problems(bad), "inconsistent_within_group")
    assert p.row == rows[-1] + 1 and f"official_id '{oid}'" in p.message


def test_integer_codes_are_mapped_through_the_codebook(example_raw):
    coded = example_raw.copy()
    spectrum = bayesresp.Codebook.default().spectrum
    coded["response"] = [str(spectrum.index(v)) for v in coded["response"]]
    typed = validate(coded)
    assert list(typed["response"].astype(str)) == list(example_raw["response"])
    as_ints = example_raw.assign(response=[spectrum.index(v) for v in example_raw["response"]])
    assert validate(as_ints)["response"].equals(typed["response"])


def test_unknown_code_and_codes_where_none_are_defined(example_raw):
    bad = example_raw.copy()
    bad.loc[0, "response"] = "9"
    bad.loc[1, "background"] = "2"  # nominal covariate without codes
    problems = _problems(bad)
    (p,) = _only(problems, "unknown_code")
    assert p.row == 1 and "codes run 0-7" in p.message
    (q,) = _only(problems, "unknown_level")
    assert q.row == 2 and q.column == "background"


def test_dataframe_input_with_python_types(example):
    frame = example.copy()
    frame["year"] = frame["year"].astype(float)  # integral floats are whole numbers
    assert check(frame).ok
    frame.loc[0, "year"] = 2004.5
    frame["years_at_station"] = frame["years_at_station"].astype(object)
    frame.loc[1, "years_at_station"] = True
    problems = _problems(frame)
    assert {(p.row, p.column) for p in _only(problems, "wrong_type")} == {
        (1, "year"),
        (2, "years_at_station"),
    }


def test_rows_named_by_index_label_when_not_positional(example_raw):
    bad = example_raw.head(3).copy()
    bad.index = ["a", "b", "c"]
    bad.loc["b", "severity"] = "huge"
    (p,) = _only(_problems(bad), "unknown_level")
    assert p.row == 2 and p.index == "b" and "index 'b'" in str(p)


def test_empty_tables(tmp_path, example_raw):
    (p,) = _problems(pd.DataFrame())
    assert p.kind == "empty_file"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert [p.kind for p in check(empty).problems] == ["empty_file"]
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(example_raw.columns) + "\n")
    assert [p.kind for p in check(header_only).problems] == ["empty_file"]


def test_duplicate_column_in_csv(tmp_path, example_raw):
    path = tmp_path / "dup.csv"
    frame = example_raw.head(4)
    path.write_text(
        frame.assign(sev2=frame["severity"])
        .rename(columns={"sev2": "severity"})
        .to_csv(index=False)
    )
    (p,) = _only(check(path).problems, "duplicate_column")
    assert p.column == "severity"


def test_parquet_round_trip(tmp_path, example):
    path = tmp_path / "d.parquet"
    sim = bayesresp.simulate(missions=3, rows=60, seed=3)
    sim.write(path)
    back = validate(path)
    pd.testing.assert_frame_equal(back, sim.data)


@pytest.mark.parametrize(
    "content, suffix, message",
    [
        (None, ".csv", "not found"),
        (b"a,b\n1,2\n", ".xlsx", "unknown file type"),
        (b"\xff\xfe\x00b", ".csv", "not UTF-8"),
        (b"a,b\n1,2,3\n", ".csv", "not rectangular"),
        (b"not parquet", ".parquet", "not a readable Parquet"),
    ],
)
def test_unreadable_files(tmp_path, content, suffix, message):
    path = tmp_path / f"f{suffix}"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match=message):
        check(path)


def test_validation_error_carries_all_problems(example_raw):
    bad = example_raw.copy()
    bad.loc[:29, "severity"] = "huge"
    with pytest.raises(DataValidationError) as info:
        validate(bad)
    err = info.value
    assert len(err.problems) == 30
    assert "30 problems found" in str(err) and "and 10 more" in str(err)


def test_every_problem_kind_is_documented():
    assert len(PROBLEM_KINDS) == 13
    assert {"range_reversed", "range_and_level"} <= set(PROBLEM_KINDS)


# -- ambiguous codes: a range of the outcome's levels (issue 16) -------------------------
RANGE = ["response", "response_low", "response_high"]


def _with_ranges(example_raw, rows=12):
    """The first rows of the example, with empty range columns."""
    return example_raw.head(rows).assign(response_low="", response_high="")


def _set(frame, row, response, low, high):
    frame.loc[row, RANGE] = [response, low, high]


def test_range_rows_are_typed_with_the_outcome_missing(example_raw):
    frame = _with_ranges(example_raw)
    _set(frame, 0, "", "quiet_diplomacy", "private_condemnation")
    _set(frame, 1, "", "1", "2")  # integer codes, as the outcome accepts them
    _set(frame, 2, "", "silence", "silence")  # equal ends: kept as given
    _set(frame, 3, "", "conceal", "7")  # a label and a code
    typed = validate(frame)
    assert list(typed.columns) == list(frame.columns)
    spectrum = list(bayesresp.Codebook.default().spectrum)
    for col in RANGE:
        dtype = typed[col].dtype
        assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered, col
        assert list(dtype.categories) == spectrum, col
        assert dtype == typed["response"].dtype, col
    ranged = [0, 1, 2, 3]
    assert typed["response"].isna().tolist() == [i in ranged for i in range(len(frame))]
    for col in ("response_low", "response_high"):
        assert typed[col].notna().tolist() == [i in ranged for i in range(len(frame))]
    rows = typed.loc[ranged, ["response_low", "response_high"]].astype(str)
    assert rows.values.tolist() == [
        ["quiet_diplomacy", "private_condemnation"],
        ["silence", "mild_concern"],
        ["silence", "silence"],
        ["conceal", "enforcement"],
    ]
    exact = typed.loc[4:, "response"].astype(str).tolist()
    assert exact == example_raw.loc[4:11, "response"].tolist()


def test_range_columns_given_as_python_values(example):
    """Range cells as a DataFrame holds them: integer codes, and missing as None/NaN."""
    frame = example.head(6).copy()
    frame["response"] = frame["response"].astype(object)
    frame["response_low"] = [None, 3, np.nan, None, None, None]
    frame["response_high"] = [None, 4.0, np.nan, None, None, None]
    frame.loc[1, "response"] = None
    typed = validate(frame)
    assert typed["response"].isna().tolist() == [False, True] + [False] * 4
    assert (typed.loc[1, "response_low"], typed.loc[1, "response_high"]) == (
        "quiet_diplomacy",
        "private_condemnation",
    )


def test_typed_frame_with_ranges_validates_unchanged(example_raw, tmp_path):
    frame = _with_ranges(example_raw, 20)
    _set(frame, 3, "", "mild_concern", "public_condemnation")
    _set(frame, 7, "", "5", "5")
    typed = validate(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = validate(typed)
    pd.testing.assert_frame_equal(again, typed)
    path = tmp_path / "ranges.csv"
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(validate(path), typed)


def test_range_errors_name_row_column_and_value(example_raw):
    frame = _with_ranges(example_raw, 20)
    _set(frame, 0, "", "private_condemnation", "silence")  # reversed
    _set(frame, 1, "", "6", "3")  # reversed, written as codes
    _set(frame, 2, "", "silence", "")  # one end only
    _set(frame, 3, "", "", "enforcement")  # the other end only
    _set(frame, 4, "quiet_diplomacy", "silence", "mild_concern")  # a level and a range
    _set(frame, 5, "mild_concern", "", "withhold_support")  # a level and one end
    _set(frame, 6, "", "", "")  # nothing at all
    _set(frame, 7, "", "silense", "mild_concern")  # unknown label in a range cell
    _set(frame, 8, "", "silence", "12")  # unknown code in a range cell
    report = check(frame)
    assert report.data is None
    found = [(p.kind, p.row, p.column, p.value) for p in report.problems]
    assert found == [
        ("range_reversed", 1, "response_low", "private_condemnation"),
        ("range_reversed", 2, "response_low", "6"),
        ("missing_value", 3, "response_high", ""),
        ("missing_value", 4, "response_low", ""),
        ("range_and_level", 5, "response", "quiet_diplomacy"),
        ("range_and_level", 6, "response", "mild_concern"),
        ("missing_value", 7, "response", ""),
        ("unknown_level", 8, "response_low", "silense"),
        ("unknown_code", 9, "response_high", "12"),
    ]
    p = {(q.kind, q.row): q for q in report.problems}
    msg = p["range_reversed", 1].message
    assert "'private_condemnation' is above 'silence'" in msg
    assert "'6' (withhold_support) is above '3' (quiet_diplomacy)" in p["range_reversed", 2].message
    assert "'response_high' is empty but 'response_low' is 'silence'" in (
        p["missing_value", 3].message
    )
    both = p["range_and_level", 5].message
    assert "'quiet_diplomacy'" in both and "'silence' in 'response_low'" in both
    assert "not both" in both
    assert "range" in p["missing_value", 7].message
    assert p["unknown_level", 8].suggestion == "silence"
    assert "'response' (its range column 'response_low')" in p["unknown_level", 8].message
    assert all(q.expected for q in report.problems)
    with pytest.raises(DataValidationError) as info:
        validate(frame)
    assert len(info.value.problems) == 9


def test_range_errors_come_with_the_other_problems(example_raw):
    frame = _with_ranges(example_raw)
    _set(frame, 2, "", "enforcement", "conceal")
    frame.loc[0, "severity"] = "huge"
    frame.loc[5, "years_at_station"] = "75"
    kinds = [(p.kind, p.row) for p in check(frame).errors]
    assert kinds == [("unknown_level", 1), ("range_reversed", 3), ("out_of_range", 6)]


def test_table_without_range_columns_is_unchanged(example_raw):
    typed = validate(example_raw)
    assert "response_low" not in typed and "response_high" not in typed
    assert typed["response"].notna().all()
    empty = validate(_with_ranges(example_raw, 30))  # range columns present, all empty
    pd.testing.assert_frame_equal(empty[list(example_raw.columns)], validate(example_raw.head(30)))
    assert empty["response_low"].isna().all() and empty["response_high"].isna().all()


def test_one_range_column_without_the_other(example_raw):
    frame = _with_ranges(example_raw).drop(columns="response_high")
    frame.loc[0, ["response", "response_low"]] = ["", "silence"]
    problems = check(frame).problems
    (p,) = _only(problems, "missing_column")
    assert p.column == "response_high" and "'response_low'" in p.message
    assert [q.kind for q in problems] == ["missing_column"]


def test_range_columns_need_a_codebook_that_declares_them(example_raw):
    spec = bayesresp.Codebook.default().to_dict()
    spec["fields"][1].pop("rangeColumns")
    frame = _with_ranges(example_raw)
    _set(frame, 0, "", "silence", "mild_concern")
    report = check(frame, spec)
    warns = _only(report.problems, "unknown_column")
    assert {w.column for w in warns} == {"response_low", "response_high"}
    (p,) = report.errors  # no range read: the outcome is simply empty
    assert (p.kind, p.row, p.column) == ("missing_value", 1, "response")
    assert "range" not in p.message
    frame.loc[0, "response"] = "silence"
    with pytest.warns(UserWarning) as caught:
        typed = validate(frame, spec)
    assert sorted(str(w.message).split(": not in")[0] for w in caught) == [
        "warning: column 'response_high'",
        "warning: column 'response_low'",
    ]
    assert list(typed["response_low"]) == list(frame["response_low"])  # kept as given


def test_range_columns_of_a_user_codebook(tmp_path):
    spec = json.loads((DATA / "user_codebook.json").read_text())
    spec["fields"][1]["rangeColumns"] = ["lo", "hi"]
    frame = pd.read_csv(DATA / "user_coded.csv", dtype=str, keep_default_na=False)
    frame["lo"], frame["hi"] = "", ""
    frame.loc[0, ["response", "lo", "hi"]] = ["", "note", "protest"]
    typed = validate(frame, spec)
    assert typed.loc[0, ["lo", "hi"]].tolist() == ["note", "protest"]
    assert pd.isna(typed.loc[0, "response"])
    frame.loc[1, ["response", "lo", "hi"]] = ["", "sanction", "ignore"]
    (p,) = check(frame, spec).errors
    assert (p.kind, p.row, p.column, p.value) == ("range_reversed", 2, "lo", "sanction")


# -- a file with ten kinds of error, through the command line ---------------------------
def _ten_error_file(tmp_path, example_raw):
    bad = example_raw.head(40).copy()
    bad = bad.drop(columns="incident_id")  # 1 missing_column
    bad["remarks"] = "free text"  # 2 unknown_column (warning)
    bad.loc[2, "background"] = "militray_security"  # 3 unknown_level
    bad.loc[3, "years_at_station"] = "75"  # 4 out_of_range
    bad.loc[4, "years_at_station"] = "seven"  # 5 wrong_type
    bad.loc[5, "response"] = ""  # 6 missing_value
    bad.loc[7, "response_id"] = bad.loc[6, "response_id"]  # 7 duplicate_id
    mission = bad.loc[8, "mission"]
    others = bad.index[(bad["mission"] == mission) & (bad.index != 8)]
    assert len(others) > 0
    cur = bad.loc[8, "mission_phase"]
    bad.loc[8, "mission_phase"] = "drawdown" if cur != "drawdown" else "start_up"  # 8
    bad.loc[9, "response"] = "11"  # 9 unknown_code
    text = bad.to_csv(index=False)
    header, rest = text.split("\n", 1)
    path = tmp_path / "ten_errors.csv"  # 10 duplicate_column
    lines = [header + ",severity"] + [ln + ",minor" for ln in rest.strip().split("\n")]
    path.write_text("\n".join(lines) + "\n")
    return path


EXPECTED_KINDS = {
    "missing_column",
    "unknown_column",
    "unknown_level",
    "out_of_range",
    "wrong_type",
    "missing_value",
    "duplicate_id",
    "inconsistent_within_group",
    "unknown_code",
    "duplicate_column",
}


def test_ten_kinds_of_error_in_one_run(tmp_path, example_raw, run_cli):
    path = _ten_error_file(tmp_path, example_raw)
    res = run_cli("validate", path, "--format", "json")
    assert res.code == 1
    payload = json.loads(res.out)
    assert payload["valid"] is False
    kinds = {p["kind"] for p in payload["problems"]}
    assert kinds == EXPECTED_KINDS
    cells = {(p["kind"], p["row"], p["column"], p["value"]) for p in payload["problems"]}
    assert ("unknown_level", 3, "background", "militray_security") in cells
    assert ("out_of_range", 4, "years_at_station", "75") in cells
    assert ("wrong_type", 5, "years_at_station", "seven") in cells
    assert ("missing_value", 6, "response", "") in cells
    assert ("unknown_code", 10, "response", "11") in cells
    assert any(k == "duplicate_id" and r == 8 for k, r, _, _ in cells)
    assert any(k == "inconsistent_within_group" and r == 9 for k, r, _, _ in cells)

    text = run_cli("validate", path)
    assert text.code == 1
    assert "Traceback" not in text.out + text.err
    lines = text.out.strip().splitlines()
    assert lines[-1].endswith("INVALID, 9 error(s), 1 warning(s)")
    assert "row 3, column 'background': 'militray_security' is not a level" in text.out


def test_cli_exit_status(tmp_path, run_cli):
    assert run_cli("validate", example_path()).code == 0
    missing = run_cli("validate", tmp_path / "nope.csv")
    assert missing.code == 2 and missing.err.startswith("error: data file not found")
    bad_cb = tmp_path / "cb.json"
    bad_cb.write_text("{}")
    res = run_cli("validate", example_path(), "--codebook", bad_cb)
    assert res.code == 2 and "'fields' must be a non-empty list" in res.err


def test_user_codebook_accepts_its_file_and_rejects_default_coded_file(run_cli):
    cb = DATA / "user_codebook.json"
    ok = run_cli("validate", DATA / "user_coded.csv", "--codebook", cb)
    assert ok.code == 0, ok.out
    typed = validate(DATA / "user_coded.csv", cb)
    assert list(typed["response"].cat.categories) == [
        "ignore",
        "note",
        "raise_privately",
        "protest",
        "sanction",
    ]
    assert typed["mandate_strength"].dtype.ordered

    res = run_cli("validate", example_path(), "--codebook", cb)
    assert res.code == 1
    assert "required column 'mandate_strength' is missing" in res.out
    assert "required column 'case' is missing" in res.out
    assert "'quiet_diplomacy' is not a level of 'response'" in res.out
    assert "Expected one of (in order): ignore, note, raise_privately, protest, sanction" in (
        res.out
    )


def test_default_codebook_rejects_user_coded_file():
    report = check(DATA / "user_coded.csv")
    kinds = {p.kind for p in report.errors}
    assert {"missing_column", "unknown_level"} <= kinds


def test_no_warnings_for_a_clean_file(example_raw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate(example_raw)
