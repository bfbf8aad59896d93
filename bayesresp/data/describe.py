"""Describe a validated coded data set: how responses spread over the spectrum and groups."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bayesresp.data.codebook import Codebook


@dataclass
class DataSummary:
    """Counts a researcher checks before fitting.

    Attributes
    ----------
    spectrum : DataFrame
        Rows and share of rows per response level, in spectrum order.
    missions : DataFrame
        Per mission: rows, departments, officials, incidents and the mean position.
    departments : DataFrame
        Rows per department within mission, with counts per response level.
    """

    n_rows: int
    spectrum: pd.DataFrame
    missions: pd.DataFrame
    departments: pd.DataFrame
    synthetic: bool

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
        parts = [
            head,
            "",
            "Responses by level of the spectrum (conciliatory -> confrontational):",
            self.spectrum.to_string(),
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
        return (
            f"<p>{self.n_rows} responses{note}</p><h4>Spectrum</h4>{self.spectrum.to_html()}"
            f"<h4>Missions</h4>{self.missions.to_html()}"
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
    y = data[cb.outcome.name]
    counts = y.value_counts(sort=False).reindex(list(cb.spectrum), fill_value=0)
    spectrum = pd.DataFrame({"rows": counts, "share": (counts / len(y)).round(3)})
    spectrum.index.name = "level"
    position = y.cat.codes if isinstance(y.dtype, pd.CategoricalDtype) else None

    groups = [f.name for f in cb.groups if f.name in data]
    top = "mission" if "mission" in data else (groups[0] if groups else None)
    missions = pd.DataFrame()
    if top is not None:
        by_top = data.groupby(top, observed=True, sort=True)
        missions = pd.DataFrame({"rows": by_top.size()})
        for col in groups:
            if col != top:
                missions[f"{col} (distinct)"] = by_top[col].nunique()
        if position is not None:
            missions["mean_level"] = position.groupby(data[top]).mean().round(2)
    nested = [f.name for f in cb.groups if f.nested_in and f.nested_in in data and f.name in data]
    keys = (
        [data[cb.fields[nested[0]].nested_in], data[nested[0]]]
        if nested
        else ([data[top]] if top is not None else None)
    )
    departments = pd.DataFrame()
    if keys is not None:
        departments = pd.crosstab(keys, y.astype(object)).reindex(
            columns=[lv for lv in cb.spectrum if lv in set(y.dropna())]
        )
        departments.insert(0, "rows", departments.sum(axis=1))
        departments.columns.name = None
    synthetic = "source" in data and data["source"].astype(str).str.startswith("synthetic").any()
    return DataSummary(len(data), spectrum, missions, departments, bool(synthetic))
