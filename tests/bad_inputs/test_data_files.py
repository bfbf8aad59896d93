"""Bad inputs around data files and the command line's numeric options (issue 14, items 14
and 15): a cell over the csv module's limit, a quote that never closes, a file separated
by another delimiter, and seeds out of range. Each is one ``error:`` line naming the
file, row and column (or the option and value), the documented exit status, no
traceback, and nothing saved changed."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

import bayesresp
from bayesresp.cli import cli
from bayesresp.data.tables import CELL_LIMIT
from bayesresp.errors import DataFileError


def _write(frame: pd.DataFrame, path, sep=","):
    frame.to_csv(path, index=False, sep=sep, lineterminator="\n")
    return path


@pytest.mark.parametrize("command", ["validate", "describe", "fit"])
def test_a_cell_over_the_csv_limit_names_file_row_and_column(
    refuses, example_raw, tmp_path, command
):
    frame = example_raw.head(20).copy()
    frame.loc[3, "source"] = "x" * (CELL_LIMIT + 1)  # data row 4, line 5
    path = _write(frame, tmp_path / "long.csv")
    out = tmp_path / "fit.nc"
    extra = ["--spec", "baseline", "--out", out] if command == "fit" else []
    line = refuses(
        command,
        path,
        *extra,
        status=2,
        names=[str(path), "data row 4", "line 5", "column 'source'", "131,072"],
        keep=[path],
    )
    assert "Traceback" not in line and not out.exists()


def test_a_quote_that_never_closes_is_refused_not_swallowing_the_file(
    refuses, example_raw, tmp_path
):
    """With the csv module's lenient parsing a quote opened in the last column and never
    closed reads the rest of the file into one cell: the table stays rectangular and the
    rows after it are silently gone. Refused, naming where the quote opens; a runaway
    quote that makes a cell too long says the quote is the likely cause."""
    frame = example_raw.head(30).drop(columns="source")
    text = frame.to_csv(index=False, lineterminator="\n").split("\n")
    text[5] += ',"a note that never ends'  # data row 5, line 6: one more column ...
    text[0] += ",note"
    text = [t + ("," if 0 < i < 5 else "") for i, t in enumerate(text)]  # ... in every row
    path = tmp_path / "open_quote.csv"
    path.write_text("\n".join(text))
    refuses(
        "validate",
        path,
        status=2,
        names=[str(path), "data row 5", "line 6", "column 'note'", "never closed"],
        keep=[path],
    )
    runaway = tmp_path / "runaway.csv"
    lines = frame.to_csv(index=False, lineterminator="\n").split("\n")
    cells = lines[3].split(",")
    cells[3] = '"' + cells[3]  # opens a quote in 'mission' of data row 3, then 200k chars
    runaway.write_text("\n".join([*lines[:3], ",".join(cells), *["x" * 100] * 2000, *lines[4:]]))
    refuses(
        "validate",
        runaway,
        status=2,
        names=[str(runaway), "data row 3", "column 'mission'", "closing quote missing"],
        keep=[runaway],
    )


@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("\t", "tab")])
def test_another_delimiter_is_named_and_read_only_when_told(
    refuses, run_cli, example_raw, tmp_path, sep, name
):
    frame = example_raw.head(40)
    path = _write(frame, tmp_path / "export.csv", sep=sep)
    # Told nothing: refused, naming the delimiter it looks like and how to say so; the
    # example's 'source' cells hold commas, so at ',' the file is not even rectangular.
    line = refuses(
        "validate",
        path,
        status=2,
        names=[str(path), f"looks {name}-separated", f"--delimiter {name}"],
        keep=[path],
    )
    assert "not rectangular" not in line
    # Told on the command line (either spelling, by name or by the character itself) ...
    for flag, value in (("--delimiter", name), ("--sep", sep)):
        res = run_cli("validate", path, flag, value)
        assert res.code == 0 and "valid against" in res.out, res.err
    # ... in Python ...
    read = bayesresp.validate(path, delimiter=name)
    pd.testing.assert_frame_equal(read, bayesresp.validate(frame))
    # ... or by the codebook's dialect (a Frictionless Table Dialect's delimiter).
    spec = bayesresp.Codebook.default().to_dict()
    codebook = tmp_path / "codebook.json"
    codebook.write_text(json.dumps(dict(spec, dialect={"delimiter": sep})))
    res = run_cli("validate", path, "--codebook", codebook)
    assert res.code == 0, res.err
    # The same codebook, a comma-separated file: refused the other way round, naming the
    # codebook's dialect as the reason; the flag wins over the codebook.
    comma = _write(frame, tmp_path / "comma.csv")
    refuses(
        "validate",
        comma,
        "--codebook",
        codebook,
        status=2,
        names=[str(comma), "looks comma-separated", "dialect", "--delimiter comma"],
        keep=[comma],
    )
    assert run_cli("validate", comma, "--codebook", codebook, "--sep", "comma").code == 0
    # fit reads the file at the delimiter asked for, and names it in a data error.
    bad = frame.copy()
    bad.loc[2, "severity"] = "huge"
    bad_path = _write(bad, tmp_path / "bad.csv", sep=sep)
    out = tmp_path / "fit.nc"
    refuses(
        "fit",
        bad_path,
        "--spec",
        "baseline",
        "--out",
        out,
        "--delimiter",
        name,
        status=1,
        names=[str(bad_path), "row 3", "'huge'"],
        keep=[bad_path],
    )
    assert not out.exists()
    # A dialect bayesresp cannot honour is refused rather than ignored.
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(dict(spec, dialect={"delimiter": sep, "quoteChar": "'"})))
    refuses("validate", comma, "--codebook", odd, status=2, names=[str(odd), "quoteChar"])
    with pytest.raises(DataFileError, match="one character"):
        bayesresp.read_table(comma, delimiter="::")


def test_profiles_in_another_delimiter_are_named_and_read_when_told(
    refuses, run_cli, example_raw, saved_fit, tmp_path
):
    path = _write(example_raw.head(2), tmp_path / "profiles.csv", sep=";")
    refuses(
        "whatif",
        saved_fit,
        path,
        status=2,
        names=[str(path), "looks semicolon-separated", "--delimiter semicolon"],
        keep=[path, saved_fit],
    )
    res = run_cli("whatif", saved_fit, path, "--delimiter", "semicolon", "--format", "csv")
    assert res.code == 0, res.err
    comma = _write(example_raw.head(2), tmp_path / "p.csv")
    told = run_cli("whatif", saved_fit, comma, "--format", "csv")
    assert told.code == 0, told.err  # the same answers as from the comma-separated file
    assert pd.read_csv(io.StringIO(res.out)).equals(pd.read_csv(io.StringIO(told.out)))


SEEDED = {
    "simulate": lambda csv, tmp: ["--out", tmp / "sim.csv"],
    "demo": lambda csv, tmp: [],
    "fit": lambda csv, tmp: [csv, "--spec", "baseline", "--out", tmp / "fit.nc"],
    "reliability": lambda csv, tmp: [csv],
    "sbc": lambda csv, tmp: [csv, "--spec", "baseline"],
    "plan": lambda csv, tmp: ["--spec", "baseline", "--design", "4x80"],
    "coders": lambda csv, tmp: [tmp / "fit.nc"],  # refused before the fit file is read
    "po-check": lambda csv, tmp: [tmp / "fit.nc"],  # likewise
}


@pytest.mark.parametrize("seed", ["-1", str(2**32), str(2**64)])
def test_a_seed_out_of_range_is_a_usage_error_on_every_command(refuses, small_csv, tmp_path, seed):
    for command, extra in SEEDED.items():
        refuses(
            command,
            *extra(small_csv, tmp_path),
            "--seed",
            seed,
            status=2,
            names=["--seed", seed, "4294967295"],
            keep=[small_csv],
        )
        assert not any(tmp_path.iterdir()), command
    # every command that takes a seed is covered
    seeded = {n for n, c in cli.commands.items() if any(p.name == "seed" for p in c.params)}
    assert seeded - {"check"} <= set(SEEDED), seeded
    assert "0<=x<=4294967295" in CliRunner().invoke(cli, ["simulate", "--help"]).stdout
