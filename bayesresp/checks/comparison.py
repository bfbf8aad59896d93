"""Model comparison by PSIS-LOO (ArviZ), with exact refits where PSIS is unreliable, and
by leave-one-group-out cross-validation (``folds="mission"``): how well each model
predicts a new mission."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from bayesresp.errors import ComparisonError
from bayesresp.inference.arrays import (
    eta_and_fresh,
    integrate_fresh,
    row_thresholds,
    thresholds_from_draws,
)
from bayesresp.inference.imputation import mixed_log_lik
from bayesresp.inference.newgroups import (
    IMPORTANCE,
    bridge_log_ratio,
    held_out_units,
    integrated_log_density,
    new_levels,
)
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import apply_design

K_THRESHOLD = 0.7
#: A leave-one-group-out term whose Monte Carlo standard error exceeds this (in elpd) is
#: flagged: another seed could move it by more than it should.
TERM_SE = 0.5


@dataclass
class ComparisonResult:
    """PSIS-LOO comparison.

    ``table``: ArviZ's comparison (rank, elpd, se, elpd_diff, dse, weight by stacking, ...).
    ``flagged``: per model, the rows whose Pareto k exceeds 0.7 (PSIS unreliable there).
    ``refitted``: per model, the rows whose LOO term was computed exactly by refitting
    the model without them. ``method``: ``"PSIS-LOO"``, or for ``folds="mission"``
    ``"leave-one-mission-out"``: then ``loos`` holds K-fold results, one term per
    mission, each with ``terms`` (the table of :func:`group_kfold`), and ``flagged``
    the missions whose term is uncertain (a Pareto k above 0.7).
    """

    table: pd.DataFrame
    loos: dict[str, Any]
    flagged: dict[str, pd.DataFrame]
    refitted: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    method: str = "PSIS-LOO"

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
            if len(f) and self.method == "PSIS-LOO"  # groups' flags are in the notes
        ]
        return "\n".join(
            [
                f"{self.method} comparison (higher elpd is better):",
                text,
                *flags,
                *[f"note: {n}" for n in self.notes],
            ]
        )

    def _repr_html_(self) -> str:
        from html import escape

        notes = "".join(f"<p>{escape(n)}</p>" for n in self.notes)
        return (
            f"<p><b>{escape(self.method)} comparison</b> (higher elpd is better)</p>"
            + self.table.to_html(float_format="%.2f")
            + notes
        )


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
    folds: int | str | None = None,
    client: Any = None,
    store: str | os.PathLike | None = None,
    progress: bool = False,
) -> ComparisonResult:
    """Compare fits of the same data by PSIS-LOO, or by leave-one-group-out
    cross-validation.

    Parameters
    ----------
    fits : dict of name -> FittedModel
    refit_high_k : bool
        Where a row's Pareto k exceeds 0.7, refit the model without that row and use the
        exact LOO term instead of the PSIS estimate (at most ``max_refits`` rows per
        model). With more, ``folds=K`` replaces that model's PSIS-LOO by K-fold
        cross-validation (K refits); without it, a warning recommends doing so.
    folds : int or str, optional
        An int: as above. A grouping column (``"mission"``), or a group term of the
        models (``"mission:department"``): leave-one-group-out cross-validation for
        every model (:func:`~bayesresp.checks.comparison.group_kfold`), one refit per
        group, each group's rows predicted jointly as those of a group the model has not
        seen (the new group's effects integrated out per draw). PSIS-LOO asks how well
        a model predicts another response from the missions it knows; this asks how
        well it predicts a new mission, the question of a study that will be read about
        other missions. Terms whose estimate is uncertain are flagged with a warning
        and listed in ``flagged``.
    refit_draws : int
        Posterior draws per chain of every refit.
    client : distributed.Client, optional
        Run the refits (exact LOO, K-fold, leave-one-group-out) on this Dask cluster.
    store : path, optional
        With ``folds`` a grouping column: a folder that keeps each model's terms as
        they arrive (one store per model, in a subfolder named after it); a run started
        again with the same arguments refits only the groups not yet stored.
    progress : bool
        A progress bar of the refits.

    Examples
    --------
    >>> bayesresp.compare({"baseline": fit_b, "hierarchical": fit_h})  # doctest: +SKIP
    >>> fits = {"baseline": fit_b, "hierarchical": fit_h}  # doctest: +SKIP
    >>> bayesresp.compare(fits, folds="mission")  # doctest: +SKIP
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
    if isinstance(folds, str):
        return _compare_by_group(fits, folds, refit_draws, client, store, progress)
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
                loo = _exact_loo(fit, loo, bad, refit_draws, client)
                refitted[name] = list(first[bad])
            elif folds:
                loo = kfold(fit, loo, k=folds, draws=refit_draws, client=client)
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


def _compare_by_group(
    fits: dict[str, FittedModel], by: str, draws: int, client, store, progress
) -> ComparisonResult:
    """``compare(fits, folds=by)`` for a grouping column: leave-one-group-out."""
    import re
    from pathlib import Path

    loos = {}
    for name, fit in fits.items():
        folder = None if store is None else Path(store) / re.sub(r"[^\w.-]+", "_", name)
        loos[name] = group_kfold(
            fit, by, draws=draws, client=client, store=folder, progress=progress
        )
    n_groups = next(iter(loos.values())).n_folds
    notes = [
        f"elpd from leave-one-{by}-out cross-validation: {n_groups} refits per model, "
        f"each {by}'s responses predicted jointly, as those of a {by} the model has not "
        "seen (its effects integrated out); one pointwise term per group, so se and dse "
        f"rest on {n_groups} terms"
    ]
    flagged = {}
    for name, loo in loos.items():
        terms = loo.terms
        bad = terms[(terms["pareto_k"] > K_THRESHOLD) | (terms["mc_se"] > TERM_SE)]
        flagged[name] = bad.reset_index()
        for group, row in bad.iterrows():
            if row["pareto_k"] > K_THRESHOLD:
                why = (
                    f"the importance sampling of its {int(row['effects_integrated'])} new "
                    f"effects is unreliable (Pareto k {row['pareto_k']:.2f})"
                )
            else:
                why = (
                    f"its Monte Carlo standard error is {row['mc_se']:.2f}; more refit "
                    "draws (refit_draws) reduce it"
                )
            msg = f"{name}: the term of {by} {group} is uncertain: {why}"
            notes.append(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
    table = az.compare(loos, round_to="none")
    return ComparisonResult(table, loos, flagged, {}, notes, f"leave-one-{by}-out")


def _refit_without(fit: FittedModel, test: np.ndarray, draws: int, seed: int) -> FittedModel:
    """The fit's model refitted to its data without the rows ``test``: the same model
    conditioned on fewer rows. It keeps the full data's coding recipe (a level only the
    held-out rows have keeps its column, its coefficient then resting on the prior,
    instead of silently turning into the reference level; a group level only they have
    keeps its effect, which without rows is a draw from the estimated population of
    groups) and the full data's prior (the average case the cutpoints are placed at,
    the r2d2 scalings: :func:`bayesresp.model.graph.prior_values`), which would
    otherwise move with the rows left out."""
    from bayesresp.inference.fitting import fit_design
    from bayesresp.inference.sampling import SamplerSettings
    from bayesresp.model.graph import prior_values

    coded = bool(fit.info.coders)
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
    full = prior_values(apply_design(fit.info, fit.data, coders=coded))
    design = replace(apply_design(fit.info, train, coders=coded, own=True), prior_values=full)
    with warnings.catch_warnings():  # the full data's recipe: the fit has said it already
        warnings.simplefilter("ignore", UserWarning)
        return fit_design(design, train, fit.spec, fit.codebook, settings)


def _heldout_elpd(fit: FittedModel, test: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """log p(y_i | data without ``test``) for each row in ``test``, by refitting
    (:func:`_refit_without`); groups the training recipe lacks are drawn as new."""
    f = _refit_without(fit, test, draws, seed)
    design = apply_design(f.info, fit.data.iloc[test])
    out = np.empty(len(test))
    for j in range(len(test)):
        one = apply_design(f.info, fit.data.iloc[[test[j]]])
        modes = {g: ("known" if one.group_index[g][0] >= 0 else "new") for g in one.group_index}
        rng = np.random.default_rng(seed + j)
        eta, fresh = eta_and_fresh(f.arrays, one, modes, rng)
        cut = thresholds_from_draws(f.arrays, one, slice(None), modes, rng)

        def log_prob(e, c, one=one, cut=cut):
            high = None if one.y_high is None else one.y_high[c]
            return f.spec.response.log_prob(one.y[c], e, row_thresholds(cut, c), y_high=high)

        # a number the held-out row lacks: integrated over its model (the refit's)
        ll = integrate_fresh(log_prob, eta, fresh, log=True)
        if one.imputation is not None:  # its missing covariates summed out
            ll = mixed_log_lik(one, f.arrays, ll)
        ll = ll[:, 0]
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


def _exact_loo(fit: FittedModel, loo: Any, rows: np.ndarray, draws: int, client=None) -> Any:
    """Replace the PSIS terms of ``rows`` by exact leave-one-out refits (a batch: one
    task per row, in this process or on ``client``'s cluster)."""
    seed = int(fit.meta.get("seed", 0))
    values = _refit_batch(fit, [np.array([int(i)]) for i in rows], draws, seed, client, "exact")
    return _replace_terms(fit, loo, rows, values[rows])


def kfold(
    fit: FittedModel, loo: Any, k: int = 10, draws: int = 500, seed: int = 0, client=None
) -> Any:
    """K-fold cross-validation: every row's term from a refit without its fold.

    Folds are a random partition of the rows (seeded); the refits are a batch, one task
    per fold, in this process or on ``client``'s Dask cluster. Returned in the form of
    the PSIS result it replaces, so that ArviZ's comparison reads it.
    """
    n = len(fit.data)
    folds = np.random.default_rng(seed).permutation(n) % k
    parts = [np.flatnonzero(folds == f) for f in range(k)]
    values = _refit_batch(fit, parts, draws, seed, client, "fold")
    return _replace_terms(fit, loo, np.arange(n), values)


def _refit_batch(fit, parts, draws, seed, client, kind) -> np.ndarray:
    """Each part's held-out terms (:func:`_heldout_elpd`), one refit per part; an array
    over all rows (NaN where no part holds a row)."""
    from bayesresp.inference.batches import InProcess, run_batch

    number = {int(p[0]): f for f, p in enumerate(parts)}

    def task(part: np.ndarray) -> dict[str, Any]:
        # an exact LOO refit is seeded by its row, a fold's by its number (as before)
        f = number[int(part[0])]
        refit_seed = seed + int(part[0]) if kind == "exact" else seed + 1000 * (f + 1)
        return {"units": part, "fit": fit, "draws": draws, "seed": refit_seed}

    terms = run_batch(
        _heldout_task,
        np.concatenate(parts),
        task,
        pieces=parts,
        executor=InProcess() if client is None else None,
        client=client,
        progress=False,
        label="refits",
    )
    values = np.full(len(fit.data), np.nan)
    values[terms.index.to_numpy()] = terms["elpd"].to_numpy()
    return values


def _heldout_task(task: dict[str, Any]) -> pd.DataFrame:
    """A task of :func:`_refit_batch`: the held-out terms of its rows."""
    rows = np.asarray(task["units"])
    values = _heldout_elpd(task["fit"], rows, task["draws"], task["seed"])
    return pd.DataFrame({"elpd": values}, index=pd.Index(rows))


def group_folds(fit: FittedModel, by: str) -> tuple[np.ndarray, list[str]]:
    """Each fitted row's group under ``by`` (a column of the data, or columns joined by
    ``:`` as in a nested group term, ``"mission:department"``) and the groups' labels."""
    columns = by.split(":")
    absent = [c for c in columns if c not in fit.data]
    if absent:
        groups = [g.label for g in fit.info.groups]
        raise ComparisonError(
            f"folds={by!r}: the fitted data have no column {absent[0]!r}; give a grouping "
            "column or group term of the model"
            + (f" ({', '.join(groups)})" if groups else "")
            + ", or a number of random folds"
        )
    values = fit.data[columns]
    if values.isna().any().any():
        rows = np.flatnonzero(values.isna().any(axis=1).to_numpy())[:5] + 1
        raise ComparisonError(
            f"folds={by!r}: rows {', '.join(map(str, rows))} have no value of {by!r}"
        )
    labels = values.astype(str).agg(":".join, axis=1)
    codes, names = pd.factorize(labels, sort=True)
    if len(names) < 2:
        raise ComparisonError(f"folds={by!r}: leaving one group out needs two groups or more")
    return codes, [str(n) for n in names]


def group_kfold(
    fit: FittedModel,
    by: str,
    draws: int = 500,
    seed: int | None = None,
    importance: int = IMPORTANCE,
    *,
    client: Any = None,
    executor: Any = None,
    store: str | os.PathLike | None = None,
    progress: bool = False,
) -> Any:
    """Leave-one-group-out cross-validation: for each group (a mission), the model
    refitted without its rows predicts them jointly, as the responses of a group it has
    not seen.

    A group's term is its responses' joint predictive density,

    ``log p(y_g | y_-g) = log E[p(y_g | theta) | y_-g]``, with
    ``p(y_g | theta) = integral prod_i p(y_i | theta, u) N(u | 0, Sigma) du``:

    the effects ``u`` the training rows say nothing about (the new mission's intercept
    and slopes, its departments' and officials' effects where no other mission has them)
    are shared by the group's rows and integrated out per draw, by a Laplace
    approximation and importance sampling (:mod:`bayesresp.inference.newgroups`); the
    other groups' effects (a coder, an official seen elsewhere) are the refit's draws.
    The expectation over the refit's posterior is a bridge-sampling estimate
    (:func:`~bayesresp.inference.newgroups.bridge_log_ratio`) from the refit's draws and
    the fit's own: the refit's alone would rest on the few draws where
    ``p(y_g | theta)`` is largest (for a mission of a hundred responses, often fewer
    than ten of a thousand). Under the coders' layer the units are responses, all their
    codes together; a range (ambiguous code) counts as ``P(low <= y <= high)``.

    The refits are a batch (:mod:`bayesresp.inference.batches`): in this process, one
    after the other, by default; on a Dask cluster with ``client=``; and with ``store=``
    each group's term is written as it arrives, so that a run started again with the
    same arguments refits only the groups not yet stored.

    Parameters
    ----------
    by : str
        A grouping column, or columns joined by ``:`` (``"mission:department"``).
    draws : int
        Posterior draws per chain of each refit.
    importance : int
        Importance draws of the new effects per posterior draw.
    client, executor, store, progress
        Where the refits run, and the batch's store (above).

    Returns
    -------
    ArviZ's K-fold result (``elpd_i`` and ``p_kfold_i``, one term per group, labelled by
    it), which :func:`arviz.compare` reads, with ``terms``: a table per group of its
    units, the effects integrated out, the Pareto k of the importance weights
    (``pareto_k``: is each integral over the new effects reliable? above 0.7 it is not)
    and the term's Monte Carlo standard error (``mc_se``, in elpd: the bridge's, from
    the effective sample sizes of both fits' draws, and the integrals').
    """
    import xarray as xr
    from arviz_stats.utils import ELPDDataLOOKFold

    from bayesresp.inference.batches import BatchStore, InProcess, run_batch, versions

    if fit.info.modelled_missing:
        raise ComparisonError(
            "leave-one-group-out cross-validation does not yet cover a fit whose missing "
            "covariates are modelled (missing='model': "
            + ", ".join(fit.info.modelled_missing)
            + "); compare such fits by PSIS-LOO or K-fold (folds=K)"
        )
    if fit.info.threshold_groups:
        raise ComparisonError(
            "leave-one-group-out cross-validation does not yet cover thresholds varying by "
            f"group ((cs(1) | {fit.info.threshold_groups[0].label}): a new group's deviations "
            "are not one shift of the linear predictor, which its integral over them "
            "assumes); compare such fits by PSIS-LOO or K-fold (folds=K)"
        )
    codes, names = group_folds(fit, by)
    seed = int(fit.meta.get("seed", 0)) if seed is None else seed
    settings = {
        "kind": "leave-one-group-out",
        "versions": versions(),
        "fit": _fit_hash(fit),
        "by": by,
        "draws": int(draws),
        "seed": int(seed),
        "importance": int(importance),
    }
    batch = BatchStore(store, settings) if store is not None else None

    def task(part: np.ndarray) -> dict[str, Any]:
        g = int(part[0])
        return {
            "units": part,
            "fit": fit,
            "test": np.flatnonzero(codes == g),
            "draws": draws,
            "seed": seed,
            "importance": importance,
        }

    if executor is None and client is None:
        executor = InProcess()
    terms = run_batch(
        _group_term,
        np.arange(len(names)),
        task,
        pieces=len(names),
        store=batch,
        executor=executor,
        client=client,
        progress=progress,
        label=f"leave-one-{by}-out refits",
    )
    elpd, lppd = terms["elpd"].to_numpy(), terms["lppd"].to_numpy()
    table = terms.drop(columns=["elpd", "lppd"])
    table.index = pd.Index(names, name=by)
    table["units"] = table["units"].astype(int)
    table["effects_integrated"] = table["effects_integrated"].astype(int)
    dim = by.replace(":", "_")
    coords = {dim: names}
    result = ELPDDataLOOKFold(
        elpd=float(elpd.sum()),
        se=float(np.sqrt(len(elpd) * np.var(elpd))),
        p=float((lppd - elpd).sum()),
        n_samples=int(fit.posterior.sizes["chain"] * fit.posterior.sizes["draw"]),
        n_data_points=len(names),
        scale="log",
        warning=False,
        good_k=K_THRESHOLD,
        elpd_i=xr.DataArray(elpd, dims=[dim], coords=coords),
        pareto_k=None,
        n_folds=len(names),
        p_kfold_i=xr.DataArray(lppd - elpd, dims=[dim], coords=coords),
    )
    result.terms = table
    return result


def _fit_hash(fit: FittedModel) -> str:
    """SHA-256 of what a fit's cross-validation depends on: its data, specification,
    codebook, and posterior draws."""
    import hashlib
    import json

    from bayesresp.inference.batches import frame_hash

    digest = hashlib.sha256(frame_hash(fit.data).encode())
    digest.update(json.dumps(fit.spec.to_dict(), sort_keys=True, default=str).encode())
    digest.update(json.dumps(fit.codebook.to_dict(), sort_keys=True, default=str).encode())
    posterior = fit.posterior
    for name in sorted(posterior.data_vars):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(posterior[name].values).tobytes())
    return digest.hexdigest()


def _group_term(task: dict[str, Any]) -> pd.DataFrame:
    """One group's leave-one-group-out term (a task of :func:`group_kfold`): refit
    without it, integrate, bridge. One row, labelled by the group's number."""
    fit, test, seed = task["fit"], task["test"], task["seed"]
    g = int(task["units"][0])
    unit, labels = _units(fit)
    ll_fit = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(-1, len(labels))
    coded = bool(fit.info.coders)
    f = _refit_without(fit, test, task["draws"], seed + 1000 * (g + 1))
    design = apply_design(f.info, fit.data.iloc[test], coders=coded)
    train = apply_design(f.info, fit.data.drop(index=fit.data.index[test]))
    new = new_levels(train, design)
    rng = np.random.default_rng([seed, g])
    got = {}  # p(y_g | theta) per draw of the refit (1) and of the fit (2)
    for which, source in ((1, f), (2, fit)):
        units, unit_log_lik = held_out_units(
            design, source.arrays, source.posterior, fit.spec.response
        )
        got[which] = integrated_log_density(
            source.arrays, units, unit_log_lik, new, importance=task["importance"], rng=rng
        )
    chains = (f.posterior.sizes["chain"], fit.posterior.sizes["chain"])
    elpd, bridge_se = bridge_log_ratio(got[1].per_draw, got[2].per_draw, chains)
    mine = pd.Index(labels.astype(str)).get_indexer(list(design.coders.labels)) if coded else test
    lppd = logsumexp(ll_fit[:, mine].sum(axis=1)) - np.log(ll_fit.shape[0])
    row = {
        "elpd": elpd,
        "lppd": float(lppd),
        "units": float(units.n),
        "effects_integrated": float(got[1].dims),
        "pareto_k": float(np.fmax(got[1].pareto_k, got[2].pareto_k)),
        "mc_se": float(np.sqrt(bridge_se**2 + got[1].mc_se ** 2 + got[2].mc_se ** 2)),
    }
    return pd.DataFrame(row, index=pd.Index([g], name="group"))
