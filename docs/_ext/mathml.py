"""Render the site's mathematics as MathML when the site is built, with latex2mathml.

Sphinx's default, MathJax, loads a script from a CDN when the page is read: a page opened
from disk without a network would show raw LaTeX. MathML is rendered by the browser
itself (MathML Core, in Chromium since version 109, Firefox and Safari), so the built
site needs no script and no network. A formula latex2mathml cannot convert fails the
build with its source named, never shows as raw text.
"""

from __future__ import annotations

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError


def _mathml(node: nodes.Element, display: str) -> str:
    latex = node.astext()
    try:
        out = convert(latex, display=display)
    except Exception as exc:  # latex2mathml raises several kinds; name the formula
        raise ExtensionError(f"cannot render the formula {latex!r} as MathML: {exc}") from exc
    # a command latex2mathml does not know comes out as its own name, in italics
    unknown = re.search(r"<mi>(\\[A-Za-z]+)</mi>", out)
    if unknown:
        raise ExtensionError(
            f"cannot render the formula {latex!r} as MathML: {unknown.group(1)} is unknown"
        )
    return out


def _visit_inline(self, node: nodes.Element) -> None:
    self.body.append(_mathml(node, "inline"))
    raise nodes.SkipNode


def _visit_block(self, node: nodes.Element) -> None:
    self.body.append(f'<div class="math-display">{_mathml(node, "block")}</div>')
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer(
        "mathml", inline_renderers=(_visit_inline, None), block_renderers=(_visit_block, None)
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
