"""Threshold structures, written once for NumPy and PyTensor.

Two parts. First, **how the K - 1 thresholds of the average case are parameterised**
(``thresholds = "flexible" | "equidistant"`` in a specification, brms's and clm's names),
each a small object (:class:`Flexible`, :class:`Equidistant`):

- ``flexible``: every threshold free (K - 1 parameters);
- ``equidistant``: the first and the last free, the others evenly spaced between them,
  ``c_k = c_1 + (k - 1) d`` with ``d = (c_{K-1} - c_1) / (K - 2)`` (two parameters;
  ordered when ``c_1 < c_{K-1}``). With three levels or fewer every threshold vector is
  equidistant, and the structure is the flexible one.

The equidistant model's two free thresholds get the prior the flexible model gives them:
their marginal under its prior, so choosing a structure does not also choose another
prior for the ends of the spectrum. Under the induced Dirichlet that marginal is written
by each family (:meth:`bayesresp.maths.families.Family.log_end_prior`); under a normal
prior it is the density of the smallest and largest of K - 1 normal draws in the
cumulative family (whose flexible prior is sorted normals: :func:`sorted_normal_ends`),
two independent normals in the others. Draws come from the flexible prior, keeping
the ends: exact by construction, and a test ties them to the densities.

Second, **category-specific effects with ordered thresholds**: the vertex
parameterisation of the cumulative family's ``cs()``.
With category-specific columns ``x`` (J of them) a row's thresholds are linear in ``x``,

``c(x) = cbar - (x - xbar) B``,

with ``cbar`` the thresholds of the average case ``xbar`` (K - 1 values) and ``B`` the
coefficients (J x (K - 1), one per column and threshold). The cumulative family needs
``c(x)`` ordered for every row, and free ``B`` do not give that: a row far enough from
``xbar`` gets crossed thresholds and a negative probability (brms fits such models and
leaves the crossing to the sampler's rejections).

Ordered thresholds on a whole region follow from ordered thresholds at its corners:
``c(x)`` is affine in ``x``, so on the simplex spanned by J + 1 vertices ``v_0 .. v_J``
it is the barycentric mix ``sum_j lambda_j(x) c(v_j)`` of the thresholds at the
vertices, and a convex combination of ordered vectors is ordered. The model therefore
samples the thresholds at the vertices, ``T_j = c(v_j)``, each an ordered vector, and
reads ``cbar`` and ``B`` from them (an invertible linear map,
:meth:`Simplex.from_vertices`; :meth:`Simplex.to_vertices` is its inverse):

- a factor's dummy columns (J levels besides the reference): the vertices are the
  levels themselves (the reference at 0, level j at the unit vector e_j), so every level
  has its own ordered thresholds: the saturated model of clm's ``nominal = ~ x``;
- one number: the vertices are its smallest and largest value in the fitting data, and
  the thresholds are ordered for every value between them (beyond them a prediction is
  refused: :meth:`Simplex.contains`).

Several cs() covariates at once span a box, not a simplex; the cumulative family takes
one (the sequential and adjacent-category families, whose thresholds need no order, take
any number).

Third, **thresholds varying by group** (``(cs(1) | mission)``): each level ``g`` of the
group has deviations ``r_g`` (K - 1 of them, partially pooled: normal around zero, with
a standard deviation per threshold and, with ``|``, their correlations), which move its
thresholds (:func:`vary_thresholds`). The sign is that of an effect: a positive
deviation lowers a threshold, moving that group's responses up the spectrum.

- sratio, cratio, acat (no order needed): ``c_{g,k} = c_k - r_{g,k}``; the population
  thresholds are the mean of the groups'.
- cumulative: additive deviations would cross the thresholds of some groups, so they act
  on the ordered transform (first threshold, log gaps), as brms's and Stan's ordered
  vectors are built: ``c_{g,1} = c_1 - r_{g,1}`` and each later gap
  ``c_{g,k} - c_{g,k-1} = (c_k - c_{k-1}) exp(-r_{g,k})``. Every group's thresholds are
  ordered whatever its deviations; a positive ``r_{g,k}`` (k >= 2) narrows the gap
  below threshold k, moving threshold k and those above it down. The population
  thresholds are those of a group with zero deviations: the groups' median first
  threshold and median gaps, not the median (nor the mean) of each threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesresp.maths.links import get_link
from bayesresp.maths.ops import NUMPY


@dataclass(frozen=True)
class Simplex:
    """The region where a cs() covariate's thresholds are kept ordered: J + 1 affinely
    independent vertices in the space of its J design columns.

    Parameters
    ----------
    vertices : array, shape (J + 1, J)
        The vertices' design values (for a factor ``[0; I]``, for a number
        ``[[min], [max]]``).
    labels : tuple of str
        A name for each vertex (the level, or ``min`` / ``max``).
    """

    vertices: np.ndarray
    labels: tuple[str, ...]

    def __post_init__(self):
        v = np.asarray(self.vertices, dtype=float)
        if v.ndim != 2 or v.shape[0] != v.shape[1] + 1:
            raise ValueError(f"a simplex in J dimensions has J + 1 vertices, not shape {v.shape}")
        if len(self.labels) != v.shape[0]:
            raise ValueError("one label per vertex")
        edges = v[1:] - v[0]
        if abs(np.linalg.det(edges)) < 1e-12:
            raise ValueError("the vertices are not affinely independent (a flat simplex)")
        object.__setattr__(self, "vertices", v)

    @property
    def n_columns(self) -> int:
        return self.vertices.shape[1]

    @property
    def _barycentric(self) -> np.ndarray:
        """(J + 1, J + 1) ``M`` with ``lambda = M [x; 1]``."""
        v = self.vertices
        return np.linalg.inv(np.vstack([v.T, np.ones(len(v))]))

    def weights(self, x, xp=NUMPY):
        """Barycentric coordinates ``lambda`` (..., J + 1) of ``x`` (..., J): ``x = sum_j
        lambda_j v_j`` with ``sum_j lambda_j = 1``; all non-negative inside the simplex."""
        M = self._barycentric
        J = self.n_columns
        if xp is NUMPY:
            x = np.asarray(x, dtype=float)
        return (x[..., None, :] * M[:, :J]).sum(axis=-1) + M[:, J]

    def from_vertices(self, T, x_mean, xp=NUMPY):
        """``(cbar, B)`` from the thresholds at the vertices ``T`` (..., J + 1, K - 1):
        ``cbar = sum_j lambda_j(xbar) T_j`` (..., K - 1) and ``B = -E^-1 (T_j - T_0)_j``
        (..., J, K - 1), with ``E`` the edges ``v_j - v_0``."""
        if xp is NUMPY:
            T = np.asarray(T, dtype=float)
        lam = self.weights(x_mean, xp)  # (..., J + 1)
        cbar = (lam[..., :, None] * T).sum(axis=-2)
        E_inv = np.linalg.inv(self.vertices[1:] - self.vertices[0])  # (J, J)
        diff = T[..., 1:, :] - T[..., 0, :][..., None, :]  # (..., J, K - 1)
        B = -(E_inv[:, :, None] * diff[..., None, :, :]).sum(axis=-2)
        return cbar, B

    def to_vertices(self, cbar, B, x_mean, xp=NUMPY):
        """The thresholds at the vertices, ``T_j = cbar - (v_j - xbar) B``
        (..., J + 1, K - 1): the inverse of :meth:`from_vertices`."""
        if xp is NUMPY:
            cbar, B, x_mean = (np.asarray(a, dtype=float) for a in (cbar, B, x_mean))
        offset = self.vertices - x_mean[..., None, :]  # (..., J + 1, J)
        moved = (offset[..., :, :, None] * B[..., None, :, :]).sum(axis=-2)
        return cbar[..., None, :] - moved

    def contains(self, x, tol: float = 1e-9) -> np.ndarray:
        """Whether each row of ``x`` (n, J) lies in the simplex (NumPy): where its
        thresholds are ordered in every draw."""
        return np.all(self.weights(x) >= -tol, axis=-1)


# -- threshold structures ------------------------------------------------------------------
class Flexible:
    """Every threshold of the average case a parameter of its own."""

    name = "flexible"

    def n_free(self, K: int) -> int:
        """How many thresholds are parameters."""
        return K - 1

    def expand(self, free, K: int, xp=NUMPY):
        """The K - 1 thresholds (..., K - 1) from the free ones (..., n_free)."""
        return free

    def free_of(self, thresholds):
        """The free thresholds of a full vector (NumPy; its inverse on this structure)."""
        return np.asarray(thresholds, dtype=float)

    def __repr__(self) -> str:
        return f"<thresholds {self.name}>"


class Equidistant(Flexible):
    """The first and last threshold free, the others evenly spaced between them."""

    name = "equidistant"

    def n_free(self, K: int) -> int:
        return min(K - 1, 2)

    def expand(self, free, K: int, xp=NUMPY):
        if K <= 3:  # two thresholds or fewer: always equidistant
            return free
        if xp is NUMPY:
            free = np.asarray(free, dtype=float)
        steps = np.arange(K - 1) / (K - 2)  # 0, 1 / (K - 2), ..., 1
        first, last = free[..., 0][..., None], free[..., 1][..., None]  # (broadcastable)
        return first + (last - first) * steps

    def free_of(self, thresholds):
        t = np.asarray(thresholds, dtype=float)
        return t if t.shape[-1] <= 2 else t[..., [0, -1]]


#: Every threshold structure, by name.
STRUCTURES: dict[str, Flexible] = {s.name: s for s in (Flexible(), Equidistant())}


def get_structure(structure: str | Flexible = "flexible") -> Flexible:
    """The threshold structure of a name (an object is returned as it is)."""
    if isinstance(structure, Flexible):
        return structure
    try:
        return STRUCTURES[structure]
    except (KeyError, TypeError):
        raise ValueError(
            f"thresholds '{structure}' is not one of {', '.join(STRUCTURES)}"
        ) from None


def sorted_normal_ends(ends, mu, sigma, n: int, xp=NUMPY):
    """Log-density of the smallest and largest of ``n`` independent normal(mu, sigma)
    draws at ``ends`` = (a, b), a < b (``n >= 2``):
    ``n (n - 1) phi(a) phi(b) (Phi(b) - Phi(a))^(n - 2)`` in standard units, over sigma
    squared. (The flexible cumulative model's normal prior is sorted normal draws.)"""
    probit = get_link("probit")
    if xp is NUMPY:
        ends = np.asarray(ends, dtype=float)
    z = (ends - mu) / sigma
    za, zb = z[..., 0], z[..., 1]
    log_between = probit.log_cdf(zb, xp) + xp.log1mexp(
        xp.minimum(probit.log_cdf(za, xp) - probit.log_cdf(zb, xp), 0.0)
    )
    dens = probit.log_pdf(za, xp) + probit.log_pdf(zb, xp) - 2.0 * xp.log(sigma)
    return float(np.log(n * (n - 1))) + dens + (n - 2) * log_between


def vary_thresholds(thresholds, r, ordered: bool, xp=NUMPY):
    """Each row's thresholds moved by its group's deviations ``r`` (..., n, K - 1)
    (module docstring, third part): from thresholds shared by the rows (..., K - 1) or
    each row's own (..., n, K - 1); (..., n, K - 1).

    ``ordered`` (the cumulative family): the deviations act on the first threshold and
    the log gaps, so the result is ordered when ``thresholds`` are."""
    if xp is NUMPY:
        thresholds, r = np.asarray(thresholds, dtype=float), np.asarray(r, dtype=float)
    if thresholds.ndim == r.ndim - 1:  # shared: a row axis
        thresholds = thresholds[..., None, :]
    if not ordered:
        return thresholds - r
    # (indexed, then a new axis: a width PyTensor knows is 1, so that it broadcasts)
    first = (thresholds[..., 0] - r[..., 0])[..., None]
    gaps = (thresholds[..., 1:] - thresholds[..., :-1]) * xp.exp(-r[..., 1:])
    return xp.concatenate([first, first + xp.cumsum(gaps, axis=-1)], axis=-1)
