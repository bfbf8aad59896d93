"""Labels the codebook accepts survive every verb, the fit file and the report.

Real data have levels such as ``1-4/month`` or ``1/5``; a DataTree's variable names cannot
hold ``/``, and matplotlib reads ``$...$`` as mathtext. Outcome, covariate and group
levels here hold ``/``, spaces, unicode, ``$``, ``|``, ``[``, ``]`` and ``:``.
"""

from __future__ import annotations

import html
import io
import itertools

import numpy as np
import pandas as pd
import pytest

import bayesresp

OUTCOME = ["0/5", "1/5 low", "mid|dle $x$", "top [ü]: 5/5"]
FREQ = ["<1/month", "1-4/month", "a|b [x]: $5", "café ✓", "$5-$10 \\frac"]
SITE = ["A/B", "c|d", "Zürich $1", "[x]: y", "$\\frac{1}{$"]
FORMULA = "outcome ~ freq + age + (1 | site)"


@pytest.fixture(scope="module")
def odd_data():
    rng = np.random.default_rng(11)
    n = 200
    freq = rng.choice(FREQ, n)
    site = rng.choice(SITE, n)
    age = rng.normal(40, 10, n)
    eta = np.array([FREQ.index(f) for f in freq]) * 0.5 + 0.03 * (age - 40)
    y = np.clip(np.round(eta + 0.7 * rng.logistic(size=n)), 0, 3).astype(int)
    return pd.DataFrame(
        {
            "outcome": pd.Categorical([OUTCOME[k] for k in y], categories=OUTCOME, ordered=True),
            "freq": pd.Categorical(freq, categories=FREQ),
            "age": age,
            "site": site,
        }
    )


@pytest.fixture(scope="module")
def odd_fit(odd_data):
    return bayesresp.fit(odd_data, FORMULA, draws=100, tune=100, chains=2, seed=3, progress=False)


COEFS = [f"freq[{lv}]" for lv in FREQ[1:]] + ["age"]
CUTPOINTS = [f"cutpoint[{a}|{b}]" for a, b in itertools.pairwise(OUTCOME)]
SHARES = ["covariates", "group(site)"]  # the default r2d2 prior's components


def test_posterior_coordinates_keep_the_labels(odd_fit):
    post = odd_fit.posterior
    assert list(post["coef"].values) == COEFS
    assert list(post["cutpoint"].values) == [c[9:-1] for c in CUTPOINTS]
    assert sorted(post["site_level"].values) == sorted(SITE)


def test_tables_keep_the_labels(odd_fit):
    table = odd_fit.summary()
    plain = table.loc[table["block"] != "r2d2"]  # the default prior's R2 and shares
    assert list(plain.index) == [*COEFS, *CUTPOINTS, "sd(site)"]
    assert list(table.index[len(plain) :]) == ["R2", *(f"share({c})" for c in SHARES)]
    assert table[["mean", "sd", "r_hat", "ess_bulk"]].notna().all().all()
    assert list(odd_fit.odds_ratios().index) == COEFS
    groups = odd_fit.group_effects()
    assert sorted(groups.index.get_level_values("level")) == sorted(SITE)
    assert "group(site)" in odd_fit.variance_decomposition().index


def test_diagnostics_run(odd_fit):
    report = odd_fit.diagnose()
    assert set(COEFS + CUTPOINTS) <= set(report.parameters.index)
    assert report.parameters.loc[COEFS, "mcse_ratio"].gt(0).all()
    assert "divergent transitions" in odd_fit.convergence_line()


def test_sensitivity_keeps_the_labels(odd_fit):
    table = odd_fit.prior_sensitivity().table
    assert set(COEFS + CUTPOINTS) <= set(table.index)


@pytest.mark.parametrize("by", [None, "site", "freq"])
def test_ppc(odd_fit, by):
    result = odd_fit.ppc(by=by, draws=50, seed=1, progress=False)
    assert result.levels == OUTCOME
    if by is not None:
        expected = SITE if by == "site" else FREQ
        assert set(result.table.index.get_level_values(0)) == set(expected)


def test_what_if_and_contrast(odd_fit):
    profiles = [
        {"profile": "p/1 [$]", "freq": "1-4/month", "age": 30, "site": "A/B"},
        {"profile": "p|2: ü", "freq": "$5-$10 \\frac", "age": 50, "site": "$\\frac{1}{$"},
    ]
    result = odd_fit.what_if(profiles)
    frame = result.to_dataframe()
    assert list(frame.index.get_level_values("level").unique()) == OUTCOME
    assert list(result.summary().index) == ["p/1 [$]", "p|2: ü"]
    assert set(result.summary()["most_probable"]) <= set(OUTCOME)
    result.plot()
    c = odd_fit.contrast(profiles[0], {"freq": "a|b [x]: $5"})
    assert np.isfinite(c.to_dataframe().to_numpy(dtype=float)).all()


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_fit_file_round_trip(odd_fit, tmp_path, suffix):
    back = bayesresp.load_fit(odd_fit.save(tmp_path / f"odd{suffix}"))
    pd.testing.assert_frame_equal(back.summary(), odd_fit.summary())
    assert list(back.posterior["cutpoint"].values) == list(odd_fit.posterior["cutpoint"].values)
    assert back.info.spectrum == odd_fit.info.spectrum
    pd.testing.assert_frame_equal(back.group_effects(), odd_fit.group_effects())


def test_cli_summary_of_a_saved_fit(odd_fit, tmp_path, run_cli):
    path = odd_fit.save(tmp_path / "odd.nc")
    res = run_cli("summary", path, "--table", "parameters", "--format", "csv")
    assert res.code == 0, res.err
    table = pd.read_csv(io.StringIO(res.out), index_col=0)
    plain = table.loc[table["block"] != "r2d2"]
    assert list(plain.index) == [*COEFS, *CUTPOINTS, "sd(site)"]
    assert run_cli("summary", path).code == 0


def test_report(odd_fit, tmp_path):
    profiles = [{"profile": "p/1 [$]", "freq": "café ✓", "age": 40, "site": "[x]: y"}]
    page = odd_fit.report(tmp_path / "odd.html", profiles=profiles).read_text(encoding="utf-8")
    for name in [*COEFS, *CUTPOINTS, *OUTCOME, "p/1 [$]"]:
        assert html.escape(name) in page or html.escape(name, quote=False) in page, name
