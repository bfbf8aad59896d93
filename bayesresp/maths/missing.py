"""Missing covariates summed out, written once for NumPy and PyTensor.

A covariate with levels (nominal or ordinal) that some rows lack is given a model of its
own, a multinomial logit within each mission:

``P(x_i = l) = softmax_l(a_l + z_i' g_l + u_{m(i), l})``, ``a_0 = g_0 = u_0 = 0``

(the first level present is the reference): ``a`` the levels' intercepts, ``z_i`` the
row's fully observed covariates (their design columns), ``g`` their coefficients and
``u`` partially pooled mission effects. A row that lacks the covariate is expanded into
one **copy** per level (per combination of levels when it lacks several, which are
independent given ``z`` and the mission), and its outcome's likelihood sums over them:

``p(y_i | observed) = sum_c P(copy c) p(y_i | x = levels of c)``,

exact, since the levels are finitely many (no imputation draws, no Monte Carlo error). A
row with the covariate observed adds ``log P(x_i = observed level)``, which is what
informs the covariate's model; the outcome's term of such a row is its usual one.

A number that some rows lack (``missing="model"``) is not summed out: each missing cell
is a latent value, a parameter whose prior is the number's own model, a normal regression
on the same predictors with partially pooled mission effects
(:func:`number_means`, :func:`normal_log_density`); the observed cells inform that model.

Each function takes ``xp`` (:data:`~bayesresp.maths.ops.NUMPY` or
:data:`~bayesresp.maths.ops.TENSOR`); the NumPy form also takes leading draw dimensions.
A test ties the two.
"""

from __future__ import annotations

import numpy as np

from bayesresp.maths.ops import NUMPY, TENSOR
from bayesresp.maths.rater import _logsumexp


def covariate_log_probs(intercept, coef, predictors, effects, xp=NUMPY):
    """``log P(x = l)`` for each row and level ``l`` (the first level the reference).

    Parameters
    ----------
    intercept : array, shape (..., L - 1)
        The non-reference levels' intercepts ``a``.
    coef : array, shape (..., P, L - 1), or None
        The coefficients ``g`` of the rows' observed covariates (None: no predictors,
        ``P = 0``).
    predictors : array, shape (n, P)
        The rows' observed covariates ``z`` (design columns).
    effects : array, shape (..., n, L - 1), or None
        Each row's mission effects ``u`` (None: no group term).

    Returns
    -------
    array, shape (..., n, L)
        Each row's levels' log-probabilities (a log-softmax over the last axis).
    """
    if xp is NUMPY:
        intercept = np.asarray(intercept, float)
    logits = intercept[..., None, :]  # (..., 1, L - 1)
    if coef is not None:  # (a model without predictors passes None)
        logits = logits + (xp.asarray(predictors) @ coef)  # (..., n, L - 1)
    else:
        rows = xp.zeros_like(xp.asarray(predictors).sum(axis=-1))  # (n,): one per row
        logits = logits + rows[:, None]
    if effects is not None:
        logits = logits + effects
    full = xp.concatenate([xp.zeros_like(logits[..., :1]), logits], axis=-1)
    return full - _logsumexp(full, -1, xp)[..., None]


def pick_levels(level_lp, levels):
    """``level_lp[..., i, levels[i]]``: each row's log-probability of one level.

    ``level_lp`` (..., n, L), ``levels`` int (n,): returns (..., n)."""
    levels = np.asarray(levels)
    rows = np.arange(levels.shape[0])
    if getattr(level_lp, "ndim", 0) == 2:  # (PyTensor takes no Ellipsis here)
        return level_lp[rows, levels]
    return level_lp[..., rows, levels]


def row_mixture(log_terms, slots, mask, xp=NUMPY):
    """``log sum_{c in row} exp(log_terms[c])`` per row (its copies summed out).

    Parameters
    ----------
    log_terms : array, shape (..., n_copies)
        Each copy's log-probability of its levels plus its outcome's log-likelihood.
    slots : int array, shape (n_rows, C)
        Each row's copies (indices into the copies), padded to the widest row.
    mask : bool array, shape (n_rows, C)
        Which slots are copies (the rest is padding).

    Returns
    -------
    array, shape (..., n_rows)
    """
    picked = log_terms[..., np.asarray(slots)]  # (..., n_rows, C)
    picked = xp.where(np.asarray(mask), picked, -np.inf)
    return _logsumexp(picked, -1, xp)


def mixed_levels(level_lp, copy_lp, slots, mask, xp=NUMPY):
    """``log sum_{c in unit} P(copy c) P(xi = j | copy c)`` per unit and level ``j``: the
    distribution of a unit's true level with its missing covariates summed out (under
    the coders' layer, :mod:`bayesresp.maths.rater`, a response's true level: its codes'
    likelihood is linear in it, so summing the copies out here is exact).

    Parameters
    ----------
    level_lp : array, shape (..., n_copies, K)
        ``log P(xi = j | copy)``.
    copy_lp : array, shape (..., n_copies)
        Each copy's log-probability of its levels.
    slots, mask : arrays, shape (n_units, C)
        Each unit's copies (:func:`row_mixture`).

    Returns
    -------
    array, shape (..., n_units, K)
    """
    terms = level_lp + copy_lp[..., None]
    if xp is TENSOR:  # (no draws: one transpose)
        return row_mixture(terms.T, slots, mask, xp).T
    moved = np.moveaxis(terms, -1, -2)  # (..., K, n_copies)
    return np.moveaxis(row_mixture(moved, slots, mask, xp), -1, -2)


def copy_log_weights(log_terms, slots, mask, row, xp=NUMPY):
    """Each copy's share of its row, ``log(exp(log_terms[c]) / sum_row)``: (..., n_copies).

    With the copies' log-probabilities of their levels alone, the covariate's predictive
    distribution; with the outcome's log-likelihood added, its posterior given the row's
    outcome. ``row`` (n_copies,) is each copy's row."""
    total = row_mixture(log_terms, slots, mask, xp)
    return log_terms - total[..., np.asarray(row)]


def number_means(intercept, coef, predictors, effects, xp=NUMPY):
    """A latent number's model's mean for each row, ``a + z_i' g + u_{m(i)}`` (on the
    number's own standard scale; :class:`bayesresp.model.design.Latent`).

    ``intercept`` (...,); ``coef`` (..., P) or None; ``predictors`` (n, P); ``effects``
    (..., n) each row's group effect, or None. Returns (..., n)."""
    predictors = xp.asarray(predictors)
    mu = intercept[..., None] + xp.zeros_like(predictors.sum(axis=-1))
    if coef is not None:
        mu = mu + xp.dot(coef, predictors.T)
    if effects is not None:
        mu = mu + effects
    return mu


def normal_log_density(value, mean, sigma, xp=NUMPY):
    """``log Normal(value | mean, sigma)``, elementwise: an observed cell of a latent
    number under its model."""
    z = (value - mean) / sigma
    return -0.5 * z * z - xp.log(sigma) - 0.5 * np.log(2.0 * np.pi)


__all__ = [
    "TENSOR",
    "copy_log_weights",
    "covariate_log_probs",
    "mixed_levels",
    "normal_log_density",
    "number_means",
    "pick_levels",
    "row_mixture",
]
