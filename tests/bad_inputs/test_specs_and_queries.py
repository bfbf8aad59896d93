"""Bad inputs around specification files, priors, scenario files, profiles and fit()
arguments (issue 14): each is refused with the package's own error, in one line naming
the file, key or row, the value and what was expected; nothing saved is changed."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from click.testing import CliRunner

import bayesresp
from bayesresp import (
    DataValidationError,
    FormulaError,
    PriorError,
    ProfileError,
    SamplerError,
    ScenarioError,
    SpecError,
    UnknownGroupError,
)
from bayesresp.cli import cli
from bayesresp.model.priors import parse_prior
from bayesresp.model.spec import ModelSpec

FEW = ("--draws", "10", "--tune", "10", "--chains", "1", "--seed", "1", "--quiet")


def _fit_refused(refuses, csv, spec, saved, names, status=2):
    """``bayesresp fit`` with ``spec`` over an existing fit, with --overwrite: refused
    before anything is sampled or written, the fit and the spec file untouched."""
    return refuses(
        "fit",
        csv,
        "--spec",
        spec,
        "--out",
        saved,
        "--overwrite",
        *FEW,
        status=status,
        names=names,
        keep=[saved, spec],
    )


# -- 1. specification files against their schema --------------------------------------
FORMULA = 'formula = "response ~ severity + duty_location * interlocutor"\n'


@pytest.mark.parametrize(
    "text, names",
    [
        (
            FORMULA + 'scale_continuous = "false"\n',
            ["scale_continuous", 'the text "false"', "true or false"],
        ),
        (FORMULA + "scale_continuous = 0\n", ["scale_continuous", "number 0", "true or false"]),
        (FORMULA + "name = 5\n", ["'name'", "number 5", "text"]),
        (FORMULA + "description = [1]\n", ["'description'", "a list", "text"]),
        ("formula = 5\n", ["'formula'", "number 5", "text"]),
        (FORMULA + "link = true\n", ["'link'", "boolean true", "text"]),
        (FORMULA + 'link = "lgit"\n', ["link 'lgit'", "probit", "did you mean 'logit'"]),
        (FORMULA + 'priors = "normal(0, 1)"\n', ["'priors'", "must be a table", "normal(0, 1)"]),
        (FORMULA + "[priors]\nb = 1\n", ["[priors] 'b'", "number 1", "text"]),
        (FORMULA + "[priors.sd]\nx = 1\n", ["[priors] 'sd'", "a table", "text"]),
        (FORMULA + "[blocks]\nseverity = 3\n", ["[blocks] 'severity'", "number 3"]),
        (FORMULA + 'lnk = "probit"\n', ["unknown key 'lnk'", "did you mean 'link'"]),
        (FORMULA + "[prior]\nb = 'normal(0, 1)'\n", ["unknown key 'prior'", "'priors'"]),
        (
            FORMULA + '[priors]\nb = "normal(0, 1)"\nlink = "probit"\n',
            ["prior for 'link'", "probit", "before the first table"],
        ),
        (
            FORMULA + '[blocks]\nseverty = "incident"\n',
            ["[blocks] key 'severty'", "not a term", "did you mean 'severity'"],
        ),
        (
            FORMULA + '[blocks]\n"interlocutor:duty_location" = "positional"\n',
            ["interlocutor:duty_location", "did you mean 'duty_location:interlocutor'"],
        ),
        (
            FORMULA + '[blocks]\n"duty_location:interlocutor" = "positonal"\n',
            ["'positonal'", "not a block", "did you mean 'positional'"],
        ),
        ('name = "x"\n', ["has no 'formula'"]),
    ],
)
def test_spec_files_are_checked_against_their_schema(
    refuses, small_csv, saved_fit, tmp_path, text, names
):
    spec = tmp_path / "mine.toml"
    spec.write_text(text, encoding="utf-8")
    _fit_refused(refuses, small_csv, spec, saved_fit, [str(spec), *names])


@pytest.mark.parametrize(
    "values, error, message",
    [
        (dict(scale_continuous="false"), SpecError, "scale_continuous.*true or false"),
        (dict(scale_continuous=1), SpecError, "scale_continuous"),
        (dict(link=None), SpecError, "'link' must be text"),
        (dict(name=3), SpecError, "'name' must be text"),
        (dict(priors=["b"]), SpecError, "'priors' must be a table"),
        (dict(priors={"b": 1.0}), SpecError, r"\[priors\] 'b' must be text"),
        (dict(blocks={"severty": "incident"}), SpecError, "did you mean 'severity'"),
        (dict(blocks={"severity": " "}), SpecError, "names no block"),
        (dict(priors={"b": "normal(0, nan)"}), PriorError, "nan"),
        (dict(formula="response ~ (severity"), FormulaError, "formula"),
    ],
)
def test_model_spec_checks_its_values_in_python(values, error, message):
    with pytest.raises(error, match=message):
        ModelSpec(**{"formula": "response ~ severity", **values})
    # the same from a dict names where it came from; every kind is a SpecError
    with pytest.raises(SpecError, match="specification mine"):
        ModelSpec.from_dict({"formula": "response ~ severity", **values}, origin="mine")


def test_a_valid_spec_still_reads_and_a_block_is_assigned(tmp_path):
    spec = tmp_path / "ok.toml"
    spec.write_text(
        FORMULA
        + 'scale_continuous = false\n[priors]\n"sd" = "halfnormal(0.5)"\n'
        + '[blocks]\n"interlocutor" = "positional"\n'
    )
    read = ModelSpec.from_file(spec)
    assert read.scale_continuous is False and read.name == "ok"
    assert read.blocks == {"interlocutor": "positional"}
    assert ModelSpec.from_toml(read.to_toml()) == read


# -- 2. files that are not UTF-8, and TOML syntax errors -------------------------------
@pytest.mark.parametrize(
    "raw, names",
    [
        (
            b'name = "caf\xe9"\nformula = "response ~ severity"\n',
            ["not UTF-8", "0xe9", "line 1, column 12"],
        ),
        ("formula = 'response ~ severity'\n".encode("utf-16"), ["not UTF-8", "line 1"]),
        (b'formula = "response ~ severity"\nlink = logit\n', ["not valid TOML", "line 2"]),
        (b'formula = "response ~ severity"\n[priors\n', ["not valid TOML", "line 2"]),
    ],
)
def test_spec_files_that_are_not_utf8_or_not_toml(
    refuses, small_csv, saved_fit, tmp_path, raw, names
):
    spec = tmp_path / "broken.toml"
    spec.write_bytes(raw)
    _fit_refused(refuses, small_csv, spec, saved_fit, [str(spec), *names])


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    spec = tmp_path / "bom.toml"
    spec.write_bytes(b'\xef\xbb\xbfformula = "response ~ severity"\n')
    assert ModelSpec.from_file(spec).formula == "response ~ severity"


def test_a_latin1_spec_in_a_real_process(refuses_in_a_process, small_csv, tmp_path):
    spec = tmp_path / "latin1.toml"
    spec.write_bytes('description = "Gippert et al., réponses"\n'.encode("latin-1"))
    out = tmp_path / "never.nc"
    refuses_in_a_process(
        "fit",
        small_csv,
        "--spec",
        spec,
        "--out",
        out,
        *FEW,
        names=[str(spec), "not UTF-8", "line 1"],
        keep=[spec],
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "raw, names",
    [
        (b'[[rule]]\ncolumn = "department"\nset = "Caf\xe9"\n', ["not UTF-8", "line 3"]),
        (b'[[rule]]\ncolumn = "years_at_station"\nmax = \n', ["not valid TOML", "line 3"]),
        (b"[[rule]\n", ["not valid TOML", "line 1"]),
    ],
)
def test_scenario_files_that_are_not_utf8_or_not_toml(refuses, saved_fit, tmp_path, raw, names):
    rules = tmp_path / "rules.toml"
    rules.write_bytes(raw)
    refuses("scenario", saved_fit, "-", rules, names=[str(rules), *names], keep=[saved_fit, rules])


# -- 3. scenario rules of the wrong type -------------------------------------------------
@pytest.mark.parametrize(
    "text, names",
    [
        (
            '[[rule]]\ncolumn = "years_at_station"\nmax = "three"\n',
            ["rule 1", "'max'", "years_at_station", '"three"', "number"],
        ),
        (
            '[[rule]]\ncolumn = "years_at_station"\nmax = 3\n'
            '[[rule]]\ncolumn = "external_link"\nset = "none"\nwhere = "Human Rights"\n',
            ["rule 2", "'where'", '"Human Rights"', "table"],
        ),
        ("rule = 5\n", ["'rule'", "number 5", "[[rule]]"]),
        ("rule = [1]\n", ["rule 1", "number 1", "table"]),
        ("[[rule]]\ncolumn = 5\nmax = 3\n", ["rule 1", "'column'", "number 5"]),
        ('[[rule]]\ncolumn = "years_at_station"\nmin = nan\n', ["rule 1", "'min'", "nan"]),
        ('[[rule]]\ncolumn = "severity"\nset = true\n', ["rule 1", "'set'", "boolean true"]),
        (
            '[[rule]]\ncolumn = "external_link"\nset = "none"\nwhere = { department = {} }\n',
            ["rule 1", "'where'", "'department'", "a table"],
        ),
        ('[[rule]]\ncolum = "severity"\nset = "minor"\n', ["'colum'", "did you mean 'column'"]),
        ('[[rules]]\ncolumn = "severity"\nset = "minor"\n', ["'rules'", "did you mean 'rule'"]),
        ('[[rule]]\ncolumn = "severity"\n', ["rule 1", "'set', 'max' or 'min'"]),
        # a value the codebook refuses: the rule that wrote it is named, not the data
        (
            '[[rule]]\ncolumn = "years_at_station"\nset = "many"\n',
            ["set years_at_station = many", "years_at_station"],
        ),
    ],
)
def test_scenario_rules_of_the_wrong_type(refuses, saved_fit, tmp_path, text, names):
    rules = tmp_path / "rules.toml"
    rules.write_text(text, encoding="utf-8")
    line = refuses("scenario", saved_fit, "-", rules, names=names, keep=[saved_fit, rules])
    assert "bayesresp validate" not in line  # a rules file is not a data file


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"column": "years_at_station", "max": "three"}, "'max'.*finite number"),
        ({"column": "external_link", "set": "none", "where": "x"}, "'where'.*table"),
        ([5], "rule 1 must be a table"),
        (5, "rules must be"),
        ({"column": "x", "max": 3, "maxx": 4}, "did you mean 'max'"),
    ],
)
def test_scenario_rules_in_python(rules, message):
    from bayesresp.queries.scenarios import read_rules

    with pytest.raises(ScenarioError, match=message):
        read_rules(rules)


# -- 4. priors that are not finite or not positive ---------------------------------------
@pytest.mark.parametrize(
    "text, role, value",
    [
        ("normal(0, nan)", "b", "nan"),
        ("normal(0, inf)", "b", "inf"),
        ("normal(0, 1e400)", "b", "inf"),
        ("normal(nan, 1)", "b", "nan"),
        ("normal(-inf, 1)", "b", "-inf"),
        ("student_t(nan, 0, 1)", "b", "nan"),
        ("halfnormal(0)", "sd", "0"),
        ("halfnormal(-1)", "sd", "-1"),
        ("exponential(inf)", "sd", "inf"),
        ("dirichlet(0)", "simplex", "0"),
        ("lkj(nan)", "cor", "nan"),
        ("induced_dirichlet(-2)", "cutpoints", "-2"),
    ],
)
def test_priors_must_be_finite_with_positive_scales(text, role, value):
    with pytest.raises(PriorError) as info:
        parse_prior(text, role, "key")
    message = str(info.value)
    assert "prior for 'key'" in message and text in message and f"is {value};" in message


@pytest.mark.parametrize("prior", ["normal(0, nan)", "normal(0, inf)", "normal(0, 0)"])
def test_a_spec_with_a_bad_prior_is_refused_before_sampling(
    refuses, small_csv, saved_fit, tmp_path, prior
):
    spec = tmp_path / "prior.toml"
    spec.write_text(f'formula = "response ~ severity"\n[priors]\nb = "{prior}"\n')
    _fit_refused(refuses, small_csv, spec, saved_fit, [str(spec), "prior for 'b'", prior])


def test_a_misspelt_family_or_key_names_the_closest():
    with pytest.raises(PriorError, match="did you mean 'halfnormal'"):
        parse_prior("half_normal(1)", "sd", "sd")


# -- 5. fit() arguments ------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(tune=-10), "tune must be a whole number of at least 0"),
        (dict(draws=0), "draws must be a whole number of at least 1"),
        (dict(draws=-5), "draws must be"),
        (dict(chains=0), "chains must be"),
        (dict(draws=10.5), "draws must be.*10.5"),
        (dict(draws=10.0), "draws must be"),
        (dict(tune="10"), "tune must be"),
        (dict(chains=True), "chains must be.*True"),
        (dict(draws=False), "draws must be"),
        (dict(seed=-1), "seed must be"),
        (dict(seed=1.5), "seed must be"),
        (dict(cores=0), "cores must be"),
        (dict(target_accept=1.0), "target_accept"),
        (dict(target_accept=math.nan), "target_accept"),
        (dict(sampler="stan"), "sampler 'stan'"),
        (dict(progress="no"), "progress must be"),
        (dict(compress="yes"), "compress must be"),
        (dict(missing="skip"), "missing must be 'error', 'drop' or 'model'"),
        (dict(missing=None), "missing must be"),
    ],
)
def test_fit_arguments_are_checked_before_anything_runs(settings, message):
    with pytest.raises(SamplerError, match=message):
        # no data are read: a file that does not exist is never reached
        bayesresp.fit("no/such/file.csv", "response ~ severity", **settings)


def test_fit_spec_argument_of_the_wrong_type():
    with pytest.raises(SpecError, match="not int"):
        bayesresp.fit("no/such/file.csv", 5, draws=10)
    with pytest.raises(SpecError, match="scale_continuous"):
        bayesresp.fit(
            "no/such/file.csv",
            {"formula": "response ~ severity", "scale_continuous": "false"},
            draws=10,
        )


# -- 6. hints in the user's own syntax; profiles and rules are not sent to `validate` ---
@pytest.fixture(scope="module")
def grouped_fit(tmp_path_factory, small_csv):
    """A small fit with a mission intercept (for unseen groups)."""
    folder = tmp_path_factory.mktemp("grouped")
    spec = folder / "grouped.toml"
    spec.write_text('formula = "response ~ severity + background + (1 | mission)"\n')
    out = folder / "grouped.nc"
    result = CliRunner().invoke(
        cli, ["fit", str(small_csv), "--spec", str(spec), "--out", str(out), *FEW]
    )
    assert result.exit_code == 0, result.stderr
    return out


def _profile(tmp_path, **values):
    row = dict(severity="serious", background="military_security", mission="UNMIL")
    path = tmp_path / "profiles.csv"
    pd.DataFrame([{**row, **values}]).to_csv(path, index=False)
    return path


def test_the_command_line_hints_at_its_own_flags(refuses, grouped_fit, tmp_path):
    profiles = _profile(tmp_path, mission="ATLANTIS")
    line = refuses(
        "whatif",
        grouped_fit,
        profiles,
        status=ProfileError.exit_status,
        names=["ATLANTIS", "--groups new"],
        keep=[grouped_fit, profiles],
    )
    assert "groups='new'" not in line
    lacking = tmp_path / "lacking.csv"
    pd.DataFrame([dict(background="military_security", mission="UNMIL")]).to_csv(
        lacking, index=False
    )
    line = refuses(
        "whatif",
        grouped_fit,
        lacking,
        status=ProfileError.exit_status,
        names=["severity", "--fill-typical"],
        keep=[grouped_fit, lacking],
    )
    assert "fill='typical'" not in line


def test_python_users_get_python_syntax(grouped_fit):
    fit = bayesresp.load_fit(grouped_fit)
    row = dict(severity="serious", background="military_security", mission="ATLANTIS")
    with pytest.raises(ProfileError) as info:
        fit.what_if(row)
    assert "groups='new'" in str(info.value)
    assert "--groups new" in info.value.cli_message
    with pytest.raises(ProfileError, match="fill='typical'"):
        fit.what_if({"background": "military_security", "mission": "UNMIL"})
    data = fit.data.astype({"mission": object})
    data.loc[data.index[0], "mission"] = "ATLANTIS"
    with pytest.raises(UnknownGroupError) as unseen:
        fit.scenario({"column": "years_at_station", "max": 3}, data=data)
    assert "groups='new'" in str(unseen.value)
    assert "--groups new" in unseen.value.cli_message


def test_invalid_profiles_are_not_sent_to_validate(refuses, grouped_fit, tmp_path):
    profiles = _profile(tmp_path, severity="sever", background="militray")
    line = refuses(
        "whatif",
        grouped_fit,
        profiles,
        status=DataValidationError.exit_status,
        names=["the profiles", "sever", "1 more"],
        keep=[grouped_fit, profiles],
    )
    assert "bayesresp validate" not in line


def test_every_cli_spelling_is_a_real_flag():
    """The command-line half of each two-way hint names an option the commands have."""
    from bayesresp.inference.arrays import GROUPS_NEW
    from bayesresp.inference.fitting import MISSING_DROP
    from bayesresp.queries.whatif import FILL_TYPICAL

    def flags(command):
        out = {}
        for param in cli.commands[command].params:
            for opt in getattr(param, "opts", []):
                out[opt] = param
        return out

    for usage, commands in (
        (GROUPS_NEW, ["whatif", "contrast"]),
        (FILL_TYPICAL, ["whatif", "contrast"]),
        (MISSING_DROP, ["fit"]),
    ):
        flag, *value = usage.cli.split()
        for command in commands:
            param = flags(command).get(flag)
            assert param is not None, (command, flag)
            if value:
                assert value[0] in param.type.choices, (command, usage)
            else:
                assert param.is_flag, (command, usage)
