"""Formula parsing, specifications, priors and the design: no sampling."""

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp import Codebook, FormulaError, ModelSpec, PriorError, SpecError
from bayesresp.model.design import apply_design, make_design
from bayesresp.model.formula import GroupTerm, parse_formula
from bayesresp.model.priors import parse_prior


def test_parse_full_formula():
    f = parse_formula(
        "response ~ severity + background + years_at_station + mo(hierarchy_level)"
        " + duty_location:interlocutor + (1 | mission/department) + (1 | official_id)"
    )
    assert f.outcome == "response"
    assert [str(t) for t in f.terms] == [
        "severity",
        "background",
        "years_at_station",
        "mo(hierarchy_level)",
        "duty_location:interlocutor",
    ]
    assert [g.label for g in f.groups] == ["mission", "mission:department", "official_id"]
    assert all(g.intercept and not g.slopes for g in f.groups)


def test_star_expands_and_duplicates_collapse():
    f = parse_formula("y ~ a*b + a")
    assert [str(t) for t in f.terms] == ["a", "b", "a:b"]
    f3 = parse_formula("y ~ a*b*c")
    assert len(f3.terms) == 7 and str(f3.terms[-1]) == "a:b:c"


def test_varying_slopes_and_uncorrelated():
    (g,) = parse_formula("y ~ x + (1 + x | g)").groups
    assert g == GroupTerm(("g",), True, g.slopes, True) and str(g.slopes[0]) == "x"
    (h,) = parse_formula("y ~ (0 + x || g)").groups
    assert not h.intercept and not h.correlated
    nested = parse_formula("y ~ (1 + x | a/b)").groups
    assert [n.label for n in nested] == ["a", "a:b"] and all(n.slopes for n in nested)


def test_intercept_tokens_are_accepted():
    assert parse_formula("y ~ 1 + a").terms == parse_formula("y ~ a - 1").terms


@pytest.mark.parametrize(
    "text, message",
    [
        ("response severity", "has no '~'"),
        ("response ~ severity +", "expected more"),
        ("response ~ severity - background", "not supported"),
        ("response ~ (1 | )", "expected a column name"),
        ("response ~ severity $ x", "cannot read the formula at character 21"),
        ("response ~ (1 + mo(severity) | mission)", "mo() is not supported in group terms"),
        ("", "the formula is empty"),
    ],
)
def test_formula_errors(text, message):
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert message in str(info.value)


def test_shipped_specs_parse_and_use_codebook_columns():
    cb = Codebook.default()
    for name in ("baseline", "hierarchical", "full"):
        spec = ModelSpec.coerce(name)
        assert spec.name == name
        for v in spec.parsed.variables:
            assert v in cb.fields, (name, v)
    assert not ModelSpec.coerce("baseline").parsed.groups
    full = ModelSpec.coerce("full").parsed
    assert any(t.vars[0].mo for t in full.terms)
    assert any(g.slopes for g in full.groups)
    assert "official_id" in [g.label for g in full.groups]


def test_spec_files(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('formula = "response ~ severity"\nlink = "probit"\n[priors]\nb = "normal(0, 1)"\n')
    spec = ModelSpec.coerce(p)
    assert spec.link == "probit" and spec.priors == {"b": "normal(0, 1)"} and spec.name == "m"
    p.write_text('formula = "response ~ severity"\nlnk = "probit"\n')
    with pytest.raises(SpecError, match="unknown key.*lnk"):
        ModelSpec.coerce(p)
    p.write_text("formula = ")
    with pytest.raises(SpecError, match="not valid TOML"):
        ModelSpec.coerce(p)
    with pytest.raises(SpecError, match="not found"):
        ModelSpec.coerce(tmp_path / "none.toml")
    with pytest.raises(SpecError, match="link 'loglog'"):
        ModelSpec("response ~ severity", link="loglog")


@pytest.mark.parametrize(
    "text, role, message",
    [
        ("normal(0)", "b", "takes 2 parameter"),
        ("gamma(2, 2)", "b", "unknown family 'gamma'"),
        ("halfnormal(1)", "b", "cannot be a prior for b"),
        ("normal(0, -1)", "b", "must be positive"),
        ("normal 0 1", "b", "cannot read"),
    ],
)
def test_prior_errors(text, role, message):
    with pytest.raises(PriorError, match=message):
        parse_prior(text, role)


def test_prior_parse():
    p = parse_prior("student_t(3, 0, 2.5)", "b")
    assert p.param("nu") == 3 and p.param("sigma") == 2.5 and str(p) == "student_t(3, 0, 2.5)"


# -- design -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return bayesresp.simulate(missions=4, rows=400, seed=2).data


def _design(data, text, **kw):
    return make_design(data, parse_formula(text), Codebook.default(), **kw)


def test_treatment_coding_against_first_codebook_level(small):
    d = _design(small, "response ~ background + severity")
    names = d.info.column_names
    assert names[0].startswith("background[") and "background[development_agency]" not in names
    assert "severity[moderate]" in names and "severity[minor]" not in names
    j = names.index("severity[grave]")
    np.testing.assert_array_equal(d.X[:, j], (small["severity"] == "grave").to_numpy(float))
    assert d.info.codings["severity"].reference == "minor"
    np.testing.assert_array_equal(d.y, small["response"].cat.codes.to_numpy())


def test_reference_is_first_level_present(small):
    sub = small.loc[small["severity"] != "minor"]
    d = _design(sub, "response ~ severity")
    assert d.info.codings["severity"].reference == "moderate"
    assert d.info.column_names == ["severity[serious]", "severity[grave]"]


def test_continuous_is_centred_and_scaled(small):
    d = _design(small, "response ~ years_at_station")
    x = small["years_at_station"].to_numpy()
    np.testing.assert_allclose(d.X[:, 0], (x - x.mean()) / x.std())
    raw = _design(small, "response ~ years_at_station", scale_continuous=False)
    np.testing.assert_allclose(raw.X[:, 0], x)


def test_interaction_columns_are_products(small):
    d = _design(small, "response ~ duty_location:interlocutor")
    name = "duty_location[field_office]:interlocutor[security_forces]"
    assert name in d.info.column_names
    expect = (
        (small["duty_location"] == "field_office") & (small["interlocutor"] == "security_forces")
    ).to_numpy(float)
    np.testing.assert_array_equal(d.X[:, d.info.column_names.index(name)], expect)
    assert np.all(d.X.any(axis=0))  # no all-zero interaction columns kept
    assert {c.block for c in d.info.columns} == {"interactions"}


def test_the_product_of_two_numbers_is_a_column():
    """x1:x2 of two numbers is their product (of the standardised values), with and
    without the main effects: a product without factors has no reference cell to drop."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"grade": rng.choice([1, 2, 3], 60), "x1": rng.normal(size=60), "x2": rng.normal(size=60)}
    )
    cb = Codebook.infer(frame, "grade", ["grade", "x1", "x2"])
    typed = bayesresp.validate(cb.prepare(frame), cb)
    for formula in ("grade ~ x1 * x2", "grade ~ x1:x2"):
        d = make_design(typed, parse_formula(formula), cb)
        assert "x1:x2" in d.info.column_names, formula
        z1, z2 = ((frame[v] - frame[v].mean()) / frame[v].std(ddof=0) for v in ("x1", "x2"))
        got = d.X[:, d.info.column_names.index("x1:x2")]
        np.testing.assert_allclose(got, (z1 * z2).to_numpy())


def test_monotonic_codes(small):
    d = _design(small, "response ~ mo(hierarchy_level)")
    assert d.X.shape[1] == 0 and d.info.monotonic[0].name == "mo(hierarchy_level)"
    np.testing.assert_array_equal(d.mono[:, 0], small["hierarchy_level"].cat.codes.to_numpy())
    with pytest.raises(FormulaError, match="mo\\(background\\) needs an ordinal"):
        _design(small, "response ~ mo(background)")
    with pytest.raises(FormulaError, match="cannot be part of an interaction"):
        _design(small, "response ~ mo(severity):background")


def test_group_terms(small):
    d = _design(small, "response ~ severity + (1 + duty_location | mission/department)")
    g_m, g_d = d.info.groups
    assert g_m.label == "mission" and g_d.label == "mission:department"
    assert g_m.column_names[0] == "Intercept" and "duty_location[field_office]" in g_m.column_names
    labels = (small["mission"] + ":" + small["department"]).to_numpy()
    np.testing.assert_array_equal(
        np.asarray(g_d.levels)[d.group_index["mission:department"]], labels
    )
    np.testing.assert_array_equal(d.group_Z["mission"][:, 0], 1.0)


def test_department_alone_is_refused(small):
    with pytest.raises(FormulaError, match="nested in 'mission'"):
        _design(small, "response ~ severity + (1 | department)")


def test_unknown_columns_and_outcome_misuse(small):
    with pytest.raises(FormulaError, match="codebook does not define"):
        _design(small, "response ~ rank")
    with pytest.raises(FormulaError, match="is the outcome"):
        _design(small, "response ~ response")


def test_apply_design_reuses_the_recipe(small):
    d = _design(small, "response ~ severity + years_at_station + (1 | mission)")
    new = small.head(3).copy()
    new["mission"] = ["NOWHERE", new["mission"].iloc[1], new["mission"].iloc[2]]
    again = apply_design(d.info, new)
    np.testing.assert_allclose(again.X, d.X[:3])  # the fitting mean and sd, not new ones
    assert again.group_index["mission"][0] == -1 and again.group_index["mission"][1] >= 0


def test_design_info_round_trips_through_json(small):
    import json

    from bayesresp.model.design import DesignInfo

    d = _design(
        small,
        "response ~ severity*duty_location + mo(career_security)"
        " + years_at_station + (1 + duty_location || mission)",
    )
    info = DesignInfo.from_dict(json.loads(json.dumps(d.info.to_dict())))
    assert info == d.info


def test_codebook_inference_for_foreign_data():
    frame = pd.DataFrame(
        {"rating": [1, 3, 5, 2, 4, 5], "treat": [True, False] * 3, "rater": ["a", "b", "c"] * 2}
    )
    cb = Codebook.infer(frame, "rating", ["rating", "treat", "rater"], groups=["rater"])
    assert cb.spectrum == ("1", "2", "3", "4", "5")
    assert cb.field("treat").categories == ("False", "True")
    assert cb.field("rater").role == "group"
    typed = bayesresp.validate(cb.prepare(frame), cb)
    assert list(typed["rating"].astype(str)) == ["1", "3", "5", "2", "4", "5"]


def test_interaction_marginality_follows_r(small):
    """a:b alone codes every cell but the reference cell; a + a:b nests b's contrasts in
    every level of a; a*b is contrasts times contrasts (as R's model matrices do)."""
    cells = [c.name for c in _design(small, "response ~ duty_location:interlocutor").info.columns]
    assert "duty_location[mission_hq_capital]:interlocutor[local_communities]" in cells
    assert "duty_location[mission_hq_capital]:interlocutor[victims_and_civil_society]" not in cells
    nested = _design(small, "response ~ duty_location + duty_location:interlocutor").info
    inter = [c for c in nested.columns if ":" in c.name]
    assert all("interlocutor[victims_and_civil_society]" not in c.name for c in inter)
    assert any(c.name.startswith("duty_location[mission_hq_capital]:") for c in inter)
    star = _design(small, "response ~ duty_location*interlocutor").info
    assert all(
        "mission_hq_capital" not in c.name and "victims" not in c.name
        for c in star.columns
        if ":" in c.name
    )


def test_unobserved_interaction_cells_are_recorded(small):
    from bayesresp.model.design import unobserved_levels

    d = _design(small, "response ~ duty_location*interlocutor")
    assert d.info.empty_cells  # some combinations never occur in 400 rows
    cell = d.info.empty_cells[0]
    row = small.head(1).copy()
    for name, level in cell.parts:
        row[name] = pd.Categorical([level], dtype=small[name].dtype)
    assert unobserved_levels(d.info, row) == [(0, cell.term, cell.name)]
