"""Priors: a small, explicit language for default priors and user overrides.

A prior is written as a call, ``normal(0, 1.5)``, ``student_t(3, 0, 2.5)``,
``halfnormal(1)``, ``exponential(2)``, ``dirichlet(1)``, ``lkj(2)``,
``induced_dirichlet(1)`` or ``r2d2(alpha=0.5, tail=1)``; parameters are given in order
or by name (``normal(sigma=2, mu=0)``), and ``r2d2``'s may be left out.
Overrides are keyed by what they apply to:

========================================  =============================================
key                                       applies to
========================================  =============================================
``b``                                     every coefficient (fixed effects, ``mo()`` totals);
                                          ``r2d2(...)``: the linear predictor, group sds too
``background`` / ``duty_location:interlocutor``  every coefficient of that term
``background[military_security]``         one coefficient
``mo(hierarchy_level)``                   one monotonic total effect
``simplex`` / ``simplex(hierarchy_level)``  the increments of monotonic effects
``sd`` / ``sd(mission)``                  group standard deviations (slopes too)
``cor`` / ``cor(mission)``                the LKJ prior of varying-slope correlations
``cutpoints``                             the cutpoints
``leniency_sd``, ``spread_sd``            the coders' leniency sd and the sd of their log
                                          spreads (a model of coders; halfnormal,
                                          halfstudent_t or exponential)
``spread_median``                         the coders' median spread (``lognormal(mu,
                                          sigma)``: mu the log of the median)
========================================  =============================================

Defaults: ``b = r2d2(alpha=0.5, tail=1)`` (:mod:`bayesresp.model.r2d2`): a prior on the
share of latent variance that covariates and group effects explain, R2 ~ Beta(A, tail),
shared out over the blocks of covariates and the group terms by a Dirichlet whose
concentrations are ``alpha`` per coefficient and group sd (A their sum), with
coefficients scaled within their terms by the covariance of their columns and the
cutpoints' prior scaled by 1 / sqrt(1 - R2). Naming ``mean`` or ``precision`` asks for
the fixed form, ``r2d2(mean=0.5, precision=2, alpha=1)`` (the former default): R2 ~
Beta(mean * precision, (1 - mean) * precision) and a flat Dirichlet(alpha). Per-term,
per-coefficient and ``sd`` keys are refused with it (it sets those scales); give ``b``
a ``normal`` or ``student_t`` prior to set them one by one. Simplexes ``dirichlet(1)``;
correlations ``lkj(2)``; coders (a model of coders, in levels) ``leniency_sd = halfnormal(0.5)``,
``spread_median = lognormal(log 0.5, 0.5)``, ``spread_sd = halfnormal(0.5)``;
cutpoints ``induced_dirichlet(1)``: a flat Dirichlet prior on the probabilities of the
K levels for the average case (every covariate at its mean over the fitting rows, group
effects at zero), mapped to cutpoints (Betancourt 2019), so the prior predictive spread
over the spectrum is even rather than piled on its ends. A ``normal(mu, sigma)``
cutpoint prior also applies to the average case's cutpoints.

The cauchit link has no residual variance, and no r2d2 prior: its defaults are
independent coefficients ``normal(0, s)`` and group sds ``halfnormal(s)`` with
``s = 1/log(3)``, its latent unit next to the logit's (the ratio of the interquartile
ranges, the Cauchy having no sd; :attr:`bayesresp.maths.links.Link.scale`). An explicit
``normal``/``student_t`` ``b`` leaves the sds at ``halfnormal(s)`` for every link (s = 1
for logit, 1/1.6 for probit, 1/sqrt(2) for cloglog).
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
    "normal": (("mu", "sigma"), ("b", "cutpoints", "mi_b", "cs")),
    "student_t": (("nu", "mu", "sigma"), ("b", "mi_b", "cs")),
    "halfnormal": (("sigma",), ("sd", "coder_sd", "mi_sd")),
    "halfstudent_t": (("nu", "sigma"), ("sd", "coder_sd", "mi_sd")),
    "exponential": (("lam",), ("sd", "coder_sd", "mi_sd")),
    "lognormal": (("mu", "sigma"), ("coder_scale",)),
    "dirichlet": (("alpha",), ("simplex",)),
    "lkj": (("eta",), ("cor",)),
    "induced_dirichlet": (("alpha",), ("cutpoints",)),
    "r2d2": (("mean", "precision", "alpha", "tail"), ("b",)),
}
# Parameters a call may leave out, with their values. r2d2 has two forms
# (:func:`_r2d2_form`): R2's Beta tied to the Dirichlet, r2d2(alpha=0.5, tail=1), the
# default, or set by its mean and precision, r2d2(mean=0.5, precision=2, alpha=1); the
# parameters of the other form are held as 0 (a value no call can give).
OPTIONAL: dict[str, dict[str, float]] = {
    "r2d2": {"mean": 0.0, "precision": 0.0, "alpha": 0.5, "tail": 1.0}
}
#: The fixed form's values of what its call leaves out.
_R2D2_FIXED = {"mean": 0.5, "precision": 2.0, "alpha": 1.0}
# Parameters that must lie strictly between 0 and 1 (the others but mu: above 0).
_UNIT_INTERVAL = {("r2d2", "mean")}

_CALL = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    family: str
    params: tuple[float, ...]

    def __str__(self) -> str:
        if self.family in OPTIONAL:  # named: r2d2(alpha=0.5, tail=1), held zeros left out
            names = FAMILIES[self.family][0]
            args = (f"{n}={_num(p)}" for n, p in zip(names, self.params, strict=True) if p)
            return f"{self.family}({', '.join(args)})"
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
    params = _arguments(args, family, names, text, where)
    held: tuple[str, ...] = ()  # r2d2: the other form's parameters, held as 0
    if family == "r2d2":
        params, held = _r2d2_form(dict(zip(names, params, strict=True)), args, text, where)
    for n, v in zip(names, params, strict=True):
        if n in held:
            continue
        if not math.isfinite(v):  # nan, inf: a density the sampler cannot evaluate
            raise PriorError(
                f"{where}: parameter {n} of '{text}' is {_num(v)}; it must be a finite "
                + ("number" if n == "mu" else "number above 0")
            )
        if (family, n) in _UNIT_INTERVAL and not 0.0 < v < 1.0:
            raise PriorError(
                f"{where}: parameter {n} of '{text}' is {_num(v)}; it must lie strictly "
                "between 0 and 1"
            )
        if n != "mu" and v <= 0:
            raise PriorError(
                f"{where}: parameter {n} of '{text}' is {_num(v)}; it must be positive "
                "(a finite number above 0)"
            )
    return Prior(family, params)


def _arguments(args: str, family: str, names, text: str, where: str) -> tuple[float, ...]:
    """The parameters of a call, in ``names``' order: positional first, then
    ``name=value`` (``r2d2(mean=0.3)``); those left out take their ``OPTIONAL`` value."""
    values: dict[str, float] = {}
    positional = True
    parts = [a.strip() for a in args.split(",")] if args.strip() else []
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if eq:
            positional = False
            name = name.strip()
            if name not in names:
                hint = closest(name, tuple(names))
                raise PriorError(
                    f"{where}: '{family}' has no parameter '{name}'"
                    + (f"; did you mean '{hint}'?" if hint else "")
                    + f" (parameters: {', '.join(names)})"
                )
            if name in values:
                raise PriorError(f"{where}: parameter {name} of '{text}' is given twice")
        elif not positional:
            raise PriorError(
                f"{where}: in '{text}', a parameter without a name follows a named one; "
                "name them all or give them in order"
            )
        elif i >= len(names):
            names_ = ", ".join(names)
            raise PriorError(f"{where}: '{family}' takes {len(names)} parameter(s): {names_}")
        else:
            name, value = names[i], part
        try:
            values[name] = float(value)
        except ValueError:
            raise PriorError(f"{where}: the parameters of '{text}' must be numbers") from None
    for name, value in OPTIONAL.get(family, {}).items():
        values.setdefault(name, value)
    if set(values) != set(names):
        raise PriorError(f"{where}: '{family}' takes {len(names)} parameter(s): {', '.join(names)}")
    return tuple(values[n] for n in names)


def _r2d2_form(
    values: dict[str, float], args: str, text: str, where: str
) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Which of r2d2's two forms a call asks for (:mod:`bayesresp.model.r2d2`): with
    ``mean`` or ``precision`` named, R2's Beta is set by them and the components' shares
    are a flat ``Dirichlet(alpha)`` (``alpha`` 1 unless given); otherwise R2's Beta is
    tied to the Dirichlet, ``Beta(alpha * units, tail)``. Parameters given in order
    are the fixed form's (mean, precision, alpha). Returns the parameters and the names
    of the other form's, held as 0."""
    named = {a.split("=", 1)[0].strip() for a in args.split(",") if "=" in a}
    given_in_order = [a for a in args.split(",") if a.strip() and "=" not in a]
    fixed = bool(named & {"mean", "precision"}) or bool(given_in_order)
    if not fixed:
        return tuple(values[n] for n in ("mean", "precision", "alpha", "tail")), (
            "mean",
            "precision",
        )
    if len(given_in_order) > 3:
        raise PriorError(
            f"{where}: '{text}': r2d2 takes at most 3 parameters in order (mean, precision, "
            "alpha: the fixed form); name them for the tied form, r2d2(alpha=0.5, tail=1)"
        )
    if "tail" in named:
        raise PriorError(
            f"{where}: in '{text}', tail belongs to the tied form r2d2(alpha=..., tail=...), "
            "and mean and precision to the fixed one; give one form's parameters"
        )
    if "alpha" not in named and len(given_in_order) < 3:
        values["alpha"] = _R2D2_FIXED["alpha"]
    for i, n in enumerate(("mean", "precision")):  # left out: the fixed form's values
        if n not in named and len(given_in_order) <= i:
            values[n] = _R2D2_FIXED[n]
    return (values["mean"], values["precision"], values["alpha"], 0.0), ("tail",)


def default_priors(link: str = "logit") -> dict[str, Prior]:
    """The default prior of each role."""
    lk = get_link(link)
    s = lk.scale
    joint = Prior("r2d2", (0.0, 0.0, 0.5, 1.0))
    return {
        "b": joint if lk.residual_variance is not None else Prior("normal", (0.0, round(s, 4))),
        "sd": Prior("halfnormal", (round(1.0 * s, 4),)),
        "simplex": Prior("dirichlet", (1.0,)),
        "cor": Prior("lkj", (2.0,)),
        "cutpoints": Prior("induced_dirichlet", (1.0,)),
        # category-specific coefficients (cs()): each threshold's own, outside the r2d2
        # prior (its explained variance is of one linear predictor); weakly informative
        "cs": Prior("normal", (0.0, round(2.5 * s, 4))),
    }


#: The keys of the coders' layer's priors (:mod:`bayesresp.maths.rater`) and their roles.
CODER_KEYS = {"leniency_sd": "coder_sd", "spread_sd": "coder_sd", "spread_median": "coder_scale"}
#: Their defaults, in levels.
CODER_DEFAULTS = {
    "leniency_sd": Prior("halfnormal", (0.5,)),
    "spread_median": Prior("lognormal", (round(math.log(0.5), 4), 0.5)),
    "spread_sd": Prior("halfnormal", (0.5,)),
}


#: The keys of the priors of the missing covariates' own models (missing="model",
#: :mod:`bayesresp.maths.missing`), their roles and defaults (on the log-odds of a level
#: against the covariate's reference level).
MISSING_KEYS = {"mi_intercept": "mi_b", "mi_b": "mi_b", "mi_sd": "mi_sd", "mi_sigma": "mi_sd"}
MISSING_DEFAULTS = {
    "mi_intercept": Prior("normal", (0.0, 2.5)),
    "mi_b": Prior("normal", (0.0, 1.0)),
    "mi_sd": Prior("halfnormal", (1.0,)),
}
#: The prior of a latent number's residual sd (missing="model" with a number lacking
#: cells; on the number's own standard scale, where the model's other parameters take
#: MISSING_DEFAULTS: its mean's intercept, coefficients and mission sd).
NUMBER_DEFAULTS = {"mi_sigma": Prior("halfnormal", (1.0,))}


def role_of_key(key: str) -> str:
    """Which role an override key addresses."""
    if key in CODER_KEYS:
        return CODER_KEYS[key]
    if key in MISSING_KEYS:
        return MISSING_KEYS[key]
    if key in ("sd", "cor", "simplex", "cutpoints", "b", "cs"):
        return key
    for role in ("sd", "cor", "simplex", "cs"):
        if key.startswith(role + "(") and key.endswith(")"):
            return role
    return "b"
