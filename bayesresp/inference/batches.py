"""Many fits at once: a batch of tasks on local processes or a Dask cluster, each result
written to the batch's store as it arrives, and a killed run resumed where it stopped.

Simulation-based calibration runs its fits here (:func:`bayesresp.sbc`); a task is a
piece of the batch's units (simulations), and its result one table row per unit.

**Where tasks run.** Local processes by default (one per core, started fresh:
``spawn``); any :class:`concurrent.futures.Executor`; or a Dask ``distributed.Client``
(``client=``; ``--scheduler ADDRESS`` on the command line), whose workers each compile
a model once and reuse it for every task of the same structure. Each unit carries its
own seed, so where and in which piece it runs does not change its result.

**The store** (``store=``, a folder): ``batch.json`` says what the batch computes (its
settings and their SHA-256), and each finished task is one NetCDF file (its units' rows
and the batch's hash), written to a temporary name, flushed to disk and renamed into
place, so that a file is either whole or absent. A run given a store reads the units
already finished, sends only the others (in pieces of its own), and returns the same
table as an uninterrupted run would: bit for bit, since every unit's result depends on
its seed alone. A store made for other settings is refused, not mixed in.

**Failures.** A task that fails does not stop the others; their results are stored, and
at the end :class:`~bayesresp.errors.BatchError` says how many failed and why the first
did (run again with the same store to retry them). An interrupt stops the batch and keeps
what was stored. The progress bar counts units done, failed and remaining.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.errors import BatchError
from bayesresp.progress import bar

#: The store's description of its batch.
MANIFEST = "batch.json"
FORMAT = 1


def settings_hash(settings: dict[str, Any]) -> str:
    """SHA-256 of the settings' canonical JSON (sorted keys)."""
    text = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def versions() -> dict[str, str]:
    """The versions a batch's results depend on (an upgrade between runs must not mix
    old results with new ones): this package, PyMC, nutpie, NumPy."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bayesresp", "pymc", "nutpie", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's values, index and column names (what a batch's data are)."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    return digest.hexdigest()


class BatchStore:
    """A folder holding one batch's finished results (module docstring)."""

    def __init__(self, path: str | Path, settings: dict[str, Any]):
        self.path = Path(path)
        self.settings = settings
        self.hash = settings_hash(settings)
        manifest = self.path / MANIFEST
        if self.path.exists() and not self.path.is_dir():
            raise BatchError(f"batch store {self.path}: a file is there, not a folder")
        if manifest.exists():
            try:
                found = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise BatchError(f"batch store {self.path}: {MANIFEST} unreadable ({exc})") from exc
            if found.get("hash") != self.hash:
                differ = sorted(
                    k
                    for k in set(settings) | set(found.get("settings", {}))
                    if json.dumps(settings.get(k), sort_keys=True, default=str)
                    != json.dumps(found.get("settings", {}).get(k), sort_keys=True, default=str)
                )
                raise BatchError(
                    f"batch store {self.path} holds another batch (its settings differ in: "
                    f"{', '.join(differ) or 'format'}); give a new store, or the settings "
                    "it was made with"
                )
        else:
            if self.path.exists() and any(self._own_files()):
                raise BatchError(
                    f"batch store {self.path}: the folder holds other files and no "
                    f"{MANIFEST}; give an empty or new folder"
                )
            self.path.mkdir(parents=True, exist_ok=True)
            _atomic_write(
                manifest,
                lambda tmp: tmp.write_text(
                    json.dumps(
                        {"format": FORMAT, "hash": self.hash, "settings": settings},
                        indent=2,
                        sort_keys=True,
                        default=str,
                    ),
                    encoding="utf-8",
                ),
            )

    def _own_files(self):
        """The folder's entries, less temporary files a killed writer left (removed)."""
        for entry in self.path.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                entry.unlink(missing_ok=True)
                continue
            yield entry

    def finished(self) -> pd.DataFrame | None:
        """Every stored row (None: nothing stored yet); each file is read whole and must
        carry this batch's hash."""
        parts = []
        for file in sorted(self.path.glob("part-*.nc")):
            try:
                with xr.open_dataset(file, engine="h5netcdf") as ds:
                    ds.load()
            except Exception as exc:  # an unreadable file: say which
                raise BatchError(
                    f"batch store {self.path}: {file.name} is unreadable ({exc})"
                ) from exc
            if ds.attrs.get("batch_hash") != self.hash:
                raise BatchError(
                    f"batch store {self.path}: {file.name} belongs to another batch; "
                    "remove it or give a new store"
                )
            parts.append(_to_frame(ds))
        if not parts:
            return None
        rows = pd.concat(parts).sort_index()
        # Two runs that split the units differently may both have stored one: the same
        # unit's rows must agree (its result depends on its seed alone), and it counts once.
        repeated = rows.index.duplicated(keep=False)
        if repeated.any():
            twice = rows[repeated]
            for unit, group in twice.groupby(level=0):
                if not all(group.iloc[0].equals(group.iloc[k]) for k in range(1, len(group))):
                    raise BatchError(
                        f"batch store {self.path}: unit {unit} is stored twice with different "
                        "results; the store is not one batch's: give a new store"
                    )
            rows = rows[~rows.index.duplicated(keep="first")]
        return rows

    def put(self, rows: pd.DataFrame) -> Path:
        """Store one task's rows (atomically), named by its first unit."""
        first = int(rows.index.min())
        path = self.path / f"part-{first:08d}-{len(rows):06d}.nc"
        ds = _to_dataset(rows)
        ds.attrs["batch_hash"] = self.hash
        _atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
        return path


def _to_dataset(rows: pd.DataFrame) -> xr.Dataset:
    """A table as one variable per column (each keeps its type), the column labels in
    order as JSON. Labels must be strings: a table that could not be read back exactly
    is refused rather than stored."""
    labels = list(rows.columns)
    if not all(isinstance(c, str) for c in labels):
        raise BatchError(f"a batch result's columns must be named by strings, not {labels!r}")
    return xr.Dataset(
        {f"c{i}": ("unit", rows[c].to_numpy()) for i, c in enumerate(labels)},
        coords={"unit": rows.index.to_numpy()},
        attrs={"columns": json.dumps(labels), "index_name": rows.index.name or ""},
    )


def _to_frame(ds: xr.Dataset) -> pd.DataFrame:
    labels = json.loads(ds.attrs["columns"])
    return pd.DataFrame(
        {c: ds[f"c{i}"].values for i, c in enumerate(labels)},
        index=pd.Index(ds["unit"].values, name=ds.attrs.get("index_name") or None),
    )


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through a temporary file in the same folder (a name no other process
    uses), flush it, rename it into place, and flush the folder's entry."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        if tmp.exists():
            tmp.unlink()


def run_batch(
    work: Callable[[dict[str, Any]], pd.DataFrame],
    units: np.ndarray,
    make_task: Callable[[np.ndarray], dict[str, Any]],
    *,
    pieces: int | list[np.ndarray] | None = None,
    store: BatchStore | None = None,
    executor: Executor | None = None,
    client: Any = None,
    progress: bool = True,
    label: str = "fits",
) -> pd.DataFrame:
    """Run ``work`` over the ``units`` (integer labels) in ``pieces`` tasks and return
    all their rows, sorted by unit.

    ``make_task(units)`` builds the task of a piece (everything ``work`` needs, picklable;
    ``work`` must be importable by the workers). ``pieces``: how many pieces to split the
    units to run into (None: four per core, or per Dask worker thread, so that the
    workers stay busy to the end), or the pieces themselves (arrays of units, each one
    task: the
    folds of K-fold cross-validation). With a ``store``, units already stored are not run
    again, and each task's rows are stored as they arrive.
    """
    done = store.finished() if store is not None else None
    todo = units if done is None else np.setdiff1d(units, done.index.to_numpy())
    results = [] if done is None else [done.loc[done.index.isin(units)]]
    if pieces is None:
        slots = sum(client.nthreads().values()) if client is not None else os.cpu_count()
        pieces = 4 * (slots or 1)
    if isinstance(pieces, int) and pieces < 1:
        raise ValueError(f"pieces (chunks): 1 or more, not {pieces}")
    if todo.size:
        results += _run(work, todo, make_task, pieces, store, executor, client, progress, label)
    if not results:
        return pd.DataFrame()
    return pd.concat(results).sort_index()


class InProcess(Executor):
    """Runs each task in this process, one at a time (work whose compiled models this
    process already holds: refits of a fit just made). :func:`run_batch` sends it one
    task at a time, so that each result is stored before the next task starts."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # an interrupt is not a task's failure: it propagates
            future.set_exception(exc)
        return future


def _run(work, todo, make_task, pieces, store, executor, client, progress, label):
    if isinstance(pieces, int):
        parts = np.array_split(todo, min(pieces, todo.size))
    else:  # given pieces, less their units already done
        parts = [np.intersect1d(np.asarray(p), todo) for p in pieces]
    tasks = [make_task(part) for part in parts if part.size]
    own = executor is None and client is None
    if client is not None:
        executor = client.get_executor(pure=False)
    elif own:
        executor = ProcessPoolExecutor(
            max_workers=min(len(tasks), os.cpu_count() or 1),
            mp_context=multiprocessing.get_context("spawn"),
        )
    rows, failed, first_error, futures = [], 0, None, {}
    try:
        with bar(int(todo.size), f"{label} (done)", progress) as shown:
            if isinstance(executor, InProcess):  # one at a time: each stored as it ends
                finished = (executor.submit(work, task) for task in tasks)
                sizes = [len(task_units(task)) for task in tasks]
                outcomes = zip(finished, sizes, strict=True)
            else:
                futures = {executor.submit(work, task): len(task_units(task)) for task in tasks}
                outcomes = ((f, futures[f]) for f in as_completed(futures))
            for future, size in outcomes:
                try:
                    result = future.result()
                except Exception as exc:  # one task's failure does not stop the others
                    failed += size
                    first_error = first_error or exc
                    shown.set_postfix(failed=failed, refresh=False)
                    continue
                if store is not None:
                    store.put(result)
                rows.append(result)
                shown.update(len(result))
    finally:
        if own:  # after an interrupt, the tasks not yet started are dropped
            executor.shutdown(cancel_futures=True)
        else:  # a cluster's or caller's executor: cancel what this run sent and left
            for future in futures:
                future.cancel()
            if client is not None:
                executor.shutdown(wait=False)  # Dask's ClientExecutor cancels its tasks
    if failed:
        finished = int(todo.size) - failed
        kept = f"; the {finished} finished are stored in {store.path}" if store else ""
        raise BatchError(
            f"{failed} of {int(todo.size)} {label} failed (first: "
            f"{type(first_error).__name__}: {first_error}){kept}; run again"
            + (" with the same store to retry only them" if store else "")
        ) from first_error
    return rows


def task_units(task: dict[str, Any]) -> np.ndarray:
    """The units a task covers (every task names them under ``units``)."""
    return np.asarray(task["units"])
