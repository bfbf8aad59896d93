"""The r2d2 prior (:mod:`bayesresp.model.r2d2`): its syntax, its structure, what it implies
before any data, and that it is the same prior however a factor is coded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

import bayesresp
from bayesresp.errors import PriorError
from bayesresp.inference import fitting
from bayesresp.model.design import make_design
from bayesresp.model.graph import ResolvedPriors, build_model
from bayesresp.model.priors import default_priors, parse_prior
from bayesresp.model.r2d2 import component_names, scalings
from bayesresp.model.spec import ModelSpec


def _design(data, formula, priors=None, link="logit"):
    spec = dataclasses.replace(ModelSpec.coerce(formula), link=link, priors=priors or {})
    frame, cb = fitting.prepare_data(data, spec, None)
    return make_design(frame, spec.parsed, cb, blocks=spec.blocks), spec


def test_syntax_names_defaults_and_errors():
    # the tied form (the default): R2 ~ Beta(alpha * units, tail); mean and precision held 0
    assert str(parse_prior("r2d2()", "b")) == "r2d2(alpha=0.5, tail=1)"
    assert parse_prior("r2d2(tail=3)", "b").params == (0.0, 0.0, 0.5, 3.0)
    assert str(default_priors()["b"]) == "r2d2(alpha=0.5, tail=1)"
    # the fixed form: named by mean or precision, or given in order; alpha 1 by default
    assert str(parse_prior("r2d2(mean=0.5)", "b")) == "r2d2(mean=0.5, precision=2, alpha=1)"
    assert parse_prior("r2d2(mean=0.3, alpha=0.5)", "b").params == (0.3, 2.0, 0.5, 0.0)
    assert parse_prior("r2d2(0.4, 5)", "b").params == (0.4, 5.0, 1.0, 0.0)
    assert parse_prior("r2d2(precision=4)", "b").params == (0.5, 4.0, 1.0, 0.0)
    for text in ("r2d2()", "r2d2(tail=2, alpha=0.3)", "r2d2(mean=0.2, precision=3, alpha=2)"):
        prior = parse_prior(text, "b")
        assert parse_prior(str(prior), "b") == prior  # the text round-trips
    assert parse_prior("normal(sigma=2, mu=1)", "b").params == (1.0, 2.0)
    bad = {
        "r2d2(mean=1)": "strictly between 0 and 1",
        "r2d2(mean=0)": "strictly between 0 and 1",
        "r2d2(precision=0)": "positive",
        "r2d2(men=0.3)": "did you mean 'mean'",
        "r2d2(mean=0.3, mean=0.4)": "given twice",
        "normal(mu=0, 1)": "without a name follows a named one",
        "r2d2(0.5, 2, 1, 3)": "at most 3 parameters in order",
        "r2d2(mean=0.3, tail=1)": "give one form's parameters",
        "r2d2(0.5, 2, 1, 3, 4)": "takes 4 parameter",
        "r2d2(tail=0)": "positive",
        "normal(0)": "takes 2 parameter",
    }
    for text, message in bad.items():
        with pytest.raises(PriorError, match=message):
            parse_prior(text, "b")
    with pytest.raises(PriorError, match="cannot be a prior for sd"):
        parse_prior("r2d2()", "sd", "sd")


def test_default_is_r2d2_where_the_link_has_a_residual_variance():
    for link in ("logit", "probit", "cloglog"):
        assert default_priors(link)["b"].family == "r2d2"
    assert default_priors("cauchit")["b"].family == "normal"


def test_r2d2_refuses_the_cauchit_link_and_per_coefficient_priors(example):
    design, spec = _design(example, "response ~ severity + (1 | mission)", link="cauchit")
    with pytest.raises(PriorError, match="cauchit link's latent residual"):
        ResolvedPriors(design.info, {"b": "r2d2()"}, "cauchit")
    for key in ("severity", "severity[grave]", "sd", "sd(mission)"):
        text = "halfnormal(1)" if key.startswith("sd") else "normal(0, 1)"
        with pytest.raises(PriorError, match="cannot be combined with b = 'r2d2"):
            ResolvedPriors(design.info, {key: text}, "logit")
    # with an explicit normal b, the per-term keys work as before
    ResolvedPriors(design.info, {"b": "normal(0, 1)", "severity": "normal(0, 2)"}, "logit")


def test_components_are_the_decomposition_rows(example):
    design, _ = _design(example, "models/full.toml")
    # the codebook's blocks in order of first appearance, then the group terms
    assert component_names(design.info) == [
        "incident",
        "individual",
        "departmental",
        "positional",
        "mission",
        "group(mission)",
        "group(mission:department)",
        "group(official_id)",
    ]


def _implied_covariance(design):
    """The r2d2 prior's covariance of the fixed part of eta over the rows, per unit of
    sqrt(share * tau2): (X - mean) T T' (X - mean)'."""
    X = design.X - design.X.mean(axis=0)
    T = scalings(design)["r2d2_T"]
    return X @ T @ T.T @ X.T


def test_prior_does_not_depend_on_the_reference_level_or_units():
    """A 4-level factor coded against two different reference levels, and a covariate
    in metres or kilometres (unstandardised): the implied prior of the linear predictor
    over the rows is the same matrix (a g-prior within each term)."""
    rng = np.random.default_rng(5)
    n = 300
    levels = ["a", "b", "c", "d"]
    f = rng.choice(levels, n, p=[0.1, 0.2, 0.3, 0.4])
    dist = rng.gamma(2.0, 500.0, n)
    y = rng.choice(["lo", "mid", "hi"], n)
    out = []
    for order, unit in ((levels, 1.0), (levels[::-1], 1000.0)):
        frame = pd.DataFrame(
            {
                "f": pd.Categorical(f, categories=order),
                "dist": dist / unit,
                "y": pd.Categorical(y, categories=["lo", "mid", "hi"], ordered=True),
            }
        )
        spec = dataclasses.replace(ModelSpec.coerce("y ~ f + dist"), scale_continuous=False)
        fr, cb = fitting.prepare_data(frame, spec, None)
        design = make_design(fr, spec.parsed, cb, blocks=spec.blocks, scale_continuous=False)
        out.append(_implied_covariance(design))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-9 * np.abs(out[0]).max())
    # and its expected variance over the rows is share * tau2 (here per unit: the trace)
    assert np.trace(out[0]) / n == pytest.approx(1.0, rel=1e-9)


def test_expected_variance_of_each_component_is_its_share(example):
    """Under the prior, E[Var_rows(X_k b_k)] = shares_k * tau2 for every block, and a group
    intercept's sd^2 is shares_g * tau2 (checked on 4,000 forward draws of the graph:
    the ratio's Monte Carlo error is below 3%)."""
    design, spec = _design(example, "models/hierarchical.toml")
    model = build_model(design, spec.priors, spec.link)
    names = ["b", "shares", "R2", "sd[mission]"]
    b, shares, R2, sd = pm.draw([model[n] for n in names], draws=4000, random_seed=3)
    tau2 = np.pi**2 / 3 * R2 / (1 - R2)
    info = design.info
    comps = component_names(info)
    for k, block in enumerate(comps[: -len(info.groups)]):
        cols = [j for j, c in enumerate(info.columns) if c.block == block]
        part = b[:, cols] @ design.X[:, cols].T
        ratio = part.var(axis=1) / (shares[:, k] * tau2)
        # the ratio is a weighted sum of chi-square(1) / p_k: mean 1
        assert ratio.mean() == pytest.approx(1.0, abs=0.06), block
    k = comps.index("group(mission)")
    np.testing.assert_allclose(sd[:, 0] ** 2, shares[:, k] * tau2, rtol=1e-10)
    # the default (tied) form: every coefficient and group sd a unit of concentration
    # 1/2; a component's concentration is the sum of its units', and R2 ~ Beta(sum, 1)
    blocks = comps[: len(comps) - len(info.groups)]
    units = [sum(c.block == block for c in info.columns) for block in blocks]
    units += [len(g.columns) for g in info.groups]
    assert stats.kstest(R2, stats.beta(0.5 * sum(units), 1.0).cdf).pvalue > 1e-3
    # E[share_k] = units_k / sum(units); sd of each mean over 4,000 draws below 0.003
    np.testing.assert_allclose(shares.mean(axis=0), np.array(units) / sum(units), atol=0.012)


def test_in_the_tied_form_a_components_prior_is_its_own(example):
    """Why R2's first shape is the Dirichlet's total concentration A (Zhang et al. 2022's
    construction): then tau2 / s2 = R2 / (1 - R2) = G_A / G_tail, and with the shares
    (independent of it) each component's explained variance share_k * tau2 / s2 is
    G_k / G_tail, G_k ~ Gamma(conc_k): BetaPrime(conc_k, tail), whatever the other
    components, so adding a block leaves the prior of the others as it was. Checked on
    20,000 forward draws of the graph; in the fixed form (a flat Dirichlet, R2 ~ Beta(1,
    1)) a component's prior is not BetaPrime(alpha, 1), and depends on how many there are."""
    design, spec = _design(example, "response ~ severity + background + (1 | mission)")
    for prior, conc, holds in (
        ("r2d2()", 0.5 * np.array([3.0, 5.0, 1.0]), True),  # severity 3, background 5
        ("r2d2(tail=2.5, alpha=0.7)", 0.7 * np.array([3.0, 5.0, 1.0]), True),
        ("r2d2(mean=0.5, precision=2, alpha=1)", np.ones(3), False),
    ):
        model = build_model(design, {"b": prior}, spec.link)
        shares, R2 = pm.draw([model["shares"], model["R2"]], draws=20000, random_seed=5)
        v = shares * (R2 / (1 - R2))[:, None]  # (draws, components), in units of s2
        tail = 2.5 if "tail=2.5" in prior else 1.0
        p = [stats.kstest(v[:, k], stats.betaprime(conc[k], tail).cdf).pvalue for k in range(3)]
        assert (min(p) > 1e-3) == holds, (prior, p)


def _covariates(p, n=500, levels=8, seed=0):
    """p covariates (half standard normal, half 0/1 with prevalence 0.3) and an outcome
    of 8 levels, as a data frame and a formula."""
    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(p):
        if j % 2 == 0:
            cols[f"x{j}"] = rng.normal(size=n)
        else:
            flag = np.where(rng.random(n) < 0.3, "yes", "no")
            cols[f"x{j}"] = pd.Categorical(flag, categories=["no", "yes"])
    names = [f"L{k}" for k in range(levels)]
    cols["y"] = pd.Categorical(rng.choice(names, n), categories=names, ordered=True)
    return pd.DataFrame(cols), "y ~ " + " + ".join(f"x{j}" for j in range(p))


END_BAND = (0.20, 0.35)


@pytest.mark.parametrize("p", [2, 10, 40])
def test_prior_predictive_ends_stay_in_band(p):
    """The share of prior predictive responses on the two end levels (of eight) stays in
    20-35% with 2, 10 and 40 covariates under the default r2d2 prior, where independent
    normal(0, 1.5) priors pass 35% from 10 covariates on (56% and 75% at 10 and 40).

    A flat Dirichlet puts 2/8 = 25% on the ends for the average case; the r2d2 prior's
    cutpoint scaling keeps the marginal spread there whatever R2. Monte Carlo error of
    the mean over 2,000 draws: below 0.005."""
    data, formula = _covariates(p)
    ends = {}
    for name, priors in (("r2d2", {}), ("normal", {"b": "normal(0, 1.5)"})):
        spec = ModelSpec(formula, priors=priors)
        check = bayesresp.prior_predictive_check(data, spec, draws=2000, seed=1)
        table = check.to_dataframe()["mean_share"]
        ends[name] = float(table.iloc[0] + table.iloc[-1])
    assert END_BAND[0] <= ends["r2d2"] <= END_BAND[1], ends
    if p >= 10:
        assert ends["normal"] > END_BAND[1], ends


def test_a_fit_from_before_the_r2d2_default_keeps_its_prior(example, tmp_path):
    """A fit file written when independent normal(0, 1) coefficients were the default
    (its spec leaves b to the default, its posterior has no R2) loads with that prior
    pinned, so what rebuilds its model (prior sensitivity, refits) uses the prior its
    draws were made under; an r2d2 fit loads as it was saved."""
    spec = ModelSpec("response ~ severity + (1 | mission)", priors={"b": "normal(0, 1)"})
    kw = dict(draws=100, tune=100, chains=2, seed=1, progress=False)
    old = bayesresp.fit(example, spec, **kw)
    old.spec = dataclasses.replace(old.spec, priors={})  # as the former default wrote it
    loaded = bayesresp.load_fit(old.save(tmp_path / "old.nc"))
    assert loaded.spec.priors == {"b": "normal(0, 1)"}
    assert "severity[grave]" in loaded.prior_sensitivity().table.index
    new = bayesresp.fit(example, "response ~ severity + (1 | mission)", **kw)
    again = bayesresp.load_fit(new.save(tmp_path / "new.nc"))
    assert again.spec.priors == {} and "R2" in again.posterior
    # one made when the r2d2 prior's fixed form was the default: its prior table says so
    fixed = "r2d2(mean=0.5, precision=2, alpha=1)"
    spec = ModelSpec("response ~ severity + (1 | mission)", priors={"b": fixed})
    former = bayesresp.fit(example, spec, **kw)
    assert former.meta["priors"]["R2, shares"].startswith(fixed + ": R2 ~ Beta(1, 1)")
    under_it = former.prior_sensitivity().table.loc["R2", "prior"]
    former.spec = dataclasses.replace(former.spec, priors={})  # as that default wrote it
    loaded = bayesresp.load_fit(former.save(tmp_path / "former.nc"))
    assert loaded.spec.priors == {"b": fixed}
    assert loaded.prior_sensitivity().table.loc["R2", "prior"] == pytest.approx(under_it)
    # then, r2d2() and r2d2(alpha=...) named the fixed form too; they now name the tied one
    for written in ("r2d2()", "r2d2(alpha=1)"):
        former.spec = dataclasses.replace(former.spec, priors={"b": written})
        loaded = bayesresp.load_fit(former.save(tmp_path / "written.nc"))
        assert loaded.spec.priors == {"b": fixed}, written
    # a fit of today's default, written or left out, loads as it was saved
    tied = bayesresp.fit(example, "response ~ severity + (1 | mission)", **kw)
    tied.spec = dataclasses.replace(tied.spec, priors={"b": "r2d2( alpha=0.5 )"})
    assert bayesresp.load_fit(tied.save(tmp_path / "tied.nc")).spec.priors == {
        "b": "r2d2( alpha=0.5 )"
    }


@pytest.mark.parametrize("priors", [{}, {"b": "normal(0, 1)", "sd": "halfnormal(1)"}])
def test_correlated_slopes_get_a_correlation_matrix(example, priors):
    """A correlated varying slope's LKJ prior comes from PyMC's LKJCorr, whose draws are
    the Cholesky factor of the correlation matrix, under r2d2 and under sd priors alike:
    the model's cor[mission] is the matrix (unit diagonal, symmetric, positive definite)
    and its effects' covariance is diag(sd) cor diag(sd)."""
    design, spec = _design(
        example, "response ~ severity + (1 + years_at_station | mission)", priors
    )
    model = build_model(design, spec.priors, spec.link)
    cor, sd, r, z = pm.draw(
        [model[n] for n in ("cor[mission]", "sd[mission]", "r[mission]", "z[mission]")],
        draws=200,
        random_seed=2,
    )
    np.testing.assert_allclose(np.diagonal(cor, axis1=1, axis2=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(cor, np.swapaxes(cor, 1, 2), atol=1e-12)
    assert (np.linalg.eigvalsh(cor) > 0).all()
    chol = np.linalg.cholesky(cor * sd[:, :, None] * sd[:, None, :])
    np.testing.assert_allclose(r, np.einsum("sij,slj->sli", chol, z), atol=1e-10)
