"""Model comparison by PSIS-LOO (ArviZ), with exact refits where PSIS is unreliable."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayesresp.design import apply_design
from bayesresp.draws import eta_from_draws
from bayesresp.errors import BayesrespError
from bayesresp.maths import log_prob

if TYPE_CHECKING:
    from bayesresp.results import Fit

K_THRESHOLD = 0.7


class ComparisonError(BayesrespError):
    """Fits that cannot be compared (different data, fewer than two)."""


@dataclass
class ComparisonResult:
    """PSIS-LOO comparison.

    ``table``: ArviZ's comparison (rank, elpd, se, elpd_diff, dse, weight by stacking, ...).
    ``flagged``: per model, the rows whose Pareto k exceeds 0.7 (PSIS unreliable there).
    ``refitted``: per model, the rows whose LOO term was computed exactly by refitting
    the model without them.
    """

    table: pd.DataFrame
    loos: dict[str, Any]
    flagged: dict[str, pd.DataFrame]
    refitted: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        cols = [
            c
            for c in ("rank", "elpd", "se", "elpd_diff", "dse", "p", "weight")
            if c in self.table.columns
        ]
        text = self.table[cols].to_string(float_format=lambda x: f"{x:.2f}")
        flags = [
            f"{m}: {len(f)} row(s) with Pareto k > {K_THRESHOLD}"
            + (f", {len(self.refitted.get(m, []))} refitted exactly" if m in self.refitted else "")
            for m, f in self.flagged.items()
            if len(f)
        ]
        return "\n".join(
            [
                "PSIS-LOO comparison (higher elpd is better):",
                text,
                *flags,
                *[f"note: {n}" for n in self.notes],
            ]
        )

    def _repr_html_(self) -> str:
        return "<p><b>PSIS-LOO comparison</b></p>" + self.table.to_html(float_format="%.2f")


def _rows(fit: Fit) -> np.ndarray:
    return fit.tree["log_likelihood"]["row"].values


def compare(
    fits: dict[str, Fit], *, refit_high_k: bool = True, max_refits: int = 10, refit_draws: int = 500
) -> ComparisonResult:
    """Compare fits of the same data by PSIS-LOO.

    Parameters
    ----------
    fits : dict of name -> Fit
    refit_high_k : bool
        Where a row's Pareto k exceeds 0.7, refit the model without that row and use the
        exact LOO term instead of the PSIS estimate (at most ``max_refits`` rows per
        model; with more, a warning recommends K-fold cross-validation).

    Examples
    --------
    >>> bayesresp.compare({"baseline": fit_b, "hierarchical": fit_h})  # doctest: +SKIP
    """
    if len(fits) < 2:
        raise ComparisonError("compare needs at least two fits")
    names = list(fits)
    first = _rows(fits[names[0]])
    for n in names[1:]:
        if not np.array_equal(_rows(fits[n]), first):
            raise ComparisonError(
                f"'{n}' was fitted to other rows than '{names[0]}'; LOO "
                "compares fits of the same data only"
            )
    loos, flagged, refitted, notes = {}, {}, {}, []
    for name, fit in fits.items():
        loo = fit.loo()
        k = np.asarray(loo.pareto_k).ravel()
        bad = np.flatnonzero(k > K_THRESHOLD)
        flagged[name] = pd.DataFrame({"row": first[bad], "pareto_k": k[bad]})
        if bad.size and refit_high_k:
            if bad.size <= max_refits:
                loo = _exact_loo(fit, loo, bad, refit_draws)
                refitted[name] = list(first[bad])
            else:
                msg = (
                    f"{name}: {bad.size} rows have Pareto k > {K_THRESHOLD}; PSIS-LOO is "
                    "unreliable for this model: use K-fold cross-validation"
                )
                notes.append(msg)
                warnings.warn(msg, UserWarning, stacklevel=2)
        loos[name] = loo
    table = az.compare(loos, round_to="none")
    return ComparisonResult(table, loos, flagged, refitted, notes)


def _exact_loo(fit: Fit, loo: Any, rows: np.ndarray, draws: int) -> Any:
    """Replace the PSIS terms of ``rows`` by exact leave-one-out refits."""
    from bayesresp.fitting import fit as refit

    elpd_i = np.asarray(loo.elpd_i).ravel().copy()
    for i in rows:
        train = fit.data.drop(index=fit.data.index[i])
        held = fit.data.iloc[[i]]
        f = refit(
            train,
            fit.spec,
            codebook=fit.codebook,
            draws=draws,
            tune=draws,
            chains=fit.posterior.sizes["chain"],
            seed=int(fit.meta.get("seed", 0)) + int(i),
            sampler=fit.meta.get("sampler", "nutpie"),
            progress=False,
        )
        design = apply_design(f.info, held)
        modes = {
            g: ("known" if design.group_index[g][0] >= 0 else "new") for g in design.group_index
        }
        eta = eta_from_draws(f.draws, design, modes, np.random.default_rng(int(i)))
        ll = log_prob(design.y, eta, f.draws.cutpoints, f.spec.link)[:, 0]
        elpd_i[i] = logsumexp(ll) - np.log(len(ll))
    shape = np.shape(loo.elpd_i)
    loo.elpd_i = type(loo.elpd_i)(
        elpd_i.reshape(shape), coords=loo.elpd_i.coords, dims=loo.elpd_i.dims
    )
    k = np.asarray(loo.pareto_k).ravel().copy()
    k[rows] = 0.0  # exact now
    loo.pareto_k = type(loo.pareto_k)(
        k.reshape(shape), coords=loo.pareto_k.coords, dims=loo.pareto_k.dims
    )
    loo.elpd = float(elpd_i.sum())
    loo.se = float(np.sqrt(len(elpd_i) * np.var(elpd_i)))
    return loo
