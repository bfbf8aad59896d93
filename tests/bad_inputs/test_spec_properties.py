"""Property-based tests of the specification reader (issue 14): whatever a TOML file holds,
reading it gives a valid ModelSpec or a SpecError (never another exception), and every
valid specification survives writing and reading back unchanged."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bayesresp import SpecError
from bayesresp.maths.links import LINKS
from bayesresp.model.priors import parse_prior
from bayesresp.model.spec import ModelSpec

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

KEYS = ["name", "description", "formula", "link", "scale_continuous", "priors", "blocks"]
COVARIATES = ["severity", "background", "years_at_station", "duty_location", "interlocutor"]
FORMULAS = [
    "response ~ severity",
    "response ~ severity + background + (1 | mission/department)",
    "response ~ duty_location * interlocutor + mo(hierarchy_level)",
]


# -- writing TOML (the test's own writer, independent of ModelSpec.to_toml) -------------
def toml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_text(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{toml_text(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def toml_document(d: dict) -> str:
    return "".join(f"{toml_text(k)} = {toml_value(v)}\n" for k, v in d.items())


# -- strategies --------------------------------------------------------------------------
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(FORMULAS + list(LINKS) + ["normal(0, 1)", "halfnormal(nan)", "incident"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8) | st.sampled_from(["b", "sd", "severity"]), inner),
    ),
    max_leaves=6,
)
keys = st.sampled_from(KEYS) | st.text(max_size=10)


PRIOR_TEXTS = ["normal(0, 1)", "halfnormal(1)", "normal(0, nan)", "lkj(2)", "dirichlet(1)"]
NEAR = {  # values of the right kind, often valid, sometimes not
    "link": st.sampled_from(list(LINKS)) | st.text(max_size=8),
    "scale_continuous": st.booleans(),
    "name": st.text(max_size=12),
    "description": st.text(max_size=12),
    "priors": st.dictionaries(
        st.sampled_from(["b", "sd", "cor", "cutpoints", "sd(mission)", "severity", "x"]),
        st.sampled_from(PRIOR_TEXTS) | st.text(max_size=12),
        max_size=3,
    ),
    "blocks": st.dictionaries(
        st.sampled_from(["severity", "background", "duty_location:interlocutor", "mission"]),
        st.sampled_from(["incident", "positional"]) | st.text(max_size=8),
        max_size=2,
    ),
}


@st.composite
def documents(draw):
    """A TOML document: half the time one of the right shape (a formula, keys of the
    right kinds), then perturbed by up to two random keys and values."""
    d = {}
    if draw(st.booleans()):
        d["formula"] = draw(st.sampled_from(FORMULAS))
        for key, strategy in NEAR.items():
            if draw(st.booleans()):
                d[key] = draw(strategy)
        d.update(draw(st.dictionaries(keys, values, max_size=draw(st.integers(0, 2)))))
    else:
        d = draw(st.dictionaries(keys, values, max_size=6))
    return d


@given(document=documents())
@SETTINGS
def test_any_toml_document_gives_a_spec_or_a_spec_error(tmp_path, document):
    path = tmp_path / "random.toml"
    path.write_text(toml_document(document), encoding="utf-8")
    try:
        spec = ModelSpec.from_file(path)
    except SpecError as exc:
        assert str(exc).startswith("specification") and str(path) in str(exc), str(exc)
        event(f"refused: {type(exc).__name__}")
        return
    event("read")
    assert isinstance(spec, ModelSpec) and isinstance(spec.scale_continuous, bool)
    assert set(document) <= set(KEYS)


@given(raw=st.binary(max_size=200))
@SETTINGS
def test_any_bytes_give_a_spec_or_a_spec_error(tmp_path, raw):
    path = tmp_path / "bytes.toml"
    path.write_bytes(raw)
    try:
        spec = ModelSpec.from_file(path)
    except SpecError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(spec, ModelSpec)


@given(key=st.sampled_from(KEYS), value=values)
@SETTINGS
def test_a_wrong_value_in_a_valid_spec_names_its_key(key, value):
    d = {"formula": FORMULAS[1], "link": "logit", "priors": {"b": "normal(0, 1)"}}
    d[key] = value
    try:
        ModelSpec.from_dict(d, origin="mutated.toml")
    except SpecError as exc:
        assert str(exc).startswith("specification mutated.toml")
        wrong_type = {
            "scale_continuous": not isinstance(value, bool),
            "priors": not isinstance(value, dict),
            "blocks": not isinstance(value, dict),
        }.get(key, not isinstance(value, str))
        if wrong_type:
            assert key in str(exc), str(exc)


# -- round trips of valid specifications -------------------------------------------------
finite_positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@st.composite
def valid_specs(draw):
    terms = draw(st.lists(st.sampled_from(COVARIATES), min_size=1, max_size=4, unique=True))
    if len(terms) >= 2 and draw(st.booleans()):
        terms.append(f"{terms[0]}:{terms[1]}")
    if draw(st.booleans()):
        terms.append("mo(hierarchy_level)")
    groups = draw(st.sampled_from(["", " + (1 | mission)", " + (1 | mission/department)"]))
    formula = "response ~ " + " + ".join(terms) + groups
    sigma, mu = draw(finite_positive), draw(st.floats(-10, 10, allow_nan=False))
    priors = {"b": f"normal({mu!r}, {sigma!r})"}
    if draw(st.booleans()):
        priors[terms[0]] = f"student_t(3, 0, {draw(finite_positive)!r})"
    if groups and draw(st.booleans()):
        priors["sd(mission)"] = f"halfnormal({draw(finite_positive)!r})"
    blocks = {
        t: draw(st.sampled_from(["incident", "individual", "positional", "interactions"]))
        for t in draw(st.lists(st.sampled_from(terms), unique=True, max_size=2))
    }
    return ModelSpec(
        formula=formula,
        link=draw(st.sampled_from(list(LINKS))),
        priors=priors,
        blocks=blocks,
        name=draw(st.text(min_size=1, max_size=20)),
        description=draw(st.text(max_size=40)),
        scale_continuous=draw(st.booleans()),
    )


@given(spec=valid_specs())
@SETTINGS
def test_valid_specs_survive_toml_and_dict_round_trips(tmp_path, spec):
    assert ModelSpec.from_toml(spec.to_toml()) == spec
    path = tmp_path / "spec.toml"
    path.write_text(spec.to_toml(), encoding="utf-8")
    assert ModelSpec.from_file(path) == spec
    assert ModelSpec.from_dict(json.loads(spec.to_json())) == spec


@given(x=st.floats(allow_nan=True, allow_infinity=True))
@SETTINGS
def test_a_prior_scale_is_finite_and_positive_or_refused(x):
    try:
        prior = parse_prior(f"normal(0, {x!r})", "b", "b")
    except SpecError as exc:
        assert not (math.isfinite(x) and x > 0)
        assert "prior for 'b'" in str(exc)
        return
    assert math.isfinite(prior.param("sigma")) and prior.param("sigma") > 0


@pytest.mark.parametrize("depth", [10, 100_000])
def test_deeply_nested_toml_is_refused_in_one_line(tmp_path, depth):
    path = tmp_path / "deep.toml"
    path.write_text("formula = " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(SpecError, match=str(path)):
        ModelSpec.from_file(path)
