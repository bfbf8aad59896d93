"""The joint density of a held-out group's responses with its new effects integrated out
(:mod:`bayesresp.inference.newgroups`), tied per posterior draw to quadrature on a grid.

The draws are the shipped full model's on the example (session fixture): a correlated
mission intercept and slope, nested departments, officials, ``mo()`` terms. Which levels
are "new" is chosen here, so each case integrates one, two or three effects whatever the
fit saw. The grid is a trapezoid rule over six prior sds of each new effect at that draw
(the likelihood only narrows the integrand and keeps its peak within a few prior sds),
with spacing at most a third of the integrand's width (its error is then far below 1e-6,
the rule being spectrally accurate for smooth peaked integrands; a fixed grid in the
effects' own units was too coarse for a draw whose slope sd is 0.02); the tolerance is
five Monte Carlo standard errors of the estimate, which the estimate reports itself,
plus 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from bayesresp.inference.newgroups import (
    bridge_log_ratio,
    integrated_log_density,
    loadings,
    new_levels,
    row_units,
)
from bayesresp.maths.cumulative import log_prob
from bayesresp.model.design import apply_design

DRAWS = [5, 200, 777]  # posterior draws checked against the grid


def _grid_log_density(draws, design, new, s, half=6.0, points=(161, 161, 81)):
    """log of the integral over the new effects, by the trapezoid rule on a grid over
    ``half`` prior sds either side of zero in each, for posterior draw ``s`` (independent
    of the module: its own eta, prior and sums)."""
    A, blocks = loadings(design, new)
    d = A.shape[1]
    r = {k: v[s].copy() for k, v in draws.r.items()}
    prec, logdet, sds = np.zeros((d, d)), 0.0, np.zeros(d)
    for label, level, start, q in blocks:
        r[label][level] = 0.0
        cov = draws.cor[label][s] * np.outer(draws.sd[label][s], draws.sd[label][s])
        prec[start : start + q, start : start + q] = np.linalg.inv(cov)
        sds[start : start + q] = draws.sd[label][s]
        logdet += np.linalg.slogdet(2 * np.pi * cov)[1]
    one = draws.subset(np.array([s]))
    one.r = {k: v[None] for k, v in r.items()}
    from bayesresp.inference.arrays import eta_from_draws

    eta0 = eta_from_draws(one, design, "known")[0]
    axes = [np.linspace(-half * sd, half * sd, points[d - 1]) for sd in sds]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    total = np.empty(len(grid))
    for c in range(0, len(grid), 20_000):
        u = grid[c : c + 20_000]
        cut = np.broadcast_to(draws.cutpoints[s], (len(u), draws.cutpoints.shape[1]))
        ll = log_prob(design.y, eta0[None] + u @ A.T, cut, "logit").sum(-1)
        total[c : c + 20_000] = ll - 0.5 * np.einsum("ni,ij,nj->n", u, prec, u) - 0.5 * logdet
    cell = np.prod([a[1] - a[0] for a in axes])
    return logsumexp(total) + np.log(cell)


def _case(full_fit, example, rows, new):
    design = apply_design(full_fit.info, example.iloc[rows])
    draws = full_fit.arrays.subset(np.array(DRAWS))
    units, unit_log_lik = row_units(design, draws, full_fit.spec.link)
    got = integrated_log_density(
        draws, units, unit_log_lik, new, importance=400, rng=np.random.default_rng(7)
    )
    want = np.array([_grid_log_density(draws, design, new, s) for s in range(len(DRAWS))])
    return got, want


def _level(full_fit, term, value):
    return full_fit.info.groups[[g.label for g in full_fit.info.groups].index(term)].levels.index(
        value
    )


@pytest.mark.parametrize("case", ["official", "mission", "mission and department"])
def test_integral_over_new_effects_matches_quadrature(full_fit, example, case):
    """One effect (an official's intercept), two (a mission's correlated intercept and
    slope on years at the station, its departments and officials known) and three (the
    mission's two and one of its departments'), each against the grid, per draw."""
    mission = example["mission"] == "MINUSCA"
    department = example.loc[mission, "department"].iloc[0]
    official = example.loc[mission, "official_id"].iloc[0]
    if case == "official":
        rows = np.flatnonzero(example["official_id"] == official)
        new = {"official_id": np.array([_level(full_fit, "official_id", str(official))])}
    elif case == "mission":
        rows = np.flatnonzero(mission)
        new = {"mission": np.array([_level(full_fit, "mission", "MINUSCA")])}
    else:
        rows = np.flatnonzero(mission & (example["department"] == department))
        new = {
            "mission": np.array([_level(full_fit, "mission", "MINUSCA")]),
            "mission:department": np.array(
                [_level(full_fit, "mission:department", f"MINUSCA:{department}")]
            ),
        }
    got, want = _case(full_fit, example, rows, new)
    assert got.dims == {"official": 1, "mission": 2, "mission and department": 3}[case]
    error = np.abs(got.per_draw - want)
    assert np.all(error <= 5 * got.per_draw_se + 1e-6), (error, got.per_draw_se)
    assert np.all(got.per_draw_se < 0.02)  # and the estimate is precise, not just honest
    assert got.pareto_k < 0.5


def test_loadings_are_the_linear_predictors_response_to_the_new_effects(full_fit, example):
    """eta with the new levels' effects set to u, minus eta with them at zero, is A u:
    the loadings carry each row's group-level columns (1 and years at the station for
    the mission's correlated intercept and slope, 1 for its departments)."""
    from bayesresp.inference.arrays import eta_from_draws

    rows = np.flatnonzero(example["mission"] == "MINUSCA")
    design = apply_design(full_fit.info, example.iloc[rows])
    departments = np.unique(design.group_index["mission:department"])
    new = {"mission": np.unique(design.group_index["mission"]), "mission:department": departments}
    A, blocks = loadings(design, new)
    draws = full_fit.arrays.subset(np.array([3]))
    u = np.random.default_rng(1).standard_normal(A.shape[1])
    at = {k: v.copy() for k, v in draws.r.items()}
    zero = {k: v.copy() for k, v in draws.r.items()}
    for label, level, start, q in blocks:
        at[label][0, level] = u[start : start + q]
        zero[label][0, level] = 0.0
    draws.r = at
    eta_u = eta_from_draws(draws, design, "known")[0]
    draws.r = zero
    eta_0 = eta_from_draws(draws, design, "known")[0]
    np.testing.assert_allclose(eta_u - eta_0, A @ u, rtol=1e-12, atol=1e-12)
    assert A.shape[1] == 2 + len(departments)
    assert np.ptp(A[:, 1]) > 0  # the slope's column is the covariate, not a constant


def test_too_few_importance_draws_are_refused(full_fit, example):
    design = apply_design(full_fit.info, example.head(3))
    units, unit_log_lik = row_units(design, full_fit.arrays, "logit")
    with pytest.raises(ValueError, match="2 or more"):
        integrated_log_density(full_fit.arrays, units, unit_log_lik, {}, importance=1)


def test_nothing_new_is_the_mean_of_the_joint_likelihood(full_fit, example):
    """With every level known the term is log mean_s prod_i p(y_i | theta_s), exactly."""
    rows = np.flatnonzero(example["mission"] == "UNOCI")
    design = apply_design(full_fit.info, example.iloc[rows])
    draws = full_fit.arrays
    units, unit_log_lik = row_units(design, draws, full_fit.spec.link)
    got = integrated_log_density(draws, units, unit_log_lik, {})
    from bayesresp.inference.arrays import eta_from_draws

    ll = log_prob(design.y, eta_from_draws(draws, design, "known"), draws.cutpoints, "logit")
    assert got.log_density == logsumexp(ll.sum(1)) - np.log(ll.shape[0])
    assert got.dims == 0 and got.mc_se == 0.0


def test_new_levels_are_those_the_training_rows_lack(full_fit, example):
    """Holding out a mission makes new its own levels of every term nested in it, and
    not an official who also served in another mission."""
    held = example["mission"] == "UNAMID"
    train = apply_design(full_fit.info, example[~held])
    test = apply_design(full_fit.info, example[held])
    new = new_levels(train, test)
    assert len(new["mission"]) == 1
    assert len(new["mission:department"]) == example.loc[held, "department"].nunique()
    officials = set(example.loc[held, "official_id"]) - set(example.loc[~held, "official_id"])
    everyone = example.loc[held, "official_id"].nunique()
    assert 0 < len(new["official_id"]) == len(officials) < everyone


def test_bridge_sampling_recovers_a_known_ratio():
    """Two normal posteriors a tilt apart: p_1 = N(0, 1), l(theta) = exp(a theta), so
    p_2 = N(a, 1) and E_1[l] = exp(a^2 / 2). Over 100 replications of 1,000 draws from
    p_1 and 4,000 from p_2 (unequal, so that each sample's share matters) at a = 3 (a
    tilt as strong as a hundred responses of a held-out mission), the bridge is unbiased
    within Monte Carlo error, its reported standard error matches its spread within 20%,
    and it is several times steadier than the refit's draws alone."""
    rng = np.random.default_rng(0)
    a = 3.0
    bridge, reported, alone = [], [], []
    for _ in range(100):
        t1, t2 = rng.standard_normal(1000), rng.standard_normal(4000) + a
        m, se = bridge_log_ratio(a * t1, a * t2, chains=(2, 4))
        bridge.append(m - a**2 / 2)
        reported.append(se)
        alone.append(logsumexp(a * t1) - np.log(1000) - a**2 / 2)
    spread = np.std(bridge)
    assert abs(np.mean(bridge)) < 4 * spread / 10
    assert 0.8 < np.mean(reported) / spread < 1.2
    assert np.sqrt(np.mean(np.square(alone))) > 4 * spread
