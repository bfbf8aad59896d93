"""Fitting: data and a specification in, the fitted record out.

:func:`fit` validates the data, builds the design and hands it to :func:`fit_design`,
which compresses identical rows, samples through the one dispatch
(:func:`bayesresp.inference.sampling.sample`) and stores the per-row log-likelihood.
``bayesresp.fit`` wraps the record in the user's :class:`bayesresp.Fit`.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.data.codebook import Codebook
from bayesresp.data.validation import validate
from bayesresp.errors import BayesrespError, MissingDataError, SamplerError, Usage
from bayesresp.inference.arrays import PosteriorArrays
from bayesresp.inference.kernel import log_likelihood
from bayesresp.inference.record import FittedModel
from bayesresp.inference.sampling import SamplerSettings, sample
from bayesresp.model.design import Design, DesignInfo, apply_design, design_of_spec, unfitted
from bayesresp.model.design import compress as compress_design
from bayesresp.model.formula import Formula
from bayesresp.model.graph import coords_of, prior_table
from bayesresp.model.spec import ModelSpec

MISSING = ("error", "drop", "model")
# How a user drops incomplete rows, or models their missing covariates: in Python, and
# on the command line (fit).
MISSING_DROP = Usage(python="missing='drop'", cli="--missing drop")
MISSING_MODEL = Usage(python="missing='model'", cli="--missing model")


def _check_missing(missing: object) -> None:
    if not isinstance(missing, str) or missing not in MISSING:
        raise SamplerError(f"missing must be 'error', 'drop' or 'model', not {missing!r}")


def _modelled(cb: Codebook, name: str, outcome: str, groups: set[str]) -> bool:
    """Whether missing="model" models this column's missing cells: a covariate with
    levels (nominal or ordinal: summed out) or a number (latent values), not the outcome
    and not a group."""
    f = cb.fields.get(name)
    if name == outcome or name in groups or f is None:
        return False
    return f.categories is not None or f.kind in ("continuous", "integer")


def prepare_data(
    data: pd.DataFrame | str | Path,
    spec: ModelSpec,
    codebook: Codebook | str | Path | dict | None,
    missing: str = "error",
) -> tuple[pd.DataFrame, Codebook]:
    """Validate the data (against the codebook, or one inferred from the data) and
    handle missing values in the formula's columns."""
    _check_missing(missing)
    formula = spec.parsed
    if codebook is None and isinstance(data, pd.DataFrame):
        default = Codebook.default()
        if not all(v in default.fields for v in formula.variables):
            codebook = Codebook.infer(
                data,
                formula.outcome,
                formula.variables,
                groups=[n for g in formula.groups for n in g.factor],
            )
            data = codebook.prepare(data)
    cb = Codebook.coerce(codebook)
    spec.check_blocks(cb)  # before the data are validated, naming the spec file
    frame = validate(data, cb)
    used = [v for v in formula.variables if v in frame]
    absent = [v for v in formula.variables if v not in frame]
    if absent:
        raise BayesrespError(
            f"the formula uses column(s) {', '.join(absent)}, which the data do not have"
        )
    incomplete = frame[used].isna()
    if formula.outcome in incomplete:  # a range (ambiguous code) is an outcome too
        incomplete[formula.outcome] &= ~_is_range(frame, cb)
    if missing == "model":  # covariates with levels: summed out in the model
        groups = {n for g in formula.groups for n in g.factor}
        modelled = [c for c in incomplete.columns if _modelled(cb, c, formula.outcome, groups)]
        frame, filled = _fill_constant(frame, cb, [c for c in modelled if incomplete[c].any()])
        incomplete = frame[used].isna()
        if formula.outcome in incomplete:
            incomplete[formula.outcome] &= ~_is_range(frame, cb)
        for c in modelled:
            incomplete[c] = False
        frame.attrs["bayesresp_filled"] = filled
    bad = np.flatnonzero(incomplete.any(axis=1).to_numpy())
    if bad.size:
        cols = [c for c in used if incomplete[c].any()]
        rows = (bad + 1).tolist()
        shown = ", ".join(map(str, rows[:20])) + (" ..." if len(rows) > 20 else "")
        if missing == "model":
            raise MissingDataError.spelt(
                [
                    f"{len(rows)} row(s) have missing values in column(s) the model cannot "
                    f"model ({', '.join(cols)}): rows {shown}. ",
                    MISSING_MODEL,
                    " models missing covariates (levels summed out, numbers as latent "
                    "values); the outcome and groups must be given. Fill them in, or pass ",
                    MISSING_DROP,
                    " to leave these rows out of the fit.",
                ],
                rows,
            )
        if missing == "error":
            raise MissingDataError.spelt(
                [
                    f"{len(rows)} row(s) have missing values in column(s) the formula uses "
                    f"({', '.join(cols)}): rows {shown}. Fill them in, pass ",
                    MISSING_DROP,
                    " to leave these rows out of the fit, or ",
                    MISSING_MODEL,
                    " to model missing covariates (levels summed out, numbers as latent values).",
                ],
                rows,
            )
        warnings.warn(
            f"dropped {len(rows)} row(s) with missing values in {', '.join(cols)} (rows {shown})",
            UserWarning,
            stacklevel=3,
        )
        frame = frame.drop(index=frame.index[bad])
    return frame, cb


def _fill_constant(frame: pd.DataFrame, cb: Codebook, columns: list[str]):
    """Fill the missing cells of covariates the codebook declares constant within a group
    (``constantWithin``: an official's background, a mission's phase) from the group's
    other rows, which validation has checked agree; returns the frame and, per column,
    the cells filled and the groups that lack it in all their rows (their rows are then
    summed out one by one). Said in a warning and in ``fit.meta["missing"]``."""
    filled: dict[str, dict] = {}
    notes = []
    for c in columns:
        keys = [k for k in cb.fields[c].constant_within if k in frame]
        if not keys or len(keys) < len(cb.fields[c].constant_within):
            continue
        known = frame[[*keys, c]].dropna()
        if known.empty:
            continue
        value = known.groupby(keys, sort=False, observed=True)[c].first()
        lookup = (
            frame[keys]
            .merge(value.rename("_value").reset_index(), on=keys, how="left")["_value"]
            .to_numpy()
        )
        gaps = frame[c].isna().to_numpy() & pd.notna(lookup)
        # groups that lack it in every row: their rows stay missing (more than one: a
        # level per row, where the codebook says one per group)
        never = frame[c].isna().to_numpy() & pd.isna(lookup) & frame[keys].notna().all(axis=1)
        sizes = frame.loc[never, keys].groupby(keys, sort=False, observed=True).size()
        multi = int((sizes > 1).sum())
        if gaps.any():
            frame = frame.copy()
            column = frame[c].astype(object)
            column[gaps] = lookup[gaps]
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = pd.Categorical(column, dtype=frame[c].dtype)
            elif pd.api.types.is_numeric_dtype(frame[c].dtype):
                frame[c] = column.astype(frame[c].dtype)
            else:
                frame[c] = column
        within = ", ".join(keys)
        filled[c] = {"filled": int(gaps.sum()), "within": within, "whole_groups": multi}
        if gaps.any():
            notes.append(
                f"{int(gaps.sum())} missing cell(s) of {c} filled from the other rows of the "
                f"same {within} (the codebook: constant within {within})"
            )
        if multi:
            notes.append(
                f"{multi} {within} group(s) lack {c} in all their rows: those rows are "
                "modelled one by one, as if each could have its own value (one value per "
                "group is not modelled yet)"
            )
    if notes:
        warnings.warn("missing='model': " + "; ".join(notes), UserWarning, stacklevel=4)
    return frame, filled


def _is_range(frame: pd.DataFrame, cb: Codebook) -> np.ndarray:
    """Rows whose outcome is given as a range: both of the codebook's range columns set
    (validation has checked that such a row leaves the outcome itself empty)."""
    columns = cb.range_columns
    if not columns or not all(c in frame for c in columns):
        return np.zeros(len(frame), dtype=bool)
    return (frame[columns[0]].notna() & frame[columns[1]].notna()).to_numpy()


def _refuse_one_level(frame: pd.DataFrame, outcome: str, cb: Codebook) -> None:
    """An outcome with fewer than two levels in the data says nothing: refuse the fit.
    A range of levels (an ambiguous code) counts as what it is, apart from its levels."""
    present = [str(v) for v in pd.unique(frame[outcome].dropna())]
    ranged = _is_range(frame, cb)
    if ranged.any():
        low, high = (frame[c][ranged].astype(str) for c in cb.range_columns)
        cells = low.where(low == high, low + ".." + high)  # equal ends: that level
        present += sorted(set(cells) - set(present))
    if len(present) < 2:
        raise BayesrespError(
            f"the outcome '{outcome}' has {len(present)} level(s) in the data "
            f"({', '.join(present) or 'none'}) of the {len(cb.spectrum)} the codebook "
            "defines: an ordinal model needs responses at two levels at least to say "
            "anything"
        )


def dropped_terms(info: DesignInfo, formula: Formula) -> dict[str, str]:
    """Terms of the formula that the fitting data cannot inform, each with the reason: a
    term left without any column (a factor with one level present has no contrast), a
    monotonic effect of an ordinal covariate with one level present, and interaction
    cells no row has (their columns are left out)."""
    out: dict[str, str] = {}
    kept = {c.term for c in (*info.columns, *info.cs_columns)}
    for term in formula.terms:
        if any(v.mo for v in term.vars) or str(term) in kept:
            continue
        single = [
            f"only '{info.codings[v.name].observed[0]}' of {v.name} occurs in the data"
            for v in term.vars
            if info.codings[v.name].kind == "factor" and len(info.codings[v.name].observed) == 1
        ]
        why = "; ".join(single) or "no row gives it a value other than its reference"
        out[str(term)] = f"{why}: no contrast to estimate, so the term adds nothing"
    for m in info.monotonic:
        observed = info.codings[m.name].observed
        if len(observed) < 2:
            out[m.name] = (
                f"only '{observed[0] if observed else ''}' of {m.var} occurs in the data: "
                "no step of the monotonic effect can be estimated"
            )
    if info.empty_cells:
        shown = ", ".join(c.name for c in info.empty_cells[:5])
        more = f" and {len(info.empty_cells) - 5} more" if len(info.empty_cells) > 5 else ""
        out["interaction cells"] = (
            f"{len(info.empty_cells)} cell(s) no row has, left out: {shown}{more}"
        )
    return out


def fit(
    data: pd.DataFrame | str | Path,
    spec: ModelSpec | str | Path | dict,
    *,
    codebook: Codebook | str | Path | dict | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    progress: bool = True,
    missing: str = "error",
    target_accept: float = 0.9,
    cores: int | None = None,
    compress: bool | None = None,
    kernel: bool | None = None,
    centring: bool | str | Sequence[str] | None = None,
    family: str | None = None,
    link: str | None = None,
    thresholds: str | None = None,
) -> FittedModel:
    """Fit the hierarchical ordinal model (cumulative-link by default) to coded data.

    Parameters
    ----------
    data : DataFrame or path
        Coded data: validated against ``codebook`` (the default codebook when the formula's
        columns are all in it). A DataFrame whose columns are not in the default codebook
        is accepted without one: its outcome's order is taken from an ordered categorical,
        else from the sorted values.
    spec : formula string, ModelSpec, dict or path of a TOML file
        What to fit, e.g. ``"response ~ severity + background + (1 | mission/department)"``
        or ``"models/hierarchical.toml"``.
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, and the number of chains.
    seed : int, optional
        Same seed, same draws (a seed is drawn and recorded when omitted).
    sampler : {"nutpie", "pymc", "numpyro"}
        NUTS implementation.
    missing : {"error", "drop", "model"}
        What to do with rows that lack a value the formula needs: refuse them, leave
        them out, or (``"model"``) keep them and sum out their missing covariates with
        levels (nominal or ordinal) in the model. Each such covariate then gets a model
        of its own, a multinomial logit on the covariates no row lacks with partially
        pooled effects of the first group term (the mission), and a row that lacks it
        contributes ``log sum_l P(x = l) p(y | x = l)``: exact, no imputation draws
        (:mod:`bayesresp.maths.missing`). Its posterior for each missing cell is
        ``Fit.imputed()``. A number that some rows lack gets a normal model of its own
        on the same covariates and mission, and each missing cell a latent value under
        it, sampled with the rest (:class:`bayesresp.model.design.Latent`; its posterior:
        ``Fit.imputed_values()``). A missing outcome or group is still refused, naming
        its rows. ``fit.meta["missing"]`` counts the cells modelled per covariate.
    target_accept : float
        NUTS's target acceptance rate. 0.9 by default (PyMC's is 0.8): with a dozen
        missions and mission-level covariates, the smaller steps avoid divergences and
        poor mixing of the group standard deviations at little cost.
    cores : int, optional
        Chains run in parallel on this many cores (default: as many as there are, up
        to the number of chains).
    compress : bool, optional
        Fit the distinct rows (same covariates, groups and outcome), each weighted by how
        many rows it stands for: exactly the same posterior, at the cost of the distinct
        rows only. By default this is done when the distinct rows are at most 90% of the
        rows; ``True`` forces it, ``False`` turns it off.
    kernel : bool, optional
        With nutpie, sample bayesresp's compiled log density (:mod:`bayesresp.inference.kernel`:
        the same density and gradient as the PyMC model's, compiled once per machine,
        so a new process starts sampling in a fraction of a second instead of compiling
        PyMC's graph for 10-15 s; its vectorised gradient costs about a third of the
        graph's). By default it is used for every model it covers (all but the
        model of coders); ``False`` samples PyMC's graph, ``True``
        insists on the kernel.
    centring : bool, str or sequence of str, optional
        Hierarchical centring of nested group intercepts (kernel only): for
        ``(1 | mission/department)``, the mission means and the department means are
        sampled, each normal around the level above it plus the covariates constant
        within it (mission context, department composition), instead of standardised
        effects ``z``. The same model and the same posterior variables (under the r2d2
        prior too, whose sds come from the shares); where the data pin each level's
        mean down it samples several times faster (15 leapfrog steps per draw instead
        of 90 at 10,000 rows). By default the terms are centred from the innermost one
        outward while each carries a strong signal
        (:func:`bayesresp.inference.packing.level_signal`: between-level variance over
        a level mean's noise, stratum by stratum after the covariates varying there:
        for the innermost term at least
        :func:`bayesresp.inference.packing.centre_threshold` of its number of levels,
        2.0 up to 100 levels, falling linearly in their logarithm to 1.2 from 1,000,
        and ``CENTRE_SIGNAL_OUTER``, 2.5, for those above it; never an outer term over
        a non-centred inner one); ``True`` centres every term of the chain, ``False``
        none, and a label or a list of labels (``"mission"``,
        ``["mission", "mission:department"]``) those terms.
        ``fit.meta["centred_terms"]`` records which.
    family : {"cumulative", "sratio", "cratio", "acat"}, optional
        The ordinal family, in place of the specification's ``family``
        (:mod:`bayesresp.maths.families`): the cumulative model (one latent propensity
        cut at ordered thresholds), the sequential models (a climb up the spectrum one
        step at a time, each step a choice to stop, ``sratio``, or to go on,
        ``cratio``) or the adjacent-category model (each level against the one below
        it). The compiled kernel covers the cumulative and sequential families; acat
        (and what the kernel does not cover in any family:
        :func:`bayesresp.inference.packing.unsupported`) sample PyMC's graph, and
        ``fit.meta["log_density_why"]`` says so.
    link : {"logit", "probit", "cloglog", "cauchit"}, optional
        The link, in place of the specification's ``link``.
    thresholds : {"flexible", "equidistant"}, optional
        The thresholds' structure, in place of the specification's ``thresholds``
        (:mod:`bayesresp.maths.thresholds`): every threshold a parameter (flexible), or
        the first and last, the others evenly spaced between them (equidistant; they
        keep the flexible prior's marginal of the two ends).

    Returns
    -------
    Fit
        (:func:`bayesresp.fit`; this function returns the plain record,
        :class:`bayesresp.inference.record.FittedModel`.) ``fit.meta`` records the
        sampler, seed and settings, ``rows_fitted`` (distinct rows when compressed),
        ``log_density`` ("kernel" or "pytensor") and ``log_density_why`` (for PyMC's
        graph, why: a model the kernel does not cover, or the settings), ``centred``,
        ``compiled`` ("kernel" for
        the compiled kernel; for PyMC's graph "new", or "reused" when a model of the same
        structure compiled earlier in this process was refitted to these rows) and
        ``timings``: seconds for ``build`` (checks, design, model graph), ``compile``,
        ``sampling`` and ``finish`` (per-row log-likelihood).

    Raises
    ------
    SamplerError
        For settings out of range or of the wrong type (``draws=0``, ``tune=-10``,
        ``chains=0``, ``draws=10.5``, ``chains=True``, ``missing='skip'``, an unknown
        sampler, ``kernel=True`` with another sampler ...), before the data are read.
    SpecError
        For a specification that cannot be read or used (:class:`FormulaError` and
        :class:`PriorError` are kinds of it), before the data are read.

    Examples
    --------
    >>> import bayesresp
    >>> fit = bayesresp.fit(bayesresp.load_example(), "models/hierarchical.toml",
    ...                     draws=200, tune=200, seed=1)  # doctest: +SKIP
    >>> fit.summary().loc["background[military_security]", "mean"]  # doctest: +SKIP
    """

    started = time.perf_counter()
    settings = SamplerSettings(
        sampler=sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        cores=cores,
        progress=progress,
        compress=compress,
        kernel=kernel,
        centring=centring,
    )
    _check_missing(missing)  # before reading anything
    spec = ModelSpec.coerce(spec, family, link, thresholds)  # checked as a specification's keys are
    frame, cb = prepare_data(data, spec, codebook, missing)
    _refuse_one_level(frame, spec.parsed.outcome, cb)
    design = design_of_spec(frame, spec, cb, impute=missing == "model")
    columns = coder_columns(frame, cb, spec)
    if columns is not None:
        names = tuple(sorted(frame[columns[1]].astype(str).unique()))
        info = dataclasses.replace(design.info, coder_columns=columns, coders=names)
        design = apply_design(info, frame, coders=True, own=True)
    return fit_design(design, frame, spec, cb, settings, started=started)


#: The coder column that ``coders='auto'`` recognises (the default codebook's).
AUTO_CODER = "coder_id"


def coder_columns(frame: pd.DataFrame, cb: Codebook, spec: ModelSpec) -> tuple[str, str] | None:
    """The response and coder columns (the codebook's ``rowKey``, first two) when the
    model has the coders' layer, else None: the spec's ``coders`` is ``"model"``, or
    ``"auto"`` with a row key ending in the default codebook's ``coder_id`` and some
    response coded twice or more. A data set the layer cannot take is refused, naming
    rows and columns."""
    key = cb.row_key
    present = len(key) >= 2 and all(k in frame for k in key[:2])
    # "auto" recognises the default codebook's coder column; a codebook of one's own
    # (whose row key may be any composite key) switches the layer on with coders='model'
    known = present and key[1] == AUTO_CODER
    if spec.coders == "rows" or (spec.coders == "auto" and not known):
        return None
    if not present:
        raise BayesrespError(
            "coders='model' needs each row's response and coder: the codebook's rowKey "
            f"names {list(key) or 'no columns'}, and the data must hold its first two "
            "(the response's identifier, then the coder's)"
        )
    response, coder = key[0], key[1]
    ids = frame[response]
    multiple = ids.notna() & ids.duplicated(keep=False)
    if not multiple.any():
        if spec.coders == "auto":
            return None
        raise BayesrespError(
            f"coders='model': no response in the data is coded twice ({response} never "
            "repeats), so the coders' leniency and spread cannot be told apart from the "
            "responses; fit with coders='rows' (each row a response)"
        )
    if coder in {v.name for term in spec.parsed.terms for v in term.vars}:
        raise BayesrespError(
            f"the formula uses the coder column {coder} as a covariate; the model of "
            "coders has each coder's leniency already: leave it out, or fit with "
            "coders='rows'"
        )
    in_formula = [str(g) for g in spec.parsed.groups if coder in g.factor]
    if in_formula:
        raise BayesrespError(
            f"the formula's {', '.join(in_formula)} shifts each coder's codes, and the "
            f"model of coders (coders='{spec.coders}': some {response} is coded twice) "
            "has each coder's leniency already; leave the term out, or fit with "
            "coders='rows' to keep it"
        )
    blank = np.flatnonzero(frame[coder].isna().to_numpy())
    if blank.size:
        rows = ", ".join(str(i + 1) for i in blank[:10]) + (" ..." if blank.size > 10 else "")
        raise BayesrespError(
            f"{blank.size} row(s) name no coder ({coder} empty: rows {rows}); the model "
            "of coders reads every code as a coder's: fill them in, or fit with "
            "coders='rows' (each row a response)"
        )
    _check_codes_agree(frame, spec, response, coder, cb)
    return response, coder


def _check_codes_agree(frame, spec, response: str, coder: str, cb: Codebook) -> None:
    """The rows of one response are its codes: they must agree on every column the model
    reads apart from the coder and the code."""
    codes = {cb.outcome.name, *(cb.range_columns or ()), coder}
    groups = [n for g in spec.parsed.groups for n in g.factor]
    used = [c for c in dict.fromkeys([*spec.parsed.variables, *groups]) if c in frame]
    used = [c for c in used if c not in codes]
    shared = frame[frame[response].notna() & frame[response].duplicated(keep=False)]
    problems = []
    for name in used:
        counts = shared.groupby(response, sort=False, observed=True)[name].nunique(dropna=False)
        for rid in counts.index[counts.to_numpy() > 1][: 5 - len(problems)]:
            mine = (frame[response].astype(object) == rid).to_numpy(dtype=bool)
            rows = np.flatnonzero(mine) + 1
            values = ", ".join(repr(v) for v in pd.unique(frame.loc[mine, name]))
            problems.append(
                f"{response} {rid!s} (rows {', '.join(map(str, rows))}): {name} is {values}"
            )
        if len(problems) >= 5:
            break
    if problems:
        raise BayesrespError(
            "the codes of one response must agree on everything but the coder and the "
            "code (they read the same response): " + "; ".join(problems)
        )


def fit_design(
    design: Design,
    frame: pd.DataFrame,
    spec: ModelSpec,
    cb: Codebook,
    settings: SamplerSettings,
    started: float | None = None,
) -> FittedModel:
    """Fit a prepared design. Its recipe may come from other data: exact-LOO refits use
    the full data's recipe, so that every level keeps its coefficient."""
    started = time.perf_counter() if started is None else started
    settings = settings.seeded()
    fitted, inverse = _maybe_compress(design, settings.compress)
    drawn = sample(fitted, spec, settings, started)
    t = time.perf_counter()
    tree = finish_tree(drawn.tree, fitted, spec.response, frame, cb, inverse)
    drawn.timings["finish"] = time.perf_counter() - t
    dropped = dropped_terms(design.info, spec.parsed)
    if dropped:
        warnings.warn(
            "not estimable from these data: "
            + "; ".join(f"{k}: {v}" for k, v in dropped.items())
            + " (recorded in fit.meta['dropped'])",
            UserWarning,
            stacklevel=4,  # the caller of bayesresp.fit
        )
    meta = {
        **settings.to_meta(),
        "priors": prior_table(design.info, spec.priors, spec.response),
        "rows_fitted": fitted.n,
        "compressed": inverse is not None,
        "compiled": drawn.compiled,
        "log_density": drawn.log_density,
        # why PyMC's graph was sampled where the kernel was not asked to stay out
        "log_density_why": _why_graph(design, settings, drawn.log_density, spec),
        "centred": bool(drawn.centred),
        "centred_terms": list(drawn.centred),
        "coders": _coders_meta(design),
        "timings": drawn.timings,
        "dropped": dropped,
        "missing": _missing_meta(design, frame.attrs.get("bayesresp_filled", {})),
    }
    return FittedModel(tree, spec, cb, frame, design.info, meta)


def _coders_meta(design: Design) -> dict | None:
    """How the coders' layer was sampled (None without one): its leniencies centred or
    not, and the signal that chose (:func:`bayesresp.model.graph.leniency_centred`)."""
    if design.coders is None:
        return None
    from bayesresp.model.graph import leniency_centred

    centred, signal = leniency_centred(design)
    return {"leniency_centred": bool(centred), "leniency_signal": float(signal)}


def _missing_meta(design: Design, filled: dict) -> dict:
    """What a fit did with missing covariates: per imputed covariate, the cells summed out,
    and those filled from their group's other rows (empty when no covariate is
    modelled)."""
    imp = design.imputation
    out = {
        m.var: {"cells": int(imp.missing[:, j].sum()), "levels": list(m.levels)}
        for j, m in enumerate(design.info.imputed)
    }
    for m in design.info.latent:  # numbers: their cells are latent values
        out[m.var] = {"cells": m.n_cells, "levels": [], "latent": True}
    for var, what in filled.items():  # (every gap filled: nothing left to sum out)
        if what["filled"] or var in out:
            out.setdefault(var, {"cells": 0, "levels": []})["filled"] = what
    return out


def _why_graph(
    design: Design, settings: SamplerSettings, log_density: str, spec: ModelSpec
) -> str | None:
    """Why a fit sampled PyMC's graph: a model the kernel does not cover, or the
    settings (``kernel=False``, another sampler); None for a kernel fit."""
    if log_density == "kernel":
        return None
    from bayesresp.inference.packing import unsupported

    reason = unsupported(design.info, spec.response, bool(design.ranges.any()))
    if reason is not None:
        return f"the compiled kernel does not cover {reason}"
    return f"sampler='{settings.sampler}', kernel={settings.kernel}"


# Compress when the distinct rows are at most this share of the rows: the likelihood's
# cost is linear in the rows it sums over, and compressing costs one sort.
COMPRESS_BELOW = 0.9


def _maybe_compress(design, compress: bool | None):
    """The design to fit (its distinct rows with counts, when that pays or is asked for)
    and the map from every row to its distinct row (None when not compressed)."""
    if (
        compress is False
        or design.coders is not None
        or design.imputation is not None
        or design.latent
    ):
        # (codes of responses, or copies of rows: never)
        return design, None
    compressed, inverse = compress_design(design)
    if compress is None and compressed.n > COMPRESS_BELOW * design.n:
        return design, None
    return compressed, inverse


def finish_tree(
    tree: xr.DataTree,
    design,
    link: str,
    frame: pd.DataFrame,
    cb: Codebook,
    inverse: np.ndarray | None = None,
) -> xr.DataTree:
    """Keep what a fit needs: posterior, sampler stats, per-row log-likelihood, observed data.

    ``design`` is the design that was fitted; when it holds the distinct rows of the data
    (``inverse`` maps every row to its distinct row), each row's log-likelihood is its
    distinct row's.
    """
    # Every free variable stays (z[...], cor_chol[...] too): the log prior, which prior
    # sensitivity checks need, is a function of all of them.
    post = tree["posterior"].to_dataset()
    # Label every dimension by this design (a reused compiled model carries the levels of
    # the data it was compiled for).
    post = post.assign_coords({k: v for k, v in coords_of(design.info).items() if k in post.dims})
    out = xr.DataTree()
    out["posterior"] = xr.DataTree(post)
    out["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset())
    draws = PosteriorArrays.from_posterior(post, design.info)
    row_ids = _row_ids(frame, cb)
    # a row's missing numbers integrated out of its stored term (as its missing levels
    # are summed out): the term is log p(y_i | its observed covariates), whose PSIS-LOO
    # weights are steadier than those of the outcome given each draw's latent value
    design = unfitted(design)
    if design.coders is not None:  # one term per response (all its codes), not per row
        from bayesresp.inference.coders import response_log_likelihood

        ll = response_log_likelihood(design, draws, post, link)
        shape = (post.sizes["chain"], post.sizes["draw"], design.coders.n_responses)
        unit = design.info.coder_columns[0]  # the response's identifier names the terms
        out["log_likelihood"] = xr.DataTree(
            xr.Dataset(
                {cb.outcome.name: (("chain", "draw", unit), ll.reshape(shape))},
                coords={
                    "chain": post["chain"].values,
                    "draw": post["draw"].values,
                    unit: list(design.coders.labels),
                },
            )
        )
        y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
        out["observed_data"] = xr.DataTree(
            xr.Dataset(observed(cb, y, y_high), coords={"row": row_ids})
        )
        return out
    if design.imputation is not None:  # one term per row, its missing levels summed out
        from bayesresp.inference.imputation import row_log_likelihood

        ll = row_log_likelihood(design, draws, link)
        y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    else:
        ll = log_likelihood(design, draws, link)
        y, y_high = design.y, design.y_high
    if inverse is not None:
        ll, y = ll[:, inverse], y[inverse]
        y_high = None if y_high is None else y_high[inverse]
    shape = (post.sizes["chain"], post.sizes["draw"], len(frame))
    out["log_likelihood"] = xr.DataTree(
        xr.Dataset(
            {cb.outcome.name: (("chain", "draw", "row"), ll.reshape(shape))},
            coords={"chain": post["chain"].values, "draw": post["draw"].values, "row": row_ids},
        )
    )
    out["observed_data"] = xr.DataTree(xr.Dataset(observed(cb, y, y_high), coords={"row": row_ids}))
    return out


def observed(cb: Codebook, y: np.ndarray, y_high: np.ndarray | None) -> dict:
    """The observed_data group's variables: the outcome's codes; where some rows are
    ranges (ambiguous codes), NaN there (a range is no level), with each row's lowest
    and highest level under the codebook's range columns' names."""
    name = cb.outcome.name
    if y_high is None:
        return {name: (("row",), y)}
    low, high = cb.range_columns
    exact = np.where(y_high > y, np.nan, y.astype(float))
    return {name: (("row",), exact), low: (("row",), y), high: (("row",), y_high)}


def _row_ids(frame: pd.DataFrame, cb: Codebook) -> np.ndarray:
    key = cb.row_key[0] if cb.row_key else None
    if key and key in frame and frame[key].notna().all() and frame[key].is_unique:
        return frame[key].astype(str).to_numpy()
    return np.arange(1, len(frame) + 1)
