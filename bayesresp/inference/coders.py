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

from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws
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
    """The design's rows that carry each response's covariates (one per response)."""
    idx = design.coders.first
    return Design(
        design.info,
        design.X[idx],
        design.mono[idx],
        {k: v[idx] for k, v in design.group_index.items()},
        {k: v[idx] for k, v in design.group_Z.items()},
    )


def _chunks(S: int, step: int):
    for start in range(0, S, step):
        yield slice(start, min(start + step, S))


def response_log_likelihood(
    design: Design, draws: PosteriorArrays, posterior: xr.Dataset, link: str
) -> np.ndarray:
    """log p(codes of r | draw) for each draw and response: shape (S, n_responses)."""
    coders = design.coders
    K = len(design.info.spectrum)
    eta = eta_from_draws(draws, response_rows(design), "known")
    leniency, spread = coder_draws(posterior)
    out = np.empty((draws.n_draws, coders.n_responses))
    for part in _chunks(draws.n_draws, chunk_of(design.n, K)):
        levels = log_levels(eta[part], draws.cutpoints[part], link, K)
        codes = log_codes(
            log_reading(leniency[part], spread[part], K), coders.coder, design.y, design.y_high
        )
        out[part] = response_log_lik(levels, codes, coders.response, coders.n_responses)
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

    def unit_log_lik(eta: np.ndarray, which: np.ndarray) -> np.ndarray:
        levels = log_levels(eta, draws.cutpoints[which], link, K)
        return logsumexp(levels + summed[which], axis=-1)

    return response_rows(design), unit_log_lik
