"""Reading coded data files (CSV, Parquet) exactly as written.

CSV cells come back as text, untouched: no type guessing, no missing-value guessing,
no renaming of repeated column names. Deciding what a cell means is the validator's
job, against the codebook, so that nothing is coerced before it has been checked.

Nothing about the file's form is guessed either. The delimiter is a comma for ``.csv``
and ``.txt`` files and a tab for ``.tsv`` files unless the caller says otherwise
(``delimiter=``; on the command line ``--delimiter``; in a codebook, its ``dialect``).
A file that reads as a table only at another delimiter is refused with a message that
names that delimiter; it is never read at it unasked. A cell longer than the ``csv``
module's limit (131,072 characters) and a double quote that opens a cell and is never
closed (which would swallow the rest of the file into that cell) are refused too, each
naming the row, line and column where the cell starts.

:func:`write_csv` writes a typed frame back, byte for byte as pandas' ``to_csv`` does,
formatted by Arrow so that a million rows take a second or two.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesresp.errors import DataFileError

if TYPE_CHECKING:  # Arrow is imported when a file is written, not to read one
    import pyarrow as pa

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")

#: The delimiters with a name, which every place that takes a delimiter accepts.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_BY_NAME = {name: char for char, name in DELIMITER_NAMES.items()} | {"\\t": "\t"}

#: The longest cell read: the ``csv`` module's default field size limit.
CELL_LIMIT = 131_072


def as_delimiter(value: str) -> str:
    """The delimiter character ``value`` stands for: one character, or one of the names
    ``comma``, ``semicolon``, ``tab``, ``pipe`` (``\\t`` is a tab too).

    Raises
    ------
    DataFileError
        For anything else (several characters, a double quote, a line break).

    Examples
    --------
    >>> as_delimiter("semicolon"), as_delimiter(";"), as_delimiter("tab")
    (';', ';', '\\t')
    """
    if isinstance(value, str):
        char = _BY_NAME.get(value.strip().lower(), value)
        if len(char) == 1 and char not in '"\r\n':
            return char
    raise DataFileError(
        f"the delimiter must be one character (not a double quote or a line break) or one "
        f"of {', '.join(DELIMITER_NAMES.values())}; not {value!r}"
    )


def _shown(char: str) -> str:
    """A delimiter in a message: ``';'``, or ``tabs``."""
    return "tabs" if char == "\t" else f"'{char}'"


def _separated(char: str) -> str:
    """``semicolon-separated``, or ``'#'-separated`` for a delimiter without a name."""
    return f"{DELIMITER_NAMES.get(char, repr(char))}-separated"


def read_table(
    path: str | Path, delimiter: str | None = None, *, origin: str = "as asked"
) -> pd.DataFrame:
    """Read a CSV or Parquet file without interpreting its cells.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.txt`` (comma-separated, UTF-8), ``.tsv`` (tab-separated) or
        ``.parquet`` file.
    delimiter : str, optional
        The character between the cells of a CSV file, or its name (``comma``,
        ``semicolon``, ``tab``, ``pipe``); by default a comma (a tab for ``.tsv``).
        Parquet files have none and ignore it.
    origin : str
        Where ``delimiter`` comes from, for messages (``"as the codebook's dialect
        says"``).

    Returns
    -------
    pandas.DataFrame
        For CSV, every cell as a ``str`` (empty cells as ``""``); for Parquet, the
        stored values. Repeated column names are kept as they are.

    Raises
    ------
    DataFileError
        When the file is missing, unreadable, of another format, not rectangular, looks
        separated by another delimiter than the one it is read with, holds a cell longer
        than 131,072 characters, or a double quote that is never closed.

    Examples
    --------
    >>> frame = bayesresp.read_table("incidents.csv")  # doctest: +SKIP
    >>> frame = bayesresp.read_table("export.csv", delimiter="semicolon")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"data file not found: {path}")
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    if suffix in CSV_SUFFIXES:
        if delimiter is not None:
            return _read_csv(path, as_delimiter(delimiter), origin)
        if suffix == ".tsv":
            return _read_csv(path, "\t", "as for every .tsv file")
        return _read_csv(path, ",", f"as for every {suffix} file")
    raise DataFileError(
        f"{path}: unknown file type '{suffix or '(none)'}'; expected .csv, .tsv or .parquet"
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from None


class _Unreadable(Exception):
    """The csv module stopped at a record (in practice: a cell over its size limit)."""

    def __init__(self, record: int, line: int, why: str):
        super().__init__(why)
        self.record, self.line, self.why = record, line, why


def _records(text: str, delimiter: str) -> list[tuple[int, int, list[str]]]:
    """The records of ``text`` that are not blank lines: (first line, last line, cells)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    out: list[tuple[int, int, list[str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            raise _Unreadable(len(out), line, str(exc)) from None
        if cells:
            out.append((line, reader.line_num, cells))


def _line_offset(text: str, line: int) -> int:
    """Where (1-based) ``line`` starts in ``text``, counting lines as the csv module does."""
    offset = 0
    for i, chunk in enumerate(io.StringIO(text, newline=""), start=1):
        if i == line:
            break
        offset += len(chunk)
    return offset


def _cells(text: str, pos: int, delimiter: str) -> list[tuple[int, int, bool]]:
    """The raw cells of the record that starts at ``pos``, as the csv module splits them
    (``strict=False``, doubled quotes): (start, end, whether a quote opened it and was
    never closed)."""
    stop = re.compile(f"[{re.escape(delimiter)}\r\n]")
    n, out = len(text), []
    while True:
        start, unclosed = pos, False
        if pos < n and text[pos] == '"':
            pos += 1
            while True:
                q = text.find('"', pos)
                if q < 0:
                    pos, unclosed = n, True
                    break
                if text.startswith('""', q):
                    pos = q + 2
                    continue
                pos = q + 1
                break
        m = stop.search(text, pos)  # an unquoted cell, or what follows a closing quote
        pos = n if m is None else m.start()
        out.append((start, pos, unclosed))
        if pos >= n or text[pos] in "\r\n":
            return out
        pos += 1


def _where(path: Path, record: int, line: int, header: list[str] | None, col: int | None) -> str:
    row = "the header" if record == 0 else f"data row {record}"
    where = f"{path}: {row} (line {line})"
    if col is not None:
        name = header[col] if header is not None and col < len(header) else None
        where += f", column '{name}'" if name is not None else f", cell {col + 1}"
    return where


def _too_long(path: Path, text: str, delimiter: str, exc: _Unreadable, header) -> DataFileError:
    if "field larger than field limit" not in exc.why:
        return DataFileError(
            f"{_where(path, exc.record, exc.line, header, None)}: not readable as CSV ({exc.why})"
        )
    cells = _cells(text, _line_offset(text, exc.line), delimiter)
    col = next((i for i, (a, b, _) in enumerate(cells) if b - a > CELL_LIMIT), None)
    hint = ""
    if col is not None:
        a, b, _ = cells[col]
        raw = text[a:b]
        breaks = len(raw.splitlines()) - 1 if raw.startswith('"') else 0
        if breaks:
            hint = (
                f"; it opens with a double quote and runs over {breaks + 1:,} lines: is its "
                "closing quote missing?"
            )
    return DataFileError(
        f"{_where(path, exc.record, exc.line, header, col)}: a cell longer than "
        f"{CELL_LIMIT:,} characters, the most bayesresp reads in one cell{hint}"
    )


def _unclosed_quote(path: Path, text: str, delimiter: str, records) -> DataFileError | None:
    """A double quote that opens the last record's cell and is never closed."""
    line = records[-1][0]
    raw = _cells(text, _line_offset(text, line), delimiter)
    col = next((i for i, (_, _, unclosed) in enumerate(raw) if unclosed), None)
    if col is None:
        return None
    a, b, _ = raw[col]
    lines = len(text[a:b].splitlines())
    header = records[0][2] if len(records) > 1 else None
    swallowed = (
        f", so the rest of the file ({lines:,} lines) would be read as this one cell"
        if lines > 1
        else ""
    )
    return DataFileError(
        f"{_where(path, len(records) - 1, line, header, col)}: a double quote opens a cell "
        f"and is never closed{swallowed}; close it (a quote inside a quoted cell is "
        'written twice: "")'
    )


def _other_delimiter(text: str, delimiter: str) -> tuple[str, int] | None:
    """Another delimiter at which every row has the header's cells (two or more), and
    more of them than at ``delimiter``: the widest such, with its number of columns."""
    best: tuple[str, int] | None = None
    for d in DELIMITER_NAMES:
        if d == delimiter:
            continue
        try:
            records = _records(text, d)
        except _Unreadable:
            continue
        if not records:
            continue
        width = len(records[0][2])
        if width < 2 or any(len(cells) != width for _, _, cells in records[1:]):
            continue
        if best is None or width > best[1]:
            best = (d, width)
    return best


def _wrong_delimiter(path: Path, text: str, delimiter: str, why: str, width: int):
    other = _other_delimiter(text, delimiter)
    if other is None or other[1] <= width:
        return None
    d, cols = other
    name = DELIMITER_NAMES[d]
    return DataFileError(
        f"{path}: the file looks {name}-separated (split at {_shown(d)}, every row has the "
        f"header's {cols} cells) but is read as {_separated(delimiter)}, {why}. bayesresp "
        f"does not guess: pass --delimiter {name} (in Python, read it with "
        f"bayesresp.validate(path, delimiter='{name}') and fit the frame), give the "
        f"codebook a dialect, or save the file {_separated(delimiter)}"
    )


def _read_csv(path: Path, delimiter: str, why: str) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError(
            f"{path}: not UTF-8 text (byte {exc.start} cannot be decoded); "
            "save the file as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise DataFileError(f"{path}: holds binary data, not CSV text")
    try:
        records = _records(text, delimiter)
    except _Unreadable as exc:
        header = None
        if exc.record > 0:
            header = _records(text[: _line_offset(text, exc.line)], delimiter)[0][2]
        raise _too_long(path, text, delimiter, exc, header) from None
    # A trailing newline gives no record; blank lines are not data either.
    if not records:
        return pd.DataFrame()
    unclosed = _unclosed_quote(path, text, delimiter, records)
    if unclosed is not None:
        raise unclosed
    header, body = records[0][2], [cells for _, _, cells in records[1:]]
    width = len(header)
    ragged = next((i for i, r in enumerate(body, start=1) if len(r) != width), None)
    if ragged is not None or width == 1:
        wrong = _wrong_delimiter(path, text, delimiter, why, width)
        if wrong is not None:
            raise wrong
    if ragged is not None:
        first, last, _ = records[ragged]
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        hint = (
            "; one of its cells runs over several lines: is a double quote that opens it "
            "not closed where it should be?"
            if first != last
            else ""
        )
        raise DataFileError(
            f"{path}: data row {ragged} ({lines}) has {len(body[ragged - 1])} cells but the "
            f"header has {width}; the file is not rectangular{hint}"
        )
    frame = pd.DataFrame(body, columns=range(width), dtype=object)
    frame.columns = header  # keeps repeated names, which the validator reports
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as UTF-8 CSV with labels (not codes) and ``\\n`` line ends.

    The bytes are those of ``frame.to_csv(path, index=False, lineterminator="\\n")``
    with categorical columns written as their labels. Columns of text, text labels,
    whole numbers and 64-bit floats are formatted by Arrow, each distinct label or
    number once, and joined in blocks of rows (a million rows of the simulator's 22
    columns in about a second, where pandas takes ten); a frame with another type of
    column, or with one column, is written by pandas.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = _csv_columns(frame)
    if columns is None:
        out = frame.copy()
        for col in out.columns:
            if isinstance(out[col].dtype, pd.CategoricalDtype):
                out[col] = out[col].astype(object)
        out.to_csv(path, index=False, lineterminator="\n")
        return
    header = _csv_quoted(pa.array([str(c) for c in frame.columns], type=pa.string()))
    with open(path, "wb") as fh:
        fh.write(",".join(header.to_pylist()).encode("utf-8") + b"\n")
        for start in range(0, len(frame), _CSV_BLOCK):
            stop = min(start + _CSV_BLOCK, len(frame))
            fields = [column(start, stop) for column in columns]
            fields[-1] = pc.binary_join_element_wise(fields[-1], "\n", "")
            fh.write(_string_bytes(pc.binary_join_element_wise(*fields, ",")))


#: Rows :func:`write_csv` formats at a time.
_CSV_BLOCK = 1 << 17


@functools.cache
def _csv_specials() -> str:
    """The characters that make Python's csv writer (pandas' ``to_csv``) quote a field,
    as this Python's ``csv`` module decides it."""
    specials = ""
    for c in map(chr, range(128)):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerow([f"a{c}b", ""])
        if buf.getvalue().startswith('"'):
            specials += c
    return specials


def _csv_quoted(text: pa.Array) -> pa.Array:
    """Text fields as the csv writer writes them: quoted (quotes doubled) where they
    hold a delimiter, a quote or a line end."""
    import pyarrow.compute as pc

    pattern = "[" + "".join(f"\\x{ord(c):02x}" for c in _csv_specials()) + "]"
    special = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    if not pc.any(special).as_py():
        return text
    doubled = pc.replace_substring(text, '"', '""')
    return pc.if_else(special, pc.binary_join_element_wise('"', doubled, '"', ""), text)


def _csv_columns(frame: pd.DataFrame) -> list | None:
    """For each column, a function of a block of rows giving its CSV fields (an Arrow
    text array, missing values as empty fields); None when a column is of another type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.shape[1] < 2 or isinstance(frame.columns, pd.MultiIndex):
        return None
    columns = []
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        dtype = col.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if not all(isinstance(c, str) for c in dtype.categories):
                return None
            labels = _csv_quoted(pa.array(list(dtype.categories), type=pa.string()))
            codes = col.cat.codes.to_numpy()
            columns.append(_taken(labels, codes, codes < 0))
        elif isinstance(dtype, pd.StringDtype) or (
            pd.api.types.is_object_dtype(dtype)
            and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")
        ):
            if isinstance(dtype, pd.StringDtype):
                text = pa.array(col.array).cast(pa.string())
            else:
                text = pa.array(col.to_numpy(), type=pa.string(), from_pandas=True)
            if isinstance(text, pa.ChunkedArray):
                text = text.combine_chunks()
            columns.append(_sliced(pc.fill_null(_csv_quoted(text), "")))
        elif dtype == np.float64:
            # pandas writes floats as numpy's str() of each: made once per distinct number
            # (-0.0 and 0.0 apart), missing ones empty.
            values = col.to_numpy()
            codes, uniques = pd.factorize(values.view(np.int64))
            numbers = uniques.view(np.float64)
            labels = pa.array(np.where(np.isnan(numbers), "", numbers.astype(str)).tolist())
            columns.append(_taken(labels, codes, None))
        elif pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numbers = pa.array(
                col.array if isinstance(dtype, pd.api.extensions.ExtensionDtype) else col.to_numpy()
            )
            columns.append(_sliced(pc.fill_null(pc.cast(numbers, pa.string()), "")))
        else:
            return None
    return columns


def _taken(labels: pa.Array, codes: np.ndarray, missing: np.ndarray | None):
    import pyarrow as pa
    import pyarrow.compute as pc

    def block(start: int, stop: int) -> pa.Array:
        mask = None if missing is None else missing[start:stop]
        taken = labels.take(pa.array(codes[start:stop], mask=mask))
        return taken if mask is None else pc.fill_null(taken, "")

    return block


def _sliced(fields: pa.Array):
    return lambda start, stop: fields.slice(start, stop - start)


def _string_bytes(text: pa.Array) -> memoryview:
    """The characters of an Arrow text array without nulls, one after the other."""
    import pyarrow as pa

    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset :]
    return memoryview(text.buffers()[2])[offsets[0] : offsets[len(text)]]
