"""The notebooks in notebooks/: each runs top to bottom, and is committed either without
outputs or with the outputs the documentation site's build wrote for its current code.

Every notebook reads its sampling settings from the environment
(``BAYESRESP_NOTEBOOK_DRAWS``, ``_TUNE``, ``_CHAINS``; full settings by default); here
they run with reduced ones, enough to execute every cell, not to read results. The
kernel is this interpreter (``sys.executable``), through a kernel spec written to a
temporary directory, so the notebooks run against the installed package whatever
kernels the machine has. The working directory and TMPDIR are temporary ones under
pytest's tmp_path: a notebook that writes a file by a relative path writes it there,
never into the repository.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = (
    "01_quickstart.ipynb",
    "02_what_if.ipynb",
    "03_model_comparison.ipynb",
    "04_your_own_codebook.ipynb",
    "05_coded_data.ipynb",
    "06_planning_a_study.ipynb",
)
FOUND = sorted(NOTEBOOKS.glob("*.ipynb"))
REDUCED = {
    "BAYESRESP_NOTEBOOK_DRAWS": "100",
    "BAYESRESP_NOTEBOOK_TUNE": "100",
    "BAYESRESP_NOTEBOOK_CHAINS": "2",
}
KERNEL = "bayesresp-notebook-test"
CELL_TIMEOUT = 600  # seconds for any one cell


def test_the_notebooks_exist():
    names = {p.name for p in FOUND}
    assert set(EXPECTED) <= names, f"missing: {sorted(set(EXPECTED) - names)}"


def _outputs_module():
    """docs/_ext/notebook_outputs.py, which writes the site's outputs into notebooks/."""
    ext = str(NOTEBOOKS.parent / "docs" / "_ext")
    sys.path.insert(0, ext)
    try:
        import notebook_outputs
    finally:
        sys.path.remove(ext)
    return notebook_outputs


@pytest.mark.parametrize("path", FOUND, ids=[p.stem for p in FOUND])
def test_notebook_outputs_are_the_sites_for_this_code(path):
    """A notebook is committed either without outputs, or with the outputs the site's
    build wrote into it (make docs) for exactly its current code cells: plots as PNG,
    tables and text, no widget state, a stamp saying what made them."""
    outputs = _outputs_module()
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(code[0]["source"]) if code else ""
    assert "BAYESRESP_NOTEBOOK_DRAWS" in first, (
        f"{path.name}: the first code cell must read BAYESRESP_NOTEBOOK_DRAWS"
    )
    carried = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    stamp = nb.get("metadata", {}).get(outputs.STAMP)
    if not carried:
        assert stamp is None, f"{path.name}: a stamp of outputs, but no outputs"
        return
    assert stamp is not None, (
        f"{path.name}: code cells {carried} carry outputs that no site build wrote; "
        "strip them, or run make docs"
    )
    assert stamp["code"] == outputs.code_digest(nb), (
        f"{path.name}: its code changed after make docs wrote its outputs; "
        "run make docs again (or strip the outputs)"
    )
    assert stamp["settings"] == "defaults" and stamp["made_by"] == "make docs"
    assert "widgets" not in nb.get("metadata", {})
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] in ("stream", "display_data", "execute_result"), out
            assert set(out.get("data", {})) <= set(outputs.KEPT), set(out.get("data", {}))
    assert len(raw.encode()) < 3_000_000, f"{path.name}: {len(raw.encode())} bytes"


def _cell(source, outputs=(), cell_id=None):
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": list(outputs)}
    cell["source"] = source
    if cell_id:
        cell["id"] = cell_id
    return cell


def test_site_outputs_are_written_back_filtered_and_only_beside_their_code(tmp_path, monkeypatch):
    outputs = _outputs_module()
    for key in [k for k in __import__("os").environ if k.startswith("BAYESRESP_NOTEBOOK_")]:
        monkeypatch.delenv(key)
    md = {"cell_type": "markdown", "metadata": {}, "source": ["# A notebook\n"]}
    repository = {
        "cells": [md, _cell(["x = 1\n", "x"])],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    rich = {
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {"image/png": {"width": 10}},
        "data": {
            "text/plain": "1",
            "image/png": "iVBOR",
            "image/svg+xml": "<svg/>",
            "application/vnd.jupyter.widget-view+json": {"model_id": "m"},
            "application/javascript": "alert(1)",
        },
    }
    widget_only = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}},
    }
    package = outputs._package_digest()
    executed = {
        "cells": [
            _cell(
                [f"# bayesresp code and notebook settings: {package}"], cell_id="bayesresp-digest"
            ),
            {**md, "source": []},
            {**_cell(["x = 1\n", "x"], [rich, widget_only]), "execution_count": 1},
        ],
        "metadata": {"widgets": {"state": {}}},
    }
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "a.ipynb").write_bytes(outputs.dumps(repository))
    site = tmp_path / "_build" / "jupyter_execute" / "generated" / "notebooks"
    site.mkdir(parents=True)
    (site / "a.ipynb").write_text(json.dumps(executed), encoding="utf-8")

    assert outputs.write_back(tmp_path / "_build", "9.9", notebooks) == ["a.ipynb"]
    written = json.loads((notebooks / "a.ipynb").read_text(encoding="utf-8"))
    assert written["cells"][0] == md  # the markdown cell is the repository's own
    (kept,) = written["cells"][1]["outputs"]
    assert set(kept["data"]) == {"text/plain", "image/png"} and kept["metadata"] == {}
    assert written["cells"][1]["execution_count"] == 1
    assert "widgets" not in written["metadata"]
    assert written["metadata"][outputs.STAMP]["code"] == outputs.code_digest(repository)
    assert outputs.strip_outputs(written) == repository
    assert outputs.write_back(tmp_path / "_build", "9.9", notebooks) == []  # unchanged

    # a notebook edited since the site ran it, or a site run of older package code:
    # its outputs are not written beside code that did not make them
    (notebooks / "a.ipynb").write_bytes(outputs.dumps(repository))
    executed["cells"][2]["source"] = ["x = 2\n", "x"]
    (site / "a.ipynb").write_text(json.dumps(executed), encoding="utf-8")
    assert outputs.write_back(tmp_path / "_build", "9.9", notebooks) == []
    executed["cells"][2]["source"] = ["x = 1\n", "x"]
    executed["cells"][0]["source"] = ["# bayesresp code and notebook settings: 0123456789abcdef"]
    (site / "a.ipynb").write_text(json.dumps(executed), encoding="utf-8")
    assert outputs.write_back(tmp_path / "_build", "9.9", notebooks) == []
    with pytest.raises(ValueError, match="code cells differ"):
        outputs.with_outputs(repository, {"cells": [_cell(["y"])]}, package, "9.9")
    # reduced settings never write the committed outputs
    executed["cells"][0]["source"] = [f"# bayesresp code and notebook settings: {package}"]
    (site / "a.ipynb").write_text(json.dumps(executed), encoding="utf-8")
    monkeypatch.setenv("BAYESRESP_NOTEBOOK_DRAWS", "100")
    assert outputs.write_back(tmp_path / "_build", "9.9", notebooks) == []


def _kernel_manager(tmp: Path):
    """A kernel manager for this interpreter, with the reduced settings in its environment."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (tmp / "tmp").mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "bayesresp notebook test",
        "language": "python",
        "env": {
            **REDUCED,
            "MPLBACKEND": "Agg",
            "IPYTHONDIR": str(tmp / "ipython"),
            "TMPDIR": str(tmp / "tmp"),  # the notebooks' temporary files land in tmp_path
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        },
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(tmp / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


@pytest.mark.slow
@pytest.mark.parametrize("path", FOUND, ids=[p.stem for p in FOUND])
def test_notebook_runs(path, tmp_path):
    """Execute every cell; a cell that raises fails the test (CellExecutionError)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    client = NotebookClient(
        nb,
        km=_kernel_manager(tmp_path),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before, (
        "the notebook wrote files into notebooks/"
    )
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.get("output_type") == "error"
    ]
    assert not errors


def test_the_parts_of_a_merged_stream_are_not_written_twice():
    """MyST-NB's merge_streams joins a cell's prints into its first stream output and
    leaves the later ones beside it: the later parts are dropped, other outputs kept."""
    outputs = _outputs_module()

    def stream(text, name="stdout"):
        return {"name": name, "output_type": "stream", "text": text}

    merged = [stream("converged\ntable\n"), stream("table\n"), stream("table\n", "stderr")]
    assert outputs._without_merged_parts(merged) == [merged[0], merged[2]]
    apart = [stream("a\n"), stream("b\n")]  # not a merge: both kept
    assert outputs._without_merged_parts(apart) == apart
