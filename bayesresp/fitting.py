"""Fitting: data and a specification in, a :class:`bayesresp.Fit` out."""

from __future__ import annotations

import json
import os
import time
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.codebook import Codebook
from bayesresp.design import compress as compress_design
from bayesresp.design import make_design
from bayesresp.draws import Draws
from bayesresp.errors import BayesrespError
from bayesresp.kernel import log_likelihood
from bayesresp.model import ResolvedPriors, build_model, coords_of, data_values
from bayesresp.spec import ModelSpec
from bayesresp.validation import validate

SAMPLERS = ("nutpie", "pymc", "numpyro")


class MissingDataError(BayesrespError):
    """Rows lack values in columns the formula uses."""

    def __init__(self, message: str, rows: list[int]):
        super().__init__(message)
        self.rows = rows


class SamplerError(BayesrespError):
    """The sampler asked for is unknown or not installed."""

    exit_status = 2


def prepare_data(
    data: pd.DataFrame | str | Path,
    spec: ModelSpec,
    codebook: Codebook | str | Path | dict | None,
    missing: str = "error",
) -> tuple[pd.DataFrame, Codebook]:
    """Validate the data (against the codebook, or one inferred from the data) and
    handle missing values in the formula's columns."""
    if missing not in ("error", "drop"):
        raise ValueError("missing must be 'error' or 'drop'")
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
    frame = validate(data, cb)
    used = [v for v in formula.variables if v in frame]
    absent = [v for v in formula.variables if v not in frame]
    if absent:
        raise BayesrespError(
            f"the formula uses column(s) {', '.join(absent)}, which the data do not have"
        )
    incomplete = frame[used].isna()
    bad = np.flatnonzero(incomplete.any(axis=1).to_numpy())
    if bad.size:
        cols = [c for c in used if incomplete[c].any()]
        rows = (bad + 1).tolist()
        shown = ", ".join(map(str, rows[:20])) + (" ..." if len(rows) > 20 else "")
        if missing == "error":
            raise MissingDataError(
                f"{len(rows)} row(s) have missing values in column(s) the formula uses "
                f"({', '.join(cols)}): rows {shown}. Fill them in, or pass missing='drop' "
                "to leave these rows out of the fit.",
                rows,
            )
        warnings.warn(
            f"dropped {len(rows)} row(s) with missing values in {', '.join(cols)} (rows {shown})",
            UserWarning,
            stacklevel=3,
        )
        frame = frame.drop(index=frame.index[bad])
    return frame, cb


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
    centring: bool | None = None,
):
    """Fit the hierarchical cumulative-link model to coded data.

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
    missing : {"error", "drop"}
        What to do with rows that lack a value the formula needs.
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
        With nutpie, sample bayesresp's compiled log density (:mod:`bayesresp.kernel`:
        the same density and gradient as the PyMC model's, compiled once per machine,
        so a new process starts sampling in a fraction of a second instead of compiling
        PyMC's graph for 10-15 s; its vectorised gradient costs about a third of the
        graph's). By default it is used for every model it covers (all but ``mo()``
        terms and correlated varying effects); ``False`` samples PyMC's graph, ``True``
        insists on the kernel.
    centring : bool, optional
        Hierarchical centring of the innermost of nested group intercepts (kernel only):
        for ``(1 | mission/department)``, the department means are sampled, each normal
        around its mission's effect plus the covariates constant within departments
        (mission context and department composition alike), instead of standardised
        department effects ``z``; the mission effects stay non-centred. The same model
        and the same posterior variables; with many rows per department it samples
        several times faster (15 leapfrog steps per draw instead of 64 at 10,000 rows).
        By default it is used when the innermost group has on average at least 100 rows
        per level (``bayesresp.kernel.CENTRE_ROWS_PER_LEVEL``); ``True`` insists,
        ``False`` never.

    Returns
    -------
    Fit
        ``fit.meta`` records the sampler, seed and settings, ``rows_fitted`` (distinct
        rows when compressed), ``log_density`` ("kernel" or "pytensor"), ``centred``,
        ``compiled``
        ("kernel" for the compiled kernel; for PyMC's graph "new", or "reused" when a
        model of the same structure compiled earlier in this process was refitted to
        these rows) and ``timings``:
        seconds for ``build`` (checks, design, model graph), ``compile``, ``sampling``
        and ``finish`` (per-row log-likelihood).

    Examples
    --------
    >>> import bayesresp
    >>> fit = bayesresp.fit(bayesresp.load_example(), "models/hierarchical.toml",
    ...                     draws=200, tune=200, seed=1)  # doctest: +SKIP
    >>> fit.summary().loc["background[military_security]", "mean"]  # doctest: +SKIP
    """

    started = time.perf_counter()
    if sampler not in SAMPLERS:
        raise SamplerError(f"sampler '{sampler}' is not one of {', '.join(SAMPLERS)}")
    spec = ModelSpec.coerce(spec)
    frame, cb = prepare_data(data, spec, codebook, missing)
    design = make_design(
        frame, spec.parsed, cb, blocks=spec.blocks, scale_continuous=spec.scale_continuous
    )
    return fit_design(
        design,
        frame,
        spec,
        cb,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        sampler=sampler,
        progress=progress,
        target_accept=target_accept,
        cores=cores,
        compress=compress,
        kernel=kernel,
        centring=centring,
        started=started,
    )


def fit_design(
    design,
    frame: pd.DataFrame,
    spec: ModelSpec,
    cb: Codebook,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int | None,
    sampler: str,
    progress: bool,
    target_accept: float,
    cores: int | None,
    compress: bool | None = None,
    kernel: bool | None = None,
    centring: bool | None = None,
    started: float | None = None,
):
    """Fit a prepared design. Its recipe may come from other data: exact-LOO refits use
    the full data's recipe, so that every level keeps its coefficient."""
    from bayesresp.results import Fit

    started = time.perf_counter() if started is None else started
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    fitted, inverse = _maybe_compress(design, compress)
    use_kernel = _use_kernel(fitted, sampler, kernel)
    if centring and not use_kernel:
        from bayesresp.kernel import unsupported

        why = unsupported(fitted.info) or f"sampler='{sampler}', kernel={kernel}"
        raise SamplerError(
            f"centring=True needs the compiled kernel, which is not used here ({why})"
        )
    timings: dict[str, float | None] = {}
    centred = False
    run = dict(
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        progress=progress,
        target_accept=target_accept,
        cores=cores,
        timings=timings,
    )
    if use_kernel:
        tree, compiled, centred = sample_kernel(
            fitted, spec, started=started, centring=centring, **run
        )
    else:
        model = build_model(fitted, spec.priors, spec.link)
        timings["build"] = time.perf_counter() - started
        tree, compiled = sample_model(
            model,
            sampler=sampler,
            structure=_structure_key(fitted, spec),
            data=data_values(fitted),
            **run,
        )
    t = time.perf_counter()
    tree = finish_tree(tree, fitted, spec.link, frame, cb, inverse)
    timings["finish"] = time.perf_counter() - t
    meta = {
        "sampler": sampler,
        "seed": seed,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "priors": ResolvedPriors(design.info, spec.priors, spec.link).table(),
        "rows_fitted": fitted.n,
        "compressed": inverse is not None,
        "compiled": compiled,
        "log_density": "kernel" if use_kernel else "pytensor",
        "centred": centred,
        "timings": timings,
    }
    return Fit(tree, spec, cb, frame, design.info, meta)


def _use_kernel(design, sampler: str, kernel: bool | None) -> bool:
    """Whether nutpie samples bayesresp's compiled log density (:mod:`bayesresp.kernel`)
    rather than PyMC's graph."""
    if kernel is False or sampler != "nutpie":
        if kernel and sampler != "nutpie":
            raise SamplerError(f"kernel=True needs sampler='nutpie' (not '{sampler}')")
        return False
    from bayesresp.kernel import unsupported

    reason = unsupported(design.info)
    if reason is not None and kernel:
        raise SamplerError(
            f"the compiled log density does not cover {reason}; fit with kernel=None or False"
        )
    return reason is None


def sample_kernel(
    design,
    spec: ModelSpec,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    progress: bool,
    target_accept: float,
    cores: int | None,
    timings: dict,
    started: float,
    centring: bool | None = None,
) -> tuple[xr.DataTree, str, bool]:
    """Sample with nutpie from the compiled kernel; return a DataTree whose posterior has
    the PyMC model's variables, "kernel" (nothing compiled for this model), and whether
    the group intercepts were hierarchically centred.

    Centred fits use nutpie's low-rank modified mass matrix: the common level of the
    group means and the cutpoints form a ridge that a diagonal one cannot follow."""
    import nutpie

    from bayesresp import kernel

    t = time.perf_counter()
    kernel.callbacks()  # compiled once per machine, then loaded from Numba's disk cache
    load = time.perf_counter() - t
    if centring and kernel.nesting(design) is None:
        raise SamplerError(
            "centring=True needs nested group intercepts, such as (1 | mission/department), "
            "with every level present in the data"
        )
    packed = kernel.pack(design, spec.priors, spec.link, centring)
    compiled = kernel.nutpie_model(packed)
    timings["build"] = time.perf_counter() - started - load
    timings["compile"] = load
    t = time.perf_counter()
    tree = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(tune, 1),
        chains=chains,
        cores=cores or max(1, min(chains, os.cpu_count() or 1)),
        seed=_chain_seed(seed, chains),
        progress_bar=progress,
        target_accept=target_accept,
        **kernel.nutpie_settings(packed),
    )
    timings["sampling"] = time.perf_counter() - t
    out = xr.DataTree()
    out["posterior"] = xr.DataTree(kernel.posterior(packed, tree["posterior"].to_dataset()))
    out["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset())
    return out, "kernel", packed.centred


def _chain_seed(seed: int, chains: int) -> int:
    """One seed for nutpie, derived from the user's seed as PyMC does."""
    return int(np.random.default_rng(seed).spawn(chains)[0].integers(2**30))


# Compress when the distinct rows are at most this share of the rows: the likelihood's
# cost is linear in the rows it sums over, and compressing costs one sort.
COMPRESS_BELOW = 0.9


def _maybe_compress(design, compress: bool | None):
    """The design to fit (its distinct rows with counts, when that pays or is asked for)
    and the map from every row to its distinct row (None when not compressed)."""
    if compress is False:
        return design, None
    compressed, inverse = compress_design(design)
    if compress is None and compressed.n > COMPRESS_BELOW * design.n:
        return design, None
    return compressed, inverse


# Compiled models by structure, for refits of the same specification on other rows of
# the same structure (calibration studies, bootstrap, simulation): the graph depends only
# on the structure, so the data arrays are swapped in (nutpie's with_data) and nothing
# is compiled again. A few are kept, the least recently used dropped first.
_COMPILED: OrderedDict[str, Any] = OrderedDict()
_COMPILED_KEEP = 4


def _structure_key(design, spec: ModelSpec) -> str:
    """Everything the model's graph depends on, apart from the data arrays."""
    info = design.info
    return json.dumps(
        {
            "spectrum": info.spectrum,
            "columns": info.column_names,
            "monotonic": [(m.var, m.levels) for m in info.monotonic],
            # Level counts, not names: a refit relabels the levels (finish_tree).
            "groups": [(g.label, len(g.levels), g.column_names, g.correlated) for g in info.groups],
            "priors": ResolvedPriors(info, spec.priors, spec.link).table(),
            "link": spec.link,
        },
        sort_keys=True,
    )


def clear_compiled_models() -> None:
    """Forget the compiled models kept for refits (frees their memory)."""
    _COMPILED.clear()


def _compiled_nutpie(model, structure: str | None, data: dict | None) -> tuple[Any, str]:
    import nutpie

    if structure is not None and structure in _COMPILED:
        _COMPILED.move_to_end(structure)
        compiled = _COMPILED[structure]
        # Containers the graph does not use (no mo() terms: 'mono') were compiled away.
        used = {var.name for var in compiled.shared_var_keys}
        return compiled.with_data(**{k: v for k, v in data.items() if k in used}), "reused"
    import pytensor

    # Without fastmath, floating-point operations keep their order whatever the memory
    # alignment of the arrays: the same seed then gives the same draws in every process,
    # not only within one.
    with pytensor.config.change_flags(numba__fastmath=False):
        compiled = nutpie.compile_pymc_model(model, backend="numba")
    if structure is not None:
        _COMPILED[structure] = compiled
        while len(_COMPILED) > _COMPILED_KEEP:
            _COMPILED.popitem(last=False)
    return compiled, "new"


def sample_model(
    model,
    *,
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    progress: bool,
    target_accept: float,
    cores: int | None,
    structure: str | None = None,
    data: dict | None = None,
    timings: dict | None = None,
) -> tuple[xr.DataTree, str]:
    """Run NUTS with the chosen backend; return its DataTree and whether the compiled
    model was "new" or "reused" ("new" for samplers that compile inside PyMC).

    With nutpie, compiling and sampling are timed apart (``timings["compile"]``,
    ``timings["sampling"]``); the other samplers compile inside their sampling call, so
    their ``compile`` time is included in ``sampling`` and recorded as None.
    """
    import pymc as pm

    timings = {} if timings is None else timings
    cores = cores or max(1, min(chains, os.cpu_count() or 1))
    chain_seed = _chain_seed(seed, chains)
    if sampler == "nutpie":
        import nutpie

        t = time.perf_counter()
        compiled, how = _compiled_nutpie(model, structure, data)
        timings["compile"] = time.perf_counter() - t
        t = time.perf_counter()
        tree = nutpie.sample(
            compiled,
            draws=draws,
            tune=max(tune, 1),
            chains=chains,
            cores=cores,
            seed=chain_seed,
            progress_bar=progress,
            target_accept=target_accept,
        )
        timings["sampling"] = time.perf_counter() - t
        return tree, how
    if sampler == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise SamplerError(
                "the numpyro sampler needs JAX and NumPyro: pip install 'bayesresp[jax]'"
            ) from None
    kwargs: dict[str, Any] = dict(
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        random_seed=seed,
        progressbar=progress,
        nuts_sampler=sampler,
        target_accept=target_accept,
        compute_convergence_checks=False,
    )
    t = time.perf_counter()
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Potential.*")
        tree = pm.sample(**kwargs)
    timings["compile"] = None
    timings["sampling"] = time.perf_counter() - t
    return tree, "new"


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
    # Every free variable stays (z[...], chol[...] too): the log prior, which prior
    # sensitivity checks need, is a function of all of them.
    post = tree["posterior"].to_dataset()
    # Label every dimension by this design (a reused compiled model carries the levels of
    # the data it was compiled for).
    post = post.assign_coords({k: v for k, v in coords_of(design.info).items() if k in post.dims})
    out = xr.DataTree()
    out["posterior"] = xr.DataTree(post)
    out["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset())
    draws = Draws.from_posterior(post, design.info)
    ll = log_likelihood(design, draws, link)
    y = design.y
    if inverse is not None:
        ll, y = ll[:, inverse], y[inverse]
    shape = (post.sizes["chain"], post.sizes["draw"], len(frame))
    row_ids = _row_ids(frame, cb)
    out["log_likelihood"] = xr.DataTree(
        xr.Dataset(
            {cb.outcome.name: (("chain", "draw", "row"), ll.reshape(shape))},
            coords={"chain": post["chain"].values, "draw": post["draw"].values, "row": row_ids},
        )
    )
    out["observed_data"] = xr.DataTree(
        xr.Dataset({cb.outcome.name: (("row",), y)}, coords={"row": row_ids})
    )
    return out


def _row_ids(frame: pd.DataFrame, cb: Codebook) -> np.ndarray:
    key = cb.row_key[0] if cb.row_key else None
    if key and key in frame and frame[key].notna().all() and frame[key].is_unique:
        return frame[key].astype(str).to_numpy()
    return np.arange(1, len(frame) + 1)
