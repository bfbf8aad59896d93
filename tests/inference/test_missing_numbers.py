"""Missing numbers as latent values of the model (issue 16, part C; missing="model").

A number some rows lack gets a model of its own (a normal regression within mission on
the covariates no row lacks) and each missing cell a latent value under it. Here: the
design's split of a row into its columns at the value 0 and their change per unit
(exact, against the design of the true values), the PyMC model's log density against
NumPy's from the same draws and an independent normal density, the refusals, a
what-if that leaves the number unknown against quadrature, and, on simulated data with
30% of years_at_station missing at random given the mission and an observed covariate,
recovery with narrower intervals than dropping the rows gives.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import bayesresp
from bayesresp.data.simulate import DEFAULT_EFFECTS
from bayesresp.errors import (
    BayesrespError,
    DataValidationError,
    MissingDataError,
    ScenarioError,
)
from bayesresp.inference.arrays import PosteriorArrays, eta_from_draws, thresholds_from_draws
from bayesresp.inference.fitting import prepare_data
from bayesresp.inference.imputation import observed_log_probs, row_log_likelihood
from bayesresp.maths.families import get_family
from bayesresp.model.design import (
    DesignInfo,
    apply_design,
    make_design,
    shift_latent,
    unfitted,
)
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec
from tests.pymc_eval import PY

X = "years_at_station"
FORMULA = (
    "response ~ severity + years_at_station + severity:years_at_station + background"
    " + (1 + years_at_station | mission)"
)


def _design(data, formula=FORMULA):
    spec = ModelSpec(formula)
    frame, cb = prepare_data(data, spec, None, missing="model")
    return make_design(frame, spec.parsed, cb, impute=True), spec, frame


@pytest.fixture(scope="module")
def gappy():
    """years_at_station missing in about 30% of the rows, background in about 20%; no
    official_id column, so no cell is filled from an official's other rows."""
    sim = bayesresp.simulate(missions=5, rows=240, seed=4, missing={X: 0.3, "background": 0.2})
    return sim.data.drop(columns="official_id"), sim


def test_a_rows_columns_are_linear_in_its_latent_value(gappy):
    """The design holds a row lacking the number at the number's own mean, and per unit
    of its own standard scale the change of every column (the main effect, its
    interaction with severity, the mission slope): at the true values, the design of the
    complete data is that one plus the value times the change, to rounding."""
    data, sim = gappy
    design, _, frame = _design(data)
    (m,) = design.info.latent
    (lat,) = design.latent
    assert m.var == X and m.group == "mission"
    assert {c.split("[")[0] for c in m.predictors} == {"severity"}  # (no row lacks it)
    observed = frame[X].dropna()
    assert m.center == pytest.approx(observed.mean()) and m.scale == pytest.approx(
        observed.std(ddof=0)
    )
    truth = sim.truth["missing"][X]
    lacks = frame[X].isna().to_numpy()
    assert m.n_cells == truth["cells"] == lacks.sum()
    # each row lacking it is a cell, in order, with its position among the fitted rows
    np.testing.assert_array_equal(m.rows, np.flatnonzero(lacks))
    np.testing.assert_array_equal(m.cells, np.arange(m.n_cells))
    full = frame.copy()
    full.loc[lacks, X] = truth["values"]
    plain = DesignInfo(**{**design.info.__dict__, "latent": ()})
    complete = apply_design(plain, full)
    imp = design.imputation  # (background's copies: a row's copies share its value)
    v = ((full[X].to_numpy() - m.center) / m.scale)[imp.row]
    where = lat.missing
    assert where.sum() > m.n_cells  # copies of rows lacking both
    rebuilt = design.X + np.where(where, v, 0.0)[:, None] * lat.dX
    cols = [j for j, c in enumerate(design.info.columns) if X in c.name]
    assert len(cols) == 4  # the main effect and three interactions with severity
    assert complete.n == design.n  # (the same copies: background is still missing)
    np.testing.assert_allclose(rebuilt, complete.X, atol=1e-12)
    Z = design.group_Z["mission"] + np.where(where, v, 0.0)[:, None] * lat.dZ["mission"]
    np.testing.assert_allclose(Z, complete.group_Z["mission"], atol=1e-12)
    # the recipe travels (a fit file's JSON)
    assert DesignInfo.from_dict(design.info.to_dict()) == design.info
    # an intervention moving the number moves the latent rows by the same step
    moved = shift_latent(design, X, 0.5)
    np.testing.assert_allclose(moved.X - design.X, 0.5 * lat.dX)


def _point_draws(model, design, names, rng, n=3):
    """The model's two likelihood terms at random points, with the draws that give them."""
    import pytensor

    terms = [model["loglik"], model["observed_numbers"]]
    graphs = model.replace_rvs_by_values([*terms, *(model[k] for k in names)])
    f = pytensor.function(model.value_vars, graphs, on_unused_input="ignore", mode=PY)
    start = model.initial_point()
    for _ in range(n):
        point = [rng.normal(0.0, 0.6, np.shape(start[v.name])) for v in model.value_vars]
        loglik, numbers, *values = f(*point)
        post = xr.Dataset(
            {
                k: (
                    ("chain", "draw", *[f"{k}_{i}" for i in range(np.ndim(v))]),
                    np.asarray(v)[None, None],
                )
                for k, v in zip(names, values, strict=True)
            }
        )
        yield float(loglik), float(numbers), PosteriorArrays.from_posterior(post, design.info), post


@pytest.mark.parametrize("formula", [FORMULA, "response ~ severity + years_at_station"])
def test_the_models_density_is_numpys_from_the_same_draws(gappy, formula):
    """At random points, the PyMC model's outcome term equals the per-row
    log-likelihood NumPy computes from the draws (each row's latent value in its eta,
    background summed out), and its observed-numbers term equals scipy's normal density
    of the observed cells around a mean computed here by hand."""
    data, _ = gappy
    design, spec, frame = _design(data, formula)
    model = build_model(design, spec.priors, spec.link)
    (m,) = design.info.latent
    names = ["b", "cutpoints", f"mi_intercept[{X}]", f"mi_sigma[{X}]", f"mi_x[{X}]"]
    if "mission" in formula:
        names += ["r[mission]", "sd[mission]", "cor[mission]", f"mi_b[{X}]", f"mi_r[{X}]"]
        names += [f"mi_sd[{X}]"]
        for v in design.info.imputed:
            names += [f"mi_intercept[{v.var}]", f"mi_b[{v.var}]", f"mi_r[{v.var}]"]
            names += [f"mi_sd[{v.var}]"]
    else:
        assert m.predictors == ("severity[moderate]", "severity[serious]", "severity[grave]")
        names += [f"mi_b[{X}]"]
    lacks = frame[X].isna().to_numpy()
    for loglik, numbers, draws, post in _point_draws(
        model, design, names, np.random.default_rng(1)
    ):
        if design.imputation is not None:
            ours = row_log_likelihood(design, draws, spec.link).sum()
            ours += observed_log_probs(design, draws)[0]
        else:
            eta = eta_from_draws(draws, design)
            ours = get_family(spec.link).log_prob(
                design.y, eta, thresholds_from_draws(draws, design)
            )
            ours = ours.sum()
        assert float(ours) == pytest.approx(loglik, rel=1e-10)
        # the observed cells by hand: a + z' g (+ the mission's effect), sigma
        mu = float(post[f"mi_intercept[{X}]"].values.ravel()[0])
        sev = pd.get_dummies(frame["severity"]).astype(float)
        g = post[f"mi_b[{X}]"].values.reshape(-1)
        cols = [c.split("[")[1][:-1] for c in m.predictors]
        mu = mu + sev[cols].to_numpy() @ g
        if "mission" in formula:
            missions = list(design.info.groups[0].levels)
            u = post[f"mi_r[{X}]"].values.reshape(-1)
            mu = mu + u[[missions.index(str(s)) for s in frame["mission"]]]
        sigma = float(post[f"mi_sigma[{X}]"].values.ravel()[0])
        v = (frame[X].to_numpy() - m.center) / m.scale
        expect = stats.norm.logpdf(v[~lacks], mu[~lacks], sigma).sum()
        assert numbers == pytest.approx(expect, rel=1e-10)
        # the stored terms integrate each row's value out (background's copies too): the
        # conditional terms at mu + sqrt(2) sigma t over 100 Gauss-Hermite nodes, weighted
        if design.imputation is None:
            continue
        stored = row_log_likelihood(unfitted(design), draws, spec.link)
        d = draws.latent[X]
        nodes, weights = np.polynomial.hermite.hermgauss(100)
        total = 0.0
        for t, w in zip(nodes, weights, strict=True):
            at = dataclasses.replace(d, values=(mu[lacks] + np.sqrt(2.0) * sigma * t)[None])
            moved = dataclasses.replace(draws, latent={X: at})
            total = total + w / np.sqrt(np.pi) * np.exp(
                row_log_likelihood(design, moved, spec.link)
            )
        np.testing.assert_allclose(stored, np.log(total), rtol=1e-9)


def test_under_the_coders_layer_a_response_has_one_latent_value():
    """Double-coded responses lacking years: the codes of a response share one cell, the
    PyMC model's outcome term equals the per-response log-likelihood a fit stores (each
    code's eta with its response's value), and the observed cells count once per
    response, not once per code."""
    from bayesresp.inference.coders import response_log_likelihood

    sim = bayesresp.simulate(
        missions=4, rows=160, seed=6, coders=3, double_coded=0.5, missing={X: 0.3}
    )
    spec = ModelSpec("response ~ severity + years_at_station + (1 | mission)")
    data = sim.data.drop(columns="official_id")
    frame, cb = prepare_data(data, spec, None, missing="model")
    design = make_design(frame, spec.parsed, cb, impute=True)
    names = tuple(sorted(frame["coder_id"].astype(str).unique()))
    info = DesignInfo(
        **{**design.info.__dict__, "coder_columns": ("response_id", "coder_id"), "coders": names}
    )
    design = apply_design(info, frame, coders=True, own=True)
    coders, (lat,), (m,) = design.coders, design.latent, design.info.latent
    lacking = frame[X].isna().to_numpy()
    assert m.n_cells == lacking[coders.first].sum() < lacking.sum()  # (codes share)
    np.testing.assert_array_equal(lat.cell[lacking], np.asarray(m.cells))
    same = lat.cell[lacking][:, None] == lat.cell[lacking][None, :]
    resp = coders.response[lacking]
    np.testing.assert_array_equal(same, resp[:, None] == resp[None, :])
    assert lat.counted.sum() == coders.n_responses
    model = build_model(design, spec.priors, spec.link)
    names = ["b", "cutpoints", "r[mission]", "sd[mission]", "leniency", "spread"]
    names += [f"mi_intercept[{X}]", f"mi_b[{X}]", f"mi_r[{X}]", f"mi_sd[{X}]"]
    names += [f"mi_sigma[{X}]", f"mi_x[{X}]"]
    v = (frame[X].to_numpy() - m.center) / m.scale
    first = coders.first
    for loglik, numbers, draws, post in _point_draws(
        model, design, names, np.random.default_rng(2)
    ):
        per_response = response_log_likelihood(design, draws, post, spec.link)
        assert float(per_response.sum()) == pytest.approx(loglik, rel=1e-10)
        d = draws.latent[X]
        missions = list(design.info.groups[0].levels)
        idx = [missions.index(str(s)) for s in frame["mission"].iloc[first]]
        sev = pd.get_dummies(frame["severity"]).astype(float).iloc[first]
        cols = [c.split("[")[1][:-1] for c in m.predictors]
        mu = d.intercept[0] + sev[cols].to_numpy() @ d.coef[0] + d.r[0, idx]
        seen = ~lacking[first]
        expect = stats.norm.logpdf(v[first][seen], mu[seen], d.sigma[0]).sum()
        assert numbers == pytest.approx(expect, rel=1e-10)
        # the stored term (the values integrated out): the conditional term above at
        # every cell's value mu + sqrt(2) sigma t over 100 Gauss-Hermite nodes, weighted
        stored = response_log_likelihood(unfitted(design), draws, post, spec.link)
        cell_mu = mu[~seen]  # (the cells are the lacking responses, in order)
        nodes, weights = np.polynomial.hermite.hermgauss(100)
        total = 0.0
        for t, w in zip(nodes, weights, strict=True):
            at = dataclasses.replace(d, values=(cell_mu + np.sqrt(2.0) * d.sigma[0] * t)[None])
            moved = dataclasses.replace(draws, latent={X: at})
            term = response_log_likelihood(design, moved, post, spec.link)
            total = total + w / np.sqrt(np.pi) * np.exp(term)
        np.testing.assert_allclose(stored, np.log(total), rtol=1e-9)
        assert not np.allclose(stored, per_response)  # (lacking responses do differ)


def test_what_the_model_cannot_model_is_refused(gappy):
    data, _ = gappy
    rng = np.random.default_rng(0)
    two = pd.DataFrame(
        {"grade": rng.choice([1, 2, 3], 60), "x1": rng.normal(size=60), "x2": rng.normal(size=60)}
    )
    two.loc[[1, 4], "x1"] = np.nan
    two.loc[[2, 5], "x2"] = np.nan
    with pytest.raises(BayesrespError, match="x1:x2 multiplies x1 and x2"):
        _design(two, "grade ~ x1 * x2")
    assert len(_design(two, "grade ~ x1 + x2")[0].info.latent) == 2  # (apart: each its own)
    with pytest.raises(BayesrespError, match=r"cs\(years_at_station\) moves the thresholds"):
        _design(data, "response ~ severity + cs(years_at_station)")
    lone = data.copy()
    lone.loc[lone.index[1:], X] = np.nan
    with pytest.raises(BayesrespError, match="'years_at_station' is constant in the data"):
        _design(lone, "response ~ severity + years_at_station")
    spec = ModelSpec("response ~ severity + years_at_station")
    frame, cb = prepare_data(lone, spec, None, missing="model")
    with pytest.raises(BayesrespError, match="years_at_station has 1 observed cell"):
        make_design(frame, spec.parsed, cb, impute=True, scale_continuous=False)
    # groups must still be given (the codebook requires them: validation names the rows)
    blank = data.copy()
    blank["mission"] = blank["mission"].astype(object)
    blank.loc[[3, 9], "mission"] = None
    with pytest.raises(DataValidationError, match=r"row 4, column 'mission'"):
        bayesresp.fit(blank, "response ~ years_at_station + (1 | mission)", missing="model")
    # without missing='model' the error names the option, which now covers numbers
    with pytest.raises(MissingDataError, match=r"missing='model' to model missing covariates"):
        bayesresp.fit(data, "response ~ years_at_station")


# -- recovery ---------------------------------------------------------------------------
RECOVERY = "response ~ severity + years_at_station + hierarchy_level + (1 | mission)"
EFFECT = -0.5  # per year: about -0.7 per sd of the simulated years


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    """500 rows, 8 missions; years_at_station missing in about 30% of them, more often for
    higher ranks and in some missions (missing at random given observed values). The
    simulator's other covariates and its department and official effects are switched
    off, so that the formula is the model the data were drawn from; the years' effect is
    set to -0.5 per year (the default, -0.1, would leave little to recover)."""
    keep = ("severity", X, "hierarchy_level")
    effects = {k: None for k in DEFAULT_EFFECTS if k not in keep} | {X: EFFECT}
    sim = bayesresp.simulate(
        missions=8,
        rows=500,
        seed=11,
        missing={X: 0.3},
        effects=effects,
        sd={"mission:department": 0.0, "official_id": 0.0},
    )
    data = sim.data.drop(columns="official_id")
    settings = dict(draws=300, tune=400, seed=3, progress=False)
    modelled = bayesresp.fit(data, RECOVERY, missing="model", **settings)
    with pytest.warns(UserWarning, match="dropped"):
        dropped = bayesresp.fit(data, RECOVERY, missing="drop", **settings)
    path = modelled.save(tmp_path_factory.mktemp("numbers") / "modelled.nc")
    return sim, modelled, dropped, path


def test_latent_values_recover_the_truth_with_narrower_intervals(recovery):
    """Recovery, as for a covariate with levels (test_missing_covariates): the squared
    Mahalanobis distance of the posterior mean of the 7 coefficients from the truth, in
    the posterior covariance, is about chi-square with 7 df for a calibrated posterior;
    under 24.3 with probability 0.999. Both fits must pass.

    Width: missingness depends on observed values only, so dropping the rows is unbiased
    too, and its cost is width. For the covariates no row lacks, about 30% of their
    information goes with the rows: their posterior sds grow by about sqrt(1 / 0.7) =
    1.2 (asserted: 1.1 on average). The years' own coefficient learns little from a row
    without years, so its sd may gain little, but not lose: above 0.9, the Monte Carlo
    error of a ratio of two sds from ESS >= 400 being about 5%."""
    sim, modelled, dropped, _ = recovery
    truth = pd.Series(sim.truth["coefficients"])  # (the years' per year: per sd here)
    truth[X] *= modelled.info.codings[X].scale
    names = [n for n in modelled.info.column_names if n in truth]
    assert len(names) == 7 and X in names
    assert dropped.info.codings[X].scale == modelled.info.codings[X].scale  # (its sd)
    for f in (modelled, dropped):
        b = f.posterior["b"].sel(coef=names).values.reshape(-1, len(names))
        dev = b.mean(axis=0) - truth[names].to_numpy()
        d2 = float(dev @ np.linalg.solve(np.cov(b.T), dev))
        assert d2 < stats.chi2.ppf(0.999, len(names)), (f.meta["missing"], d2)
    s_m, s_d = modelled.summary(), dropped.summary()
    ratio = s_d.loc[names, "sd"] / s_m.loc[names, "sd"]
    others = [n for n in names if n != X]
    assert ratio[others].mean() > 1.1, ratio.round(3).to_dict()
    assert ratio.min() > 0.9, ratio.round(3).to_dict()
    assert modelled.meta["log_density"] == "pytensor"
    assert "latent values" in modelled.meta["log_density_why"]
    cells = sim.truth["missing"][X]["cells"]
    assert modelled.meta["missing"][X] == {"cells": cells, "levels": [], "latent": True}
    assert f"{X} {cells:,} cell(s)" in modelled.missing_note
    assert modelled.diagnose().ok


def test_the_posterior_of_the_latent_values(recovery):
    """fit.imputed_values(): one row per missing cell, in years. Each cell's posterior
    sits between its model's spread and the truth: the true values fall inside their
    90% intervals about 90% of the time (the model of years is normal, the simulated
    years are skewed and floored at 0.1, so the share is argued loosely: 0.8 to 0.98 for
    about 150 cells, whose binomial sd is 0.025), and the posterior means track the
    truth better than the observed mean does (the outcome moves each cell)."""
    sim, modelled, _, path = recovery
    table = modelled.imputed_values()
    cells = sim.truth["missing"][X]
    assert len(table) == cells["cells"]
    got = table.xs(X, level="variable").loc[cells["response_ids"]]
    true = np.asarray(cells["values"])
    inside = (true >= got["q5"]) & (true <= got["q95"])
    assert 0.8 <= inside.mean() <= 0.98, inside.mean()
    err_post = np.mean((got["mean"].to_numpy() - true) ** 2)
    err_mean = np.mean((modelled.data[X].mean() - true) ** 2)
    assert err_post < err_mean, (err_post, err_mean)
    back = bayesresp.load_fit(path)
    pd.testing.assert_frame_equal(back.imputed_values(), table)
    assert back.missing_note == modelled.missing_note
    with pytest.raises(BayesrespError, match=r"numbers \(years_at_station\).*imputed_values"):
        modelled.imputed()


def test_an_unknown_number_in_a_what_if_is_its_models_average(recovery):
    """A profile leaving the years unknown: per draw, its probabilities are
    ``int p(y | x) N(x | mu, sigma) dx`` under the years' model for that mission,
    severity and rank. Here that integral is computed apart from the package's latent
    code: mu by hand from the draws, each draw's eta at two observed values (plain
    profiles) for the slope, and 200 Gauss-Hermite nodes. The slope times sigma stays
    below 2 logits here (asserted), where 64 nodes (the package's) are exact to 1e-9 (see
    the next test), so the two agree to 1e-8 in every draw. The answer is the same on a
    second call (no random draws: nothing to seed)."""
    sim, modelled, _, _ = recovery
    mission = sim.data["mission"].iloc[0]
    base = {"mission": mission, "severity": "grave", "hierarchy_level": "section_chief"}
    r = modelled.what_if([{**base, X: None}])
    assert r.unknown == {X: ["profile 1"]}
    p = r.probabilities.values.reshape(-1, len(modelled.info.spectrum))  # (S, K)
    again = modelled.what_if([{**base, X: None}]).probabilities.values.reshape(p.shape)
    np.testing.assert_array_equal(p, again)
    m = modelled.info.latent[0]
    d = modelled.arrays.latent[X]
    missions = list(modelled.info.groups[0].levels)
    preds = list(m.predictors)
    assert set(preds) >= {"severity[grave]", "hierarchy_level[section_chief]"}
    z = np.array([float(c in ("severity[grave]", "hierarchy_level[section_chief]")) for c in preds])
    mu = d.intercept + d.coef @ z + d.r[:, missions.index(str(mission))]
    # each draw's eta and thresholds at two observed values (plain rows: no latent part),
    # whose difference is the slope per unit of the number's own scale
    at = [_eta_cut(modelled, {**base, X: m.center + k * m.scale}) for k in (0.0, 1.0)]
    (eta0, cut), (eta1, _) = at
    slope = (eta1 - eta0)[:, 0]
    assert np.max(np.abs(slope * d.sigma)) < 2.0
    family = modelled.spec.response
    nodes, weights = np.polynomial.hermite.hermgauss(200)
    quad = 0.0
    for t, w in zip(nodes, weights, strict=True):
        value = mu + np.sqrt(2.0) * d.sigma * t
        quad = quad + w / np.sqrt(np.pi) * family.probs(eta0 + (value * slope)[:, None], cut)[:, 0]
    np.testing.assert_allclose(p, quad, rtol=0, atol=1e-8)
    # the same profile at a new mission: the years' model's mission effect drawn fresh
    new = modelled.what_if([{**base, X: None}], groups="new").probabilities.values
    assert np.all(np.isfinite(new)) and np.allclose(new.sum(axis=-1), 1.0)


def test_the_quadrature_over_a_latent_value_is_exact_where_it_is_used():
    """integrate_fresh against adaptive quadrature (scipy's quad, its breakpoints at the
    thresholds) for a cumulative-logit probability of each of six levels, the value's
    part of eta normal with sd b: relative error below 1e-9 for b up to 2 and below 2e-4
    up to 4 (64 Gauss-Hermite nodes, FRESH_NODES' documented accuracy), below 1e-8 for
    b of 8 and 16 (the trapezoid rule a wider part takes; 64 nodes would miss by 4% and
    50%). Only the fresh column is integrated: the other keeps its plain value."""
    from scipy import integrate

    from bayesresp.inference.arrays import Fresh, integrate_fresh

    family = get_family("logit")
    cut = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    for b, tol in ((1.0, 1e-9), (2.0, 1e-9), (4.0, 2e-4), (8.0, 1e-8), (16.0, 1e-8)):
        for m in (-1.0, 0.0, 1.5):
            eta = np.array([[0.3, 0.0]])  # (one draw; the second column fresh)
            fresh = Fresh(np.full((1, 1), m), np.full((1, 1), b), np.array([1]))
            got = integrate_fresh(lambda e, c: family.probs(e, cut), eta, fresh)
            np.testing.assert_array_equal(got[0, 0], family.probs(eta[:, :1], cut)[0, 0])
            for k in range(6):

                def f(w, k=k, m=m, b=b):
                    return family.probs(np.array([[w]]), cut)[0, 0, k] * stats.norm.pdf(w, m, b)

                ref = integrate.quad(
                    f, m - 12 * b, m + 12 * b, points=cut[0], limit=800, epsabs=1e-15
                )[0]
                assert abs(got[0, 1, k] - ref) <= tol * ref, (b, m, k, got[0, 1, k], ref)


def test_a_rows_stored_term_integrates_its_missing_number_out(recovery):
    """The log-likelihood a fit stores for a row lacking the years is
    ``log int p(y_i | v) N(v | mu_i, sigma) dv`` per draw (its missing number integrated
    over its model given the row, as a missing level is summed out), here against 200
    Gauss-Hermite nodes over each draw's eta at two observed values, to 1e-8 (slope times
    sigma below 2 logits, asserted). PSIS-LOO's weights then stay steady: on these data
    the rows lacking the years had Pareto k up to 0.66 with the outcome's term given each
    draw's latent value, up to 0.31 with it integrated (asserted: below 0.5)."""
    sim, modelled, _, _ = recovery
    m, d = modelled.info.latent[0], modelled.arrays.latent[X]
    lacking = np.flatnonzero(modelled.data[X].isna().to_numpy())
    stored = modelled.tree["log_likelihood"]["response"].values.reshape(d.sigma.size, -1)
    missions = list(modelled.info.groups[0].levels)
    preds = list(m.predictors)
    family = modelled.spec.response
    nodes, weights = np.polynomial.hermite.hermgauss(200)
    for i in lacking[:3]:
        row = modelled.data.iloc[i]
        profile = {v: row[v] for v in ("mission", "severity", "hierarchy_level")}
        z = np.array(
            [
                float(
                    c == f"severity[{row['severity']}]"
                    or c == f"hierarchy_level[{row['hierarchy_level']}]"
                )
                for c in preds
            ]
        )
        mu = d.intercept + d.coef @ z + d.r[:, missions.index(str(row["mission"]))]
        at = [_eta_cut(modelled, {**profile, X: m.center + k * m.scale}) for k in (0.0, 1.0)]
        (eta0, cut), (eta1, _) = at
        slope = (eta1 - eta0)[:, 0]
        assert np.max(np.abs(slope * d.sigma)) < 2.0
        y = modelled.design.y[[i]]
        total = 0.0
        for t, w in zip(nodes, weights, strict=True):
            e = eta0 + ((mu + np.sqrt(2.0) * d.sigma * t) * slope)[:, None]
            total = total + w / np.sqrt(np.pi) * np.exp(family.log_prob(y, e, cut))[:, 0]
        np.testing.assert_allclose(stored[:, i], np.log(total), rtol=0, atol=1e-8)
    k = modelled.loo().pareto_k.values.ravel()
    assert k[lacking].max() < 0.5, k[lacking].max()


def _eta_cut(fit, profile):
    """Each draw's eta (S, 1) and thresholds of one complete profile."""
    from bayesresp.queries.whatif import check_profiles

    checked = check_profiles(fit, [profile])
    assert not checked.design.latent[0].missing.any()
    eta = eta_from_draws(fit.arrays, checked.design, checked.group_modes)
    return eta, thresholds_from_draws(fit.arrays, checked.design)


def test_downstream_of_a_fit_with_latent_numbers(recovery, run_cli, tmp_path):
    sim, modelled, _, path = recovery
    n = len(sim.data)
    assert modelled.tree["log_likelihood"]["response"].sizes["row"] == n
    assert np.isfinite(modelled.loo().elpd)
    ppc = modelled.ppc()
    assert ppc.table["observed"].sum() == pytest.approx(n)
    # marginal effects: the years' +1 sd moves the missing cells' latent values too, so
    # that its effect is that of a model where every row's years rose by one sd
    effects = modelled.marginal_effects(draws=100).set_index("variable")
    assert (
        effects.loc[X, "mean"] < 0 and effects.loc[X, "p_positive"] < 0.05
    )  # (-0.5 per year: clearly negative)
    table = modelled.variance_decomposition()
    assert np.isfinite(table["share"]).all()
    moved = modelled.scenario({"column": X, "set": 10.0})
    assert moved.changed_rows == n and moved.position_shift().loc["overall", "shift"] < 0
    with pytest.raises(ScenarioError, match=r"row\(s\) it applies to .* a cap cannot act"):
        modelled.scenario({"column": X, "max": 2.0})
    given = sim.data[sim.data[X].notna()].drop(columns="official_id")  # (rows that give it)
    capped = modelled.scenario({"column": X, "max": 2.0}, data=given)
    assert capped.changed_rows > 0 and capped.position_shift().loc["overall", "shift"] > 0
    # a contrast of two profiles leaving the years unknown: each side's probabilities
    # averaged over the years' model per draw, so the draws' difference is that of the
    # two what-if answers (no residual draw of its own on either side)
    base = {"mission": sim.data["mission"].iloc[0], "severity": "minor", X: None}
    base["hierarchy_level"] = "section_chief"
    c = modelled.contrast(base, {"severity": "grave"})
    K = len(modelled.info.spectrum)
    p = modelled.what_if([base, {**base, "severity": "grave"}]).probabilities.values
    p = p.reshape(-1, 2, K)
    np.testing.assert_allclose(c.difference, p[:, 1] - p[:, 0], atol=1e-12)
    assert (c.position > 0).mean() > 0.95  # (grave against minor: clearly up)
    # proportional odds is not checked for the years: cs() of a latent number is refused
    from bayesresp.checks.proportional_odds import eligible_covariates

    assert "latent values" in eligible_covariates(modelled)[X]
    assert eligible_covariates(modelled)["severity"] is None
    # K-fold's held-out term of a row lacking the years: its model integrated out
    from bayesresp.checks.comparison import _heldout_elpd

    lacking = np.flatnonzero(modelled.data[X].isna().to_numpy())[:1]
    term = _heldout_elpd(modelled, lacking, draws=100, seed=1)
    assert np.isfinite(term).all() and term[0] < 0
    with pytest.raises(ScenarioError, match="'where' on years_at_station"):
        modelled.scenario({"column": "severity", "set": "grave", "where": {X: 1.0}})
    # the command line
    out = run_cli("imputed", path, "--format", "csv")
    assert out.code == 0 and out.out.startswith("row,variable,mean,sd,q5,q95")
    out = run_cli("summary", path)
    assert "latent values in the model (missing='model'): years_at_station" in out.out
    profile_file = tmp_path / "p.csv"
    profile = {"mission": sim.data["mission"].iloc[0], "severity": "grave"}
    profile |= {"hierarchy_level": "section_chief", "profile": "unknown", X: ""}
    pd.DataFrame([profile]).to_csv(profile_file, index=False)
    out = run_cli("whatif", path, profile_file)
    assert out.code == 0 and "averaged_over" in out.out and X in out.out


def test_a_number_constant_within_a_group_is_filled_from_its_other_rows():
    """A codebook of one's own may declare a number constant within a group (here the
    years within an official): missing='model' first fills a gap from the group's other
    rows, as for a covariate with levels, and the column stays a number; only a group
    lacking it in every row keeps latent cells (warned)."""
    import json
    from pathlib import Path

    raw = json.loads((Path(__file__).parents[2] / "data_schema" / "codebook.json").read_text())
    for f in raw["fields"]:
        if f["name"] == X:
            f["constantWithin"] = ["official_id"]
    data = bayesresp.simulate(missions=4, rows=200, seed=3).data
    data[X] = data.groupby("official_id", observed=True)[X].transform("first")
    sizes = data["official_id"].map(data["official_id"].value_counts())
    gaps = np.flatnonzero((sizes > 1).to_numpy())[:6]  # officials with other rows
    alone = data["official_id"].iloc[np.flatnonzero((sizes > 1).to_numpy())[-1]]
    blank = data.copy()
    blank.loc[blank.index[gaps], X] = np.nan
    blank.loc[blank["official_id"] == alone, X] = np.nan  # (one official lacks it entirely)
    spec = ModelSpec("response ~ severity + years_at_station")
    with pytest.warns(UserWarning, match=r"filled from the other rows of the same official_id"):
        frame, cb = prepare_data(blank, spec, raw, missing="model")
    assert pd.api.types.is_float_dtype(frame[X])
    others = frame["official_id"] != alone
    np.testing.assert_allclose(frame.loc[others, X], data.loc[others, X])
    assert frame.loc[~others, X].isna().all()
    filled = frame.attrs["bayesresp_filled"][X]
    assert filled["within"] == "official_id" and filled["filled"] == int(others.iloc[gaps].sum())
    design = make_design(frame, spec.parsed, cb, impute=True)
    assert design.info.latent[0].n_cells == int((~others).sum())
