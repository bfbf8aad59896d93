"""Link functions: each one object, written once for NumPy and PyTensor.

A cumulative-link model says ``P(y <= k) = F(c_k - eta)``, with ``F`` the distribution
function of the latent residual. A :class:`Link` gathers everything the package needs to
know of one ``F``: its log distribution and survival functions and log density (array
code for both dialects, through ``xp``), its quantile function, the variance of its
residual (for variance decompositions), how wide its latent unit is next to the logit's
(for default priors and sampler start points), whether its coefficients are log odds
ratios, and the code of its Numba twin (:mod:`bayesresp.maths.links_numba`).

To add a link: write a subclass here and its three Numba functions in ``links_numba``,
and add both to their registries; ``tests/maths/test_links.py`` then checks the twins against
each other and against high-precision arithmetic, and fits it to real data.

Every function must stay finite, with a finite gradient, for arguments up to
``|x| = pad + 50`` (the padded outer cutpoints minus any sensible linear predictor):
JAX differentiates both branches of a ``where``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from bayesresp.maths.ops import NUMPY, PAD

# Codes of the Numba twins (bayesresp.maths.links_numba), stored in the kernel's header.
LOGIT, PROBIT, CLOGLOG, CAUCHIT = 0, 1, 2, 3
# The reflected cloglog, F(x) = 1 - F_cloglog(-x) = exp(-exp(-x)) (clm's "loglog"): no
# link of a specification, only the kernel's, for the cratio family with the cloglog
# link, whose steps stop with S_cloglog(eta - c) = F_loglog(c - eta)
# (bayesresp.maths.families.ContinuationRatio.step_link_code)
LOGLOG = 4


class Link:
    """One link function ``F``.

    Attributes
    ----------
    name : str
        As a specification names it (``link = "cloglog"``).
    code : int
        Its code in the compiled kernel.
    latent : str
        The latent residual's distribution, in words.
    residual_variance : float or None
        Variance of the latent residual (None when it has none: Cauchy).
    scale : float
        The width of its latent unit next to the logit's: default coefficient and sd
        priors, and the sampler's start for the cutpoints, are multiplied by it.
    symmetric : bool
        ``F(-x) = 1 - F(x)``.
    odds : bool
        Coefficients are log odds ratios (the logit link only).
    pad : float
        Where the padded outer cutpoints lie (:mod:`bayesresp.maths.cumulative`): far
        enough that the mass beyond ``pad - 50`` is negligible (below 1e-60 of any
        level's), near enough that every formula stays finite there.
    """

    name: str
    code: int
    latent: str
    residual_variance: float | None
    scale: float
    symmetric: bool = True
    odds: bool = False
    pad: float = PAD

    # -- written once for both dialects (xp = NUMPY or TENSOR) -------------------------
    def log_cdf(self, x, xp=NUMPY):
        """``log F(x)``, accurate in both tails."""
        raise NotImplementedError

    def log_sf(self, x, xp=NUMPY):
        """``log(1 - F(x))``, accurate in both tails (an asymmetric link must write it)."""
        if not self.symmetric:
            raise NotImplementedError(f"the asymmetric {self.name} link must define log_sf")
        return self.log_cdf(-x, xp)

    def log_pdf(self, x, xp=NUMPY):
        """``log f(x)``, the log density of the latent residual."""
        raise NotImplementedError

    # -- NumPy only --------------------------------------------------------------------
    def cdf(self, x):
        """``F(x)`` (NumPy)."""
        return np.exp(self.log_cdf(np.asarray(x, dtype=float)))

    def sf(self, x):
        """``1 - F(x)`` (NumPy), without cancellation where ``F`` is near one."""
        if not self.symmetric:
            raise NotImplementedError(f"the asymmetric {self.name} link must define sf")
        return self.cdf(-np.asarray(x, dtype=float))

    def quantile(self, p):
        """``F^-1(p)`` (NumPy)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<link {self.name}>"


class Logit(Link):
    name, code = "logit", LOGIT
    latent = "logistic"
    residual_variance = math.pi**2 / 3
    scale = 1.0
    odds = True

    def log_cdf(self, x, xp=NUMPY):
        return -xp.softplus(-x)

    def log_pdf(self, x, xp=NUMPY):
        return -xp.softplus(-x) - xp.softplus(x)

    def cdf(self, x):
        return special.expit(x)

    def quantile(self, p):
        return special.logit(p)


class Probit(Link):
    name, code = "probit", PROBIT
    latent = "standard normal"
    residual_variance = 1.0
    scale = 1 / 1.6  # the logistic's sd is 1.8; 1.6 matches the two near the centre

    def log_cdf(self, x, xp=NUMPY):
        if xp is NUMPY:  # SciPy's, an implementation independent of the model's below
            return special.log_ndtr(x)
        # log Phi(x): the scaled complementary error function in the lower tail, log1p
        # in the rest. Each branch sees a harmless argument where it is not chosen, so
        # that neither makes an infinity whose zero-weighted gradient would be NaN.
        lower = x < -1.0
        x_lo = xp.where(lower, x, -1.0)
        x_hi = xp.where(lower, 0.0, x)
        tail = xp.log(xp.erfcx(-x_lo / np.sqrt(2.0)) / 2.0) - x_lo**2 / 2.0
        body = xp.log1p(-xp.erfc(x_hi / np.sqrt(2.0)) / 2.0)
        return xp.where(lower, tail, body)

    def log_pdf(self, x, xp=NUMPY):
        return -0.5 * x**2 - 0.5 * np.log(2 * np.pi)

    def cdf(self, x):
        return special.ndtr(x)

    def quantile(self, p):
        return special.ndtri(p)


class Cloglog(Link):
    """Complementary log-log: ``F(x) = 1 - exp(-exp(x))``, the minimum-Gumbel (extreme
    value) distribution. Asymmetric: the top levels' probabilities approach their limits
    faster than the bottom ones'. As in R's ``ordinal::clm`` and ``MASS::polr``."""

    name, code = "cloglog", CLOGLOG
    latent = "minimum Gumbel (extreme value)"
    residual_variance = math.pi**2 / 6
    scale = 1 / math.sqrt(2.0)  # the sd ratio to the logistic: pi/sqrt(6) over pi/sqrt(3)
    symmetric = False

    def log_cdf(self, x, xp=NUMPY):
        # log(1 - exp(-e^x)) = log1mexp(-e^x), accurate for any x; e^x stays finite below
        # 709 (the padded cutpoints reach 250).
        return xp.log1mexp(-xp.exp(x))

    def log_sf(self, x, xp=NUMPY):
        return -xp.exp(x)

    def log_pdf(self, x, xp=NUMPY):
        return x - xp.exp(x)

    def cdf(self, x):
        return -np.expm1(-np.exp(np.asarray(x, dtype=float)))

    def sf(self, x):
        return np.exp(-np.exp(np.asarray(x, dtype=float)))

    def quantile(self, p):
        return np.log(-np.log1p(-np.asarray(p, dtype=float)))


class Cauchit(Link):
    """Cauchit: ``F(x) = 1/2 + arctan(x)/pi``, the Cauchy distribution. Heavy tails: a
    large linear predictor leaves more mass at the far levels than the logit does. The
    Cauchy has no variance, so a variance decomposition has no residual to divide by."""

    name, code = "cauchit", CAUCHIT
    latent = "Cauchy"
    residual_variance = None
    scale = 1 / math.log(3.0)  # equal interquartile ranges: 2 (Cauchy), 2 log 3 (logistic)
    pad = 1e100  # 1/(pi x) of the mass lies beyond x; x**2 stays finite

    def log_cdf(self, x, xp=NUMPY):
        # F(x) = arctan2(1, -x) / pi: no cancellation in the lower tail, where
        # 1/2 + arctan(x)/pi would subtract two nearly equal numbers.
        return xp.log(xp.arctan2(1.0, -x)) - np.log(np.pi)

    def log_pdf(self, x, xp=NUMPY):
        return -np.log(np.pi) - xp.log1p(x * x)

    def cdf(self, x):
        return np.arctan2(1.0, -np.asarray(x, dtype=float)) / np.pi

    def quantile(self, p):
        # tan(pi (p - 1/2)) = -1 / tan(pi p): no rounding of p - 1/2 for small p
        p = np.asarray(p, dtype=float)
        with np.errstate(divide="ignore"):
            return np.where(p < 0.5, -1.0 / np.tan(np.pi * p), 1.0 / np.tan(np.pi * (1.0 - p)))


#: Every link, by name.
LINKS: dict[str, Link] = {link.name: link for link in (Logit(), Probit(), Cloglog(), Cauchit())}


def get_link(link: str | Link) -> Link:
    """The link object of a name (a link object is returned as it is)."""
    if isinstance(link, Link):
        return link
    try:
        return LINKS[link]
    except KeyError:
        raise ValueError(f"link '{link}' is not one of {', '.join(LINKS)}") from None
