"""Write the site's executed notebooks back into ``notebooks/``, so that a reader who
opens a notebook file (on a code host, in a viewer) sees its tables and plots too.

When a build finishes without error, each notebook MyST-NB executed (its copy in
``_build/jupyter_execute/generated/notebooks/``) gives its outputs to the repository's
notebook of the same name, cell by cell, after a check that the code cells are the same.
Only what a reader needs is kept (:data:`KEPT`): plots as PNG, tables as HTML and text,
printed text; never widget state, scripts or SVG. The notebook's metadata records what
made the outputs (:data:`STAMP`): the digest of its code cells, the package's version and
code digest, and the sampling settings. ``tests/test_notebooks.py`` checks that committed
outputs belong to the code cells beside them, so a notebook edited after the build fails
the tests until ``make docs`` runs again (or its outputs are stripped).

Nothing is written when the notebooks ran with reduced settings (any
``BAYESRESP_NOTEBOOK_*`` variable set): the committed outputs are always those of the
default settings, the numbers a reader should see.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from readme_pages import ROOT, _package_digest, _write

if TYPE_CHECKING:
    from sphinx.application import Sphinx

#: The notebook metadata key that says where the outputs came from.
STAMP = "bayesresp_outputs"
#: The output types kept in the repository's notebooks (display data and results).
KEPT = ("image/png", "text/html", "text/plain", "text/markdown")
#: The site copy's hidden first cell (readme_pages._site_notebook), not a notebook cell.
DIGEST_CELL = "bayesresp-digest"


def code_digest(nb: dict) -> str:
    """A digest of a notebook's code cells (their sources, in order): outputs are
    written only beside the code that made them."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and cell.get("id") != DIGEST_CELL:
            source = cell["source"]
            h.update(("".join(source) if isinstance(source, list) else source).encode())
            h.update(b"\0")
    return h.hexdigest()[:16]


def _keep(output: dict) -> dict | None:
    """The output as the repository keeps it, or None for one that is dropped."""
    kind = output["output_type"]
    if kind == "stream":
        return {"name": output["name"], "output_type": "stream", "text": output["text"]}
    if kind in ("display_data", "execute_result"):
        data = {k: v for k, v in output.get("data", {}).items() if k in KEPT}
        if not data:
            return None
        kept = {"data": data, "metadata": {}, "output_type": kind}
        if kind == "execute_result":
            kept["execution_count"] = output.get("execution_count")
        return kept
    return None  # errors cannot reach here (a failing notebook fails the build)


def _without_merged_parts(outputs: list[dict]) -> list[dict]:
    """The outputs without the parts of a merged stream: MyST-NB's ``merge_streams``
    joins a cell's consecutive prints into its first stream output and leaves the later
    ones beside it, so each would show twice. A stream output whose text ends the
    previous stream output of the same name is such a part."""
    out: list[dict] = []
    for o in outputs:
        last = out[-1] if out else None
        if (
            o["output_type"] == "stream"
            and last is not None
            and last["output_type"] == "stream"
            and last["name"] == o["name"]
            and "".join(last["text"]).endswith("".join(o["text"]))
        ):
            continue
        out.append(o)
    return out


def with_outputs(repository_nb: dict, executed_nb: dict, package: str, version: str) -> dict:
    """The repository's notebook with the executed copy's outputs; ValueError when
    their code cells differ."""
    code = [c for c in repository_nb["cells"] if c["cell_type"] == "code"]
    ran = [
        c for c in executed_nb["cells"] if c["cell_type"] == "code" and c.get("id") != DIGEST_CELL
    ]
    if code_digest(repository_nb) != code_digest(executed_nb) or len(code) != len(ran):
        raise ValueError("the executed notebook's code cells differ from the repository's")
    out = json.loads(json.dumps(repository_nb))
    cells = iter(ran)
    for cell in out["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = next(cells)
        kept = [k for k in map(_keep, source.get("outputs", [])) if k is not None]
        cell["outputs"] = _without_merged_parts(kept)
        cell["execution_count"] = source.get("execution_count")
    metadata = out.setdefault("metadata", {})
    metadata.pop("widgets", None)
    metadata[STAMP] = {
        "made_by": "make docs",
        "code": code_digest(repository_nb),
        "bayesresp": version,
        "package_digest": package,
        "settings": "defaults",
    }
    return out


def strip_outputs(nb: dict) -> dict:
    """The notebook without outputs, execution counts or the outputs' stamp."""
    out = json.loads(json.dumps(nb))
    for cell in out["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    out.get("metadata", {}).pop(STAMP, None)
    return out


def dumps(nb: dict) -> bytes:
    """A notebook as Jupyter writes it (one-space indent, a final newline)."""
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def write_back(build_dir: Path, version: str, notebooks: Path = ROOT / "notebooks") -> list[str]:
    """Give every notebook of ``notebooks`` executed under ``build_dir`` its outputs;
    return the names of the notebooks written."""
    if any(k.startswith("BAYESRESP_NOTEBOOK_") for k in os.environ):
        return []
    executed_dir = build_dir / "jupyter_execute" / "generated" / "notebooks"
    written = []
    package = _package_digest()
    for path in sorted(notebooks.glob("*.ipynb")):
        executed = executed_dir / path.name
        if not executed.exists():
            continue
        repository_nb = json.loads(path.read_text(encoding="utf-8"))
        executed_nb = json.loads(executed.read_text(encoding="utf-8"))
        stamp = [c for c in executed_nb["cells"] if c.get("id") == DIGEST_CELL]
        made_with = "".join(stamp[0]["source"]) if stamp else ""
        if package not in made_with or code_digest(repository_nb) != code_digest(executed_nb):
            continue  # an execution of older code (package or notebook): never paired
        data = dumps(with_outputs(repository_nb, executed_nb, package, version))
        if data != path.read_bytes():
            _write(path, data)
            written.append(path.name)
    return written


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is None:
        write_back(Path(app.outdir).parent, app.config.release)


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
