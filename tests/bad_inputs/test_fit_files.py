"""Bad inputs around fit files (issue 14, items 14 and 15): crafted root attributes, a
half-written NetCDF file, and ``compare`` given fits with the same file name.

A crafted file is the saved fit with one root attribute changed (no hash covers the
attributes); each is refused by every command that reads fits with one ``error:`` line
naming the file and what is wrong, exit status 2, and neither file changed.
"""

from __future__ import annotations

import io
import json
import shutil

import h5py
import pandas as pd
import pytest

NESTED = "[" * 100_000 + "]" * 100_000  # json.loads: RecursionError


def _meta(saved_fit) -> dict:
    with h5py.File(saved_fit, "r") as f:
        return json.loads(f.attrs["meta"])


CRAFTED = {
    # name: (attributes to set, given the stored meta; what the error line must name)
    "a non-numeric format version": (
        lambda meta: {"bayesresp_format_version": "two"},
        ["format version", "'two'", "not a whole number"],
    ),
    "deeply nested JSON in meta": (
        lambda meta: {"meta": NESTED},
        ["'meta'", "nested too deeply"],
    ),
    "deeply nested JSON in the group hashes": (
        lambda meta: {"group_sha256": NESTED},
        ["'group_sha256'", "nested too deeply"],
    ),
    "a list-valued meta": (
        lambda meta: {"meta": json.dumps([meta])},
        ["'meta'", "an array", "not a JSON object"],
    ),
    "a meta seed that is text": (
        lambda meta: {"meta": json.dumps(dict(meta, seed="one"))},
        ["meta 'seed'", "'one'", "whole number"],
    ),
    "a meta 'dropped' that is a number": (
        lambda meta: {"meta": json.dumps(dict(meta, dropped=5))},
        ["meta 'dropped'", "5"],
    ),
    "a spec that is not an object": (
        lambda meta: {"spec": json.dumps("response ~ severity")},
        ["'spec'", "not a JSON object"],
    ),
    "a design that lacks its parts": (
        lambda meta: {"design": json.dumps({"outcome": "response"})},
        ["stored design", "not usable"],
    ),
    "meta that is not text": (
        lambda meta: {"meta": 7},
        ["'meta'", "not JSON text"],
    ),
}


@pytest.fixture(scope="module")
def profiles(tmp_path_factory, example_raw):
    path = tmp_path_factory.mktemp("profiles") / "profiles.csv"
    example_raw.head(2).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_fit_file_is_one_error_line_naming_it(
    refuses, saved_fit, profiles, tmp_path, case
):
    attrs, what = CRAFTED[case]
    path = tmp_path / "crafted.nc"
    shutil.copy(saved_fit, path)
    with h5py.File(path, "r+") as f:
        for key, value in attrs(_meta(saved_fit)).items():
            f.attrs[key] = value
    for command in (["summary"], ["diagnose"], ["whatif"], ["effects"]):
        args = [*command, path, *([profiles] if command == ["whatif"] else [])]
        names = [str(path), "damaged metadata", *what]
        refuses(*args, status=2, names=names, keep=[path, saved_fit, profiles])


@pytest.mark.parametrize("kept", [0.001, 0.02])
def test_a_half_written_netcdf_file_is_one_error_line_and_nothing_more(
    refuses_in_a_process, saved_fit, tmp_path, kept
):
    """The start of the file written, the rest still zeros (a preallocated file whose
    writer was killed): h5netcdf fails in its constructor and, when the half-built file
    object is collected, printed "Exception ignored in ... Traceback" after the error line
    (maybe only at interpreter exit: hence a real process)."""
    data = saved_fit.read_bytes()
    path = tmp_path / "half.nc"
    path.write_bytes(data[: int(len(data) * kept)] + bytes(len(data) - int(len(data) * kept)))
    for command in ("summary", "diagnose"):
        refuses_in_a_process(
            command, path, status=2, names=[str(path), "cannot be read"], keep=[path]
        )


def test_compare_never_merges_fits_with_the_same_file_name(refuses, run_cli, saved_fit, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = shutil.copy(saved_fit, tmp_path / "a" / "fit.nc")
    b = shutil.copy(saved_fit, tmp_path / "b" / "fit.nc")
    res = run_cli("compare", a, b, "--no-refit", "--format", "csv")
    assert res.code == 0, res.err
    table = pd.read_csv(io.StringIO(res.out), index_col=0)
    assert sorted(table.index) == ["a/fit", "b/fit"]
    # One file given twice, by any path, is refused: a fit compared with itself.
    refuses(
        "compare",
        a,
        tmp_path / "b" / ".." / "a" / "fit.nc",
        "--no-refit",
        status=2,
        names=[str(tmp_path / "b" / ".." / "a" / "fit.nc"), "given twice"],
        keep=[a, b],
    )


def test_what_earlier_saves_hold_still_loads(run_cli, saved_fit, tmp_path):
    """Not bad input: a PyMC-sampled fit has no compile time (null in meta's timings),
    and a spec saved before 0.2 may hold [blocks] keys that match no term (they were
    ignored then). Both load as they were saved."""
    path = tmp_path / "earlier.nc"
    shutil.copy(saved_fit, path)
    meta = _meta(saved_fit)
    with h5py.File(path, "r+") as f:
        spec = json.loads(f.attrs["spec"])
        spec["blocks"] = {"duty_location:interlocutor": "positional"}
        f.attrs["spec"] = json.dumps(spec)
        timings = dict(meta.get("timings") or {}, compile=None)
        f.attrs["meta"] = json.dumps(dict(meta, timings=timings))
    res = run_cli("summary", path)
    assert res.code == 0, res.err
    import bayesresp

    fit = bayesresp.load_fit(path)
    assert fit.spec.blocks == {"duty_location:interlocutor": "positional"}
    assert fit.meta["timings"]["compile"] is None
