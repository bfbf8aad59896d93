"""Leave-one-group-out cross-validation (issue 16, D): ``compare(fits, folds="mission")``
and ``bayesresp compare --folds mission`` ask how well each model predicts a new mission.

Each held-out group's term is the joint predictive density of its rows,
``log mean_s prod_i p(y_i | theta_s)``, from a refit without the group; tied here to the
per-row refits it generalises (groups of one row) and to a hand computation of the joint
term (not the sum of per-row terms).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

import bayesresp
from bayesresp.checks import comparison as compare_mod
from bayesresp.errors import ComparisonError
from bayesresp.inference.arrays import eta_from_draws
from bayesresp.inference.newgroups import bridge_log_ratio
from bayesresp.maths.cumulative import log_prob
from bayesresp.model.design import apply_design

KW = dict(draws=200, tune=200, chains=2, seed=3, progress=False)


@pytest.fixture(scope="module")
def strong_missions():
    """Five missions with a mission sd of 1.5 (against the default 0.5): a model without
    mission effects cannot predict a new mission's mix of responses."""
    return bayesresp.simulate(missions=5, rows=500, seed=11, sd={"mission": 1.5}).data


@pytest.fixture(scope="module")
def fits(strong_missions):
    return {
        "no missions": bayesresp.fit(strong_missions, "response ~ severity + background", **KW),
        "missions": bayesresp.fit(
            strong_missions, "response ~ severity + background + (1 | mission)", **KW
        ),
    }


@pytest.fixture(scope="module")
def by_mission(fits):
    """Leave-one-mission-out of the model with mission effects, its five refits made in
    this process: made once for the two tests that read it (the joint density's, and the
    reference of the Dask run's) rather than once in each; nothing changes it."""
    return compare_mod.group_kfold(fits["missions"], "mission", draws=200)


def test_groups_of_one_row_bridge_the_exact_leave_one_out_refit(example):
    """With each row its own group (response_id) and no group term, a group's term is
    the bridge between the exact leave-one-out refit's p(y_i | theta) (the same refit,
    same seed) and the fit's own; it agrees with the refit's plain mean, the exact LOO
    term, within the Monte Carlo error the term reports."""
    data = example.head(14)
    fit = bayesresp.fit(
        data, "response ~ severity", draws=100, tune=100, chains=1, seed=2, progress=False
    )
    result = compare_mod.group_kfold(fit, "response_id", draws=100, seed=5)
    codes, names = compare_mod.group_folds(fit, "response_id")
    assert result.n_folds == len(names) == 14
    assert list(result.elpd_i.coords["response_id"].values) == names
    stored = fit.tree["log_likelihood"]["response"].values.reshape(-1, len(data))
    for g in (0, 7, 13):
        row = np.flatnonzero(codes == g)
        refit = compare_mod._refit_without(fit, row, 100, 5 + 1000 * (g + 1))
        design = apply_design(refit.info, data.iloc[row])
        ll = log_prob(design.y, eta_from_draws(refit.arrays, design), refit.arrays.cutpoints)
        bridged, _ = bridge_log_ratio(ll[:, 0], stored[:, row[0]])
        assert float(result.elpd_i.values[g]) == pytest.approx(bridged, abs=1e-9)
        alone = compare_mod._heldout_elpd(fit, row, 100, 5 + 1000 * (g + 1))[0]
        assert abs(bridged - alone) < 5 * result.terms.loc[names[g], "mc_se"]


def test_a_groups_term_is_the_joint_predictive_density(fits, by_mission, strong_missions):
    """For the model with mission effects, a held-out mission's term is
    log E[integral prod_i p(y_i | theta, u) N(u | 0, sd^2) du | other missions]: its
    rows share the new mission's effect u, integrated out per draw. Here the integral is
    a trapezoid rule on a fine grid for every draw of the same refit and of the fit (the
    module's estimate is importance sampling), bridged the same way. The joint term
    differs from the sum of the rows' separate terms, which would treat the rows as
    independent."""
    fit = fits["missions"]
    result = by_mission
    codes, names = compare_mod.group_folds(fit, "mission")
    assert names == sorted(strong_missions["mission"].unique())
    g = 2
    test = np.flatnonzero(codes == g)
    seed = int(fit.meta["seed"]) + 1000 * (g + 1)
    refit = compare_mod._refit_without(fit, test, 200, seed)
    design = apply_design(refit.info, fit.data.iloc[test])
    u = np.linspace(-8, 8, 1601)  # spacing 0.01: far below the integrand's width

    def quadrature(draws):  # log p(y_g | theta_s) for every draw, on the grid
        eta0 = eta_from_draws(draws, design, "average")  # without the mission's effect
        sd = draws.sd["mission"][:, 0]
        out = np.empty(draws.n_draws)
        for s in range(draws.n_draws):
            cut = np.broadcast_to(draws.cutpoints[s], (len(u), draws.cutpoints.shape[1]))
            ll = log_prob(design.y, eta0[s][None] + u[:, None], cut, "logit").sum(-1)
            prior = -0.5 * (u / sd[s]) ** 2 - np.log(sd[s] * np.sqrt(2 * np.pi))
            out[s] = logsumexp(ll + prior) + np.log(u[1] - u[0])
        return out

    # the same bridge between the refit's draws and the fit's, from exact integrals
    joint, _ = bridge_log_ratio(quadrature(refit.arrays), quadrature(fit.arrays))
    terms = result.terms.loc[names[g]]
    assert terms["effects_integrated"] == 1 and terms["units"] == len(test)
    # each integral's error is ~0.015 at 40 importance draws, averaged over draws
    assert abs(float(result.elpd_i.values[g]) - joint) < 0.02
    assert terms["mc_se"] < 0.3 and terms["pareto_k"] < 0.5
    draws = refit.arrays
    # one fresh effect per draw, shared by the rows, and then each row on its own
    eta = eta_from_draws(draws, design, "known")  # the refit's draw for the empty level
    ll = log_prob(design.y, eta, draws.cutpoints, "logit")
    separate = (logsumexp(ll, axis=0) - np.log(ll.shape[0])).sum()
    assert abs(joint - separate) > 1.0
    assert result.elpd == pytest.approx(float(result.elpd_i.sum()))
    assert result.n_data_points == 5 and result.kind == "loo_kfold"


def test_compare_by_mission_prefers_the_model_of_missions(fits):
    """With a mission sd of 1.5, the model with mission effects predicts a new
    mission's responses much better (their shared shift is the point): its elpd is
    higher by more than 2 standard errors of the difference. The result says how the
    elpd was computed, and is reproducible."""
    result = bayesresp.compare(fits, folds="mission", refit_draws=200)
    assert result.method == "leave-one-mission-out"
    assert list(result.table.index) == ["missions", "no missions"]
    row = result.table.loc["no missions"]
    assert -row["elpd_diff"] > 2 * row["dse"], result.table
    assert "leave-one-mission-out" in str(result) and "5 refits per model" in str(result)
    assert "integrated out" in str(result)
    for name, loo in result.loos.items():  # every term's integrals and mean are reliable
        assert (loo.terms["pareto_k"].fillna(0) < 0.7).all(), loo.terms
        assert list(result.flagged[name].columns[:1]) == ["mission"]
    assert "leave-one-mission-out" in result._repr_html_()
    again = bayesresp.compare(fits, folds="mission", refit_draws=200)
    assert float(again.loos["missions"].elpd) == float(result.loos["missions"].elpd)


def test_a_refit_keeps_the_full_datas_prior(fits, monkeypatch):
    """The refit without a mission is the same model conditioned on fewer rows: the
    average case its cutpoints are placed at and the r2d2 scalings are the full data's,
    not the training rows' (which differ: the held-out mission's rows move the means)."""
    from bayesresp.inference import fitting
    from bayesresp.model.graph import data_values, prior_values

    fit = fits["missions"]
    seen = {}

    def capture(design, frame, *args, **kwargs):
        seen["design"], seen["frame"] = design, frame
        return "refit"

    monkeypatch.setattr(fitting, "fit_design", capture)
    codes, _ = compare_mod.group_folds(fit, "mission")
    test = np.flatnonzero(codes == 0)
    assert compare_mod._refit_without(fit, test, 100, 1) == "refit"
    assert len(seen["frame"]) == len(fit.data) - len(test)
    full = prior_values(apply_design(fit.info, fit.data))
    own = prior_values(apply_design(fit.info, seen["frame"]))
    used = data_values(seen["design"])
    assert set(full) >= {"X_mean", "r2d2_T"}
    for key, value in full.items():
        np.testing.assert_array_equal(used[key], value)
    assert not np.allclose(own["X_mean"], full["X_mean"])
    assert len(used["y"]) == len(seen["frame"])  # the rows are the training rows


def test_folds_by_group_are_refused_clearly(fits):
    fit = fits["missions"]
    with pytest.raises(ComparisonError, match="no column 'country'.*mission"):
        compare_mod.group_folds(fit, "country")
    one = fit.data.assign(mission=fit.data["mission"].iloc[0])
    fit_one = type(fit)(fit.tree, fit.spec, fit.codebook, one, fit.info, fit.meta)
    with pytest.raises(ComparisonError, match="two groups"):
        compare_mod.group_folds(fit_one, "mission")


def test_cli_compare_by_mission(fits, tmp_path, run_cli):
    paths = []
    for name, fit in fits.items():
        paths.append(fit.save(tmp_path / f"{name.replace(' ', '_')}.nc"))
    # one store for both runs: the second (the text output) reads the first's terms
    # instead of making its ten refits again
    store = tmp_path / "cv"
    out = run_cli("compare", *paths, "--folds", "mission", "--store", store, "--format", "json")
    assert out.code == 0, out.err
    table = json.loads(out.out)
    assert sorted(next(iter(r.values())) for r in table) == ["missions", "no_missions"]
    text = run_cli("compare", *paths, "--folds", "mission", "--store", store)
    assert text.code == 0 and "leave-one-mission-out" in text.out
    bad = run_cli("compare", *paths, "--folds", "1")
    assert bad.code == 2 and "2 or more" in bad.err
    unknown = run_cli("compare", *paths, "--folds", "country")
    assert unknown.code != 0 and "no column 'country'" in unknown.err


def test_a_stopped_leave_one_mission_out_resumes_to_the_same_terms(fits, tmp_path, monkeypatch):
    """With a store each mission's term is kept as it arrives: a run stopped after two
    of five missions (the other files removed) refits only the three missing, and its
    terms are the uninterrupted run's, bit for bit. A store of other settings is
    refused."""
    fit = fits["missions"]
    store = tmp_path / "logo"
    whole = compare_mod.group_kfold(fit, "mission", draws=200, store=store)
    assert len(list(store.glob("part-*.nc"))) == 5
    for part in sorted(store.glob("part-*.nc"))[2:]:
        part.unlink()
    calls = []
    original = compare_mod._refit_without
    monkeypatch.setattr(
        compare_mod, "_refit_without", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    resumed = compare_mod.group_kfold(fit, "mission", draws=200, store=store)
    assert len(calls) == 3
    np.testing.assert_array_equal(resumed.elpd_i.values, whole.elpd_i.values)
    np.testing.assert_array_equal(resumed.p_kfold_i.values, whole.p_kfold_i.values)
    pd.testing.assert_frame_equal(resumed.terms, whole.terms)
    with pytest.raises(bayesresp.BatchError, match="differ in: draws"):
        compare_mod.group_kfold(fit, "mission", draws=100, store=store)


def test_cli_store_needs_group_folds(fits, tmp_path, run_cli):
    paths = [fit.save(tmp_path / f"{i}.nc") for i, fit in enumerate(fits.values())]
    out = run_cli("compare", *map(str, paths), "--store", str(tmp_path / "cv"))
    assert out.code == 2 and "give --folds COLUMN too" in out.err
    assert "Traceback" not in out.err


def test_leave_one_mission_out_on_a_dask_cluster_gives_the_same_terms(
    fits, by_mission, dask_client
):
    """The refits sent to two worker processes (the fit travels to them) give the terms
    of the refits made in this process, bit for bit: each is seeded by its group."""
    fit = fits["missions"]
    here = by_mission
    there = compare_mod.group_kfold(fit, "mission", draws=200, client=dask_client)
    np.testing.assert_array_equal(there.elpd_i.values, here.elpd_i.values)
    pd.testing.assert_frame_equal(there.terms, here.terms)
