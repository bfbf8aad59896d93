"""Counterfactual contrasts and population-averaged marginal effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.inference.arrays import eta_from_draws, thresholds_from_draws
from bayesresp.inference.imputation import actual_weights, held_weights, row_probabilities
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import apply_design, shift_latent
from bayesresp.queries.whatif import (
    PROFILE_LABEL,
    ProfileError,
    _interval,
    check_profiles,
    interval_names,
    profile_probabilities,
    typical_values,
)


@dataclass
class ContrastResult:
    """Posterior of (changed profile) - (base profile).

    ``difference`` holds draws of shape (S, K): the change in the probability of each
    level; ``position`` (S,): the change in expected position; ``at_least`` (S, K): the
    change in P(response >= level).
    """

    base: pd.DataFrame
    changed: pd.DataFrame
    changes: dict[str, Any]
    levels: list[str]
    difference: np.ndarray
    position: np.ndarray
    at_least: np.ndarray
    group_modes: dict[str, str]
    ci: float = 0.9

    def to_dataframe(self, ci: float | None = None) -> pd.DataFrame:
        """Rows: P(level) and P(>= level) for every level, and the expected position."""
        ci = self.ci if ci is None else ci
        lo, hi = interval_names(ci)
        rows = []

        def add(quantity, level, draws):
            a, b = _interval(draws, ci)
            rows.append(
                {
                    "quantity": quantity,
                    "level": level,
                    "mean": draws.mean(),
                    lo: a,
                    hi: b,
                    "p_positive": float((draws > 0).mean()),
                }
            )

        for k, level in enumerate(self.levels):
            add("P(level)", level, self.difference[:, k])
        for k, level in enumerate(self.levels[1:], start=1):
            add("P(>= level)", level, self.at_least[:, k])
        add("expected position", "", self.position)
        return pd.DataFrame(rows).set_index(["quantity", "level"])

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        what = ", ".join(f"{k} = {v}" for k, v in self.changes.items())
        with pd.option_context("display.width", 200):
            table = self.to_dataframe().to_string(float_format=lambda x: f"{x:.3f}")
        return f"Contrast: {what} (changed minus base)\n{table}"

    def _repr_html_(self) -> str:
        what = ", ".join(f"<code>{k} = {v}</code>" for k, v in self.changes.items())
        return f"<p>Contrast: {what} (changed minus base)</p>" + self.to_dataframe().to_html(
            float_format="%.3f"
        )


def contrast(
    fit: FittedModel,
    base: Any,
    changes: dict[str, Any],
    *,
    groups: str = "known",
    fill: str | None = None,
    ci: float = 0.9,
    seed: int | None = None,
) -> ContrastResult:
    """How the response to one profile shifts when some of its values change.

    Parameters
    ----------
    base : dict or one-row DataFrame
        The base profile.
    changes : dict
        Column -> new value (one factor or several), e.g.
        ``{"duty_location": "field_office"}``.
    groups : {"known", "new", "average"}
        As in :func:`bayesresp.queries.whatif.what_if`; with ``new`` both profiles share each
        fresh group draw, so the contrast is within one new mission.

    Examples
    --------
    >>> c = fit.contrast(base, {"duty_location": "field_office"})  # doctest: +SKIP
    >>> c.to_dataframe().loc["expected position"]  # doctest: +SKIP
    """
    if not changes:
        raise ProfileError(
            "no changes given: say which values to change, e.g. {'duty_location': 'field_office'}"
        )
    frame = base.copy() if isinstance(base, pd.DataFrame) else pd.DataFrame([dict(base)])
    if len(frame) != 1:
        raise ProfileError(f"the base must be one profile, not {len(frame)}")
    frame = frame.drop(columns=[PROFILE_LABEL], errors="ignore")
    used = set(fit.info.variables) - {fit.info.outcome}
    for col in changes:
        if col not in used:
            from bayesresp.data.validation import _closest

            hint = _closest(col, sorted(used))
            raise ProfileError(
                f"the model does not use '{col}', so changing it changes nothing"
                + (f"; did you mean '{hint}'?" if hint else "")
                + f" (the model uses: {', '.join(sorted(used))})"
            )
    if fill == "typical":
        typical = typical_values(fit)
        for col in used - set(frame.columns):
            if col in typical:
                frame[col] = typical[col]
    changed = frame.copy()
    for col, value in changes.items():
        changed[col] = [value]
    pair = pd.concat(
        [frame.assign(**{PROFILE_LABEL: "base"}), changed.assign(**{PROFILE_LABEL: "changed"})],
        ignore_index=True,
    )
    checked = check_profiles(fit, pair, groups, fill)
    p = profile_probabilities(fit, checked, seed, shared_new=True)  # (S, 2, K)
    diff = p[:, 1, :] - p[:, 0, :]
    codes = np.arange(p.shape[2])
    at_least = np.flip(np.cumsum(np.flip(diff, axis=1), axis=1), axis=1)
    return ContrastResult(
        checked.frame.iloc[[0]],
        checked.frame.iloc[[1]],
        dict(changes),
        list(fit.info.spectrum),
        diff,
        diff @ codes,
        at_least,
        checked.group_modes,
        ci,
    )


def marginal_effects(fit: FittedModel, *, draws: int = 1000, ci: float = 0.9) -> pd.DataFrame:
    """Population-averaged effect of every covariate on the expected position.

    For each level of a nominal or ordinal covariate, every fitted row is set to that
    level and to the reference level (each row keeps its own other values and groups),
    and the change in expected position is averaged over the rows, per posterior draw.
    For a continuous covariate the change is one standard deviation up (one unit when the
    specification does not scale continuous covariates). Ranked by the size
    of the mean effect: which factors move responses most.

    Parameters
    ----------
    draws : int
        Number of posterior draws used (evenly spaced); all when larger than available.
    """
    d_all = fit.arrays
    idx = np.unique(np.linspace(0, d_all.n_draws - 1, min(draws, d_all.n_draws)).astype(int))
    d = d_all.subset(idx)
    data, info, family = fit.responses, fit.info, fit.spec.response
    lo, hi = interval_names(ci)

    # the fitted rows' latent numbers: the fit's draws of them (positions)
    positions = fit.response_positions
    actual = apply_design(info, data, positions=positions) if info.imputed else None
    held = None if actual is None else actual_weights(actual, d, family)

    def mean_position(frame: pd.DataFrame, shift: float = 0.0, var: str = "") -> np.ndarray:
        design = apply_design(info, frame, positions=positions)
        if shift:  # a latent number's missing cells moved as its observed ones are
            design = shift_latent(design, var, shift)
        if design.imputation is not None:  # rows' missing covariates averaged over, with
            # the actual rows' weights (a change of another covariate does not move them)
            w = held_weights(actual, design, held, d)
            p = row_probabilities(d, design, family, weights=w)
            return (p @ np.arange(p.shape[-1])).mean(axis=1)
        eta = eta_from_draws(d, design, "known")
        return family.expected_position(eta, thresholds_from_draws(d, design)).mean(axis=1)

    blocks = {
        c.parts[0][0]: c.block for c in (*info.columns, *info.cs_columns) if len(c.parts) == 1
    }
    blocks |= {m.var: m.block for m in info.monotonic}
    rows = []
    for key, coding in info.codings.items():
        var = key[3:-1] if key.startswith("mo(") else key
        if var in {n for g in info.groups for n in g.factor}:
            continue
        if coding.kind == "continuous":
            label = (
                f"+1 sd ({coding.scale:.3g})" if coding.scale != 1.0 or coding.center else "+1 unit"
            )
            x = data[var].astype(float)
            high = _bounded_high(info, var)
            latent = {m.var: m for m in info.latent}
            step = coding.scale / latent[var].scale if var in latent else 0.0
            if high is None:  # (a latent number's missing cells move by the same step)
                base, up = data, data.assign(**{var: x + coding.scale})
            else:  # a cs() number of the cumulative family: ordered inside its range only,
                # so rows within a step of its largest value step down instead (the range
                # is at least two sds wide: one of the two steps fits)
                over = x + coding.scale > high
                base = data.assign(**{var: x.where(~over, x - coding.scale)})
                up = data.assign(**{var: x.where(over, x + coding.scale)})
                label += ", steps inside the fitted range"
            comparisons = [(label, mean_position(up, step, var) - mean_position(base))]
        else:
            present = set(data[var].dropna().astype(str))
            levels = [lv for lv in coding.levels if lv in present]
            ref = coding.reference or levels[0]
            base = mean_position(_set(data, var, ref))
            comparisons = [
                (f"{lv} vs {ref}", mean_position(_set(data, var, lv)) - base)
                for lv in levels
                if lv != ref
            ]
        for label, effect in comparisons:
            a, b = _interval(effect, ci)
            rows.append(
                {
                    "variable": var,
                    "contrast": label,
                    "block": blocks.get(var, ""),
                    "mean": effect.mean(),
                    "sd": effect.std(ddof=1),
                    lo: a,
                    hi: b,
                    "p_positive": float((effect > 0).mean()),
                }
            )
    columns = ["variable", "contrast", "block", "mean", "sd", lo, hi, "p_positive"]
    out = pd.DataFrame(rows, columns=columns)
    out = out.reindex(out["mean"].abs().sort_values(ascending=False).index)
    return out.reset_index(drop=True)


def _set(data: pd.DataFrame, var: str, level: str) -> pd.DataFrame:
    out = data.copy()
    out[var] = pd.Categorical([level] * len(out), dtype=data[var].dtype)
    return out


def _bounded_high(info, var: str) -> float | None:
    """The largest fitted value of a cs() number whose thresholds are kept ordered
    inside its range (the cumulative family; ``DesignInfo.cs_bounds``), in its own
    units; None for any other covariate."""
    for column, (_, high) in zip(info.cs_columns, info.cs_bounds, strict=False):
        if column.parts == ((var, None),):
            coding = info.codings[var]
            return high * coding.scale + coding.center
    return None
