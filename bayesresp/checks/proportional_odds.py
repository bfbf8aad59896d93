"""A check of proportional odds: does a covariate shift the whole spectrum by one amount,
or does it move some thresholds more than others?

For each covariate chosen, the fit's model is fitted again with that covariate
category-specific (``cs(x)``: one coefficient per threshold, in the cumulative family
each level with its own ordered thresholds, :mod:`bayesresp.maths.thresholds`), to the
same rows with the same sampler settings, and the two are set side by side. A group of
covariates (a tuple, or a block of the theory's factor families by name) is checked
jointly, all of them category-specific in one refit: in the sequential and
adjacent-category families, whose thresholds need no order (the cumulative family keeps
one ``cs()`` term's thresholds ordered, so it checks one covariate at a time).

- **predictive evidence**: the difference in expected log predictive density (PSIS-LOO,
  :func:`bayesresp.checks.comparison.compare`), ``elpd(cs(x)) - elpd(fit)``, with the
  standard error of that difference. The category-specific model has many more
  parameters; it predicts better only when the thresholds really move apart;
- **what moves**: the posterior of each threshold's deviation from the covariate's
  average effect, ``b_cs[level, k] - mean_k b_cs[level, k]`` (zero for every threshold
  under proportional odds).

The verdict follows the predictive evidence (Sivula, Magnusson, Matamoros and Vehtari
2022, "Uncertainty in Bayesian leave-one-out cross-validation based model comparison":
a difference below 4 is small, and otherwise its standard error says how sure it is):

- ``fail`` (proportional odds is doubtful): the difference exceeds 4 and twice its
  standard error;
- ``warn``: it exceeds its standard error (and zero), but not both bars above;
- ``ok``: otherwise (the simpler model predicts as well).

The deviations are reported, not voted on: with seven thresholds and several levels,
some 90% intervals exclude zero by chance alone. How often the check flags data drawn
with and without a category-specific effect is measured in ``benchmarks/po_check.py``
(README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.checks.comparison import compare
from bayesresp.checks.diagnostics import _COLOURS, VERDICTS
from bayesresp.errors import POCheckError
from bayesresp.inference.record import FittedModel

#: The elpd difference below which two models predict alike (Sivula et al. 2022).
SMALL_ELPD = 4.0


@dataclass
class POCheckResult:
    """What :func:`po_check` found, per covariate.

    ``table``: one row per covariate (or group checked jointly, named ``a + b``), with
    ``elpd_diff`` (``elpd(cs(x)) - elpd(fit)``),
    ``se`` (of that difference), ``z`` (their ratio), ``apart`` (how many of the
    covariate's ``deviations``, one per level and threshold, have an interval that
    excludes zero; ``(1 - ci)`` of them would by chance alone under proportional odds)
    out of ``n_deviations``, ``verdict`` and ``advice``. ``deviations``: per covariate, each
    level's and threshold's deviation (median and interval; a group's rows are indexed by
    covariate too). ``fits``: the refits with
    ``cs(x)``; ``comparisons``: their LOO comparisons with the fit.
    """

    table: pd.DataFrame
    deviations: dict[str, pd.DataFrame]
    fits: dict[str, FittedModel] = field(repr=False)
    comparisons: dict[str, Any] = field(repr=False)
    family: str = "cumulative"
    ci: float = 0.9

    @property
    def verdict(self) -> str:
        worst = max((VERDICTS.index(v) for v in self.table["verdict"]), default=0)
        return VERDICTS[worst]

    @property
    def ok(self) -> bool:
        return self.verdict != "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "family": self.family,
            "covariates": self.table.reset_index().to_dict(orient="records"),
        }

    def __repr__(self) -> str:
        return self.__str__()

    def __str__(self) -> str:
        lines = [
            f"Proportional odds, one covariate (or group) at a time ({self.family} family; "
            f"elpd of the cs() model minus the fit's, PSIS-LOO): {self.verdict.upper()}"
        ]
        width = max(len(str(x)) for x in self.table.index)
        for x, row in self.table.iterrows():
            lines.append(
                f"  [{row['verdict']:>4}] {x:<{width}}  elpd diff {row['elpd_diff']:+.1f} "
                f"(se {row['se']:.1f})  {_apart(row, self.ci)}"
            )
            if row["verdict"] != "ok":
                lines.append(f"         -> {row['advice']}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape as esc

        rows = "".join(
            f"<tr><td style='color:{_COLOURS[r['verdict']]};font-weight:bold'>{r['verdict']}"
            f"</td><td>{esc(str(x))}</td><td>{r['elpd_diff']:+.1f}</td><td>{r['se']:.1f}</td>"
            f"<td>{esc(_apart(r, self.ci))}</td>"
            f"<td>{esc(r['advice'])}</td></tr>"
            for x, r in self.table.iterrows()
        )
        return (
            f"<p><b>Proportional odds</b> ({esc(self.family)} family): "
            f"<span style='color:{_COLOURS[self.verdict]}'>{self.verdict}</span></p>"
            "<table><tr><th>verdict</th><th>covariate</th><th>elpd diff (cs - fit)</th>"
            "<th>se</th><th>threshold deviations</th><th>reading</th></tr>"
            f"{rows}</table>"
        )


def eligible_covariates(fit: FittedModel) -> dict[str, str | None]:
    """Each covariate of the fit's common terms, with why it cannot be made
    category-specific (None when it can): not in an interaction (its coefficient per
    threshold would trade against the interaction's), not a ``mo()`` term, not a number
    whose missing cells are latent values."""
    terms = fit.spec.parsed.terms
    latent = {m.var for m in fit.info.latent}
    out: dict[str, str | None] = {
        v: f"{v}'s missing cells are latent values (missing='model'), and cs() of such a "
        "number is refused"
        for v in sorted(latent)
    }
    for term in terms:
        if term.cs:
            continue
        if len(term.vars) > 1:
            for name in term.names:
                out[name] = f"{name} is part of the interaction {term}"
            continue
        var = term.vars[0]
        if var.mo:
            out.setdefault(var.name, f"mo({var.name}) is a monotonic effect")
        else:
            out.setdefault(var.name, None)
    return out


def po_check(
    fit: FittedModel,
    covariates: list[str | tuple[str, ...]] | str | None = None,
    *,
    blocks: list[str] | str | None = None,
    seed: int | None = None,
    ci: float = 0.9,
    refit_high_k: bool = False,
    progress: bool = False,
) -> POCheckResult:
    """Check proportional odds, one covariate at a time, by refitting with ``cs(x)``.

    Parameters
    ----------
    fit : FittedModel
        The fit to check (any family; its covariates have one coefficient each).
    covariates : str, tuple of str, or list of them, optional
        The covariates to check, each on its own; a tuple (in the list, or alone) checks
        its covariates jointly (one refit with all of them category-specific: the sratio,
        cratio and acat families). By default (and without ``blocks``) every covariate of
        a main effect that is in no interaction and not a ``mo()`` term, one at a time.
    blocks : list of str, optional
        Blocks of the theory's factor families (the codebook's, or the specification's
        ``[blocks]``: ``"individual"``, ``"positional"``), each checked jointly: its
        covariates that can be made category-specific.
    seed : int, optional
        The refits' seed (default: the fit's).
    ci : float
        The width of the deviations' intervals.
    refit_high_k : bool
        Exact refits for rows whose Pareto k exceeds 0.7 (see
        :func:`~bayesresp.checks.comparison.compare`); off by default, the refits
        being many already. The comparisons keep the flagged rows either way.
    progress : bool
        Progress bars of the refits.

    Returns
    -------
    POCheckResult
        Per covariate: the LOO difference with its standard error, the thresholds'
        deviations, a verdict and what to do next.

    Examples
    --------
    >>> result = fit.po_check(["severity", "background"])  # doctest: +SKIP
    >>> result.deviations["severity"]  # doctest: +SKIP
    """
    from bayesresp.inference.fitting import fit as refit

    eligible = eligible_covariates(fit)
    chosen = _chosen(fit, eligible, covariates, blocks)
    has_cs = [str(t) for t in fit.spec.parsed.terms if t.cs]
    if has_cs and fit.spec.response.ordered:
        raise POCheckError(
            f"the fit already holds {', '.join(has_cs)}, and the {fit.spec.family} family "
            "takes one cs() term: check a fit without it"
        )
    varying = [str(g) for g in fit.spec.parsed.groups if g.thresholds]
    if varying and fit.spec.response.ordered:
        raise POCheckError(
            f"the fit holds {varying[0]}, whose deviations act on the ordered transform of "
            f"the thresholds, which a cs() covariate's thresholds at its levels do not share "
            f"in the {fit.spec.family} family: check a fit with (1 | "
            f"{fit.info.threshold_groups[0].label}) in its place, or fit family = 'sratio', "
            "'cratio' or 'acat'"
        )
    if fit.spec.response.ordered and fit.spec.thresholds != "flexible":
        raise POCheckError(
            f"the fit's thresholds are {fit.spec.thresholds}, and in the {fit.spec.family} "
            "family cs(x) gives each level of x thresholds of its own (flexible): the "
            "comparison would mix two changes. Check a fit with thresholds = 'flexible'"
        )
    meta = fit.meta
    settings = {
        "draws": fit.posterior.sizes["draw"],
        "tune": int(meta.get("tune", 1000)),
        "chains": fit.posterior.sizes["chain"],
        "seed": meta.get("seed") if seed is None else seed,
        "sampler": meta.get("sampler", "nutpie"),
        "target_accept": float(meta.get("target_accept", 0.9)),
        "missing": "model" if fit.info.modelled_missing else "error",
    }
    rows, deviations, fits, comparisons = [], {}, {}, {}
    for group in chosen:
        x = " + ".join(group)
        name = " + ".join(f"cs({v})" for v in group)
        other = refit(
            fit.data,
            _category_specific_spec(fit.spec, group),
            codebook=fit.codebook,
            progress=progress,
            **settings,
        )
        comparison = compare(
            {"fit": fit, name: other}, refit_high_k=refit_high_k, progress=progress
        )
        table = comparison.table
        diff = float(table.loc[name, "elpd"] - table.loc["fit", "elpd"])
        se = float(table["dse"].max())  # the lower-ranked row holds the difference's se
        if len(group) == 1:
            dev = _deviations(other, x, ci)
        else:
            dev = pd.concat({v: _deviations(other, v, ci) for v in group}, names=["covariate"])
        lo, hi = dev.columns[-2], dev.columns[-1]
        apart = int(((dev[lo] > 0) | (dev[hi] < 0)).sum())
        z = diff / se if se > 0 else float(np.sign(diff)) * np.inf if diff else 0.0
        verdict, advice = _verdict(x, diff, se, z, fit.spec.family)
        rows.append(
            {
                "covariate": x,
                "elpd_diff": diff,
                "se": se,
                "z": z,
                "apart": apart,
                "n_deviations": len(dev),
                "verdict": verdict,
                "advice": advice,
            }
        )
        deviations[x], fits[x], comparisons[x] = dev, other, comparison
    table = pd.DataFrame(rows).set_index("covariate")
    return POCheckResult(table, deviations, fits, comparisons, fit.spec.family, ci)


def _chosen(fit, eligible, covariates, blocks) -> list[tuple[str, ...]]:
    """The covariates to check, as groups (one covariate, or several checked jointly),
    each checked against what the fit holds."""
    items = [covariates] if isinstance(covariates, str | tuple) else covariates
    named_blocks = [blocks] if isinstance(blocks, str) else blocks
    if items is not None and not items or named_blocks is not None and not named_blocks:
        raise POCheckError("name at least one covariate (or block) to check, or None for all")
    groups = [(x,) if isinstance(x, str) else tuple(x) for x in items or []]
    groups += [_block_covariates(fit, eligible, b) for b in named_blocks or []]
    if not groups:
        groups = [(x,) for x, why in eligible.items() if why is None]
        if not groups:
            raise POCheckError(
                "no covariate of this fit can be made category-specific (each is in an "
                "interaction or a mo() term); check the main effects' model instead"
            )
    once: dict[frozenset, tuple[str, ...]] = {}  # each group once, whatever its order
    for g in groups:
        once.setdefault(frozenset(g), tuple(dict.fromkeys(g)))
    groups = list(once.values())
    for group in groups:
        if not group:
            raise POCheckError("an empty group of covariates: name at least one in each")
        for x in group:
            if x not in eligible:
                raise POCheckError(
                    f"'{x}' is not a covariate of the fit's common terms; those are "
                    f"{', '.join(eligible) or 'none'}"
                )
            if eligible[x] is not None:
                raise POCheckError(f"cs({x}) cannot be checked: {eligible[x]}")
        if len(group) > 1 and fit.spec.response.ordered:
            raise POCheckError(
                f"{' + '.join(group)} jointly: the {fit.spec.family} family keeps one cs() "
                "term's thresholds ordered, so it checks one covariate at a time (name them "
                "apart), or fit family = 'sratio', 'cratio' or 'acat' to check them together"
            )
    return groups


def _block_covariates(fit, eligible, block: str) -> tuple[str, ...]:
    """The covariates of a block that can be made category-specific."""
    info = fit.info
    terms = (*info.columns, *info.monotonic, *info.cs_columns)
    of_block = {t.block for t in terms}
    members = [
        x
        for x, why in eligible.items()
        if why is None and any(c.block == block and c.term == x for c in info.columns)
    ]
    if block not in of_block:
        raise POCheckError(
            f"'{block}' is not a block of the fit's terms; those are "
            f"{', '.join(sorted(of_block)) or 'none'}"
        )
    if not members:
        raise POCheckError(
            f"block '{block}' has no covariate left to make category-specific (each is "
            "already cs(), in an interaction or a mo() term)"
        )
    return tuple(members)


def _category_specific_spec(spec, group: tuple[str, ...]):
    """The specification with each of ``group``'s main effects made ``cs(x)``: their own
    prior keys dropped (the cs() model's prior is the family's for cs() terms), their
    blocks kept."""
    from bayesresp.model.spec import ModelSpec

    parsed = spec.parsed
    terms = [
        f"cs({t.names[0]})" if (len(t.vars) == 1 and t.names[0] in group) else str(t)
        for t in parsed.terms
    ]
    rhs = " + ".join(terms + [str(g) for g in parsed.groups]) or "1"
    values = spec.to_dict()
    values["formula"] = f"{parsed.outcome} ~ {rhs}"
    values["priors"] = {
        k: v
        for k, v in spec.priors.items()
        if not any(k == x or k.startswith(f"{x}[") for x in group)
    }
    blocks = dict(spec.blocks)
    for x in group:
        if x in blocks:
            blocks[f"cs({x})"] = blocks.pop(x)
    values["blocks"] = blocks
    return ModelSpec.from_dict(values)


def _apart(row, ci: float) -> str:
    """How many thresholds' deviations are apart from zero, against chance."""
    n = int(row["n_deviations"])
    return (
        f"{int(row['apart'])} of {n} threshold deviations' {ci:.0%} intervals exclude 0 "
        f"(about {(1 - ci) * n:.1f} would by chance)"
    )


def _deviations(other: FittedModel, x: str, ci: float) -> pd.DataFrame:
    """Each level's and threshold's coefficient in the cs() refit and its deviation from
    the level's average over thresholds (median and interval)."""
    info = other.info
    cols = [j for j, c in enumerate(info.cs_columns) if c.term == f"cs({x})"]
    b = other.arrays.b_cs[:, cols, :]  # (S, levels, K - 1)
    dev = b - b.mean(axis=-1, keepdims=True)
    cuts = [f"{a}|{c}" for a, c in zip(info.spectrum[:-1], info.spectrum[1:], strict=True)]
    lo, hi = (1 - ci) / 2, (1 + ci) / 2
    records = []
    for i, j in enumerate(cols):
        col = info.cs_columns[j]
        level = col.parts[0][1] if col.parts[0][1] is not None else x
        for k, cut in enumerate(cuts):
            d = dev[:, i, k]
            records.append(
                {
                    "level": level,
                    "threshold": cut,
                    "effect": float(np.median(b[:, i, k])),
                    "deviation": float(np.median(d)),
                    f"q{lo * 100:g}": float(np.quantile(d, lo)),
                    f"q{hi * 100:g}": float(np.quantile(d, hi)),
                }
            )
    return pd.DataFrame(records).set_index(["level", "threshold"])


def _verdict(x: str, diff: float, se: float, z: float, family: str) -> tuple[str, str]:
    name = " + ".join(f"cs({v})" for v in x.split(" + "))
    if diff > SMALL_ELPD and z > 2:
        where = (
            name
            if family == "cumulative"
            else f"{name} (several cs() terms fit together in the {family} family)"
        )
        return "fail", (
            f"proportional odds is doubtful for {x}: the model with {name} predicts "
            f"better (elpd {diff:+.1f}, se {se:.1f}). Read which thresholds move "
            f"(result.deviations['{x}']); if the pattern makes sense, fit {where}, or a "
            "sequential family (sratio), whose steps may differ"
        )
    if diff > 0 and z > 1:
        return "warn", (
            f"weak evidence against proportional odds for {x} (elpd {diff:+.1f}, se "
            f"{se:.1f}): keep the simpler model unless the deviations tell a story; more "
            "data, or K-fold cross-validation, would settle it"
        )
    return "ok", f"no evidence against proportional odds for {x}"
