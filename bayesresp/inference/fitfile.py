"""Fit files: one NetCDF (or Zarr) file that describes itself; never a pickle.

The file is an ArviZ-ready DataTree (``posterior``, ``sample_stats``,
``log_likelihood``, ``observed_data``) plus a ``fit_data`` group holding the rows the
model was fitted on, and root attributes:

``bayesresp_format``       ``"bayesresp-fit"`` (what makes it ours)
``bayesresp_format_version`` integer; a newer version than this package reads is refused
``bayesresp_version``, ``pymc_version``, ``arviz_version``, ``python_version``
``spec``, ``codebook``, ``design``, ``meta``   JSON text
``data_sha256``            hash of the stored rows, checked on load
``group_sha256``           (format 2) JSON text: group -> sha256 of the group's content
                           (every variable and coordinate: name, dimensions, type, shape,
                           values), checked on load

**What load verifies.** :func:`load_fit` reads every group; a group that cannot be read
(a missing, truncated or corrupted chunk or variable) or whose content does not match
its recorded hash is refused with a :class:`FitFileError` naming the group. This also
catches a Zarr store with missing chunk files, which Zarr would otherwise fill silently
with NaN. NaN in the posterior draws is refused (naming the variable), and
:func:`save_fit` refuses to write such draws. Format 1 files (no ``group_sha256``) still
load, with what they allow checked: the hash of the stored rows, and no NaN draws.
The root attributes, which no hash covers, are read with the package's errors only: the
format version must be a whole number; ``spec``, ``codebook``, ``design`` and ``meta``
must be JSON objects (not nested deeper than Python can read) that build a usable
specification, codebook and design; the entries of ``meta`` that the package reads
(``seed``, ``sampler``, ``dropped`` ...) must be of their type. Anything else is a
:class:`FitFileError` naming the file and the attribute. A half-written NetCDF file is
refused with one error and nothing more: h5netcdf's complaint on collecting its
half-built file object is silenced.

**How a save stays atomic.** :func:`save_fit` writes a hidden temporary next to the
target (``.NAME.tmp-HOST-PID-RANDOM``), flushes it to disk (fsync) and only then puts it
in place, so that a reader, a crash or a kill at any instant finds either the whole old
fit or the whole new one:

- ``.nc``: ``os.replace`` of the temporary file onto the target, an atomic rename.
- ``.zarr`` (a directory, which no rename can replace whole): on Linux the two
  directories are exchanged in one atomic ``renameat2(RENAME_EXCHANGE)`` call, so the
  target path never disappears; the old store, now under the temporary name, is then
  removed. Where that call is missing (other systems, some file systems) the old store is
  renamed aside (``.NAME.old-HOST-PID-RANDOM``) and the new one renamed into place: in
  the instant between the two renames the target is absent and the old fit whole under
  the aside name, which :func:`load_fit` then points to.

Of concurrent writers to one path, the last to finish wins, and the file is always whole.
A failed or interrupted save (any exception, ``KeyboardInterrupt`` included) removes its
temporaries and leaves the target as it was. Temporaries of a killed process stay behind
until the next successful save to the same target removes them (those whose process,
on this host, no longer runs).

**Never deleting what the package did not write.** A save replaces an existing target
only if it is a bayesresp fit: a ``.nc`` file with the bayesresp format marker, or a
``.zarr`` directory with the marker in its root metadata and nothing in it but Zarr
metadata and chunks. Anything else (another file, a folder with other files in it, a
file that cannot be read) is refused with a :class:`FitFileError` and left unchanged.
The command line goes further and refuses any existing ``--out`` without
``--overwrite`` (:func:`check_target`, before sampling).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import gc
import hashlib
import json
import os
import platform
import secrets
import shutil
import socket
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp._version import __version__
from bayesresp.data.codebook import Codebook
from bayesresp.errors import BayesrespError, FitFileError, PriorError
from bayesresp.inference.record import FittedModel
from bayesresp.maths.links import get_link
from bayesresp.model.design import DesignInfo
from bayesresp.model.priors import default_priors, parse_prior
from bayesresp.model.spec import ModelSpec

FORMAT = "bayesresp-fit"
FORMAT_VERSION = 2
_GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data", "fit_data")
_DAMAGED = "the file is damaged (an interrupted copy or sync?)"


def _data_table(frame: pd.DataFrame) -> xr.Dataset:
    """The fitted rows as text and numbers (missing text as "", missing numbers as NaN)."""
    cols = {}
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            cols[name] = (("row",), s.astype("float64").to_numpy())
        else:
            text = s.astype(object).where(s.notna(), "").map(str)
            cols[name] = (("row",), text.to_numpy(dtype=str))
    return xr.Dataset(cols, coords={"row": np.arange(len(frame))})


def _hash_table(ds: xr.Dataset) -> str:
    h = hashlib.sha256()
    for name in sorted(ds.data_vars):
        h.update(name.encode())
        values = ds[name].values
        if values.dtype.kind in "US":
            h.update("\x1f".join(values.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(values, dtype="float64").tobytes())
    return h.hexdigest()


def _hash_dataset(ds: xr.Dataset) -> str:
    """sha256 of every variable and coordinate of a group: name, dimensions, type, shape
    and values. Text is hashed as text, whatever its storage type (NumPy's fixed-width or
    variable-width strings, Python objects), since NetCDF and Zarr return text in
    different types; every NaN is hashed alike."""
    h = hashlib.sha256()
    for name in sorted(str(n) for n in ds.variables):
        values = np.asarray(ds.variables[name].values)
        if values.dtype.kind in "USOT":
            flat = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel().tolist()]
            data = np.array(flat, dtype=str).reshape(values.shape)
            kind = f"text{data.dtype.itemsize}"
        else:
            data = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<"))
            if data.dtype.kind in "fc":
                data = np.where(np.isnan(data), np.array(np.nan, dtype=data.dtype), data)
            kind = data.dtype.str
        head = [name, list(map(str, ds.variables[name].dims)), kind, list(values.shape)]
        h.update(json.dumps(head).encode() + b"\n")
        h.update(np.ascontiguousarray(data).tobytes())
    return h.hexdigest()


def _nan_variables(ds: xr.Dataset) -> list[str]:
    """The variables of ``ds`` with a NaN among their values."""
    return [
        str(name)
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fc" and bool(np.isnan(var.values).any())
    ]


def _versions() -> dict[str, str]:
    import arviz
    import pymc

    return {
        "bayesresp_version": __version__,
        "pymc_version": pymc.__version__,
        "arviz_version": arviz.__version__,
        "python_version": platform.python_version(),
    }


# -- whose is an existing file --------------------------------------------------------------
def _marker_of_nc(path: Path) -> object:
    import h5py

    with h5py.File(path, "r") as f:
        value = f.attrs.get("bayesresp_format")
    if isinstance(value, bytes):
        value = value.decode()
    return value


def _zarr_node_is_ours(folder: Path, root: bool) -> bool:
    """Whether a Zarr (v3) node holds nothing but Zarr metadata and chunks, and, at the
    root, carries the bayesresp format marker."""
    try:
        meta = json.loads((folder / "zarr.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict):
        return False
    if root and (meta.get("attributes") or {}).get("bayesresp_format") != FORMAT:
        return False
    kind = meta.get("node_type")
    for entry in folder.iterdir():
        if entry.name == "zarr.json" and entry.is_file() and not entry.is_symlink():
            continue
        if entry.is_symlink() or not entry.is_dir():
            return False
        if kind == "group" and _zarr_node_is_ours(entry, root=False):
            continue
        if kind == "array" and entry.name == "c" and _only_chunks(entry):
            continue
        return False
    return True


def _only_chunks(folder: Path) -> bool:
    """Whether a Zarr chunk folder holds only chunk files (numbered, nested by dimension)."""
    for entry in folder.iterdir():
        if not entry.name.isdigit() or entry.is_symlink():
            return False
        if entry.is_dir() and not _only_chunks(entry):
            return False
    return True


def _check_replaceable(path: Path, zarr: bool) -> None:
    """Refuse to replace anything at ``path`` but a bayesresp fit of the same kind."""
    if not os.path.lexists(path):
        return
    keep = "it is left unchanged: remove it yourself or choose another name"
    if zarr:
        if path.is_dir() and not path.is_symlink() and _zarr_node_is_ours(path, root=True):
            return
        raise FitFileError(
            f"{path} exists and is not a bayesresp fit (a Zarr store with the bayesresp "
            f"format marker and nothing else in it), so the fit was not saved over it; {keep}"
        )
    if path.is_file():
        try:
            if _marker_of_nc(path) == FORMAT:
                return
        except Exception:  # not HDF5, truncated: not something we know we wrote
            pass
    raise FitFileError(
        f"{path} exists and is not a readable bayesresp fit file, so the fit was not "
        f"saved over it; {keep}"
    )


def check_target(path: str | Path, overwrite: bool) -> None:
    """Raise :class:`FitFileError` unless a fit may be saved to ``path``: nothing is there,
    or (with ``overwrite``) a bayesresp fit is. The command line calls it before sampling."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise FitFileError(
            f"{path} exists: pass --overwrite to replace it, or choose another name for --out"
        )
    _check_replaceable(path, path.suffix == ".zarr")


# -- writing ---------------------------------------------------------------------------------
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _temp_name(path: Path, kind: str) -> Path:
    """A hidden name next to ``path`` that says whose it is: this host, this process."""
    return path.with_name(f".{path.name}.{kind}-{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _temporaries(path: Path, kind: str) -> list[Path]:
    """The hidden temporaries of saves to ``path`` of a kind (``tmp`` or ``old``)."""
    prefix = f".{path.name}.{kind}-"
    folder = path.absolute().parent
    try:
        return sorted(e for e in folder.iterdir() if e.name.startswith(prefix))
    except OSError:
        return []


def _stale_temporaries(path: Path) -> list[Path]:
    """Temporaries of saves to ``path`` by processes of this host that no longer run."""
    out = []
    for kind in ("tmp", "old"):
        prefix = f".{path.name}.{kind}-{_host_tag()}-"
        for entry in _temporaries(path, kind):
            pid = entry.name[len(prefix) :].split("-")[0] if entry.name.startswith(prefix) else ""
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                out.append(entry)
    return out


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush a file, or a folder's entries (POSIX only), to disk."""
    if directory and sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            _fsync(Path(root) / name)
        _fsync(Path(root), directory=True)


class _NoExchange(Exception):
    """The system cannot exchange two paths atomically."""


def _exchange(a: Path, b: Path) -> None:
    """Exchange two paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``)."""
    if not sys.platform.startswith("linux"):
        raise _NoExchange
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        raise _NoExchange from None
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        raise _NoExchange
    raise OSError(code, os.strerror(code), str(b))


def _swap_by_renames(new: Path, path: Path) -> None:
    """Put the directory ``new`` at ``path`` with two renames (old store aside, new one in
    place); the old store is removed afterwards, or put back if the second rename fails."""
    aside = _temp_name(path, "old")
    for _ in range(100):
        try:
            with contextlib.suppress(FileNotFoundError):  # nothing there yet
                os.rename(path, aside)
            os.rename(new, path)
        except BaseException as exc:
            if os.path.lexists(aside) and not os.path.lexists(path):
                os.rename(aside, path)  # put the old store back
            if isinstance(exc, OSError) and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                continue  # another writer put its store in place meanwhile: go again
            raise
        finally:
            if os.path.lexists(aside) and os.path.lexists(path):
                _remove(aside)  # the old store, replaced
        return
    raise FitFileError(f"{path}: could not put the new fit in place (too many concurrent writers)")


def _swap_in(new: Path, path: Path) -> None:
    """Put the directory ``new`` at ``path``; afterwards ``new`` holds the old store, if
    any, for the caller to remove."""
    for _ in range(100):
        try:
            _exchange(new, path)
            return
        except _NoExchange:
            _swap_by_renames(new, path)
            return
        except FileNotFoundError:  # nothing at path yet
            try:
                os.rename(new, path)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # another writer created it meanwhile: exchange with theirs
    raise FitFileError(f"{path}: could not put the new fit in place (too many concurrent writers)")


def _tree_to_write(fit) -> xr.DataTree:
    table = _data_table(fit.data)
    tree = fit.tree.copy()
    tree["fit_data"] = xr.DataTree(table)
    sample_stats = tree["sample_stats"].to_dataset()
    text_stats = [v for v in sample_stats.data_vars if sample_stats[v].dtype == object]
    if text_stats:  # nutpie's divergence messages: text of varying length, not needed
        tree["sample_stats"] = xr.DataTree(sample_stats.drop_vars(text_stats))
    hashes = {g: _hash_dataset(tree[g].to_dataset()) for g in _GROUPS}
    tree.attrs = {
        "bayesresp_format": FORMAT,
        "bayesresp_format_version": FORMAT_VERSION,
        **_versions(),
        "spec": fit.spec.to_json(),
        "codebook": fit.codebook.to_json(),
        "design": json.dumps(fit.info.to_dict()),
        "meta": json.dumps(fit.meta),
        "data_sha256": _hash_table(table),
        "group_sha256": json.dumps(hashes),
    }
    return tree


def save_fit(fit, path: str | Path) -> Path:
    """Write ``fit`` to ``path`` (``.nc`` NetCDF, or ``.zarr``), atomically.

    An existing bayesresp fit at ``path`` is replaced; anything else there is refused
    with :class:`FitFileError` and left unchanged. See the module notes for how the save
    stays atomic.
    """
    path = Path(path)
    zarr = path.suffix == ".zarr"
    nan = _nan_variables(fit.tree["posterior"].to_dataset())
    if nan:
        raise FitFileError(f"not saved to {path}: the posterior draws of {', '.join(nan)} hold NaN")
    _check_replaceable(path, zarr)
    tree = _tree_to_write(fit)
    temp = _temp_name(path, "tmp")
    try:
        if zarr:
            tree.to_zarr(temp, mode="w-")
            _fsync_tree(temp)
            _swap_in(temp, path)
        else:
            tree.to_netcdf(temp, engine="h5netcdf")
            _fsync(temp)
            os.replace(temp, path)
        _fsync(path.absolute().parent, directory=True)
    finally:
        _remove(temp)  # the new file on failure; the old store after a Zarr exchange
    for stale in _stale_temporaries(path):
        _remove(stale)
    return path


# -- reading ---------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_half_open_files():
    """Silence what a half-built ``h5netcdf.File`` prints when it is collected.

    When HDF5 metadata are damaged (a half-written file), ``h5netcdf.File.__init__``
    fails before it sets its attributes; its ``__del__`` then calls ``close()``, which
    raises ``AttributeError`` and Python prints "Exception ignored in ... Traceback" on
    stderr, after the package's own error line. While the guard holds (the caller drops
    the failed open's exception and collects garbage inside it), such exceptions raised
    by h5netcdf's own methods are dropped; any other goes to the usual hook."""
    previous = sys.unraisablehook

    def hook(unraisable):
        if getattr(unraisable.object, "__module__", "").startswith("h5netcdf"):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def load_fit(path: str | Path):
    """Read a fit written by :meth:`Fit.save`, checking that it is whole and ours.

    Every stored group is read and compared with its recorded hash; see the module notes.

    Raises
    ------
    FitFileError
        For a missing, truncated or corrupted file (naming the group that is damaged), a
        file from another tool, a file whose stored values no longer match their hash,
        NaN posterior draws, or a newer format version.

    Examples
    --------
    >>> fit = bayesresp.load_fit("hierarchical.nc")  # doctest: +SKIP
    >>> fit.file_attrs["group_sha256"]  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        aside = _temporaries(path, "old")
        hint = (
            f" (a save over it was interrupted: the previous fit is whole at {aside[0]}; "
            "rename it back)"
            if aside
            else ""
        )
        raise FitFileError(f"fit file not found: {path}{hint}")
    failed = None
    with _quiet_half_open_files():
        try:
            if path.suffix == ".zarr" or path.is_dir():
                tree = xr.open_datatree(path, engine="zarr")
            else:
                tree = xr.open_datatree(path, engine="h5netcdf")
        except Exception as exc:  # h5py/zarr raise many types for damaged files
            failed = type(exc).__name__
            del exc  # the half-built file objects go now, inside the guard
            gc.collect()
    if failed is not None:
        raise FitFileError(
            f"{path} cannot be read as a fit file (truncated, corrupted or not NetCDF/Zarr): "
            f"{failed}"
        )
    try:
        return _read(tree, path)
    finally:
        tree.close()


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scalar(value: object) -> object:
    """An attribute as a Python scalar: NetCDF stores numbers as one-element arrays."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        with contextlib.suppress(UnicodeDecodeError):
            value = value.decode("utf-8")
    return value


def _text_attr(attrs, name: str) -> str | None:
    """A text attribute, or None when it is absent or not text."""
    value = _scalar(attrs.get(name))
    return value if isinstance(value, str) else None


def _format_version(value: object, path: Path) -> int:
    version = _scalar(value)
    if isinstance(version, bool) or not isinstance(version, int):
        raise FitFileError(
            f"{path}: damaged metadata: the fit-file format version is "
            f"{_short(repr(version), 40)}, not a whole number"
        )
    return version


def _json_attr(attrs, name: str, path: Path) -> dict:
    """A JSON attribute that holds an object, read with the package's errors only."""
    raw = _scalar(attrs.get(name))
    where = f"{path}: damaged metadata: '{name}'"
    if raw is None:
        raise FitFileError(f"{where} is missing")
    if not isinstance(raw, str):
        raise FitFileError(f"{where} is a {type(raw).__name__}, not JSON text")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise FitFileError(f"{where} is JSON nested too deeply to read") from None
    except ValueError as exc:
        raise FitFileError(f"{where} is not valid JSON ({_short(exc)})") from None
    if not isinstance(value, dict):
        raise FitFileError(f"{where} holds {_json_kind(value)}, not a JSON object")
    return value


def _json_kind(value: object) -> str:
    """What a decoded JSON value is, in words (never its possibly huge or deep text)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the text {_short(repr(value), 40)}"
    return "null" if value is None else f"{json.dumps(value)}"


def _whole(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _real(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _text_map(v: object) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


#: What each entry of ``meta`` that the package reads must be: (test, what it expects).
_META = {
    "sampler": (lambda v: isinstance(v, str), "text"),
    "seed": (_whole, "a whole number of at least 0"),
    "draws": (_whole, "a whole number of at least 0"),
    "tune": (_whole, "a whole number of at least 0"),
    "chains": (_whole, "a whole number of at least 0"),
    "rows_fitted": (_whole, "a whole number of at least 0"),
    "target_accept": (_real, "a number"),
    "priors": (_text_map, "an object of text"),
    "dropped": (_text_map, "an object of text"),
    # seconds per stage; a stage a sampler does not have (PyMC's compile step) is null
    "timings": (
        lambda v: isinstance(v, dict) and all(x is None or _real(x) for x in v.values()),
        "numbers or null",
    ),
    "compressed": (lambda v: isinstance(v, bool), "true or false"),
    "centred": (lambda v: v is None or isinstance(v, bool), "true or false"),
    "centred_terms": (
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of text",
    ),
    "compiled": (lambda v: v is None or isinstance(v, str), "text"),
    "log_density": (lambda v: v is None or isinstance(v, str), "text"),
}


def _check_meta(meta: dict, path: Path) -> None:
    """Refuse a ``meta`` whose entries the package reads are of the wrong type (other
    entries, from newer versions, are kept as they are)."""
    for key, (ok, expected) in _META.items():
        if key in meta and not ok(meta[key]):
            raise FitFileError(
                f"{path}: damaged metadata: meta '{key}' is {_json_kind(meta[key])}; "
                f"expected {expected}"
            )


def _read(tree: xr.DataTree, path: Path) -> FittedModel:
    from bayesresp.data.validation import check

    attrs = tree.attrs
    if _text_attr(attrs, "bayesresp_format") != FORMAT:
        raise FitFileError(f"{path} is not a bayesresp fit file (no bayesresp format marker)")
    version = _format_version(attrs.get("bayesresp_format_version", -1), path)
    if version > FORMAT_VERSION:
        raise FitFileError(
            f"{path} was written in fit-file format {version} by bayesresp "
            f"{attrs.get('bayesresp_version', '?')}; this bayesresp reads format "
            f"{FORMAT_VERSION} and older: upgrade bayesresp"
        )
    missing = [g for g in _GROUPS if g not in tree.children]
    if missing:
        raise FitFileError(f"{path} lacks the group(s) {', '.join(missing)}: {_DAMAGED}")
    groups = {}
    for g in _GROUPS:
        try:
            groups[g] = tree[g].to_dataset().load()
        except Exception as exc:  # a missing or corrupted chunk, a bad variable
            raise FitFileError(
                f"{path}: the group '{g}' cannot be read ({type(exc).__name__}): {_DAMAGED}"
            ) from None
    if version >= 2:
        recorded = _json_attr(attrs, "group_sha256", path)
        absent = [g for g in _GROUPS if not isinstance(recorded.get(g), str)]
        if absent:
            raise FitFileError(
                f"{path}: damaged metadata: 'group_sha256' lacks the hash of the group(s) "
                f"{', '.join(absent)}"
            )
        for g in _GROUPS:
            if _hash_dataset(groups[g]) != recorded[g]:
                raise FitFileError(
                    f"{path}: the stored values of the group '{g}' do not match their "
                    f"recorded hash: {_DAMAGED}, or it was altered after it was written"
                )
    table = groups["fit_data"]
    if _hash_table(table) != _text_attr(attrs, "data_sha256"):
        raise FitFileError(
            f"{path}: the stored data do not match their recorded hash; the file was "
            "altered after it was written"
        )
    nan = _nan_variables(groups["posterior"])
    if nan:
        raise FitFileError(
            f"{path}: the posterior draws of {', '.join(nan)} hold NaN (in the group "
            f"'posterior'): {_DAMAGED}"
        )
    stored = {name: _json_attr(attrs, name, path) for name in ("spec", "codebook", "design")}
    meta = _json_attr(attrs, "meta", path)
    _check_meta(meta, path)
    name = "spec"
    try:
        spec = ModelSpec.from_dict(stored["spec"], origin=f"{path} (stored spec)", stored=True)
        name = "codebook"
        codebook = Codebook(stored["codebook"], origin=f"{path} (stored codebook)")
        name = "design"
        info = DesignInfo.from_dict(stored["design"])
    except BayesrespError as exc:
        raise FitFileError(f"{path}: damaged metadata: the stored {name}: {exc}") from None
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        # crafted or damaged JSON of the right outer type: say which, not a traceback
        raise FitFileError(
            f"{path}: damaged metadata: the stored {name} is not usable "
            f"({type(exc).__name__}: {_short(exc)})"
        ) from None
    frame = pd.DataFrame({name: table[name].values for name in table.data_vars})
    report = check(frame, codebook)
    if not report.ok:
        raise FitFileError(f"{path}: the stored data break the stored codebook: {report.errors[0]}")
    data = report.data
    core = xr.DataTree()
    for g in _GROUPS[:-1]:
        core[g] = xr.DataTree(groups[g])
    spec = _pin_former_default(spec, groups["posterior"], meta)
    return FittedModel(core, spec, codebook, data, info, meta, file_attrs=dict(attrs))


def _pin_former_default(spec: ModelSpec, posterior: xr.Dataset, meta: dict) -> ModelSpec:
    """The prior a fit's draws were made under, pinned in its loaded specification where
    today's reading of that specification would give another, so that what rebuilds the
    model from it (prior sensitivity, exact-LOO and K-fold refits, a refit) uses the
    prior its draws were made under.

    - Made before the r2d2 prior became the default (its posterior has no ``R2``), a
      specification that left ``b`` to the default ran under independent
      ``normal(0, s)`` coefficients (s: the link's scale).
    - An r2d2 fit's stored prior table says which r2d2 it ran under
      (``meta["priors"]["R2, shares"]``). Before the tied form (``r2d2(alpha=0.5,
      tail=1)``) became the default, a specification leaving ``b`` unset, or writing
      ``r2d2()`` or ``r2d2(alpha=...)``, meant the fixed form: pinned as the table says.
    """
    link = get_link(spec.link)
    if link.residual_variance is None:
        return spec  # the cauchit link: its default never changed
    if "R2" in posterior:
        used = (meta.get("priors") or {}).get("R2, shares")  # "r2d2(...)[: R2 ~ ...]"
        if not isinstance(used, str):
            return spec
        used = used.split(":", 1)[0].strip()
        now = spec.priors.get("b", default_priors(link.name)["b"])
        try:
            same = parse_prior(used, "b") == parse_prior(str(now), "b")
        except PriorError:
            return spec  # a table this version cannot read: leave the spec as written
        return spec if same else dataclasses.replace(spec, priors={**spec.priors, "b": used})
    if "b" in spec.priors:
        return spec  # an explicit b
    former = f"normal(0, {round(link.scale, 4):g})"
    return dataclasses.replace(spec, priors={**spec.priors, "b": former})
