"""Describe a validated coded data set: how responses spread over the spectrum and groups."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from bayesresp.data.codebook import Codebook


@dataclass
class DataSummary:
    """Counts a researcher checks before fitting.

    Attributes
    ----------
    spectrum : DataFrame
        Rows and share of all rows per response level, in spectrum order, over the rows
        coded at one level (a range whose ends are equal counts at that level).
    missions : DataFrame
        Per mission: rows, departments, officials, incidents and the mean position (of
        the rows coded at one level).
    departments : DataFrame
        Rows per department within mission, with counts per response level (and, when
        some rows are ranges, the number of those in a column ``ranges``).
    ranges : DataFrame
        The ambiguous codes: one row per range of levels given (low end below the high
        end), indexed ``low..high``, with columns ``low``, ``high``, ``rows`` and
        ``share`` (of all rows), most frequent first; empty when no row is a range. A
        range is never counted at any one level.
    """

    n_rows: int
    spectrum: pd.DataFrame
    missions: pd.DataFrame
    departments: pd.DataFrame
    synthetic: bool
    ranges: pd.DataFrame = field(default_factory=lambda: _ranges_table([]))

    @property
    def n_ranges(self) -> int:
        """How many rows give a range of levels (low end below the high end)."""
        return int(self.ranges["rows"].sum())

    def ranges_line(self) -> str:
        """One line on the ranges: ``ranges: 41 rows (quiet_diplomacy..private_condemnation:
        30, silence..mild_concern: 11)``; empty when no row is a range."""
        if self.ranges.empty:
            return ""
        n = self.n_ranges
        each = ", ".join(f"{k}: {int(v)}" for k, v in self.ranges["rows"].items())
        return f"ranges: {n} row{'s' * (n != 1)} ({each})"

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        return self.text()

    def text(self, groups: bool = True) -> str:
        """The summary as text: the spectrum, the missions and (with ``groups=True``) the
        row counts of every group, one line each.

        Examples
        --------
        >>> import bayesresp
        >>> short = bayesresp.describe(bayesresp.load_example()).text(groups=False)
        >>> "By mission:" in short and "By group" not in short
        True
        """
        head = f"{self.n_rows} responses"
        if self.synthetic:
            head += " (SYNTHETIC: drawn by bayesresp.simulate, not real data)"
        title = "Responses by level of the spectrum (conciliatory -> confrontational)"
        parts = [head, ""]
        if self.ranges.empty:
            parts += [f"{title}:", self.spectrum.to_string()]
        else:
            n_exact = self.n_rows - self.n_ranges
            parts += [
                f"{title}, the {n_exact} rows coded at one level:",
                self.spectrum.to_string(),
                self.ranges_line() + " (coded as a range of levels, counted at none)",
            ]
        parts += [
            "",
            "By mission:",
            self.missions.to_string(),
        ]
        if groups:
            parts += [
                "",
                f"By group ({len(self.departments)} groups):",
                self.departments.to_string(),
            ]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        note = " <b>(synthetic)</b>" if self.synthetic else ""
        ranges = ""
        if not self.ranges.empty:
            ranges = f"<p>{html.escape(self.ranges_line())} (coded as a range, counted at none)</p>"
        return (
            f"<p>{self.n_rows} responses{note}</p><h4>Spectrum</h4>{self.spectrum.to_html()}"
            f"{ranges}<h4>Missions</h4>{self.missions.to_html()}"
            f"<h4>Departments</h4>{self.departments.to_html()}"
        )


def describe(data: pd.DataFrame, codebook: Codebook | None = None) -> DataSummary:
    """Summarise a validated data set (as :func:`bayesresp.validate` returns it).

    Examples
    --------
    >>> import bayesresp
    >>> s = bayesresp.describe(bayesresp.load_example())
    >>> int(s.spectrum["rows"].sum())
    2000
    """
    cb = Codebook.coerce(codebook)
    y, low, high = _outcome(data, cb)
    both = low.notna() & high.notna()
    spread = both & (low.astype(object) != high.astype(object))
    # A range with equal ends is one level; a range proper is counted at no level.
    exact = y.where(y.notna(), low.where(both & ~spread))
    counts = exact.value_counts(sort=False).reindex(list(cb.spectrum), fill_value=0)
    spectrum = pd.DataFrame({"rows": counts, "share": (counts / len(y)).round(3)})
    spectrum.index.name = "level"
    ranges = _ranges_table(list(zip(low[spread], high[spread], strict=True)), cb, len(y))
    position = exact.cat.codes.where(exact.notna())

    groups = [f.name for f in cb.groups if f.name in data]
    top = "mission" if "mission" in data else (groups[0] if groups else None)
    missions = pd.DataFrame()
    if top is not None:
        by_top = data.groupby(top, observed=True, sort=True)
        missions = pd.DataFrame({"rows": by_top.size()})
        for col in groups:
            if col != top:
                missions[f"{col} (distinct)"] = by_top[col].nunique()
        missions["mean_level"] = position.groupby(data[top], observed=True).mean().round(2)
    nested = [f.name for f in cb.groups if f.nested_in and f.nested_in in data and f.name in data]
    keys = (
        [data[cb.fields[nested[0]].nested_in], data[nested[0]]]
        if nested
        else ([data[top]] if top is not None else None)
    )
    departments = pd.DataFrame()
    if keys is not None:
        sizes = pd.crosstab(keys, pd.Series("rows", index=data.index))
        levels = [lv for lv in cb.spectrum if lv in set(exact.dropna())]
        departments = (
            pd.crosstab(keys, exact.astype(object))
            .reindex(index=sizes.index, columns=levels)
            .fillna(0)
            .astype(int)
        )
        if spread.any():
            departments["ranges"] = (
                pd.crosstab(keys, spread).reindex(index=sizes.index).get(True, 0).astype(int)
            )
        departments.insert(0, "rows", sizes["rows"])
        departments.columns.name = None
    synthetic = "source" in data and data["source"].astype(str).str.startswith("synthetic").any()
    return DataSummary(len(data), spectrum, missions, departments, bool(synthetic), ranges)


def _outcome(data: pd.DataFrame, cb: Codebook) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The outcome and the low and high ends of its ranges, as ordered categoricals of
    the spectrum (ends missing where the data have no range columns)."""
    dtype = pd.CategoricalDtype(list(cb.spectrum), ordered=True)
    y = data[cb.outcome.name].astype(object).astype(dtype)
    ends = []
    for name in cb.range_columns or (None, None):
        col = data[name] if name is not None and name in data else None
        if col is None:
            ends.append(
                pd.Series(pd.Categorical([None] * len(data), dtype=dtype), index=data.index)
            )
        else:
            ends.append(col.astype(object).astype(dtype))
    return y, ends[0], ends[1]


def _ranges_table(
    pairs: list[tuple[str, str]], cb: Codebook | None = None, n_rows: int = 0
) -> pd.DataFrame:
    """Rows per range ``low..high``: most frequent first, then in spectrum order."""
    columns = ["low", "high", "rows", "share"]
    if not pairs:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="range")).astype(
            {"rows": int, "share": float}
        )
    assert cb is not None
    rank = {lv: i for i, lv in enumerate(cb.spectrum)}
    counts = pd.Series(pairs).value_counts(sort=False)
    order = sorted(counts.index, key=lambda p: (-counts[p], rank[p[0]], rank[p[1]]))
    out = pd.DataFrame(
        {
            "low": [p[0] for p in order],
            "high": [p[1] for p in order],
            "rows": [int(counts[p]) for p in order],
        },
        index=pd.Index([f"{a}..{b}" for a, b in order], name="range"),
    )
    out["share"] = (out["rows"] / n_rows).round(3)
    return out
