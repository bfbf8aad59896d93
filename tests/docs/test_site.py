"""The documentation site (issue 19; ``make docs``, docs/README.md).

The first tests run in ``make test`` and need no build: every public name has a page in
the API reference, every README section a page on the site, and the README's links a
target there. The others read a built site: ``make docs`` runs them with
``BAYESRESP_DOCS_SITE`` set to the folder it built (``make test`` skips them, saying
so): every internal link and anchor of every page resolves, and a headless Chromium
opens the front page, a notebook page with a rendered plot and the API page of ``fit``
without a broken image or a request to the network.
"""

from __future__ import annotations

import importlib.util
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

import bayesresp

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _readme_pages():
    spec = importlib.util.spec_from_file_location("readme_pages", DOCS / "_ext" / "readme_pages.py")
    if spec is None or spec.loader is None:
        raise ImportError("docs/_ext/readme_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_has_a_page_in_the_api_reference():
    listed = set(re.findall(r"^   (\w+)$", (DOCS / "api.md").read_text(), flags=re.M))
    public = set(bayesresp.__all__) - {"__version__"}
    assert public - listed == set(), "public names missing from docs/api.md"
    assert listed - public == set(), "docs/api.md lists names that are not public"


def test_every_readme_section_and_link_has_a_place_on_the_site(tmp_path):
    """The pages made from the README take every one of its sections, and its links
    point at pages that exist (rewritten relative to the page they land on)."""
    pages = _readme_pages()
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    intro, sections = pages.split_readme(readme)
    taken = [s for _, names in pages.PAGES.values() for s in names]
    assert sorted(taken) == sorted(sections)
    written = pages.generate(tmp_path)
    assert set(written) == set(pages.PAGES)
    out = tmp_path / pages.OUT
    for page in written:
        text = (out / f"{page}.md").read_text(encoding="utf-8")
        for link in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", link):
                continue
            target = (out / page).parent / link.partition("#")[0]
            assert target.exists(), (page, link)
    notebooks = sorted((DOCS.parent / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in (out / "notebooks").glob("*.ipynb")) == [
        p.name for p in notebooks
    ]
    # a notebook file links to its page on the site; the site's copy leaves that out
    for nb in notebooks:
        page = f"../docs/_build/html/generated/notebooks/{nb.stem}.html"
        assert page in nb.read_text(encoding="utf-8"), nb.name
        assert pages.REPOSITORY_ONLY not in (out / "notebooks" / nb.name).read_text()
    # a README section no page takes fails the build
    with pytest.raises(Exception, match="no page takes"):
        pages.generate(tmp_path / "other", readme + "\n## A section nobody placed\n\ntext\n")


# -- the built site ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site() -> Path:
    folder = os.environ.get("BAYESRESP_DOCS_SITE")
    if not folder:
        pytest.skip("no built site: `make docs` builds it and runs these tests")
    path = Path(folder).resolve()
    assert (path / "index.html").is_file(), f"{path} holds no built site"
    return path


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for key in ("href", "src"):
            value = attrs.get(key)
            if value and not (tag == "link" and attrs.get("rel") == "canonical"):
                self.links.append(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_internal_link_of_the_site_resolves(site):
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    parsed = {p: _parse(p) for p in pages}
    broken, external = [], []
    for page, links in parsed.items():
        for link in links.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https"):
                external.append(link)
                continue
            if parts.scheme in ("mailto", "data", "javascript"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append((page.relative_to(site), link))
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append((page.relative_to(site), link))
    assert broken == [], broken[:20]
    # the site loads nothing from the network: external links are links out only
    assert not any(link.endswith((".js", ".css")) for link in external), external


def test_the_site_renders_in_headless_chromium(site, chromium):
    from selenium.webdriver.support.ui import WebDriverWait

    inspect = """
    const images = Array.from(document.images).map(i => ({
      src: i.src, complete: i.complete, natural: i.naturalWidth}));
    const resources = performance.getEntriesByType('resource').map(e => e.name);
    const fit = document.getElementById('bayesresp.fit');
    return {title: document.title, images: images, resources: resources,
            text: document.body.innerText.length,
            math: document.getElementsByTagName('math').length,
            fit: fit ? fit.parentElement.textContent : null};
    """
    pages = {
        "front page": site / "index.html",
        "notebook": site / "generated" / "notebooks" / "01_quickstart.html",
        "API page of fit": site / "generated" / "api" / "bayesresp.fit.html",
        "model": site / "model.html",
    }
    seen = {}
    for name, path in pages.items():
        assert path.is_file(), name
        chromium.get(path.as_uri())
        WebDriverWait(chromium, 30).until(
            lambda d: d.execute_script(
                "return document.readyState === 'complete' && "
                "Array.from(document.images).every(i => i.complete)"
            )
        )
        page = chromium.execute_script(inspect)
        broken = [i["src"] for i in page["images"] if i["natural"] == 0]
        assert broken == [], (name, broken)
        offline = [r for r in page["resources"] if not r.startswith(("file:", "data:"))]
        assert offline == [], (name, offline)
        assert page["text"] > 500, name
        errors = [e for e in chromium.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (name, errors)
        seen[name] = page
    plots = [i for i in seen["notebook"]["images"] if i["natural"] > 200]
    assert plots, "the notebook page shows no plot"
    fit = seen["API page of fit"]["fit"]  # the function's entry, with its parameters
    assert fit is not None and "Parameters" in fit and "formula" in fit.lower()
    assert seen["model"]["math"] > 10  # formulas rendered as MathML, no script
