"""Ctrl-C stops a fit: sampling ends, KeyboardInterrupt is raised, nothing is saved.

nutpie's blocking ``sample`` catches KeyboardInterrupt and returns the draws so far, and
``pm.sample`` returns shortened chains: both must never pass for a finished fit.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import bayesresp
from bayesresp.inference import sampling


class _InterruptedRun:
    """What ``nutpie.sample(..., blocking=False)`` returns, with Ctrl-C hit while waiting."""

    def __init__(self):
        self.cancelled = False

    def wait(self):
        raise KeyboardInterrupt

    def cancel(self):
        self.cancelled = True


@pytest.fixture
def interrupted_nutpie(monkeypatch):
    import nutpie

    runs = []

    def fake_sample(compiled, *, blocking=True, **kwargs):
        assert blocking is False  # nutpie's blocking call would swallow the interrupt
        runs.append(_InterruptedRun())
        return runs[-1]

    monkeypatch.setattr(nutpie, "sample", fake_sample)
    return runs


def test_fit_raises_keyboard_interrupt_and_cancels_nutpie(example, interrupted_nutpie):
    with pytest.raises(KeyboardInterrupt):
        bayesresp.fit(example, "baseline", draws=50, tune=50, chains=1, seed=1, progress=False)
    assert len(interrupted_nutpie) == 1 and interrupted_nutpie[0].cancelled


def test_pymc_graph_with_nutpie_raises_keyboard_interrupt(interrupted_nutpie, monkeypatch):
    monkeypatch.setattr(sampling, "compiled_nutpie", lambda *a: (object(), "new"))
    settings = sampling.SamplerSettings(draws=50, tune=50, chains=1, seed=1, progress=False)
    with pytest.raises(KeyboardInterrupt):
        sampling._sample_model(None, settings, None, None, {})
    assert interrupted_nutpie[0].cancelled


def _tree(chains: int, draws: int) -> xr.DataTree:
    post = xr.Dataset({"b": (("chain", "draw"), np.zeros((chains, draws)))})
    return xr.DataTree.from_dict({"posterior": post})


@pytest.mark.parametrize(
    "returned, signalled",
    [
        ((2, 30), False),  # PyMC cut the chains short at the interrupt
        ((1, 50), False),  # ... or dropped a chain
        ((2, 50), True),  # the interrupt came after the last draw: still an interrupt
    ],
)
def test_pm_sample_interrupted_raises(monkeypatch, returned, signalled):
    import pymc as pm

    def fake_sample(**kwargs):
        if signalled:  # a real SIGINT, swallowed as PyMC's samplers do
            with contextlib.suppress(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
        return _tree(*returned)

    monkeypatch.setattr(pm, "sample", fake_sample)
    settings = sampling.SamplerSettings(
        sampler="pymc", draws=50, tune=50, chains=2, seed=1, progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        sampling._sample_model(pm.Model(), settings, None, None, {})
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_pm_sample_complete_passes(monkeypatch):
    import pymc as pm

    monkeypatch.setattr(pm, "sample", lambda **kwargs: _tree(2, 50))
    settings = sampling.SamplerSettings(
        sampler="pymc", draws=50, tune=50, chains=2, seed=1, progress=False
    )
    tree, how = sampling._sample_model(pm.Model(), settings, None, None, {})
    assert tree["posterior"].sizes["draw"] == 50 and how == "new"


# -- a real Ctrl-C on the command line -------------------------------------------------------
# `bayesresp fit`, with nutpie.sample wrapped to say on stderr when sampling starts, so that
# the SIGINT lands while the sampler runs (not while Python imports PyMC).
WRAPPER = """
import sys

import nutpie

from bayesresp.cli._app import main

_sample = nutpie.sample


def announced(*args, **kwargs):
    print("SAMPLING", file=sys.stderr, flush=True)
    return _sample(*args, **kwargs)


nutpie.sample = announced
sys.exit(main(sys.argv[1:]))
"""


def _interrupted_fit(data, out, *extra: str) -> tuple[int, str, str]:
    """Run `bayesresp fit`, send SIGINT once it samples; exit status, stdout, stderr after
    the start of sampling. A fit that finishes before the signal is run again, longer."""
    for draws in (200_000, 2_000_000):
        args = ["fit", str(data), "--spec", "baseline", "--out", str(out), "--quiet"]
        args += ["--draws", str(draws), "--tune", "100", "--chains", "1", "--seed", "1", *extra]
        proc = subprocess.Popen(
            [sys.executable, "-c", WRAPPER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        before = []
        for line in proc.stderr:
            if line.strip() == "SAMPLING":
                break
            before.append(line)
        else:
            out_text, _ = proc.communicate()
            pytest.fail(f"the fit did not start sampling:\n{''.join(before)}{out_text}")
        try:
            proc.wait(timeout=1.0)  # let the sampler run a little
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=300)  # a hang guard, not a timing
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("the fit went on after SIGINT")
        assert "Traceback" not in "".join(before)
        if proc.returncode != 0:  # 0: finished before the signal came; again, longer
            return proc.returncode, stdout, stderr
    pytest.fail("every fit finished before the signal")


@pytest.fixture(scope="module")
def example_csv(example_raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("interrupt") / "example.csv"
    example_raw.to_csv(path, index=False)
    return path


def test_ctrl_c_stops_the_cli_fit_and_saves_nothing(example_csv, tmp_path):
    out = tmp_path / "fit.nc"
    code, stdout, stderr = _interrupted_fit(example_csv, out)
    assert code == 130
    assert stderr.splitlines() == [
        "interrupted: the fit was stopped before it finished; nothing was saved"
    ]
    assert "Saved" not in stdout
    assert list(tmp_path.iterdir()) == []  # no fit, no temporary


def test_ctrl_c_leaves_an_existing_fit_unchanged(example, example_csv, tmp_path):
    out = tmp_path / "fit.nc"
    bayesresp.fit(example, "baseline", draws=50, tune=50, chains=1, seed=2, progress=False).save(
        out
    )
    before = out.read_bytes()
    code, _, stderr = _interrupted_fit(example_csv, out, "--overwrite")
    assert code == 130
    assert stderr.splitlines() == [
        "interrupted: the fit was stopped before it finished; nothing was saved "
        f"({out} is unchanged)"
    ]
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]
    bayesresp.load_fit(out)  # still a whole fit
