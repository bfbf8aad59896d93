"""Equidistant thresholds (``thresholds = "equidistant"``) through the model and every
verb: the model samples the first and last threshold with the flexible prior's marginal
(the maths: tests/maths/test_threshold_structures.py), the cutpoints are evenly spaced
and ordered in every posterior and prior draw, a fit file keeps the structure, what-if
and the report follow it, and the specification, fit() and the command line take it
and refuse what cannot be. (Agreement with maximum likelihood on real data:
tests/inference/test_families_real_data.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayesresp
from bayesresp.errors import SpecError
from bayesresp.inference.arrays import thresholds_from_draws
from bayesresp.maths.families import get_family
from bayesresp.maths.thresholds import sorted_normal_ends
from bayesresp.model.design import design_of_spec
from bayesresp.model.graph import build_model
from bayesresp.model.spec import ModelSpec

FORMULA = "response ~ severity + background + (1 | mission)"


@pytest.fixture(scope="module")
def equi(example, tmp_path_factory):
    """A fit with equidistant thresholds, made by the command line (its --thresholds)."""
    from click.testing import CliRunner

    from bayesresp.cli import cli

    where = tmp_path_factory.mktemp("equi")
    example.head(400).to_csv(where / "d.csv", index=False)
    args = ["fit", where / "d.csv", "--spec", FORMULA, "--thresholds", "equidistant"]
    args += ["--draws", 150, "--tune", 200, "--chains", 2, "--seed", 3, "--quiet"]
    args += ["--out", where / "f.nc"]
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return bayesresp.load_fit(where / "f.nc")


def _evenly_spaced_and_ordered(cut: np.ndarray) -> None:
    gaps = np.diff(cut, axis=-1)
    np.testing.assert_allclose(gaps, np.repeat(gaps[..., :1], gaps.shape[-1], -1), atol=1e-9)
    assert (gaps > 0).all()


def test_fit_samples_two_thresholds_with_the_kernel(equi):
    """(The kernel's log density is the graph's: tests/inference/test_kernel.py.)"""
    assert equi.spec.thresholds == "equidistant"
    assert equi.meta["log_density"] == "kernel"
    assert equi.posterior["cutpoint_ends"].sizes["cutpoint_end"] == 2
    _evenly_spaced_and_ordered(thresholds_from_draws(equi.arrays, equi.design))
    table = equi.summary()
    assert np.isfinite(table["mean"]).all()
    assert "equidistant" in equi.meta["priors"]["cutpoints"]


def test_fit_file_what_if_and_report_keep_the_structure(equi, tmp_path):
    """(The fixture is a fit read from the file the command line wrote; saved again and
    read back, it is the same model.)"""
    loaded = bayesresp.load_fit(equi.save(tmp_path / "e.nc"))
    assert loaded.spec.thresholds == "equidistant"
    assert loaded.spec.response == equi.spec.response != get_family("cumulative", "logit")
    profile = {"severity": "grave"}
    a = equi.what_if(profile, fill="typical", groups="average").summary()
    b = loaded.what_if(profile, fill="typical", groups="average").summary()
    np.testing.assert_allclose(a["expected_position"], b["expected_position"])
    page = equi.report(tmp_path / "r.html", ppc_draws=20).read_text()
    assert "(equidistant thresholds)" in page


@pytest.mark.parametrize("prior", ["induced_dirichlet(1.5)", "normal(0, 3)"])
@pytest.mark.parametrize("family", ["cumulative", "acat"])
def test_the_graphs_prior_is_the_maths_marginal_and_draws_are_equidistant(example, prior, family):
    """The CustomDist's log-density of the two ends is the maths' (the flexible prior's
    marginal), and its draws, through the model's deterministics, are evenly spaced
    thresholds (ordered in the cumulative family)."""
    spec = ModelSpec(
        "response ~ severity",
        family=family,
        thresholds="equidistant",
        priors={"cutpoints": prior, "b": "normal(0, 1)"},
    )
    design = design_of_spec(example.head(200), spec, bayesresp.Codebook.default())
    model = build_model(design, spec.priors, spec.response)
    K = len(design.info.spectrum)
    ends = np.array([-1.2, 2.5])
    got = pm.logp(model["cutpoint_ends"], ends).eval()
    fam = spec.response
    if prior.startswith("normal"):
        want = (
            sorted_normal_ends(ends, 0.0, 3.0, K - 1)
            if fam.ordered
            else -0.5 * ((ends / 3.0) ** 2).sum() - 2 * np.log(3.0 * np.sqrt(2 * np.pi))
        )
    else:
        want = fam.log_end_prior(ends, 1.5, K)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    cut = pm.draw(model["cutpoints_centred"], draws=500, random_seed=1)
    gaps = np.diff(cut, axis=-1)
    np.testing.assert_allclose(gaps, np.repeat(gaps[:, :1], K - 2, -1), atol=1e-9)
    assert (gaps > 0).all() if fam.ordered else (gaps < 0).any()


def test_prior_predictive_ends_match_the_flexible_priors(example):
    """In the cumulative family the bottom level's probability is F(c_1 - eta) and the
    top's S(c_{K-1} - eta): they depend on the two end thresholds alone, whose prior is
    the same in both structures, so their prior predictive shares agree (within 4 Monte
    Carlo standard errors of the difference of two means of 1,000 draws), while the
    equidistant draws are evenly spaced."""
    checks = {
        s: bayesresp.prior_predictive_check(
            example.head(200),
            {"formula": "response ~ severity", "thresholds": s},
            draws=1000,
            seed=2,
        )
        for s in ("flexible", "equidistant")
    }
    for level in (0, -1):
        a, b = (checks[s].shares[:, level] for s in ("flexible", "equidistant"))
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se, (level, a.mean(), b.mean(), se)
    _evenly_spaced_and_ordered(checks["equidistant"].prior_fit.posterior["cutpoints"].values)


def test_three_levels_are_always_equidistant_so_the_kernel_fits_them():
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    y = np.digitize(x + rng.logistic(size=300), [-0.5, 0.8])
    frame = pd.DataFrame(
        {
            "y": pd.Categorical(
                np.array(["lo", "mid", "hi"])[y], ["lo", "mid", "hi"], ordered=True
            ),
            "x": x,
        }
    )
    f = bayesresp.fit(
        frame,
        "y ~ x",
        thresholds="equidistant",
        draws=100,
        tune=100,
        chains=1,
        seed=1,
        progress=False,
    )
    assert f.meta["log_density"] == "kernel"
    assert "cutpoint_ends" not in f.posterior


def test_specification_checks_and_round_trip():
    with pytest.raises(
        SpecError, match="thresholds 'equidistance' is not one of flexible, equidistant"
    ):
        ModelSpec("response ~ severity", thresholds="equidistance")
    with pytest.raises(SpecError, match=r"cs\(severity\) with thresholds = 'equidistant'"):
        ModelSpec("response ~ cs(severity)", thresholds="equidistant")
    seq = ModelSpec("response ~ cs(severity)", family="sratio", thresholds="equidistant")
    assert ModelSpec.from_toml(seq.to_toml()) == seq
    assert ModelSpec.coerce("response ~ severity", thresholds="equidistant").thresholds == (
        "equidistant"
    )
    old = {k: v for k, v in seq.to_dict().items() if k != "thresholds"}  # an older fit file
    assert ModelSpec.from_dict(old).thresholds == "flexible"


def test_po_check_and_plan_refuse_equidistant_cumulative_thresholds(equi):
    with pytest.raises(bayesresp.POCheckError, match="thresholds are equidistant"):
        equi.po_check("severity")
    spec = {"formula": "response ~ severity", "thresholds": "equidistant"}
    with pytest.raises(bayesresp.PlanError, match=r"fit \(equidistant thresholds\)"):
        bayesresp.plan(spec, [{"missions": 4, "rows": 100}], simulations=2)


def test_command_line_refuses_a_bad_structure(run_cli, tmp_path, example):
    data = tmp_path / "d.csv"
    example.head(50).to_csv(data, index=False)
    bad = run_cli(
        "fit",
        data,
        "--spec",
        "response ~ severity",
        "--thresholds",
        "equal",
        "--out",
        tmp_path / "g.nc",
    )
    assert bad.code == 2 and "'equal' is not one of 'flexible', 'equidistant'" in bad.err
    assert not (tmp_path / "g.nc").exists()


def test_sbc_of_equidistant_thresholds():
    """The whole procedure, calibrated: truths drawn from the equidistant prior (the
    graph's draws: the flexible prior's ends), each simulated outcome refitted with the
    kernel's log density; the ranks of every truth among 49 posterior draws are uniform
    (chi-square test per parameter, Bonferroni at 1%; 40 simulations, about 20 s). It
    catches gross errors of the pipeline (a sign, a wrong scale); its power against a
    subtly wrong prior is small at this size (fitting with a Dirichlet concentration of
    4 instead of 1, on 60 rows, moved the lowest cutpoints' mean ranks to 0.58-0.59, not
    flagged), which is why the ends' densities are tied to the flexible prior's draws
    directly (tests/maths/test_threshold_structures.py)."""
    data = bayesresp.simulate(missions=6, rows=300, seed=5).data
    spec = {"formula": "response ~ severity + background + (1 | mission)"}
    result = bayesresp.sbc(
        data,
        {**spec, "thresholds": "equidistant"},
        simulations=40,
        draws=200,
        tune=200,
        n_posterior=49,
        seed=8,
        progress=False,
    )
    assert "cutpoint[conceal|silence]" in result.ranks.columns
    assert result.miscalibrated() == [], result.uniformity().sort_values("p_value").head()
