"""Separation (issue 14, item 12): levels the outcome splits off are found, and only those.

The rule (``_split``) is tied to its meaning by an independent computation: the profile
likelihood of a cumulative logit model with one 0/1 column, maximised over the cutpoints,
still rises at a large coefficient exactly when the rule says the column separates.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import optimize, special

import bayesresp
from bayesresp.checks.separation import _split, find_separation
from bayesresp.inference.fitting import prepare_data
from bayesresp.model.design import make_design

TOP, BOTTOM = "enforcement", "conceal"


def _profile_loglik(
    x: np.ndarray, y: np.ndarray, beta: float, k: int, high: np.ndarray | None = None
) -> float:
    """max over the cutpoints of the cumulative-logit log likelihood at coefficient beta
    (written here from the definition, independently of bayesresp's maths). With
    ``high``, rows are ranges of levels ``y .. high``: F(c_high - eta) - F(c_{y-1} - eta)."""
    eta = beta * x
    high = y if high is None else high

    def nll(theta):
        c = np.cumsum(np.concatenate([theta[:1], np.exp(theta[1:])]))
        upper = np.append(c, np.inf)[high] - eta
        lower = np.insert(c, 0, -np.inf)[y] - eta
        # log(F(upper) - F(lower)) with F the logistic cdf, stably
        lu, ll = special.log_expit(upper), special.log_expit(lower)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.sum(lu + np.log(-np.expm1(ll - lu)))
        return -total if np.isfinite(total) else 1e10  # an empty interval: out of bounds

    best = np.inf
    for start in (0.0, beta / 2, beta):
        theta0 = np.concatenate([[start - 1.0], np.zeros(k - 2)])
        res = optimize.minimize(nll, theta0, method="BFGS", options={"gtol": 1e-10})
        best = min(best, res.fun)
    return -best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=6),
    st.lists(st.integers(0, 3), min_size=1, max_size=6),
)
@example([3, 3], [0, 1, 2, 3])  # quasi-complete, high
@example([3, 2], [0, 1, 2])  # quasi-complete, high, below the top
@example([3, 3], [0, 1, 2])  # complete, high
@example([0], [0, 1, 2, 3, 3])  # quasi-complete, low
@example([0, 1], [2, 3, 2])  # complete, low
@example([2, 3], [0, 1, 2, 3])  # overlapping in two levels: a finite maximum
@example([0, 3], [0, 1, 2, 3])  # spread over the others: a finite maximum
def test_the_rule_is_where_the_likelihood_has_no_maximum(inside, outside):
    """Flagged exactly when the profile likelihood at beta = +-40 beats beta = +-6 (the
    maximum is at infinity); otherwise it falls there (a finite maximum)."""
    y = np.array(inside + outside)
    if len(set(y)) < 4:  # every level present, so every cutpoint is finite
        return
    x = np.array([1.0] * len(inside) + [0.0] * len(outside))
    split = _split(x == 1, y)
    rising = {
        sign: _profile_loglik(x, y, sign * 40.0, 4) > _profile_loglik(x, y, sign * 6.0, 4)
        for sign in (1, -1)
    }
    assert (split is not None) == (rising[1] or rising[-1]), (inside, outside, split, rising)
    if split is not None:
        assert rising[1 if split[0] == "high" else -1]


# a range of levels: mostly one level (every level must occur exactly somewhere for
# every cutpoint to be finite), else two or three
_RANGE = st.tuples(st.integers(0, 3), st.sampled_from([0, 0, 0, 0, 1, 2])).map(
    lambda t: (t[0], min(t[0] + t[1], 3))
)


@settings(max_examples=120, deadline=None)
@given(st.lists(_RANGE, min_size=1, max_size=7), st.lists(_RANGE, min_size=1, max_size=7))
@example([(2, 3), (3, 3)], [(0, 0), (1, 1), (2, 2)])  # quasi-complete, high: (2, 3) reaches 3
@example([(1, 3), (3, 3)], [(0, 0), (1, 1), (2, 2)])  # quasi-complete, high, through a range
@example([(0, 1), (0, 0)], [(1, 1), (2, 2), (3, 3)])  # quasi-complete, low
@example([(3, 3), (1, 2)], [(0, 0), (1, 1), (2, 2)])  # no: (1, 2) must sit below 3
@example([(0, 3), (3, 3)], [(0, 0), (1, 1), (2, 2)])  # the whole spectrum: high
def test_the_rule_with_ranges_is_where_the_likelihood_has_no_maximum(inside, outside):
    """Ambiguous codes (ranges of levels, each row's probability F(c_high - eta) -
    F(c_{low-1} - eta)): flagged exactly when the profile likelihood at beta = +-40
    beats beta = +-6, as for rows at one level."""
    pairs = np.array(inside + outside)
    if len({lo for lo, hi in pairs.tolist() if lo == hi}) < 4:
        return  # every level at one row at least, so every cutpoint is finite
    x = np.array([1.0] * len(inside) + [0.0] * len(outside))
    low, high = pairs[:, 0], pairs[:, 1]
    split = _split(x == 1, low, high)
    rising = {
        sign: _profile_loglik(x, low, sign * 40.0, 4, high)
        > _profile_loglik(x, low, sign * 6.0, 4, high)
        for sign in (1, -1)
    }
    assert (split is not None) == (rising[1] or rising[-1]), (inside, outside, split, rising)
    if split is not None:
        assert rising[1 if split[0] == "high" else -1]


def test_complete_quasi_and_none():
    y = np.array([3, 3, 0, 1, 2])
    assert _split(np.array([1, 1, 0, 0, 0], bool), y) == ("high", 2, True)
    y = np.array([3, 2, 0, 1, 2])
    assert _split(np.array([1, 1, 0, 0, 0], bool), y) == ("high", 2, False)
    assert _split(np.array([0, 0, 1, 0, 0], bool), y) == ("low", 1, True)
    assert _split(np.array([1, 0, 1, 0, 0], bool), y) is None
    assert _split(np.ones(5, bool), y) is None  # one level only: dropped_terms says so


@pytest.fixture(scope="module")
def example_head():
    return bayesresp.load_example().head(600)


@pytest.fixture
def base(example_head):
    """600 rows of the example, a fresh copy for each test to change."""
    return example_head.copy()


def _found(data, formula):
    spec = bayesresp.ModelSpec(formula)
    frame, cb = prepare_data(data, spec, None)
    return find_separation(frame, make_design(frame, spec.parsed, cb).info)


@pytest.mark.parametrize("name", ["baseline", "hierarchical", "full"])
def test_the_example_has_none(name):
    """No false alarm on the example under the shipped specifications."""
    from bayesresp.model.spec import shipped_spec_path

    spec = bayesresp.ModelSpec.from_file(shipped_spec_path(name))
    frame, cb = prepare_data(bayesresp.load_example(), spec, None)
    assert find_separation(frame, make_design(frame, spec.parsed, cb).info) == []


def test_a_level_at_the_top(base):
    base.loc[base["background"] == "military_security", "response"] = TOP
    (s,) = _found(base, "response ~ background + severity")
    assert (s.variable, s.level, s.direction, s.complete) == (
        "background",
        "military_security",
        "high",
        False,
    )
    assert s.coefficient == "background[military_security]"
    assert s.rows == int((base["background"] == "military_security").sum())
    assert "the top of the spectrum" in str(s)


def test_complete_separation_below(base):
    """A level whose rows are all below every other row's response."""
    rows = base["severity"] == "grave"
    base.loc[rows, "response"] = BOTTOM
    base.loc[~rows & (base["response"] == BOTTOM), "response"] = "silence"
    (s,) = _found(base, "response ~ background + severity")
    assert (s.variable, s.level, s.direction, s.complete, s.bound) == (
        "severity",
        "grave",
        "low",
        True,
        "silence",
    )
    assert "complete separation" in str(s) and "below 'silence'" in str(s)


def test_the_reference_level_is_reported_without_a_coefficient(base):
    base.loc[base["background"] == "development_agency", "response"] = BOTTOM
    (s,) = _found(base, "response ~ background")
    assert s.level == "development_agency" and s.coefficient is None
    assert "(the reference level)" in str(s)


def test_a_two_level_factor_is_reported_once(base):
    base.loc[base["nationality_group"] == "global_south", "response"] = TOP
    found = _found(base, "response ~ nationality_group")
    assert [(s.level, s.coefficient) for s in found] == [
        ("global_south", "nationality_group[global_south]")
    ]


def test_a_monotonic_threshold(base):
    base.loc[base["severity"] == "grave", "response"] = TOP
    (s,) = _found(base, "response ~ mo(severity)")
    assert (s.variable, s.level, s.coefficient) == ("severity", "grave or higher", "mo(severity)")
    # the same rows as a factor: the level itself
    (f,) = _found(base, "response ~ severity")
    assert (f.level, f.coefficient) == ("grave", "severity[grave]")


def test_an_interior_monotonic_level_is_no_separation(base):
    """mo() cannot raise one interior level alone: 'serious' all at the top, 'grave'
    spread over the spectrum, is separation for a factor but not for mo()."""
    base.loc[base["severity"] == "serious", "response"] = TOP
    assert _found(base, "response ~ mo(severity)") == []
    assert [s.level for s in _found(base, "response ~ severity")] == ["serious"]


def test_the_rows_from_a_level_up_are_a_monotonic_threshold(base):
    high = base["severity"].isin(["serious", "grave"])
    base.loc[high, "response"] = TOP
    found = _found(base, "response ~ mo(severity)")
    # 'grave or higher' also sits all at the top, which 'serious' rows reach: quasi-complete
    assert [(s.level, s.complete) for s in found] == [
        ("serious or higher", False),
        ("grave or higher", False),
    ]


def test_an_interaction_cell(base):
    """A cell split off while neither of its levels is."""
    cell = (base["duty_location"] == "field_office") & (base["interlocutor"] == "security_forces")
    assert cell.sum() >= 3
    base.loc[cell, "response"] = TOP
    found = _found(base, "response ~ duty_location * interlocutor")
    assert [(s.variable, s.level) for s in found] == [
        ("duty_location:interlocutor", "field_office:security_forces")
    ]


@pytest.fixture(scope="module")
def separated_fit(example_head):
    data = example_head.copy()
    data.loc[data["background"] == "military_security", "response"] = TOP
    # independent priors, whose scale the detail reports in prior sds
    spec = bayesresp.ModelSpec("response ~ background + severity", priors={"b": "normal(0, 1)"})
    return bayesresp.fit(data, spec, draws=200, tune=200, chains=2, seed=3, progress=False)


def test_diagnose_says_so_with_the_posterior_against_the_prior(separated_fit):
    report = separated_fit.diagnose()
    crit = report.to_dataframe().loc["separated levels"]
    assert crit["verdict"] == "warn" and crit["value"] == 1
    assert "background = 'military_security'" in crit["detail"]
    assert "posterior of background[military_security]" in crit["detail"]
    assert "prior sd from its centre (normal(0, 1))" in crit["detail"]
    # the coefficient is held by the prior alone: far out in the prior's tail
    mean = float(separated_fit.summary().loc["background[military_security]", "mean"])
    assert mean > 3
    assert report.to_dict()["separation"][0]["level"] == "military_security"
    assert "separated levels" in str(report)


def test_the_convergence_verdict_is_about_the_sampler(separated_fit):
    c = separated_fit.convergence()
    sampler = [x for x in separated_fit.diagnose().checks if x.name != "separated levels"]
    worst = max(("ok", "warn", "fail").index(x.verdict) for x in sampler)
    assert c["verdict"] == ("ok", "warn", "fail")[worst]
    assert c["separated"] == ["background = 'military_security'"]
    line = separated_fit.convergence_line()
    assert "separation" in line and "background = 'military_security'" in line


def test_a_fit_without_separation_says_nothing(hierarchical):
    crit = hierarchical.diagnose().to_dataframe().loc["separated levels"]
    assert crit["verdict"] == "ok" and crit["value"] == 0
    assert "separation" not in hierarchical.convergence_line()


def test_under_the_default_prior_the_advice_names_r2d2(example_head):
    """Under the default r2d2 prior a separated coefficient's scale grows with R2 (the
    separated level pushes it up), and per-coefficient priors are refused with it: the
    advice says to set the coefficients' scale first."""
    data = example_head.copy()
    data.loc[data["background"] == "military_security", "response"] = TOP
    fit = bayesresp.fit(
        data,
        "response ~ background + severity",
        draws=200,
        tune=200,
        chains=2,
        seed=3,
        progress=False,
    )
    crit = fit.diagnose().to_dataframe().loc["separated levels"]
    assert crit["verdict"] == "warn"
    assert "r2d2 prior" in crit["advice"] and 'b = "normal(0, 1.5)"' in crit["advice"]
