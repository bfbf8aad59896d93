"""Every Python example in the README runs, as written, in the order a reader meets it.

The blocks share one namespace (a later block uses the ``fit`` of an earlier one), in a
folder holding the files they name: ``incidents.csv`` (the example) and ``profiles.csv``
(two of its incidents). The names the README leaves to the reader (``fit_b``, ``fit_h``,
``fit_f``, ``double_coded``) are the session's shipped fits, thinned to 250 draws per
chain (conftest.py: ``thinned_fits``), and a double-coded simulated set. The one change:
fits sample 100 draws after 100 tuning steps per chain (the notebook tests' reduced
settings) instead of the defaults' 1,000 and 1,000, to keep the suite's time: the
examples are run, not their numbers read; every call, argument and file stays the
README's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bayesresp

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[tuple[int, str]]:
    text = README.read_text()
    return [
        (text[: m.start()].count("\n") + 2, m.group(1))
        for m in re.finditer(r"```python\n(.*?)```", text, re.S)
    ]


def test_the_readme_has_python_examples():
    assert len(python_blocks()) >= 5


def test_every_python_example_runs(tmp_path, monkeypatch, example_raw, thinned_fits):
    monkeypatch.chdir(tmp_path)
    example_raw.to_csv("incidents.csv", index=False)
    # two incidents of the example as profiles (the other codebook columns are ignored)
    example_raw.head(2).drop(columns="response").to_csv("profiles.csv", index=False)

    real_fit = bayesresp.fit

    def shorter(*args, **kwargs):
        kwargs.setdefault("draws", 100)
        kwargs.setdefault("tune", 100)
        kwargs.setdefault("progress", False)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(bayesresp, "fit", shorter)
    sim = bayesresp.simulate(missions=6, rows=300, seed=5, coders=3, double_coded=0.3)
    namespace = {
        "fit_b": thinned_fits["baseline"],
        "fit_h": thinned_fits["hierarchical"],
        "fit_f": thinned_fits["full"],
        "double_coded": sim.data,
    }
    # the README's models/... paths are relative to the repository
    (tmp_path / "models").symlink_to(README.parent / "models")
    for line, code in python_blocks():
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:  # name the block in the failure
            pytest.fail(f"README.md, the block at line {line}: {type(exc).__name__}: {exc}")
    assert Path("hierarchical.html").exists() and Path("report.html").exists()
    assert Path("hierarchical.nc").exists()
