"""The PyMC model: hierarchical ordinal regression on the spectrum.

``P(response <= k) = F(c_k - eta)`` in the cumulative family (the default; the
sequential and adjacent-category families read ``c_k - eta`` their own way,
:mod:`bayesresp.maths.families`), with

``eta = X b + sum_m b_mo[m] * cumsum(simplex_m)[x_m] + sum_g Z_g r_g[group_g]``

Group effects are non-centred: ``r_g = z_g * sd_g`` (one term, or uncorrelated terms) or
``r_g = z_g (diag(sd_g) L_g)^T`` with ``L_g`` the Cholesky factor of an LKJ-distributed
correlation matrix (correlated varying slopes). The log-likelihood evaluates only the
observed category (:meth:`bayesresp.maths.families.Family.log_prob`; in the cumulative
family :func:`bayesresp.maths.cumulative.log_prob`, so no N x K probability matrix is
ever built). Each row's term carries a weight: the number of identical rows it
stands for when the data are compressed to their distinct rows
(:func:`bayesresp.model.design.compress`), else one.

The cutpoints are sampled for the average case (``cutpoints_centred``: every covariate at
its mean over the fitting rows, where the cutpoint prior is defined; under equidistant
thresholds the first and last of them, ``cutpoint_ends``) and reported for the
reference case (``cutpoints``, which the linear predictor uses).

Posterior variable names (what :class:`bayesresp.Fit` reads): ``b`` (dim ``coef``),
``b_mo`` (``mo_term``), ``simplex[x]`` (``x_step``), ``cutpoints`` (``cutpoint``),
``sd[g]`` (``g_term``), ``cor[g]``, ``z[g]`` and ``r[g]`` (``g_level`` x ``g_term``);
with the coders' layer (:mod:`bayesresp.maths.rater`) ``leniency`` and ``spread`` (dim
``coder``), ``leniency_sd``, ``spread_median``, ``spread_sd``, ``leniency_z`` (or, centred,
``leniency`` itself: :func:`leniency_centred`) and ``spread_z``. That layer's likelihood
has one term per response, its codes' coders' readings of its true level summed over
the levels.
With covariates whose missing cells are summed out (``missing="model"``,
:mod:`bayesresp.maths.missing`), each such covariate ``x`` has its own model's
``mi_intercept[x]`` (dim ``x_mi_level``), ``mi_b[x]`` (``mi_predictor`` x
``x_mi_level``) and, by mission, ``mi_sd[x]``, ``mi_z[x]`` and ``mi_r[x]``; the rows are
the design's copies, and each row's term sums over its copies.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import Ordered, ordered

from bayesresp.data.tomlfile import closest
from bayesresp.maths.families import Family, get_family
from bayesresp.maths.links import Link, get_link
from bayesresp.maths.ops import TENSOR
from bayesresp.maths.predictor import linear_predictor as maths_linear_predictor
from bayesresp.maths.predictor import monotonic_steps
from bayesresp.maths.thresholds import sorted_normal_ends
from bayesresp.model.design import (
    Design,
    DesignInfo,
    cs_simplex,
    cutpoint_names,
    predictor_values,
)
from bayesresp.model.priors import (
    CODER_DEFAULTS,
    MISSING_DEFAULTS,
    NUMBER_DEFAULTS,
    Prior,
    PriorError,
    default_priors,
    parse_prior,
    role_of_key,
)
from bayesresp.model.r2d2 import R2D2Layout, component_names, layout, scalings


def coords_of(info: DesignInfo) -> dict[str, list[str]]:
    coords: dict[str, list[str]] = {
        "coef": info.column_names,
        "mo_term": [m.name for m in info.monotonic],
        "cutpoint": cutpoint_names(info.spectrum),
        "component": component_names(info),
    }
    for m in info.monotonic:
        coords[f"{m.var}_step"] = list(m.levels[1:])
    if info.coders:
        coords["coder"] = list(info.coders)
    for m in info.imputed:
        coords[f"{m.var}_mi_level"] = list(m.free_levels)
        coords["mi_predictor"] = list(m.predictors)  # (the same for every imputed covariate)
    for m in info.latent:  # each cell named by its first row (1-based) in the fitted rows
        coords["mi_predictor"] = list(m.predictors)
        coords[f"{m.var}_mi_cell"] = [str(r + 1) for r in m.first_rows()]
    for g in info.groups:
        coords[f"{g.label}_level"] = list(g.levels)
        coords[f"{g.label}_term"] = g.column_names
        coords[f"{g.label}_term_"] = g.column_names
    if info.cs_columns:
        coords["cs_coef"] = [c.name for c in info.cs_columns]
    if info.cs_bounds:  # the levels (or ends) whose thresholds are sampled, ordered
        coords["cs_vertex"] = list(cs_simplex(info).labels)
    return coords


# -- priors ---------------------------------------------------------------------------
class ResolvedPriors:
    """The prior of every parameter: defaults, overridden by the specification."""

    def __init__(self, info: DesignInfo, overrides: dict[str, str], link: str):
        self.defaults = default_priors(link)
        self.overrides = {k: parse_prior(v, role_of_key(k), k) for k, v in overrides.items()}
        known = self._known_keys(info)
        unknown = [k for k in self.overrides if k not in known]
        if unknown:
            hints = {k: closest(k, sorted(known)) for k in unknown}
            named = ", ".join(
                repr(k) + (f" (did you mean '{h}'?)" if h else "") for k, h in hints.items()
            )
            raise PriorError(
                f"prior key(s) {named} match nothing in this model; keys it knows: "
                f"{', '.join(sorted(known))}"
            )
        self.info = info
        b = self.overrides.get("b", self.defaults["b"])
        #: The R2D2 prior's structure when ``b`` is ``r2d2(...)``, else None. A model
        #: without covariates or group terms explains nothing: no R2 to put a prior on.
        shared = b.family == "r2d2" and bool(component_names(info))
        self.r2d2: R2D2Layout | None = layout(info, b, link) if shared else None
        if self.r2d2 is not None:
            self._check_r2d2(info)

    def _check_r2d2(self, info: DesignInfo) -> None:
        """With ``b = r2d2(...)`` the coefficients and group sds take their scales from
        it: a prior of its own for one of them is refused (it would be silently unused)."""
        own = {f"sd({g.label})" for g in info.threshold_groups}  # outside the shares
        clash = [
            k for k in self.overrides if k != "b" and k not in own and role_of_key(k) in ("b", "sd")
        ]
        if clash:
            b = self.overrides.get("b", self.defaults["b"])
            raise PriorError(
                f"prior key(s) {', '.join(repr(k) for k in clash)} cannot be combined with "
                f"b = '{b}': the r2d2 prior sets the scale of every coefficient and group sd "
                "(through the shares of explained variance). Drop them, or give b a "
                "normal or student_t prior to set coefficients one by one"
            )

    @staticmethod
    def _known_keys(info: DesignInfo) -> set[str]:
        keys = {"b", "sd", "cor", "simplex", "cutpoints"}
        keys |= {c.name for c in info.columns} | {c.term for c in info.columns}
        keys |= {m.name for m in info.monotonic}
        keys |= {f"simplex({m.var})" for m in info.monotonic}
        if info.cs_columns:
            keys |= {"cs"} | {c.term for c in info.cs_columns}  # cs, cs(background)
        keys |= {f"sd({g.label})" for g in info.groups} | {f"cor({g.label})" for g in info.groups}
        if info.coders:
            keys |= set(CODER_DEFAULTS)
        if info.imputed or info.latent:
            keys |= set(MISSING_DEFAULTS)
        if info.latent:
            keys |= set(NUMBER_DEFAULTS)
        return keys

    def _pick(self, *keys: str) -> Prior:
        for k in keys:
            if k in self.overrides:
                return self.overrides[k]
        return self.defaults[role_of_key(keys[-1])]

    def coefficient(self, name: str, term: str) -> Prior:
        return self._pick(name, term, "b")

    def monotonic(self, name: str) -> Prior:
        return self._pick(name, "b")

    def simplex(self, var: str) -> Prior:
        return self._pick(f"simplex({var})", "simplex")

    def sd(self, label: str) -> Prior:
        return self._pick(f"sd({label})", "sd")

    def coder(self, key: str) -> Prior:
        """A prior of the coders' layer (``leniency_sd``, ``spread_median``,
        ``spread_sd``)."""
        return self.overrides.get(key, CODER_DEFAULTS[key])

    def _layers_table(self) -> dict[str, str]:
        out = {k: str(self.coder(k)) for k in CODER_DEFAULTS} if self.info.coders else {}
        if self.info.imputed or self.info.latent:
            out |= {k: str(self.missing(k)) for k in MISSING_DEFAULTS}
        if self.info.latent:
            out |= {k: str(self.missing(k)) for k in NUMBER_DEFAULTS}
        return out

    def missing(self, key: str) -> Prior:
        """A prior of the missing covariates' own models (``mi_intercept``, ``mi_b``,
        ``mi_sd``; ``mi_sigma`` of a latent number's)."""
        return self.overrides.get(key, {**MISSING_DEFAULTS, **NUMBER_DEFAULTS}[key])

    def cor(self, label: str) -> Prior:
        return self._pick(f"cor({label})", "cor")

    def cutpoints(self) -> Prior:
        return self._pick("cutpoints")

    def category_specific(self, term: str) -> Prior:
        """The prior of a cs() term's coefficients (its key, ``cs(background)``, else
        ``cs``)."""
        return self._pick(term, "cs")

    def _cs_table(self) -> dict[str, str]:
        terms = dict.fromkeys(c.term for c in self.info.cs_columns)
        if self.info.cs_bounds:  # thresholds ordered at each level (_ordered_cs)
            return {t: f"{self.cutpoints()} at each level (or end) of {t}" for t in terms}
        return {t: str(self.category_specific(t)) for t in terms}

    def table(self) -> dict[str, str]:
        """Every parameter group with its prior, as text (for summaries and fit files)."""
        info = self.info
        if self.r2d2 is not None:
            joint = str(self.overrides.get("b", self.defaults["b"]))
            a, b = self.r2d2.beta
            conc = ", ".join(f"{c:g}" for c in self.r2d2.concentrations)
            out = {"R2, shares": f"{joint}: R2 ~ Beta({a:g}, {b:g}), shares ~ Dirichlet({conc})"}
            out |= {c.name: f"{joint}: share of '{c.block}'" for c in info.columns}
            for m in info.monotonic:
                out[m.name] = f"{joint}: share of '{m.block}'"
                out[f"simplex({m.var})"] = str(self.simplex(m.var))
            for g in info.groups:
                out[f"sd({g.label})"] = (
                    f"{self.sd(g.label)} (thresholds: outside the shares)"
                    if g.thresholds
                    else f"{joint}: share of 'group({g.label})'"
                )
                if len(g.columns) > 1 and g.correlated:
                    out[f"cor({g.label})"] = str(self.cor(g.label))
            out["cutpoints"] = f"{self.cutpoints()}, scaled by 1/sqrt(1 - R2)"
            return out | self._cs_table() | self._layers_table()
        out = {c.name: str(self.coefficient(c.name, c.term)) for c in info.columns}
        for m in info.monotonic:
            out[m.name] = str(self.monotonic(m.name))
            out[f"simplex({m.var})"] = str(self.simplex(m.var))
        for g in info.groups:
            out[f"sd({g.label})"] = str(self.sd(g.label))
            if len(g.columns) > 1 and g.correlated:
                out[f"cor({g.label})"] = str(self.cor(g.label))
        out["cutpoints"] = str(self.cutpoints())
        return out | self._cs_table() | self._layers_table()


def coefficient_priors(name: str, priors: list[Prior]):
    """(family, mu, sigma, nu) arrays of a coefficient vector's priors, which must share
    one family (nu is 1 for the normal family, where it is unused)."""
    families = {p.family for p in priors} or {"normal"}
    if len(families) > 1:
        raise PriorError(
            f"all coefficients in '{name}' must share one prior family (found "
            f"{', '.join(sorted(families))}); change the scale per coefficient instead"
        )
    family = families.pop()
    mu = np.array([p.param("mu") for p in priors], dtype=float)
    sigma = np.array([p.param("sigma") for p in priors], dtype=float)
    nu = np.array([p.param("nu") if family == "student_t" else 1.0 for p in priors], dtype=float)
    return family, mu, sigma, nu


def _coef_rv(name: str, priors: list[Prior], dims: str):
    family, mu, sigma, nu = coefficient_priors(name, priors)
    if family == "normal":
        return pm.Normal(name, mu=mu, sigma=sigma, dims=dims)
    return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, dims=dims)


def _positive_rv(name: str, prior: Prior, dims=None):
    """A positive parameter with a halfnormal, halfstudent_t, exponential or lognormal
    prior."""
    if prior.family == "halfnormal":
        return pm.HalfNormal(name, sigma=prior.param("sigma"), dims=dims)
    if prior.family == "halfstudent_t":
        return pm.HalfStudentT(name, nu=prior.param("nu"), sigma=prior.param("sigma"), dims=dims)
    if prior.family == "lognormal":
        return pm.LogNormal(name, mu=prior.param("mu"), sigma=prior.param("sigma"), dims=dims)
    return pm.Exponential(name, lam=prior.param("lam"), dims=dims)


def induced_dirichlet(family: str | Link | Family = "logit"):
    """(logp, random) of the induced-Dirichlet threshold prior of a family and link.

    The level probabilities of the anchor case (``eta = 0``) follow a Dirichlet(alpha);
    the density of the thresholds is that Dirichlet density times the Jacobian of the
    map c -> p (Betancourt 2019, "Ordinal Regression"), which each family writes
    (:meth:`~bayesresp.maths.families.Family.log_jacobian`; for the cumulative family
    ``prod f(c_k)``, with ``f`` the link's density). A link's name is the cumulative
    family with that link.
    """
    family = get_family(family)

    def logp(value, alpha_head, alpha_last):
        # The Dirichlet density of p, with each level's log-probability in log space
        # (outer cutpoints padded): 1 - F(c) would round a cloglog's top level to 0 from
        # c = 3.7, where log(0) times (alpha - 1) = 0 is NaN.
        alpha = pt.concatenate([alpha_head, pt.atleast_1d(alpha_last)])
        log_p = family.anchor_log_probs(value, TENSOR)
        dirichlet = pt.gammaln(alpha.sum()) - pt.gammaln(alpha).sum()
        return dirichlet + pt.sum((alpha - 1.0) * log_p) + family.log_jacobian(value, TENSOR)

    def random(alpha_head, alpha_last, rng=None, size=None):
        alpha = np.concatenate([np.atleast_1d(alpha_head), np.atleast_1d(alpha_last)])
        return family.thresholds_of(rng.dirichlet(alpha, size=size))

    return logp, random


def cutpoint_start(K: int, link: str | Link) -> np.ndarray:
    """Where sampling starts the K - 1 cutpoints (before jitter): evenly spaced, over a
    range as wide in the link's latent units as (-2, 2) is for the logit."""
    start = np.linspace(-2.0, 2.0, K - 1) if K > 2 else np.zeros(1)
    return start * get_link(link).scale


def _cutpoint_density(prior: Prior, K: int, family: Family, scale=None):
    """The prior of the average case's free thresholds as ``(logp, random, params,
    signature)`` for a CustomDist: the induced Dirichlet or (sorted) normals on all K - 1
    (:func:`_cutpoints_rv`), or, under equidistant thresholds, those priors' marginal of
    the first and last (:mod:`bayesresp.maths.thresholds`)."""
    free = family.thresholds.n_free(K)
    ends = free < K - 1
    if prior.family == "normal":
        mu, sigma = prior.param("mu"), prior.param("sigma")

        def base_logp(value, mu_, sigma_):
            if ends and family.ordered:  # the smallest and largest of K - 1 draws
                return sorted_normal_ends(value, mu_[0], sigma_, K - 1, TENSOR)
            return pt.sum(pm.logp(pm.Normal.dist(mu_, sigma_), value))

        def base_random(mu_, sigma_, rng=None, size=None):
            shape = (*(size or ()), K - 1) if size is not None else (K - 1,)
            draws = rng.normal(np.asarray(mu_)[..., :1], sigma_, size=shape)
            draws = np.sort(draws, axis=-1) if family.ordered else draws
            return family.thresholds.free_of(draws)

        params = (np.full(free, mu), np.float64(sigma))  # (float64: not a float32 constant)
    else:
        alpha = prior.param("alpha")
        dirichlet_logp, dirichlet_random = induced_dirichlet(family)

        def base_logp(value, alpha_head, alpha_last):
            if ends:  # the flexible prior's marginal of the first and last
                return family.log_end_prior(value, alpha_last, K, TENSOR)
            return dirichlet_logp(value, alpha_head, alpha_last)

        def base_random(alpha_head, alpha_last, rng=None, size=None):
            every = np.full(K - 1, np.asarray(alpha_last).item())  # (the head has n_free)
            return family.thresholds.free_of(dirichlet_random(every, alpha_last, rng, size))

        params = (np.full(free, alpha), np.float64(alpha))
    if scale is None:
        return base_logp, base_random, params, "(m),()"

    def logp(value, a, b, d):
        return base_logp(value / d, a, b) - free * pt.log(d)

    def random(a, b, d, rng=None, size=None):
        return base_random(a, b, rng=rng, size=size) * np.asarray(d)[..., None]

    return logp, random, (*params, scale), "(m),(),()"


def _cutpoints_rv(prior: Prior, spectrum: tuple[str, ...], family: Family, scale=None):
    """Cutpoints (thresholds) of the average case: ordered in the cumulative family,
    free in the others (:attr:`~bayesresp.maths.families.Family.ordered`).

    A CustomDist for both prior families, with a support point (evenly spaced cutpoints)
    instead of an ``initval``: models with non-default initial values cannot be turned
    into graphs, which the log-prior computation of sensitivity checks needs. A normal
    prior on ordered cutpoints is the density of sorted independent normal draws.

    With ``scale`` (the r2d2 prior's ``D = 1 / sqrt(1 - R2)``) the prior is that of
    ``c / D``, with the Jacobian ``D^-m`` for the ``m`` sampled thresholds (K - 1, or the
    two ends): the cutpoints themselves are sampled (the data pin them down; sampling
    ``c / D`` would make them slide along R2).

    Under equidistant thresholds (K >= 4) the sampled value is ``cutpoint_ends`` (dim
    ``cutpoint_end``: the first and last threshold), with the flexible prior's marginal,
    and ``cutpoints_centred`` is spaced evenly between them.
    """
    K = len(spectrum)
    structure = family.thresholds
    start = structure.free_of(cutpoint_start(K, family.link))

    def support_point(rv, size, *params):
        return pt.full_like(rv, 0.0) + pt.as_tensor(start)

    logp, random, params, inputs = _cutpoint_density(prior, K, family, scale)
    constraint = {"transform": ordered} if family.ordered else {}
    ends = structure.n_free(K) < K - 1
    if ends:  # the first and last threshold's names
        names = cutpoint_names(spectrum)
        pm.modelcontext(None).add_coord("cutpoint_end", [names[0], names[-1]])
    free = pm.CustomDist(
        "cutpoint_ends" if ends else "cutpoints_centred",
        *params,
        logp=logp,
        random=random,
        support_point=support_point,
        signature=f"{inputs}->(m)",
        dims="cutpoint_end" if ends else "cutpoint",
        **constraint,
    )
    if not ends:
        return free
    centred = structure.expand(free, K, TENSOR)
    return pm.Deterministic("cutpoints_centred", centred, dims="cutpoint")


class _OrderedRows(Ordered):
    """PyMC's ordered transform on each row of a matrix (the last axis), its Jacobian
    summed over the rows too: the matrix is one multivariate value."""

    ndim_supp = 2

    def log_jac_det(self, value, *inputs):
        return pt.sum(value[..., 1:], axis=(-2, -1))


def _ordered_cs(info: DesignInfo, priors: ResolvedPriors, family: Family, scale, x_mean):
    """The cutpoints of the average case and ``b_cs`` of a cs() covariate in the
    cumulative family, each level's (or each end's) thresholds ordered
    (:mod:`bayesresp.maths.thresholds`).

    The sampled value is ``cutpoints_cs`` (dims ``cs_vertex`` x ``cutpoint``): the
    thresholds at the covariate's levels (a number: at its smallest and largest fitted
    value), each row an ordered vector with the cutpoints' prior (the induced Dirichlet:
    each level's response distribution is a priori its own), independently. The
    cutpoints of the average case and ``b_cs`` are linear in them. A normal prior on
    ``b_cs`` restricted to ordered thresholds would be ruled by the restriction: with
    seven thresholds, independent normal(0, 2.5) deviations at two levels are ordered in
    few draws, so the prior would pull every covariate towards proportional odds by an
    amount no one chose.
    """
    for key in priors.overrides:
        if key == "cs" or key.startswith("cs("):
            raise PriorError(
                f"priors.{key}: in the {family.name} family each level of a cs() covariate "
                "has thresholds of its own, with the cutpoints' prior (set 'cutpoints'); "
                "a prior on cs() coefficients applies in the sratio, cratio and acat families"
            )
    if family.thresholds.name != "flexible":
        raise ValueError(
            f"cs() in the {family.name} family needs flexible thresholds (each level's own)"
        )
    simplex = cs_simplex(info)
    if simplex is None:
        raise ValueError(
            "a design with cs() columns in the cumulative family needs the range its "
            "thresholds are kept ordered over: make it with make_design(..., ordered_family=True)"
        )
    K, J = len(info.spectrum), len(info.cs_columns)
    base_logp, base_random, params, inputs = _cutpoint_density(priors.cutpoints(), K, family, scale)
    start = np.broadcast_to(cutpoint_start(K, family.link), (J + 1, K - 1)).copy()

    def logp(value, *args):
        return sum(base_logp(value[j], *args[:-1]) for j in range(J + 1))

    def random(*args, rng=None, size=None):
        shape = tuple(np.atleast_1d(size)) if size is not None else ()
        return base_random(*args[:-1], rng=rng, size=(*shape, J + 1))

    def support_point(rv, size, *args):
        return pt.full_like(rv, 0.0) + pt.as_tensor(start)

    vertices = pm.CustomDist(
        "cutpoints_cs",
        *params,
        start,  # (the vertices' shape)
        logp=logp,
        random=random,
        support_point=support_point,
        signature=f"{inputs},(v,m)->(v,m)",
        dims=("cs_vertex", "cutpoint"),
        transform=_OrderedRows(),
    )
    cbar, b = simplex.from_vertices(vertices, x_mean, TENSOR)
    centred = pm.Deterministic("cutpoints_centred", cbar, dims="cutpoint")
    return centred, pm.Deterministic("b_cs", b, dims=("cs_coef", "cutpoint"))


def linear_predictor(design_data: dict, params: dict, info: DesignInfo):
    """``eta`` in PyTensor, from data tensors and parameter tensors
    (:func:`bayesresp.maths.predictor.linear_predictor`, the body predictions share): a
    vector of one value per row, zeros for a formula with no common, ``mo()`` or group
    term (``response ~ cs(severity)``)."""
    eta = maths_linear_predictor(
        design_data["X"],
        params["b"] if info.columns else None,
        mono=design_data["mono"],
        b_mo=params.get("b_mo"),
        simplexes=[params[f"simplex[{m.var}]"] for m in info.monotonic],
        groups=[
            (design_data[f"Z[{g.label}]"], params[f"r[{g.label}]"][design_data[f"idx[{g.label}]"]])
            for g in info.eta_groups
        ],
        xp=TENSOR,
    )
    if not isinstance(eta, pt.TensorVariable):  # no term: the number 0
        eta = pt.zeros(design_data["X"].shape[0])
    return eta


def data_values(design: Design) -> dict[str, np.ndarray]:
    """Every data array of the model, by the name of its ``pm.Data`` container.

    The model's graph depends on the design's structure only (columns, levels, priors);
    these arrays are all it takes from the rows, so a compiled model can be refitted to
    other rows of the same structure by swapping them (nutpie's ``with_data``). They
    include the weighted means that place the average case.
    """
    info = design.info
    w = design.weights / design.weights.sum()
    values = {
        "X": design.X,
        "X_mean": w @ design.X,
        "mono": design.mono,
        "y": design.y,
        "weights": design.weights,
    }
    if design.y_high is not None:  # ranges (ambiguous codes): each row's highest level
        values["y_high"] = design.y_high
    if design.X_cs is not None:  # category-specific columns, and their weighted means
        values["X_cs"] = design.X_cs
        values["X_cs_mean"] = w @ design.X_cs
    for j, m in enumerate(info.monotonic):
        values[f"mono_share[{m.var}]"] = np.bincount(
            design.mono[:, j], weights=w, minlength=len(m.levels)
        )
    for g in info.groups:
        values[f"idx[{g.label}]"] = design.group_index[g.label]
        values[f"Z[{g.label}]"] = design.group_Z[g.label]
    values |= scalings(design)  # read by models with the r2d2 prior only
    if design.prior_values is not None:
        values |= design.prior_values
    elif design.imputation is not None or any(lat.missing.any() for lat in design.latent):
        # the prior's arrays from the complete rows
        complete = _complete_rows(design)
        if complete is not None:
            values |= prior_values(complete)
    return values


def _complete_rows(design: Design) -> Design | None:
    """The rows of a design of copies that lack no covariate (one copy each), as a plain
    design; None when every row lacks one. The prior's location (the average case) and
    the r2d2 scalings are read from them: the copies of the other rows spread each such
    row evenly over levels, which would move the prior with the share of missing cells."""
    imp = design.imputation
    first = imp.first if imp is not None else np.arange(design.n)
    complete = ~imp.missing.any(axis=1) if imp is not None else np.ones(design.n, bool)
    for lat in design.latent:  # (a latent number's value: none observed)
        complete &= ~lat.missing[first]
    rows = np.flatnonzero(complete)
    if rows.size == 0:
        return None
    return design.take(first[rows])


def prior_values(design: Design) -> dict[str, np.ndarray]:
    """The data arrays of :func:`data_values` that the prior and the average case read
    (the weighted means ``X_mean`` and ``mono_share[...]``, the r2d2 scalings): what a
    refit on part of the rows takes from the full data (``Design.prior_values``)."""
    return {
        k: v
        for k, v in data_values(design).items()
        if k in ("X_mean", "X_cs_mean") or k.startswith(("mono_share[", "r2d2_"))
    }


def _average_case(data: dict, params: dict, info: DesignInfo):
    """The fixed part of eta at the weighted mean of the fitting rows."""
    shift = pt.dot(data["X_mean"], params["b"]) if info.columns else 0.0
    for j, m in enumerate(info.monotonic):
        steps = monotonic_steps(params[f"simplex[{m.var}]"], TENSOR)
        shift = shift + params["b_mo"][j] * pt.dot(data[f"mono_share[{m.var}]"], steps)
    return shift


def build_model(
    design: Design,
    prior_overrides: dict[str, str],
    family: str | Family,
    centre_leniency: bool | None = None,
) -> pm.Model:
    """The PyMC model for a design (with outcome and weights), in an ordinal family with
    its link (a link's name: the cumulative family). ``centre_leniency``: the coders'
    leniencies' form (None: as :func:`leniency_centred` reads the design; a fitted
    model is rebuilt in the form it was sampled in)."""
    info = design.info
    family = get_family(family)
    priors = ResolvedPriors(info, prior_overrides, family.link.name)
    values = data_values(design)
    if priors.r2d2 is None:
        values = {k: v for k, v in values.items() if not k.startswith("r2d2_")}
    with pm.Model(coords=coords_of(info)) as model:
        data = {name: pm.Data(name, value) for name, value in values.items()}
        if priors.r2d2 is None:
            params, cut_scale = _independent_priors(info, priors), None
        else:
            params, cut_scale = _r2d2_priors(info, priors, priors.r2d2, data)
        # Sample the cutpoints of the average case (covariates at their means) and
        # recover the cutpoints of the reference case from them: the centred ones are
        # nearly uncorrelated with the coefficients, which NUTS needs (as brms does with
        # its centred design matrix). eta itself is computed uncentred. Under the r2d2
        # prior their prior is scaled by the latent sd next to the residual's,
        # 1 / sqrt(1 - R2).
        # With cs() columns in the cumulative family, the thresholds at each of the
        # covariate's levels (or ends) are sampled, each ordered, and the average case's
        # cutpoints and b_cs are read from them (_ordered_cs).
        if info.cs_columns and family.ordered:
            centred, b_cs = _ordered_cs(info, priors, family, cut_scale, data["X_cs_mean"])
        else:
            centred = _cutpoints_rv(priors.cutpoints(), info.spectrum, family, cut_scale)
            b_cs = _category_specific(info, priors) if info.cs_columns else None
        shift = _average_case(data, params, info)
        if info.cs_columns:  # each threshold moved by the category-specific columns
            shift = shift + pt.dot(data["X_cs_mean"], b_cs)  # (K - 1,)
        cut = pm.Deterministic("cutpoints", centred + shift, dims="cutpoint")
        eta = linear_predictor(data, params, info)
        if design.latent:  # numbers' missing cells: latent values under their own models
            eta, numbers = _latent_numbers(design, priors, data, params, eta)
            pm.Potential("observed_numbers", numbers)
        if info.cs_columns:  # the rows' own thresholds, (n, K - 1)
            cut = cut[None, :] - pt.dot(data["X_cs"], b_cs)
        if info.threshold_groups:  # (cs(1) | mission): each row's group moves them
            _check_threshold_groups(info, family)
            cut = family.vary(cut, _threshold_deviations(info, params, data), TENSOR)
        if design.imputation is not None and design.coders is None:
            # rows lacking covariates: their levels summed out
            pm.Potential("loglik", _imputed_loglik(design, priors, data, eta, cut, family))
        elif design.coders is None:
            loglik = family.log_prob(data["y"], eta, cut, TENSOR, y_high=data.get("y_high"))
            pm.Potential("loglik", pt.sum(data["weights"] * loglik))
        else:  # one term per response: its codes read its true level (maths.rater)
            if centre_leniency is None:
                centre_leniency = leniency_centred(design)[0]
            loglik = _coders_loglik(design, priors, data, eta, cut, family, centre_leniency)
            pm.Potential("loglik", loglik)
    model.bayesresp_priors = prior_table(info, prior_overrides, family)  # type: ignore[attr-defined]
    return model


def _check_threshold_groups(info: DesignInfo, family: Family) -> None:
    """The design's threshold groups act as the family's do (additive, or on the ordered
    transform), so that predictions from the draws read them as the model did."""
    if any(g.ordered != family.ordered for g in info.threshold_groups):
        raise ValueError(
            f"the design's group thresholds were made for another family than {family.name}: "
            f"make it with make_design(..., ordered_family={family.ordered})"
        )


def _threshold_deviations(info: DesignInfo, params: dict, data: dict):
    """Each row's threshold deviations (n, K - 1): the sum of its levels' of the group
    terms that move thresholds (``(cs(1) | mission)``)."""
    return sum(params[f"r[{g.label}]"][data[f"idx[{g.label}]"]] for g in info.threshold_groups)


def prior_table(info: DesignInfo, prior_overrides: dict[str, str], family: str | Family):
    """Every parameter group with its prior, as text (summaries, fit files), under the
    family's threshold structure."""
    family = get_family(family)
    table = ResolvedPriors(info, prior_overrides, family.link.name).table()
    if family.thresholds.n_free(len(info.spectrum)) < len(info.spectrum) - 1:
        table["cutpoints"] += (
            "; equidistant: its marginal of the first and last, the others evenly between"
        )
    return table


def _category_specific(info: DesignInfo, priors: ResolvedPriors):
    """``b_cs`` (dims ``cs_coef`` x ``cutpoint``): each cs() column's coefficient at each
    threshold. A row's thresholds are ``c_k - x_cs b_cs[:, k]``, so a positive
    coefficient moves mass above threshold k, as a common coefficient does everywhere."""
    K1 = len(info.spectrum) - 1
    rows = [priors.category_specific(c.term) for c in info.cs_columns]
    family, mu, sigma, nu = coefficient_priors("cs", rows)
    shape = {"mu": np.repeat(mu[:, None], K1, 1), "sigma": np.repeat(sigma[:, None], K1, 1)}
    if family == "normal":
        return pm.Normal("b_cs", **shape, dims=("cs_coef", "cutpoint"))
    nu = np.repeat(nu[:, None], K1, 1)
    return pm.StudentT("b_cs", nu=nu, **shape, dims=("cs_coef", "cutpoint"))


def leniency_centred(design: Design) -> tuple[bool, float]:
    """Whether the coders' leniencies are sampled centred, and the signal that chose
    (:func:`bayesresp.maths.rater.leniency_signal` of the design's codes): centred from
    :data:`~bayesresp.maths.rater.LENIENCY_CENTRE_SIGNAL`."""
    from bayesresp.maths.rater import LENIENCY_CENTRE_SIGNAL, leniency_signal

    c = design.coders
    signal = leniency_signal(
        c.coder,
        c.response,
        design.of_rows(design.y),
        design.of_rows(design.y_high),
        len(design.info.coders),
    )
    return signal >= LENIENCY_CENTRE_SIGNAL, signal


def coder_layer(priors: ResolvedPriors, centred: bool = False):
    """The coders' parameters (partially pooled; their priors:
    :data:`bayesresp.model.priors.CODER_DEFAULTS`, overridable): ``leniency`` and
    ``spread``, one per coder (dim ``coder``), in levels.

    The leniencies sum to zero (a zero-sum normal of scale ``leniency_sd``: each one's
    sd is ``leniency_sd * sqrt(1 - 1/C)`` for C coders): codes alone cannot tell a
    panel of coders who all code a level high from responses a level higher, so a
    leniency is relative to the average coder. With
    their mean free, it traded against the true levels along a ridge only the prior
    bounded: on 300 responses, three coders, 30% coded twice, 4 divergences in 4,000
    draws and 37 leapfrog steps per draw, against none and 17 with the sum fixed (under
    the former normal reading).

    ``centred`` (:func:`leniency_centred`): the leniencies themselves are sampled
    (``leniency``), as where the shared codes set them apart well beyond their noise
    the non-centred form (``leniency = leniency_sd * leniency_z``) ties every coder's
    well-measured leniency to ``leniency_sd`` and NUTS diverges along that funnel;
    where the coders barely differ, the centred form funnels instead
    (benchmarks/README.md, "The coders' reading kernel"). The spreads are non-centred
    (``spread = spread_median * exp(spread_sd * spread_z)``)."""
    lsd = _positive_rv("leniency_sd", priors.coder("leniency_sd"))
    if centred:
        leniency = pm.ZeroSumNormal("leniency", sigma=lsd, dims="coder")
    else:
        lz = pm.ZeroSumNormal("leniency_z", sigma=1.0, dims="coder")
        leniency = pm.Deterministic("leniency", lz * lsd, dims="coder")
    median = _positive_rv("spread_median", priors.coder("spread_median"))
    ssd = _positive_rv("spread_sd", priors.coder("spread_sd"))
    sz = pm.Normal("spread_z", 0.0, 1.0, dims="coder")
    spread = pm.Deterministic("spread", median * pt.exp(sz * ssd), dims="coder")
    return leniency, spread


def _coders_loglik(
    design: Design, priors: ResolvedPriors, data: dict, eta, cut, family: Family, centred: bool
):
    """Each response's log-likelihood under the coders' layer: its true level summed out;
    the leniencies sampled centred or not (:func:`coder_layer`)."""
    from bayesresp.maths.rater import log_codes, log_levels, log_reading, response_log_lik

    coders = design.coders
    K = len(design.info.spectrum)
    leniency, spread = coder_layer(priors, centred)
    observed = 0.0
    if design.imputation is None:
        own = cut[coders.first] if cut.ndim == 2 else cut  # rows' own thresholds
        levels = log_levels(eta[coders.first], own, family, K, xp=TENSOR)
    else:  # a response's true level with its missing covariates summed out
        from bayesresp.maths.missing import mixed_levels

        copy_lp, observed = _imputed_terms(design, priors, data, coders.first)
        imp = design.imputation
        every = log_levels(eta, cut, family, K, xp=TENSOR)  # (n_copies, K)
        levels = mixed_levels(
            every, copy_lp, imp.slots[coders.first], imp.mask[coders.first], xp=TENSOR
        )
    codes = log_codes(
        log_reading(leniency, spread, K, xp=TENSOR),
        coders.coder,
        design.of_rows(design.y),
        design.of_rows(design.y_high),
        xp=TENSOR,
    )
    per_response = response_log_lik(levels, codes, coders.response, coders.n_responses, xp=TENSOR)
    return pt.sum(per_response) + observed


def missing_layer(info: DesignInfo, priors: ResolvedPriors) -> dict:
    """The imputed covariates' own models (:mod:`bayesresp.maths.missing`): per
    covariate ``mi_intercept[x]`` (dim ``x_mi_level``, its non-reference levels),
    ``mi_b[x]`` (``mi_predictor`` x ``x_mi_level``) and, with a group term, its
    partially pooled effects ``mi_r[x] = mi_z[x] * mi_sd[x]`` (``g_level`` x
    ``x_mi_level``, non-centred). Returns, per covariate, (intercept, coef, effects)."""
    out = {}
    for m in info.imputed:
        lv = f"{m.var}_mi_level"
        a = _mi_coef(f"mi_intercept[{m.var}]", priors.missing("mi_intercept"), lv)
        coef = None
        if m.predictors:
            coef = _mi_coef(f"mi_b[{m.var}]", priors.missing("mi_b"), ("mi_predictor", lv))
        effects = None
        if m.group is not None:
            sd = _positive_rv(f"mi_sd[{m.var}]", priors.missing("mi_sd"))
            z = pm.Normal(f"mi_z[{m.var}]", 0.0, 1.0, dims=(f"{m.group}_level", lv))
            effects = pm.Deterministic(f"mi_r[{m.var}]", z * sd, dims=(f"{m.group}_level", lv))
        out[m.var] = (a, coef, effects)
    return out


def _latent_numbers(design: Design, priors: ResolvedPriors, data: dict, params: dict, eta):
    """The numbers whose missing cells are latent values (:class:`~bayesresp.model.design.
    Latent`): per number ``x``, its model's ``mi_intercept[x]``, ``mi_b[x]`` (dim
    ``mi_predictor``), ``mi_sigma[x]`` and, by mission, ``mi_sd[x]``, ``mi_z[x]`` and
    ``mi_r[x]``; each missing cell's value, non-centred, ``mi_e[x]`` (dim ``x_mi_cell``)
    and on the number's own units ``mi_x[x]``. Returns ``eta`` with each latent value
    times its row's slope in it added, and the observed cells' log density under their
    models (each unit once: a row, or under the coders' layer a response)."""
    from bayesresp.maths.missing import normal_log_density, number_means

    info = design.info
    observed = 0.0
    for m, lat in zip(info.latent, design.latent, strict=True):
        a = _mi_coef(f"mi_intercept[{m.var}]", priors.missing("mi_intercept"), None)
        coef = None
        if m.predictors:
            coef = _mi_coef(f"mi_b[{m.var}]", priors.missing("mi_b"), "mi_predictor")
        sigma = _positive_rv(f"mi_sigma[{m.var}]", priors.missing("mi_sigma"))
        units = np.flatnonzero(lat.counted)  # design rows, one per unit
        effects = None
        if m.group is not None:
            sd = _positive_rv(f"mi_sd[{m.var}]", priors.missing("mi_sd"))
            z = pm.Normal(f"mi_z[{m.var}]", 0.0, 1.0, dims=f"{m.group}_level")
            r = pm.Deterministic(f"mi_r[{m.var}]", z * sd, dims=f"{m.group}_level")
            idx = data[f"idx[{m.group}]"][units]
            effects = r[pt.maximum(idx, 0)] * pt.ge(idx, 0)  # unseen group: 0
        mu = number_means(a, coef, predictor_values(design, m, units, data), effects, TENSOR)
        seen = ~lat.missing[units]
        if seen.any():
            observed = observed + pt.sum(
                normal_log_density(lat.value[units][seen], mu[seen], sigma, TENSOR)
            )
        cells = np.searchsorted(units, lat.cell_rows())  # each cell's unit
        if cells.size == 0:
            continue
        e = pm.Normal(f"mi_e[{m.var}]", 0.0, 1.0, dims=f"{m.var}_mi_cell")
        value = mu[cells] + sigma * e
        pm.Deterministic(f"mi_x[{m.var}]", m.center + m.scale * value, dims=f"{m.var}_mi_cell")
        slope = maths_linear_predictor(
            lat.dX,
            params["b"] if info.columns else None,
            groups=[
                (lat.dZ[g.label], params[f"r[{g.label}]"][data[f"idx[{g.label}]"]])
                for g in info.eta_groups
            ],
            xp=TENSOR,
        )
        rows_value = pt.switch(lat.missing, value[np.maximum(lat.cell, 0)], 0.0)
        eta = eta + rows_value * slope
    return eta, observed


def _mi_coef(name: str, prior: Prior, dims):
    if prior.family == "student_t":
        nu, mu, sigma = (prior.param(k) for k in ("nu", "mu", "sigma"))
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, dims=dims)
    return pm.Normal(name, mu=prior.param("mu"), sigma=prior.param("sigma"), dims=dims)


def _imputed_loglik(design: Design, priors: ResolvedPriors, data: dict, eta, cut, family: Family):
    """The joint log-likelihood of the outcome and the imputed covariates: each row's
    outcome with its missing levels summed out over its copies, plus the observed levels'
    log-probabilities under the covariates' own models (:mod:`bayesresp.maths.missing`)."""
    from bayesresp.maths.missing import row_mixture

    imp = design.imputation
    copy_lp, observed = _imputed_terms(design, priors, data)
    log_terms = family.log_prob(data["y"], eta, cut, TENSOR, y_high=data.get("y_high"))
    return pt.sum(row_mixture(log_terms + copy_lp, imp.slots, imp.mask, xp=TENSOR)) + observed


def _imputed_terms(design: Design, priors: ResolvedPriors, data: dict, units=None):
    """The imputed covariates' models' terms: each copy's log-probability of the levels
    it gives its row's missing cells (n_copies,), and the observed cells'
    log-probabilities summed (over the rows ``units``: every row, or under the coders'
    layer each response's first code, so that a response's covariates count once)."""
    from bayesresp.maths.missing import covariate_log_probs, pick_levels

    info, imp = design.info, design.imputation
    layer = missing_layer(info, priors)
    first = imp.first
    counted = np.zeros(imp.n_rows, dtype=bool)
    counted[np.arange(imp.n_rows) if units is None else units] = True
    copy_lp = 0.0
    observed = 0.0
    for j, m in enumerate(info.imputed):
        a, coef, r = layer[m.var]
        predictors = predictor_values(design, m, first, data)
        effects = None
        if r is not None:
            idx = data[f"idx[{m.group}]"][first]
            effects = r[pt.maximum(idx, 0)] * pt.ge(idx, 0)[:, None]  # unseen group: 0
        lp = covariate_log_probs(a, coef, predictors, effects, xp=TENSOR)  # (n_rows, L)
        picked = pick_levels(lp[imp.row], imp.levels[:, j])  # (n_copies,)
        copy_lp = copy_lp + pt.switch(imp.missing[imp.row, j], picked, 0.0)
        seen = ~imp.missing[:, j] & counted
        observed = observed + pt.sum(pick_levels(lp, imp.levels[first, j])[seen])
    return copy_lp, observed


def _simplexes(info: DesignInfo, priors: ResolvedPriors, params: dict) -> None:
    for m in info.monotonic:
        alpha = priors.simplex(m.var).param("alpha")
        params[f"simplex[{m.var}]"] = pm.Dirichlet(
            f"simplex[{m.var}]", a=np.full(len(m.levels) - 1, alpha), dims=f"{m.var}_step"
        )


def _independent_priors(info: DesignInfo, priors: ResolvedPriors) -> dict:
    """Coefficients, ``mo()`` totals and group effects, each with its own prior."""
    params: dict = {}
    if info.columns:
        params["b"] = _coef_rv(
            "b", [priors.coefficient(c.name, c.term) for c in info.columns], "coef"
        )
    if info.monotonic:
        params["b_mo"] = _coef_rv(
            "b_mo", [priors.monotonic(m.name) for m in info.monotonic], "mo_term"
        )
        _simplexes(info, priors, params)
    for g in info.groups:
        params[f"r[{g.label}]"] = _group_effects(g, priors)
    return params


def _r2d2_priors(info: DesignInfo, priors: ResolvedPriors, r2: R2D2Layout, data: dict):
    """The r2d2 prior (:mod:`bayesresp.model.r2d2`): coefficients and group effects
    scaled by the shares of explained variance. Returns the parameters and the
    cutpoints' scale, 1 / sqrt(1 - R2).

    The coefficients are sampled on the whitened columns of their terms (``b = T w``,
    ``T`` constant): centred (``b_w = w ~ N(0, scale_k)``) where the rows inform them, as
    a non-centred one would trade its size against R2 along a ridge NUTS crosses slowly
    (R2's ESS fell to 250 of 4,000 draws on MASS::housing); non-centred
    (``b_w ~ N(0, 1)``, ``w = scale_k b_w``) for covariates constant within the levels
    of a group (``r2d2_nc``), which few units inform. Group effects stay non-centred.

    The free variables come in the order the compiled kernel's vector holds them:
    ``R2``, ``shares``, ``b_w``, (``b_mo_w``, simplexes), per group term ``z`` (and a
    varying-slope correlation), then the cutpoints."""
    params: dict = {}
    a, b = r2.beta
    R2 = pm.Beta("R2", alpha=a, beta=b)
    if r2.n_components > 1:
        shares = pm.Dirichlet("shares", a=np.asarray(r2.concentrations), dims="component")
    else:
        shares = pt.ones(1)
    # explained variance tau2 = s2 R2 / (1 - R2); each component's scale sqrt(share tau2)
    scale = pt.sqrt(shares * (r2.residual_variance * R2 / (1.0 - R2)))
    if info.columns:
        # b_w ~ N(0, s) where centred, N(0, 1) times s where not (nc = 1)
        cols = np.asarray(r2.column_component, dtype=np.int64)
        nc = data["r2d2_nc"]
        s_col = scale[cols]
        b_w = pm.Normal("b_w", 0.0, nc + (1.0 - nc) * s_col, dims="coef")
        whitened = b_w * (1.0 + nc * (s_col - 1.0))
        params["b"] = pm.Deterministic("b", pt.dot(data["r2d2_T"], whitened), dims="coef")
    if info.monotonic:  # the same rule for the total effects
        mos = np.asarray(r2.mo_component, dtype=np.int64)
        nc = data["r2d2_mo_nc"]
        s_mo = scale[mos] * data["r2d2_mo"]
        b_mo_w = pm.Normal("b_mo_w", 0.0, nc + (1.0 - nc) * s_mo, dims="mo_term")
        params["b_mo"] = pm.Deterministic(
            "b_mo", b_mo_w * (1.0 + nc * (s_mo - 1.0)), dims="mo_term"
        )
        _simplexes(info, priors, params)
    for g in info.threshold_groups:  # outside the shares: no part of eta's variance
        params[f"r[{g.label}]"] = _group_effects(g, priors)
    for g, comp in zip(info.eta_groups, r2.group_component, strict=True):
        level_dim, term_dim = f"{g.label}_level", f"{g.label}_term"
        z = pm.Normal(f"z[{g.label}]", 0.0, 1.0, dims=(level_dim, term_dim))
        unit = data[f"r2d2_z[{g.label}]"]
        if len(g.columns) > 1:  # the term's share split over its columns
            split = pm.Dirichlet(
                f"shares[{g.label}]", a=np.full(len(g.columns), r2.alpha), dims=term_dim
            )
            unit = unit * pt.sqrt(split)
        sd = pm.Deterministic(f"sd[{g.label}]", scale[comp] * unit, dims=term_dim)
        params[f"r[{g.label}]"] = _varying_effects(g, priors, z, sd)
    return params, 1.0 / pt.sqrt(1.0 - R2)


def _group_effects(g, priors: ResolvedPriors):
    z = pm.Normal(f"z[{g.label}]", 0.0, 1.0, dims=(f"{g.label}_level", f"{g.label}_term"))
    sd = _positive_rv(f"sd[{g.label}]", priors.sd(g.label), dims=f"{g.label}_term")
    return _varying_effects(g, priors, z, sd)


def _varying_effects(g, priors: ResolvedPriors, z, sd):
    """A group term's effects from its standardised ``z`` (levels x terms) and its sds:
    ``r = z * sd``, or, with correlated varying slopes, ``r = z (diag(sd) L)^T`` where
    ``L``, the Cholesky factor of the terms' correlation matrix, has an LKJ prior
    (``cor_chol[g]``; ``cor[g] = L L^T``). That is the model of PyMC's LKJCholeskyCov
    with the sds' prior as its sd_dist, in parameters that are the same under every
    prior of the sds (the compiled kernel, :mod:`bayesresp.inference.kernel`, shares
    them)."""
    level_dim, term_dim = f"{g.label}_level", f"{g.label}_term"
    if len(g.columns) > 1 and g.correlated:
        # PyMC 6's LKJCorr is the Cholesky factor of the correlation matrix (unit rows),
        # not the matrix
        chol = pm.LKJCorr(
            f"cor_chol[{g.label}]",
            n=len(g.columns),
            eta=priors.cor(g.label).param("eta"),
            dims=(term_dim, f"{g.label}_term_"),
        )
        pm.Deterministic(
            f"cor[{g.label}]", pt.dot(chol, chol.T), dims=(term_dim, f"{g.label}_term_")
        )
        r = pt.dot(z, (sd[:, None] * chol).T)
    else:
        r = z * sd[None, :]
    return pm.Deterministic(f"r[{g.label}]", r, dims=(level_dim, term_dim))
