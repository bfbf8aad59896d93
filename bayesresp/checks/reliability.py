"""Coding reliability: how far coders who code the same responses agree (Krippendorff's alpha).

Data come in long form, one row per (response, coder), as :func:`bayesresp.validate` returns
them when several coders code each response. Alpha is computed from the coincidence matrix
(Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"): only pairable values
count, so a response with fewer than two non-missing codes is left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayesresp.errors import ReliabilityError

Level = Literal["nominal", "ordinal", "interval"]
_LEVELS = ("nominal", "ordinal", "interval")


def _plain(x: Any) -> Any:
    """A JSON-ready scalar: numpy to Python, NaN to None."""
    x = x.item() if isinstance(x, np.generic) else x
    return None if isinstance(x, float) and math.isnan(x) else x


def _short(v: float) -> str:
    """Coincidences are fractions (weights 1 / (m_u - 1)): two decimals, no trailing zeros."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _order(col: pd.Series, levels: Sequence[Any] | None, need_order: bool) -> list[Any]:
    """The categories in order: `levels`, an ordered Categorical's, or sorted numbers."""
    if levels is not None:
        cats = list(levels)
        if len(set(cats)) != len(cats):
            raise ReliabilityError(f"levels repeat a value: {cats}")
        return cats
    if isinstance(col.dtype, pd.CategoricalDtype):
        if need_order and not col.cat.ordered:
            raise ReliabilityError(
                f"column {col.name!r} is an unordered Categorical, so its order is unknown: "
                "make it ordered or pass levels=[...] in order"
            )
        return list(col.cat.categories)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = sorted(col.dropna().unique().tolist())
        # Integer codes read with missing values arrive as floats: label them as integers.
        return [int(v) for v in values] if all(float(v).is_integer() for v in values) else values
    if need_order:
        raise ReliabilityError(
            f"column {col.name!r} holds labels without an order: pass levels=[...] in order "
            "or make it an ordered Categorical"
        )
    return sorted(col.dropna().unique().tolist(), key=str)


def _prepare(
    data: pd.DataFrame,
    unit: str,
    coder: str,
    value: str,
    levels: Sequence[Any] | None,
    need_order: bool,
) -> tuple[np.ndarray, list[Any], np.ndarray, int]:
    """Check the data; return per-unit category counts (pairable units only), categories,
    their numeric positions for the interval metric, and the number of coders."""
    missing = [c for c in (unit, coder, value) if c not in data.columns]
    if missing:
        raise ReliabilityError(
            f"column {missing[0]!r} not found; the data have columns {list(data.columns)}"
        )
    for col in (unit, coder):
        if data[col].isna().any():
            rows = list(data.index[data[col].isna()][:5])
            raise ReliabilityError(f"column {col!r} has missing values (rows {rows})")
    # A unit coded twice by one coder would count that coder's view twice in the pairs.
    dup = data.duplicated([unit, coder], keep=False)
    if dup.any():
        u, c = (_plain(x) for x in data.loc[dup, [unit, coder]].iloc[0])
        raise ReliabilityError(
            f"response {u!r} is coded more than once by coder {c!r}; each (response, coder) "
            "pair must appear once"
        )
    cats = _order(data[value], levels, need_order)
    unknown = data[value].notna() & ~data[value].isin(cats)
    if unknown.any():
        bad = sorted({str(v) for v in data[value][unknown]})
        raise ReliabilityError(f"column {value!r} has values not among the levels {cats}: {bad}")
    codes = pd.Categorical(data[value], categories=cats).codes
    coded = codes >= 0
    uidx, _ = pd.factorize(data[unit].to_numpy()[coded])
    m = np.bincount(uidx)
    # Pairable values only: a unit with a single value has nobody to agree with.
    keep = m[uidx] >= 2
    uidx, _ = pd.factorize(uidx[keep])
    counts = np.zeros((uidx.max() + 1 if uidx.size else 0, len(cats)))
    np.add.at(counts, (uidx, codes[coded][keep]), 1.0)
    numeric = all(isinstance(c, Real) and not isinstance(c, bool) for c in cats)
    positions = np.asarray(cats, float) if numeric else np.arange(len(cats), dtype=float)
    n_coders = len(pd.unique(data[coder].to_numpy()[coded][keep]))
    return counts, cats, positions, n_coders


def _unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """Each unit's coincidence matrix: ordered pairs of its values, weighted 1 / (m_u - 1)."""
    m = counts.sum(1)
    pairs = counts[:, :, None] * counts[:, None, :]
    pairs[:, np.arange(counts.shape[1]), np.arange(counts.shape[1])] -= counts  # no self-pairs
    return pairs / (m - 1)[:, None, None]


def _delta(n_c: np.ndarray, positions: np.ndarray, level: str) -> np.ndarray:
    """Squared distance between categories; batched over leading axes of n_c."""
    if level == "nominal":
        return 1.0 - np.eye(n_c.shape[-1])
    # Krippendorff's ordinal metric (sum_{g=c..k} n_g - (n_c + n_k)/2)^2 equals the squared
    # difference of mid-cumulative frequencies S_c - n_c/2: vectorised over bootstrap draws,
    # and an empty category (n_g = 0) adds nothing, as the published metric requires.
    x = positions if level == "interval" else np.cumsum(n_c, axis=-1) - n_c / 2
    d = x[..., :, None] - x[..., None, :]
    return d * d


def _alpha(o: np.ndarray, positions: np.ndarray, level: str) -> np.ndarray:
    """Alpha from coincidence matrices (..., K, K); NaN where expected disagreement is 0."""
    n_c = o.sum(-1)
    n = n_c.sum(-1)
    delta = _delta(n_c, positions, level)
    observed = (o * delta).sum((-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * delta).sum((-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 1.0 - (n - 1) * observed / expected
    return np.where(expected > 0, alpha, np.nan)


def _checked_alpha(
    counts: np.ndarray, positions: np.ndarray, level: str
) -> tuple[float, np.ndarray]:
    if counts.shape[0] == 0:
        raise ReliabilityError(
            "no pairable unit: no response has non-missing codes from at least 2 coders"
        )
    o = _unit_coincidences(counts).sum(0)
    alpha = float(_alpha(o, positions, level))
    if math.isnan(alpha):
        raise ReliabilityError(
            "alpha is undefined: all pairable values are the same category, so the expected "
            "disagreement is zero"
        )
    return alpha, o


def krippendorff_alpha(
    data: pd.DataFrame,
    *,
    unit: str = "response_id",
    coder: str = "coder_id",
    value: str = "response",
    level: Level = "ordinal",
    levels: Sequence[Any] | None = None,
) -> float:
    """Krippendorff's alpha for long data, one row per (unit, coder).

    Parameters
    ----------
    data : DataFrame
        Columns `unit`, `coder` and `value`; missing values (NaN) are allowed.
    level : {"nominal", "ordinal", "interval"}
        Metric. "ordinal" uses Krippendorff's rank metric on the coincidence marginals;
        "interval" uses category values when they are numbers, else positions 0..K-1.
    levels : sequence, optional
        Categories in order; by default an ordered Categorical's categories, or the
        sorted values of a numeric column.

    Returns
    -------
    float
        Alpha: 1 is perfect agreement, 0 agreement at chance level.

    Raises
    ------
    ReliabilityError
        Missing columns, duplicate (unit, coder) rows, no pairable unit, or alpha undefined
        (all pairable values identical); it is also a ValueError.

    Examples
    --------
    >>> d = pd.DataFrame({"response_id": [1, 1, 2, 2], "coder_id": ["a", "b", "a", "b"],
    ...                   "response": [0, 0, 1, 1]})
    >>> krippendorff_alpha(d)
    1.0
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, not {level!r}")
    counts, _, positions, _ = _prepare(data, unit, coder, value, levels, level != "nominal")
    return _checked_alpha(counts, positions, level)[0]


@dataclass
class ReliabilityReport:
    """Ordinal alpha with a bootstrap interval and where coders disagree.

    Attributes
    ----------
    alpha : float
        Krippendorff's alpha, ordinal metric.
    ci_low, ci_high : float
        Percentile bootstrap interval over resampled responses (NaN when ``n_boot == 0``).
    ci : float
        Its level, e.g. 0.95.
    n_boot, n_boot_undefined : int
        Resamples drawn, and how many of them were dropped because alpha was undefined
        there (every resampled value the same category).
    n_units, n_coders, n_pairable_values : int
        Pairable responses, coders with a pairable value, and pairable values.
    disagreement : DataFrame
        Per category: ``n_values`` (pairable values), ``share_disagree`` (1 - o_cc / n_c:
        share of its coincidences with another category) and ``mean_distance`` (mean
        absolute distance in levels to the paired value).
    confusion : DataFrame
        The coincidence matrix, rows and columns labelled by category.
    """

    alpha: float
    ci_low: float
    ci_high: float
    ci: float
    n_boot: int
    n_boot_undefined: int
    n_units: int
    n_coders: int
    n_pairable_values: int
    disagreement: pd.DataFrame
    confusion: pd.DataFrame
    n_ranges_left_out: int = 0  # codes given as a range of levels (ambiguous codes)

    def _headline(self) -> str:
        head = f"Krippendorff's alpha (ordinal) = {self.alpha:.3f}"
        if self.n_boot:
            dropped = (
                f", {self.n_boot_undefined} undefined dropped" if self.n_boot_undefined else ""
            )
            head += f", {self.ci:.0%} bootstrap interval [{self.ci_low:.3f}, {self.ci_high:.3f}]"
            head += f" ({self.n_boot} resamples of responses{dropped})"
        counts = f"{self.n_units} responses coded by 2+ coders, {self.n_coders} coders"
        left = (
            f"\n{self.n_ranges_left_out} code(s) given as a range of levels (ambiguous) "
            "left out: alpha compares single levels"
            if self.n_ranges_left_out
            else ""
        )
        return f"{head}\n{counts}, {self.n_pairable_values} pairable values{left}"

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        dis = self.disagreement.to_string(float_format=lambda v: f"{v:.3f}")
        conf = self.confusion.to_string(float_format=_short)
        return (
            f"{self._headline()}\n\nDisagreement by category:\n{dis}\n\n"
            f"Coincidence matrix (row value paired with column value):\n{conf}"
        )

    def _repr_html_(self) -> str:
        head = self._headline().replace("\n", "<br>")
        return (
            f"<p>{head}</p><h4>Disagreement by category</h4>"
            f"{self.disagreement.to_html(float_format=lambda v: f'{v:.3f}')}"
            f"<h4>Coincidence matrix</h4>{self.confusion.to_html(float_format=_short)}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain Python values (NaN as None), ready for :func:`json.dumps`."""
        cats = [_plain(c) if isinstance(c, Real) else str(c) for c in self.confusion.index]
        out = {k: _plain(getattr(self, k)) for k in ("alpha", "ci_low", "ci_high", "ci")}
        out |= {
            k: int(getattr(self, k))
            for k in (
                "n_boot",
                "n_boot_undefined",
                "n_units",
                "n_coders",
                "n_pairable_values",
                "n_ranges_left_out",
            )
        }
        records = self.disagreement.to_dict("records")
        out["disagreement"] = [
            {"category": c} | {k: _plain(v) for k, v in r.items()}
            for c, r in zip(cats, records, strict=True)
        ]
        out["confusion"] = {"categories": cats, "matrix": self.confusion.to_numpy().tolist()}
        json.dumps(out, allow_nan=False)  # fail here, not in the caller, if anything slipped
        return out


def reliability(
    data: pd.DataFrame,
    *,
    unit: str = "response_id",
    coder: str = "coder_id",
    value: str = "response",
    levels: Sequence[Any] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | np.random.Generator | None = None,
    ranges: tuple[str, str] | None = None,
) -> ReliabilityReport:
    """Ordinal Krippendorff's alpha, a bootstrap interval and a per-category breakdown.

    Parameters
    ----------
    data, unit, coder, value, levels
        As for :func:`krippendorff_alpha`; the order of the levels is required.
    n_boot : int
        Bootstrap resamples of responses (units) with replacement; 0 skips the interval.
        Resamples in which alpha is undefined (one category only) are dropped and counted.
    ci : float
        Level of the percentile interval.
    seed : int or numpy Generator, optional
        Makes the interval reproducible.
    ranges : (str, str), optional
        The outcome's range columns (the codebook's ``rangeColumns``); by default
        ``value + "_low"`` and ``value + "_high"`` when the data have them. A code given
        as a range of levels (an ambiguous code: ``value`` empty, both ends set) has no
        single level to compare, so alpha leaves it out, and the report counts it
        (``n_ranges_left_out``) and says so.

    Examples
    --------
    >>> d = pd.DataFrame({"response_id": [1, 1, 2, 2, 3, 3], "coder_id": list("ababab"),
    ...                   "response": [0, 0, 1, 2, 2, 2]})
    >>> rep = reliability(d, n_boot=200, seed=1)
    >>> round(rep.alpha, 3), rep.n_units, rep.n_pairable_values
    (0.778, 3, 6)
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie strictly between 0 and 1, not {ci}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be 0 or more, not {n_boot}")
    counts, cats, positions, n_coders = _prepare(data, unit, coder, value, levels, True)
    low, high = ranges or (f"{value}_low", f"{value}_high")
    n_ranges = 0
    if value in data and low in data and high in data:
        n_ranges = int((data[value].isna() & data[low].notna() & data[high].notna()).sum())
    alpha, o = _checked_alpha(counts, positions, "ordinal")
    per_unit = _unit_coincidences(counts)
    n_units = per_unit.shape[0]
    rng = np.random.default_rng(seed)
    # Resampling units = summing their coincidence matrices with multinomial weights; in
    # chunks so that the weights (draws x units) stay small for large data sets.
    boot, step = np.empty(n_boot), max(1, 1_000_000 // n_units)
    for start in range(0, n_boot, step):
        size = min(step, n_boot - start)
        weights = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=size)
        o_boot = np.tensordot(weights, per_unit, axes=1)
        boot[start : start + size] = _alpha(o_boot, positions, "ordinal")
    ok = boot[~np.isnan(boot)]
    lo, hi = np.quantile(ok, [(1 - ci) / 2, (1 + ci) / 2]) if ok.size else (np.nan, np.nan)
    n_c = counts.sum(0)
    rank = np.arange(len(cats))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 1.0 - np.diag(o) / n_c
        dist = (o * np.abs(rank[:, None] - rank[None, :])).sum(1) / n_c
    index = pd.Index(cats, name="category")
    return ReliabilityReport(
        alpha=alpha,
        ci_low=float(lo),
        ci_high=float(hi),
        ci=ci,
        n_boot=n_boot,
        n_boot_undefined=int(n_boot - ok.size),
        n_units=n_units,
        n_coders=n_coders,
        n_pairable_values=int(n_c.sum()),
        disagreement=pd.DataFrame(
            {"n_values": n_c.astype(int), "share_disagree": share, "mean_distance": dist},
            index=index,
        ),
        confusion=pd.DataFrame(o, index=index, columns=index.rename("paired with")),
        n_ranges_left_out=n_ranges,
    )
