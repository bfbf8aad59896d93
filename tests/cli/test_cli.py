import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from bayesresp.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example(run_cli, command):
    res = run_cli(command, "--help")
    assert res.code == 0
    assert "Example" in res.out and f"bayesresp {command}" in res.out
    assert "Exit status" in res.out


def test_top_level_help_and_version(run_cli):
    res = run_cli("--help")
    assert res.code == 0 and "Usage: bayesresp" in res.out and "norm violations" in res.out
    assert run_cli("--version").code == 0


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["nonsense"], 2, "No such command"),
        (["--bogus"], 2, "No such option"),
        (["codebook", "--markdown", "--out", "no/such/dir/cb.md"], 2, "No such file"),
        (["fit", "x.csv", "--spec", "hierarchical", "--out", "no/dir/f.nc"], 2, "does not exist"),
        (["validate"], 2, "Missing argument"),
        (["validate", "x.csv", "--format", "xml"], 2, "Invalid value for '--format'"),
        (["validate", "missing.csv"], 2, "data file not found"),
        (["describe", "missing.csv"], 2, "data file not found"),
        (["simulate", "--rows", "-3", "--out", "x.csv"], 2, "Invalid value for '--rows'"),
        (["simulate", "--rows", "100", "--out", "x.txt"], 2, ".csv or .parquet"),
        (["codebook", "--codebook", "missing.json"], 2, "codebook file not found"),
        (["fit", "missing.csv", "--spec", "hierarchical", "--out", "f.nc"], 2, "not found"),
        (["fit", "--nonsense"], 2, "No such option"),
        (["summary", "missing.nc"], 2, "not found"),
        (["whatif", "missing.nc", "profiles.csv"], 2, "not found"),
        (["diagnose", "missing.nc"], 2, "not found"),
        (["report", "missing.nc", "--out", "r.html"], 2, "not found"),
        (["sbc", "--simulations", "0"], 2, "Invalid value"),
    ],
)
def test_wrong_invocations_say_one_clear_thing(
    run_cli, args, status, message, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # relative names point nowhere
    res = run_cli(*args)
    assert res.code == status, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.err
    assert message in res.err


def test_codebook_command(run_cli, tmp_path):
    res = run_cli("codebook")
    assert res.code == 0 and "conceal < silence" in res.out and "departmental:" in res.out
    out = tmp_path / "cb.md"
    assert run_cli("codebook", "--markdown", "--out", out).code == 0
    assert out.read_text().startswith("# Codebook")


def test_describe_command(run_cli):
    from bayesresp.data.examples import example_path

    res = run_cli("describe", example_path())
    assert res.code == 0 and "SYNTHETIC" in res.out and "By mission" in res.out
    as_json = run_cli("describe", example_path(), "--format", "json")
    levels = [r["level"] for r in json.loads(as_json.out)]
    assert as_json.code == 0 and levels[0] == "conceal" and levels[-1] == "enforcement"
    as_csv = run_cli("describe", example_path(), "--table", "missions", "--format", "csv")
    table = pd.read_csv(io.StringIO(as_csv.out))
    assert as_csv.code == 0 and table["rows"].sum() == 2000 and len(table) == 12


def test_installed_script_runs_without_traceback(tmp_path):
    """The console script itself, in a fresh process, for a user mistake."""
    exe = [sys.executable, "-m", "bayesresp"]
    res = subprocess.run(
        [*exe, "validate", str(tmp_path / "missing.csv")], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert res.stderr.strip().startswith("error: data file not found")
    assert "Traceback" not in res.stderr


def test_describe_with_a_user_codebook(run_cli):
    from tests.conftest import DATA

    res = run_cli("describe", DATA / "user_coded.csv", "--codebook", DATA / "user_codebook.json")
    assert res.code == 0, res.err
    assert "ALPHA" in res.out and "ignore" in res.out


def test_demo_validates_summarises_and_fits(run_cli):
    res = run_cli("demo", "--draws", "60", "--seed", "2")
    assert res.code == 0, res.err
    for text in (
        "2000 responses (SYNTHETIC",
        "Responses by level of the spectrum",
        "By mission:",
        "Parameters:",
        "Variance decomposition",
        "Convergence:",
    ):
        assert text in res.out, text


def test_setup_finds_a_python_312_or_says_what_to_install(tmp_path):
    """The Makefile's interpreter search: with nothing usable on the PATH it stops with
    one sentence; whatever it does find runs and is 3.12 or newer."""
    import os
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / ".ci" / "find-python"
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    res = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True, env=env)
    if res.returncode == 0:  # a system-wide /usr/local/bin/python3.1x exists here
        found = res.stdout.strip()
        version = subprocess.run(
            [found, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
        )
        assert version.stdout.strip() == "True"
    else:
        assert res.returncode == 1
        assert "needs Python 3.12 or newer" in res.stderr and "install" in res.stderr
    res = subprocess.run(
        ["/bin/sh", str(script)], capture_output=True, text=True, env={**os.environ}
    )
    assert res.returncode == 0  # on this machine, the project's own search succeeds
