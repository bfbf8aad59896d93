"""The coders' layer (issue 16, part B): several coders' codes of one response read its
one true level (bayesresp.maths.rater), each coder with a leniency and a spread.

The maths is tied to a brute-force sum in tests/maths/test_rater.py; here the PyMC model's
likelihood is tied to the per-response log-likelihood a fit stores, the data checks are
exercised, and the simulator's truth is recovered.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.checks.coders import code_pairs, expected_coincidences
from bayesresp.checks.reliability import _alpha
from bayesresp.data.codebook import Codebook
from bayesresp.data.simulate import linear_predictor
from bayesresp.errors import BayesrespError, ReliabilityError
from bayesresp.inference.arrays import PosteriorArrays
from bayesresp.inference.coders import response_log_likelihood
from bayesresp.inference.fitting import coder_columns, prepare_data
from bayesresp.maths.cumulative import category_probs
from bayesresp.maths.rater import log_reading
from bayesresp.model.design import apply_design, make_design
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec
from tests.pymc_eval import PY

FORMULA = "response ~ severity + background + (1 | mission)"


def _design(data, formula=FORMULA, coders="auto"):
    spec = ModelSpec(formula, coders=coders)
    frame, cb = prepare_data(data, spec, None)
    design = make_design(frame, spec.parsed, cb)
    columns = coder_columns(frame, cb, spec)
    if columns is not None:
        import dataclasses

        names = tuple(sorted(frame[columns[1]].astype(str).unique()))
        info = dataclasses.replace(design.info, coder_columns=columns, coders=names)
        design = apply_design(info, frame, coders=True)
    return design, spec, frame


@pytest.fixture(scope="module")
def double_coded():
    return bayesresp.simulate(missions=5, rows=300, seed=8, coders=3, double_coded=0.5)


@pytest.mark.parametrize("centred", [False, True])
def test_the_models_likelihood_is_the_stored_per_response_one(double_coded, centred, monkeypatch):
    """At random points, the PyMC model's likelihood term equals the sum over responses of
    the NumPy per-response log-likelihood a fit stores (ranges among the codes too),
    with the leniencies sampled in either form."""
    import pytensor
    import xarray as xr

    from bayesresp.model import graph

    monkeypatch.setattr(graph, "leniency_centred", lambda design: (centred, 0.0))

    data = double_coded.data.copy()
    rng = np.random.default_rng(3)
    ranged = rng.random(len(data)) < 0.15
    level = data["response"].cat.codes.to_numpy()
    spectrum = data["response"].cat.categories
    low = np.maximum(level - 1, 0)
    data["response_low"] = pd.Categorical(
        np.where(ranged, spectrum[low], None), categories=spectrum, ordered=True
    )
    data["response_high"] = pd.Categorical(
        np.where(ranged, spectrum[level], None), categories=spectrum, ordered=True
    )
    data.loc[ranged, "response"] = None
    design, spec, _ = _design(data)
    assert design.coders is not None and design.ranges.any()
    model = build_model(design, spec.priors, spec.link)
    assert ("leniency_z" in model.named_vars) is not centred
    names = ["b", "cutpoints", "r[mission]", "sd[mission]", "leniency", "spread"]
    graphs = model.replace_rvs_by_values([model["loglik"], *(model[n] for n in names)])
    f = pytensor.function(model.value_vars, graphs, on_unused_input="ignore", mode=PY)
    for _ in range(3):
        point = {
            v.name: rng.normal(0.0, 0.6, np.shape(model.initial_point()[v.name]))
            for v in model.value_vars
        }
        loglik, *values = f(*(point[v.name] for v in model.value_vars))
        dims = {"b": ("coef",), "cutpoints": ("cutpoint",), "sd[mission]": ("t",)}
        dims |= {"r[mission]": ("l", "t"), "leniency": ("coder",), "spread": ("coder",)}
        post = xr.Dataset(
            {
                n: (("chain", "draw", *dims[n]), np.asarray(v)[None, None])
                for n, v in zip(names, values, strict=True)
            }
        )
        draws = PosteriorArrays.from_posterior(post, design.info)
        ll = response_log_likelihood(design, draws, post, spec.link)
        np.testing.assert_allclose(ll.sum(), loglik, rtol=1e-10)


def test_both_forms_of_the_leniencies_are_one_prior(double_coded):
    """The centred leniencies' zero-sum normal of scale leniency_sd is the non-centred
    form's standard zero-sum normal of leniency / leniency_sd, with the Jacobian
    leniency_sd^-(C - 1) of the C - 1 free coordinates."""
    import pymc as pm

    from bayesresp.model import graph

    design, spec, _ = _design(double_coded.data)
    priors = graph.ResolvedPriors(design.info, {}, spec.link)
    C, lsd = 3, 0.37
    value = np.array([0.5, -0.2, -0.3])
    got = {}
    for centred in (False, True):
        with pm.Model(coords={"coder": list("abc")}) as model:
            graph.coder_layer(priors, centred)
        rv = model["leniency" if centred else "leniency_z"]
        at = value if centred else value / lsd
        logp = pm.logp(rv, at)
        logp = logp.eval({model["leniency_sd"]: lsd}) if centred else logp.eval()
        got[centred] = float(np.sum(logp))
    assert got[True] == pytest.approx(got[False] - (C - 1) * np.log(lsd), rel=1e-12)


def test_the_leniency_form_follows_the_signal(double_coded, monkeypatch):
    """The rule centres the leniencies where the shared codes set the coders apart
    (:func:`bayesresp.maths.rater.leniency_signal` at least LENIENCY_CENTRE_SIGNAL),
    and not where the coders barely differ."""
    from bayesresp.maths import rater
    from bayesresp.maths.rater import LENIENCY_CENTRE_SIGNAL
    from bayesresp.model.graph import leniency_centred

    apart = _design(double_coded.data)[0]
    alike = bayesresp.simulate(
        missions=5, rows=300, seed=8, coders=3, double_coded=0.5, coder_sd=0.02
    )
    centred, signal = leniency_centred(apart)
    assert centred and signal >= LENIENCY_CENTRE_SIGNAL
    centred, signal = leniency_centred(_design(alike.data)[0])
    assert not centred and signal < LENIENCY_CENTRE_SIGNAL
    # the rule reads the threshold: above the signal, the same data are non-centred
    monkeypatch.setattr(rater, "LENIENCY_CENTRE_SIGNAL", leniency_centred(apart)[1] + 0.01)
    assert not leniency_centred(apart)[0]


def test_auto_fits_rows_when_no_response_is_coded_twice():
    once = bayesresp.simulate(missions=3, rows=120, seed=2, coders=3)
    design, _, _ = _design(once.data)
    assert design.coders is None and design.info.coders == ()
    with pytest.raises(BayesrespError, match="no response in the data is coded twice"):
        _design(once.data, coders="model")


def test_data_the_coders_layer_cannot_take_are_refused_clearly(double_coded):
    data = double_coded.data
    with pytest.raises(BayesrespError, match=r"\(1 \| coder_id\) shifts each coder"):
        _design(data, FORMULA + " + (1 | coder_id)")
    # the default codebook refuses a group column as a predictor; a codebook of one's own
    # whose coder column is a covariate meets the coders' layer's own refusal
    with pytest.raises(BayesrespError, match="coder_id"):
        _design(data, FORMULA + " + coder_id")
    rows = _design(data, FORMULA + " + (1 | coder_id)", coders="rows")[0]
    assert rows.coders is None  # coders='rows' keeps the term
    twice = data["response_id"].duplicated(keep=False).to_numpy()
    row = int(np.flatnonzero(twice)[0])
    changed = data.copy()
    other = "grave" if changed.loc[row, "severity"] != "grave" else "minor"
    changed.loc[row, "severity"] = other
    rid = changed.loc[row, "response_id"]
    with pytest.raises(BayesrespError, match=rf"response_id {rid} \(rows .*\): severity is"):
        _design(changed)
    blank = data.copy()
    blank["coder_id"] = blank["coder_id"].astype(object)
    blank.loc[row, "coder_id"] = None
    with pytest.raises(BayesrespError, match=rf"name no coder \(coder_id empty: rows {row + 1}\)"):
        _design(blank)


def _true_alpha(sim, design):
    """The ordinal alpha the simulator's own parameters imply for the double-coded
    responses: the model's alpha at the truth."""
    truth, cb = sim.truth, Codebook.default()
    rows = design.coders.first
    eta = linear_predictor(sim.data.iloc[rows], truth, cb)
    p_level = category_probs(eta, np.array(list(truth["cutpoints"].values())))[None]
    names = list(design.info.coders)
    lenient = np.array([truth["coders"][n]["leniency"] for n in names])[None]
    spread = np.array([truth["coders"][n]["spread"] for n in names])[None]
    K = len(design.info.spectrum)
    o = expected_coincidences(
        p_level,
        log_reading(lenient, spread, K),
        design.coders.coder,
        design.coders.response,
        code_pairs(design.coders.coder, design.coders.response, ~design.ranges),
    )
    return float(_alpha(o, np.arange(K, dtype=float), "ordinal")[0])


@pytest.fixture(scope="module")
def recovery():
    """Every response coded twice, by two of four coders of different precision (spreads
    from about 0.25 to 1 level), a tenth of the codes ranges: the simulation and its fit
    with the coders' layer."""
    sim = bayesresp.simulate(
        missions=8,
        rows=700,
        seed=31,
        coders=4,
        double_coded=1.0,
        coder_sd=0.5,
        coder_spread=0.5,
        coder_spread_sd=0.6,
        ambiguous=0.1,
    )
    fit = bayesresp.fit(sim.data, FORMULA, draws=400, tune=400, chains=2, seed=4, progress=False)
    return sim, fit


def _reading(fit, truth):
    """Coverage of the 90% intervals, scale-free precision (mean |median| / sd) and the
    slope of the medians on the truth, over the true coefficients."""
    s = fit.summary(ci=0.9)
    rows = s.loc[[n for n in s.index if n in truth]]
    true = pd.Series({n: truth[n] for n in rows.index})
    covered = int(((rows["q5"] <= true) & (true <= rows["q95"])).sum())
    precision = float((rows["median"].abs() / rows["sd"]).mean())
    slope = float((rows["median"] * true).sum() / (true**2).sum())
    return covered, precision, slope, len(rows)


@pytest.mark.slow
def test_two_coders_per_response_recover_the_truth_better_than_one(recovery):
    """The coders' layer covers the coefficients at least as well as a fit of one code per
    response, more precisely, without its attenuation; recovers each coder's leniency and
    spread; and its alpha is that of the simulator's coders.

    A fit of codes as if they were the responses estimates its coefficients on a latent
    scale widened by the coders' misreadings: its medians and sds shrink together, so its
    intervals are narrower in latent units while saying less. Precision is therefore
    compared scale-free (|median| / sd), and the shrinkage shows as the slope of the
    medians on the truth.

    Tolerances: with 8 coefficients and 90% intervals, a calibrated fit covers 5 or more
    with probability 0.995; the slope's posterior sd is about 0.08 here (coefficient sds
    near 0.2 over the root of the sum of the squared truths, 2.5), so 1 +- 0.2 is 2.5 sd;
    4 coders with 95% intervals cover 3 or more with probability 0.986."""
    sim, both = recovery
    assert both.meta["log_density"] == "pytensor" and both.info.coders
    lenient = [v["leniency"] for v in sim.truth["coders"].values()]
    assert abs(sum(lenient)) < 1e-12  # the simulator's are relative to the average coder
    one = sim.data.drop_duplicates("response_id", keep="first")
    single = bayesresp.fit(one, FORMULA, draws=400, tune=400, chains=2, seed=4, progress=False)
    assert not single.info.coders  # one code per response: each row a response
    truth = sim.truth["coefficients"]
    covered_both, precision_both, slope_both, n = _reading(both, truth)
    covered_single, precision_single, slope_single, _ = _reading(single, truth)
    shown = (covered_both, precision_both, slope_both, covered_single, precision_single)
    assert n == 8
    assert covered_both >= 5 and covered_both >= covered_single, shown
    assert precision_both > precision_single, shown
    assert abs(slope_both - 1) < 0.2 and slope_single < slope_both, (slope_both, slope_single)
    s = both.summary(ci=0.95)
    for kind in ("leniency", "spread"):
        true = pd.Series({f"{kind}[{c}]": v[kind] for c, v in sim.truth["coders"].items()})
        rows = s.loc[true.index]
        assert ((rows["q2.5"] <= true) & (true <= rows["q97.5"])).sum() >= 3, (kind, rows)
        assert np.corrcoef(rows["median"], true)[0, 1] > 0.8, (kind, rows["median"], true)
    rel = both.coder_reliability(n_boot=200)
    design = both.design
    alpha = _true_alpha(sim, design)
    assert rel.alpha_model_lo - 0.02 <= alpha <= rel.alpha_model_hi + 0.02, (alpha, rel)
    assert rel.data.ci_low <= rel.alpha_model <= rel.data.ci_high
    # the model's check: the data's alpha among the alphas of replicated codes
    assert rel.alpha_replicated_lo <= rel.data.alpha <= rel.alpha_replicated_hi, rel
    with pytest.raises(ReliabilityError, match="no model of coders"):
        single.coder_reliability()


def test_a_coder_fit_reads_back_and_reports_its_coders(recovery, tmp_path, run_cli):
    from bayesresp.present.report import _coders, _Page

    made = recovery[1]
    path = tmp_path / "coders.nc"
    made.save(path)
    loaded = bayesresp.load_fit(path)
    coders = ("CODER01", "CODER02", "CODER03", "CODER04")
    assert loaded.info.coders == coders
    assert loaded.meta["log_density"] == "pytensor"  # the kernel has no coders' layer
    assert "does not cover the coders' layer" in loaded.meta["log_density_why"]
    ll = loaded.tree["log_likelihood"]["response"]
    assert ll.dims == ("chain", "draw", "response_id")
    assert ll.sizes["response_id"] == loaded.data["response_id"].nunique() < len(loaded.data)
    s = loaded.summary()
    names = [f"{k}[{c}]" for k in ("leniency", "spread") for c in coders]
    assert set(names) | {"leniency_sd", "spread_median", "spread_sd"} <= set(s.index)
    assert (s.loc[names, "block"] == "coders").all()
    rel = loaded.coder_reliability(n_boot=100)
    pd.testing.assert_frame_equal(rel.coders, made.coder_reliability(n_boot=100).coders)
    assert 0 < rel.alpha_model_lo <= rel.alpha_model <= rel.alpha_model_hi < 1
    assert (rel.coders["within_one"] >= rel.coders["agreement"]).all()
    assert "ordinal alpha, model" in str(rel) and "<table" in rel._repr_html_()
    assert set(rel.to_dict()["coders"]) == set(coders)
    assert rel.alpha_replicated_lo < rel.alpha_replicated_hi
    # averages over the sample count a response once, however many coders read it
    assert len(loaded.responses) == loaded.data["response_id"].nunique()
    assert "leniency_sd" in loaded.meta["priors"]
    # how the leniencies were sampled, and the signal that chose (well apart here)
    assert loaded.meta["coders"]["leniency_centred"] is True
    assert loaded.meta["coders"]["leniency_signal"] > 10
    # prior sensitivity rebuilds the model in the form it was sampled in: the power-scaled
    # priors are the coders' sds and median, not the centred leniencies' hierarchy
    sens = loaded.prior_sensitivity()
    assert {"leniency_sd", "spread_median", "spread_sd"} <= set(sens.table.index)
    # leniencies relative to the average coder: they sum to zero in every draw
    np.testing.assert_allclose(loaded.posterior["leniency"].sum("coder"), 0.0, atol=1e-9)
    # the posterior predictive check replicates codes (coders' readings of true levels)
    ppc = loaded.ppc(draws=100, progress=False)
    assert ppc.pit.shape == (len(loaded.data),) and ((ppc.pit > 0) & (ppc.pit < 1)).all()
    assert ppc.ranges is not None
    assert round(ppc.table["observed"].sum()) == len(loaded.data)
    section = _coders(_Page(), loaded, 0.9)
    assert section.startswith('<section id="coders">') and "Ordinal Krippendorff" in section
    res = run_cli("coders", path, "--boot", "50", "--format", "json")
    assert res.code == 0 and set(json.loads(res.out)["coders"]) == set(coders)
    res = run_cli("coders", path, "--boot", "50")
    assert res.code == 0 and "ordinal alpha, data" in res.out
    with pytest.raises(bayesresp.ComparisonError, match="different units"):
        bayesresp.compare({"coders": loaded, "rows": _rows_fit(loaded)})


def _rows_fit(fit):
    """The same data fitted with each row a response (no draws needed: a quick fit)."""
    spec = ModelSpec(FORMULA, coders="rows")
    return bayesresp.fit(fit.data, spec, draws=50, tune=50, chains=1, seed=1, progress=False)


def test_the_coders_priors_are_overridable(double_coded):
    """[priors] leniency_sd, spread_median and spread_sd set the coders' priors (the
    model's densities are the families asked for), show in the priors table, and are
    refused with a wrong family or in a model without coders."""
    import pymc as pm
    from scipy import stats

    design, _, _ = _design(double_coded.data)
    chosen = {
        "leniency_sd": "halfnormal(0.2)",
        "spread_median": "lognormal(-1, 0.3)",
        "spread_sd": "exponential(3)",
    }
    model = build_model(design, chosen, "logit")
    for name, value, want in (
        ("leniency_sd", 0.3, stats.halfnorm(scale=0.2).logpdf(0.3)),
        ("spread_median", 0.4, stats.lognorm(s=0.3, scale=np.exp(-1)).logpdf(0.4)),
        ("spread_sd", 0.5, stats.expon(scale=1 / 3).logpdf(0.5)),
    ):
        got = pm.logp(model[name], value).eval()
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert {k: model.bayesresp_priors[k] for k in chosen} == chosen
    default = build_model(design, {}, "logit").bayesresp_priors
    assert default["spread_median"] == "lognormal(-0.6931, 0.5)"
    with pytest.raises(bayesresp.PriorError, match="cannot be a prior for coder_sd"):
        build_model(design, {"leniency_sd": "normal(0, 1)"}, "logit")
    rows = _design(double_coded.data, coders="rows")[0]
    with pytest.raises(bayesresp.PriorError, match="match nothing in this model"):
        build_model(rows, {"spread_sd": "halfnormal(1)"}, "logit")


def test_leave_one_mission_out_scores_responses_with_all_their_codes(recovery, monkeypatch):
    """Under the coders' layer a held-out mission's units are its responses, all their
    codes together: the unit log-likelihood at the fit's own linear predictor is the
    per-response log-likelihood the fit stores, and ``group_kfold`` scores each mission
    over its responses with the mission's effect integrated out. (The refits are replaced
    by the fit itself: the pieces are tested here, the refits in
    tests/checks/test_group_folds.py.)"""
    from bayesresp.checks import comparison
    from bayesresp.inference.arrays import eta_from_draws
    from bayesresp.inference.newgroups import held_out_units
    from bayesresp.model.design import apply_design

    _, fit = recovery
    mission = fit.data["mission"] == fit.data["mission"].iloc[0]
    design = apply_design(fit.info, fit.data[mission], coders=True)
    units, unit_log_lik = held_out_units(design, fit.arrays, fit.posterior, fit.spec.link)
    eta = eta_from_draws(fit.arrays, units, "known")
    got = unit_log_lik(eta, np.arange(fit.arrays.n_draws))
    stored = fit.tree["log_likelihood"]["response"].sel(response_id=list(design.coders.labels))
    np.testing.assert_allclose(got, stored.values.reshape(got.shape), rtol=1e-10, atol=1e-10)

    # every eighth draw (100 of them) is enough to exercise the path
    tree = fit.tree.copy()
    for name in ("posterior", "sample_stats", "log_likelihood"):
        tree[name] = tree[name].isel(draw=slice(None, None, 8))
    thin = type(fit)(tree, fit.spec, fit.codebook, fit.data, fit.info, fit.meta)
    monkeypatch.setattr(comparison, "_refit_without", lambda fit, *a, **k: fit)
    # 50 importance draws per posterior draw, 5,000 weights a mission: with 10 (1,000
    # weights) the Pareto k of one mission's weights ranged from -0.43 to 0.75 over
    # three importance seeds (its value near 0: the proposal fits), too noisy for 0.7
    result = comparison.group_kfold(thin, "mission", draws=100, importance=50)
    terms = result.terms
    responses = fit.data.groupby("mission")["response_id"].nunique()
    assert terms["units"].to_dict() == responses.to_dict()
    assert (terms["effects_integrated"] == 1).all() and (terms["pareto_k"] < 0.7).all()
    assert np.isfinite(result.elpd_i.values).all()
