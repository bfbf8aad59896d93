"""The notebooks in notebooks/: each runs top to bottom, and none is committed with outputs.

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
)
FOUND = sorted(NOTEBOOKS.glob("*.ipynb"))
REDUCED = {
    "BAYESRESP_NOTEBOOK_DRAWS": "100",
    "BAYESRESP_NOTEBOOK_TUNE": "100",
    "BAYESRESP_NOTEBOOK_CHAINS": "2",
}
KERNEL = "bayesresp-notebook-test"
CELL_TIMEOUT = 600  # seconds for any one cell


def test_the_four_notebooks_exist():
    names = {p.name for p in FOUND}
    assert set(EXPECTED) <= names, f"missing: {sorted(set(EXPECTED) - names)}"


@pytest.mark.parametrize("path", FOUND, ids=[p.stem for p in FOUND])
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    first = "".join(code[0]["source"]) if code else ""
    assert "BAYESRESP_NOTEBOOK_DRAWS" in first, (
        f"{path.name}: the first code cell must read BAYESRESP_NOTEBOOK_DRAWS"
    )


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
