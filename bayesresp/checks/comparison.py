"""Model comparison by PSIS-LOO (ArviZ), with exact refits where PSIS is unreliable."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayesresp.errors import ComparisonError
from bayesresp.inference.arrays import eta_from_draws
from bayesresp.inference.record import FittedModel
from bayesresp.maths.cumulative import log_prob
from bayesresp.model.design import apply_design

K_THRESHOLD = 0.7


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

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

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


def _units(fit: FittedModel) -> tuple[str, np.ndarray]:
    """The units of the fit's pointwise log-likelihood: rows, or responses (all their
    codes) under the model of coders; their dimension and labels."""
    unit = fit.info.coder_columns[0] if fit.info.coders else "row"
    return unit, fit.tree["log_likelihood"][unit].values


def _rows(fit: FittedModel) -> np.ndarray:
    return _units(fit)[1]


def compare(
    fits: dict[str, FittedModel],
    *,
    refit_high_k: bool = True,
    max_refits: int = 10,
    refit_draws: int = 500,
    folds: int | None = None,
) -> ComparisonResult:
    """Compare fits of the same data by PSIS-LOO.

    Parameters
    ----------
    fits : dict of name -> FittedModel
    refit_high_k : bool
        Where a row's Pareto k exceeds 0.7, refit the model without that row and use the
        exact LOO term instead of the PSIS estimate (at most ``max_refits`` rows per
        model). With more, ``folds=K`` replaces that model's PSIS-LOO by K-fold
        cross-validation (K refits); without it, a warning recommends doing so.

    Examples
    --------
    >>> bayesresp.compare({"baseline": fit_b, "hierarchical": fit_h})  # doctest: +SKIP
    """
    if len(fits) < 2:
        raise ComparisonError("compare needs at least two fits")
    names = list(fits)
    unit, first = _units(fits[names[0]])
    observed = fits[names[0]].tree["observed_data"].to_dataset()
    for n in names[1:]:
        if _units(fits[n])[0] != unit:
            coded = n if fits[n].info.coders else names[0]
            raise ComparisonError(
                f"'{coded}' models the coders (one LOO term per response, all its codes), "
                "the other fits each row as a response: their terms are of different "
                "units; fit both with the same coders setting ('model' or 'rows')"
            )
        same_y = observed.equals(fits[n].tree["observed_data"].to_dataset())
        if not np.array_equal(_rows(fits[n]), first) or not same_y:
            raise ComparisonError(
                f"'{n}' was fitted to other rows than '{names[0]}'; LOO "
                "compares fits of the same data only"
            )
    loos, flagged, refitted, notes = {}, {}, {}, []
    for name, fit in fits.items():
        loo = fit.loo()
        k = np.asarray(loo.pareto_k).ravel()
        # ArviZ's threshold, min(1 - 1/log10(S), 0.7), is stricter for few draws.
        bad = np.flatnonzero(k > min(K_THRESHOLD, float(loo.good_k)))
        flagged[name] = pd.DataFrame({"row": first[bad], "pareto_k": k[bad]})
        if bad.size and refit_high_k and fit.info.coders:
            msg = (
                f"{name}: {bad.size} responses have Pareto k > {K_THRESHOLD}; exact "
                "refits of the model of coders are not available yet, so their PSIS "
                "terms are kept"
            )
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
        elif bad.size and refit_high_k:
            if bad.size <= max_refits:
                loo = _exact_loo(fit, loo, bad, refit_draws)
                refitted[name] = list(first[bad])
            elif folds:
                loo = kfold(fit, loo, k=folds, draws=refit_draws)
                refitted[name] = list(first)
                notes.append(
                    f"{name}: {bad.size} rows have Pareto k > {K_THRESHOLD}; its "
                    f"elpd comes from {folds}-fold cross-validation instead"
                )
            else:
                msg = (
                    f"{name}: {bad.size} rows have Pareto k > {K_THRESHOLD}; PSIS-LOO is "
                    "unreliable for this model: use K-fold cross-validation (folds=10)"
                )
                notes.append(msg)
                warnings.warn(msg, UserWarning, stacklevel=2)
        loos[name] = loo
    table = az.compare(loos, round_to="none")
    return ComparisonResult(table, loos, flagged, refitted, notes)


def _heldout_elpd(fit: FittedModel, test: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """log p(y_i | data without ``test``) for each row in ``test``, by refitting.

    The refit uses the full data's coding recipe: a level only the held-out rows have
    keeps its column (its coefficient then rests on the prior) instead of silently
    turning into the reference level. Groups the training rows lack are drawn as new.
    """
    from bayesresp.inference.fitting import fit_design
    from bayesresp.inference.sampling import SamplerSettings

    train = fit.data.drop(index=fit.data.index[test])
    settings = SamplerSettings.from_meta(
        fit.meta,
        draws=draws,
        tune=draws,
        chains=fit.posterior.sizes["chain"],
        seed=seed,
        progress=False,
        # The original fit's path: PyMC's graph stays PyMC's graph, and a fit that was
        # not centred is not centred (centring is chosen afresh otherwise: the training
        # rows may lack a level, which rules it out).
        kernel=False if fit.meta.get("log_density") == "pytensor" else None,
        centring=None if fit.meta.get("centred") else False,
    )
    with warnings.catch_warnings():  # the full data's recipe: the fit has said it already
        warnings.simplefilter("ignore", UserWarning)
        f = fit_design(apply_design(fit.info, train), train, fit.spec, fit.codebook, settings)
    design = apply_design(f.info, fit.data.iloc[test])
    out = np.empty(len(test))
    for j in range(len(test)):
        one = apply_design(f.info, fit.data.iloc[[test[j]]])
        modes = {g: ("known" if one.group_index[g][0] >= 0 else "new") for g in one.group_index}
        eta = eta_from_draws(f.arrays, one, modes, np.random.default_rng(seed + j))
        ll = log_prob(one.y, eta, f.arrays.cutpoints, f.spec.link, y_high=one.y_high)[:, 0]
        out[j] = logsumexp(ll) - np.log(len(ll))
    del design
    return out


def _replace_terms(fit: FittedModel, loo: Any, rows: np.ndarray, values: np.ndarray) -> Any:
    """Put exact held-out terms into a PSIS-LOO result and recompute its totals."""
    elpd_i = np.asarray(loo.elpd_i).ravel().copy()
    elpd_i[rows] = values
    shape = np.shape(loo.elpd_i)
    loo.elpd_i = type(loo.elpd_i)(
        elpd_i.reshape(shape), coords=loo.elpd_i.coords, dims=loo.elpd_i.dims
    )
    k = np.asarray(loo.pareto_k).ravel().copy()
    k[rows] = 0.0  # exact now
    loo.pareto_k = type(loo.pareto_k)(
        k.reshape(shape), coords=loo.pareto_k.coords, dims=loo.pareto_k.dims
    )
    ll = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(-1, len(elpd_i))
    lppd = float(logsumexp(ll, axis=0).sum() - len(elpd_i) * np.log(ll.shape[0]))
    loo.elpd = float(elpd_i.sum())
    loo.se = float(np.sqrt(len(elpd_i) * np.var(elpd_i)))
    loo.p = lppd - loo.elpd
    loo.warning = False
    return loo


def _exact_loo(fit: FittedModel, loo: Any, rows: np.ndarray, draws: int) -> Any:
    """Replace the PSIS terms of ``rows`` by exact leave-one-out refits."""
    seed = int(fit.meta.get("seed", 0))
    values = np.array([_heldout_elpd(fit, np.array([i]), draws, seed + int(i))[0] for i in rows])
    return _replace_terms(fit, loo, rows, values)


def kfold(fit: FittedModel, loo: Any, k: int = 10, draws: int = 500, seed: int = 0) -> Any:
    """K-fold cross-validation: every row's term from a refit without its fold.

    Folds are a random partition of the rows (seeded). Returned in the form of the PSIS
    result it replaces, so that ArviZ's comparison reads it.
    """
    n = len(fit.data)
    folds = np.random.default_rng(seed).permutation(n) % k
    values = np.empty(n)
    for f in range(k):
        test = np.flatnonzero(folds == f)
        values[test] = _heldout_elpd(fit, test, draws, seed + 1000 * (f + 1))
    return _replace_terms(fit, loo, np.arange(n), values)
