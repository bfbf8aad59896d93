"""Fit files: one NetCDF (or Zarr) file that describes itself; never a pickle.

The file is an ArviZ-ready DataTree (``posterior``, ``sample_stats``,
``log_likelihood``, ``observed_data``) plus a ``fit_data`` group holding the rows the
model was fitted on, and root attributes:

``bayesresp_format``       ``"bayesresp-fit"`` (what makes it ours)
``bayesresp_format_version`` integer; a newer version than this package reads is refused
``bayesresp_version``, ``pymc_version``, ``arviz_version``, ``python_version``
``spec``, ``codebook``, ``design``, ``meta``   JSON text
``data_sha256``            hash of the stored rows, checked on load
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp._version import __version__
from bayesresp.data.codebook import Codebook
from bayesresp.errors import FitFileError
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import DesignInfo
from bayesresp.model.spec import ModelSpec

FORMAT = "bayesresp-fit"
FORMAT_VERSION = 1
_GROUPS = ("posterior", "sample_stats", "log_likelihood", "observed_data", "fit_data")


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


def _versions() -> dict[str, str]:
    import arviz
    import pymc

    return {
        "bayesresp_version": __version__,
        "pymc_version": pymc.__version__,
        "arviz_version": arviz.__version__,
        "python_version": platform.python_version(),
    }


def save_fit(fit, path: str | Path) -> Path:
    """Write ``fit`` to ``path`` (``.nc`` NetCDF, or ``.zarr``)."""
    path = Path(path)
    table = _data_table(fit.data)
    tree = fit.tree.copy()
    tree["fit_data"] = xr.DataTree(table)
    sample_stats = tree["sample_stats"].to_dataset()
    text_stats = [v for v in sample_stats.data_vars if sample_stats[v].dtype == object]
    if text_stats:  # nutpie's divergence messages: text of varying length, not needed
        tree["sample_stats"] = xr.DataTree(sample_stats.drop_vars(text_stats))
    tree.attrs = {
        "bayesresp_format": FORMAT,
        "bayesresp_format_version": FORMAT_VERSION,
        **_versions(),
        "spec": fit.spec.to_json(),
        "codebook": fit.codebook.to_json(),
        "design": json.dumps(fit.info.to_dict()),
        "meta": json.dumps(fit.meta),
        "data_sha256": _hash_table(table),
    }
    if path.suffix == ".zarr":
        tree.to_zarr(path, mode="w")
    else:
        tree.to_netcdf(path, engine="h5netcdf")
    return path


def load_fit(path: str | Path):
    """Read a fit written by :meth:`Fit.save`, checking that it is whole and ours.

    Raises
    ------
    FitFileError
        For a missing, truncated or corrupted file, a file from another tool, a file
        whose stored data no longer match their hash, or a newer format version.

    Examples
    --------
    >>> fit = bayesresp.load_fit("hierarchical.nc")  # doctest: +SKIP
    >>> fit.file_attrs["data_sha256"]  # doctest: +SKIP
    """
    from bayesresp.data.validation import check

    path = Path(path)
    if not path.exists():
        raise FitFileError(f"fit file not found: {path}")
    try:
        if path.suffix == ".zarr" or path.is_dir():
            tree = xr.open_datatree(path, engine="zarr").load()
        else:
            tree = xr.load_datatree(path, engine="h5netcdf")
    except Exception as exc:  # h5py/zarr raise many types for damaged files
        raise FitFileError(
            f"{path} cannot be read as a fit file (truncated, corrupted or not NetCDF/Zarr): "
            f"{type(exc).__name__}"
        ) from None
    attrs = tree.attrs
    if attrs.get("bayesresp_format") != FORMAT:
        raise FitFileError(f"{path} is not a bayesresp fit file (no bayesresp format marker)")
    version = int(attrs.get("bayesresp_format_version", -1))
    if version > FORMAT_VERSION:
        raise FitFileError(
            f"{path} was written in fit-file format {version} by bayesresp "
            f"{attrs.get('bayesresp_version', '?')}; this bayesresp reads format "
            f"{FORMAT_VERSION} and older: upgrade bayesresp"
        )
    missing = [g for g in _GROUPS if g not in tree.children]
    if missing:
        raise FitFileError(f"{path} lacks the group(s) {', '.join(missing)}: the file is damaged")
    table = tree["fit_data"].to_dataset()
    if _hash_table(table) != attrs.get("data_sha256"):
        raise FitFileError(
            f"{path}: the stored data do not match their recorded hash; the file was "
            "altered after it was written"
        )
    try:
        spec = ModelSpec.from_dict(json.loads(attrs["spec"]))
        codebook = Codebook(json.loads(attrs["codebook"]), origin=f"{path} (stored codebook)")
        info = DesignInfo.from_dict(json.loads(attrs["design"]))
        meta = json.loads(attrs["meta"])
    except (KeyError, ValueError, TypeError) as exc:
        raise FitFileError(f"{path}: damaged metadata ({type(exc).__name__}: {exc})") from None
    frame = pd.DataFrame({name: table[name].values for name in table.data_vars})
    report = check(frame, codebook)
    if not report.ok:
        raise FitFileError(f"{path}: the stored data break the stored codebook: {report.errors[0]}")
    data = report.data
    core = xr.DataTree()
    for g in _GROUPS[:-1]:
        core[g] = xr.DataTree(tree[g].to_dataset())
    return FittedModel(core, spec, codebook, data, info, meta, file_attrs=dict(attrs))
