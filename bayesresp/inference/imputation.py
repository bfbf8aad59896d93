"""Missing covariates from posterior draws (NumPy): each row's log-likelihood with its
missing levels summed out (what a fit with ``missing="model"`` stores for LOO), the
copies' weights (the covariates' predictive or posterior distribution per row), and
predictions mixed over them.

The maths is :mod:`bayesresp.maths.missing`, the same functions the PyMC model evaluates
(there with ``xp=TENSOR``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayesresp.inference.arrays import (
    PosteriorArrays,
    eta_and_fresh,
    integrate_fresh,
    row_thresholds,
    thresholds_from_draws,
)
from bayesresp.inference.kernel import log_likelihood
from bayesresp.maths.families import get_family
from bayesresp.maths.missing import (
    copy_log_weights,
    covariate_log_probs,
    pick_levels,
    row_mixture,
)
from bayesresp.model.design import Design, predictor_values


def covariate_log_probs_of(
    design: Design, draws: PosteriorArrays, j: int, groups=None, rng=None, shared_new=False
) -> np.ndarray:
    """``log P(x = l)`` of imputed covariate ``j`` for every draw, row and level under its
    own model: (S, n_rows, L).

    Its group effects follow the group term's mode in ``groups`` (as in
    :func:`bayesresp.inference.arrays.eta_from_draws`; ``known`` by default): ``known``,
    the row's group's effects (a group the fit has not seen: their mean, zero);
    ``new``, a fresh draw from their estimated population per row and draw (one per
    draw with ``shared_new``); ``average``, zero."""
    info, imp = design.info, design.imputation
    m = info.imputed[j]
    a, coef, r, sd = draws.missing[m.var]
    first = imp.first
    predictors = predictor_values(design, m, first)
    effects = None
    mode = (groups if isinstance(groups, str) else (groups or {}).get(m.group)) or "known"
    if r is not None and mode == "known":
        idx = design.group_index[m.group][first]
        effects = r[:, np.maximum(idx, 0), :] * (idx >= 0)[None, :, None]
    elif r is not None and mode == "new":
        rng = np.random.default_rng() if rng is None else rng
        rows = 1 if shared_new else imp.n_rows
        z = rng.standard_normal((draws.n_draws, rows, r.shape[-1]))
        effects = z * sd[:, None, None]
    return covariate_log_probs(a, coef, predictors, effects)


def level_log_probs(
    design: Design, draws: PosteriorArrays, groups=None, rng=None, shared_new=False
) -> np.ndarray:
    """Each copy's log-probability of the levels it gives its row's missing cells:
    (S, n_copies) (zero for a complete row's one copy); ``groups``, ``rng`` and
    ``shared_new`` as in :func:`covariate_log_probs_of`."""
    imp = design.imputation
    out = np.zeros((draws.n_draws, len(imp.row)))
    for j in range(len(design.info.imputed)):
        lp = covariate_log_probs_of(design, draws, j, groups, rng, shared_new)
        picked = lp[:, imp.row, imp.levels[:, j]]  # (S, n_copies), not (S, n_copies, L)
        out += np.where(imp.missing[imp.row, j], picked, 0.0)
    return out


def row_log_likelihood(design: Design, draws: PosteriorArrays, link: str) -> np.ndarray:
    """Each row's log-likelihood of its outcome, its missing covariates summed out:
    ``log p(y_i | observed covariates)``, (S, n_rows)."""
    return mixed_log_lik(design, draws, log_likelihood(design, draws, link))


def mixed_log_lik(design: Design, draws: PosteriorArrays, copy_log_lik: np.ndarray) -> np.ndarray:
    """Rows' log-likelihoods from their copies' (S, n_copies): the copies' outcome terms
    weighted by the probabilities of their levels and summed, (S, n_rows)."""
    imp = design.imputation
    terms = level_log_probs(design, draws) + copy_log_lik
    return row_mixture(terms, imp.slots, imp.mask)


def observed_log_probs(
    design: Design, draws: PosteriorArrays, units: np.ndarray | None = None
) -> np.ndarray:
    """The log-probability of every observed cell of the imputed covariates under their
    own models, summed over the rows ``units`` (all; under the coders' layer each
    response's first code): (S,), the other part of the joint log-likelihood the model
    samples, beside :func:`row_log_likelihood`."""
    imp = design.imputation
    counted = np.zeros(imp.n_rows, dtype=bool)
    counted[np.arange(imp.n_rows) if units is None else units] = True
    out = np.zeros(draws.n_draws)
    for j in range(len(design.info.imputed)):
        lp = covariate_log_probs_of(design, draws, j)  # (S, n_rows, L)
        seen = ~imp.missing[:, j] & counted
        out += pick_levels(lp, imp.levels[imp.first, j])[:, seen].sum(axis=1)
    return out


def copy_weights(
    design: Design,
    draws: PosteriorArrays,
    link: str | None = None,
    groups=None,
    rng=None,
    shared_new: bool = False,
) -> np.ndarray:
    """Each copy's probability within its row, (S, n_copies): the covariates' predictive
    distribution (``link`` None: what the covariates' own models say, for hypothetical
    rows), or their posterior given the row's outcome (``link`` given: for fitted rows).
    ``groups``, ``rng``, ``shared_new``: the group effects of the covariates' models
    (:func:`covariate_log_probs_of`)."""
    imp = design.imputation
    terms = level_log_probs(design, draws, groups, rng, shared_new)
    if link is not None:
        terms = terms + log_likelihood(design, draws, link)
    return np.exp(copy_log_weights(terms, imp.slots, imp.mask, imp.row))


def mix(values: np.ndarray, design: Design, weights: np.ndarray) -> np.ndarray:
    """Per-copy values (S, n_copies, ...) mixed into per-row values (S, n_rows, ...) with
    the copies' weights (S, n_copies)."""
    imp = design.imputation
    w = weights.reshape(weights.shape + (1,) * (values.ndim - 2))
    out = np.zeros((values.shape[0], imp.n_rows, *values.shape[2:]))
    np.add.at(np.moveaxis(out, 1, 0), imp.row, np.moveaxis(values * w, 1, 0))
    return out


def imputed_probabilities(
    design: Design,
    draws: PosteriorArrays,
    link: str,
    ci: float = 0.9,
    log_terms: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The posterior probability of each level of each missing cell of the fitted rows,
    given everything the row says (its outcome too): one row per cell and level (``row``
    0-based), with the posterior mean and the draws' central ``ci`` interval.

    ``log_terms`` (S, n_copies): each copy's log-probability of its levels plus its
    outcome's log-likelihood, where the outcome is not the row's own code (under the
    coders' layer, all the codes of its response); by default the row's own outcome.
    ``rows``: report these rows only (the first code of each response)."""
    imp, info = design.imputation, design.info
    if log_terms is None:
        log_terms = level_log_probs(design, draws) + log_likelihood(design, draws, link)
    w = np.exp(copy_log_weights(log_terms, imp.slots, imp.mask, imp.row))  # (S, n_copies)
    records = []
    for j, m in enumerate(info.imputed):
        lacking = np.flatnonzero(imp.missing[:, j])
        if rows is not None:
            lacking = np.intersect1d(lacking, rows)
        if lacking.size == 0:
            continue
        p = np.stack(  # (S, rows, L): the copies' weights summed per row and level
            [
                _row_sums(w * (imp.levels[:, j] == lv), design)[:, lacking]
                for lv in range(len(m.levels))
            ],
            axis=-1,
        )
        mean = p.mean(axis=0)
        lo, hi = np.quantile(p, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
        for k, row in enumerate(lacking):
            for lv, level in enumerate(m.levels):
                records.append((int(row), m.var, level, mean[k, lv], lo[k, lv], hi[k, lv]))
    a = (1 - ci) / 2 * 100
    names = [f"q{a:g}", f"q{100 - a:g}"]
    return pd.DataFrame(records, columns=["row", "variable", "level", "probability", *names])


def _row_sums(values: np.ndarray, design: Design) -> np.ndarray:
    """Per-copy values (S, n_copies) summed per row: (S, n_rows)."""
    imp = design.imputation
    out = np.zeros((values.shape[0], imp.n_rows))
    np.add.at(out.T, imp.row, values.T)
    return out


def row_probabilities(
    draws: PosteriorArrays,
    design: Design,
    link: str,
    groups: str | dict[str, str] = "known",
    rng: np.random.Generator | None = None,
    shared_new: bool = False,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's probability of every level, per draw: (S, n_rows, K).

    ``weights`` (S, n_copies): the copies' weights to mix with, in place of the
    covariates' predictive ones (:func:`held_weights`: a counterfactual keeps the actual
    rows' distribution of their missing levels).

    A row lacking a latent number (not one of the fitted rows' cells: a profile leaving
    it unknown) has its probabilities averaged over the number's model for that row and
    draw (:func:`~bayesresp.inference.arrays.integrate_fresh`), as a missing level's are
    over its covariate's model.

    For a design of copies (rows lacking imputed covariates), the copies' probabilities
    mixed with the covariates' predictive weights (their own models, given the row's
    observed covariates and group, not its outcome): ``sum_l P(x = l) P(y = k | x = l)``;
    the covariates' models' group effects follow ``groups`` as the outcome's do (a new
    mission: fresh effects for both). Otherwise
    :func:`bayesresp.maths.cumulative.category_probs` of
    :func:`bayesresp.inference.arrays.eta_from_draws`.
    """
    eta, fresh = eta_and_fresh(draws, design, groups, rng, shared_new)
    cut = thresholds_from_draws(draws, design, slice(None), groups, rng, shared_new)
    family = get_family(link)
    # a latent number the rows lack: averaged over its model, per draw
    p = integrate_fresh(lambda e, c: family.probs(e, row_thresholds(cut, c)), eta, fresh)
    if design.imputation is None:
        return p
    if weights is None:
        weights = copy_weights(design, draws, None, groups, rng, shared_new)
    return mix(p, design, weights)


def actual_weights(design: Design, draws: PosteriorArrays, link: str) -> np.ndarray:
    """The copies' weights of actual rows: the posterior of their missing levels given
    their outcome where the rows have one (fitted or coded rows), else the covariates'
    predictive distribution."""
    return copy_weights(design, draws, link if design.y is not None else None)


def held_weights(
    before: Design, after: Design, before_weights: np.ndarray, draws: PosteriorArrays
) -> np.ndarray:
    """The copies' weights of ``after`` (the rows of ``before`` changed by an
    intervention): a row whose missing cells are the same keeps ``before``'s weights, as
    an intervention on other covariates does not move what the row's missing levels are
    likely to be; a row whose missing cells the intervention filled in (or changed) takes
    the covariates' predictive weights for what it still lacks."""
    out = copy_weights(after, draws)
    b, a = before.imputation, after.imputation
    same = (b.missing == a.missing).all(axis=1)
    out[:, a.slots[same][a.mask[same]]] = before_weights[:, b.slots[same][b.mask[same]]]
    return out
