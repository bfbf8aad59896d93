"""Category-specific effects in the cumulative family: each level of the cs() covariate
has its own ordered thresholds (bayesresp.maths.thresholds), so the thresholds are
ordered in every posterior draw, for every fitted row and every what-if profile; a
number's thresholds are ordered between its smallest and largest fitted value, and a
question beyond them is refused. (Agreement with clm's nominal model on real data:
tests/inference/test_families_real_data.py; the maths: tests/maths/test_thresholds.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.data.codebook import Codebook
from bayesresp.inference.arrays import thresholds_from_draws
from bayesresp.maths.families import get_family
from bayesresp.model.design import apply_design, make_design

FORMULA = "response ~ cs(severity) + background + (1 | mission)"


@pytest.fixture(scope="module")
def cs_fit(example):
    return bayesresp.fit(
        example.head(400), FORMULA, draws=150, tune=200, chains=2, seed=3, progress=False
    )


def test_thresholds_are_ordered_in_every_draw_and_profile(cs_fit, example):
    """Every fitted row, and a grid of profiles (each severity level with each
    background, in a known mission and in the average one): every draw's thresholds
    are ordered, and the what-if probabilities are those of the rows' own thresholds."""
    fit = cs_fit
    assert fit.spec.family == "cumulative"
    rows = thresholds_from_draws(fit.arrays, fit.design)
    assert rows.shape == (fit.arrays.n_draws, len(fit.design.y), 7)
    assert (np.diff(rows, axis=-1) > 0).all()
    grid = pd.DataFrame(
        [
            {"severity": s, "background": b, "mission": example["mission"].iloc[0]}
            for s in fit.info.codings["severity"].observed
            for b in fit.info.codings["background"].observed
        ]
    )
    design = apply_design(fit.info, grid)
    cut = thresholds_from_draws(fit.arrays, design)
    assert (np.diff(cut, axis=-1) > 0).all()
    for groups in ("known", "average"):
        answer = fit.what_if(grid, groups=groups)
        p = answer.probabilities.values
        assert (p >= 0).all() and np.isfinite(p).all()
        np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-9)
    # by hand: the reference case's cutpoints minus the level's coefficients
    d = fit.arrays
    grave = [c.name for c in fit.info.cs_columns].index("severity[grave]")
    mission = list(fit.posterior["r[mission]"].coords["mission_level"].values).index(
        grid["mission"].iloc[0]
    )
    b = d.b[:, fit.info.column_names.index("background[human_rights_legal]")]
    eta = b + d.r["mission"][:, mission, 0]
    thresholds = d.cutpoints - d.b_cs[:, grave, :]
    want = get_family("cumulative").expected_position(eta, thresholds)
    answer = fit.what_if(
        {"severity": "grave", "background": "human_rights_legal", "mission": grid["mission"][0]}
    )
    got = answer.expected_position.values.reshape(-1)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_the_stored_log_likelihood_reads_each_rows_thresholds(cs_fit):
    """The per-row log-likelihood LOO reads (computed after sampling, outside the
    compiled kernel) is each row's level probability under its own thresholds."""
    from bayesresp.inference.arrays import eta_from_draws

    fit = cs_fit
    stored = fit.tree["log_likelihood"].to_dataset()
    stored = next(iter(stored.data_vars.values())).values.reshape(fit.arrays.n_draws, -1)
    design = fit.design
    eta = eta_from_draws(fit.arrays, design, "known")
    cut = thresholds_from_draws(fit.arrays, design)
    p = get_family("cumulative").probs(eta, cut)  # (S, n, K)
    want = np.log(np.take_along_axis(p, design.y[None, :, None], -1)[..., 0])
    np.testing.assert_allclose(stored, want, rtol=1e-8, atol=1e-10)


def test_names_priors_and_why_the_graph(cs_fit):
    fit = cs_fit
    table = fit.summary()
    assert "cs(severity)[grave][quiet_diplomacy|private_condemnation]" in table.index
    assert sum(i.startswith("cs(severity)[") for i in table.index) == 3 * 7
    assert "severity[grave]" not in table.index
    assert "at each level (or end) of cs(severity)" in fit.meta["priors"]["cs(severity)"]
    assert fit.meta["log_density"] == "pytensor"
    assert "category-specific thresholds kept ordered (cs(severity)" in fit.meta["log_density_why"]
    levels = fit.posterior["cutpoints_cs"].coords["cs_vertex"].values.tolist()
    assert levels == list(fit.info.codings["severity"].observed)
    # each level's own thresholds are the reference's minus its coefficients
    T = fit.posterior["cutpoints_cs"].values.reshape(-1, 4, 7)
    np.testing.assert_allclose(T[:, 0] - T[:, 3], fit.arrays.b_cs[:, 2], atol=1e-9)


def test_cs_in_the_cumulative_family_refuses_what_it_cannot_keep_ordered(example):
    """Two cs() terms (their combinations could cross), a prior on cs() coefficients (each
    level has the cutpoints' prior instead), and a number beyond its fitted range (row,
    value and range named)."""
    with pytest.raises(bayesresp.SpecError, match="keeps the thresholds of one cs"):
        bayesresp.fit(example, "response ~ cs(severity) + cs(years_at_station)")
    with pytest.raises(bayesresp.PriorError, match="has thresholds of its own"):
        bayesresp.fit(
            example.head(100),
            {"formula": "response ~ cs(severity)", "priors": {"cs": "normal(0, 1)"}},
            draws=10,
            tune=10,
        )
    spec = bayesresp.ModelSpec.coerce("response ~ cs(years_at_station) + severity")
    cb = Codebook.default()
    design = make_design(example, spec.parsed, cb, ordered_family=True)
    low, high = example["years_at_station"].min(), example["years_at_station"].max()
    c = design.info.codings["years_at_station"]
    np.testing.assert_allclose(np.array(design.info.cs_bounds[0]) * c.scale + c.center, [low, high])
    inside = example.head(3).assign(years_at_station=[low, high, (low + high) / 2])
    assert apply_design(design.info, inside).X_cs.shape == (3, 1)
    outside = example.head(2).assign(years_at_station=[low, high + 5.0])
    with pytest.raises(bayesresp.ProfileError, match=f"lies outside {low:g} .. {high:g}"):
        apply_design(design.info, outside)
    # unbounded where the family needs no order
    free = make_design(example, spec.parsed, cb)
    assert free.info.cs_bounds == ()
    assert apply_design(free.info, outside).X_cs.shape == (2, 1)


def test_a_numbers_prior_draws_are_ordered_over_its_range_and_the_prior_is_per_level(example):
    """Prior draws of a cs() number (no posterior needed): at 50 values from its smallest
    to its largest, every draw's thresholds are ordered; the log density of the sampled
    thresholds is the cutpoints' prior at each end, independently."""
    import pymc as pm

    from bayesresp.model.graph import build_model, induced_dirichlet

    formula = "response ~ cs(years_at_station) + severity"
    check = bayesresp.prior_predictive_check(example.head(300), formula, draws=200, seed=1)
    prior = check.prior_fit
    low, high = prior.info.cs_bounds[0]
    x = np.linspace(low, high, 50)[:, None]
    cut = prior.arrays.cutpoints[:, None, :] - np.einsum("np,spk->snk", x, prior.arrays.b_cs)
    assert (np.diff(cut, axis=-1) > 0).all()
    # marginal effects step inside the fitted range (rows near the top step down)
    effects = bayesresp.Fit.of(prior).marginal_effects().set_index("variable")
    assert effects.loc["years_at_station", "contrast"].endswith("steps inside the fitted range")
    # the compiled model's key holds the range: its corners are constants of the graph
    from bayesresp.inference.sampling import structure_key

    spec = bayesresp.ModelSpec.coerce(formula)
    keys = {
        structure_key(make_design(rows, spec.parsed, Codebook.default(), ordered_family=True), spec)
        for rows in (example.head(300), example.tail(300))
    }
    assert len(keys) == 2
    spec = bayesresp.ModelSpec.coerce(
        {"formula": formula, "priors": {"b": "normal(0, 1)", "cutpoints": "induced_dirichlet(2)"}}
    )  # (independent priors: the cutpoints' prior is not scaled by R2)
    design = make_design(example.head(300), spec.parsed, Codebook.default(), ordered_family=True)
    model = build_model(design, spec.priors, "logit")
    T = np.array([np.linspace(-2, 1.5, 7), np.linspace(-1, 3, 7)])
    rv = model["cutpoints_cs"]
    got = pm.logp(rv, T).eval()
    logp, _ = induced_dirichlet("logit")
    want = sum(logp(pm.math.constant(t), np.full(7, 2.0), 2.0).eval() for t in T)
    np.testing.assert_allclose(got, want, rtol=1e-10)
