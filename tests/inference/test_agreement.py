"""Agreement with independent implementations of the same likelihood.

1. Without group terms and with flat-enough priors, posterior means match the maximum-
   likelihood estimates of statsmodels' OrderedModel. Tolerance 0.1 posterior sd: with
   n = 10,000 the posterior mean differs from the MLE by O(1/n) (about 0.01 sd here), and
   the Monte Carlo error of a posterior mean is sd / sqrt(ESS), at most 0.032 sd for the
   ESS >= 1,000 the test requires; 0.1 sd is three such errors.
2. With one random intercept, the maximum-likelihood estimates from a marginal likelihood
   integrated by adaptive Gauss-Hermite quadrature (written here, independently of the
   model code) lie inside the posterior 90% intervals.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

import bayesresp
from bayesresp import Codebook
from bayesresp.model.design import make_design
from bayesresp.model.formula import parse_formula

pytestmark = pytest.mark.slow
NO_GROUPS = {"mission": 0.0, "mission:department": 0.0, "official_id": 0.0}


def test_matches_statsmodels_ordered_model():
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    data = bayesresp.simulate(missions=12, rows=10000, seed=31, sd=NO_GROUPS).data
    formula = "response ~ severity + background + years_at_station"
    fit = bayesresp.fit(
        data,
        bayesresp.ModelSpec(formula, priors={"b": "normal(0, 10)", "cutpoints": "normal(0, 10)"}),
        seed=7,
        progress=False,
    )
    design = make_design(fit.data, parse_formula(formula), Codebook.default())
    mle = OrderedModel(design.y, design.X, distr="logit").fit(
        method="bfgs", maxiter=5000, gtol=1e-8, disp=False
    )
    p = design.X.shape[1]
    thresholds = OrderedModel(design.y, design.X, distr="logit").transform_threshold_params(
        mle.params
    )[1:-1]
    s = fit.summary()
    names = design.info.column_names + [f"cutpoint[{c}]" for c in fit.posterior["cutpoint"].values]
    estimates = np.concatenate([mle.params[:p], thresholds])
    rows = s.loc[names]
    assert (rows["ess_bulk"] >= 1000).all(), rows["ess_bulk"].min()
    gap = np.abs(rows["mean"].to_numpy() - estimates) / rows["sd"].to_numpy()
    assert gap.max() <= 0.1, dict(zip(names, gap.round(3), strict=True))


# -- one random intercept: Gauss-Hermite marginal likelihood -----------------------------
def _log_p(y, eta, cuts):
    """log P(y | eta) for the cumulative logit, plain and independent of bayesresp.maths."""
    c = np.concatenate([[-np.inf], cuts, [np.inf]])
    upper = special.expit(c[y + 1] - eta)
    lower = special.expit(c[y] - eta)
    return np.log(np.maximum(upper - lower, 1e-300))


def _group_logdens(u, X, y, beta, cuts, group, n_groups, sigma):
    """h_j(u_j) = sum_i log p(y_i | x_i beta + u_j) + log N(u_j; 0, sigma), per group j."""
    ll = _log_p(y, X @ beta + u[group], cuts)
    h = np.zeros(n_groups)
    np.add.at(h, group, ll)
    return h - 0.5 * (u / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))


def _marginal_loglik(theta, X, y, group, n_groups, nodes, weights):
    """Adaptive Gauss-Hermite quadrature (as lme4's nAGQ): nodes centred at each group's
    mode of h_j and scaled by its curvature, found by a few vectorised Newton steps."""
    p = X.shape[1]
    beta, first, steps, log_sigma = theta[:p], theta[p], theta[p + 1 : -1], theta[-1]
    cuts = first + np.concatenate([[0.0], np.cumsum(np.exp(steps))])
    sigma = np.exp(log_sigma)
    h = lambda u: _group_logdens(u, X, y, beta, cuts, group, n_groups, sigma)  # noqa: E731
    # h_j is concave (a log-concave likelihood times a normal), with curvature at most
    # -1/sigma^2; clamping the finite-difference curvature there keeps Newton stable.
    u, eps = np.zeros(n_groups), 1e-4
    for _ in range(50):
        d1 = (h(u + eps) - h(u - eps)) / (2 * eps)
        d2 = np.minimum((h(u + eps) - 2 * h(u) + h(u - eps)) / eps**2, -1 / sigma**2)
        step = np.clip(d1 / d2, -1.0, 1.0)
        u = u - step
        if np.abs(step).max() < 1e-9:
            break
    d2 = np.minimum((h(u + eps) - 2 * h(u) + h(u - eps)) / eps**2, -1 / sigma**2)
    scale = np.sqrt(2.0 / -d2)  # sqrt(2) * posterior sd of u_j
    at_nodes = np.stack([h(u + scale * x) for x in nodes], axis=1)  # (groups, Q)
    log_w = np.log(weights) + nodes**2
    return (np.log(scale) + special.logsumexp(at_nodes + log_w, axis=1)).sum()


def test_random_intercept_matches_gauss_hermite_mle():
    sd = {**NO_GROUPS, "mission": 0.7}
    data = bayesresp.simulate(missions=40, rows=600, seed=17, sd=sd).data
    formula = "response ~ severity + background + (1 | mission)"
    fit = bayesresp.fit(
        data, bayesresp.ModelSpec(formula, priors={"b": "normal(0, 5)"}), seed=3, progress=False
    )
    design = make_design(fit.data, parse_formula(formula), Codebook.default())
    X, y = design.X, design.y
    group = design.group_index["mission"]
    n_groups = len(design.info.groups[0].levels)
    nodes, weights = np.polynomial.hermite.hermgauss(15)

    def negative(theta):
        return -_marginal_loglik(theta, X, y, group, n_groups, nodes, weights)

    K = len(design.info.spectrum)
    start = np.concatenate([np.zeros(X.shape[1]), [-2.0], np.zeros(K - 2), [np.log(0.5)]])
    res = optimize.minimize(negative, start, method="BFGS", options={"gtol": 1e-6})
    # BFGS with finite-difference gradients may stop on "precision loss" at the optimum;
    # what matters is that the gradient there is flat.
    grad = optimize.approx_fprime(res.x, negative, 1e-6)
    assert np.abs(grad).max() < 1e-2, (res.message, grad)
    # The quadrature is converged: 40 nodes give the same marginal likelihood.
    n40, w40 = np.polynomial.hermite.hermgauss(40)
    assert _marginal_loglik(res.x, X, y, group, n_groups, n40, w40) == pytest.approx(
        -res.fun, abs=1e-6
    )

    s = fit.summary(ci=0.9)
    mle = dict(zip(design.info.column_names, res.x[: X.shape[1]], strict=True))
    mle["sd(mission)"] = float(np.exp(res.x[-1]))
    outside = {
        k: (v, s.loc[k, "q5"], s.loc[k, "q95"])
        for k, v in mle.items()
        if not s.loc[k, "q5"] <= v <= s.loc[k, "q95"]
    }
    assert not outside, outside
