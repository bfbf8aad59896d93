"""What-if queries: posterior answers about hypothetical incidents.

A *profile* is a hypothetical incident: values of the covariates the model uses, plus a
mission and department (and official, coder) where the model has such group terms.
Predictions are computed from the posterior draws with array code (no PyMC call), with
the coding recipe learnt at fitting time.

Group membership (``groups=``):

``known``   the estimated effect of the profile's own mission, department ...; a group
            the fit has not seen is an error;
``new``     a fresh mission (department ...) drawn from the estimated population of
            groups for every posterior draw: wider intervals, the answer for an unseen
            mission;
``average`` group effects at zero, their population mean.

A group term whose columns a profile does not give at all (say ``official_id`` for a
hypothetical official) is treated as ``new``; ``result.group_modes`` says what was used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.data.codebook import Codebook
from bayesresp.data.tables import read_table
from bayesresp.data.validation import Problem, check
from bayesresp.errors import DataValidationError, ProfileError, Usage
from bayesresp.inference.arrays import GROUP_MODES, GROUPS_NEW
from bayesresp.inference.imputation import row_probabilities
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import Design, apply_design, unobserved_levels

PROFILE_LABEL = "profile"
# How a user asks to fill missing covariates: in Python, and on the command line.
FILL_TYPICAL = Usage(python="fill='typical'", cli="--fill-typical")


# -- profiles ---------------------------------------------------------------------------
def read_profiles(profiles: Any) -> pd.DataFrame:
    """Profiles from a dict, a list of dicts, a DataFrame or a CSV/Parquet path."""
    if isinstance(profiles, str | Path):
        frame = read_table(profiles)
    elif isinstance(profiles, dict):
        frame = pd.DataFrame([profiles])
    elif isinstance(profiles, list):
        frame = pd.DataFrame(profiles)
    elif isinstance(profiles, pd.DataFrame):
        frame = profiles.copy()
    else:
        raise ProfileError(
            "profiles must be a dict, a list of dicts, a DataFrame or a file path, "
            f"not {type(profiles).__name__}"
        )
    if len(frame) == 0:
        raise ProfileError("no profiles given")
    if PROFILE_LABEL not in frame:
        if isinstance(profiles, pd.DataFrame) and not isinstance(frame.index, pd.RangeIndex):
            frame.insert(0, PROFILE_LABEL, frame.index.astype(str))
        else:
            frame.insert(0, PROFILE_LABEL, [f"profile {i + 1}" for i in range(len(frame))])
    frame[PROFILE_LABEL] = frame[PROFILE_LABEL].astype(str)
    if frame[PROFILE_LABEL].duplicated().any():
        dup = frame.loc[frame[PROFILE_LABEL].duplicated(), PROFILE_LABEL].iloc[0]
        raise ProfileError(f"profile label '{dup}' is used twice; labels must be unique")
    return frame.reset_index(drop=True)


def typical_values(fit: FittedModel) -> dict[str, Any]:
    """The sample's typical value of each covariate: the most common level, or the mean."""
    out = {}
    for name, c in fit.info.codings.items():
        var = name[3:-1] if name.startswith("mo(") else name
        col = fit.responses[var]
        out[var] = float(col.mean()) if c.kind == "continuous" else col.mode().iloc[0]
    return out


@dataclass
class CheckedProfiles:
    frame: pd.DataFrame  # typed, with labels in PROFILE_LABEL
    design: Design
    group_modes: dict[str, str]
    filled: dict[str, Any] = field(default_factory=dict)
    # covariate -> the profiles that leave it unknown (a fit with missing="model")
    unknown: dict[str, list[str]] = field(default_factory=dict)


def check_profiles(
    fit: FittedModel, profiles: Any, groups: str = "known", fill: str | None = None
) -> CheckedProfiles:
    """Validate profiles against the fit's codebook and formula; build their design."""
    if groups not in GROUP_MODES:
        raise ProfileError(f"groups must be one of {', '.join(GROUP_MODES)}, not '{groups}'")
    if fill not in (None, "typical"):
        raise ProfileError(f"fill must be None or 'typical', not '{fill}'")
    frame = read_profiles(profiles)
    info, cb = fit.info, fit.codebook
    _refuse_unknown_columns(fit, frame)
    group_cols = {n for g in info.groups for n in g.factor}
    needed = [v for v in info.variables if v != info.outcome and v not in group_cols]
    filled: dict[str, Any] = {}
    absent = [v for v in needed if v not in frame]
    if absent and fill == "typical":
        typical = typical_values(fit)
        for v in absent:
            frame[v] = typical[v]
            filled[v] = typical[v]
    elif absent:
        raise ProfileError.spelt(
            [
                f"the profiles lack {', '.join(absent)}, which the model uses; give "
                f"{'it' if len(absent) == 1 else 'them'}, or pass ",
                FILL_TYPICAL,
                " to use the sample's typical value (most common level, or mean)",
            ]
        )
    modes = {}
    for g in info.groups:
        present = all(n in frame for n in g.factor)
        modes[g.label] = groups if present else ("new" if groups == "known" else groups)
    # a covariate whose missing cells the fit sums out may be left unknown (None)
    optional = set(info.modelled_missing)
    sub = _profile_codebook(cb, needed, [n for n in group_cols if n in frame], optional)
    report = check(frame[[c for c in frame.columns if c != PROFILE_LABEL]], sub)
    if not report.ok:
        raise DataValidationError(
            _label_rows(report.errors, frame), source="the profiles", data_file=False
        )
    typed = report.data
    typed.insert(0, PROFILE_LABEL, frame[PROFILE_LABEL].to_numpy())
    _refuse_unobserved(fit, typed)
    if info.imputed:  # an unknown level must not lead into a cell the fit never saw
        from bayesresp.model.design import expand

        copies, imp = expand(info, typed)
        labels = typed[PROFILE_LABEL].to_numpy()[imp.row]
        note = " (with a covariate left unknown, one of its levels)"
        _refuse_unobserved(fit, copies.assign(**{PROFILE_LABEL: labels}), note)
    unknown = {
        v: typed.loc[typed[v].isna(), PROFILE_LABEL].tolist()
        for v in sorted(optional)
        if typed[v].isna().any()
    }
    design = apply_design(info, typed)
    for g in info.groups:
        if modes[g.label] != "known":
            continue
        unseen = np.flatnonzero(design.group_index[g.label] < 0)
        if unseen.size:
            i = unseen[0]
            label = ":".join(str(typed[n].iloc[i]) for n in g.factor)
            shown = ", ".join(g.levels[:12]) + (" ..." if len(g.levels) > 12 else "")
            raise ProfileError.spelt(
                [
                    f"profile '{typed[PROFILE_LABEL].iloc[i]}': {g.label} '{label}' is not "
                    f"in the fitted data (known: {shown}); use ",
                    GROUPS_NEW,
                    " to ask about an unseen one",
                ]
            )
    return CheckedProfiles(typed, design, modes, filled, unknown)


def _refuse_unknown_columns(fit: FittedModel, frame: pd.DataFrame) -> None:
    """A column that is neither the model's nor the codebook's is a typo ('backgrund'):
    an error naming the closest known column, before anything is filled in its place.
    Codebook columns the model does not use are accepted (and play no part)."""
    from bayesresp.data.validation import _closest

    info = fit.info
    used = [v for v in info.variables if v != info.outcome]
    known = set(used) | set(fit.codebook.fields) | {PROFILE_LABEL}
    unknown = [str(c) for c in frame.columns if c not in known]
    if not unknown:
        return
    others = sorted(c for c in fit.codebook.fields if c not in used)
    hints = {c: _closest(c, used) or _closest(c, others) for c in unknown}
    if len(unknown) == 1:
        col, hint = unknown[0], hints[unknown[0]]
        what = f"profile column '{col}' is not a covariate or group of this model"
        what += f"; did you mean '{hint}'?" if hint else ""
    else:
        named = [f"'{c}'" + (f" (did you mean '{h}'?)" if h else "") for c, h in hints.items()]
        what = f"profile columns {', '.join(named)} are not covariates or groups of this model"
    raise ProfileError(f"{what} (the model uses: {', '.join(used)})")


def _refuse_unobserved(fit: FittedModel, typed: pd.DataFrame, unknown: str = "") -> None:
    """Refuse levels and interaction cells the fitted data never had (``unknown``: said of
    the copies of profiles that leave a covariate unknown, whose levels lead there)."""
    found = unobserved_levels(fit.info, typed)
    if found:
        pos, var, level = found[0]
        label = typed[PROFILE_LABEL].iloc[pos]
        coding = fit.info.codings.get(var) or fit.info.codings.get(f"mo({var})")
        if coding is None:  # an interaction cell
            raise ProfileError(
                f"profile '{label}'{unknown}: the cell {level} of {var} never occurs in the "
                "fitted data, so the model has learnt nothing about it"
            )
        raise ProfileError(
            f"profile '{label}'{unknown}: {var} = '{level}' never occurs in "
            f"the fitted data, so the model has learnt nothing about it (levels seen: "
            f"{', '.join(coding.observed)})"
        )


def _profile_codebook(
    cb: Codebook, needed: list[str], groups: list[str], optional: set[str] = frozenset()
) -> Codebook:
    """The fit's codebook cut to the profile's columns, the covariates required (but
    those in ``optional``, which the fit can average over)."""
    spec = cb.to_dict()
    keep = set(needed) | set(groups) | {cb.outcome.name}
    fields = []
    for f in spec["fields"]:
        if f["name"] not in keep:
            continue
        f = dict(f)
        f["constraints"] = {
            **f.get("constraints", {}),
            "required": (f["name"] in needed and f["name"] not in optional) or f["name"] in groups,
        }
        f.pop("constantWithin", None)  # profiles are hypothetical: any combination goes
        fields.append(f)
    spec["fields"] = fields
    spec["rowKey"] = []
    return Codebook(spec, origin=f"{cb.origin} (profile columns)")


def _label_rows(problems: list[Problem], frame: pd.DataFrame) -> list[Problem]:
    out = []
    for p in problems:
        if p.row is not None:
            label = frame[PROFILE_LABEL].iloc[p.row - 1]
            p = Problem(
                p.kind,
                f"profile '{label}': {p.message}",
                p.row,
                p.column,
                p.value,
                p.expected,
                p.suggestion,
                p.severity,
                p.index,
            )
        out.append(p)
    return out


# -- predictions --------------------------------------------------------------------------
def _rng(fit: FittedModel, seed: int | None) -> np.random.Generator:
    """Reproducible by default: the fit's own seed drives fresh group draws."""
    return np.random.default_rng(fit.meta.get("seed", 0) if seed is None else seed)


def profile_probabilities(
    fit: FittedModel, checked: CheckedProfiles, seed: int | None = None, shared_new: bool = False
) -> np.ndarray:
    """(S, n_profiles, K) probabilities of each level, per posterior draw; a covariate a
    profile leaves unknown is averaged over its distribution (the fit's model of it) for
    that profile's other covariates and mission."""
    return row_probabilities(
        fit.arrays,
        checked.design,
        fit.spec.response,
        checked.group_modes,
        _rng(fit, seed),
        shared_new,
    )


def _interval(x: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """Central interval over the first (draw) axis.

    The draws are first made the last, contiguous axis: partitioning along a strided
    axis is several times slower for large (draws, profiles, levels) arrays.
    """
    a = (1 - ci) / 2
    x = np.asarray(x)
    flat = np.ascontiguousarray(x.reshape(x.shape[0], -1).T)
    q = np.quantile(flat, [a, 1 - a], axis=1)
    if x.ndim == 1:  # one quantity: plain floats, not 0-d arrays (object columns)
        return float(q[0, 0]), float(q[1, 0])
    return q[0].reshape(x.shape[1:]), q[1].reshape(x.shape[1:])


def interval_names(ci: float) -> tuple[str, str]:
    lo = (1 - ci) / 2 * 100
    return f"q{lo:g}", f"q{100 - lo:g}"


@dataclass
class WhatIfResult:
    """Posterior predictions for a set of profiles.

    Attributes
    ----------
    probabilities : xarray.DataArray
        Dims ``chain``, ``draw``, ``profile``, ``level`` (levels named by the codebook).
    profiles : DataFrame
        The validated profiles.
    group_modes : dict
        For each group term, ``known``, ``new`` or ``average``: what was used.
    filled : dict
        Covariates filled with the sample's typical value (``fill="typical"``).
    unknown : dict
        Covariates that profiles leave unknown (a fit with ``missing="model"``), with
        those profiles: their answers average over the covariate's distribution given
        the profile's other covariates and mission.
    """

    probabilities: xr.DataArray
    profiles: pd.DataFrame
    group_modes: dict[str, str]
    filled: dict[str, Any]
    ci: float = 0.9
    unknown: dict[str, list[str]] = field(default_factory=dict)

    @property
    def levels(self) -> list[str]:
        return list(self.probabilities["level"].values)

    def _flat(self) -> np.ndarray:
        p = self.probabilities
        return p.values.reshape(-1, p.sizes["profile"], p.sizes["level"])

    @property
    def expected_position(self) -> xr.DataArray:
        """Expected 0-based level (conceal = 0), per draw and profile."""
        codes = xr.DataArray(
            np.arange(len(self.levels)), dims="level", coords={"level": self.levels}
        )
        return (self.probabilities * codes).sum("level")

    def at_least(self, level: str) -> xr.DataArray:
        """P(response >= level), per draw and profile."""
        if level not in self.levels:
            raise ProfileError(f"'{level}' is not a level; levels: {', '.join(self.levels)}")
        k = self.levels.index(level)
        return self.probabilities.isel(level=slice(k, None)).sum("level")

    def to_dataframe(self, ci: float | None = None) -> pd.DataFrame:
        """Tidy: one row per profile and level: P(level), P(>= level), P(<= level)."""
        ci = self.ci if ci is None else ci
        lo, hi = interval_names(ci)
        p = self._flat()
        at_least = np.flip(np.cumsum(np.flip(p, axis=2), axis=2), axis=2)
        columns = {}
        for name, arr in (("p", p), ("p_at_least", at_least)):
            a, b = _interval(arr, ci)
            columns |= {name: arr.mean(axis=0), f"{name}_{lo}": a, f"{name}_{hi}": b}

        # P(<= k) = 1 - P(>= k + 1): its interval is the mirror of that one, no new sort.
        def shift(x: np.ndarray) -> np.ndarray:  # x[:, k + 1], with P(>= K) = 0 at the end
            return np.concatenate([x[:, 1:], np.zeros((x.shape[0], 1))], axis=1)

        columns |= {
            "p_at_most": 1 - shift(columns["p_at_least"]),
            f"p_at_most_{lo}": 1 - shift(columns[f"p_at_least_{hi}"]),
            f"p_at_most_{hi}": 1 - shift(columns[f"p_at_least_{lo}"]),
        }
        columns = {k: v.ravel() for k, v in columns.items()}
        index = pd.MultiIndex.from_product(
            [self.profiles[PROFILE_LABEL], self.levels], names=[PROFILE_LABEL, "level"]
        )
        return pd.DataFrame(columns, index=index)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """Per profile: expected position (mean, interval) and the most probable level."""
        ci = self.ci if ci is None else ci
        lo, hi = interval_names(ci)
        e = self.expected_position.values.reshape(-1, self.probabilities.sizes["profile"])
        mean_p = self._flat().mean(axis=0)
        a, b = _interval(e, ci)
        out = pd.DataFrame(
            {
                "expected_position": e.mean(axis=0),
                f"position_{lo}": a,
                f"position_{hi}": b,
                "most_probable": [self.levels[k] for k in mean_p.argmax(axis=1)],
                "p_most_probable": mean_p.max(axis=1),
            },
            index=pd.Index(self.profiles[PROFILE_LABEL], name=PROFILE_LABEL),
        )
        out["groups"] = ", ".join(f"{g}: {m}" for g, m in self.group_modes.items()) or "none"
        if self.unknown:  # say which answers average over an unknown covariate
            out["averaged_over"] = [
                ", ".join(v for v, who in self.unknown.items() if label in who)
                for label in self.profiles[PROFILE_LABEL]
            ]
        return out

    def plot(self, ax=None):
        """Each profile as a stacked bar across the spectrum, conciliatory to confrontational."""
        from bayesresp.plots import plot_profiles

        return plot_profiles(self, ax=ax)

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            return self.summary().to_string(float_format=lambda x: f"{x:.3f}")

    def _repr_html_(self) -> str:
        return self.summary().to_html(float_format="%.3f")


def what_if(
    fit: FittedModel,
    profiles: Any,
    *,
    groups: str = "known",
    fill: str | None = None,
    ci: float = 0.9,
    seed: int | None = None,
) -> WhatIfResult:
    """Posterior distribution of the response to hypothetical incidents.

    Parameters
    ----------
    fit : FittedModel
    profiles : dict, list of dicts, DataFrame or path of a CSV file
        One row per profile; an optional ``profile`` column names them. Every other
        column must be a covariate or group column of the model, or another column of the
        fit's codebook (accepted and ignored: a profile may carry a whole coded row). Any
        other column is taken for a typo and refused with a :class:`ProfileError` naming
        the closest known column (``'backgrund'``: did you mean ``'background'``?), with
        ``fill`` too: a misspelt covariate is never silently filled with its typical value.
    groups : {"known", "new", "average"}
        How the profile's mission, department ... enter (see the module docs).
    fill : {None, "typical"}
        ``"typical"`` fills covariates the profiles lack with the sample's typical value.
        For a fit with ``missing="model"``, a covariate it sums out may instead be left
        unknown (``None``, or an empty cell of the column): the answer averages over its
        distribution under the fit's model of it, given the profile's other covariates
        and mission (``result.unknown`` and the summary's ``averaged_over`` say so).
    seed : int, optional
        Seed for fresh group draws (``groups="new"``); the fit's seed by default, so the
        same query gives the same answer.

    Examples
    --------
    >>> r = fit.what_if({"mission": "UNMIL", "department": "Human Rights", ...})  # doctest: +SKIP
    >>> r.summary()  # doctest: +SKIP
    """
    checked = check_profiles(fit, profiles, groups, fill)
    probs = profile_probabilities(fit, checked, seed)
    post = fit.posterior
    C, D = post.sizes["chain"], post.sizes["draw"]
    labels = checked.frame[PROFILE_LABEL].to_numpy()
    da = xr.DataArray(
        probs.reshape(C, D, len(labels), -1),
        dims=("chain", "draw", "profile", "level"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "profile": labels,
            "level": list(fit.info.spectrum),
        },
        name="probability",
    )
    return WhatIfResult(da, checked.frame, checked.group_modes, checked.filled, ci, checked.unknown)
