"""The embedded example: a synthetic data set with its true parameters.

``bayesresp/data/example.csv`` was drawn by ``make example`` (``bayesresp simulate
--missions 12 --rows 2000 --seed 20231``); a test checks that the command still gives
the same bytes. It is synthetic: its ``source`` column says so in every row.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from bayesresp.data.tables import read_table
from bayesresp.data.validation import validate

EXAMPLE_SEED = 20231
EXAMPLE_MISSIONS = 12
EXAMPLE_ROWS = 2000


def example_path() -> Path:
    """Path of the embedded example CSV."""
    return Path(str(resources.files("bayesresp") / "data" / "example.csv"))


def example_truth_path() -> Path:
    """Path of the embedded example's truth JSON."""
    return Path(str(resources.files("bayesresp") / "data" / "example_truth.json"))


def load_example(typed: bool = True) -> pd.DataFrame:
    """The embedded synthetic example data set (about 2,000 responses, 12 missions).

    Parameters
    ----------
    typed : bool
        Validate against the default codebook and return typed columns (the default);
        ``False`` returns the cells as text, exactly as stored.

    Examples
    --------
    >>> import bayesresp
    >>> df = bayesresp.load_example()
    >>> len(df), df["mission"].nunique()
    (2000, 12)
    """
    raw = read_table(example_path())
    return validate(raw) if typed else raw


def load_example_truth() -> dict[str, Any]:
    """The true parameters the example was drawn from (see :func:`bayesresp.simulate`).

    Examples
    --------
    >>> truth = bayesresp.load_example_truth()
    >>> truth["synthetic"]
    True
    """
    return json.loads(example_truth_path().read_text(encoding="utf-8"))
