"""Study planning (:func:`bayesresp.plan`), at reduced size, against answers known in
advance: a large effect that every design detects, a null effect whose intervals exclude
zero no more often than their nominal error allows, intervals that cover the truth at
their nominal rate, and widths that shrink as the designs grow."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.errors import PlanError

# A weakly informative prior, so that the intervals' frequency properties are those of
# the likelihood (the default r2d2 prior shrinks, which the null test allows for anyway).
SPEC = bayesresp.ModelSpec("response ~ background + (1 | mission)", priors={"b": "normal(0, 2.5)"})
DESIGNS = [{"missions": 4, "rows": 100}, {"missions": 4, "rows": 200}, {"missions": 6, "rows": 400}]
# human_rights_legal: 2.5 on the latent scale against the development_agency reference
# (about 15 responses per level in the smallest design: a z of about 4);
# military_security: none. The other levels keep the simulator's small effects.
EFFECTS = {"background": {"human_rights_legal": 2.5, "military_security": 0.0}}
KW = dict(effects=EFFECTS, simulations=20, draws=150, tune=150, seed=4, progress=False)


@pytest.fixture(scope="module")
def local():
    """In this process, one chunk at a time (the model is compiled once for all)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def planned(local, tmp_path_factory):
    store = tmp_path_factory.mktemp("plan") / "store"
    result = bayesresp.plan(SPEC, DESIGNS, executor=local, store=store, chunks=6, **KW)
    return result, store


def test_a_large_effect_is_detected_by_every_design(planned):
    """Power near one: with a true power of 0.99, 18 or more of 20 detect it with
    probability 0.98 per design."""
    table = planned[0].table.loc["background[human_rights_legal]"]
    assert (table["power"] >= 0.9).all(), table
    assert (table["truth"] == 2.5).all() and (table["simulations"] == 20).all()


def test_a_null_effect_is_rejected_at_most_at_the_nominal_rate(planned):
    """Over the three designs' 60 simulations, the 90% intervals of an effect of zero
    exclude zero no more often than 10% plus three binomial standard errors (about
    0.22): under this weakly informative prior about 10% is expected; more would be a
    bug."""
    result = planned[0]
    rows = result.rows["background[military_security]|excludes_zero"].dropna()
    assert len(rows) >= 55
    assert rows.mean() <= 0.10 + 3 * np.sqrt(0.09 / len(rows)), rows.mean()


def test_intervals_cover_the_truth_at_about_their_nominal_rate(planned):
    """All targets and designs pooled (5 coefficients x 60 simulations): coverage within
    three binomial standard errors of 90% plus 0.02 (about 0.07 either side). The five
    coefficients of one simulation share its reference level's rows, so their coverage
    events are positively correlated and the pooled count varies more than a binomial
    one: with a within-simulation correlation rho the variance grows by 1 + 4 rho; the
    0.02 covers rho up to about 0.3."""
    covered = planned[0].rows.filter(like="|covered").to_numpy().ravel()
    covered = covered[np.isfinite(covered)]  # NaN: a level some data set did not draw
    assert len(covered) >= 280
    band = 3 * np.sqrt(0.09 / len(covered)) + 0.02
    assert abs(covered.mean() - 0.9) <= band, covered.mean()


def test_widths_shrink_as_the_design_grows(planned):
    """Four times the responses: intervals about half as wide (1 / sqrt(4)) between the
    smallest and the largest design; each step down is larger than three Monte Carlo
    standard errors of the difference."""
    table = planned[0].table.loc["background[human_rights_legal]"]
    widths, se = table["width"].to_numpy(), table["width_se"].to_numpy()
    for a, b in ((0, 1), (1, 2)):
        assert widths[a] - widths[b] > 3 * np.hypot(se[a], se[b]), table
    assert 0.35 < widths[2] / widths[0] < 0.7
    text = str(planned[0])
    assert "power" in text and "20 simulations per design" in text
    planned[0].plot()


def test_a_stopped_plan_resumes_to_the_same_rows(planned, local, tmp_path):
    import shutil

    result, store = planned
    stopped = tmp_path / "stopped"
    shutil.copytree(store, stopped)
    for part in sorted(stopped.glob("part-*.nc"))[2:]:
        part.unlink()
    again = bayesresp.plan(SPEC, DESIGNS, executor=local, store=stopped, chunks=3, **KW)
    pd.testing.assert_frame_equal(again.rows, result.rows)
    pd.testing.assert_frame_equal(again.table, result.table)


def test_a_data_set_without_the_reference_level_does_not_estimate_its_contrasts(local):
    """With four missions, some data sets lack mission_phase's first level (start_up):
    the fit's reference is then another level, and its coefficients other contrasts.
    Those data sets count as not estimating mission_phase[drawdown] (against start_up),
    instead of scoring another contrast against its truth; power counts them as not
    detecting it, and 'estimated' says how many there were."""
    spec = bayesresp.ModelSpec(
        "response ~ mission_phase + (1 | mission)", priors={"b": "normal(0, 2.5)"}
    )
    result = bayesresp.plan(
        spec,
        [{"missions": 4, "rows": 80}],
        targets=["mission_phase[drawdown]"],
        executor=local,
        **{**KW, "effects": {"mission_phase": {"drawdown": -0.6}}, "simulations": 12},
    )
    rows = result.rows
    missing = rows["mission_phase[drawdown]|excludes_zero"].isna()
    row = result.table.iloc[0]
    assert 0 < missing.sum() < 12  # some data sets lack start_up (about 40% at 4 missions)
    assert row["estimated"] == pytest.approx(1 - missing.mean())
    detected = rows["mission_phase[drawdown]|excludes_zero"].fillna(0).sum()
    assert row["power"] == pytest.approx(detected / 12)
    assert row["power_se"] > 0  # never a claimed error of zero


def test_plans_that_cannot_be_made_are_refused():
    with pytest.raises(PlanError, match="design 2: 3 missions and 5 rows"):
        bayesresp.plan(SPEC, [{"missions": 4, "rows": 80}, {"missions": 3, "rows": 5}])
    with pytest.raises(PlanError, match="unknown key.*participants"):
        bayesresp.plan(SPEC, [{"missions": 4, "rows": 80, "participants": 3}])
    with pytest.raises(PlanError, match="unknown covariate.*gender"):
        bayesresp.plan(SPEC, DESIGNS, effects={"gender": 1.0})
    with pytest.raises(PlanError, match="at least one design"):
        bayesresp.plan(SPEC, [])
    with pytest.raises(PlanError, match="does not use interlocutor"):
        bayesresp.plan(SPEC, DESIGNS, effects={"interlocutor": {"security_forces": -1.0}})
    with pytest.raises(PlanError, match="background has levels"):
        bayesresp.plan(SPEC, DESIGNS, effects={"background": 0.5})
    with pytest.raises(PlanError, match="no level astronaut"):
        bayesresp.plan(SPEC, DESIGNS, effects={"background": {"astronaut": 0.5}})
    with pytest.raises(PlanError, match="double coding needs 2 coders"):
        bayesresp.plan(SPEC, [{"missions": 4, "rows": 80, "double_coded": 0.3, "coders": 1}])
    with pytest.raises(PlanError, match="coders without double coding"):
        bayesresp.plan(SPEC, [{"missions": 4, "rows": 80, "coders": 3}])
    with pytest.raises(PlanError, match="two designs are the same"):
        bayesresp.plan(SPEC, [DESIGNS[0], DESIGNS[0]])
    with pytest.raises(PlanError, match="severity is ordinal"):
        bayesresp.plan(
            "response ~ mo(severity) + (1 | mission)", DESIGNS, effects={"severity": {"x": 1}}
        )
    with pytest.raises(PlanError, match="no group term official_id"):
        bayesresp.plan(SPEC, DESIGNS, sd={"official_id": 0.5})
    with pytest.raises(PlanError, match="does not use interlocutor"):
        bayesresp.plan(SPEC, DESIGNS, targets=["interlocutor[security_forces]"])


def test_an_unknown_target_is_named(local):
    with pytest.raises(PlanError, match="target 'background\\[astronaut\\]'"):
        bayesresp.plan(
            SPEC,
            DESIGNS[:1],
            targets=["background[astronaut]"],
            executor=local,
            **{**KW, "simulations": 2},
        )


def test_cli_plan(run_cli, tmp_path):
    out = run_cli(
        "plan", "--spec", "response ~ background + (1 | mission)",
        "--design", "4x80", "--design", "5x100",
        "--effect", "background.human_rights_legal=3", "--simulations", "2",
        "--draws", "40", "--target", "background[human_rights_legal]",
        "--format", "json",
    )  # fmt: skip
    assert out.code == 0, out.err
    table = json.loads(out.out)
    assert len(table) == 2 and {r["rows"] for r in table} == {80, 100}
    formula = "response ~ background + (1 | mission)"
    bad = run_cli("plan", "--spec", formula, "--design", "four by eighty")
    assert bad.code == 2 and "MISSIONSxROWS" in bad.err
    effect = run_cli("plan", "--spec", formula, "--design", "4x80", "--effect", "background=x")
    assert effect.code == 2 and "COVARIATE[.LEVEL]=NUMBER" in effect.err
    twice = run_cli(
        "plan", "--spec", formula, "--design", "4x80",
        "--effect", "background=1", "--effect", "background.other=1",
    )  # fmt: skip
    assert twice.code == 2 and "given twice" in twice.err and "Traceback" not in twice.err
