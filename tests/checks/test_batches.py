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
    pd.testing.assert_frame_equal(back, result.ranks)


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
    # a complete store runs nothing: the same ranks straight from it (a NumPy integer
    # seed is the same setting as a Python one)
    again = bayesresp.sbc(
        data, FORMULA, store=stopped, chunks=2, executor=local, **{**KW, "seed": np.int64(5)}
    )
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
    data, uninterrupted, tmp_path, dask_client
):
    """A LocalCluster of two worker processes: the ranks equal the local run's. Midway
    (as soon as a worker is seen running a chunk) that worker is killed; Dask reruns its
    chunk on another, and the ranks are still the same. (Waiting for the first chunk to
    be stored first raced with the batch's end: with the compiled model reused, the
    other chunks could all finish before the killer saw a busy worker.)"""
    result, _ = uninterrupted
    client = dask_client
    store = tmp_path / "dask"
    killed, returned = [], []

    def kill_a_busy_worker():
        deadline = time.time() + 300
        while time.time() < deadline and not returned:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(time.time())
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    on_dask = bayesresp.sbc(data, FORMULA, client=client, store=store, chunks=6, **KW)
    returned.append(time.time())
    killer.join(timeout=60)
    assert killed and killed[0] < returned[0], "no busy worker was killed during the run"
    pd.testing.assert_frame_equal(on_dask.ranks, result.ranks)


def test_the_store_keeps_types_and_counts_a_unit_stored_twice_once(tmp_path):
    """Each column comes back with its type; a unit two runs both stored (their pieces
    split differently) counts once, and a unit stored with two different results is
    refused; columns that could not be read back exactly are refused before writing; a
    temporary file a killed writer left is not mistaken for a foreign file."""
    store = BatchStore(tmp_path / "s", {"kind": "test"})
    rows = pd.DataFrame(
        {"n": np.array([1, 2, 3]), "x": [0.5, 1.5, 2.5], "ok": [True, False, True]},
        index=pd.Index([0, 1, 2]),
    )
    store.put(rows.iloc[:2])
    store.put(rows.iloc[1:])  # unit 1 twice, the same
    pd.testing.assert_frame_equal(store.finished(), rows)
    store.put(rows.iloc[[1]].assign(x=9.0))  # unit 1 a third time, different
    with pytest.raises(BatchError, match="unit 1 is stored twice with different results"):
        store.finished()
    with pytest.raises(BatchError, match="named by strings"):
        store.put(pd.DataFrame({0: [1]}, index=[5]))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".batch.json.77-abc.tmp").write_text("half")
    BatchStore(fresh, {"kind": "test"})  # accepted: the leftover is removed
    assert sorted(p.name for p in fresh.iterdir()) == ["batch.json"]


def test_cli_says_in_one_line_when_the_scheduler_cannot_be_reached(
    run_cli, data, tmp_path, monkeypatch
):
    import distributed

    # The command line gives a scheduler 10 s to answer (Client(address, timeout="10s")),
    # retrying all along; nothing listens on port 9, so here it gives up after 1 s: the
    # same error, and the same message, 9 s sooner.
    client = distributed.Client

    def sooner(address, timeout=None, **kwargs):
        return client(address, timeout="1s", **kwargs)

    monkeypatch.setattr(distributed, "Client", sooner)
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
