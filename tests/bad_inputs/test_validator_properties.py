"""Property-based tests of the validator and the CSV reader (issue 14: "property-based
tests with hypothesis on the validator"):

- a valid table with one cell changed to a value the codebook does not allow gives
  exactly one error, naming that row, column and value;
- random text, in cells or as a whole file, never raises anything but the package's
  errors, and every problem points at a row and column that exist;
- valid data are never altered: no row dropped, no value recoded, through a DataFrame
  or a CSV file at any of the named delimiters;
- ranges of the outcome's levels (issue 16) are accepted with their ends in order, kept
  as given, and refused reversed with one ``range_reversed`` error naming the row.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bayesresp.data.codebook import Codebook
from bayesresp.data.tables import DELIMITER_NAMES, read_table
from bayesresp.data.validation import check, validate
from bayesresp.errors import BayesrespError, DataFileError

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CB = Codebook.default()
ROWS = 40
# Text as it may come in a cell: any Unicode but surrogates (which no file can hold).
CELL_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
# What a CSV file can hold in a cell and give back: no NUL (a binary file) and no lone
# carriage return (a line end that the writer does not quote).
FILE_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"))


@pytest.fixture(scope="module")
def base(example_raw) -> pd.DataFrame:
    """A valid table as text cells: rows of the example."""
    frame = example_raw.head(ROWS).reset_index(drop=True)
    assert check(frame, CB).ok
    return frame


def _is_valid(field, value: str) -> bool:
    """Whether ``value`` is a valid cell of ``field`` (labels, codes, numbers in range)."""
    if value in CB.missing_values:
        return not field.required
    if field.categories is not None:
        if value in field.categories:
            return True
        codes = field.code_to_label()
        return bool(codes) and re.fullmatch(r"[+-]?[0-9]+", value) and int(value) in codes
    return False  # numbers: only out-of-range numbers and non-numbers are drawn


# Almost numbers: a number with a line break after it (a quoted CSV cell), or written in
# digits of another script ('٣', '２０００'): neither is read as a number or a code.
NEAR_NUMBERS = st.one_of(
    st.integers(0, 60).map(lambda i: f"{i}\n"),
    st.text(st.characters(categories=("Nd",), exclude_characters="0123456789"), min_size=1),
)


LONG_TEXT = st.integers(100, 10_000).map(lambda n: "x\n" * n)  # a message shows its start


def _bad_value(field):
    """A strategy for a value ``field`` does not allow."""
    if field.categories is not None:
        text = st.one_of(CELL_TEXT, NEAR_NUMBERS, LONG_TEXT)
        return text.filter(lambda v: not _is_valid(field, v))
    low, high = field.minimum, field.maximum
    out_of_range = st.one_of(
        st.integers(max_value=int(low) - 1) if low is not None else st.nothing(),
        st.integers(min_value=int(high) + 1) if high is not None else st.nothing(),
    ).map(str)
    not_a_number = CELL_TEXT.filter(lambda v: re.search("[A-Za-z]", v) is not None)
    return st.one_of(out_of_range, not_a_number, NEAR_NUMBERS, LONG_TEXT)


CHECKED = [
    f.name
    for f in CB.fields.values()
    if f.kind in ("ordinal", "categorical", "continuous", "integer")
]


@st.composite
def one_bad_cell(draw):
    column = draw(st.sampled_from(CHECKED))
    row = draw(st.integers(0, ROWS - 1))
    value = draw(_bad_value(CB.fields[column]))
    return row, column, value


@SETTINGS
@given(one_bad_cell())
def test_one_bad_cell_gives_one_error_naming_its_row_column_and_value(base, case):
    row, column, value = case
    frame = base.copy()
    frame.loc[row, column] = value
    errors = check(frame, CB).errors
    assert len(errors) == 1, [str(p) for p in errors]
    (p,) = errors
    assert (p.row, p.column, p.value) == (row + 1, column, value), str(p)
    assert "\n" not in str(p) and len(str(p)) < 600, str(p)  # one line, of bounded length
    assert p.kind in (
        "unknown_level",
        "unknown_code",
        "wrong_type",
        "out_of_range",
        "missing_value",
    )


@SETTINGS
@given(one_bad_cell(), st.sampled_from(list(DELIMITER_NAMES)))
def test_one_bad_cell_in_a_csv_file_names_the_same_row(base, tmp_path_factory, case, sep):
    row, column, value = case
    assume("\x00" not in value and "\r" not in value)
    frame = base.copy()
    frame.loc[row, column] = value
    path = tmp_path_factory.mktemp("one") / "data.csv"
    frame.to_csv(path, index=False, sep=sep, lineterminator="\n")
    (p,) = check(path, CB, delimiter=sep).errors
    assert (p.row, p.column, p.value) == (row + 1, column, value), str(p)


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, ROWS - 1), st.sampled_from(CHECKED), CELL_TEXT)))
def test_random_cells_give_only_the_package_errors(base, cells):
    frame = base.copy()
    for row, column, value in cells:
        frame.loc[row, column] = value
    report = check(frame, CB)  # never raises: problems are reported
    for p in report.problems:
        assert p.row is None or 1 <= p.row <= ROWS
        assert p.column is None or p.column in frame.columns
    # Each error names a changed cell, or (a value that must be constant within a group)
    # another row of that group, in a changed column.
    changed = {(r + 1, c) for r, c, _ in cells}
    for p in report.errors:
        if p.kind == "inconsistent_within_group":
            assert p.column in {c for _, c in changed}, str(p)
        else:
            assert (p.row, p.column) in changed, str(p)
    if report.ok:
        assert len(report.data) == ROWS
    else:
        with pytest.raises(BayesrespError):
            validate(frame, CB)


@SETTINGS
@given(FILE_TEXT | st.text(), st.sampled_from([None, *DELIMITER_NAMES.values()]))
def test_random_files_give_only_the_package_errors(tmp_path_factory, text, delimiter):
    path = tmp_path_factory.mktemp("random") / "data.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass", newline="")
    try:
        report = check(path, CB, delimiter=delimiter)
    except DataFileError:
        return
    for p in report.problems:
        assert p.row is None or p.row >= 1


@SETTINGS
@given(
    st.lists(st.integers(0, ROWS - 1), min_size=1, max_size=ROWS, unique=True),
    st.sampled_from(list(DELIMITER_NAMES)),
)
def test_valid_data_are_never_altered(base, tmp_path_factory, rows, sep):
    frame = base.iloc[rows].reset_index(drop=True)
    path = tmp_path_factory.mktemp("valid") / "data.csv"
    frame.to_csv(path, index=False, sep=sep, lineterminator="\n")
    pd.testing.assert_frame_equal(read_table(path, delimiter=sep), frame)
    for typed in (validate(frame, CB), validate(path, CB, delimiter=sep)):
        assert list(typed.columns) == list(frame.columns) and len(typed) == len(frame)
        for col in frame.columns:
            back = typed[col].astype(object).where(typed[col].notna(), "")
            if CB.fields[col].kind in ("continuous", "integer"):
                expect = pd.to_numeric(frame[col].replace("", None)).astype(object)
                back = pd.to_numeric(back.replace("", None)).astype(object)
            else:
                expect = frame[col]
            pd.testing.assert_series_equal(
                back.reset_index(drop=True), expect.reset_index(drop=True), check_names=False
            )


# -- ambiguous codes: ranges of the outcome's levels (issue 16) --------------------------
SPECTRUM = list(CB.spectrum)
LOW, HIGH = CB.range_columns


@st.composite
def ranges(draw):
    """Rows made ranges: {row: (low, high, low as written, high as written)}, the ends
    drawn anywhere on the spectrum (reversed or not) and written as labels or codes."""
    rows = draw(st.lists(st.integers(0, ROWS - 1), min_size=1, max_size=8, unique=True))
    out = {}
    for row in rows:
        low, high = (draw(st.integers(0, len(SPECTRUM) - 1)) for _ in range(2))
        written = [SPECTRUM[i] if draw(st.booleans()) else str(i) for i in (low, high)]
        out[row] = (low, high, *written)
    return out


@SETTINGS
@given(ranges(), st.sampled_from([None, *DELIMITER_NAMES]))
def test_ranges_are_accepted_in_order_and_refused_reversed(base, tmp_path_factory, cases, sep):
    frame = base.assign(**{LOW: "", HIGH: ""})
    for row, (_, _, low, high) in cases.items():
        frame.loc[row, ["response", LOW, HIGH]] = ["", low, high]
    if sep is None:
        report = check(frame, CB)
    else:
        path = tmp_path_factory.mktemp("ranges") / "data.csv"
        frame.to_csv(path, index=False, sep=sep, lineterminator="\n")
        report = check(path, CB, delimiter=sep)
    reversed_rows = sorted(row for row, (lo, hi, _, _) in cases.items() if lo > hi)
    found = [(p.kind, p.row, p.column, p.value) for p in report.errors]
    assert found == [("range_reversed", row + 1, LOW, cases[row][2]) for row in reversed_rows], [
        str(p) for p in report.errors
    ]
    assert not report.warnings
    if reversed_rows:
        assert report.data is None
        return
    typed = report.data
    assert list(typed.columns) == list(frame.columns) and len(typed) == ROWS
    for pos in range(ROWS):
        if pos in cases:  # the range as given, never moved to a level
            lo, hi, _, _ = cases[pos]
            assert pd.isna(typed.loc[pos, "response"])
            assert (typed.loc[pos, LOW], typed.loc[pos, HIGH]) == (SPECTRUM[lo], SPECTRUM[hi])
        else:
            assert typed.loc[pos, "response"] == base.loc[pos, "response"]
            assert pd.isna(typed.loc[pos, LOW]) and pd.isna(typed.loc[pos, HIGH])
    plain = validate(base, CB)
    for col in base.columns.drop("response"):
        pd.testing.assert_series_equal(typed[col], plain[col])
    pd.testing.assert_frame_equal(validate(typed, CB), typed)
