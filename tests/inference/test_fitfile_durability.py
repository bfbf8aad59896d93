"""Fit files lose nothing and fail loudly: every group verified on load, atomic saves,
no deleting what the package did not write, concurrent writers (issue 14, items 1-4),
and the CLI's --overwrite."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

import bayesresp
from bayesresp.api import Fit
from bayesresp.errors import FitFileError
from bayesresp.inference import fitfile
from bayesresp.inference.fitfile import load_fit, save_fit

GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data", "fit_data")
# One variable of each group to damage: numbers, and text (fit_data's "severity").
VARIABLE = {
    "posterior": "b",
    "sample_stats": "step_size",
    "log_likelihood": "response",
    "observed_data": "response",
    "fit_data": "severity",
}
pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


@pytest.fixture(scope="module")
def fits():
    """Two distinguishable fits: a real small one, and a copy with shifted draws."""
    a = bayesresp.fit(
        bayesresp.load_example().head(300),
        "response ~ severity + (1 | mission)",
        draws=50,
        tune=50,
        chains=2,
        seed=1,
        progress=False,
    )
    tree = a.tree.copy()
    tree["posterior"] = xr.DataTree(tree["posterior"].to_dataset() + 0.25)
    b = Fit(tree, a.spec, a.codebook, a.data, a.info, {**a.meta, "seed": 2})
    return {"A": a, "B": b}


@pytest.fixture(scope="module")
def saved(fits, tmp_path_factory):
    """Each fit saved once in each format: the originals the tests copy."""
    folder = tmp_path_factory.mktemp("saved")
    return {
        (name, ext): save_fit(fit, folder / f"{name}{ext}")
        for name, fit in fits.items()
        for ext in (".nc", ".zarr")
    }


def _which(fit, fits) -> str | None:
    """Which of the two fits ``fit`` is, or None."""
    for name, other in fits.items():
        if fit.posterior.identical(other.posterior) and fit.meta == other.meta:
            return name
    return None


def _fingerprint(path: Path) -> str:
    """A hash of everything at ``path``: a file's bytes, or a folder's names and bytes."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*"))
    for p in files:
        h.update(str(p.relative_to(path.parent)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def _temporaries(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}."))


def _copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


# -- 1. every stored group is verified on load ------------------------------------------------
def test_both_formats_round_trip_with_a_hash_per_group(saved, fits):
    for ext in (".nc", ".zarr"):
        back = load_fit(saved["A", ext])
        assert _which(back, fits) == "A"
        assert back.file_attrs["bayesresp_format_version"] == 2
        assert sorted(json.loads(back.file_attrs["group_sha256"])) == sorted(GROUPS)


def _chunks(store: Path, group: str) -> list[Path]:
    return sorted(p for p in (store / group / VARIABLE[group] / "c").rglob("*") if p.is_file())


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("damage", ["remove a chunk", "corrupt a chunk", "remove a variable"])
def test_damaged_zarr_group_is_refused_naming_it(saved, tmp_path, group, damage):
    store = _copy(saved["A", ".zarr"], tmp_path / "fit.zarr")
    chunk = _chunks(store, group)[0]
    if damage == "remove a chunk":  # an interrupted copy or sync: Zarr reads NaN or 0
        chunk.unlink()
    elif damage == "corrupt a chunk":
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 0xFF
        chunk.write_bytes(bytes(data))
    else:
        shutil.rmtree(store / group / VARIABLE[group])
    with pytest.raises(FitFileError, match=f"group '{group}'.*damaged"):
        load_fit(store)


@pytest.mark.parametrize("group", GROUPS)
def test_damaged_netcdf_group_is_refused_naming_it(saved, tmp_path, group):
    path = _copy(saved["A", ".nc"], tmp_path / "fit.nc")
    with h5py.File(path, "r+") as f:  # one value of one variable, the file otherwise valid
        var = f[group][VARIABLE[group]]
        first = (0,) * var.ndim
        var[first] = b"other" if var.dtype.kind == "O" else var[first] + 1
    with pytest.raises(FitFileError, match=f"group '{group}'.*damaged"):
        load_fit(path)


def test_nan_draws_are_never_saved(fits, tmp_path):
    a = fits["A"]
    tree = a.tree.copy()
    post = tree["posterior"].to_dataset()
    post["b"] = post["b"].where(post["draw"] != 3)
    tree["posterior"] = xr.DataTree(post)
    broken = Fit(tree, a.spec, a.codebook, a.data, a.info, a.meta)
    with pytest.raises(FitFileError, match="posterior draws of b hold NaN"):
        save_fit(broken, tmp_path / "fit.nc")
    assert list(tmp_path.iterdir()) == []


def _as_format_1(src: Path, dst: Path) -> Path:
    """A fit file as this package wrote it before format 2: no per-group hashes."""
    engine = "zarr" if src.suffix == ".zarr" else "h5netcdf"
    tree = xr.open_datatree(src, engine=engine).load()
    attrs = {k: v for k, v in tree.attrs.items() if k != "group_sha256"}
    tree.attrs = {**attrs, "bayesresp_format_version": 1}
    if engine == "zarr":
        tree.to_zarr(dst)
    else:
        tree.to_netcdf(dst, engine=engine)
    return dst


@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_format_1_files_load_with_what_can_be_checked(saved, fits, tmp_path, ext):
    old = _as_format_1(saved["A", ext], tmp_path / f"old{ext}")
    back = load_fit(old)
    assert _which(back, fits) == "A" and back.file_attrs["bayesresp_format_version"] == 1
    if ext == ".zarr":  # a missing posterior chunk reads as NaN: refused by name
        _chunks(old, "posterior")[0].unlink()
        with pytest.raises(FitFileError, match="posterior draws of b hold NaN"):
            load_fit(old)


# -- 2. atomic saves, 4. concurrent writers ---------------------------------------------------
# A process that imports bayesresp once, then forks a writer per trial (a few ms instead of
# seconds of imports each). It loads the fits from NetCDF only: Zarr starts an I/O thread,
# which a fork would not copy.
SERVER = r"""
import os, sys, traceback, warnings
warnings.simplefilter("ignore")
from bayesresp.inference.fitfile import load_fit, save_fit
fits = [load_fit(p) for p in sys.argv[1:3]]

def writer(fit_numbers, target, gate=None, release=None):
    pid = os.fork()
    if pid:
        return pid
    try:
        if gate is not None:  # wait until the server closes the other end
            os.close(release)
            os.read(gate, 1)
        for i in fit_numbers:
            save_fit(fits[i], target)
        os._exit(0)
    except BaseException:
        traceback.print_exc()
        os._exit(1)

def forever():
    i = 0
    while True:
        yield i % 2
        i += 1

print("ready", flush=True)
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "loop":  # save the fits in turn over the target until killed
        print(writer(forever(), args[0]), flush=True)
    elif cmd == "wait":
        status = os.waitpid(int(args[0]), 0)[1]
        print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status),
              flush=True)
    elif cmd == "race":  # two writers, released at once, two saves each
        gate, release = os.pipe()
        pids = [writer(n * 2, args[0], gate, release) for n in ([0], [1])]
        os.close(gate)
        os.close(release)
        codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
        print(*codes, flush=True)
"""


class Server:
    def __init__(self, a: Path, b: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(a), str(b)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.ask() == "ready"

    def ask(self, line: str | None = None) -> str:
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


@pytest.fixture(scope="module")
def server(saved):
    s = Server(saved["A", ".nc"], saved["B", ".nc"])
    yield s
    s.close()


@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_a_save_killed_at_any_point_leaves_a_whole_fit(server, saved, fits, tmp_path, ext):
    target = _copy(saved["A", ext], tmp_path / f"fit{ext}")
    rng = random.Random(14 if ext == ".nc" else 15)
    killed = []
    for _ in range(12):
        pid = int(server.ask(f"loop {target}"))
        time.sleep(rng.uniform(0.0, 0.6))  # where the kill lands, not an assertion
        os.kill(pid, signal.SIGKILL)
        assert server.ask(f"wait {pid}") == str(int(signal.SIGKILL))  # killed, not failed
        killed.append(str(pid))
        assert _which(load_fit(target), fits) in ("A", "B")
        for name in _temporaries(target):  # only temporaries of killed writers
            assert name.split("-")[2] in killed, name
    save_fit(fits["B"], target)  # the next save removes the killed writers' temporaries
    assert _temporaries(target) == []
    assert _which(load_fit(target), fits) == "B"


@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_concurrent_writers_leave_one_whole_fit(server, fits, tmp_path, ext):
    target = tmp_path / f"fit{ext}"
    for _ in range(2):  # onto nothing, then over a fit
        assert server.ask(f"race {target}") == "0 0"
        assert _which(load_fit(target), fits) in ("A", "B")
        assert _temporaries(target) == []


@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_an_interrupted_save_changes_nothing_and_cleans_up(saved, fits, tmp_path, ext, monkeypatch):
    target = _copy(saved["A", ext], tmp_path / f"fit{ext}")
    before = _fingerprint(target)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fitfile, "_fsync", interrupt)  # after writing, before the rename
    with pytest.raises(KeyboardInterrupt):
        save_fit(fits["B"], target)
    assert _fingerprint(target) == before and _temporaries(target) == []


def test_zarr_swap_without_an_atomic_exchange(saved, fits, tmp_path, monkeypatch):
    """Where renameat2 is missing: two renames; load points to the old store aside if a
    kill lands between them."""

    def no_exchange(a, b):
        raise fitfile._NoExchange

    monkeypatch.setattr(fitfile, "_exchange", no_exchange)
    target = _copy(saved["A", ".zarr"], tmp_path / "fit.zarr")
    save_fit(fits["B"], target)
    assert _which(load_fit(target), fits) == "B" and _temporaries(target) == []
    aside = tmp_path / ".fit.zarr.old-00000000-1-00000000"
    target.rename(aside)  # as a kill between the two renames would leave it
    with pytest.raises(FitFileError, match=f"not found.*previous fit is whole at {aside}"):
        load_fit(target)


# -- 3. never delete what the package did not write ------------------------------------------
def _foreign_zarr_folder(tmp_path: Path, saved) -> list[Path]:
    plain = tmp_path / "plain.zarr"
    plain.mkdir()
    (plain / "notes.txt").write_text("my notes")
    extra = _copy(saved["A", ".zarr"], tmp_path / "extra.zarr")  # a fit, plus a user's file
    (extra / "posterior" / "notes.txt").write_text("my notes")
    other = tmp_path / "other.zarr"  # a Zarr store from another tool
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_zarr(other)
    return [plain, extra, other]


def _foreign_nc(tmp_path: Path) -> list[Path]:
    text = tmp_path / "text.nc"
    text.write_text("not NetCDF at all")
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(other, engine="h5netcdf")
    folder = tmp_path / "folder.nc"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    return [text, other, folder]


@pytest.mark.parametrize("kind", [".zarr", ".nc"])
def test_what_is_not_a_bayesresp_fit_is_never_replaced(saved, fits, tmp_path, kind):
    targets = _foreign_zarr_folder(tmp_path, saved) if kind == ".zarr" else _foreign_nc(tmp_path)
    for target in targets:
        before = _fingerprint(target)
        with pytest.raises(FitFileError, match=f"{target} exists and is not .*left unchanged"):
            save_fit(fits["B"], target)
        assert _fingerprint(target) == before and _temporaries(target) == []


# -- 5. the command line refuses to overwrite without --overwrite ----------------------------
@pytest.mark.parametrize("ext", [".nc", ".zarr"])
def test_cli_refuses_an_existing_out_before_sampling(
    saved, fits, tmp_path, ext, run_cli, monkeypatch
):
    import bayesresp.api

    def must_not_sample(*args, **kwargs):
        raise AssertionError("sampled before refusing")

    monkeypatch.setattr(bayesresp.api, "fit", must_not_sample)
    data = tmp_path / "d.csv"
    fits["A"].data.to_csv(data, index=False)
    out = _copy(saved["A", ext], tmp_path / f"fit{ext}")
    before = _fingerprint(out)
    res = run_cli("fit", data, "--spec", "baseline", "--out", out, "--quiet")
    assert res.code == 2 and "Traceback" not in res.err
    assert res.err.count("\n") == 1 and res.err.startswith("error: ")
    assert f"{out} exists: pass --overwrite" in res.err
    assert _fingerprint(out) == before
    # --overwrite replaces only a bayesresp fit; anything else is refused all the same.
    foreign = tmp_path / f"foreign{ext}"
    if ext == ".zarr":
        foreign.mkdir()
        (foreign / "notes.txt").write_text("my notes")
    else:
        foreign.write_text("not NetCDF")
    res = run_cli("fit", data, "--spec", "baseline", "--out", foreign, "--overwrite", "--quiet")
    assert res.code == 2 and res.err.count("\n") == 1 and "is not a" in res.err
    monkeypatch.setattr(bayesresp.api, "fit", lambda *args, **kwargs: fits["B"])
    res = run_cli("fit", data, "--spec", "baseline", "--out", out, "--overwrite", "--quiet")
    assert res.code == 0, res.err
    assert _which(load_fit(out), fits) == "B" and _temporaries(out) == []
