"""A shareable report: one self-contained HTML file describing a fit.

The file needs nothing but a web browser to open: the stylesheet is inline, every plot is
a PNG embedded as a ``data:`` URI, and there is no script and no link to any other
resource, so it can be mailed to co-authors who do not run Python and opened offline.

Sections, each an ``<section id=...>`` with an ``<h2>`` (:data:`SECTIONS`):

``overview``     the data: rows, missions, departments, the spread over the spectrum
``model``        the specification: formula, link, codebook, group terms, priors, sampler
``summary``      one row per parameter (:meth:`Fit.summary`) and a coefficient plot
``variance``     the variance decomposition (:meth:`Fit.variance_decomposition`)
``coders``       the coders' leniency, spread and agreement with the true levels, and the
                 model's and the data's alpha (:meth:`Fit.coder_reliability`); only for a
                 fit with the coders' layer
``diagnostics``  convergence checks with verdicts (:meth:`Fit.diagnose`)
``ppc``          posterior predictive checks: counts per level, overall and by group,
                 and the LOO-PIT calibration histogram (:meth:`Fit.ppc`)
``whatif``       predicted responses for a set of profiles (:meth:`Fit.what_if`); only
                 when profiles are given

and a footer (``provenance``) with the versions, sampler, seed and data hash the fit
file records. The same fit and arguments give the same bytes.
"""

from __future__ import annotations

import base64
import html
import io
import platform
import struct
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesresp._version import __version__
from bayesresp.checks import proportional_odds
from bayesresp.checks.diagnostics import diagnose
from bayesresp.checks.predictive import count_table, posterior_predictive_check, replicate
from bayesresp.checks.sensitivity import prior_sensitivity
from bayesresp.errors import ReportError
from bayesresp.inference.record import FittedModel
from bayesresp.maths.links import get_link
from bayesresp.plots import plain, plain_all
from bayesresp.queries.estimates import no_decomposition, summary, variance_decomposition
from bayesresp.queries.whatif import what_if

#: (id, heading) of every section, in order; ``whatif`` appears only with profiles.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Data overview"),
    ("model", "Model specification"),
    ("summary", "Parameter summary"),
    ("variance", "Variance decomposition"),
    ("coders", "Coders"),
    ("diagnostics", "Convergence diagnostics"),
    ("po", "Proportional odds"),
    ("ppc", "Posterior predictive checks"),
    ("whatif", "What-if predictions"),
)

_VERDICT_WORDS = {
    "ok": "converged",
    "warn": "converged, with warnings",
    "fail": "NOT converged",
}
_DPI = 150  # PNG resolution; images are shown at 96 CSS pixels per inch (sharp on HiDPI)


# -- public API ---------------------------------------------------------------------------
def render_report(
    fit: FittedModel | str | Path,
    *,
    profiles: Any = None,
    groups: str = "known",
    fill: str | None = None,
    ci: float = 0.9,
    ppc_by: str | None = "auto",
    ppc_draws: int = 200,
    title: str | None = None,
    po_check: Any = None,
) -> str:
    """The report of a fit as one self-contained HTML document (a string).

    Takes the same arguments as :func:`write_report`, less the path.

    Examples
    --------
    >>> page = render_report(fit)  # doctest: +SKIP
    >>> page.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
    """
    from bayesresp.inference.fitfile import load_fit

    source = None
    if isinstance(fit, str | Path):
        source = Path(fit)
        fit = load_fit(source)
    if not 0.5 <= ci < 1:
        raise ReportError(f"ci must be at least 0.5 and below 1, not {ci}")
    if ppc_draws < 10:
        raise ReportError(f"ppc_draws must be at least 10, not {ppc_draws}")
    by = _resolve_by(fit, ppc_by)
    # What-if first: bad profiles should fail before the slower checks run.
    answer = (
        what_if(fit, profiles, groups=groups, fill=fill, ci=ci) if profiles is not None else None
    )
    diagnostics = diagnose(fit)
    if po_check is True or isinstance(po_check, str | list | tuple):
        chosen = None if po_check is True else po_check
        po_check = proportional_odds.po_check(fit, chosen, ci=ci)
    page = _Page()
    parts = [
        _overview(page, fit),
        _model(page, fit),
        _summary(page, fit, ci),
        _variance(page, fit, ci),
        *([_coders(page, fit, ci)] if fit.info.coders else []),
        _diagnostics(page, diagnostics),
        *([_po(page, po_check)] if po_check else []),
        _ppc(page, fit, by, ppc_draws),
    ]
    if answer is not None:
        parts.append(_whatif(page, answer, profiles))
    heading = title or f"bayesresp report: {fit.spec.name or 'model'}"
    return _document(fit, heading, parts, source, diagnostics.verdict, page.rules)


def write_report(
    fit: FittedModel | str | Path,
    path: str | Path,
    *,
    profiles: Any = None,
    groups: str = "known",
    fill: str | None = None,
    ci: float = 0.9,
    ppc_by: str | None = "auto",
    ppc_draws: int = 200,
    title: str | None = None,
    po_check: Any = None,
) -> Path:
    """Write a self-contained HTML report of a fit, to share with people who do not run Python.

    One file, no network needed to open it: inline stylesheet, plots embedded as PNG,
    no scripts. Sections: data overview, model specification, parameter summary,
    variance decomposition, convergence diagnostics, posterior predictive checks and,
    when ``profiles`` are given, what-if predictions; a footer records the package,
    PyMC and ArviZ versions, sampler, seed and data hash.

    Parameters
    ----------
    fit : FittedModel, or path of a fit file
        A fitted model, or a file written by :meth:`Fit.save` (read with
        :func:`bayesresp.load_fit`).
    path : str or Path
        The HTML file to write (its folder must exist).
    profiles : dict, list of dicts, DataFrame or path of a CSV/Parquet file, optional
        Hypothetical incidents for a what-if section, as :meth:`Fit.what_if` takes them.
    groups : {"known", "new", "average"}
        How the profiles' missions and departments enter (see
        :func:`bayesresp.queries.whatif.what_if`).
    fill : {None, "typical"}
        ``"typical"`` fills covariates the profiles lack with the sample's typical value.
    ci : float
        Probability of the central intervals in the tables (the predictive checks use
        95% intervals).
    ppc_by : str or None
        Column for a posterior predictive check by group: ``"auto"`` (``mission``, or
        the outermost grouping column of the model's first group term when it has at
        most 50 levels), a column name, or None for the overall check only.
    ppc_draws : int
        Posterior draws (evenly spaced) used for replicated data sets; 200 keep the
        report quick, more make the predictive intervals smoother.
    title : str, optional
        Heading of the report; ``"bayesresp report: <spec name>"`` by default.
    po_check : bool, list of str or POCheckResult, optional
        A section on proportional odds: ``True`` checks every eligible covariate, a list
        those named (:func:`bayesresp.checks.proportional_odds.po_check`: one refit
        each, so it takes as long as that many fits), a result of
        :meth:`Fit.po_check` is shown as it is.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    FitFileError
        ``fit`` is a path that is not a usable fit file.
    ProfileError, DataValidationError, DataFileError
        The profiles cannot be read or answered.
    ReportError
        An unknown ``ppc_by`` column, a bad argument, or a path that cannot be written.

    Examples
    --------
    >>> import bayesresp
    >>> from bayesresp.present.report import write_report
    >>> fit = bayesresp.load_fit("fit.nc")  # doctest: +SKIP
    >>> write_report(fit, "report.html", profiles="profiles.csv")  # doctest: +SKIP
    PosixPath('report.html')
    """
    path = Path(path)
    if path.is_dir():
        raise ReportError(f"{path} is a folder; give the path of an .html file")
    if not path.parent.is_dir():
        raise ReportError(f"cannot write {path}: the folder {path.parent} does not exist")
    page = render_report(
        fit,
        profiles=profiles,
        groups=groups,
        fill=fill,
        ci=ci,
        ppc_by=ppc_by,
        ppc_draws=ppc_draws,
        title=title,
        po_check=po_check,
    )
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror}") from None
    return path


# -- building blocks ------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Escaped text of any value."""
    return html.escape(str(value), quote=True)


class _Page:
    """Numbers the tables of a report and gathers their alignment rules (CSS)."""

    def __init__(self) -> None:
        self.n_tables = 0
        self.rules: list[str] = []

    def table(
        self,
        frame: pd.DataFrame,
        formats: dict[str, str | Callable[[Any], str]] | None = None,
        default: str = "{:.3f}",
        index: bool = True,
        css: str = "",
    ) -> str:
        """A DataFrame as an escaped HTML table; numbers right-aligned, text left."""
        self.n_tables += 1
        tid = f"t{self.n_tables}"
        formats = formats or {}
        formatters: dict[Any, Callable[[Any], str]] = {}
        text_cols = []
        for col in frame.columns:
            s = frame[col]
            f = formats.get(col)
            if callable(f):
                formatters[col] = f
            elif pd.api.types.is_bool_dtype(s):
                formatters[col] = lambda v: "yes" if v else ""
                text_cols.append(col)
            elif pd.api.types.is_float_dtype(s):
                formatters[col] = _num_formatter(f or default)
            elif pd.api.types.is_integer_dtype(s):
                formatters[col] = _num_formatter(f or "{:d}")
            else:
                text_cols.append(col)
            if callable(f) and not pd.api.types.is_numeric_dtype(s):
                text_cols.append(col)
        if index and frame.index.nlevels == 1 and frame.columns.nlevels == 1:
            frame = frame.copy()  # the index's name in the header's corner: one header row
            frame.columns.name, frame.index.name = frame.index.name, None
        cols = list(frame.columns)
        self.rules += [
            f"#{tid} td:nth-last-child({n}),#{tid} thead tr:first-child th:nth-last-child({n})"
            "{text-align:left}"
            for n in (len(cols) - cols.index(c) for c in dict.fromkeys(text_cols))
        ]
        body = frame.to_html(
            escape=True,
            border=0,
            index=index,
            formatters=formatters,
            na_rep="",
            table_id=tid,
            classes=[css] if css else None,
        )
        return f'<div class="scroll">{body}</div>'


def _num_formatter(fmt: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return ""
        return fmt.format(v)

    return f


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def _img(fig, alt: str, close: bool = False) -> str:
    """A figure as an embedded PNG (a ``data:`` URI) shown at its natural size."""
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=_DPI,
        bbox_inches="tight",
        facecolor="white",
        metadata={"Software": None},
    )
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    png = buf.getvalue()
    w, h = struct.unpack(">II", png[16:24])  # the IHDR chunk's width and height
    scale = 96 / _DPI
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}" '
        f'width="{round(w * scale)}" height="{round(h * scale)}">'
    )


def _section(sid: str, body: str, lead: str = "") -> str:
    heading = dict(SECTIONS)[sid]
    lead_html = f'<p class="lead">{lead}</p>' if lead else ""
    return f'<section id="{sid}">\n<h2>{_e(heading)}</h2>\n{lead_html}{body}\n</section>'


def _facts(items: list[tuple[str, str]]) -> str:
    """Key figures as a grid of cards; values are HTML (escape before)."""
    cards = "".join(
        f'<div class="fact"><div class="value">{v}</div><div class="label">{_e(k)}</div></div>'
        for k, v in items
    )
    return f'<div class="facts">{cards}</div>'


def _dl(items: list[tuple[str, str]]) -> str:
    """A definition list; values are HTML (escape before)."""
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items)
    return f'<dl class="spec">{rows}</dl>'


def _interval_cols(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c.startswith("q") and c[1:].replace(".", "").isdigit()]


# -- sections -------------------------------------------------------------------------------
def _group_counts(fit: FittedModel) -> list[tuple[str, int]]:
    """Distinct levels of each grouping column; a nested one counted within its parent."""
    data, out = fit.data, []
    for f in fit.codebook.groups:
        if f.name not in data:
            continue
        if f.nested_in and f.nested_in in data:
            n = len(data[[f.nested_in, f.name]].dropna().drop_duplicates())
        else:
            n = int(data[f.name].nunique())
        out.append((f.name, n))
    return out


def _overview(page: _Page, fit: FittedModel) -> str:
    from bayesresp.data.describe import describe
    from bayesresp.plots import spectrum_colors

    summary = describe(fit.data, fit.codebook)
    facts = [("responses", f"{summary.n_rows:,}")]
    facts += [(_plural(name), f"{n:,}") for name, n in _group_counts(fit)]
    parts = [_facts(facts)]
    if summary.synthetic:
        parts.append(
            '<p class="callout warn"><b>Synthetic data.</b> These rows were drawn by '
            "<code>bayesresp.simulate</code> from known parameters; they are not real "
            "coded responses.</p>"
        )
    spectrum = summary.spectrum.copy()
    fig = _figure(6.0, 3.0)
    ax = fig.add_subplot()
    x = np.arange(len(spectrum))
    ax.bar(x, spectrum["rows"], color=spectrum_colors(len(x)))
    ax.set_xticks(x, plain_all(spectrum.index), rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("responses")
    ax.set_title("Observed responses, conciliatory \u2192 confrontational", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    parts.append(
        '<div class="row"><div>'
        + page.table(spectrum, {"share": "{:.1%}"})
        + "</div><div>"
        + _img(fig, "Bar chart: observed count of each response level")
        + "</div></div>"
    )
    if summary.n_ranges:
        parts.append(
            f"<p>The counts above are of the rows coded at one level. {summary.n_ranges:,} "
            "rows are coded as a range of levels (ambiguous codes, below); the model "
            "counts each as the probability of its whole range, and no range is counted "
            "at a level.</p>" + page.table(summary.ranges, {"share": "{:.1%}"})
        )
    if fit.missing_note:
        parts.append(f"<p>{_e(fit.missing_note)}</p>")
    if len(summary.missions):
        top = summary.missions.index.name or "group"
        parts.append(f"<h3>By {_e(top)}</h3>")
        parts.append(page.table(summary.missions, {"mean_level": "{:.2f}"}))
    if len(summary.departments):
        parts.append(
            f"<details><summary>Responses per level in each of the {len(summary.departments)}"
            " groups (click to open)</summary>" + page.table(summary.departments) + "</details>"
        )
    outcome = fit.codebook.outcome.name
    lead = (
        f"The {len(fit.data):,} rows the model was fitted on; the outcome "
        f"<code>{_e(outcome)}</code> runs from <b>{_e(spectrum.index[0])}</b> (most "
        f"conciliatory) to <b>{_e(spectrum.index[-1])}</b> (most confrontational)."
    )
    return _section("overview", "\n".join(parts), lead)


def _plural(name: str) -> str:
    words = {"mission": "missions", "department": "departments (within missions)"}
    if name in words:
        return words[name]
    if name.endswith("_id"):
        return name[:-3] + "s"
    return name + ("es" if name.endswith("s") else "s")


def _model(page: _Page, fit: FittedModel) -> str:
    spec, info, cb, meta = fit.spec, fit.info, fit.codebook, fit.meta
    latent = get_link(spec.link).latent
    link = spec.response.describe()
    if spec.response.latent_scale:
        link += f" ({latent} latent residual)"
    items = [("name", _e(spec.name or "(unnamed)"))]
    if spec.description.strip():
        items.append(("description", _e(" ".join(spec.description.split()))))
    items += [
        ("formula", f'<pre class="formula">{_e(_wrap_formula(spec.formula))}</pre>'),
        ("link", _e(link)),
        (
            "sign",
            "a positive coefficient moves responses towards the confrontational end of "
            "the spectrum",
        ),
        (
            "outcome",
            f"<code>{_e(info.outcome)}</code>: "
            + " &lt; ".join(f"{_e(lv)}" for lv in info.spectrum),
        ),
        (
            "codebook",
            _e(f"{cb.title}" + (f" (version {cb.version})" if cb.version else "")),
        ),
        (
            "continuous covariates",
            _e(
                "centred and scaled by the fitting data"
                if spec.scale_continuous
                else "used as they are"
            ),
        ),
    ]
    if info.groups:
        items.append(
            (
                "group terms",
                ", ".join(
                    f"<code>{_e(g.label)}</code> ({len(g.levels)} levels"
                    + (
                        "; thresholds varying by group"
                        if g.thresholds
                        else f"; varying {', '.join(_e(c) for c in g.column_names[1:])}"
                        if len(g.column_names) > 1
                        else ""
                    )
                    + ")"
                    for g in info.groups
                ),
            )
        )
    if spec.blocks:
        items.append(
            (
                "blocks set in the specification",
                ", ".join(f"<code>{_e(k)}</code> \u2192 {_e(v)}" for k, v in spec.blocks.items()),
            )
        )
    sampler = (
        f"{_e(meta.get('sampler', '?'))}: {_e(meta.get('chains', '?'))} chains \u00d7 "
        f"{_e(meta.get('draws', '?'))} draws after {_e(meta.get('tune', '?'))} tuning "
        f"steps, target acceptance {_e(meta.get('target_accept', '?'))}, seed "
        f"{_e(meta.get('seed', '?'))}"
    )
    items.append(("sampler", sampler))
    parts = [_dl(items)]
    overrides = (
        ", ".join(f"<code>{_e(k)}</code> = {_e(v)}" for k, v in spec.priors.items())
        if spec.priors
        else "none: the package defaults throughout"
    )
    parts.append(f"<h3>Priors</h3><p>Overrides in the specification: {overrides}.</p>")
    priors = meta.get("priors") or {}
    if priors:
        parts.append(page.table(_prior_table(fit, priors), index=False, css="compact"))
    return _section("model", "\n".join(parts))


def _prior_table(fit: FittedModel, priors: dict[str, str]) -> pd.DataFrame:
    """The prior of every parameter, one row per term and prior (levels listed)."""
    term_of = {c.name: c.term for c in fit.info.columns}
    rows: dict[tuple[str, str], list[str]] = {}
    for name, prior in priors.items():
        term = term_of.get(name, name)
        level = name[len(term) :].strip("[]") if name.startswith(term + "[") else ""
        rows.setdefault((term, str(prior)), []).append(level)
    out = []
    for (term, prior), levels in rows.items():
        levels = [lv for lv in levels if lv]
        out.append(
            {
                "term": term,
                "prior": prior,
                "parameters": f"{len(levels)}: " + ", ".join(levels) if levels else "1",
            }
        )
    return pd.DataFrame(out)


def _wrap_formula(formula: str, width: int = 90) -> str:
    """Break a long formula before '+' so that it reads in a narrow column."""
    lines, line = [], ""
    for i, piece in enumerate(formula.split(" + ")):
        add = piece if i == 0 else " + " + piece
        if line and len(line) + len(add) > width:
            lines.append(line)
            line, add = "", "    + " + piece
        line += add
    lines.append(line)
    return "\n".join(lines)


def _summary(page: _Page, fit: FittedModel, ci: float) -> str:
    from matplotlib import colormaps

    table = summary(fit, ci=ci)
    lo, hi = _interval_cols(table)[:2]
    coef = table.loc[~table["block"].isin(["cutpoints", "groups", "r2d2"])]
    coef = coef.loc[~coef.index.str.startswith("simplex(")]
    parts = []
    if len(coef):
        blocks = list(dict.fromkeys(coef["block"]))
        palette = colormaps["tab10"].colors
        colours = {b: palette[i % len(palette)] for i, b in enumerate(blocks)}
        fig = _figure(7.5, 0.24 * len(coef) + 1.2)
        ax = fig.add_subplot()
        y = np.arange(len(coef))
        for block in blocks:
            rows = np.flatnonzero(coef["block"].to_numpy() == block)
            sub = coef.iloc[rows]
            ax.errorbar(
                sub["mean"],
                y[rows],
                xerr=[sub["mean"] - sub[lo], sub[hi] - sub["mean"]],
                fmt="o",
                ms=4,
                capsize=0,
                elinewidth=1.4,
                color=colours[block],
                label=plain(block),
            )
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, plain_all(coef.index), fontsize=7.5)
        ax.invert_yaxis()
        ax.set_xlabel(
            f"coefficient ({'log-odds' if get_link(fit.spec.link).odds else 'latent'} scale); "
            f"dots: mean, lines: {ci:.0%} interval"
        )
        ax.set_title("\u2190 conciliation     confrontation \u2192", fontsize=10)
        ax.grid(axis="x", color="#e5e7eb", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7.5, title="block", title_fontsize=8, loc="best")
        parts.append(_img(fig, "Coefficient plot: posterior mean and interval of each effect"))
    shown = table.copy()
    one_var = ~shown["scale"].str.contains(";", regex=False)
    shown.loc[one_var, "scale"] = shown.loc[one_var, "scale"].str.replace(
        r"^[^:]+: ", "", regex=True
    )
    shown = shown.rename(columns={"scale": "scale or reference"})
    formats = {"ess_bulk": "{:.0f}", "ess_tail": "{:.0f}", "r_hat": "{:.3f}"}
    parts.append(page.table(shown, formats, css="summary"))
    lead = (
        f"Posterior mean, sd, median and central {ci:.0%} interval of every parameter, on "
        "the latent scale, with r_hat and effective sample sizes. Continuous covariates "
        "are per standard deviation of the fitting data (the <i>scale</i> column says how "
        "many units); factor levels are against the reference level."
    )
    return _section("summary", "\n".join(parts), lead)


def _coders(page: _Page, fit: FittedModel, ci: float) -> str:
    from bayesresp.checks.coders import coder_reliability

    rel = coder_reliability(fit, ci=ci, n_boot=1000, seed=1)
    table = rel.coders
    shown = pd.DataFrame({"codes": table["codes"]}, index=table.index)
    for name in ("leniency", "spread", "agreement", "within_one"):
        shown[name] = [
            f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
            for m, lo, hi in zip(table[name], table[f"{name}_lo"], table[f"{name}_hi"], strict=True)
        ]
    response, _ = fit.info.coder_columns
    lead = (
        f"Each response's codes are read as coders' readings of its one true level (the "
        f"rows sharing a {_e(response)}): a coder's leniency shifts the level they write "
        "(in levels; positive: towards confrontation), their spread is how far their "
        "readings scatter (in levels; 1 / precision). The coefficients are those of the "
        f"true levels. {rel.n_double_coded:,} responses are coded twice or more. Medians "
        f"with {ci:.0%} intervals; agreement: P(code = true level), within one: "
        "P(|code - true level| &lt;= 1), over the responses the coder coded."
    )
    alpha = (
        f"<p>Ordinal Krippendorff's alpha the model expects of the double-coded responses: "
        f"{rel.alpha_model:.3f} ({ci:.0%} interval {rel.alpha_model_lo:.3f} to "
        f"{rel.alpha_model_hi:.3f}); of the data: {rel.data.alpha:.3f} ({rel.data.ci:.0%} "
        f"bootstrap interval {rel.data.ci_low:.3f} to {rel.data.ci_high:.3f}). The alpha of "
        f"codes replicated from the fit on the same responses lies between "
        f"{rel.alpha_replicated_lo:.3f} and {rel.alpha_replicated_hi:.3f} ({ci:.0%}): the "
        "data's alpha outside that interval questions the model of coders.</p>"
    )
    return _section("coders", page.table(shown) + alpha, lead)


def _variance(page: _Page, fit: FittedModel, ci: float) -> str:
    why = no_decomposition(fit)
    if why is not None:
        return _section("variance", "", f"Not available: {_e(why)} to report.")
    table = variance_decomposition(fit, ci=ci)
    lo, hi = _interval_cols(table)[:2]
    fig = _figure(6.5, 0.36 * len(table) + 1.0)
    ax = fig.add_subplot()
    y = np.arange(len(table))
    colours = {"block": "#4c72b0", "group": "#dd8452", "residual": "#9ca3af"}
    ax.barh(y, table["share"], color=[colours.get(k, "#4c72b0") for k in table["kind"]])
    ax.errorbar(
        table["share"],
        y,
        xerr=[table["share"] - table[lo], table[hi] - table["share"]],
        fmt="none",
        color="black",
        capsize=2,
        lw=0.8,
    )
    ax.set_yticks(y, plain_all(table.index), fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel(f"share of latent variance (mean, {ci:.0%} interval)")
    ax.spines[["top", "right"]].set_visible(False)
    pct = {c: "{:.1%}" for c in ("share", lo, hi) + tuple(_allotted_cols(table))}
    explained = table.loc[table["kind"] != "residual"]
    lead = (
        "How much of the variance of the latent propensity to confront each block of "
        "covariates and each grouping level accounts for; the residual is the link's own "
        "variance."
    )
    if len(explained):
        top = explained["share"].idxmax()
        lead += (
            f" The largest share apart from the residual: <b>{_e(top)}</b> "
            f"({explained.loc[top, 'share']:.1%})."
        )
    body = (
        '<div class="row"><div>'
        + page.table(table, pct)
        + "</div><div>"
        + _img(fig, "Bar chart: share of latent variance of each component")
        + "</div></div>"
    )
    if "R2" in fit.posterior:
        body += _r2d2_sensitivity(page, fit)
    return _section("variance", body, lead)


def _allotted_cols(table: pd.DataFrame) -> list[str]:
    return [c for c in table.columns if c.startswith("allotted")]


def _r2d2_sensitivity(page: _Page, fit: FittedModel) -> str:
    """The r2d2 prior's R2 and shares: the most prior-dependent quantities of the model,
    so their power-scaling sensitivity is always reported."""
    try:
        result = prior_sensitivity(fit)
    except Exception as exc:  # noqa: BLE001 (the report must still be written)
        return (
            "<h3>How much the prior decides R2 and the shares</h3><p>The power-scaling "
            f"sensitivity of R2 and the shares could not be computed here ({_e(str(exc))}); "
            "run <code>fit.prior_sensitivity()</code> to see it.</p>"
        )
    names = [n for n in result.table.index if n == "R2" or n.startswith("share(")]
    table = result.table.loc[names]
    flagged = [n for n in names if table.loc[n, "prior"] > result.threshold]
    text = (
        "<h3>How much the prior decides R2 and the shares</h3><p>The columns "
        "<code>allotted</code> are the r2d2 prior's own parameters: R2 times each "
        "component's share (the residual: 1 - R2). With few columns in a component they "
        "rest on the prior more than the realised <code>share</code> does. Power-scaling "
        f"sensitivity (flagged above {result.threshold}): "
        + (
            f"{len(flagged)} of them depend on the prior: "
            + ", ".join(f"<code>{_e(n)}</code>" for n in flagged)
            + ". Read them as the prior and the data together, not the data alone."
            if flagged
            else "none depends on the prior beyond what the data say."
        )
        + "</p>"
    )
    return text + page.table(table, {"prior": "{:.3f}", "likelihood": "{:.3f}"})


def _verdict_badge(verdict: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(verdict)}</span>'


def _po(page: _Page, result) -> str:
    """The proportional-odds check: a verdict per covariate, and what moves."""
    table = result.table
    rows = "".join(
        "<tr>"
        f"<td>{_verdict_badge(r['verdict'])}</td><td>{_e(str(x))}</td>"
        f"<td>{r['elpd_diff']:+.1f}</td><td>{r['se']:.1f}</td>"
        f"<td>{int(r['apart'])} of {int(r['n_deviations'])}</td><td>{_e(r['advice'])}</td>"
        "</tr>"
        for x, r in table.iterrows()
    )
    body = (
        '<div class="scroll"><table class="dataframe diagnostics"><thead><tr><th>verdict</th>'
        "<th>covariate</th><th>elpd diff (cs - fit)</th><th>se</th>"
        f"<th>deviations apart from 0 ({result.ci:.0%})</th><th>reading</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    for x, dev in result.deviations.items():
        body += (
            f"<details><summary>cs({_e(str(x))}): each level's effect at each threshold and "
            "its deviation from the level's average</summary>"
            + page.table(dev.reset_index(), {c: "{:.2f}" for c in dev.columns})
            + "</details>"
        )
    lead = (
        f"Overall: {_verdict_badge(result.verdict)}. Each covariate was fitted again with "
        "one effect per threshold (<code>cs(x)</code>) and compared with this fit by "
        "PSIS-LOO: a difference above 4 and twice its standard error says the thresholds "
        "move apart (proportional odds is doubtful for it); "
        f"about {1 - result.ci:.0%} of the deviations' intervals exclude 0 by chance alone."
    )
    return _section("po", body, lead)


def _diagnostics(page: _Page, report) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{_verdict_badge(c.verdict)}</td><td>{_e(c.name)}</td>"
        f"<td>{_e(f'{c.value:.4g}')}</td><td>{_e(c.threshold)}</td>"
        f"<td>{_e(c.detail)}</td><td>{_e(c.advice) if c.verdict != 'ok' else ''}</td>"
        "</tr>"
        for c in report.checks
    )
    table = (
        '<div class="scroll"><table class="dataframe diagnostics"><thead><tr><th>verdict</th>'
        "<th>check</th><th>value</th><th>ok when</th><th>detail</th><th>next step</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
    lead = (
        f"Overall: {_verdict_badge(report.verdict)} "
        f"<b>{_e(_VERDICT_WORDS.get(report.verdict, report.verdict))}</b> "
        f"(sampler {_e(report.sampler or '?')}). Thresholds follow the ArviZ and Stan "
        "guidance; a failed check makes the estimates unreliable."
    )
    worst = report.parameters.sort_values("r_hat", ascending=False).head(10)
    extra = (
        "<details><summary>The ten parameters with the highest r_hat</summary>"
        + page.table(
            worst,
            {"ess_bulk": "{:.0f}", "ess_tail": "{:.0f}", "r_hat": "{:.3f}", "mcse_ratio": "{:.3f}"},
        )
        + "</details>"
    )
    return _section("diagnostics", table + extra, lead)


def _resolve_by(fit: FittedModel, ppc_by: str | None) -> str | None:
    if ppc_by is None or ppc_by == "none":
        return None
    if ppc_by == "auto":  # mission, else the outermost group of the model's first term
        if "mission" in fit.data:
            return "mission"
        for g in fit.info.groups:
            top = g.factor[0]
            if top in fit.data and fit.data[top].nunique() <= 50:
                return top
        return None
    if ppc_by not in fit.data:
        raise ReportError(
            f"no column '{ppc_by}' in the fitted data for the predictive check by group; "
            "columns: " + ", ".join(map(str, fit.data.columns))
        )
    return ppc_by


def _ppc(page: _Page, fit: FittedModel, by: str | None, draws: int) -> str:
    overall = posterior_predictive_check(fit, draws=draws)
    pit = overall.pit_test()
    cells = overall.table.loc["overall"]
    n_out = int(cells["outside"].sum())
    lead = (
        f"{min(draws, fit.arrays.n_draws)} data sets replicated from the posterior (evenly "
        f"spaced draws) against the observed data: the observed count of each level "
        f"(bars) and the {overall.ci:.0%} interval of replicated counts (whiskers), with "
        "cells outside it outlined in red. The randomised leave-one-out PIT is uniform "
        "for a calibrated model."
    )
    verdict = "ok" if n_out == 0 else "warn"
    pit_verdict = "ok" if pit["p_value"] >= 0.01 else "warn"
    parts = [
        f"<p>{_verdict_badge(verdict)} Overall: {n_out} of {len(cells)} levels outside the "
        f"{overall.ci:.0%} predictive interval. {_verdict_badge(pit_verdict)} LOO-PIT "
        f"uniformity: chi-square p = {pit['p_value']:.3g} ({pit['bins']} bins).</p>"
    ]
    fig = _figure(6.0, 3.4, layout=None)  # the plot lays itself out
    overall.plot(ax=fig.add_subplot())
    fig.axes[0].set_title("Observed vs replicated counts of each level", fontsize=10)
    fig_pit = _figure(5.0, 3.4, layout=None)
    overall.plot_pit(ax=fig_pit.add_subplot())
    parts.append(
        '<div class="row">'
        + _img(fig, "Posterior predictive check: observed and replicated counts of each level")
        + _img(fig_pit, "LOO-PIT histogram: calibration of the predictive distribution")
        + "</div>"
    )
    parts.append(
        "<details><summary>Counts of each level: observed, predicted (mean) and interval"
        "</summary>"
        + page.table(cells, {"predicted": "{:.1f}", "lower": "{:.0f}", "upper": "{:.0f}"})
        + "</details>"
    )
    if overall.ranges is not None:
        ranges = overall.ranges.loc["overall"]
        parts.append(
            f"<p>Ranges (ambiguous codes): {int(ranges['rows'].sum()):,} rows are coded as a "
            f"range of levels, in {len(ranges)} distinct ranges. In the observed counts above "
            "each is counted at a level drawn, draw by draw, from the model's distribution "
            "within its range (the completed data; the mean over draws is shown), so that "
            "every row counts and none is assigned a level for good. The table gives, for "
            "each range, the share of its rows' replicates that fall inside it.</p>"
            "<details><summary>Rows coded as each range, and how likely the model finds "
            "the range</summary>"
            + page.table(ranges, {"p_inside": "{:.2f}", "lower": "{:.2f}", "upper": "{:.2f}"})
            + "</details>"
        )
    if by is not None:
        # The same replicated data sets as the overall check (same draws and seed), counted
        # within each value of the column; the PIT needs no second computation.
        if fit.design.y_high is None:
            y_rep, observed = replicate(fit, draws), fit.design.of_rows(fit.design.y)
        else:  # the same completed data as the overall check
            y_rep, observed = replicate(fit, draws, complete=True)
        labels = fit.data[by].astype(str).to_numpy()
        names = sorted(set(labels))
        table = count_table(
            observed,
            y_rep,
            np.searchsorted(names, labels),
            names,
            list(fit.info.spectrum),
            by,
            overall.ci,
        )
        by_result = replace(overall, table=table, by=by, ranges=None)
        flagged = by_result.flagged
        shown = min(len(names), 12)
        ax = by_result.plot()
        parts.append(f"<h3>By {_e(by)}</h3>")
        parts.append(
            f"<p>{len(flagged)} of {len(table)} cells ({len(names)} {_e(by)} values \u00d7 "
            f"{len(fit.info.spectrum)} levels) outside the {overall.ci:.0%} predictive "
            f"interval; about "
            f"{(1 - overall.ci) * len(table):.0f} are expected by chance."
            + (f" The plot shows the first {shown} {_e(by)} values." if len(names) > 12 else "")
            + "</p>"
        )
        parts.append(
            _img(ax.figure, f"Posterior predictive check by {by}", close=True)
            if ax is not None
            else ""
        )
        if len(flagged):
            parts.append(
                "<details><summary>The cells outside the interval</summary>"
                + page.table(
                    flagged.drop(columns="outside"),
                    {"predicted": "{:.1f}", "lower": "{:.0f}", "upper": "{:.0f}"},
                )
                + "</details>"
            )
    return _section("ppc", "\n".join(parts), lead)


def _whatif(page: _Page, answer, profiles: Any) -> str:
    from bayesresp.queries.whatif import PROFILE_LABEL

    modes = ", ".join(f"{_e(g)}: <b>{_e(m)}</b>" for g, m in answer.group_modes.items())
    source = f" from <code>{_e(profiles)}</code>" if isinstance(profiles, str | Path) else ""
    lead = (
        f"Predicted responses for {len(answer.profiles)} hypothetical "
        f"incident{'s' if len(answer.profiles) != 1 else ''}{source}. Expected position on "
        f"the spectrum (0 = {_e(answer.levels[0])}, {len(answer.levels) - 1} = "
        f"{_e(answer.levels[-1])}) with its {answer.ci:.0%} interval, and the most probable "
        "response." + (f" Group effects: {modes}." if modes else "")
    )
    parts = []
    if answer.filled:
        parts.append(
            '<p class="callout">Filled with the sample\'s typical value: '
            + ", ".join(f"<code>{_e(k)}</code> = {_e(v)}" for k, v in answer.filled.items())
            + "</p>"
        )
    parts.append(answer._repr_html_())
    fig = _figure(9.0, 0.6 * len(answer.profiles) + 1.6, layout=None)
    answer.plot(ax=fig.add_subplot())
    parts.append(_img(fig, "Stacked bars: predicted probability of each response per profile"))
    asked = answer.profiles.set_index(PROFILE_LABEL).astype(object).T  # one column each
    asked.index.name = "covariate"
    parts.append("<details open><summary>The profiles</summary>" + page.table(asked) + "</details>")
    full = answer.to_dataframe()
    parts.append(
        "<details><summary>Probability of every level, with intervals</summary>"
        + page.table(full)
        + "</details>"
    )
    return _section("whatif", "\n".join(parts), lead)


# -- the document ---------------------------------------------------------------------------
def _provenance(fit: FittedModel, source: Path | None) -> str:
    import arviz
    import pymc

    from bayesresp.inference.fitfile import _data_table, _hash_table

    attrs = fit.file_attrs or {}
    meta = fit.meta
    data_hash = attrs.get("data_sha256") or _hash_table(_data_table(fit.data))
    recorded = (
        f"bayesresp {attrs.get('bayesresp_version', '?')}, PyMC {attrs.get('pymc_version', '?')}, "
        f"ArviZ {attrs.get('arviz_version', '?')}, Python {attrs.get('python_version', '?')}"
        if attrs
        else f"bayesresp {__version__}, PyMC {pymc.__version__}, ArviZ {arviz.__version__}, "
        f"Python {platform.python_version()} (fitted in this session)"
    )
    items = [("fit file", _e(source))] if source else []
    items += [
        ("fitted with", _e(recorded)),
        (
            "report made with",
            _e(
                f"bayesresp {__version__}, PyMC {pymc.__version__}, ArviZ {arviz.__version__}, "
                f"Python {platform.python_version()}"
            ),
        ),
        (
            "sampler",
            _e(
                f"{meta.get('sampler', '?')}, seed {meta.get('seed', '?')}, "
                f"{meta.get('chains', '?')} chains \u00d7 {meta.get('draws', '?')} draws "
                f"(tune {meta.get('tune', '?')})"
            ),
        ),
        ("data (SHA-256)", f"<code>{_e(data_hash)}</code>"),
    ]
    if attrs.get("bayesresp_format_version") is not None:
        items.append(("fit-file format", _e(attrs["bayesresp_format_version"])))
    return (
        '<footer id="provenance"><h2>Provenance</h2>' + _dl(items) + "<p>Made by "
        "<code>bayesresp report</code>; one self-contained file, no network needed.</p>"
        "</footer>"
    )


def _document(
    fit: FittedModel,
    heading: str,
    sections: list[str],
    source: Path | None,
    verdict: str,
    rules: list[str],
) -> str:

    present = [
        (sid, title)
        for sid, title in SECTIONS
        if any(s.startswith(f'<section id="{sid}">') for s in sections)
    ]
    nav = "".join(f'<a href="#{sid}">{_e(title)}</a>' for sid, title in present)
    css = _CSS + "\n".join(rules) + "\n"  # the tables' alignment rules after the sheet
    sub = (
        f"<code>{_e(fit.spec.formula)}</code><br>{len(fit.data):,} responses \u00b7 "
        f"{_e(fit.spec.family)} {_e(fit.spec.link)}"
        + ("" if fit.spec.thresholds == "flexible" else f" ({_e(fit.spec.thresholds)} thresholds)")
        + f" \u00b7 convergence {_verdict_badge(verdict)}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="bayesresp {_e(__version__)}">\n'
        f"<title>{_e(heading)}</title>\n<style>{css}</style>\n"
        "</head>\n<body>\n"
        f'<header><h1>{_e(heading)}</h1><p class="sub">{sub}</p>'
        f"<nav>{nav}</nav></header>\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n"
        + _provenance(fit, source)
        + "\n</body>\n</html>\n"
    )


_CSS = """
:root{--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa;--accent:#0b5cad;
--ok:#1a7f37;--warn:#9a6700;--fail:#cf222e}
*{box-sizing:border-box}
body{margin:0;color:var(--ink);background:#fff;line-height:1.5;
font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",
"Liberation Sans",sans-serif}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 24px}
header{padding-top:28px;padding-bottom:8px;border-bottom:1px solid var(--line)}
h1{font-size:26px;margin:0 0 6px}
h2{font-size:20px;margin:0 0 10px;padding-bottom:4px;border-bottom:2px solid var(--accent)}
h3{font-size:16px;margin:22px 0 8px}
section{margin:34px 0}
.sub{color:var(--muted);margin:0 0 12px}
.sub code{white-space:normal}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:10px 0 8px}
nav a{font-size:13px;text-decoration:none;color:var(--accent);border:1px solid var(--line);
border-radius:14px;padding:2px 10px;background:var(--soft)}
nav a:hover{background:#eaf2fb}
.lead{color:var(--muted);max-width:80ch}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
font-size:13px}
pre.formula{background:var(--soft);border:1px solid var(--line);border-radius:6px;
padding:8px 12px;margin:0;white-space:pre-wrap}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;
margin:8px 0 16px}
.fact{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:var(--soft)}
.fact .value{font-size:22px;font-weight:600}
.fact .label{font-size:12px;color:var(--muted)}
.row{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.row>div{min-width:0}
.scroll{overflow-x:auto;max-width:100%;margin:6px 0 10px}
table.dataframe{border-collapse:collapse;border:none;font-size:13px;
font-variant-numeric:tabular-nums;margin:6px 0 10px}
table.dataframe th,table.dataframe td{padding:3px 8px;border:none;
border-bottom:1px solid #eaeef2;text-align:right;vertical-align:top}
table.dataframe thead th{border-bottom:2px solid var(--line);background:var(--soft);
text-align:right;white-space:nowrap}
table.dataframe thead th:first-child{text-align:left}
table.dataframe tbody th{text-align:left;font-weight:600;white-space:nowrap}
table.dataframe tbody tr:nth-child(even){background:#fafbfc}
table.dataframe tbody tr:hover{background:#eef4fb}
table.summary td:last-child{min-width:11em;overflow-wrap:anywhere}
table.diagnostics td,table.diagnostics th{text-align:left}
table.diagnostics td:nth-child(3),table.diagnostics th:nth-child(3){text-align:right}
table.compact td{text-align:left}
img{max-width:100%;height:auto;display:block;margin:8px 0}
details{margin:8px 0}
summary{cursor:pointer;color:var(--accent);font-size:14px}
.badge{display:inline-block;min-width:44px;text-align:center;border-radius:10px;
padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.badge.ok{background:var(--ok)}
.badge.warn{background:var(--warn)}
.badge.fail{background:var(--fail)}
.callout{border-left:4px solid var(--accent);background:#eef4fb;padding:8px 12px;
border-radius:4px}
.callout.warn{border-color:var(--warn);background:#fff8c5}
dl.spec{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;margin:0}
dl.spec dt{font-weight:600;color:var(--muted)}
dl.spec dd{margin:0;min-width:0}
footer{border-top:1px solid var(--line);margin-top:40px;padding-top:16px;padding-bottom:40px;
font-size:13px;color:var(--muted)}
footer h2{font-size:16px;border-bottom:none;color:var(--ink)}
@media print{nav{display:none}section{break-inside:auto}img{break-inside:avoid}}
"""
