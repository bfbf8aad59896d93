"""Sphinx configuration of bayesresp's documentation site (``make docs``; see README.md
in this folder for the choice of tools and what the build does)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import bayesresp  # noqa: E402

project = "bayesresp"
author = "the bayesresp developers"
copyright = "2026, the bayesresp developers"  # noqa: A001 (Sphinx's name)
release = version = bayesresp.__version__

extensions = [
    "readme_pages",  # the README's sections, notebooks, codebook: pages (docs/_ext)
    "notebook_outputs",  # the executed notebooks' outputs back into notebooks/ (docs/_ext)
    "mathml",  # formulas as MathML, rendered without a script or a network (docs/_ext)
    "myst_nb",  # Markdown pages and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_click",
]
html_math_renderer = "mathml"

# generated/intro.md is the front page's opening, included there, not a page of its own
exclude_patterns = [
    "_build",
    "README.md",
    "generated/intro.md",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
]
# .rst first: autosummary writes its stub pages with the first suffix
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Notebooks run when the site is built, with the package's default settings (the numbers
# are to be read); MyST-NB's cache (jupyter-cache, in _build/.jupyter_cache) keys each
# notebook on its code, so an unchanged notebook is not run again. A notebook that fails
# fails the build.
nb_execution_mode = "cache"
nb_execution_timeout = 3600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_render_image_options = {"width": "100%"}
# Plots as PNG (small pages, no widget state)
nb_mime_priority_overrides = [("html", "image/svg+xml", 100)]

templates_path = ["_templates"]  # a class page documents its members in place
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # the numpydoc docstrings say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Every public name has a docstring: an object without one is a build error (-W).
numpydoc_validation_checks = {"GL08"}
numpydoc_validation_exclude = {r"\.__init__$", r"\._[a-z]"}

# Warnings are errors (make docs passes -W): broken cross-references too, but the
# site builds without a network, so types of other packages cannot be looked up.
nitpicky = True
nitpick_ignore_regex = [
    # the package's inner modules, which docstrings of the public API point into; the
    # reference documents the public names (bayesresp.__all__) and their members
    (r"py:.*", r"bayesresp\.(checks|data|inference|maths|model|present|queries|cli)\..*"),
    (r"py:.*", r"(Usage|FittedModel|DesignInfo|Design|PosteriorArrays|Formula)"),
    (r"py:.*", r"(pd|pandas|np|numpy|xr|xarray|az|arviz|pm|pymc|pytensor|scipy|matplotlib)\..*"),
    (r"py:.*", r"(optional|callable|default.*|array.*|array-like|iterable|sequence|mapping)"),
    (r"py:.*", r"(str|int|float|bool|dict|list|tuple|None|Path|pathlib\.Path|Any)"),
    (r"py:.*", r"(DataFrame|Series|Dataset|DataArray|DataTree|Generator|Axes|Figure)"),
]

html_theme = "furo"
html_title = f"bayesresp {release}"
html_static_path: list[str] = []
html_copy_source = False
html_show_sourcelink = False
