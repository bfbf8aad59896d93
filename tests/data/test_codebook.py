import json
import re
from pathlib import Path

import pandas as pd
import pytest

import bayesresp
from bayesresp import Codebook, CodebookError
from bayesresp.data.codebook import default_codebook_path

ROOT = Path(__file__).resolve().parents[2]

# The default codebook of shared/domain.md, names and level labels exactly.
DOMAIN_LEVELS = {
    "response": [
        "conceal",
        "silence",
        "mild_concern",
        "quiet_diplomacy",
        "private_condemnation",
        "public_condemnation",
        "withhold_support",
        "enforcement",
    ],
    "violation_type": [
        "human_rights_abuse",
        "electoral_manipulation",
        "civic_space_restriction",
        "sexual_and_gender_based",
        "obstruction_of_mission",
        "other",
    ],
    "severity": ["minor", "moderate", "serious", "grave"],
    "background": [
        "development_agency",
        "humanitarian",
        "human_rights_legal",
        "military_security",
        "diplomatic_political",
        "other",
    ],
    "nationality_group": ["global_north", "global_south"],
    "career_security": ["none", "uncertain", "assured"],
    "politicization": ["low", "medium", "high"],
    "professional_composition": [
        "rights_and_legal_specialists",
        "mixed_generalists",
        "administrators_and_technicians",
    ],
    "interlocutor": [
        "victims_and_civil_society",
        "local_communities",
        "technical_ministries",
        "security_forces",
        "senior_political_elites",
    ],
    "hierarchy_level": ["working_level", "section_chief", "senior_leadership", "head_of_mission"],
    "external_link": ["none", "integrated_reporting_line", "independent_structure"],
    "duty_location": ["mission_hq_capital", "field_office", "un_headquarters"],
    "host_consent_leverage": ["low", "medium", "high"],
    "mission_phase": ["start_up", "established", "drawdown"],
}
ORDINAL = {
    "response",
    "severity",
    "career_security",
    "politicization",
    "hierarchy_level",
    "host_consent_leverage",
}
BLOCKS = {
    "incident": ["violation_type", "severity"],
    "individual": ["background", "nationality_group", "career_security", "years_at_station"],
    "departmental": ["politicization", "professional_composition", "interlocutor"],
    "positional": ["hierarchy_level", "external_link", "duty_location"],
    "mission": ["host_consent_leverage", "mission_phase"],
}


def test_default_codebook_matches_domain():
    cb = Codebook.default()
    for name, levels in DOMAIN_LEVELS.items():
        f = cb.field(name)
        assert list(f.categories) == levels, name
        assert f.ordered == (name in ORDINAL), name
    assert cb.blocks() == BLOCKS
    assert cb.outcome.name == "response"
    assert cb.outcome.codes == tuple(range(8))
    for name in ("incident_id", "mission", "department", "official_id", "coder_id", "year"):
        assert name in cb.fields
    assert [f.name for f in cb.required] == ["response", "incident_id", "mission", "department"]
    assert cb.field("department").nested_in == "mission"
    assert cb.field("mission_phase").constant_within == ("mission",)
    assert cb.field("years_at_station").kind == "continuous"


def test_codebook_is_a_table_schema():
    spec = json.loads(default_codebook_path().read_text())
    assert spec["$schema"].endswith("tableschema.json")
    for f in spec["fields"]:
        assert set(f) >= {"name", "type", "description", "constraints"}
        assert f["type"] in {"string", "number", "integer"}
        if f.get("role") == "covariate":
            assert f["block"] in BLOCKS


def test_codebook_markdown_is_generated_from_json():
    """data_schema/CODEBOOK.md must be exactly what `make codebook` writes."""
    written = (ROOT / "data_schema" / "CODEBOOK.md").read_text(encoding="utf-8")
    assert written == Codebook.default().to_markdown(), (
        "CODEBOOK.md is out of date: run `make codebook`"
    )


def test_markdown_names_every_column_and_level():
    md = Codebook.default().to_markdown()
    for name, levels in DOMAIN_LEVELS.items():
        assert f"`{name}`" in md
        for lv in levels:
            assert f"`{lv}`" in md


def test_digest_is_stable_and_sensitive():
    a, b = Codebook.default(), Codebook.default()
    assert a == b and a.digest() == b.digest()
    spec = a.to_dict()
    spec["fields"][1]["categories"] = spec["fields"][1]["categories"][::-1]
    assert Codebook(spec).digest() != a.digest()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s["fields"].pop(1), "exactly one field must have role 'outcome'"),
        (lambda s: s["fields"][1].update(categoriesOrdered=False), "needs ordered"),
        (lambda s: s["fields"][1]["categories"].append("conceal"), "repeats a label"),
        (lambda s: s["fields"][1].update(codes=[0, 1]), "'codes' must list 8"),
        (lambda s: s["fields"][1].update(type="date"), "type 'date'"),
        (lambda s: s["fields"][4].update(nestedIn="region"), "column 'region'"),
        (lambda s: s["fields"].append(dict(s["fields"][2])), "used twice"),
        (lambda s: s["fields"][9].update(role="cause"), "role 'cause'"),
    ],
)
def test_bad_codebooks_are_refused_clearly(mutate, message):
    spec = Codebook.default().to_dict()
    mutate(spec)
    with pytest.raises(CodebookError, match=re.escape(message)):
        Codebook(spec)


def test_numeric_labels_that_clash_with_codes_are_refused():
    spec = {
        "fields": [
            {
                "name": "y",
                "type": "string",
                "role": "outcome",
                "categories": ["1", "2", "3"],
                "categoriesOrdered": True,
                "codes": [0, 1, 2],
            }
        ]
    }
    with pytest.raises(CodebookError, match="reads as one of the integer codes"):
        Codebook(spec)
    spec["fields"][0]["codes"] = [1, 2, 3]  # code 2 is label "2": consistent, allowed
    assert Codebook(spec).field("y").code_to_label()[2] == "2"
    spec["fields"][0].pop("codes")
    assert Codebook(spec).spectrum == ("1", "2", "3")


def test_codebook_file_errors(tmp_path):
    with pytest.raises(CodebookError, match="not found"):
        Codebook.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(CodebookError, match="not valid JSON.*line 1"):
        Codebook.from_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(CodebookError, match="JSON object"):
        Codebook.from_file(bad)


# -- ambiguous codes: the outcome's range columns (issue 16) -----------------------------
def test_default_codebook_declares_range_columns():
    cb = Codebook.default()
    assert cb.range_columns == ("response_low", "response_high")
    assert cb.outcome.range_columns == cb.range_columns
    assert all(f.range_columns is None for f in cb.fields.values() if f.role != "outcome")
    assert "response_low" not in cb.fields and "response_high" not in cb.fields
    assert "`response_low`" in cb.outcome.description  # says how to code a range
    again = Codebook(cb.to_dict())  # written back by what serialises the codebook
    assert again.range_columns == cb.range_columns and again == cb
    assert json.loads(cb.to_json())["fields"][1]["rangeColumns"] == [
        "response_low",
        "response_high",
    ]


def test_range_columns_are_optional():
    spec = Codebook.default().to_dict()
    spec["fields"][1].pop("rangeColumns")
    assert Codebook(spec).range_columns is None


def test_markdown_documents_the_range_columns():
    md = Codebook.default().to_markdown()
    outcome = md.split("## Covariates")[0]
    assert "| `response_low` | ordinal | no |" in outcome
    assert "| `response_high` | ordinal | no |" in outcome
    assert "P(`response_low` <= `response` <= `response_high`)" in outcome
    spec = Codebook.default().to_dict()
    spec["fields"][1].pop("rangeColumns")
    spec["fields"][1]["description"] = "The outcome."
    assert "response_low" not in Codebook(spec).to_markdown()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda s: s["fields"][2].update(rangeColumns=["a_low", "a_high"]),
            "field 'incident_id': only the outcome may have 'rangeColumns'",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns=["mission", "response_high"]),
            "field 'response': range column 'mission' is also a field",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns=["response_low", "response"]),
            "field 'response': range column 'response' is also a field",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns=["lo", "lo"]),
            "field 'response': 'rangeColumns' names 'lo' twice",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns=["lo"]),
            "field 'response': 'rangeColumns' must name two columns",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns="response_low"),
            "field 'response': 'rangeColumns' must name two columns",
        ),
        (
            lambda s: s["fields"][1].update(rangeColumns=["lo", 3]),
            "field 'response': 'rangeColumns' must name two columns",
        ),
    ],
)
def test_bad_range_columns_are_refused(mutate, message):
    spec = Codebook.default().to_dict()
    mutate(spec)
    with pytest.raises(CodebookError, match=re.escape(message)):
        Codebook(spec)


def test_infer_picks_up_the_outcome_range_columns():
    nan = float("nan")
    frame = pd.DataFrame(
        {
            # integer codes; the empty cells make pandas hold them as floats
            "rating": [1, 2, nan, 3, nan, 2],
            "rating_low": [nan, nan, 0, nan, 2, nan],  # 0 occurs only in a range
            "rating_high": [nan, nan, 1, nan, 4, nan],  # and 4
            "treat": ["a", "b", "a", "b", "a", "b"],
        }
    )
    variables = ["rating", "treat", "rating_low"]  # never a covariate, even if named
    cb = Codebook.infer(frame, "rating", variables)
    assert cb.range_columns == ("rating_low", "rating_high")
    assert cb.spectrum == ("0", "1", "2", "3", "4")
    assert cb.outcome.codes == (0, 1, 2, 3, 4)
    assert [f.name for f in cb.covariates] == ["treat"]
    prepared = cb.prepare(frame)
    assert list(prepared.columns) == list(frame.columns)
    typed = bayesresp.validate(prepared, cb)
    assert typed["rating"].isna().tolist() == [False, False, True, False, True, False]
    assert typed.loc[[2, 4], ["rating_low", "rating_high"]].astype(str).values.tolist() == [
        ["0", "1"],
        ["2", "4"],
    ]
    assert typed["rating_low"].dtype == typed["rating"].dtype


def test_infer_with_text_levels_and_without_range_columns():
    frame = pd.DataFrame(
        {
            "y": ["low", "mid", None, None],
            "y_low": [None, None, "low", "mid"],
            "y_high": [None, None, "mid", "top"],  # 'top' only in a range
        }
    )
    cb = Codebook.infer(frame, "y", [])
    assert cb.range_columns == ("y_low", "y_high") and cb.spectrum == ("low", "mid", "top")
    assert bayesresp.validate(cb.prepare(frame), cb)["y_high"].astype(str).tolist()[2:] == [
        "mid",
        "top",
    ]
    one = Codebook.infer(frame.drop(columns="y_high"), "y", [])  # both or neither
    assert one.range_columns is None and one.spectrum == ("low", "mid")
    assert "y_low" not in one.prepare(frame)
