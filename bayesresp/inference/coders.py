"""The coders' layer from posterior draws (NumPy): each response's log-likelihood (what
a fit stores for LOO), and the pieces the checks read (the coders' draws, the rows that
carry each response's covariates).

The maths is :mod:`bayesresp.maths.rater`, the same functions the PyMC model evaluates
(there with ``xp=TENSOR``); here they run over chunks of draws, so that the (draws x
codes x levels) arrays stay small.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from bayesresp.inference.arrays import (
    PosteriorArrays,
    eta_and_fresh,
    eta_from_draws,
    fresh_draws,
    integrate_fresh,
    row_thresholds,
    thresholds_from_draws,
)
from bayesresp.maths.rater import (
    codes_by_response,
    log_codes,
    log_levels,
    log_reading,
    response_log_lik,
)
from bayesresp.model.design import Design

#: (draw, code, level, level) cells per chunk of draws: the arrays of ranged codes and of
#: pairs of codes stay near 4 million floats (32 MB) however large the data.
CELLS = 4_000_000


def chunk_of(n: int, K: int) -> int:
    """Draws per chunk for ``n`` codes (or pairs) of ``K`` levels."""
    return max(1, CELLS // max(n * K * K, 1))


def coder_draws(posterior: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each coder's leniency and spread, flattened over chains: two (S, C) arrays."""

    def flat(name):
        da = posterior[name]
        return da.values.reshape((-1, *da.shape[2:]))

    return flat("leniency"), flat("spread")


def response_rows(design: Design) -> Design:
    """The design's rows that carry each response's covariates (one per response; for a
    design of copies, the first copy of that row)."""
    idx = design.coders.first
    if design.imputation is not None:
        idx = design.imputation.first[idx]
    return design.take(idx)


def _chunks(S: int, step: int):
    for start in range(0, S, step):
        yield slice(start, min(start + step, S))


def response_levels(design: Design, draws: PosteriorArrays, link: str):
    """``log P(xi_r = j)``, each response's true level's distribution under the model,
    as a function of a slice of draws: ``levels(part)`` is (m, n_responses, K).

    From the linear predictor of the row that carries the response's covariates; for a
    design of copies (missing covariates summed out, :mod:`bayesresp.maths.missing`)
    mixed over that row's copies with the probabilities of their levels. A latent number
    the design takes as unknown (:func:`bayesresp.model.design.unfitted`) is integrated
    out of the level probabilities (the codes' likelihood is linear in them: exact)."""
    coders, K = design.coders, len(design.info.spectrum)

    def level_probs(eta, fresh, part, rows):
        """log P(xi = j) of ``rows``' linear predictors for the draws ``part``."""
        cut = thresholds_from_draws(draws, rows, part)
        return integrate_fresh(
            lambda e, c: log_levels(e, row_thresholds(cut, c), link, K),
            eta[part],
            fresh_draws(fresh, part),
            log=True,
        )

    if design.imputation is None:
        rows = response_rows(design)
        eta, fresh = eta_and_fresh(draws, rows, "known")
        # thresholds (per row with cs() terms) chunk by chunk, as the caller asks
        return lambda part: level_probs(eta, fresh, part, rows)
    from bayesresp.inference.imputation import level_log_probs
    from bayesresp.maths.missing import mixed_levels

    imp = design.imputation
    eta, fresh = eta_and_fresh(draws, design, "known")  # every copy
    copy_lp = level_log_probs(design, draws)
    slots, mask = imp.slots[coders.first], imp.mask[coders.first]

    def levels(part):
        return mixed_levels(level_probs(eta, fresh, part, design), copy_lp[part], slots, mask)

    return levels


def response_log_likelihood(
    design: Design, draws: PosteriorArrays, posterior: xr.Dataset, link: str
) -> np.ndarray:
    """log p(codes of r | draw) for each draw and response: shape (S, n_responses)."""
    coders = design.coders
    K = len(design.info.spectrum)
    levels = response_levels(design, draws, link)
    y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    leniency, spread = coder_draws(posterior)
    out = np.empty((draws.n_draws, coders.n_responses))
    for part in _chunks(draws.n_draws, chunk_of(design.n, K)):
        codes = log_codes(log_reading(leniency[part], spread[part], K), coders.coder, y, y_high)
        out[part] = response_log_lik(levels(part), codes, coders.response, coders.n_responses)
    return out


def response_units(design: Design, draws: PosteriorArrays, posterior: xr.Dataset, link: str):
    """The responses of ``design`` as units of a likelihood in their linear predictor
    (what :func:`bayesresp.inference.newgroups.integrated_log_density` integrates): the
    rows that carry their covariates, and ``log p(codes of r | eta_r, draw)`` as a
    function of ``(eta (T, n_responses), which (T,))``.

    The codes' part, ``sum_c log P(code_rc | xi_r = j)`` per draw, response and true
    level, does not depend on ``eta``: it is computed once, and each call adds the
    levels' log-probabilities to it and sums the true level out."""
    coders = design.coders
    K = len(design.info.spectrum)
    leniency, spread = coder_draws(posterior)
    summed = np.empty((draws.n_draws, coders.n_responses, K))
    for part in _chunks(draws.n_draws, chunk_of(design.n, K)):
        reading = log_reading(leniency[part], spread[part], K)
        codes = log_codes(reading, coders.coder, design.y, design.y_high)
        summed[part] = codes_by_response(codes, coders.response, coders.n_responses)

    rows = response_rows(design)

    def unit_log_lik(eta: np.ndarray, which: np.ndarray) -> np.ndarray:
        levels = log_levels(eta, thresholds_from_draws(draws, rows, which), link, K)
        return logsumexp(levels + summed[which], axis=-1)

    return rows, unit_log_lik


def copy_log_terms(
    design: Design, draws: PosteriorArrays, posterior: xr.Dataset, link: str
) -> np.ndarray:
    """For a design of copies under the coders' layer: each copy's log-probability of
    its levels plus the log-likelihood of all its response's codes given them,
    ``log P(copy) + log sum_j P(xi = j | copy) prod_c R_c[j, code_c]``: (S, n_copies),
    whose shares within a row are the posterior of the row's missing levels given the
    response's codes (:func:`bayesresp.inference.imputation.imputed_probabilities`)."""
    from bayesresp.inference.imputation import level_log_probs

    coders, imp = design.coders, design.imputation
    K = len(design.info.spectrum)
    eta = eta_from_draws(draws, design, "known")  # every copy
    y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    leniency, spread = coder_draws(posterior)
    response = coders.response[imp.row]  # each copy's response
    out = level_log_probs(design, draws)
    for part in _chunks(draws.n_draws, chunk_of(design.n, K)):
        codes = log_codes(log_reading(leniency[part], spread[part], K), coders.coder, y, y_high)
        summed = codes_by_response(codes, coders.response, coders.n_responses)
        cut = thresholds_from_draws(draws, design, part)
        levels = log_levels(eta[part], cut, link, K)  # (m, n_copies, K)
        out[part] += logsumexp(levels + summed[:, response], axis=-1)
    return out
