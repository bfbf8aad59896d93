"""Planning a study before coding it: for candidate designs (missions x responses, the
share double-coded), how likely is each effect's interval to exclude zero, and how wide
will it be?

For each design, :func:`plan` simulates data sets from the package's generative model
(:func:`bayesresp.simulate`, with the effects and group sds a researcher assumes), fits
the specification to each, and records per target coefficient whether its central
interval excludes zero, the interval's width, and whether it covers the true value.
Across simulations these give the **power** (the share of intervals excluding zero),
the **expected width**, and the **coverage**, each with its Monte Carlo standard error
(binomial for shares, the standard error of the mean for widths).

The simulations are a batch (:mod:`bayesresp.inference.batches`): local processes, a
Dask cluster (``client=``), and a store that a stopped run resumes from (``store=``),
with every simulation seeded from the plan's seed, its design and its number, so its
result does not depend on where it runs.

The simulator draws every covariate of the codebook with its effect. Effects of
covariates the specification leaves out are set to zero (and group terms it leaves out
get a zero sd), so that the fitted model is the generating one: what is planned is the
precision of the model a study will fit, not its robustness to omitted variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.errors import PlanError
from bayesresp.model.spec import ModelSpec


@dataclass
class PlanResult:
    """Per design and target: ``power``, ``width`` and ``coverage`` with their Monte
    Carlo standard errors (``table``); the per-simulation rows (``rows``)."""

    table: pd.DataFrame
    rows: pd.DataFrame
    designs: list[dict[str, Any]]
    ci: float
    simulations: int  # per design (a rare level may be estimated in fewer)
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return self.__str__()

    def __str__(self) -> str:
        text = self.table.to_string(float_format=lambda x: f"{x:.3f}")
        return "\n".join(
            [
                f"Study plan: power = share of {self.ci:.0%} intervals excluding zero "
                f"({self.simulations} simulations per design; 'estimated': the share of "
                "data sets that drew the coefficient's level, the others count as not "
                "detected)",
                text,
                *[f"note: {n}" for n in self.notes],
            ]
        )

    def plot(self, targets: list[str] | None = None):
        """Power against the number of responses, one line per target (and per number
        of missions), with +-2 Monte Carlo standard errors."""
        import matplotlib.pyplot as plt

        from bayesresp.plots import plain

        t = self.table.reset_index()
        names = targets or list(dict.fromkeys(t["target"]))
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for (name, missions), part in t[t["target"].isin(names)].groupby(
            ["target", "missions"], sort=False
        ):
            part = part.sort_values("rows")
            ax.errorbar(
                part["rows"],
                part["power"],
                yerr=2 * part["power_se"],
                marker="o",
                capsize=3,
                label=f"{plain(name)}, {missions} missions",
            )
        ax.set_xlabel("responses")
        ax.set_ylabel(f"power ({self.ci:.0%} interval excludes 0)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize="x-small")
        fig.tight_layout()
        return ax


def plan(
    spec: ModelSpec | str | dict,
    designs: list[dict[str, Any]],
    *,
    effects: dict[str, Any] | None = None,
    sd: dict[str, float] | None = None,
    targets: list[str] | None = None,
    simulations: int = 50,
    draws: int = 300,
    tune: int = 300,
    ci: float = 0.9,
    seed: int = 0,
    client: Any = None,
    executor: Any = None,
    store: str | os.PathLike | None = None,
    chunks: int | None = None,
    progress: bool = True,
) -> PlanResult:
    """Power, interval width and coverage of a specification's coefficients for
    candidate study designs, by simulation (module docstring).

    Parameters
    ----------
    spec : the specification the study will fit.
    designs : list of dict
        Each with ``missions`` and ``rows`` (responses), and optionally
        ``double_coded`` (share of responses coded twice, with ``coders``).
    effects, sd : optional
        The assumed effects and group sds (:func:`bayesresp.simulate`'s arguments,
        merged into its defaults); covariates and group terms the specification leaves
        out are set to zero.
    targets : list of str, optional
        Coefficients to report (``background[human_rights_legal]``); all the
        specification's coefficients by default.
    simulations : int
        Simulated data sets per design.
    draws, tune : per fit, one chain.
    ci : float
        The central interval whose exclusion of zero counts as detection.
    client, executor, store, chunks, progress
        Where the fits run and the batch's store (:func:`bayesresp.sbc`'s).

    Examples
    --------
    >>> designs = [{"missions": 8, "rows": 200}, {"missions": 12, "rows": 400}]
    >>> assumed = {"background": {"human_rights_legal": 0.5}}
    >>> result = bayesresp.plan("hierarchical", designs, effects=assumed)  # doctest: +SKIP
    >>> result.table.loc["background[human_rights_legal]"]  # doctest: +SKIP
    """
    from bayesresp.inference.batches import BatchStore, run_batch, versions

    spec = ModelSpec.coerce(spec)
    if (spec.family, spec.link, spec.thresholds) != ("cumulative", "logit", "flexible"):
        shown = "" if spec.thresholds == "flexible" else f" ({spec.thresholds} thresholds)"
        raise PlanError(
            f"plan simulates studies from the cumulative logit model with flexible "
            f"thresholds (the simulator's), so its coverage and truths are those of that "
            f"model, not of a {spec.family} {spec.link} fit{shown}; plan with family = "
            "'cumulative', link = 'logit' and thresholds = 'flexible'"
        )
    if not designs:
        raise PlanError("plan needs at least one design (missions and rows)")
    clean = [_design(d, i) for i, d in enumerate(designs)]
    if len({tuple(d.values()) for d in clean}) < len(clean):
        raise PlanError("two designs are the same; give each design once")
    if int(seed) < 0:
        raise PlanError(f"seed: 0 or more, not {seed}")
    if simulations < 2:
        raise PlanError(f"simulations: 2 or more per design, not {simulations}")
    if not 0 < ci < 1:
        raise PlanError(f"ci: a probability between 0 and 1, not {ci}")
    truth_effects, truth_sd = _assumed(spec, effects, sd)
    if targets:  # checked before any fit, against the simulator's coefficient names
        from bayesresp.data.simulate import simulate

        known = _truths(simulate(2, 8, seed=0, effects=truth_effects).truth)
        unknown = [t for t in targets if t not in known]
        if unknown:
            raise PlanError(
                f"target {unknown[0]!r} is not a coefficient the simulator draws; its "
                "coefficients: " + ", ".join(known)
            )
        used = {name for term in spec.parsed.terms for name in term.names}
        outside = [t for t in targets if _variable(t) not in used]
        if outside:
            raise PlanError(
                f"target {outside[0]!r}: the specification does not use {_variable(outside[0])}"
            )
    settings = {
        "kind": "plan",
        "versions": versions(),
        "spec": spec.to_dict(),
        "designs": clean,
        "effects": truth_effects,
        "sd": truth_sd,
        "targets": targets,
        "simulations": int(simulations),
        "draws": int(draws),
        "tune": int(tune),
        "ci": float(ci),
        "seed": int(seed),
    }
    batch = BatchStore(store, settings) if store is not None else None
    units = np.arange(len(clean) * simulations)

    def task(part: np.ndarray) -> dict[str, Any]:
        return {
            "units": part,
            "spec": spec.to_dict(),
            "designs": clean,
            "simulations": simulations,
            "effects": truth_effects,
            "sd": truth_sd,
            "targets": targets,
            "draws": draws,
            "tune": tune,
            "ci": ci,
            "seed": seed,
        }

    rows = run_batch(
        _plan_units,
        units,
        task,
        pieces=chunks,
        store=batch,
        executor=executor,
        client=client,
        progress=progress,
        label="simulated studies",
    )
    return _summarise(rows, clean, simulations, ci)


def _design(d: dict[str, Any], i: int) -> dict[str, Any]:
    """A design checked and completed: missions, rows, double_coded, coders."""
    known = {"missions", "rows", "double_coded", "coders"}
    unknown = set(d) - known
    if unknown:
        raise PlanError(
            f"design {i + 1}: unknown key(s) {', '.join(sorted(unknown))}; a design has "
            "missions, rows and optionally double_coded and coders"
        )
    try:
        missions, rows = int(d["missions"]), int(d["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"design {i + 1}: give missions and rows as whole numbers") from exc
    if missions < 2 or rows < 4 * missions:
        raise PlanError(
            f"design {i + 1}: {missions} missions and {rows} rows; give 2 missions or more "
            "and at least 4 rows per mission"
        )
    share = float(d.get("double_coded", 0.0))
    if not 0 <= share <= 1:
        raise PlanError(f"design {i + 1}: double_coded is a share, 0 to 1, not {share}")
    coders = int(d.get("coders", 3 if share > 0 else 0))
    if share > 0 and (coders < 2 or share * rows < 10):
        raise PlanError(
            f"design {i + 1}: double coding needs 2 coders or more and at least 10 responses "
            f"coded twice (here {coders} coders, {share * rows:.0f} responses)"
        )
    if share == 0 and coders:
        raise PlanError(
            f"design {i + 1}: coders without double coding cannot be told apart from the "
            "responses; give double_coded (a share) or leave coders out"
        )
    return {"missions": missions, "rows": rows, "double_coded": share, "coders": coders}


def _assumed(spec: ModelSpec, effects, sd) -> tuple[dict[str, Any], dict[str, float]]:
    """The simulator's effects and sds for this plan: the assumptions merged into the
    defaults, and zero for what the specification leaves out."""
    from bayesresp.data.simulate import DEFAULT_EFFECTS, DEFAULT_SD

    parsed = spec.parsed
    used = {name for term in parsed.terms for name in term.names}
    merged: dict[str, Any] = {}
    for name, default in DEFAULT_EFFECTS.items():
        value = _merge(name, default, (effects or {}).get(name, default))
        merged[name] = value if name in used else _zero(default)
    unknown = set(effects or {}) - set(DEFAULT_EFFECTS)
    if unknown:
        raise PlanError(
            f"effects: unknown covariate(s) {', '.join(sorted(unknown))}; known: "
            + ", ".join(DEFAULT_EFFECTS)
        )
    unused = set(effects or {}) - used
    if unused:
        raise PlanError(
            f"effects: the specification does not use {', '.join(sorted(unused))}; add it "
            "to the formula, or leave its effect out"
        )
    varying = [g for g in parsed.groups if g.thresholds]
    if varying:
        raise PlanError(
            f"{varying[0]}: the simulator draws group intercepts, not thresholds varying "
            "by group, so a plan's truths would not be this model's; plan with "
            f"(1 | {varying[0].label}) in its place"
        )
    groups = {":".join(g.factor) for g in parsed.groups}
    foreign = groups - set(DEFAULT_SD)
    if foreign:
        raise PlanError(
            f"the simulator draws group effects for {', '.join(DEFAULT_SD)} only; the "
            f"specification's {', '.join(sorted(foreign))} would have none"
        )
    strange = set(sd or {}) - groups
    if strange:
        raise PlanError(
            f"sd: the specification has no group term {', '.join(sorted(strange))}; its "
            f"group terms: {', '.join(sorted(groups)) or 'none'}"
        )
    negative = {k: v for k, v in (sd or {}).items() if float(v) < 0}
    if negative:
        raise PlanError(f"sd: a standard deviation is 0 or more, not {negative}")
    sds = {k: (float((sd or {}).get(k, v)) if k in groups else 0.0) for k, v in DEFAULT_SD.items()}
    return merged, sds


def _merge(name: str, default: Any, value: Any) -> Any:
    """An assumed effect merged into the simulator's default of its covariate: a number
    for a continuous covariate, or for an ordinal one its total effect (its steps'
    shares kept); levels for a factor, the others keeping their defaults."""
    if isinstance(default, dict) and "total" in default:
        if isinstance(value, dict) and value is not default:
            raise PlanError(
                f"effects: {name} is ordinal: give its total effect (lowest to highest "
                f"level) as one number, e.g. {name}=1.2"
            )
        return {**default, "total": float(value)} if not isinstance(value, dict) else value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise PlanError(
                f"effects: {name} has levels ({', '.join(default)}); give its effect per "
                f"level, e.g. {name}.{next(iter(default))}=0.5"
            )
        unknown = set(value) - set(default)
        if unknown:
            raise PlanError(
                f"effects: {name} has no level {', '.join(sorted(unknown))}; its levels "
                f"with an effect: {', '.join(default)}"
            )
        return {**default, **{k: float(v) for k, v in value.items()}}
    if isinstance(value, dict):
        raise PlanError(f"effects: {name} is continuous; give one number, not levels")
    return float(value)


def _zero(default: Any) -> Any:
    if isinstance(default, dict) and "total" in default:
        return {**default, "total": 0.0}
    if isinstance(default, dict):
        return dict.fromkeys(default, 0.0)
    return 0.0


def _plan_units(task: dict[str, Any]) -> pd.DataFrame:
    """Simulate and fit each unit (design x simulation) of a task; one row per unit."""
    import warnings

    from bayesresp.data.simulate import simulate
    from bayesresp.inference.arrays import readable_posterior
    from bayesresp.inference.fitting import fit

    spec = ModelSpec.from_dict(task["spec"])
    ci, n = task["ci"], task["simulations"]
    out = []
    for unit in task["units"]:
        d, s = divmod(int(unit), n)
        design = task["designs"][d]
        unit_seed = int(np.random.SeedSequence([task["seed"], d, s]).generate_state(1)[0])
        sim = simulate(
            design["missions"],
            design["rows"],
            seed=unit_seed,
            effects=task["effects"],
            sd=task["sd"],
            coders=design["coders"],
            double_coded=design["double_coded"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = fit(
                sim.data,
                spec,
                draws=task["draws"],
                tune=task["tune"],
                chains=1,
                seed=unit_seed,
                progress=False,
            )
        post, _, scale = readable_posterior(f.posterior, f.info)
        truth = _truths(sim.truth)
        used = {name for term in spec.parsed.terms for name in term.names}
        names = task["targets"] or [k for k in truth if _variable(k) in used]
        row = {}
        for name in names:
            if name not in truth:
                raise PlanError(
                    f"target {name!r} is not a coefficient of the model; its coefficients: "
                    + ", ".join(k for k in truth if k in post)
                )
            if name not in post or not _estimable(name, f.info):  # its level, or the
                # reference level, was not drawn in this data set: no estimate
                for part in ("excludes_zero", "width", "covered", "truth"):
                    row[f"{name}|{part}"] = np.nan
                continue
            lo, hi = np.quantile(post[name].values.ravel(), [(1 - ci) / 2, (1 + ci) / 2])
            same_scale = "per sd" not in scale.get(name, "")
            value = truth[name] if same_scale else np.nan
            row[f"{name}|excludes_zero"] = float(lo > 0 or hi < 0)
            row[f"{name}|width"] = float(hi - lo)
            row[f"{name}|covered"] = float(lo <= value <= hi) if np.isfinite(value) else np.nan
            row[f"{name}|truth"] = float(value)
        out.append(pd.Series(row, name=int(unit)))
    return pd.DataFrame(out)


def _variable(name: str) -> str:
    """The covariate of a coefficient's name: background[x] -> background, mo(x) -> x."""
    if name.startswith("mo(") and name.endswith(")"):
        return name[3:-1]
    return name.split("[", 1)[0]


def _estimable(name: str, info) -> bool:
    """Whether the fit estimated the coefficient the target names: a factor level's
    effect against the codebook's first level. A data set without that level has another
    reference, and its coefficients are other contrasts: not this target's."""
    coding = info.codings.get(_variable(name))
    if "[" not in name or coding is None or coding.kind != "factor":
        return True
    return coding.reference == coding.levels[0]


def _truths(truth: dict[str, Any]) -> dict[str, float]:
    """The simulator's true values by the fit's parameter names: each coefficient, and
    each ordinal covariate's total effect (``mo(career_security)``, lowest to highest
    level, what a ``mo()`` term estimates)."""
    out = dict(truth["coefficients"])
    out |= {f"mo({name})": m["total"] for name, m in truth["monotonic"].items()}
    return out


def _share_se(successes: float, n: int) -> float:
    """Monte Carlo standard error of a share (Agresti-Coull: two successes and two
    failures added, so that a share of 0 or 1 does not claim an error of 0)."""
    p = (successes + 2) / (n + 4)
    return float(np.sqrt(p * (1 - p) / (n + 4)))


def _summarise(rows: pd.DataFrame, designs, simulations: int, ci: float) -> PlanResult:
    """Per design and target: power, width and coverage with Monte Carlo errors."""
    records = []
    targets = list(dict.fromkeys(c.split("|")[0] for c in rows.columns))
    for d, design in enumerate(designs):
        part = rows.loc[(rows.index // simulations) == d]
        for name in targets:
            hit = part[f"{name}|excludes_zero"]
            drawn = hit.notna()
            if not drawn.any():  # the level was never drawn in this design's data sets
                continue
            width = part[f"{name}|width"].dropna()
            cov = part[f"{name}|covered"].dropna()
            truth = part[f"{name}|truth"].dropna()
            # a data set without the level cannot detect its effect: not detected
            p = float(hit.fillna(0.0).mean())
            c = float(cov.mean()) if len(cov) else np.nan
            records.append(
                {
                    "target": name,
                    "missions": design["missions"],
                    "rows": design["rows"],
                    "double_coded": design["double_coded"],
                    "truth": float(truth.iloc[0]) if len(truth) else np.nan,
                    "power": p,
                    "power_se": _share_se(hit.fillna(0.0).sum(), len(hit)),
                    "width": float(width.mean()),
                    "width_se": float(width.std(ddof=1) / np.sqrt(len(width)))
                    if len(width) > 1
                    else np.nan,
                    "coverage": c,
                    "coverage_se": _share_se(cov.sum(), len(cov)) if len(cov) else np.nan,
                    "estimated": float(drawn.mean()),  # share of data sets with the level
                    "simulations": len(hit),
                }
            )
    table = pd.DataFrame(records).set_index(["target", "missions", "rows", "double_coded"])
    return PlanResult(table, rows, designs, ci, simulations)
