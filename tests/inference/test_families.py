"""The sequential and adjacent-category families in every verb: a short fit of each goes
through what-if, contrasts, marginal effects, scenarios, predictive checks, PSIS-LOO,
the fit file, the report and the command line; the variance decomposition means the
latent propensity of each step in the sequential models and is refused for acat.

(Their agreement with maximum likelihood on real data is
tests/inference/test_families_real_data.py's; their maths is
tests/maths/test_families.py's.)"""

from __future__ import annotations

import numpy as np
import pytest

import bayesresp
from bayesresp.inference.arrays import eta_from_draws, thresholds_from_draws
from bayesresp.maths.families import get_family

FORMULA = "response ~ severity + background + (1 | mission)"
# the acat fit's severity is category-specific: one coefficient per threshold
CS_FORMULA = "response ~ cs(severity) + background + (1 | mission)"


@pytest.fixture(scope="module")
def family_fits(example):
    rows = example.head(400)
    return {
        name: bayesresp.fit(
            rows,
            {
                "formula": formula,
                "family": name,
                "link": link,
                "priors": {"cs(severity)": "normal(0, 2)"} if "cs(" in formula else {},
            },
            draws=150,
            tune=200,
            chains=2,
            seed=3,
            progress=False,
        )
        for name, link, formula in (
            ("sratio", "cloglog", FORMULA),
            ("acat", "logit", CS_FORMULA),
        )
    }


@pytest.mark.parametrize("name", ["sratio", "acat"])
def test_family_fits_where_it_can_and_says_why(family_fits, name):
    """sratio (cloglog here) fits through the compiled kernel; acat on PyMC's graph,
    which the fit says; the stored per-row log-likelihood is the family's either way."""
    fit = family_fits[name]
    assert fit.spec.family == name
    if name == "sratio":
        assert fit.meta["log_density"] == "kernel"
        assert fit.meta.get("log_density_why") is None
    else:
        assert fit.meta["log_density"] == "pytensor"
        assert f"does not cover the {name} family" in fit.meta["log_density_why"]
    assert np.isfinite(fit.summary()["mean"]).all()
    d = fit.arrays
    eta = eta_from_draws(d, fit.design)
    by_hand = fit.spec.response.log_prob(fit.design.y, eta, thresholds_from_draws(d, fit.design))
    ll = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(d.n_draws, -1)
    np.testing.assert_allclose(ll, by_hand, rtol=1e-9)


@pytest.mark.parametrize("name", ["sratio", "acat"])
def test_queries_follow_the_family(family_fits, example, name):
    """What-if probabilities are the family's at each draw's parameters (recomputed
    here from the posterior arrays), and every query runs."""
    fit = family_fits[name]
    profile = {
        "mission": example["mission"].iloc[0],
        "severity": "grave",
        "background": "military_security",
    }
    answer = fit.what_if(profile, fill="typical")
    table = answer.summary()
    assert 0 <= table["expected_position"].iloc[0] <= 6
    p = answer.probabilities.values.reshape(-1, answer.probabilities.shape[-1])
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-9)
    # the same profile through the family's maths by hand: severity[grave] and
    # background[military_security] on top of the mission's effect (acat: severity
    # moves each threshold by its own coefficient)
    d = fit.arrays
    cols = fit.info.column_names
    b = d.b.reshape(d.n_draws, -1)
    mission = list(fit.posterior["r[mission]"].coords["mission_level"].values).index(
        profile["mission"]
    )
    eta = (
        b[:, cols.index("background[military_security]")]
        + d.r["mission"].reshape(d.n_draws, -1, 1)[:, mission, 0]
    )
    cut = d.cutpoints
    if fit.info.cs_columns:
        grave = [c.name for c in fit.info.cs_columns].index("severity[grave]")
        cut = cut - d.b_cs[:, grave, :]
    else:
        eta = eta + b[:, cols.index("severity[grave]")]
    by_hand = get_family(name, fit.spec.link).probs(eta[:, None], cut)[:, 0]
    np.testing.assert_allclose(p.mean(0), by_hand.mean(0), rtol=1e-6)
    fit.contrast(profile, {"background": "development_agency"}, fill="typical").to_dataframe()
    assert len(fit.marginal_effects(draws=100))
    assert fit.ppc(draws=30, progress=False).table is not None


def test_families_compare_by_loo(family_fits):
    """Families fitted to the same rows compare by PSIS-LOO, one term per row each."""
    result = bayesresp.compare(dict(family_fits), refit_high_k=False)
    assert set(result.table.index) == {"sratio", "acat"}
    assert np.isfinite(result.table["elpd"].astype(float)).all()


def test_variance_decomposition_means_the_steps_propensity_or_is_refused(family_fits):
    shares = family_fits["sratio"].variance_decomposition()["share"]
    assert abs(shares.sum() - 1) < 1e-9
    with pytest.raises(bayesresp.BayesrespError, match="acat family has no latent scale"):
        family_fits["acat"].variance_decomposition()


@pytest.mark.parametrize("name", ["sratio", "acat"])
def test_fit_file_and_report_keep_the_family(family_fits, tmp_path, name):
    fit = family_fits[name]
    loaded = bayesresp.load_fit(fit.save(tmp_path / "f.nc"))
    assert loaded.spec.family == name and loaded.spec.response == fit.spec.response
    np.testing.assert_allclose(
        loaded.what_if({"severity": "minor"}, fill="typical", groups="average").summary()[
            "expected_position"
        ],
        fit.what_if({"severity": "minor"}, fill="typical", groups="average").summary()[
            "expected_position"
        ],
    )
    page = fit.report(tmp_path / "r.html", ppc_draws=20).read_text()
    assert fit.spec.response.describe() in page
    if name == "acat":
        assert "Not available: the acat family has no latent scale" in page


def test_category_specific_effects_are_named_and_refused_where_they_cannot_be(family_fits, example):
    """cs(severity): a coefficient per level and threshold, named by both, with the
    prior of its key; the cumulative family refuses two cs() terms (their thresholds
    could cross where they combine), and every family a formula with a covariate both
    common and category-specific."""
    fit = family_fits["acat"]
    table = fit.summary()
    name = "cs(severity)[grave][quiet_diplomacy|private_condemnation]"
    assert name in table.index and "severity[grave]" not in table.index
    assert sum(i.startswith("cs(severity)[") for i in table.index) == 3 * 7
    assert fit.meta["priors"]["cs(severity)"] == "normal(0, 2)"
    assert "does not cover the acat family" in fit.meta["log_density_why"]
    with pytest.raises(bayesresp.SpecError, match="Keep one cs\\(\\) term, or fit family"):
        bayesresp.fit(example, "response ~ cs(severity) + cs(background)", draws=10, tune=10)
    with pytest.raises(bayesresp.FormulaError, match="in the common term severity:background"):
        bayesresp.fit(
            example,
            {"formula": "response ~ severity:background + cs(severity)", "family": "acat"},
        )
    with pytest.raises(bayesresp.FormulaError, match="both in the common term severity and in cs"):
        bayesresp.fit(example, {"formula": "response ~ severity + cs(severity)", "family": "acat"})


def test_unordered_thresholds_are_allowed_outside_the_cumulative_family(family_fits):
    """The sequential and adjacent-category models need no ordering: their thresholds
    are sampled free, without the ordered transform (the cumulative family's stay
    ordered in every draw)."""
    from bayesresp.model.design import apply_design
    from bayesresp.model.graph import build_model

    fit = family_fits["acat"]
    design = apply_design(fit.info, fit.data)
    for name, ordered in (("acat", False), ("sratio", False), ("cumulative", True)):
        if name == "cumulative":  # (a design without cs(): the acat fit's is unbounded)
            design = apply_design(family_fits["sratio"].info, family_fits["sratio"].data)
        model = build_model(design, {}, name if name != "cumulative" else "logit")
        transform = model.rvs_to_transforms[model["cutpoints_centred"]]
        assert (transform is not None) == ordered, name
    fit_c = bayesresp.fit(
        bayesresp.load_example().head(200),
        "response ~ severity",
        draws=50,
        tune=100,
        chains=1,
        seed=2,
        progress=False,
    )
    assert (np.diff(fit_c.arrays.cutpoints, axis=-1) > 0).all()


def test_command_line_family_and_a_bad_one(run_cli, tmp_path):
    """--family sets the family before the specification is checked, so a formula of
    cs() terms alone (no common term: eta is zero) is valid with it."""
    data = tmp_path / "d.csv"
    bayesresp.load_example().head(150).to_csv(data, index=False)
    out = tmp_path / "f.nc"
    res = run_cli(
        "fit",
        str(data),
        "--spec",
        "response ~ cs(severity)",
        "--family",
        "cratio",
        "--draws",
        "50",
        "--tune",
        "100",
        "--chains",
        "1",
        "--seed",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert res.code == 0, res.err
    assert "Family: cratio logit" in res.out
    loaded = bayesresp.load_fit(out)
    assert loaded.spec.family == "cratio" and loaded.info.cs_columns
    assert np.isfinite(loaded.summary()["mean"]).all()
    bad = run_cli(
        "fit",
        str(data),
        "--spec",
        "response ~ severity",
        "--family",
        "sratios",
        "--out",
        str(tmp_path / "g.nc"),
    )
    assert bad.code == 2 and "'sratios' is not one of 'cumulative', 'sratio'" in bad.err
    assert not (tmp_path / "g.nc").exists()


def test_odds_ratios_say_what_odds_the_family_reads(family_fits):
    table = family_fits["acat"].odds_ratios()
    assert table.attrs["reading"] == "the odds of each level against the one below it"
    assert "background[military_security]" in table.index
    assert not any(i.startswith("cs(") for i in table.index)


def test_log_likelihood_in_chunks_of_draws_is_the_same(family_fits, monkeypatch):
    """The NumPy log-likelihood of a family the kernel does not cover is computed in
    chunks of draws (memory); any chunking gives the fit's own terms."""
    from bayesresp.inference import kernel
    from bayesresp.model.design import apply_design

    fit = family_fits["acat"]
    design = apply_design(fit.info, fit.data)
    monkeypatch.setattr(kernel, "_CHUNK_CELLS", 7 * design.n * 8)  # 7 draws a chunk
    chunked = kernel.log_likelihood(design, fit.arrays, fit.spec.response)
    stored = fit.tree["log_likelihood"][fit.info.outcome].values.reshape(chunked.shape)
    np.testing.assert_allclose(chunked, stored, rtol=1e-12)


def test_plan_refuses_a_model_its_simulator_does_not_draw_from():
    spec = {"formula": "response ~ severity", "family": "sratio"}
    with pytest.raises(bayesresp.PlanError, match="cumulative logit model"):
        bayesresp.plan(spec, [{"missions": 4, "rows": 100}], simulations=2)


def test_compiled_model_key_holds_the_cs_columns(family_fits):
    """A refit in the same process reuses a compiled graph of the same structure only:
    other cs() columns (a level absent from other data) are another structure."""
    import dataclasses

    from bayesresp.inference.sampling import structure_key
    from bayesresp.model.design import apply_design

    fit = family_fits["acat"]
    design = apply_design(fit.info, fit.data)
    fewer = dataclasses.replace(fit.info, cs_columns=fit.info.cs_columns[:1])
    other = dataclasses.replace(design, info=fewer, X_cs=design.X_cs[:, :1])
    assert structure_key(design, fit.spec) != structure_key(other, fit.spec)
