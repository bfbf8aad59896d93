"""Convergence diagnostics with verdicts and plain-language next steps.

Thresholds (documented, as in the ArviZ and Stan guidance):

============================  ==========  ===================  ===================
check                         ok          warn                 fail
============================  ==========  ===================  ===================
max r_hat                     <= 1.01     <= 1.05              > 1.05
min bulk / tail ESS           >= 400      >= 100               < 100
max MCSE / posterior sd       <= 0.05     <= 0.10              > 0.10
divergent transitions         0           < 0.5% of draws      >= 0.5% of draws
draws at maximum tree depth   0           <= 5%                > 5%
min E-BFMI over chains        >= 0.3      >= 0.2               < 0.2
separated levels              0           >= 1                 (never)
============================  ==========  ===================  ===================

MCSE / sd = 0.05 is what an ESS of 400 gives (1 / sqrt(400)). Sampler statistics are read
under either backend's names (nutpie: ``maxdepth_reached``; PyMC: ``reached_max_treedepth``).

The last row is about the data, not the sampler: a covariate level (or interaction cell)
whose rows the outcome splits off from all others (complete or quasi-complete separation,
:mod:`bayesresp.checks.separation`) has a coefficient the data cannot bound on one
side: only the prior bounds it there, so its size comes from the prior's scale. It warns,
with each level, its rows and where the coefficient's posterior sits against its prior;
it is not a convergence failure, so the convergence verdict (``convergence()``) leaves it
out and ``convergence_line`` names it after the verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.checks.separation import Separation, find_separation
from bayesresp.inference.arrays import arviz_tree, readable_posterior
from bayesresp.inference.record import FittedModel
from bayesresp.queries.estimates import summary

VERDICTS = ("ok", "warn", "fail")
_COLOURS = {"ok": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}


@dataclass
class Criterion:
    """One convergence criterion: its value, the verdict against its threshold, where the
    worst value is, and what to do about it."""

    name: str
    value: float
    verdict: str
    threshold: str
    detail: str = ""
    advice: str = ""


def _grade(value: float, ok: float, warn: float, higher_is_better: bool) -> str:
    if not np.isfinite(value):
        return "fail"
    if higher_is_better:
        return "ok" if value >= ok else "warn" if value >= warn else "fail"
    return "ok" if value <= ok else "warn" if value <= warn else "fail"


@dataclass
class DiagnosticsReport:
    """Verdicts on the sampler's output. ``ok`` is False when any check fails."""

    checks: list[Criterion]  # each criterion with its value, threshold and verdict
    parameters: pd.DataFrame  # per parameter: r_hat, ess_bulk, ess_tail, mcse_ratio
    sampler: str
    separation: list[Separation] = field(default_factory=list)  # levels the outcome splits off

    @property
    def ok(self) -> bool:
        return all(c.verdict != "fail" for c in self.checks)

    @property
    def verdict(self) -> str:
        worst = max((VERDICTS.index(c.verdict) for c in self.checks), default=0)
        return VERDICTS[worst]

    def to_dataframe(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(c) for c in self.checks]).set_index("name")

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "sampler": self.sampler,
            "checks": [asdict(c) for c in self.checks],
            "separation": [asdict(s) | {"text": str(s)} for s in self.separation],
        }

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        lines = [f"Convergence diagnostics ({self.sampler}): {self.verdict.upper()}"]
        width = max(len(c.name) for c in self.checks)
        for c in self.checks:
            lines.append(
                f"  [{c.verdict:>4}] {c.name:<{width}}  {c.value:.4g}  "
                f"(ok: {c.threshold}){'  ' + c.detail if c.detail else ''}"
            )
            if c.verdict != "ok" and c.advice:
                lines.append(f"         -> {c.advice}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape as esc

        rows = "".join(
            f"<tr><td style='color:{_COLOURS[c.verdict]};font-weight:bold'>{c.verdict}</td>"
            f"<td>{esc(c.name)}</td><td>{c.value:.4g}</td><td>{esc(str(c.threshold))}</td>"
            f"<td>{esc(c.detail)}</td><td>{esc(c.advice) if c.verdict != 'ok' else ''}</td></tr>"
            for c in self.checks
        )
        return (
            f"<p><b>Convergence diagnostics</b> ({esc(str(self.sampler))}): "
            f"<span style='color:{_COLOURS[self.verdict]}'>{self.verdict}</span></p>"
            "<table><tr><th>verdict</th><th>check</th><th>value</th><th>ok when</th>"
            f"<th>detail</th><th>next step</th></tr>{rows}</table>"
        )


def _stat(stats: xr.Dataset, *names: str) -> np.ndarray | None:
    for n in names:
        if n in stats:
            return stats[n].values
    return None


def diagnose(fit: FittedModel) -> DiagnosticsReport:
    """Check convergence: r_hat, ESS, MCSE, divergences, tree depth, E-BFMI.

    Examples
    --------
    >>> report = fit.diagnose()  # doctest: +SKIP
    >>> report.ok, report.verdict  # doctest: +SKIP
    """
    table = summary(fit)
    ds, _, _ = readable_posterior(fit.posterior, fit.info)
    tree, readable_of = arviz_tree(ds)
    mcse = az.mcse(tree)
    mcse = mcse.to_dataset() if isinstance(mcse, xr.DataTree) else mcse
    mcse_of = {readable_of[s]: float(mcse[s]) for s in readable_of}
    params = table[["r_hat", "ess_bulk", "ess_tail"]].copy()
    params["mcse_ratio"] = [
        mcse_of[n] / max(float(table.loc[n, "sd"]), 1e-300) for n in table.index
    ]
    # Group effects (every mission, department, official): their worst r_hat and ESS, as
    # rows of the parameter table, since known-group predictions rest on them.
    post = fit.posterior
    effects = [v for v in post.data_vars if v.startswith("r[")]
    if effects:
        tree = xr.DataTree.from_dict({"posterior": post[effects]})
        rhat = az.rhat(tree).to_dataset()
        ess_b, ess_t = az.ess(tree).to_dataset(), az.ess(tree, method="tail").to_dataset()
        for v in effects:
            params.loc[f"{v} (worst level)"] = {
                "r_hat": float(rhat[v].max()),
                "ess_bulk": float(ess_b[v].min()),
                "ess_tail": float(ess_t[v].min()),
                "mcse_ratio": 0.0,
            }
    stats = fit.tree["sample_stats"].to_dataset()
    n_draws = stats.sizes["chain"] * stats.sizes["draw"]
    checks = []

    if params["r_hat"].isna().all():  # one chain: r_hat compares chains
        n_chains = stats.sizes["chain"]
        checks.append(
            Criterion(
                "max r_hat",
                float("nan"),
                "warn",
                "<= 1.01",
                f"not defined with {n_chains} chain{'s' if n_chains != 1 else ''}",
                "fit with chains >= 2 (4 by default): mixing between chains is unchecked",
            )
        )
    else:
        worst = params["r_hat"].idxmax()
        r = float(params["r_hat"].max())
        checks.append(
            Criterion(
                "max r_hat",
                r,
                _grade(r, 1.01, 1.05, False),
                "<= 1.01",
                f"worst: {worst}",
                _rhat_advice(fit, worst),
            )
        )
    for col, label in (("ess_bulk", "min bulk ESS"), ("ess_tail", "min tail ESS")):
        v = float(params[col].min())
        checks.append(
            Criterion(
                label,
                v,
                _grade(v, 400, 100, True),
                ">= 400",
                f"worst: {params[col].idxmin()}",
                "draw more (raise draws, and tune if r_hat is high too)",
            )
        )
    m = float(params["mcse_ratio"].max())
    checks.append(
        Criterion(
            "max MCSE / sd",
            m,
            _grade(m, 0.05, 0.10, False),
            "<= 0.05",
            f"worst: {params['mcse_ratio'].idxmax()}",
            "draw more: Monte Carlo error is large relative to the posterior sd",
        )
    )

    div = _stat(stats, "diverging")
    n_div = int(div.sum()) if div is not None else 0
    div_verdict = "ok" if n_div == 0 else ("warn" if n_div < 0.005 * n_draws else "fail")
    checks.append(
        Criterion(
            "divergent transitions",
            n_div,
            div_verdict,
            "0",
            f"of {n_draws} draws",
            "raise target_accept (e.g. 0.95); if they persist, the posterior has "
            "a funnel: a group with few levels or an sd near zero may need a "
            "tighter sd prior",
        )
    )

    depth = _stat(stats, "maxdepth_reached", "reached_max_treedepth")
    if depth is not None:
        share = float(np.mean(depth))
        checks.append(
            Criterion(
                "draws at max tree depth",
                share,
                _grade(share, 0.0, 0.05, False),
                "0",
                "share of draws",
                "raise the maximum tree depth or reparametrize: the sampler "
                "takes very long trajectories",
            )
        )

    if "energy" in stats:
        bfmi = np.atleast_1d(az.bfmi(fit.tree)["energy"].values)
        b = float(np.min(bfmi))
        checks.append(
            Criterion(
                "min E-BFMI",
                b,
                _grade(b, 0.3, 0.2, True),
                ">= 0.3",
                "per chain: " + ", ".join(f"{x:.2f}" for x in bfmi),
                "the momentum resampling explores the energy poorly: often a "
                "group sd with a heavy-tailed posterior; reparametrize or tighten "
                + (_R2D2_TIGHTER if "R2" in fit.posterior else "its prior"),
            )
        )
    separated = find_separation(fit.data, fit.info)
    checks.append(_separation_criterion(fit, separated, table))
    return DiagnosticsReport(checks, params, str(fit.meta.get("sampler", "")), separated)


SEPARATION = "separated levels"


def _separation_criterion(
    fit: FittedModel, separated: list[Separation], table: pd.DataFrame
) -> Criterion:
    """The data check: levels the outcome separates, each with where its coefficient's
    posterior sits against its prior (mean and sd, in prior sds from the prior's centre)."""
    if not separated:
        return Criterion(SEPARATION, 0, "ok", "0", "no level or cell is split off by the outcome")
    priors = fit.meta.get("priors") or {}
    parts = []
    for s in separated:
        text = str(s)
        coef = s.coefficient
        if coef in table.index:
            mean, sd = float(table.loc[coef, "mean"]), float(table.loc[coef, "sd"])
            text += f"; posterior of {coef}: mean {mean:.3g}, sd {sd:.3g}"
            scale = _prior_scale(priors.get(coef))
            if scale:
                text += f", {abs(mean) / scale:.1f} prior sd from its centre ({priors[coef]})"
        parts.append(text)
    if "R2" in fit.posterior:  # the r2d2 prior sets every coefficient's scale
        remedy = (
            "merge the level with a neighbour, or set the coefficients' scale yourself "
            'under [priors] (b = "normal(0, 1.5)", then a prior for this one you can '
            "defend): under the default r2d2 prior its scale grows with R2, which the "
            "separated level pushes up"
        )
    else:
        remedy = (
            "merge the level with a neighbour, or give it a prior you can defend under "
            "[priors] in the specification"
        )
    return Criterion(
        SEPARATION,
        len(separated),
        "warn",
        "0",
        " | ".join(parts),
        "the likelihood keeps rising as these effects grow, so only their priors bound "
        "them: read each as a bound ('at least'), not an estimate of its size (that comes "
        f"from the prior's scale); {remedy}",
    )


def _prior_scale(text: str | None) -> float | None:
    """The scale (sigma) of a coefficient's prior given as text, if it has one."""
    from bayesresp.model.priors import parse_prior

    if not text:
        return None
    try:
        return parse_prior(text, "b").param("sigma")
    except Exception:  # a prior without a sigma, or text from an older fit file
        return None


def _rhat_advice(fit: FittedModel, worst: str) -> str:
    advice = "run longer (more tune and draws) or more chains"
    for g in fit.info.groups:
        if f"sd({g.label})" in worst or f"cor({g.label})" in worst:
            n = len(g.levels)
            if n < 5:
                # the sds of thresholds varying by group are outside the r2d2 prior
                own = g.thresholds or "R2" not in fit.posterior
                tighter = f"'sd({g.label})' in the priors" if own else _R2D2_TIGHTER
                advice += (
                    f"; {g.label} has only {n} level(s), so its sd is weakly "
                    f"identified: check the group with so few levels, or tighten {tighter}"
                )
    return advice


# Under the r2d2 prior the sds are not set one by one ('sd(mission)' is refused with it).
_R2D2_TIGHTER = (
    "the r2d2 prior (a higher 'tail' in b = \"r2d2(tail=...)\", or its fixed form with a "
    "lower 'mean', b = \"r2d2(mean=0.3, precision=5)\"), or "
    "give b an independent prior (b = \"normal(0, 1)\") and then 'sd(...)' one of its own"
)


def convergence(fit: FittedModel) -> dict[str, float]:
    """Headline convergence numbers: max r_hat, min bulk and tail ESS, divergences.

    Examples
    --------
    >>> fit.convergence()["max_r_hat"]  # doctest: +SKIP
    """
    report = diagnose(fit)
    values = {c.name: c.value for c in report.checks}
    sampler = [c for c in report.checks if c.name != SEPARATION]
    worst = max((VERDICTS.index(c.verdict) for c in sampler), default=0)
    return {
        "max_r_hat": values["max r_hat"],
        "min_ess_bulk": values["min bulk ESS"],
        "min_ess_tail": values["min tail ESS"],
        "divergences": int(values["divergent transitions"]),
        "verdict": VERDICTS[worst],
        "separated": [f"{s.variable} = '{s.level}'" for s in report.separation],
    }


_VERDICT_WORDS = {"ok": "converged", "warn": "converged, with warnings", "fail": "NOT CONVERGED"}


def convergence_line(fit: FittedModel) -> str:
    """One line: the diagnostics' verdict, with the headline numbers.

    Examples
    --------
    >>> print(fit.convergence_line())  # doctest: +SKIP
    """
    c = convergence(fit)
    line = (
        f"{_VERDICT_WORDS[c['verdict']]}: max r_hat {c['max_r_hat']:.3f}, min bulk ESS "
        f"{c['min_ess_bulk']:.0f}, min tail ESS {c['min_ess_tail']:.0f}, "
        f"{c['divergences']} divergent transitions (details: diagnose())"
    )
    if c["separated"]:
        line += (
            "; separation: the data cannot bound the effect of "
            + ", ".join(c["separated"])
            + " (see diagnose())"
        )
    return line
