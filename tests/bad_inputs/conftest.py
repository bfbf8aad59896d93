"""The harness of the bad-inputs tests (issue 14): every case asserts the exit status, one
``error:`` line naming the problem, no traceback, and that no previously saved file changed.

``refuses(*args, status=..., names=(...), keep=(...))`` runs the command line in-process;
``refuses_in_a_process`` runs ``python -m bayesresp`` for what only a real process shows
(a Rust panic, a decoder error raised before click, a crash of the interpreter).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bayesresp.cli import cli


def fingerprint(path: Path) -> dict[str, str]:
    """The content hash of a file, or of every file under a folder, by relative name."""
    path = Path(path)
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _check(status, out, err, expected_status, names, before):
    text = out + err
    assert "Traceback" not in text and "panicked" not in text, text
    assert status == expected_status, (status, err)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, err
    for name in names:
        assert name.lower() in errors[0].lower(), (name, errors[0])
    for path, print_before in before.items():
        assert path.exists(), f"{path} was removed"
        assert fingerprint(path) == print_before, f"{path} was changed"
    return errors[0]


@pytest.fixture
def refuses():
    """Run the CLI in-process and assert a clean refusal; returns the error line."""

    def run(*args, status: int = 2, names=(), keep=()) -> str:
        before = {Path(p): fingerprint(Path(p)) for p in keep}
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback for the user: the test fails with it
        return _check(result.exit_code, result.stdout, result.stderr, status, names, before)

    return run


@pytest.fixture
def refuses_in_a_process():
    """Run ``python -m bayesresp`` in a subprocess and assert a clean refusal."""

    def run(*args, status: int = 2, names=(), keep=(), cwd=None, timeout=300) -> str:
        before = {Path(p): fingerprint(Path(p)) for p in keep}
        env = dict(os.environ, PYTHONIOENCODING="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "bayesresp", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=timeout,
        )
        return _check(proc.returncode, proc.stdout, proc.stderr, status, names, before)

    return run


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory, example_raw) -> Path:
    """200 rows of the example as a CSV file."""
    path = tmp_path_factory.mktemp("data") / "small.csv"
    example_raw.head(200).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def saved_fit(tmp_path_factory, small_csv) -> Path:
    """A small fit saved by the command line: what a refused command must leave intact."""
    path = tmp_path_factory.mktemp("fits") / "saved.nc"
    result = CliRunner().invoke(
        cli,
        [
            "fit",
            str(small_csv),
            "--spec",
            "baseline",
            "--out",
            str(path),
            "--draws",
            "30",
            "--tune",
            "30",
            "--chains",
            "1",
            "--seed",
            "1",
        ],
    )
    assert result.exit_code == 0, result.stderr
    return path
