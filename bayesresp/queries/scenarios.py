"""Staffing and policy scenarios: apply rules to a data set, compare predicted responses.

A rule is plain data, so scenarios can live in TOML files::

    [[rule]]                      # no one stays more than three years at a station
    column = "years_at_station"
    max = 3

    [[rule]]                      # every Human Rights section reports to OHCHR
    column = "external_link"
    set = "integrated_reporting_line"
    where = { department = "Human Rights" }

``set`` replaces values, ``max`` / ``min`` cap numbers, ``where`` restricts a rule to the
rows whose columns hold the given value (or one of a list of values).

Each rule is checked before anything is computed, and a rule that cannot be read is a
:class:`~bayesresp.errors.ScenarioError` naming the file, the rule (by number), the key,
the value and what was expected: ``column`` is a column name (text); ``set`` a level or
a number; ``max`` and ``min`` finite numbers (``max = "three"`` is an error); ``where``
a table of columns and values (``where = "Human Rights"`` is an error); an unknown key
names the closest known one. The file must be UTF-8 and valid TOML
(:func:`bayesresp.data.tomlfile.read_toml`), with ``[[rule]]`` tables (``rule = 5`` is an
error). Values the codebook refuses after the rules (a number where a level belongs)
are an error naming the rule that wrote them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.data.tomlfile import closest, read_toml, shown
from bayesresp.errors import ScenarioError
from bayesresp.inference.imputation import actual_weights, held_weights, row_probabilities
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import apply_design
from bayesresp.queries.whatif import _interval, interval_names


@dataclass(frozen=True)
class Rule:
    """Set a column to a value, or cap it, in the rows that match ``where``."""

    column: str
    set: Any = None
    max: float | None = None
    min: float | None = None
    where: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise ScenarioError(
                f"'column' must be the name of a column (text), not {shown(self.column)}"
            )
        where = f"the rule for '{self.column}'"
        actions = [a for a in (self.set, self.max, self.min) if a is not None]
        if not actions:
            raise ScenarioError(f"{where} needs 'set', 'max' or 'min'")
        if self.set is not None and (self.max is not None or self.min is not None):
            raise ScenarioError(f"{where}: use either 'set' or 'max'/'min'")
        if self.set is not None and not _is_value(self.set):
            raise ScenarioError(
                f"'set' of {where} must be a level (text) or a finite number, not {shown(self.set)}"
            )
        for key in ("max", "min"):
            value = getattr(self, key)
            if value is not None and not _is_number(value):
                raise ScenarioError(
                    f"'{key}' of {where} must be a finite number, like {key} = 3, "
                    f"not {shown(value)}"
                )
        if not isinstance(self.where, dict):
            raise ScenarioError(
                f"'where' of {where} must be a table of columns and values, like "
                f'where = {{ department = "Human Rights" }}, not {shown(self.where)}'
            )
        for col, value in self.where.items():
            values = value if isinstance(value, list) else [value]
            if not isinstance(col, str) or not values or not all(map(_is_value, values)):
                raise ScenarioError(
                    f"'where' of {where}: '{col}' must be a value (text or a finite number) "
                    f"or a list of values, not {shown(value)}"
                )

    def describe(self) -> str:
        what = (
            f"set {self.column} = {self.set}"
            if self.set is not None
            else f"cap {self.column} to "
            + " and ".join(
                f"{k} {v}"
                for k, v in (("at most", self.max), ("at least", self.min))
                if v is not None
            )
        )
        if self.where:
            what += " where " + ", ".join(f"{k} = {v}" for k, v in self.where.items())
        return what


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(value)
    )


def _is_value(value: Any) -> bool:
    """A value a rule can set or match: a level (text) or a finite number."""
    return isinstance(value, str) or _is_number(value)


_RULE_KEYS = ("column", "set", "max", "min", "where")
_RULE_EXAMPLE = '[[rule]] tables, like [[rule]] column = "years_at_station" max = 3'


def read_rules(rules: Any) -> list[Rule]:
    """Rules from a TOML file (``[[rule]]`` tables), a list of dicts or Rule objects.

    Raises :class:`~bayesresp.errors.ScenarioError` naming the file, the rule (counted
    from 1), the key and the value for a rule that cannot be read.
    """
    source = ""
    if isinstance(rules, str | Path):
        path = Path(rules)
        document = read_toml(path, "rules", ScenarioError)
        source = f"rules file {path}, "
        others = [k for k in document if k != "rule"]
        if others:
            hint = closest(others[0], ["rule"])
            raise ScenarioError(
                f"rules file {path}: unknown key '{others[0]}'"
                + (f"; did you mean '{hint}'?" if hint else "")
                + f" (a rules file holds only {_RULE_EXAMPLE})"
            )
        if "rule" not in document:
            raise ScenarioError(f"rules file {path} has no [[rule]] tables")
        rules = document["rule"]
        if not isinstance(rules, list | dict) or not rules:
            raise ScenarioError(
                f"rules file {path}: 'rule' must be {_RULE_EXAMPLE}, not {shown(rules)}"
            )
    if isinstance(rules, Rule | dict):
        rules = [rules]
    if not isinstance(rules, list | tuple):
        raise ScenarioError(
            "rules must be a TOML path, a rule dict, a list of rule dicts or Rule objects, "
            f"not {type(rules).__name__}"
        )
    out = []
    for i, r in enumerate(rules):
        where = f"{source}rule {i + 1}"
        if isinstance(r, Rule):
            out.append(r)
            continue
        if not isinstance(r, dict):
            raise ScenarioError(
                f"{where} must be a table of {', '.join(_RULE_KEYS)}, not {shown(r)}"
            )
        unknown = [str(k) for k in r if k not in _RULE_KEYS]
        if unknown:
            hint = closest(unknown[0], _RULE_KEYS)
            raise ScenarioError(
                f"{where}: unknown key '{unknown[0]}'"
                + (f"; did you mean '{hint}'?" if hint else "")
                + f" (a rule takes {', '.join(_RULE_KEYS)})"
            )
        if "column" not in r:
            raise ScenarioError(f"{where} has no 'column': name the column it changes")
        try:
            out.append(Rule(**r))
        except ScenarioError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    return out


def apply_rules(
    fit: FittedModel, data: pd.DataFrame, rules: list[Rule]
) -> tuple[pd.DataFrame, list[str]]:
    """The data after the rules, and notes (rules on columns the model does not use)."""
    cb = fit.codebook
    out = data.copy()
    notes = []
    used = set(fit.info.variables)
    for rule in rules:
        if rule.column not in out:
            raise ScenarioError(
                f"rule '{rule.describe()}': the data have no column '{rule.column}'"
            )
        mask = np.ones(len(out), dtype=bool)
        for col, value in rule.where.items():
            if col not in out:
                raise ScenarioError(f"rule '{rule.describe()}': no column '{col}' to match")
            values = value if isinstance(value, list) else [value]
            mask &= out[col].astype(object).isin(values).to_numpy()
        if rule.column not in used:
            notes.append(
                f"the model does not use '{rule.column}': rule "
                f"'{rule.describe()}' cannot shift the predictions"
            )
        f = cb.fields.get(rule.column)
        if rule.set is not None:
            if f is not None and f.categories is not None and rule.set not in f.categories:
                raise ScenarioError(
                    f"rule '{rule.describe()}': '{rule.set}' is not a level of "
                    f"'{rule.column}' (levels: {', '.join(f.categories)})"
                )
            col = out[rule.column].astype(object)
            col[mask] = rule.set
            out[rule.column] = col
        else:
            if not pd.api.types.is_numeric_dtype(out[rule.column]):
                raise ScenarioError(f"rule '{rule.describe()}': '{rule.column}' is not numeric")
            x = out[rule.column].astype(float).to_numpy().copy()
            gaps = np.flatnonzero(mask & np.isnan(x))
            if gaps.size and rule.column in {m.var for m in fit.info.latent}:
                raise ScenarioError(
                    f"rule '{rule.describe()}': {gaps.size} row(s) it applies to (first: row "
                    f"{gaps[0] + 1}) lack {rule.column}, whose missing cells are the fit's "
                    "latent values (missing='model'); a cap cannot act on a value the model "
                    "holds per draw. 'set' it, or restrict the rule by other columns to rows "
                    "that give it"
                )
            if rule.max is not None:
                x[mask] = np.minimum(x[mask], rule.max)
            if rule.min is not None:
                x[mask] = np.maximum(x[mask], rule.min)
            out[rule.column] = x
        if not mask.any():
            notes.append(f"rule '{rule.describe()}' matches no row")
    typed = _valid_after(out, cb, rules)
    _refuse_unseen(fit, typed, "after the rules")
    return typed, notes


def _valid_after(data: pd.DataFrame, cb, rules: list[Rule]) -> pd.DataFrame:
    """The data after the rules, typed; values the codebook refuses (a number set where
    a level belongs) are an error naming the rule that wrote them, not a data error:
    the data were valid before the rules."""
    from bayesresp.data.validation import check

    report = check(data, cb)
    if report.ok:
        return report.data
    first = report.errors[0]
    culprits = [r.describe() for r in rules if r.column == first.column]
    by = f"rule '{culprits[-1]}'" if culprits else "the rules"
    more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
    raise ScenarioError(f"{by} gives values the codebook refuses: {first}{more}")


def _refuse_unseen(fit: FittedModel, data: pd.DataFrame, when: str) -> None:
    """Levels (or interaction cells) the fitted data never had cannot be predicted."""
    from bayesresp.model.design import unobserved_levels

    found = unobserved_levels(fit.info, data)
    if found:
        pos, var, level = found[0]
        raise ScenarioError(
            f"row {pos + 1} {when}: {var} = '{level}' never occurs in the fitted data, so "
            "the model has learnt nothing about it; choose a level the data have"
        )


@dataclass
class ScenarioResult:
    """Predicted mix of responses before and after a scenario, overall and by group.

    ``before`` and ``after`` hold draws (S, G, K) of the share of responses at each level
    in each group (``groups``; the last is ``overall``).
    """

    groups: list[str]
    levels: list[str]
    before: np.ndarray
    after: np.ndarray
    rules: list[Rule]
    notes: list[str]
    changed_rows: int
    by: str
    ci: float = 0.9

    @property
    def shift(self) -> np.ndarray:
        return self.after - self.before

    def to_dataframe(self, ci: float | None = None) -> pd.DataFrame:
        """One row per group and level: share before, after, and the shift."""
        ci = self.ci if ci is None else ci
        lo, hi = interval_names(ci)
        rows = []
        for g, name in enumerate(self.groups):
            for k, level in enumerate(self.levels):
                s = self.shift[:, g, k]
                a, b = _interval(s, ci)
                rows.append(
                    {
                        self.by: name,
                        "level": level,
                        "before": self.before[:, g, k].mean(),
                        "after": self.after[:, g, k].mean(),
                        "shift": s.mean(),
                        f"shift_{lo}": a,
                        f"shift_{hi}": b,
                        "p_shift_positive": float((s > 0).mean()),
                    }
                )
        return pd.DataFrame(rows).set_index([self.by, "level"])

    def position_shift(self, ci: float | None = None) -> pd.DataFrame:
        """Shift of the mean position on the spectrum (0 = conceal) per group."""
        ci = self.ci if ci is None else ci
        lo, hi = interval_names(ci)
        codes = np.arange(len(self.levels))
        before, after = self.before @ codes, self.after @ codes
        rows = []
        for g, name in enumerate(self.groups):
            s = after[:, g] - before[:, g]
            a, b = _interval(s, ci)
            rows.append(
                {
                    self.by: name,
                    "before": before[:, g].mean(),
                    "after": after[:, g].mean(),
                    "shift": s.mean(),
                    f"shift_{lo}": a,
                    f"shift_{hi}": b,
                }
            )
        return pd.DataFrame(rows).set_index(self.by)

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        head = [
            "Scenario: " + "; ".join(r.describe() for r in self.rules),
            f"{self.changed_rows} row(s) changed",
        ] + [f"note: {n}" for n in self.notes]
        with pd.option_context("display.width", 200, "display.max_rows", 200):
            table = self.position_shift().to_string(float_format=lambda x: f"{x:.3f}")
        return "\n".join(head) + "\nMean position on the spectrum:\n" + table

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{n}</li>" for n in self.notes)
        return (
            f"<p>Scenario: {'; '.join(r.describe() for r in self.rules)} "
            f"({self.changed_rows} rows changed)</p><ul>{notes}</ul>"
            + self.position_shift().to_html(float_format="%.3f")
        )


def scenario(
    fit: FittedModel,
    intervention: Any,
    data: pd.DataFrame | None = None,
    *,
    by: str = "mission",
    ci: float = 0.9,
    chunk: int = 512,
) -> ScenarioResult:
    """Apply rules to a data set and compare the predicted mix of responses.

    Parameters
    ----------
    intervention : rules
        A TOML path, a rule dict, a list of rule dicts or :class:`Rule` objects.
    data : DataFrame, optional
        The rows to apply the rules to (validated against the fit's codebook); the
        fitted data by default. Groups must be ones the fit knows.
    by : str
        Column to break the result down by (besides ``overall``).

    Examples
    --------
    >>> s = fit.scenario({"column": "years_at_station", "max": 3})  # doctest: +SKIP
    >>> s.position_shift().loc["overall"]  # doctest: +SKIP
    """
    from bayesresp.data.validation import validate

    rules = read_rules(intervention)
    imputed = set(fit.info.modelled_missing)
    for rule in rules:
        summed = sorted(imputed & set(rule.where))
        if summed:
            raise ScenarioError(
                f"{rule.describe()}: 'where' on {', '.join(summed)}, which the fit models "
                "where it is missing (missing='model'): the rule would skip the rows that "
                "lack it, whatever their level; restrict it by other columns"
            )
    before_data = fit.responses if data is None else _usable(fit, validate(data, fit.codebook))
    if by not in before_data:
        raise ScenarioError(f"cannot break down by '{by}': the data have no such column")
    after_data, notes = apply_rules(fit, before_data, rules)
    changed = int(
        (
            before_data.astype(object).ne(after_data.astype(object))
            & ~(before_data.isna() & after_data.isna())
        )
        .any(axis=1)
        .sum()
    )
    labels = before_data[by].astype(str).to_numpy()
    names = sorted(set(labels))
    index = np.searchsorted(names, labels)
    # the fitted rows' latent numbers: the fit's draws of them
    positions = fit.response_positions if data is None else None
    before = _group_shares(fit, before_data, index, len(names), chunk, positions=positions)
    after = _group_shares(
        fit, after_data, index, len(names), chunk, before_data, positions=positions
    )
    return ScenarioResult(
        names + ["overall"], list(fit.info.spectrum), before, after, rules, notes, changed, by, ci
    )


def _usable(fit: FittedModel, data: pd.DataFrame) -> pd.DataFrame:
    """Scenario data must be complete in the model's columns and use levels it knows (a
    covariate the fit sums out, missing="model", may be missing)."""
    imputed = set(fit.info.modelled_missing)
    used = [v for v in fit.info.variables if v in data and v != fit.info.outcome]
    missing = data[[v for v in used if v not in imputed]].isna()
    if missing.any(axis=None):
        rows = (np.flatnonzero(missing.any(axis=1).to_numpy()) + 1).tolist()
        cols = [c for c in used if missing[c].any()]
        raise ScenarioError(
            f"{len(rows)} row(s) of the scenario data lack values the model uses "
            f"({', '.join(cols)}): rows {', '.join(map(str, rows[:20]))}"
            + (" ..." if len(rows) > 20 else "")
        )
    absent = [v for v in used if v not in data]
    if absent:
        raise ScenarioError(f"the scenario data lack column(s) {', '.join(absent)}")
    _refuse_unseen(fit, data, "of the scenario data")
    return data


def _group_shares(
    fit: FittedModel,
    data: pd.DataFrame,
    index: np.ndarray,
    n_groups: int,
    chunk: int,
    actual: pd.DataFrame | None = None,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """(S, n_groups + 1, K): mean probability of each level per group and overall.

    A row lacking covariates the fit sums out is mixed over its missing levels with the
    actual rows' weights (``actual``: the rows before the rules; by default ``data``
    itself): the posterior given its outcome where it has one."""
    d, info = fit.arrays, fit.info
    K = len(info.spectrum)
    sums = np.zeros((d.n_draws, n_groups + 1, K))
    for start in range(0, len(data), chunk):
        part = data.iloc[start : start + chunk]
        at = None if positions is None else positions[start : start + chunk]
        design = apply_design(info, part, positions=at)
        w = None
        if design.imputation is not None:  # (missing="model"): the actual rows' weights
            real = (
                design
                if actual is None
                else apply_design(info, actual.iloc[start : start + chunk], positions=at)
            )
            w = held_weights(real, design, actual_weights(real, d, fit.spec.response), d)
        p = row_probabilities(d, design, fit.spec.response, weights=w)  # (S, n, K)
        np.add.at(sums, (slice(None), index[start : start + chunk]), p)
        sums[:, n_groups] += p.sum(axis=1)
    counts = np.bincount(index, minlength=n_groups).astype(float)
    counts = np.append(counts, len(data))
    return sums / counts[None, :, None]
