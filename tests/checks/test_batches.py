"""Many fits at once (:mod:`bayesresp.inference.batches`): SBC on a Dask cluster gives
the local run's ranks, a store keeps each chunk as it arrives, and a run that was
stopped (a killed worker, or a killed run started again with the same store) ends with
the same ranks, bit for bit."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

import bayesresp
from bayesresp.errors import BatchError
from bayesresp.inference.batches import BatchStore

FORMULA = "response ~ severity + (1 | mission)"
KW = dict(simulations=6, draws=100, tune=100, n_posterior=19, seed=5, progress=False)


@pytest.fixture(scope="module")
def local():
    """The local runs in this process, one chunk at a time: each chunk's result depends
    on its simulations' seeds alone, wherever it runs, and this process compiles the
    model once for all of them (fresh worker processes would each pay it)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def data():
    return bayesresp.simulate(missions=4, rows=120, seed=2).data


@pytest.fixture(scope="module")
def uninterrupted(data, local, tmp_path_factory):
    """The reference: three chunks, a store written as they arrive."""
    store = tmp_path_factory.mktemp("sbc") / "store"
    result = bayesresp.sbc(data, FORMULA, store=store, chunks=3, executor=local, **KW)
    return result, store


def test_the_store_holds_every_chunk_and_reads_back_bit_for_bit(uninterrupted):
    result, store = uninterrupted
    parts = sorted(store.glob("part-*.nc"))
    assert len(parts) == 3 and (store / "batch.json").exists()
    assert not list(store.glob(".*tmp"))  # no temporary left behind
    settings = __import__("json").loads((store / "batch.json").read_text())["settings"]
    back = BatchStore(store, settings).finished()
    pd.testing.assert_frame_equal(back, result.ranks, check_names=False)


def test_a_run_stopped_midway_resumes_to_the_same_ranks(data, local, uninterrupted, tmp_path):
    """As if killed after one chunk: the store keeps one of three; the run started again
    (in two chunks of its own) fits only the four simulations missing, and its ranks are
    the uninterrupted run's."""
    result, store = uninterrupted
    stopped = tmp_path / "stopped"
    shutil.copytree(store, stopped)
    for part in sorted(stopped.glob("part-*.nc"))[1:]:
        part.unlink()
    resumed = bayesresp.sbc(data, FORMULA, store=stopped, chunks=2, executor=local, **KW)
    pd.testing.assert_frame_equal(resumed.ranks, result.ranks)
    assert len(list(stopped.glob("part-*.nc"))) == 3  # one kept, two new
    # a complete store runs nothing: the same ranks straight from it
    again = bayesresp.sbc(data, FORMULA, store=stopped, chunks=2, executor=local, **KW)
    pd.testing.assert_frame_equal(again.ranks, result.ranks)


def test_a_store_of_other_settings_is_refused(data, uninterrupted, tmp_path):
    _, store = uninterrupted
    with pytest.raises(BatchError, match=r"holds another batch.*differ in: seed"):
        bayesresp.sbc(data, FORMULA, store=store, **{**KW, "seed": 6})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(BatchError, match="holds other files"):
        BatchStore(foreign, {"a": 1})
    broken = tmp_path / "broken"
    shutil.copytree(store, broken)
    part = sorted(broken.glob("part-*.nc"))[0]
    part.write_bytes(part.read_bytes()[:200])
    settings = __import__("json").loads((store / "batch.json").read_text())["settings"]
    with pytest.raises(BatchError, match=f"{part.name} is unreadable"):
        BatchStore(broken, settings).finished()


def test_failed_tasks_are_reported_and_the_rest_kept(tmp_path):
    """One task of three fails: the other two are stored, and the error says so."""
    from concurrent.futures import ThreadPoolExecutor

    from bayesresp.inference.batches import run_batch

    store = BatchStore(tmp_path / "s", {"kind": "test"})
    with ThreadPoolExecutor(2) as pool, pytest.raises(BatchError) as err:
        run_batch(
            _work,
            np.arange(6),
            lambda part: {"units": part},
            pieces=3,
            store=store,
            executor=pool,
            progress=False,
            label="units",
        )
    assert "2 of 6 units failed (first: ValueError: unit 2 is bad)" in str(err.value)
    assert "the 4 finished are stored" in str(err.value)
    assert sorted(store.finished().index) == [0, 1, 4, 5]


def _work(task):
    if 2 in task["units"]:
        raise ValueError("unit 2 is bad")
    return pd.DataFrame({"x": task["units"] * 10}, index=pd.Index(task["units"]))


def test_sbc_on_a_dask_cluster_matches_the_local_run_even_when_a_worker_is_killed(
    data, uninterrupted, tmp_path
):
    """A LocalCluster of two worker processes: the ranks equal the local run's. Midway
    (after the first chunk is stored) one worker is killed; Dask reruns its chunk on
    another, and the ranks are still the same."""
    distributed = pytest.importorskip("distributed")
    result, _ = uninterrupted
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        store = tmp_path / "dask"
        killed = []

        def kill_one():
            deadline = time.time() + 300
            while time.time() < deadline and not list(store.glob("part-*.nc")):
                time.sleep(0.2)
            pids = client.run(os.getpid)
            pid = next(iter(pids.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

        killer = threading.Thread(target=kill_one, daemon=True)
        killer.start()
        on_dask = bayesresp.sbc(data, FORMULA, client=client, store=store, chunks=3, **KW)
        killer.join(timeout=60)
    assert killed, "no worker was killed"
    pd.testing.assert_frame_equal(on_dask.ranks, result.ranks)


def test_cli_says_in_one_line_when_the_scheduler_cannot_be_reached(run_cli, data, tmp_path):
    csv = tmp_path / "data.csv"
    data.to_csv(csv, index=False)
    out = run_cli(
        "sbc", str(csv), "--spec", "baseline", "--simulations", "2", "--draws", "20",
        "--scheduler", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert out.code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in out.err
    assert "Traceback" not in out.err
    again = run_cli(
        "sbc", str(csv), "--spec", "baseline", "--simulations", "2", "--draws", "20",
        "--store", str(tmp_path), "--seed", "1",
    )  # fmt: skip
    assert again.code == 2 and "holds other files" in again.err  # data.csv is there
