"""Validate a coded data set against a codebook, reporting every problem at once.

Nothing is dropped, recoded or coerced behind the user's back. A valid table comes back
typed: ordered categoricals (codebook order) for ordinal columns, categoricals for
nominal ones, floats for numbers, nullable integers for whole numbers, text for
identifiers. Integer codes are accepted where the codebook lists ``codes`` and are
mapped to their labels, which is the codebook's documented meaning of the code.

Ambiguous codes: when the codebook's outcome declares ``rangeColumns`` (``low``,
``high``), a row may leave the outcome empty and give a range of its levels in those two
columns instead (both ends included). The typed outcome is then missing on such a row,
and the two range columns, when the table has them, come back as ordered categoricals
with the outcome's levels, missing on rows that give one level.
"""

from __future__ import annotations

import difflib
import math
import re
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayesresp.data.codebook import Codebook, Field
from bayesresp.data.tables import read_table
from bayesresp.errors import DataValidationError

#: Every kind of problem the validator reports.
PROBLEM_KINDS = {
    "empty_file": "the table has no data rows",
    "duplicate_column": "a column name appears more than once",
    "missing_column": "a required column is absent",
    "unknown_column": "a column the codebook does not define (warning)",
    "missing_value": "a required cell is empty",
    "unknown_level": "a label the codebook does not list",
    "unknown_code": "an integer code the codebook does not list",
    "wrong_type": "a value of the wrong type",
    "out_of_range": "a number outside the codebook's range",
    "duplicate_id": "two rows share an identifier",
    "inconsistent_within_group": "a value that must be constant within a group varies",
    "range_reversed": "the low end of a range of the outcome is above its high end",
    "range_and_level": "a row gives both a level of the outcome and a range of levels",
}

# Numbers and codes as written in data files: ASCII digits, the whole cell (fullmatch: no
# line break after the number, which ``$`` would allow, and no digits of other scripts,
# which Python's ``\d`` and ``float`` would accept).
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Problem:
    """One problem with a coded data set.

    ``row`` is the 1-based data row (line ``row + 1`` of a CSV file, after its header);
    ``index`` is the DataFrame index label of that row when it is not simply
    ``row - 1``.
    """

    kind: str
    message: str
    row: int | None = None
    column: str | None = None
    value: Any = None
    expected: str | None = None
    suggestion: str | None = None
    severity: Literal["error", "warning"] = "error"
    index: Any = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
            if self.index is not None:
                where.append(f"index {self.index!r}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        tag = "warning: " if self.severity == "warning" else ""
        return f"{tag}{prefix + ': ' if prefix else ''}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as plain values (value and index as text), ready for JSON."""
        d = asdict(self)
        d["value"] = None if self.value is None else str(self.value)
        d["index"] = None if self.index is None else str(self.index)
        return d


@dataclass
class ValidationReport:
    """What :func:`check` found: all problems, and the typed table when there are no errors."""

    problems: list[Problem]
    data: pd.DataFrame | None
    source: str | None = None

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the data invalid."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems reported as warnings (the data stay valid)."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def to_dataframe(self) -> pd.DataFrame:
        """One row per problem: kind, severity, row, column, value, expected, suggestion."""
        cols = ["severity", "kind", "row", "index", "column", "value", "expected", "suggestion"]
        rows = [{k: p.to_dict()[k] for k in cols} | {"message": p.message} for p in self.problems]
        return pd.DataFrame(rows, columns=[*cols, "message"])

    def _repr_html_(self) -> str:
        if not self.problems:
            return "<p><b>Valid</b>: no problems found.</p>"
        return self.to_dataframe().to_html(index=False)

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        if not self.problems:
            return "valid: no problems found"
        lines = [str(p) for p in self.problems]
        n_err, n_warn = len(self.errors), len(self.warnings)
        lines.append(f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}")
        return "\n".join(lines)


def validate(
    data: pd.DataFrame | str | Path,
    codebook: Codebook | str | Path | dict | None = None,
    delimiter: str | None = None,
) -> pd.DataFrame:
    """Check a coded data set against a codebook and return it typed.

    Parameters
    ----------
    data : DataFrame, or path of a CSV or Parquet file
        The coded data set, one row per response.
    codebook : Codebook, dict or path, optional
        The codebook; the default codebook of the domain when omitted.
    delimiter : str, optional
        For a CSV file: the character between its cells, or its name (``comma``,
        ``semicolon``, ``tab``, ``pipe``). By default the codebook's ``dialect`` says,
        else a comma (a tab for ``.tsv``). A file that reads as a table only at another
        delimiter is refused with a :class:`DataFileError` naming it, never read at it
        unasked.

    Returns
    -------
    pandas.DataFrame
        The same rows and columns, typed by the codebook. Columns the codebook does not
        define are kept as they were (and reported with a warning). The outcome's range
        columns (the codebook's ``rangeColumns``), when the table has them, are ordered
        categoricals with the outcome's levels: a row that gives a range has the outcome
        missing and both ends set; a row that gives one level has both ends missing.

    Raises
    ------
    DataValidationError
        Carrying ``.problems``, the list of every problem found.
    DataFileError
        When a file cannot be read at all.

    Examples
    --------
    >>> import bayesresp
    >>> df = bayesresp.validate(bayesresp.load_example(typed=False))
    >>> df["response"].cat.categories[0]
    'conceal'
    """
    report = check(data, codebook, delimiter)
    for w in report.warnings:
        warnings.warn(str(w), UserWarning, stacklevel=2)
    if not report.ok:
        raise DataValidationError(report.problems, source=report.source)
    assert report.data is not None
    return report.data


def check(
    data: pd.DataFrame | str | Path,
    codebook: Codebook | str | Path | dict | None = None,
    delimiter: str | None = None,
) -> ValidationReport:
    """Like :func:`validate`, but return a :class:`ValidationReport` instead of raising
    for invalid data (a file that cannot be read still raises :class:`DataFileError`).

    Examples
    --------
    >>> report = bayesresp.check("incidents.csv")  # doctest: +SKIP
    >>> report.ok, len(report.errors)  # doctest: +SKIP
    """
    cb = Codebook.coerce(codebook)
    source = None
    if isinstance(data, str | Path):
        source = str(data)
        if delimiter is None and cb.delimiter is not None:
            frame = read_table(
                data, cb.delimiter, origin=f"as the dialect of the codebook '{cb.name}' says"
            )
        else:
            frame = read_table(data, delimiter)
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise TypeError(f"data must be a DataFrame or a file path, not {type(data).__name__}")
    return _Validator(frame, cb, source).run()


class _Validator:
    def __init__(self, frame: pd.DataFrame, cb: Codebook, source: str | None):
        self.frame = frame
        self.cb = cb
        self.source = source
        self.problems: list[Problem] = []
        # Report index labels only when they are not just the row position.
        idx = frame.index
        self.show_index = not (isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1)

    def add(self, kind: str, message: str, pos: int | None = None, **kw: Any) -> None:
        row = None if pos is None else pos + 1
        index = self.frame.index[pos] if (pos is not None and self.show_index) else None
        self.problems.append(Problem(kind, message, row=row, index=index, **kw))

    def run(self) -> ValidationReport:
        frame, cb = self.frame, self.cb
        if frame.shape[1] == 0:
            self.add("empty_file", "the table is empty: no header and no rows")
            return ValidationReport(self.problems, None, self.source)
        if frame.shape[0] == 0:
            self.add("empty_file", "the table has a header but no data rows")

        names = [str(c) for c in frame.columns]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                self.add(
                    "duplicate_column",
                    f"column '{name}' appears more than once; each column must be unique",
                    column=name,
                    expected="one column per name",
                )
            seen.add(name)
        for f in cb.fields.values():
            if f.required and f.name not in seen:
                self.add(
                    "missing_column",
                    f"required column '{f.name}' is missing ({f.title or f.role})",
                    column=f.name,
                    expected=f"a column '{f.name}' with {f.expected()}",
                    suggestion=_closest(f.name, [n for n in names if n not in cb.fields]),
                )
        ranges = cb.range_columns or ()
        present = [r for r in ranges if r in seen]
        if len(present) == 1:
            absent = next(r for r in ranges if r not in seen)
            self.add(
                "missing_column",
                f"column '{present[0]}' gives one end of ranges of '{cb.outcome.name}', but "
                f"column '{absent}' is missing: a range needs its lowest level in "
                f"'{ranges[0]}' and its highest in '{ranges[1]}'",
                column=absent,
                expected=f"a column '{absent}' with {cb.outcome.expected()}",
            )
        for name in dict.fromkeys(names):
            if name not in cb.fields and name not in ranges:
                hint = _closest(name, [n for n in cb.fields if n not in seen])
                self.add(
                    "unknown_column",
                    f"not in the codebook '{cb.name}'; the column is kept but not checked"
                    + (f" (did you mean '{hint}'?)" if hint else ""),
                    column=name,
                    severity="warning",
                    suggestion=hint,
                )

        first = {name: frame.iloc[:, names.index(name)] for name in dict.fromkeys(names)}
        typed: dict[str, Any] = {}
        for name, column in first.items():
            if name in ranges:
                continue  # typed with the outcome
            if name in cb.fields and not (present and name == cb.outcome.name):
                typed[name] = self._column(cb.fields[name], column)
            elif name not in cb.fields:
                typed[name] = column
        if present:
            typed.update(
                self._ranged(
                    cb.outcome, {n: first[n] for n in first if n in (cb.outcome.name, *ranges)}
                )
            )
        typed = {name: typed[name] for name in first}
        self._check_keys(typed)
        self._check_constant(typed)
        # Report as a reader scans a spreadsheet: file-level first, then row by row.
        position = {n: i for i, n in reversed(list(enumerate(names)))}
        self.problems.sort(
            key=lambda p: (p.row is not None, p.row or 0, position.get(p.column, -1))
        )

        if any(p.severity == "error" for p in self.problems):
            return ValidationReport(self.problems, None, self.source)
        out = pd.DataFrame(typed, index=frame.index)
        return ValidationReport(self.problems, out, self.source)

    # -- per-cell parsing --------------------------------------------------------------
    def _column(self, f: Field, column: pd.Series) -> pd.Series:
        values = column.to_numpy(dtype=object)
        missing = np.fromiter((self._is_missing(v) for v in values), bool, len(values))
        if f.required:
            for pos in np.flatnonzero(missing):
                self._missing(f, int(pos), values[pos])
        parse = {
            "ordinal": self._categorical,
            "categorical": self._categorical,
            "continuous": self._number,
            "integer": self._number,
            "text": self._text,
        }[f.kind]
        parsed = parse(f, values, missing)
        return self._typed(f, parsed, column.index)

    def _what(self, f: Field) -> str:
        """The column in a message: its name, and for a range column the outcome's."""
        ranges = self.cb.range_columns or ()
        if f.name in ranges:
            return f"'{self.cb.outcome.name}' (its range column '{f.name}')"
        return f"'{f.name}'"

    def _missing(self, f: Field, pos: int, value: Any) -> None:
        msg = f"'{f.name}' is required but the cell is empty"
        if f.range_columns is not None:
            low, high = f.range_columns
            msg += (
                f" (an ambiguous code can be given instead as a range, its lowest level in "
                f"'{low}' and its highest in '{high}')"
            )
        self.add("missing_value", msg, pos, column=f.name, value=value, expected=f.expected())

    def _ranged(self, f: Field, columns: dict[str, pd.Series]) -> dict[str, pd.Series]:
        """The outcome and its range columns, of which ``columns`` holds those the table
        has: each row gives one level or a range of levels, never both."""
        assert f.range_columns is not None and f.categories is not None
        low, high = f.range_columns
        n = len(self.frame)
        cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in (f.name, low, high):
            if name in columns:
                values = columns[name].to_numpy(dtype=object)
                missing = np.fromiter((self._is_missing(v) for v in values), bool, n)
            else:
                values, missing = np.full(n, None, dtype=object), np.ones(n, bool)
            cells[name] = (values, missing)
        # The ends of a range take what the outcome takes; problems name their own column.
        fields = {
            f.name: f,
            low: replace(f, name=low, required=False, range_columns=None),
            high: replace(f, name=high, required=False, range_columns=None),
        }
        parsed = {name: self._categorical(fields[name], *cells[name]) for name in fields}
        (yv, ym), (lv, lm), (hv, hm) = cells[f.name], cells[low], cells[high]
        rank = {label: i for i, label in enumerate(f.categories)}
        for pos in range(n):
            if not ym[pos]:
                if not (lm[pos] and hm[pos]):
                    given = " and ".join(
                        f"{_shown(v, quote=True)} in '{c}'"
                        for c, v, m in ((low, lv[pos], lm[pos]), (high, hv[pos], hm[pos]))
                        if not m
                    )
                    self.add(
                        "range_and_level",
                        f"the row gives both the level {_shown(yv[pos], quote=True)} of "
                        f"'{f.name}' and a range ({given}); give either one level in "
                        f"'{f.name}' or a range in '{low}' and '{high}', not both",
                        pos,
                        column=f.name,
                        value=yv[pos],
                        expected=f"'{f.name}' or the range '{low}'..'{high}', not both",
                    )
            elif lm[pos] and hm[pos]:
                if f.required and f.name in columns:  # else the missing column is reported
                    self._missing(f, pos, yv[pos])
            elif lm[pos] or hm[pos]:
                empty, full = (low, high) if lm[pos] else (high, low)
                if empty in columns:  # else the missing column is reported
                    other = _shown(cells[full][0][pos], quote=True)
                    self.add(
                        "missing_value",
                        f"'{empty}' is empty but '{full}' is {other}: a range of "
                        f"'{f.name}' needs both its lowest level ('{low}') and its highest "
                        f"('{high}'); for one level, write it in '{f.name}' instead",
                        pos,
                        column=empty,
                        value=cells[empty][0][pos],
                        expected=fields[empty].expected(),
                    )
            else:
                a, b = parsed[low][pos], parsed[high][pos]
                if a is not None and b is not None and rank[a] > rank[b]:
                    shown_a, shown_b = _as_level(lv[pos], a), _as_level(hv[pos], b)
                    self.add(
                        "range_reversed",
                        f"{shown_a} is above {shown_b} on the order of '{f.name}': the "
                        f"range's lowest level ('{low}') must not be above its highest "
                        f"('{high}'); swap them?",
                        pos,
                        column=low,
                        value=lv[pos],
                        expected=f"a level of '{f.name}' at or below '{b}' (the range's high end)",
                    )
        return {
            name: self._typed(fields[name], parsed[name], self.frame.index)
            for name in fields
            if name in columns
        }

    @staticmethod
    def _typed(f: Field, parsed: list[Any], index: pd.Index) -> pd.Series:
        if f.categories is not None:
            dtype = pd.CategoricalDtype(list(f.categories), ordered=f.ordered)
            return pd.Series(pd.Categorical(parsed, dtype=dtype), index=index, name=f.name)
        if f.kind == "continuous":
            vals = [np.nan if v is None else float(v) for v in parsed]
            return pd.Series(vals, index=index, name=f.name, dtype="float64")
        if f.kind == "integer":
            return pd.Series(pd.array(parsed, dtype="Int64"), index=index, name=f.name)
        return pd.Series(pd.array(parsed, dtype="string"), index=index, name=f.name)

    def _is_missing(self, v: Any) -> bool:
        if v is None or v is pd.NA or v is pd.NaT:
            return True
        if isinstance(v, float) and math.isnan(v):
            return True
        return isinstance(v, str) and v in self.cb.missing_values

    def _categorical(self, f: Field, values: np.ndarray, missing: np.ndarray) -> list[Any]:
        labels = set(f.categories)
        codes = f.code_to_label()
        out: list[Any] = [None] * len(values)
        for pos, v in enumerate(values):
            if missing[pos]:
                continue
            if isinstance(v, str):
                if v in labels:
                    out[pos] = v
                elif codes and _INTEGER.fullmatch(v):
                    out[pos] = self._code(f, int(v), v, pos, codes)
                else:
                    self._unknown_label(f, v, pos)
            elif isinstance(v, bool | np.bool_):
                self._wrong_type(f, v, pos)
            elif isinstance(v, Integral) or (isinstance(v, Real) and float(v).is_integer()):
                if codes:
                    out[pos] = self._code(f, int(v), v, pos, codes)
                else:
                    self._wrong_type(f, v, pos, "this column takes labels, not numbers")
            else:
                self._wrong_type(f, v, pos)
        return out

    def _code(self, f: Field, code: int, raw: Any, pos: int, codes: dict[int, str]) -> Any:
        if code in codes:
            return codes[code]
        self.add(
            "unknown_code",
            f"code {_shown(raw)} is not a code of {self._what(f)} (codes run "
            f"{min(codes)}-{max(codes)}: "
            + ", ".join(f"{c}={lab}" for c, lab in codes.items())
            + ")",
            pos,
            column=f.name,
            value=raw,
            expected=f.expected(),
        )
        return None

    def _unknown_label(self, f: Field, v: str, pos: int) -> None:
        hint = _closest(v, f.categories)
        msg = f"{_shown(v, quote=True)} is not a level of {self._what(f)}"
        msg += f"; did you mean '{hint}'?" if hint else "."
        msg += f" Expected {f.expected()}."
        self.add(
            "unknown_level",
            msg,
            pos,
            column=f.name,
            value=v,
            expected=f.expected(),
            suggestion=hint,
        )

    def _wrong_type(self, f: Field, v: Any, pos: int, why: str = "") -> None:
        msg = f"{_shown(v)} ({type(v).__name__}) is not valid for {self._what(f)}"
        msg += f": {why}" if why else ""
        msg += f". Expected {f.expected()}."
        self.add("wrong_type", msg, pos, column=f.name, value=v, expected=f.expected())

    def _number(self, f: Field, values: np.ndarray, missing: np.ndarray) -> list[Any]:
        out: list[Any] = [None] * len(values)
        whole = f.kind == "integer"
        pattern = _INTEGER if whole else _NUMBER
        for pos, v in enumerate(values):
            if missing[pos]:
                continue
            if isinstance(v, str):
                if not pattern.fullmatch(v):
                    why = "not a whole number" if whole and _NUMBER.fullmatch(v) else "not a number"
                    self._wrong_type(f, v, pos, why)
                    continue
                x: float | int = int(v) if whole else float(v)
            elif isinstance(v, bool | np.bool_) or not isinstance(v, Real):
                self._wrong_type(f, v, pos)
                continue
            else:
                if not math.isfinite(float(v)):
                    self._wrong_type(f, v, pos, "not a finite number")
                    continue
                if whole and not float(v).is_integer():
                    self._wrong_type(f, v, pos, "not a whole number")
                    continue
                x = int(v) if whole else float(v)
            if not math.isfinite(float(x)):
                self._wrong_type(f, v, pos, "not a finite number")
                continue
            too_low = f.minimum is not None and x < f.minimum
            too_high = f.maximum is not None and x > f.maximum
            if too_low or too_high:
                self.add(
                    "out_of_range",
                    f"{_shown(v)} is out of range for '{f.name}'; expected {f.expected()}",
                    pos,
                    column=f.name,
                    value=v,
                    expected=f.expected(),
                )
                continue
            out[pos] = x
        return out

    def _text(self, f: Field, values: np.ndarray, missing: np.ndarray) -> list[Any]:
        out: list[Any] = [None] * len(values)
        for pos, v in enumerate(values):
            if missing[pos]:
                continue
            if isinstance(v, str):
                out[pos] = v
            elif isinstance(v, Integral) and not isinstance(v, bool | np.bool_):
                out[pos] = str(int(v))  # an integer identifier read as a number
            else:
                self._wrong_type(f, v, pos, "identifiers must be text or whole numbers")
        return out

    # -- cross-row checks --------------------------------------------------------------
    def _check_keys(self, typed: dict[str, Any]) -> None:
        if not self.cb.row_key or self.cb.row_key[0] not in typed:
            return
        key = [k for k in self.cb.row_key if k in typed]
        cols = [typed[k].astype(object) for k in key]
        cols = [c.where(c.notna(), None).tolist() for c in cols]
        first_seen: dict[tuple, int] = {}
        for pos, values in enumerate(zip(*cols, strict=True)):
            if values[0] is None:
                continue
            if values in first_seen:
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(key, values, strict=True))
                self.add(
                    "duplicate_id",
                    f"{shown} already identifies row {first_seen[values] + 1}",
                    pos,
                    column=key[0],
                    value=values[0],
                    expected="a value of " + " + ".join(key) + " used by no other row",
                )
            else:
                first_seen[values] = pos

    def _check_constant(self, typed: dict[str, Any]) -> None:
        for f in self.cb.fields.values():
            if not f.constant_within or f.name not in typed:
                continue
            if not all(k in typed for k in f.constant_within):
                continue
            keys = list(f.constant_within)
            frame = pd.DataFrame({k: typed[k].astype(object) for k in [*keys, f.name]}).reset_index(
                drop=True
            )
            frame = frame.dropna()
            for group, sub in frame.groupby(keys, sort=False):
                counts = sub[f.name].value_counts(sort=False)
                if len(counts) < 2:
                    continue
                # The value most rows agree on is taken as the group's; the others are
                # reported, each with its row.
                first = sub.groupby(f.name, sort=False).head(1)
                order = {v: i for i, v in enumerate(first[f.name])}
                modal = max(counts.index, key=lambda v: (counts[v], -order[v]))
                gname = _group_name(keys, group)
                for pos, v in sub.loc[sub[f.name] != modal, f.name].items():
                    self.add(
                        "inconsistent_within_group",
                        f"'{f.name}' must be constant within {gname}, but this row has "
                        f"'{v}' while {counts[modal]} other row(s) have '{modal}'",
                        int(pos),
                        column=f.name,
                        value=v,
                        expected=f"'{modal}', as in the other rows of {gname}",
                    )


def _shown(value: Any, quote: bool = False, limit: int = 60) -> str:
    """A cell's value in a message, on one line and short: ``repr`` (or the text in
    quotes, with ``quote``, when it has nothing to escape), cut after ``limit``
    characters with the full length said."""
    plain = quote and isinstance(value, str) and value.isprintable()
    text = f"'{value}'" if plain else repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value):,} characters)" if isinstance(value, str) else ""
    return text[:limit] + "..." + size


def _as_level(raw: Any, label: str) -> str:
    """A cell that gave ``label``, in a message: the label, and the code it was written as."""
    shown = _shown(raw, quote=True)
    return shown if raw == label else f"{shown} ({label})"


def _group_name(keys: list[str], group: Any) -> str:
    values = group if isinstance(group, tuple) else (group,)
    return " + ".join(f"{k} '{v}'" for k, v in zip(keys, values, strict=True))


def _closest(value: str, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant: same text folded, a close whole label, or a
    close word of a multi-word label ('militray' -> 'military_security')."""
    options = list(options)
    folded = {o.lower().replace(" ", "_").replace("-", "_"): o for o in options}
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key in folded:
        return folded[key]
    match = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    if match:
        return folded[match[0]]
    words: dict[str, str] = {}
    for f, o in folded.items():
        for word in f.split("_"):
            if len(word) >= 4:
                words.setdefault(word, o)
    match = difflib.get_close_matches(key, list(words), n=1, cutoff=0.75)
    return words[match[0]] if match else None
