"""Shared fixtures. Fits are expensive: share them across tests with session fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

import bayesresp  # noqa: E402
from bayesresp.cli import cli  # noqa: E402

DATA = Path(__file__).parent / "data"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli():
    """Run the command line in-process; a Python exception (a traceback) fails the test."""

    def run(*args: str) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="session")
def example_raw():
    """The embedded example as text cells, exactly as stored."""
    return bayesresp.load_example(typed=False)


@pytest.fixture(scope="session")
def example():
    return bayesresp.load_example()
