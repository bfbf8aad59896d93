"""write_csv: Arrow's fast path writes the bytes pandas' to_csv writes."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesresp.data import tables
from bayesresp.data.tables import write_csv

ODD = [
    "plain",
    "with,comma",
    'with "quote"',
    "line\nend",
    "cr\rhere",
    "",
    " lead",
    "tail ",
    "ünïcödé ☃",
    "tab\there",
    "nul\x00x",
    "$|[]:",
    '"',
    ",",
    "\n",
    "semi;colon",
    "1/5",
]


def _pandas_csv(frame: pd.DataFrame, path) -> bytes:
    """What write_csv always wrote: pandas' to_csv with categories as their labels."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(object)
    out.to_csv(path, index=False, lineterminator="\n")
    return path.read_bytes()


def _odd_frame(n: int = 257) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    floats = [0.1, 0.2 + 0.1, 1e-5, 1e16, 1e22, -0.0, 0.0, 3.0, np.nan, np.inf, -np.inf]
    floats += [123456789.123456789, 5e-324, 1.7976931348623157e308]
    return pd.DataFrame(
        {
            "text": rng.choice(np.array([*ODD, None, np.nan], dtype=object), n),
            "string": pd.array(rng.choice(np.array([*ODD, None], dtype=object), n), "string"),
            "str": pd.Series(rng.choice(np.array(ODD, dtype=object), n), dtype="str"),
            "labels": pd.Categorical(
                rng.choice(np.array([*ODD[:8], None], dtype=object), n), categories=ODD[:8]
            ),
            "ordered": pd.Categorical(
                rng.choice(["a", "b", "c"], n), categories=["c", "b", "a"], ordered=True
            ),
            "float": rng.choice(np.array(floats), n),
            "int": rng.integers(-(10**12), 10**12, n),
            "Int64": pd.array(rng.choice(np.array([1, -5, 2000, None], dtype=object), n), "Int64"),
            "uint64": rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2),
            'odd,"name"\n': rng.integers(0, 3, n),
        }
    )


@pytest.mark.parametrize("block", [None, 7, 1])
@pytest.mark.parametrize("cols", [None, ["labels", "float"], ["text", "string"]])
def test_fast_csv_is_pandas_csv(tmp_path, monkeypatch, block, cols):
    """Text with delimiters, quotes, line ends, NULs and unicode; missing values of every
    kind; floats pandas writes in their shortest form (1e-05, 1e+16, -0.0, inf); whole
    numbers; an odd column name; in one block of rows or in blocks of 7 or 1."""
    if block:
        monkeypatch.setattr(tables, "_CSV_BLOCK", block)
    frame = _odd_frame() if cols is None else _odd_frame()[cols]
    assert tables._csv_columns(frame) is not None  # the fast path is taken
    write_csv(frame, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == _pandas_csv(frame, tmp_path / "pd.csv")


@pytest.mark.parametrize(
    "frame",
    [
        _odd_frame().iloc[:0],  # a header only
        pd.DataFrame({"one": ["", "a"]}),  # one column: pandas quotes an empty field
        pd.DataFrame({"flag": [True, False], "x": [1.5, 2.0]}),  # booleans: pandas
        pd.DataFrame({"f32": np.array([0.1, 2.5], dtype=np.float32), "x": ["a", "b"]}),
        pd.DataFrame({"mixed": [1, "a"], "x": ["a", "b"]}),
        pd.DataFrame({"cat": pd.Categorical([1, 2]), "x": ["a", "b"]}),
    ],
)
def test_other_frames_are_written_as_pandas_writes_them(tmp_path, frame):
    write_csv(frame, tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes() == _pandas_csv(frame, tmp_path / "pd.csv")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8)), st.floats()),
        max_size=12,
    )
)
def test_any_text_and_numbers_are_written_as_pandas_writes_them(tmp_path_factory, rows):
    frame = pd.DataFrame(rows, columns=["a", "b", "c"]).astype(
        {"a": object, "b": object, "c": float}
    )
    path = tmp_path_factory.mktemp("csv")
    assert tables._csv_columns(frame) is not None
    write_csv(frame, path / "fast.csv")
    assert (path / "fast.csv").read_bytes() == _pandas_csv(frame, path / "pd.csv")
