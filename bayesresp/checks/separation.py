"""Separation: covariate levels whose rows the outcome splits off from all other rows.

In a cumulative model, a 0/1 column ``x`` separates the data when the responses of its rows
and of the other rows overlap in at most one level of the spectrum: every row with ``x = 1``
sits at or above the highest level any other row reaches (or at or below the lowest). Then
moving the column's coefficient to infinity, with the cutpoints between the two sets of
responses, raises the likelihood without bound: the maximum-likelihood estimate is
infinite (*complete* separation when the two sets share no level, *quasi-complete* when
they share one). A Bayesian fit still returns a finite posterior, but it is the prior
pushed to one side: what it says about the size of that effect comes from the prior, not
the data.

The check here is exact for one coefficient at a time. It covers every observed level of
each factor in the model (the reference level too: when its rows are split off, every
contrast with it is unbounded), every threshold of a monotonic effect (the levels at or
above one level against those below: the only splits ``mo()`` can push to infinity) and
every interaction cell with a column.
Separation by a combination of columns is not detected here; the posterior of a
coefficient that sits far out in its prior's tail with little contraction is the sign of
it, and :func:`bayesresp.checks.sensitivity.prior_sensitivity` measures it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayesresp.model.design import DesignInfo, outcome_codes


@dataclass(frozen=True)
class Separation:
    """One covariate level (or interaction cell) the outcome splits off from the rest."""

    variable: str  # 'background', or 'duty_location:interlocutor' for a cell
    level: str  # 'military_security', or 'field_office:host_official'
    rows: int  # rows with this level
    direction: str  # 'high': its rows sit at or above every other row; 'low': at or below
    bound: str  # the outcome level the two sets of rows share or meet at
    complete: bool  # the two sets share no outcome level
    coefficient: str | None  # the design column of this level (None: the reference level)
    end: str = ""  # the spectrum's end on this side ('enforcement' when high)

    def __str__(self) -> str:
        high = self.direction == "high"
        kind = "complete" if self.complete else "quasi-complete"
        ref = "" if self.coefficient else " (the reference level)"
        rows = f"{self.rows} row{'s' * (self.rows != 1)}"
        if self.complete:
            how = (
                f"all {'above' if high else 'below'} '{self.bound}', the "
                f"{'highest' if high else 'lowest'} response of every other row"
            )
        elif self.bound == self.end:
            how = f"all at '{self.bound}', the {'top' if high else 'bottom'} of the spectrum"
        else:
            how = (
                f"all at or {'above' if high else 'below'} '{self.bound}', the "
                f"{'highest' if high else 'lowest'} response of every other row"
            )
        return f"{self.variable} = '{self.level}'{ref}: {kind} separation, {rows} {how}"


def _codes(data: pd.DataFrame, info: DesignInfo) -> tuple[np.ndarray, np.ndarray]:
    """Each row's lowest and highest level: the same for a row coded at one level, the
    ends of its range for an ambiguous code."""
    low, high = outcome_codes(info, data)
    return low, (low if high is None else high)


def _split(
    mask: np.ndarray, low: np.ndarray, high: np.ndarray | None = None
) -> tuple[str, int, bool] | None:
    """(direction, index of the shared or meeting level, complete) when ``mask`` separates.

    ``low`` and ``high`` hold each row's lowest and highest level (``high`` None: every
    row at one level). A range may sit anywhere within its ends, so the rows split off
    upwards when the lowest top end inside the mask reaches the highest bottom end
    outside it (each range placed where it best separates), and downwards likewise."""
    if mask.all() or not mask.any():
        return None
    high = low if high is None else high
    if high[mask].min() >= low[~mask].max():
        return "high", int(low[~mask].max()), bool(high[mask].min() > low[~mask].max())
    if low[mask].max() <= high[~mask].min():
        return "low", int(high[~mask].min()), bool(low[mask].max() < high[~mask].min())
    return None


def find_separation(data: pd.DataFrame, info: DesignInfo) -> list[Separation]:
    """Every level and interaction cell of the model that the outcome separates.

    ``data`` are the fitted rows (``fit.data``), ``info`` their design recipe. For a
    factor with two levels present the pair is reported once, by its non-reference level.

    Examples
    --------
    >>> from bayesresp.checks.separation import find_separation
    >>> [str(s) for s in find_separation(fit.data, fit.info)]  # doctest: +SKIP
    """
    y = _codes(data, info)
    column_of = {(c.parts[0][0], c.parts[0][1]): c.name for c in info.columns if len(c.parts) == 1}
    found: list[Separation] = []
    seen: set[str] = set()
    for coding in info.codings.values():
        if coding.kind not in ("factor", "monotonic") or coding.name in seen:
            continue
        seen.add(coding.name)
        values = data[coding.name].astype(str).to_numpy()
        hits = []
        for level, mask, column in _splits_of(coding, values, column_of):
            split = _split(mask, *y)
            if split is not None:
                direction, bound, complete = split
                hits.append(
                    Separation(
                        coding.name,
                        level,
                        int(mask.sum()),
                        direction,
                        info.spectrum[bound],
                        complete,
                        column,
                        _end(info, direction),
                    )
                )
        if (
            coding.kind == "factor" and len(coding.observed) == 2 and len(hits) == 2
        ):  # one split, seen from both sides
            hits = [h for h in hits if h.level != coding.reference][:1]
        found += hits
    for col in info.columns:
        if len(col.parts) < 2 or any(level is None for _, level in col.parts):
            continue
        mask = np.ones(len(data), dtype=bool)
        for var, level in col.parts:
            mask &= data[var].astype(str).to_numpy() == level
        split = _split(mask, *y)
        if split is not None:
            direction, bound, complete = split
            found.append(
                Separation(
                    ":".join(v for v, _ in col.parts),
                    ":".join(str(lv) for _, lv in col.parts),
                    int(mask.sum()),
                    direction,
                    info.spectrum[bound],
                    complete,
                    col.name,
                    _end(info, direction),
                )
            )
    return found


def _splits_of(coding, values: np.ndarray, column_of: dict):
    """(label, rows, coefficient) of each split one coefficient can push to infinity.

    A factor: each observed level against all other rows (its column, or None for the
    reference level). A monotonic effect ``b * (sum of the first k steps)`` can only split
    the ordered levels at a threshold (all weight on one step, ``b`` unbounded): the rows
    at or above each observed level against the rows below it, never an interior level
    alone.
    """
    if coding.kind == "factor":
        for level in coding.observed:
            column = column_of.get((coding.name, level))
            yield level, values == level, column if level != coding.reference else None
        return
    order = [lv for lv in coding.levels if lv in set(coding.observed)]
    rank = np.array([order.index(v) if v in order else -1 for v in values])
    for k, level in enumerate(order[1:], start=1):
        yield f"{level} or higher", rank >= k, f"mo({coding.name})"


def _end(info: DesignInfo, direction: str) -> str:
    return info.spectrum[-1] if direction == "high" else info.spectrum[0]
