"""The linear predictor, one body for NumPy and PyTensor.

``eta = X b + sum_m b_mo[m] * steps_m[x_m] + sum_g sum_q Z_g[:, q] r_g[group, q]``

with ``steps_m = [0, cumsum(simplex_m)]`` the cumulative share of a monotonic effect at
each level of its ordinal covariate (0 at the lowest, 1 at the highest), and ``r_g`` the
group effects of each row's group. The PyMC model calls it with tensors (one parameter
vector: ``b`` (p,) gives ``eta`` (n,)); predictions from posterior draws, the variance
decomposition and the simulator with arrays (``b`` (S, p) gives ``eta`` (S, n)). Choosing
each row's group effects (the estimated ones, fresh draws for unseen groups, zero) is the
caller's: they arrive here gathered, one ``(Z, r)`` pair per group term.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bayesresp.maths.ops import NUMPY


def monotonic_steps(simplex, xp=NUMPY):
    """``[0, s_1, s_1 + s_2, ..., 1]`` along the last axis: a monotonic effect's share at
    each level, from its simplex of increments."""
    return xp.concatenate([xp.zeros_like(simplex[..., :1]), xp.cumsum(simplex, axis=-1)], axis=-1)


def linear_predictor(
    X,
    b,
    *,
    mono=None,
    b_mo=None,
    simplexes: Sequence = (),
    groups: Iterable[tuple] = (),
    xp=NUMPY,
):
    """``eta`` for every row (and draw).

    Parameters
    ----------
    X : (n, p) design; ``b`` : (p,) or (S, p) coefficients, or None when p = 0.
    mono : (n, m) level codes of the monotonic terms; ``b_mo`` (m,) or (S, m) their total
        effects; ``simplexes`` their m simplexes, each (K_m - 1,) or (S, K_m - 1).
    groups : pairs ``(Z, r)``: a group term's (n, q) columns and its effects gathered for
        the rows, (n, q) or (S, n, q).
    """
    eta = 0.0 if b is None else xp.dot(b, X.T)
    for j, simplex in enumerate(simplexes):
        steps = monotonic_steps(simplex, xp)
        eta = eta + b_mo[..., j, None] * steps[..., mono[:, j]]
    for Z, r in groups:
        eta = eta + (Z * r).sum(axis=-1)
    return eta
