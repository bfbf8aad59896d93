"""Missing covariates summed out in the model (issue 16, part C; missing="model").

The maths is tied to a mixture written by hand in tests/maths/test_missing.py. Here: the
rows' copies, the PyMC model's likelihood against the per-row log-likelihood a fit
stores, each row's term against a brute-force sum over the levels, the refusals, and,
on simulated data with a third of a covariate missing at random given the mission and an
observed covariate, recovery with narrower intervals than dropping the rows gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from scipy.special import logsumexp

import bayesresp
from bayesresp.data.simulate import DEFAULT_EFFECTS
from bayesresp.errors import BayesrespError, DataValidationError, MissingDataError
from bayesresp.inference.arrays import PosteriorArrays
from bayesresp.inference.fitting import prepare_data
from bayesresp.inference.imputation import (
    copy_weights,
    imputed_probabilities,
    observed_log_probs,
    row_log_likelihood,
)
from bayesresp.inference.kernel import log_likelihood
from bayesresp.model.design import apply_design, make_design
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec
from tests.pymc_eval import PY

FORMULA = "response ~ severity + background + hierarchy_level + mo(career_security) + (1 | mission)"


def _design(data, formula=FORMULA):
    spec = ModelSpec(formula)
    frame, cb = prepare_data(data, spec, None, missing="model")
    return make_design(frame, spec.parsed, cb, impute=True), spec, frame


@pytest.fixture(scope="module")
def gappy():
    """Background missing in about 30% of the rows, career security in about 15%."""
    return bayesresp.simulate(
        missions=5, rows=240, seed=4, missing={"background": 0.3, "career_security": 0.15}
    )


def test_rows_lacking_covariates_become_one_copy_per_level(gappy):
    design, _, frame = _design(gappy.data)
    info, imp = design.info, design.imputation
    assert [m.var for m in info.imputed] == ["background", "career_security"]
    L = [len(m.levels) for m in info.imputed]
    lacks = frame[["background", "career_security"]].isna().to_numpy()
    np.testing.assert_array_equal(imp.missing, lacks)
    expected = np.where(lacks[:, 0], L[0], 1) * np.where(lacks[:, 1], L[1], 1)
    np.testing.assert_array_equal(imp.copies, expected)
    assert design.n == expected.sum() and imp.n_rows == len(frame)
    # a row's copies: every combination of its missing levels once, its observed ones kept
    both = int(np.flatnonzero(lacks.all(axis=1))[0])
    mine = imp.slots[both][imp.mask[both]]
    assert {tuple(v) for v in imp.levels[mine]} == {
        (a, b) for a in range(L[0]) for b in range(L[1])
    }
    # copies share their row's outcome, groups and other covariates
    np.testing.assert_array_equal(design.y, design.y[imp.first][imp.row])
    idx = design.group_index["mission"]
    np.testing.assert_array_equal(idx, idx[imp.first][imp.row])
    sev = [j for j, c in enumerate(info.columns) if c.term == "severity"]
    np.testing.assert_array_equal(design.X[:, sev], design.X[imp.first][imp.row][:, sev])
    # the weights split each row over its copies (the average case counts rows)
    np.testing.assert_allclose(np.bincount(imp.row, design.weights), 1.0)
    # the model of each covariate: predicted by the covariates no row lacks, by mission
    for m in info.imputed:
        assert m.group == "mission"
        assert {c.split("[")[0] for c in m.predictors} == {"severity", "hierarchy_level"}


def _random_draws(model, design, names, rng, n=3):
    import pytensor

    graphs = model.replace_rvs_by_values([model["loglik"], *(model[k] for k in names)])
    f = pytensor.function(model.value_vars, graphs, on_unused_input="ignore", mode=PY)
    start = model.initial_point()
    for _ in range(n):
        point = [rng.normal(0.0, 0.6, np.shape(start[v.name])) for v in model.value_vars]
        loglik, *values = f(*point)
        post = xr.Dataset(
            {
                k: (
                    ("chain", "draw", *[f"{k}_{i}" for i in range(np.ndim(v))]),
                    np.asarray(v)[None, None],
                )
                for k, v in zip(names, values, strict=True)
            }
        )
        yield float(loglik), PosteriorArrays.from_posterior(post, design.info), post


@pytest.mark.parametrize(
    "formula",
    [FORMULA, "response ~ severity + background + mo(hierarchy_level) + (1 | mission)"],
    ids=["two-imputed", "mo-predictor"],
)
def test_the_models_likelihood_is_the_stored_rows_plus_the_observed_cells(gappy, formula):
    """At random points, the PyMC model's likelihood term equals the per-row
    log-likelihood a fit stores (missing levels summed out) plus the observed cells'
    log-probabilities under the covariates' own models (a mo() term among the
    covariates' predictors too)."""
    design, spec, _ = _design(gappy.data, formula)
    if "mo(hierarchy_level)" in formula:
        assert "mo(hierarchy_level)" in design.info.imputed[0].predictors
    model = build_model(design, spec.priors, spec.link)
    mo = design.info.monotonic[0].var
    names = ["b", "b_mo", f"simplex[{mo}]", "cutpoints", "r[mission]", "sd[mission]"]
    for m in design.info.imputed:
        names += [f"mi_intercept[{m.var}]", f"mi_b[{m.var}]", f"mi_r[{m.var}]", f"mi_sd[{m.var}]"]
    for loglik, draws, _ in _random_draws(model, design, names, np.random.default_rng(1)):
        ours = row_log_likelihood(design, draws, spec.link).sum() + observed_log_probs(
            design, draws
        )
        assert float(ours[0]) == pytest.approx(loglik, rel=1e-10)


def test_a_rows_term_is_the_mixture_over_its_levels_by_hand(gappy):
    """A row lacking background: log sum_l P(background = l) p(y | background = l), with
    P from the covariate's model written out by hand and p from a design of the row
    filled in with each level (the recipe without imputation)."""
    design, spec, frame = _design(gappy.data, "response ~ severity + background + (1 | mission)")
    info = design.info
    model = build_model(design, spec.priors, spec.link)
    names = ["b", "cutpoints", "r[mission]", "sd[mission]"]
    names += ["mi_intercept[background]", "mi_b[background]", "mi_r[background]"]
    names += ["mi_sd[background]"]
    ((_, draws, _),) = _random_draws(model, design, names, np.random.default_rng(5), n=1)
    stored = row_log_likelihood(design, draws, spec.link)[0]
    plain = type(info)(**{**info.__dict__, "imputed": ()})
    a, g, r, _ = (x[0] for x in draws.missing["background"])
    levels = info.imputed[0].levels
    cols = [info.column_names.index(c) for c in info.imputed[0].predictors]
    for i in np.flatnonzero(frame["background"].isna().to_numpy())[:3]:
        row = frame.iloc[[i]]
        z = apply_design(plain, row).X[0, cols]
        m = info.groups[0].levels.index(str(row["mission"].iloc[0]))
        logits = np.concatenate([[0.0], a + z @ g + r[m]])
        log_p = logits - logsumexp(logits)
        terms = []
        for k, level in enumerate(levels):
            filled = row.assign(background=pd.Categorical([level], dtype=row["background"].dtype))
            terms.append(
                log_p[k] + log_likelihood(apply_design(plain, filled), draws, spec.link)[0, 0]
            )
        assert stored[i] == pytest.approx(logsumexp(terms), rel=1e-10)
        # the cell's posterior given the row's outcome: P(l) p(y | l), normalised
        table = imputed_probabilities(design, draws, spec.link)
        mine = table[(table["row"] == i) & (table["variable"] == "background")]
        expected = np.exp(np.array(terms) - logsumexp(terms))
        np.testing.assert_allclose(mine["probability"], expected, rtol=1e-10)
    # a complete row's term is its usual one
    j = int(np.flatnonzero(frame["background"].notna().to_numpy())[0])
    usual = log_likelihood(apply_design(plain, frame.iloc[[j]]), draws, spec.link)[0, 0]
    assert stored[j] == pytest.approx(usual, rel=1e-12)


def test_a_missing_outcome_is_refused_by_row(gappy):
    """missing='model' models covariates (a number's gaps: tests/inference/
    test_missing_numbers.py); a missing outcome is refused by validation, naming the row
    and column, and without the option the error names it."""
    blank = gappy.data.copy()
    blank["response"] = blank["response"].astype(object)
    blank.loc[5, "response"] = None
    with pytest.raises(DataValidationError, match=r"row 6, column 'response'"):
        bayesresp.fit(blank, "response ~ background", missing="model")  # (the codebook's)
    with pytest.raises(MissingDataError, match="missing='model' to model missing covariates"):
        bayesresp.fit(gappy.data, "response ~ background")  # the error names the option


def test_cells_constant_within_a_group_are_filled_from_its_other_rows(gappy):
    """background is constant within official_id (the codebook): a row lacking it takes
    the value of the official's other rows, said in a warning and fit.meta; only
    officials lacking it in every row stay missing."""
    spec = ModelSpec("response ~ severity + background + (1 | mission)")
    raw = gappy.data
    with pytest.warns(
        UserWarning, match=r"missing cell\(s\) of background filled from .* official_id"
    ):
        frame, _ = prepare_data(raw, spec, None, missing="model")
    known = raw.dropna(subset=["background"]).groupby("official_id", observed=True)["background"]
    value = known.first()
    gaps = raw["background"].isna() & raw["official_id"].isin(value.index)
    assert gaps.sum() > 0
    np.testing.assert_array_equal(
        frame.loc[gaps, "background"].astype(str), value[raw.loc[gaps, "official_id"]].astype(str)
    )
    still = frame["background"].isna()
    assert not raw.loc[still, "official_id"].isin(value.index).any()
    filled = frame.attrs["bayesresp_filled"]["background"]
    assert filled["filled"] == int(gaps.sum()) and filled["within"] == "official_id"
    # other settings never fill
    kept, _ = prepare_data(raw.dropna(subset=["career_security"]), spec, None, missing="drop")
    assert kept["background"].notna().all() and len(kept) < len(raw)
    # every gap filled: the plain model (on the kernel), the filling stated
    fillable = raw[raw["background"].notna() | raw["official_id"].isin(value.index)]
    with pytest.warns(UserWarning, match="filled from the other rows"):
        f = bayesresp.fit(
            fillable,
            spec.formula,
            missing="model",
            draws=50,
            tune=50,
            chains=1,
            seed=1,
            progress=False,
        )
    assert f.info.imputed == () and f.meta["log_density"] == "kernel"
    assert f.meta["missing"]["background"]["filled"]["filled"] == int(gaps.sum())
    assert f.missing_note.startswith("Missing cells filled from other rows before the fit")


def test_complete_data_fit_as_before_on_the_kernel(gappy):
    """missing='model' on data without gaps is the plain model (the kernel samples it)."""
    full = bayesresp.simulate(missions=3, rows=120, seed=2)
    f = bayesresp.fit(
        full.data,
        "response ~ background + (1 | mission)",
        missing="model",
        draws=50,
        tune=50,
        chains=1,
        seed=1,
        progress=False,
    )
    assert f.info.imputed == () and f.meta["missing"] == {} and f.missing_note is None
    assert f.meta["log_density"] == "kernel"
    with pytest.raises(BayesrespError, match="sums out no missing covariate"):
        f.imputed()


# -- recovery ---------------------------------------------------------------------------
RECOVERY = "response ~ severity + background + hierarchy_level + (1 | mission)"


@pytest.fixture(scope="module")
def recovery(tmp_path_factory):
    """500 rows, 8 missions; background missing in about 30% of them, more often for
    higher ranks and in some missions (missing at random given observed values). The
    simulator's other covariates and its department and official effects are switched
    off, so that the formula is the model the data were drawn from (an omitted covariate
    correlated with background would bias its coefficients in every fit alike)."""
    effects = {
        k: None for k in DEFAULT_EFFECTS if k not in ("severity", "background", "hierarchy_level")
    }
    sim = bayesresp.simulate(
        missions=8,
        rows=500,
        seed=11,
        missing={"background": 0.3},
        ambiguous=0.1,  # (ranges too: a range's copies are each P(low <= y <= high))
        effects=effects,
        sd={"mission:department": 0.0, "official_id": 0.0},
    )
    # a data set that does not identify officials: no cell can be filled from the same
    # official's other rows, every gap is summed out
    data = sim.data.drop(columns="official_id")
    settings = dict(draws=300, tune=400, seed=3, progress=False)
    modelled = bayesresp.fit(data, RECOVERY, missing="model", **settings)
    with pytest.warns(UserWarning, match="dropped"):
        dropped = bayesresp.fit(data, RECOVERY, missing="drop", **settings)
    path = modelled.save(tmp_path_factory.mktemp("missing") / "modelled.nc")
    return sim, modelled, dropped, path


def test_missing_model_recovers_the_truth_with_narrower_intervals(recovery):
    """Recovery: the squared Mahalanobis distance of the posterior mean of the 11
    coefficients from the truth, in the posterior covariance, is about chi-square with 11
    df for a calibrated posterior (Bernstein-von Mises); under 31.3 with probability
    0.999. Both fits must pass.

    Width: missingness depends on observed values only, so dropping the rows is unbiased
    too, and its cost is width. For the covariates no row lacks, about a third of their
    information goes with the rows: their posterior sds grow by about sqrt(1 / 0.7) =
    1.2 (asserted: 1.1 on average). For background itself a missing row tells little
    (only through the covariate's model), so its sds may gain little, but not lose:
    each ratio above 0.9, the Monte Carlo error of a ratio of two sds estimated from
    ESS >= 400 being about 5% (1 / sqrt(2 ESS) each)."""
    sim, modelled, dropped, _ = recovery
    truth = pd.Series(sim.truth["coefficients"])
    names = [n for n in modelled.info.column_names if n in truth]
    assert len(names) == 11
    for f in (modelled, dropped):
        b = f.posterior["b"].sel(coef=names).values.reshape(-1, len(names))
        dev = b.mean(axis=0) - truth[names].to_numpy()
        d2 = float(dev @ np.linalg.solve(np.cov(b.T), dev))
        assert d2 < stats.chi2.ppf(0.999, len(names)), (f.meta["missing"], d2)
    s_m, s_d = modelled.summary(), dropped.summary()
    ratio = s_d.loc[names, "sd"] / s_m.loc[names, "sd"]
    others = [n for n in names if not n.startswith("background")]
    assert ratio[others].mean() > 1.1, ratio.round(3).to_dict()
    assert ratio.min() > 0.9, ratio.round(3).to_dict()
    assert modelled.meta["log_density"] == "pytensor"
    assert "missing='model'" in modelled.meta["log_density_why"]
    cells = sim.truth["missing"]["background"]["cells"]
    assert modelled.meta["missing"]["background"]["cells"] == cells
    assert "filled" not in modelled.meta["missing"]["background"]  # (no official_id)
    assert f"background {cells:,}" in modelled.missing_note
    assert modelled.diagnose().ok


def test_the_posterior_of_the_missing_cells(recovery):
    """fit.imputed(): each cell's levels sum to one, and on average the true level gets
    more than a guess from the levels' shares among the observed cells would give it
    (the covariate's model reads rank and mission, by which the simulator assigns
    backgrounds). That the outcome enters each cell's posterior is checked by hand in
    test_a_rows_term_is_the_mixture_over_its_levels_by_hand."""
    sim, modelled, _, path = recovery
    table = modelled.imputed()
    cells = sim.truth["missing"]["background"]
    per_cell = table["probability"].groupby(level=["row", "variable"]).sum()
    np.testing.assert_allclose(per_cell, 1.0, rtol=1e-9)
    assert len(per_cell) == cells["cells"]
    true = [
        table.loc[(r, "background", v), "probability"]
        for r, v in zip(cells["response_ids"], cells["values"], strict=True)
    ]
    shares = modelled.data["background"].value_counts(normalize=True)
    guess = np.mean([shares[v] for v in cells["values"]])
    assert np.mean(true) > guess + 0.02, (np.mean(true), guess)
    # the fit file keeps it all
    back = bayesresp.load_fit(path)
    pd.testing.assert_frame_equal(back.imputed(), table)
    assert back.missing_note == modelled.missing_note


def test_downstream_of_a_fit_with_missing_covariates(recovery, run_cli, tmp_path):
    sim, modelled, _, path = recovery
    n = len(sim.data)
    assert modelled.tree["log_likelihood"]["response"].sizes["row"] == n
    loo = modelled.loo()
    assert np.isfinite(loo.elpd) and loo.elpd_i.size == n
    ppc = modelled.ppc()
    assert ppc.table["observed"].sum() == pytest.approx(n)  # (ranges completed per draw)
    by = modelled.ppc(by="background")  # the missing cells: a group of their own
    assert "(missing)" in set(by.table.index.get_level_values(0))
    # what-if: background left unknown averages over its model for that mission
    base = {
        "mission": sim.data["mission"].iloc[0],
        "severity": "grave",
        "hierarchy_level": "section_chief",
    }
    levels = modelled.info.imputed[0].levels
    profiles = [{**base, "background": None}] + [{**base, "background": lv} for lv in levels]
    r = modelled.what_if(profiles)
    assert r.unknown == {"background": ["profile 1"]}
    assert list(r.summary()["averaged_over"]) == ["background"] + [""] * len(levels)
    p = r.probabilities.values.reshape(-1, len(profiles), len(modelled.info.spectrum))
    from bayesresp.queries.whatif import check_profiles

    checked = check_profiles(modelled, profiles[:1])
    w = copy_weights(checked.design, modelled.arrays)  # (S, L): the covariate's model
    np.testing.assert_allclose(p[:, 0], np.einsum("sl,slk->sk", w, p[:, 1:]), rtol=1e-10)
    # the covariate's model follows the group mode: at the missions' mean for 'average'
    avg = modelled.what_if(profiles, groups="average").probabilities.values
    avg = avg.reshape(p.shape)
    w0 = copy_weights(checked.design, modelled.arrays, None, "average")
    np.testing.assert_allclose(avg[:, 0], np.einsum("sl,slk->sk", w0, avg[:, 1:]), rtol=1e-10)
    assert not np.allclose(w0, w)  # (the mission's own effects do move it)
    new = modelled.what_if(profiles[:1], groups="new").probabilities.values
    assert np.all(np.isfinite(new)) and np.allclose(new.sum(axis=-1), 1.0)
    # scenarios and marginal effects run over rows with gaps
    effects = modelled.marginal_effects(draws=100)
    assert set(effects["variable"]) >= {"background", "severity"}
    promoted = modelled.scenario({"column": "hierarchy_level", "set": "head_of_mission"})
    assert promoted.changed_rows > 0 and np.all(np.isfinite(promoted.shift))
    from bayesresp.errors import ScenarioError

    with pytest.raises(ScenarioError, match="'where' on background, which the fit models"):
        modelled.scenario(
            {"column": "severity", "set": "grave", "where": {"background": "humanitarian"}}
        )
    # the command line
    out = run_cli("imputed", path, "--format", "csv")
    assert out.code == 0 and out.out.startswith("row,variable,level,probability")
    profile_file = tmp_path / "p.csv"
    pd.DataFrame([{**base, "profile": "unknown", "background": ""}]).to_csv(
        profile_file, index=False
    )
    out = run_cli("whatif", path, profile_file)
    assert out.code == 0 and "averaged_over" in out.out
    out = run_cli("summary", path)
    assert "summed out in the model (missing='model'): background" in out.out


def test_the_covariates_models_priors_are_named_and_overridable(gappy):
    from bayesresp.errors import PriorError
    from bayesresp.model.graph import ResolvedPriors

    design, spec, _ = _design(gappy.data, "response ~ severity + background + (1 | mission)")
    table = ResolvedPriors(design.info, {}, "logit").table()
    assert table["mi_intercept"] == "normal(0, 2.5)" and table["mi_sd"] == "halfnormal(1)"
    mine = {"mi_b": "student_t(3, 0, 0.5)", "mi_sd": "exponential(2)"}
    model = build_model(design, mine, "logit")
    assert model["mi_b[background]"].owner.op.name == "t"  # PyMC's StudentT
    assert ResolvedPriors(design.info, mine, "logit").table()["mi_sd"] == "exponential(2)"
    complete = type(design.info)(**{**design.info.__dict__, "imputed": ()})
    with pytest.raises(PriorError, match="'mi_b' .*match nothing"):
        ResolvedPriors(complete, {"mi_b": "normal(0, 1)"}, "logit")


def test_with_the_coders_layer_a_responses_true_level_sums_its_copies_out():
    """Double-coded responses lacking background: the PyMC model's likelihood equals the
    per-response log-likelihood a fit stores (the true level's distribution mixed over
    the response's copies, then its codes) plus the observed cells' log-probabilities,
    each response's covariates counted once (not once per code)."""
    from bayesresp.inference.coders import copy_log_terms, response_log_likelihood
    from bayesresp.maths.missing import row_mixture

    sim = bayesresp.simulate(
        missions=4, rows=160, seed=6, coders=3, double_coded=0.5, missing={"background": 0.3}
    )
    spec = ModelSpec("response ~ severity + background + (1 | mission)")
    data = sim.data.drop(columns="official_id")  # (every gap summed out, none filled)
    frame, cb = prepare_data(data, spec, None, missing="model")
    design = make_design(frame, spec.parsed, cb, impute=True)
    names = tuple(sorted(frame["coder_id"].astype(str).unique()))
    info = type(design.info)(
        **{**design.info.__dict__, "coder_columns": ("response_id", "coder_id"), "coders": names}
    )
    design = apply_design(info, frame, coders=True)
    coders, imp = design.coders, design.imputation
    assert coders.coder.size == len(frame) and design.n > len(frame)
    twice = np.bincount(coders.response) > 1
    lacking = imp.missing[coders.first, 0]
    assert (twice & lacking).any() and (twice & ~lacking).any()
    model = build_model(design, spec.priors, spec.link)
    names = ["b", "cutpoints", "r[mission]", "sd[mission]", "leniency", "spread"]
    names += ["mi_intercept[background]", "mi_b[background]", "mi_r[background]"]
    names += ["mi_sd[background]"]
    for loglik, draws, post in _random_draws(model, design, names, np.random.default_rng(2)):
        per_response = response_log_likelihood(design, draws, post, spec.link)
        ours = per_response.sum() + observed_log_probs(design, draws, coders.first)[0]
        assert float(ours) == pytest.approx(loglik, rel=1e-10)
        # the terms whose shares are a missing cell's posterior given the response's
        # codes sum, over a response's copies, to its likelihood
        terms = copy_log_terms(design, draws, post, spec.link)
        summed = row_mixture(terms, imp.slots, imp.mask)[:, coders.first]
        np.testing.assert_allclose(summed, per_response, rtol=1e-10)


def test_a_cell_only_copies_reach_is_no_observation():
    """An interaction cell that no row gives (only the copies of rows lacking background
    fill it in) is an empty cell: its column is left out, and a profile leaving
    background unknown whose copies reach it is found by unobserved_levels (what-if
    refuses it)."""
    from bayesresp.model.design import expand, unobserved_levels

    sim = bayesresp.simulate(missions=4, rows=200, seed=5, missing={"background": 0.3})
    data = sim.data.drop(columns="official_id")
    cell = (data["background"] == "diplomatic_political") & (
        data["duty_location"] == "field_office"
    )
    data = data[~cell]
    spec = ModelSpec("response ~ background * duty_location + (1 | mission)")
    frame, cb = prepare_data(data, spec, None, missing="model")
    design = make_design(frame, spec.parsed, cb, impute=True)
    name = "background[diplomatic_political]:duty_location[field_office]"
    assert name in [c.name for c in design.info.empty_cells]
    assert name not in design.info.column_names
    profile = frame.head(1).assign(background=None, duty_location="field_office")
    copies, _ = expand(design.info, profile)
    assert [(v, lv) for _, v, lv in unobserved_levels(design.info, copies)] == [
        ("background:duty_location", name)
    ]


def test_an_intervention_keeps_the_actual_rows_weights(gappy):
    """Counterfactuals (scenarios, marginal effects): a row whose missing cells stay
    missing keeps the actual rows' weights of its copies, though the intervention changes
    a predictor of the covariate's model; a row whose gap the intervention fills has
    one copy."""
    from bayesresp.inference.imputation import actual_weights, held_weights

    formula = "response ~ severity + background + hierarchy_level + (1 | mission)"
    design, spec, frame = _design(gappy.data, formula)
    model = build_model(design, spec.priors, spec.link)
    names = ["b", "cutpoints", "r[mission]", "sd[mission]"]
    names += ["mi_intercept[background]", "mi_b[background]", "mi_r[background]"]
    names += ["mi_sd[background]"]
    ((_, draws, _),) = _random_draws(model, design, names, np.random.default_rng(3), n=1)
    lacking = np.flatnonzero(frame["background"].isna().to_numpy())
    after = frame.assign(hierarchy_level="head_of_mission")
    after["background"] = after["background"].astype(object)
    after.loc[after.index[lacking[0]], "background"] = "humanitarian"
    after_design = apply_design(design.info, after)
    before_w = actual_weights(design, draws, spec.link)
    held = held_weights(design, after_design, before_w, draws)
    b, a = design.imputation, after_design.imputation
    for row in lacking[1:4]:
        np.testing.assert_array_equal(held[:, a.slots[row]], before_w[:, b.slots[row]])
    assert a.copies[lacking[0]] == 1 and held[0, a.slots[lacking[0], 0]] == 1.0
    # the predictive weights of the changed rows would differ (rank predicts background)
    fresh = copy_weights(after_design, draws)
    assert not np.allclose(fresh[:, a.slots[lacking[1]]], held[:, a.slots[lacking[1]]])
