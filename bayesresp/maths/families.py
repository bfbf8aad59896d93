"""Ordinal families: how a linear predictor and K - 1 thresholds give K level
probabilities, each family one object, written once for NumPy and PyTensor.

Every family reads the thresholds and the linear predictor ``eta`` through ``c_k - eta``
(a positive ``eta`` moves mass towards the top of the spectrum), with a link ``F``
(:mod:`bayesresp.maths.links`; ``S = 1 - F``):

``cumulative``
    ``P(y <= k) = F(c_k - eta)``: one latent propensity, cut at ordered thresholds
    (:mod:`bayesresp.maths.cumulative`).
``sratio`` (stopping ratio)
    ``P(y = k | y >= k) = F(c_k - eta)``: the responses climb the spectrum one step at a
    time and stop at level k with that probability; ``P(y = k) = F(c_k - eta)
    prod_{j<k} S(c_j - eta)``.
``cratio`` (continuation ratio)
    ``P(y > k | y >= k) = F(eta - c_k)``: the same climb, written for going on;
    ``P(y = k) = S(eta - c_k) prod_{j<k} F(eta - c_j)``. For a symmetric link
    (``S(x) = F(-x)``: logit, probit, cauchit) it is the stopping-ratio model with the
    same parameters; with the cloglog link the two differ.
``acat`` (adjacent category)
    ``P(y = k + 1) / P(y = k) = F(eta - c_k) / S(eta - c_k)``; with the logit link,
    ``log(P(y = k + 1) / P(y = k)) = eta - c_k``.

The sequential and adjacent-category families need no ordering of their thresholds
(every value gives probabilities); the cumulative family does (:attr:`Family.ordered`).

Shapes. ``eta`` is (..., n); thresholds are (..., K - 1) with the same leading
dimensions (posterior draws), or (K - 1,) in the model (``xp=TENSOR``), or per row,
(..., n, K - 1): a model with category-specific effects (``cs()``) moves each row's
thresholds by its covariates, ``c_k - x_cs b_cs[k]`` (in the cumulative family the
model keeps them ordered: :mod:`bayesresp.maths.thresholds`).
:meth:`Family.log_probs` gives (..., n, K), :meth:`Family.log_prob` (..., n) for the
observed levels (or ranges of levels, an ambiguous code's ``y .. y_high``).

The anchor case (``eta = 0``) maps thresholds to level probabilities one to one; the
induced-Dirichlet prior (:func:`bayesresp.model.graph.induced_dirichlet`) needs that
map's log-Jacobian (:meth:`Family.log_jacobian`) and its inverse
(:meth:`Family.thresholds_of`), both written here and tested against finite differences
and a round trip.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from bayesresp.maths import cumulative
from bayesresp.maths.links import LINKS, LOGLOG, Link, get_link
from bayesresp.maths.ops import NUMPY, TENSOR
from bayesresp.maths.thresholds import Flexible, get_structure, vary_thresholds


def _shares(p):
    """Level probabilities kept above 1e-12 (renormalised) and ``P(Y >= k)`` for the
    first K - 1 levels, as reverse cumulative sums: a Dirichlet draw with a level of
    probability 0 would otherwise give 0/0."""
    p = np.maximum(np.asarray(p, float), 1e-12)
    p = p / p.sum(axis=-1, keepdims=True)
    left = np.cumsum(p[..., ::-1], axis=-1)[..., ::-1]  # P(Y >= k), k = 0 .. K - 1
    return p, left[..., :-1]


def _clip(q):
    """Probabilities kept 1e-12 away from 0 and 1 before a quantile function: a prior
    draw of a level with no mass would put a threshold at infinity."""
    return np.clip(q, 1e-12, 1.0 - 1e-12)


def _logsumexp(x, xp, keepdims=False):
    if xp is TENSOR:
        import pytensor.tensor as pt

        return pt.logsumexp(x, axis=-1, keepdims=keepdims)
    return special.logsumexp(x, axis=-1, keepdims=keepdims)


def _cumsum0(x, xp):
    """``[0, x_0, x_0 + x_1, ...]`` along the last axis (one longer)."""
    return xp.concatenate([xp.zeros_like(x[..., :1]), xp.cumsum(x, axis=-1)], axis=-1)


def _minus(thresholds, eta, xp, sign=1.0):
    """``sign * (c_k - eta)`` per row and threshold, (..., n, K - 1): thresholds shared by
    the rows (..., K - 1) or per row (..., n, K - 1)."""
    if xp is NUMPY:
        eta, thresholds = np.asarray(eta, float), np.asarray(thresholds, float)
    if thresholds.ndim == eta.ndim:  # shared: a row axis
        thresholds = thresholds[..., None, :]
    return sign * (thresholds - eta[..., None])


def _gather(lp, y, xp):
    """``lp[..., i, y_i]`` for each row ``i``: (..., n, K) -> (..., n)."""
    if xp is TENSOR:
        import pytensor.tensor as pt

        return lp[pt.arange(y.shape[0]), y]
    y = np.asarray(y)
    return np.take_along_axis(lp, np.broadcast_to(y[:, None], lp.shape[:-1] + (1,)), -1)[..., 0]


def _gammaln(x, xp):
    """``log Gamma(x)``: a number's in double precision (PyTensor would make a Python
    float a float32 constant), a tensor's in the graph."""
    if xp is NUMPY or isinstance(x, (int, float, np.number)):
        return special.gammaln(x)
    return xp.gammaln(x)


def _log_beta(log_x, log_1mx, a, b, xp):
    """Log-density of a Beta(a, b) at x, from ``log x`` and ``log(1 - x)``."""
    norm = _gammaln(a + b, xp) - _gammaln(a, xp) - _gammaln(b, xp)
    return norm + (a - 1.0) * log_x + (b - 1.0) * log_1mx


def _range_mask(lp, y, y_high, xp):
    """0 for the levels inside each row's range ``y .. y_high``, -inf outside: (n, K)."""
    if xp is TENSOR:
        import pytensor.tensor as pt

        k = pt.arange(lp.shape[-1])
    else:
        y, y_high, k = np.asarray(y), np.asarray(y_high), np.arange(lp.shape[-1])
    return xp.where((k >= y[:, None]) & (k <= y_high[:, None]), 0.0, -np.inf)


class Family:
    """One ordinal family with its link.

    Attributes
    ----------
    name : str
        As a specification names it (``family = "sratio"``).
    ordered : bool
        The thresholds must increase (a parameter constraint of the model).
    reading : str
        The model in words (reports, the CLI summary).
    latent_scale : bool
        The linear predictor lives on one latent scale with the link's residual, so a
        variance decomposition of it means something (the cumulative model's latent
        propensity; the sequential models' latent propensity to go on at every step).
    compiled : bool
        bayesresp's compiled log density (:mod:`bayesresp.inference.kernel`) covers it;
        otherwise fits run on PyMC's graph, and say so.
    thresholds : Flexible
        How the average case's thresholds are parameterised
        (:mod:`bayesresp.maths.thresholds`: flexible or equidistant; brms's
        ``cumulative(threshold = ...)``).
    """

    name: str = ""
    ordered: bool = False
    latent_scale: bool = False
    compiled: bool = False
    reading: str = ""
    #: What exp(coefficient) multiplies under the logit link.
    odds_reading: str = ""

    def __init__(self, link: str | Link = "logit", thresholds: str | Flexible = "flexible"):
        self.link = get_link(link)
        self.thresholds = get_structure(thresholds)

    def __repr__(self) -> str:
        shown = "" if self.thresholds.name == "flexible" else f", {self.thresholds.name}"
        return f"<family {self.name}({self.link.name}{shown})>"

    def describe(self) -> str:
        """The model in one line, for reports and summaries."""
        shown = "" if self.thresholds.name == "flexible" else " (equidistant thresholds)"
        return f"{self.name} {self.link.name}: {self.reading}{shown}"

    def no_decomposition(self) -> str | None:
        """Why a variance decomposition of the linear predictor means nothing in this
        model (None when it means the shares of one latent propensity)."""
        if not self.latent_scale:
            return (
                f"the {self.name} family has no latent scale, so there are no shares of a "
                "latent variance"
            )
        if self.link.residual_variance is None:
            return (
                f"the {self.link.name} link's latent residual ({self.link.latent}) has no "
                "variance, so there are no shares of it"
            )
        return None

    def _key(self) -> tuple[str, str, str]:
        return self.name, self.link.name, self.thresholds.name

    def __eq__(self, other) -> bool:
        return isinstance(other, Family) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    # -- written once for both dialects --------------------------------------------------
    def log_probs(self, eta, thresholds, xp=NUMPY):
        """``log P(y = k)`` for every level: (..., n, K)."""
        raise NotImplementedError

    def log_prob(self, y, eta, thresholds, xp=NUMPY, y_high=None):
        """``log P(y)`` of observed levels ``y`` (0-based codes), or of the ranges
        ``y .. y_high`` (inclusive) where ``y_high`` is given: (..., n)."""
        lp = self.log_probs(eta, thresholds, xp)
        if y_high is None:
            return _gather(lp, y, xp)
        return _logsumexp(lp + _range_mask(lp, y, y_high, xp), xp)

    def vary(self, thresholds, r, xp=NUMPY):
        """Each row's thresholds moved by its group's threshold deviations ``r``
        (..., n, K - 1) (``(cs(1) | mission)``): additive, or in a family whose thresholds
        must stay ordered on the ordered transform
        (:func:`bayesresp.maths.thresholds.vary_thresholds`)."""
        return vary_thresholds(thresholds, r, self.ordered, xp)

    def log_jacobian(self, c, xp=NUMPY):
        """``log |det dp/dc|`` of the anchor case's map from the K - 1 thresholds to the
        first K - 1 level probabilities (``eta = 0``)."""
        raise NotImplementedError

    def log_end_prior(self, ends, alpha, K: int, xp=NUMPY):
        """Log-density of the first and last thresholds, ``ends`` (..., 2), under the
        induced-Dirichlet(alpha) prior on all K - 1 (K >= 4): their marginal, the
        equidistant structure's prior (:mod:`bayesresp.maths.thresholds`)."""
        raise NotImplementedError

    # -- NumPy -----------------------------------------------------------------------------
    def probs(self, eta, thresholds):
        """``P(y = k)`` for every level (NumPy): (..., n, K), rows summing to one."""
        return np.exp(self.log_probs(np.asarray(eta, float), np.asarray(thresholds, float)))

    def expected_position(self, eta, thresholds):
        """Expected 0-based level (NumPy): (..., n)."""
        p = self.probs(eta, thresholds)
        return p @ np.arange(p.shape[-1], dtype=float)

    def anchor_log_probs(self, c, xp=NUMPY):
        """``log P(y = k)`` at ``eta = 0``: (..., K) for thresholds (..., K - 1)."""
        zero = xp.zeros_like(c[..., :1])  # (..., 1): one row
        return self.log_probs(zero, c, xp)[..., 0, :]

    def thresholds_of(self, p):
        """The thresholds whose anchor case has level probabilities ``p`` (..., K)
        (NumPy): the inverse of :meth:`anchor_log_probs`."""
        raise NotImplementedError


class Cumulative(Family):
    name = "cumulative"
    ordered = True
    latent_scale = True
    compiled = True
    reading = "one latent propensity, cut at ordered thresholds"
    odds_reading = "the odds of a response above any given level"

    def log_probs(self, eta, thresholds, xp=NUMPY):
        if xp is NUMPY:
            eta, thresholds = np.asarray(eta, float), np.asarray(thresholds, float)
        padded = xp.concat_pad(thresholds, self.link.pad)  # (..., K + 1) or (..., n, K + 1)
        if thresholds.ndim == eta.ndim:  # shared by the rows
            padded = padded[..., None, :]
        lower = padded[..., :-1] - eta[..., None]
        upper = padded[..., 1:] - eta[..., None]
        return cumulative.log_prob_interval(lower, upper, self.link, xp)

    def log_prob(self, y, eta, thresholds, xp=NUMPY, y_high=None):
        if xp is NUMPY:
            eta, thresholds, y = (
                np.asarray(eta, float),
                np.asarray(thresholds, float),
                np.asarray(y),
            )
            y_high = None if y_high is None else np.asarray(y_high)
        if thresholds.ndim == eta.ndim:  # shared: the compiled formulas
            return cumulative.log_prob(y, eta, thresholds, self.link, xp=xp, y_high=y_high)
        # Each row's own thresholds (a cs() covariate's, ordered at every level): the
        # interval between its two padded thresholds around the level (or range).
        padded = xp.concat_pad(thresholds, self.link.pad)  # (..., n, K + 1)
        top = y if y_high is None else y_high
        lower, upper = _gather(padded, y, xp), _gather(padded, top + 1, xp)
        return cumulative.log_prob_interval(lower - eta, upper - eta, self.link, xp)

    def log_jacobian(self, c, xp=NUMPY):
        return (self.link.log_pdf(c, xp)).sum(axis=-1)

    def log_end_prior(self, ends, alpha, K: int, xp=NUMPY):
        # Aggregation: (p_1, p_2 + .. + p_{K-1}, p_K) ~ Dirichlet(a, (K - 2) a, a), and
        # p_1 = F(c_1), p_K = S(c_{K-1}): Jacobian f(c_1) f(c_{K-1})
        lk = self.link
        a, b = ends[..., 0], ends[..., 1]
        lo, hi = lk.log_cdf(a, xp), lk.log_cdf(b, xp)
        middle = hi + xp.log1mexp(xp.minimum(lo - hi, 0.0))  # log(F(b) - F(a))
        inner = (K - 2) * alpha
        norm = _gammaln(2.0 * alpha + inner, xp) - 2.0 * _gammaln(alpha, xp) - _gammaln(inner, xp)
        dirichlet = norm + (alpha - 1.0) * (lo + lk.log_sf(b, xp)) + (inner - 1.0) * middle
        return dirichlet + lk.log_pdf(a, xp) + lk.log_pdf(b, xp)

    def probs(self, eta, thresholds):
        eta, thresholds = np.asarray(eta, float), np.asarray(thresholds, float)
        shared = thresholds.ndim == eta.ndim
        thresholds = thresholds[..., None, :] if shared else thresholds
        return cumulative.category_probs(eta, thresholds, self.link)

    def expected_position(self, eta, thresholds):
        eta, thresholds = np.asarray(eta, float), np.asarray(thresholds, float)
        shared = thresholds.ndim == eta.ndim
        thresholds = thresholds[..., None, :] if shared else thresholds
        return cumulative.expected_position(eta, thresholds, self.link)

    def thresholds_of(self, p):
        return self.link.quantile(_clip(np.cumsum(p, axis=-1)[..., :-1]))


class _Sequential(Family):
    """A climb up the spectrum: at each level k < K - 1 the response stops with
    probability ``s_k`` or goes on; ``P(y = k) = s_k prod_{j<k} (1 - s_j)``."""

    latent_scale = True
    odds_reading = "the odds of going on past a level, given that the response reached it"

    def _steps(self, x, xp):
        """(log stop, log go) of the steps, from ``x = c - eta``: (..., n, K - 1) each."""
        raise NotImplementedError

    def log_probs(self, eta, thresholds, xp=NUMPY):
        stop, go = self._steps(_minus(thresholds, eta, xp), xp)
        last = xp.zeros_like(stop[..., :1])  # the top level: nothing more to stop at
        return _cumsum0(go, xp) + xp.concatenate([stop, last], axis=-1)

    def log_prob(self, y, eta, thresholds, xp=NUMPY, y_high=None):
        if y_high is None:
            return super().log_prob(y, eta, thresholds, xp)
        # P(y <= Y <= t) = P(Y >= y) (1 - P(go on at every step y .. t)): reaching y,
        # then stopping somewhere up to t. The run of steps is summed on its own, not as
        # a difference of cumulative sums (which would lose it to rounding when every
        # step's going on is nearly certain). A range up to the top level stops somewhere
        # for sure: P(Y >= y).
        _, go = self._steps(_minus(thresholds, eta, xp), xp)  # (..., n, K - 1)
        at = _gather(_cumsum0(go, xp), y, xp)  # log P(Y >= y)
        if xp is TENSOR:
            import pytensor.tensor as pt

            steps = pt.arange(go.shape[-1])
            top = pt.eq(y_high, go.shape[-1])
        else:
            y, y_high = np.asarray(y), np.asarray(y_high)
            steps, top = np.arange(go.shape[-1]), y_high == go.shape[-1]
        inside = (steps >= y[:, None]) & (steps <= y_high[:, None])  # (n, K - 1)
        run = xp.where(inside, go, 0.0).sum(axis=-1)  # log P(go on at steps y .. t)
        # (-1 where unused: log1mexp(0) = -inf would make a NaN gradient)
        return at + xp.where(top, 0.0, xp.log1mexp(xp.minimum(xp.where(top, -1.0, run), 0.0)))

    compiled = True  # as the cumulative family's intervals (intervals, step_link_code)

    @property
    def step_link_code(self) -> int:
        """The kernel's link ``G`` with which each step stops with probability
        ``G(c_k - eta)``, so that the steps are intervals of the cumulative family's
        under ``G`` (:meth:`intervals`): the family's own link in sratio; in cratio,
        whose steps stop with ``S(eta - c_k) = 1 - F(-(c_k - eta))``, the reflected
        link: the link itself when symmetric, else the reflected cloglog
        (:data:`bayesresp.maths.links.LOGLOG`)."""
        raise NotImplementedError

    def intervals(self, y, K: int):
        """Each row's likelihood as terms of the cumulative family's (intervals of levels
        at the same eta and thresholds): a row at level ``y`` goes on at every step
        ``j < y``, ``S(c_j - eta)``, the interval of levels ``j + 1 .. K - 1``, and stops
        at ``y < K - 1``, ``F(c_y - eta)``, the levels ``0 .. y`` (``F``: the link of
        :attr:`step_link_code`). Exact, the padded outer thresholds aside (whose mass is
        below 1e-60). Returns (row, lowest level, highest level) per term, by row (NumPy):
        the compiled kernel's sequential likelihood
        (:func:`bayesresp.inference.packing.pack`). Exact codes only: a range's
        probability is no product of steps."""
        y = np.asarray(y, dtype=np.int64)
        goes = np.repeat(np.arange(y.size), y)  # one term per step gone past
        step = np.arange(goes.size) - np.repeat(np.cumsum(y) - y, y)
        stops = np.flatnonzero(y < K - 1)
        rows = np.concatenate([goes, stops])
        low = np.concatenate([step + 1, np.zeros(stops.size, dtype=np.int64)])
        high = np.concatenate([np.full(goes.size, K - 1, dtype=np.int64), y[stops]])
        order = np.argsort(rows, kind="stable")
        return rows[order], low[order], high[order]

    def log_jacobian(self, c, xp=NUMPY):
        # p_k = s_k prod_{j<k} g_j is triangular in c: det = prod_k s_k'(c_k) prod_{j<k} g_j
        _, go = self._steps(c, xp)
        reach = _cumsum0(go, xp)[..., :-1]  # log prod_{j<k} g_j for k < K - 1
        return (self._log_stop_slope(c, xp) + reach).sum(axis=-1)

    def _log_stop_slope(self, c, xp):
        raise NotImplementedError

    def log_end_prior(self, ends, alpha, K: int, xp=NUMPY):
        # Stick-breaking: the stopping shares p_k / (p_k + .. + p_K) of a Dirichlet are
        # independent Beta(a, (K - k) a): Beta(a, (K - 1) a) at the first step, Beta(a, a)
        # at the last; each with its slope d(stop) / dc
        stop, go = self._steps(ends, xp)
        first = _log_beta(stop[..., 0], go[..., 0], alpha, (K - 1) * alpha, xp)
        last = _log_beta(stop[..., 1], go[..., 1], alpha, alpha, xp)
        return first + last + self._log_stop_slope(ends, xp).sum(axis=-1)


class StoppingRatio(_Sequential):
    name = "sratio"
    reading = (
        "a climb up the spectrum one level at a time, stopping at level k with "
        "probability F(c_k - eta)"
    )

    @property
    def step_link_code(self) -> int:
        return self.link.code

    def _steps(self, x, xp):
        return self.link.log_cdf(x, xp), self.link.log_sf(x, xp)

    def _log_stop_slope(self, c, xp):
        return self.link.log_pdf(c, xp)  # d F(c) / dc

    def thresholds_of(self, p):
        p, left = _shares(p)
        return self.link.quantile(_clip(p[..., :-1] / left))  # the stopping shares


class ContinuationRatio(_Sequential):
    name = "cratio"
    reading = (
        "a climb up the spectrum one level at a time, going on past level k with "
        "probability F(eta - c_k)"
    )

    @property
    def step_link_code(self) -> int:
        if self.link.symmetric:  # S(-x) = F(x): the stopping-ratio model
            return self.link.code
        if self.link.name != "cloglog":
            raise ValueError(f"no reflected form of the {self.link.name} link in the kernel")
        return LOGLOG

    def _steps(self, x, xp):
        # go on with F(eta - c) = F(-x), stop with S(-x)
        return self.link.log_sf(-x, xp), self.link.log_cdf(-x, xp)

    def _log_stop_slope(self, c, xp):
        return self.link.log_pdf(-c, xp)  # d S(-c) / dc = f(-c)

    def thresholds_of(self, p):
        p, left = _shares(p)
        return -self.link.quantile(_clip(1.0 - p[..., :-1] / left))  # going on: F(-c)


class AdjacentCategory(Family):
    name = "acat"
    reading = "each level against the one below it, P(k + 1) / P(k) = F / (1 - F) at eta - c_k"
    odds_reading = "the odds of each level against the one below it"

    def log_probs(self, eta, thresholds, xp=NUMPY):
        x = _minus(thresholds, eta, xp, -1.0)  # eta - c_k
        up, down = self.link.log_cdf(x, xp), self.link.log_sf(x, xp)
        # log u_k = sum_{j<k} log F(eta - c_j) + sum_{j>=k} log S(eta - c_j)
        # the sum of the later steps' log S directly (a reverse cumulative sum), not as a
        # difference of cumulative sums, which loses a small term next to a large one
        later = _cumsum0(down[..., ::-1], xp)[..., ::-1]  # sum_{j>=k} log S_j, (..., K)
        log_u = _cumsum0(up, xp) + later
        return log_u - _logsumexp(log_u, xp, keepdims=True)

    def log_jacobian(self, c, xp=NUMPY):
        # log(p_{k+1} / p_k) = g(c_k) = log F(-c_k) - log S(-c_k); the additive log-ratio
        # map to the simplex has |det dp/dz| = prod_k p_k, and c -> z is triangular with
        # slopes |g'(c)| = f(-c) / (F(-c) S(-c))
        lk = self.link
        slope = lk.log_pdf(-c, xp) - lk.log_cdf(-c, xp) - lk.log_sf(-c, xp)
        return self.anchor_log_probs(c, xp).sum(axis=-1) + slope.sum(axis=-1)

    def log_end_prior(self, ends, alpha, K: int, xp=NUMPY):
        # F(-c_k) = p_{k+1} / (p_k + p_{k+1}) ~ Beta(a, a); for K >= 4 the first and last
        # pairs share no level, so the two ends are independent (ratios of independent
        # gammas); Jacobian f(-c)
        lk = self.link
        up, down = lk.log_cdf(-ends, xp), lk.log_sf(-ends, xp)
        beta = _log_beta(up, down, alpha, alpha, xp) + lk.log_pdf(-ends, xp)
        return beta.sum(axis=-1)

    def thresholds_of(self, p):
        p, _ = _shares(p)
        r = np.log(p[..., 1:]) - np.log(p[..., :-1])  # g(c_k)
        return -self.link.quantile(_clip(special.expit(r)))


#: Every family, by name (each with any link).
FAMILIES: dict[str, type[Family]] = {
    f.name: f for f in (Cumulative, StoppingRatio, ContinuationRatio, AdjacentCategory)
}


def get_family(
    family: str | Family = "cumulative",
    link: str | Link | None = None,
    thresholds: str | Flexible = "flexible",
) -> Family:
    """The family object of a name with a link and a threshold structure (a family
    object is returned as it is).

    A link's name alone (``"probit"``) is the cumulative family with that link: every
    function that took a link takes a family too.
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, Link) or (family in LINKS and link is None):
        return Cumulative(family, thresholds)
    try:
        cls = FAMILIES[family]
    except (KeyError, TypeError):
        raise ValueError(f"family '{family}' is not one of {', '.join(FAMILIES)}") from None
    return cls(link or "logit", thresholds)
