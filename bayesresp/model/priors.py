"""Priors: a small, explicit language for default priors and user overrides.

A prior is written as a call, ``normal(0, 1.5)``, ``student_t(3, 0, 2.5)``,
``halfnormal(1)``, ``exponential(2)``, ``dirichlet(1)``, ``lkj(2)`` or
``induced_dirichlet(1)``. Overrides are keyed by what they apply to:

========================================  =============================================
key                                       applies to
========================================  =============================================
``b``                                     every coefficient (fixed effects, ``mo()`` totals)
``background`` / ``duty_location:interlocutor``  every coefficient of that term
``background[military_security]``         one coefficient
``mo(hierarchy_level)``                   one monotonic total effect
``simplex`` / ``simplex(hierarchy_level)``  the increments of monotonic effects
``sd`` / ``sd(mission)``                  group standard deviations (slopes too)
``cor`` / ``cor(mission)``                the LKJ prior of varying-slope correlations
``cutpoints``                             the cutpoints
========================================  =============================================

Defaults (logit link; on the latent scale, where the residual sd is pi/sqrt(3) = 1.8):
coefficients ``normal(0, 1)`` (an odds ratio of 7 for one dummy is two prior sds out; with
thirty-odd coefficients the prior predictive already spreads responses widely, see
:func:`bayesresp.prior_predictive_check`); group sds ``halfnormal(1)``; simplexes
``dirichlet(1)``; correlations ``lkj(2)``; cutpoints ``induced_dirichlet(1)``: a flat
Dirichlet prior on the probabilities of the K levels for the average case (every
covariate at its mean over the fitting rows, group effects at zero), mapped to cutpoints
(Betancourt 2019), so the prior predictive spread over the spectrum is even rather than
piled on its ends. A ``normal(mu, sigma)`` cutpoint prior also applies to the average
case's cutpoints.
For the other links the coefficient and sd scales are multiplied by the link's latent
unit next to the logit's (:attr:`bayesresp.maths.links.Link.scale`): 1/1.6 for probit,
1/sqrt(2) for cloglog (the ratio of the residual sds), 1/log(3) for cauchit (the ratio of
the interquartile ranges, the Cauchy having no sd).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bayesresp.data.tomlfile import closest
from bayesresp.errors import PriorError
from bayesresp.maths.links import get_link

# family -> (parameter names, roles it may serve)
FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "normal": (("mu", "sigma"), ("b", "cutpoints")),
    "student_t": (("nu", "mu", "sigma"), ("b",)),
    "halfnormal": (("sigma",), ("sd",)),
    "halfstudent_t": (("nu", "sigma"), ("sd",)),
    "exponential": (("lam",), ("sd",)),
    "dirichlet": (("alpha",), ("simplex",)),
    "lkj": (("eta",), ("cor",)),
    "induced_dirichlet": (("alpha",), ("cutpoints",)),
}

_CALL = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    family: str
    params: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.family}({', '.join(_num(p) for p in self.params)})"

    def param(self, name: str) -> float:
        return self.params[FAMILIES[self.family][0].index(name)]


def _num(x: float) -> str:
    x = float(x)
    return str(int(x)) if math.isfinite(x) and x.is_integer() else repr(x)


def parse_prior(text: str, role: str, key: str = "") -> Prior:
    """Read ``normal(0, 1.5)`` and check it suits ``role`` (b, sd, simplex, cor, cutpoints).

    Every parameter must be a finite number (``nan`` and ``inf`` are refused), and every
    one but a location ``mu`` above 0; errors name the key and the value.

    Examples
    --------
    >>> parse_prior("normal(0, 1.5)", "b")
    Prior(family='normal', params=(0.0, 1.5))
    """
    where = f"prior for '{key}'" if key else "prior"
    m = _CALL.match(str(text))
    if not m:
        raise PriorError(f"{where}: cannot read '{text}'; write it like 'normal(0, 1.5)'")
    family, args = m.group(1), m.group(2)
    if family not in FAMILIES:
        hint = closest(family, tuple(FAMILIES))
        raise PriorError(
            f"{where}: unknown family '{family}'"
            + (f"; did you mean '{hint}'?" if hint else "")
            + f" (known: {', '.join(FAMILIES)})"
        )
    names, roles = FAMILIES[family]
    if role not in roles:
        fits = [f for f, (_, r) in FAMILIES.items() if role in r]
        raise PriorError(
            f"{where}: '{family}' cannot be a prior for {role}; use one of {', '.join(fits)}"
        )
    try:
        params = tuple(float(a) for a in args.split(",")) if args.strip() else ()
    except ValueError:
        raise PriorError(f"{where}: the parameters of '{text}' must be numbers") from None
    if len(params) != len(names):
        raise PriorError(f"{where}: '{family}' takes {len(names)} parameter(s): {', '.join(names)}")
    for n, v in zip(names, params, strict=True):
        if not math.isfinite(v):  # nan, inf: a density the sampler cannot evaluate
            raise PriorError(
                f"{where}: parameter {n} of '{text}' is {_num(v)}; it must be a finite "
                + ("number" if n == "mu" else "number above 0")
            )
        if n != "mu" and v <= 0:
            raise PriorError(
                f"{where}: parameter {n} of '{text}' is {_num(v)}; it must be positive "
                "(a finite number above 0)"
            )
    return Prior(family, params)


def default_priors(link: str = "logit") -> dict[str, Prior]:
    """The default prior of each role."""
    s = get_link(link).scale
    return {
        "b": Prior("normal", (0.0, round(1.0 * s, 4))),
        "sd": Prior("halfnormal", (round(1.0 * s, 4),)),
        "simplex": Prior("dirichlet", (1.0,)),
        "cor": Prior("lkj", (2.0,)),
        "cutpoints": Prior("induced_dirichlet", (1.0,)),
    }


def role_of_key(key: str) -> str:
    """Which role an override key addresses."""
    if key in ("sd", "cor", "simplex", "cutpoints", "b"):
        return key
    for role in ("sd", "cor", "simplex"):
        if key.startswith(role + "(") and key.endswith(")"):
            return role
    return "b"
