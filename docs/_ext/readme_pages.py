"""The site's pages that come from the repository's own files, made when the site is
built: one source, never a copy to keep in step by hand.

- The README's sections become the getting-started page and the user guide
  (:data:`PAGES` says which section goes where); a README section no page takes fails
  the build, so a new section cannot silently miss the site.
- The notebooks (``notebooks/*.ipynb``) are copied in, to be executed by MyST-NB.
- ``data_schema/CODEBOOK.md`` and ``benchmarks/README.md`` become pages, the default
  codebook's JSON a download.

Links between these files are rewritten to the pages they became. Everything is written
under ``docs/generated/`` (not in git), and a file is rewritten only when its content
changes, so an unchanged notebook keeps its execution cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

try:  # the test suite checks the pages without Sphinx (a docs dependency only)
    from sphinx.errors import ExtensionError
except ImportError:  # pragma: no cover
    ExtensionError = RuntimeError  # type: ignore[misc,assignment]

if TYPE_CHECKING:
    from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[2]
OUT = "generated"

#: Page (under generated/) -> (title, README sections in order). The README's text
#: before its first section opens the front page.
PAGES: dict[str, tuple[str, list[str]]] = {
    "getting-started": (
        "Getting started",
        ["Two commands", "From data to a what-if answer, in Python", "Notebooks"],
    ),
    "guide/data": (
        "Coded data and the codebook",
        ["The codebook", "Validating data", "Simulated data and the example"],
    ),
    "guide/fitting": ("Specifying and fitting a model", ["Fitting a model"]),
    "guide/checking": ("Checking a fit", ["Checking a fit"]),
    "guide/whatif": ("What-if queries and scenarios", ["What-if queries"]),
    "guide/planning": ("Planning a study", ["Planning a study"]),
    "guide/report": ("Sharing results: the report", ["Sharing results: the report"]),
    "guide/speed": ("Speed and scale", ["Speed and scale"]),
    "guide/cli": ("The command line at a glance", ["Command line at a glance"]),
    "development": ("Development", ["Development"]),
    "citing": ("Citing", ["Citing"]),
}

#: Repository files the README links to -> what they are on the site (under generated/).
TARGETS = {
    "benchmarks/README.md": "benchmarks.md",
    "data_schema/CODEBOOK.md": "codebook.md",
    "data_schema/codebook.json": "files/codebook.json",
    "notebooks/": "notebooks/index.md",
}

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def split_readme(text: str) -> tuple[str, dict[str, str]]:
    """The README's opening text (its title line left out) and its ``## `` sections by
    heading, each with its body (``###`` subsections included)."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    intro = re.sub(r"^# .*\n", "", parts[0], count=1)
    sections = {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}
    return intro, sections


def _slug(heading: str) -> str:
    """The anchor MyST gives a heading (GitHub's rule)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _rewrite(text: str, page: str, anchors: dict[str, str]) -> str:
    """Links of a README text read as page ``page`` (a path under the site's source
    folder, without suffix): repository files to the pages they became, README anchors
    to the page now holding their section."""
    here = os.path.dirname(page)

    def target(link: str) -> str:
        if re.match(r"^[a-z]+:", link):  # https:, mailto:
            return link
        path, _, anchor = link.partition("#")
        if not path:  # an anchor of the README itself
            where = anchors.get(anchor)
            if where is None:
                raise ExtensionError(f"README link #{anchor}: no section has that anchor")
            path = f"{OUT}/{where}.md"
        elif path.startswith("notebooks/") and path.endswith(".ipynb"):
            path = f"{OUT}/{path}"  # copied under the same name
        elif path in TARGETS:
            path = f"{OUT}/{TARGETS[path]}"
        else:
            raise ExtensionError(
                f"README link {link!r}: no page on the site; add it to TARGETS in {__file__}"
            )
        rel = os.path.relpath(path, here or ".")
        return rel + (f"#{anchor}" if anchor else "")

    return _LINK.sub(lambda m: f"]({target(m.group(1))})", text)


def _write(path: Path, content: str | bytes) -> None:
    """Write only when the content changes (Sphinx and the notebook cache see no edit)."""
    data = content.encode() if isinstance(content, str) else content
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


#: A Markdown line of a notebook with this mark is for readers of the repository only
#: (the link from a notebook file to its page on the site): left out of the site's copy.
REPOSITORY_ONLY = "<!-- repository only -->"


def _package_digest() -> str:
    """A digest of the package's code and of the notebooks' settings (environment)."""
    h = hashlib.sha256()
    for path in sorted((ROOT / "bayesresp").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    for key in sorted(k for k in os.environ if k.startswith("BAYESRESP_NOTEBOOK_")):
        h.update(f"{key}={os.environ[key]}".encode())
    return h.hexdigest()[:16]


def _site_notebook(path: Path, digest: str) -> bytes:
    """The notebook as the site shows it: its lines marked REPOSITORY_ONLY left out, and
    a first cell, hidden on the site, that names the package's digest. MyST-NB's cache
    keys a notebook on its code cells, so a change of the package (or of the notebooks'
    settings) runs the notebooks again instead of showing the numbers of the old code."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = [line for line in cell["source"] if REPOSITORY_ONLY not in line]
    stamp = {
        "cell_type": "code",
        "execution_count": None,
        "id": "bayesresp-digest",
        "metadata": {"tags": ["remove-cell"]},
        "outputs": [],
        "source": [f"# bayesresp code and notebook settings: {digest}"],
    }
    nb["cells"].insert(0, stamp)
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def generate(srcdir: Path, readme: str | None = None) -> list[str]:
    """Write every generated page under ``srcdir/generated``; return their names.
    ``readme``: the README's text (by default the repository's)."""
    out = srcdir / OUT
    if readme is None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro, sections = split_readme(readme)
    taken = [s for _, names in PAGES.values() for s in names]
    missing = [s for s in sections if s not in taken]
    unknown = [s for s in taken if s not in sections]
    if missing or unknown:
        raise ExtensionError(
            "the README's sections and the site's pages disagree: "
            + (f"no page takes {missing}; " if missing else "")
            + (f"no README section {unknown}; " if unknown else "")
            + f"edit PAGES in {__file__}"
        )
    anchors = {_slug(s): page for page, (_, names) in PAGES.items() for s in names}
    written = []
    # the front page (docs/index.md) includes the intro: its links are read from there
    _write(out / "intro.md", _rewrite(intro.strip() + "\n", "index", anchors))
    for page, (title, names) in PAGES.items():
        if len(names) == 1:  # the section is the page: its subsections move up a level
            body = re.sub(r"^#(##+) ", r"\1 ", sections[names[0]], flags=re.M)
        else:
            body = "".join(f"## {name}\n{sections[name]}" for name in names)
        source = "README.md, made into this page when the site is built"
        text = f"# {title}\n\n<!-- From {source}. -->\n\n{body}"
        _write(out / f"{page}.md", _rewrite(text, f"{OUT}/{page}", anchors))
        written.append(page)
    for src, dst in (
        ("benchmarks/README.md", "benchmarks.md"),
        ("data_schema/CODEBOOK.md", "codebook.md"),
    ):
        _write(out / dst, (ROOT / src).read_text(encoding="utf-8"))
    _write(out / "files/codebook.json", (ROOT / "data_schema/codebook.json").read_bytes())
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    digest = _package_digest()
    for nb in notebooks:
        _write(out / "notebooks" / nb.name, _site_notebook(nb, digest))
    toc = "\n".join(f"{nb.stem}" for nb in notebooks)
    _write(
        out / "notebooks/index.md",
        "# Notebooks\n\nThe notebooks of the repository's `notebooks/` folder, executed when "
        "the site is built, with their tables and plots.\n\n"
        f"```{{toctree}}\n:maxdepth: 1\n\n{toc}\n```\n",
    )
    stale = {p for p in (out / "notebooks").glob("*.ipynb")} - {
        out / "notebooks" / nb.name for nb in notebooks
    }
    for path in stale:  # a notebook removed from the repository leaves the site too
        path.unlink()
    return written


def _on_builder_inited(app: Sphinx) -> None:
    generate(Path(app.srcdir))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
