"""The proportional-odds check (bayesresp.checks.proportional_odds): on data drawn with
severity category-specific and career security proportional, at a fixed seed, it flags
severity and not career security; its tables, text forms, command line and refusals.
(Its error rates over repeated simulations: benchmarks/po_check.py, in the README.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bayesresp
from bayesresp.checks import proportional_odds
from bayesresp.checks.proportional_odds import eligible_covariates

FORMULA = "response ~ severity + career_security + (1 | mission)"
# grave moves the thresholds by 4.5 .. -1.5 from the lowest to the highest (serious by
# half): more often past silence, less often to enforcement (benchmarks/po_check.py)
GRAVE = [1.5 + s for s in (3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0)]


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    sim = bayesresp.simulate(
        missions=8,
        rows=800,
        seed=5,
        effects={"severity": {"total": 0.0, "simplex": [0.3, 0.3, 0.4]}},
        category_specific={"severity": {"grave": GRAVE, "serious": [g / 2 for g in GRAVE]}},
    )
    fit = bayesresp.fit(sim.data, FORMULA, draws=300, tune=300, chains=2, seed=1, progress=False)
    path = tmp_path_factory.mktemp("po") / "fit.nc"
    fit.save(path)
    return fit, fit.po_check(["severity", "career_security"]), path


def test_a_category_specific_covariate_is_flagged_and_a_proportional_one_is_not(checked):
    fit, result, _ = checked
    table = result.table
    assert table.loc["severity", "verdict"] == "fail", table
    assert table.loc["career_security", "verdict"] == "ok", table
    assert result.verdict == "fail" and not result.ok
    sev = table.loc["severity"]
    assert sev["elpd_diff"] > 4 and sev["elpd_diff"] > 2 * sev["se"]
    # the refit holds cs(severity) and is compared on the same rows
    refit = result.fits["severity"]
    assert str(refit.spec.parsed).count("cs(severity)") == 1
    assert len(refit.data) == len(fit.data)
    # the deviations: one per level and threshold, the grave ones tilted as drawn (each
    # level's deviations from its own mean: the lowest threshold's above zero, the
    # highest's below)
    dev = result.deviations["severity"]
    assert dev.shape[0] == 3 * 7 and list(dev.columns) == ["effect", "deviation", "q5", "q95"]
    grave = dev.loc["grave"]
    assert grave["deviation"].iloc[0] > 0 > grave["deviation"].iloc[-1]
    assert grave["q5"].iloc[0] > 0 and grave["q95"].iloc[-1] < 0  # apart from zero
    assert table.loc["severity", "n_deviations"] == 21
    assert table.loc["career_security", "n_deviations"] == 14


def test_text_html_dict_and_report_forms(checked, tmp_path):
    fit, result, _ = checked
    text = str(result)
    assert text.startswith(
        "Proportional odds, one covariate (or group) at a time (cumulative family"
    )
    assert "[fail] severity" in text and "[  ok] career_security" in text
    assert "fit cs(severity)" in text
    assert "<table>" in result._repr_html_()
    d = result.to_dict()
    assert d["verdict"] == "fail"
    assert {c["covariate"] for c in d["covariates"]} == {"severity", "career_security"}
    json.dumps(d, default=float)
    page = fit.report(tmp_path / "r.html", ppc_draws=20, po_check=result).read_text()
    assert '<section id="po">' in page and "cs(severity): each level's effect" in page
    assert '<a href="#po">Proportional odds</a>' in page


def test_refusals(checked, example):
    fit, _, _ = checked
    with pytest.raises(bayesresp.POCheckError, match="'years' is not a covariate"):
        fit.po_check(["years"])
    with pytest.raises(bayesresp.POCheckError, match="name at least one covariate"):
        fit.po_check([])
    with pytest.raises(bayesresp.POCheckError, match="keeps one cs\\(\\) term's thresholds"):
        fit.po_check([("severity", "career_security")])
    with pytest.raises(bayesresp.POCheckError, match="'mood' is not a block of the fit's terms"):
        fit.po_check(blocks=["mood"])
    mono = bayesresp.fit(
        example.head(150),
        "response ~ mo(hierarchy_level) + severity:background",
        draws=20,
        tune=20,
        chains=1,
        seed=1,
        progress=False,
    )
    with pytest.raises(bayesresp.POCheckError, match="no covariate of this fit can be made"):
        mono.po_check()
    with pytest.raises(bayesresp.POCheckError, match="part of the interaction"):
        mono.po_check("severity")
    with pytest.raises(bayesresp.POCheckError, match="monotonic effect"):
        mono.po_check("hierarchy_level")


def test_a_group_is_checked_jointly_in_a_sequential_family(checked):
    """In sratio (thresholds need no order) a tuple of covariates, or a block, is one
    refit with all of them category-specific; its deviations are indexed by covariate.
    The data's severity moves the thresholds apart (the fixture's), so the joint refit
    predicts better."""
    fit, _, _ = checked
    seq = bayesresp.fit(
        fit.data,
        {"formula": FORMULA, "family": "sratio"},
        draws=200,
        tune=300,
        chains=2,
        seed=1,
        progress=False,
    )
    # the block's covariates (career security alone, here) are what _chosen gives
    chosen = proportional_odds._chosen(seq, eligible_covariates(seq), None, ["individual"])
    assert chosen == [("career_security",)]
    # (a group named twice in another order is one refit)
    result = seq.po_check([("severity", "career_security"), ("career_security", "severity")])
    assert list(result.table.index) == ["severity + career_security"]
    joint = result.table.loc["severity + career_security"]
    assert joint["z"] > 2 and joint["verdict"] == "fail", joint.to_dict()
    assert "cs(severity) + cs(career_security)" in joint["advice"]
    dev = result.deviations["severity + career_security"]
    assert set(dev.index.get_level_values("covariate")) == {"severity", "career_security"}
    assert joint["n_deviations"] == len(dev) == len(dev.loc["severity"]) * 5 / 3  # 3 + 2 levels
    assert "cs(career_security)" in result.fits["severity + career_security"].spec.formula


def test_command_line(checked, run_cli):
    _, result, path = checked
    out = run_cli("po-check", str(path), "--covariate", "career_security")
    assert out.code == 0, out.err
    assert "[  ok] career_security" in out.out
    bad = run_cli("po-check", str(path), "--covariate", "years")
    assert bad.code == 2 and "'years' is not a covariate" in bad.err
    assert "Traceback" not in bad.err
    joint = run_cli("po-check", str(path), "--covariate", "severity+career_security")
    assert joint.code == 2 and "checks one covariate at a time" in joint.err
    block = run_cli("po-check", str(path), "--block", "mood")
    assert block.code == 2 and "'mood' is not a block" in block.err


def test_simulated_category_specific_effects_are_checked():
    """simulate(category_specific=...) moves the named level's thresholds and records
    them; the other draws are those without it; crossed thresholds are refused."""
    plain = bayesresp.simulate(missions=3, rows=300, seed=2)
    shifted = bayesresp.simulate(
        missions=3, rows=300, seed=2, category_specific={"severity": {"grave": [5.0] * 7}}
    )
    same = plain.data.drop(columns="response")
    assert same.equals(shifted.data.drop(columns="response"))
    grave = (plain.data["severity"] == "grave").to_numpy()
    np.testing.assert_array_equal(
        plain.data["response"][~grave].to_numpy(), shifted.data["response"][~grave].to_numpy()
    )
    codes = plain.data["response"].cat.codes.to_numpy(), shifted.data["response"].cat.codes
    assert (codes[1].to_numpy()[grave] >= codes[0][grave]).all()
    assert shifted.truth["category_specific"] == {"severity": {"grave": [5.0] * 7}}
    with pytest.raises(ValueError, match="must increase"):
        bayesresp.simulate(
            rows=50, seed=1, category_specific={"severity": {"grave": [0, 9] + [0] * 5}}
        )
    with pytest.raises(ValueError, match="not a level of severity"):
        bayesresp.simulate(rows=50, seed=1, category_specific={"severity": {"huge": [0] * 7}})
