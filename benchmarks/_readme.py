"""Writing a benchmark's table into benchmarks/README.md, between its two markers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_between(path: Path, begin: str, end: str, block: str) -> None:
    """Replace what lies between ``begin`` and ``end`` in ``path`` with ``block`` (both
    markers added at the end when the file does not hold them yet)."""
    text = path.read_text(encoding="utf-8")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = f"{head}{begin}\n{block}\n{end}{tail}"
    else:
        text = text.rstrip("\n") + f"\n\n{begin}\n{block}\n{end}\n"
    path.write_text(text, encoding="utf-8")


def publish(table: str, begin: str, end: str, write: bool) -> None:
    """Print a benchmark's table, and with ``write`` put it between its markers in
    benchmarks/README.md."""
    print(table)
    if write:
        write_between(Path(__file__).resolve().parent / "README.md", begin, end, table)


def markdown(table: pd.DataFrame) -> str:
    """A table in Markdown (a parameter's name may hold "|": escaped)."""
    cells = [[str(v).replace("|", "\\|") for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
