"""Reading coded data files (CSV, Parquet) exactly as written.

CSV cells come back as text, untouched: no type guessing, no missing-value guessing,
no renaming of repeated column names. Deciding what a cell means is the validator's
job, against the codebook, so that nothing is coerced before it has been checked.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from bayesresp.errors import DataFileError

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
    """Write ``frame`` as UTF-8 CSV with labels (not codes) and ``\\n`` line ends."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    out.to_csv(path, index=False, lineterminator="\n")
