"""Reading coded data files (CSV, Parquet) exactly as written.

CSV cells come back as text, untouched: no type guessing, no missing-value guessing,
no renaming of repeated column names. Deciding what a cell means is the validator's
job, against the codebook, so that nothing is coerced before it has been checked.

:func:`write_csv` writes a typed frame back, byte for byte as pandas' ``to_csv`` does,
formatted by Arrow so that a million rows take a second or two.
"""

from __future__ import annotations

import csv
import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesresp.errors import DataFileError

if TYPE_CHECKING:  # Arrow is imported when a file is written, not to read one
    import pyarrow as pa

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file without interpreting its cells.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` (comma-separated, UTF-8), ``.tsv`` (tab-separated) or ``.parquet``
        file.

    Returns
    -------
    pandas.DataFrame
        For CSV, every cell as a ``str`` (empty cells as ``""``); for Parquet, the
        stored values. Repeated column names are kept as they are.

    Raises
    ------
    DataFileError
        When the file is missing, unreadable, of another format, or not rectangular.

    Examples
    --------
    >>> frame = bayesresp.read_table("incidents.csv")  # doctest: +SKIP
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
        return _read_csv(path, delimiter="\t" if suffix == ".tsv" else ",")
    raise DataFileError(
        f"{path}: unknown file type '{suffix or '(none)'}'; expected .csv, .tsv or .parquet"
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataFileError(f"{path}: not a readable Parquet file ({exc})") from None


def _read_csv(path: Path, delimiter: str) -> pd.DataFrame:
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
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    # A trailing newline gives no row; blank lines are not data either.
    rows = [r for r in rows if r != []]
    if not rows:
        return pd.DataFrame()
    header, body = rows[0], rows[1:]
    width = len(header)
    for i, r in enumerate(body, start=1):
        if len(r) != width:
            raise DataFileError(
                f"{path}: data row {i} has {len(r)} cells but the "
                f"header has {width}; the file is not rectangular"
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
