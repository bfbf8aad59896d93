"""Fitting: data and a specification in, a :class:`bayesresp.Fit` out."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.codebook import Codebook
from bayesresp.design import make_design
from bayesresp.draws import Draws, eta_from_draws
from bayesresp.errors import BayesrespError
from bayesresp.maths import log_prob
from bayesresp.model import ResolvedPriors, build_model
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

    Returns
    -------
    Fit

    Examples
    --------
    >>> import bayesresp
    >>> fit = bayesresp.fit(bayesresp.load_example(), "models/hierarchical.toml",
    ...                     draws=200, tune=200, seed=1)  # doctest: +SKIP
    >>> fit.summary().loc["background[military_security]", "mean"]  # doctest: +SKIP
    """

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
):
    """Fit a prepared design. Its recipe may come from other data: exact-LOO refits use
    the full data's recipe, so that every level keeps its coefficient."""
    from bayesresp.results import Fit

    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    model = build_model(design, spec.priors, spec.link)
    tree = sample_model(
        model,
        sampler=sampler,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        progress=progress,
        target_accept=target_accept,
        cores=cores,
    )
    tree = finish_tree(tree, design, spec.link, frame, cb)
    meta = {
        "sampler": sampler,
        "seed": seed,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "priors": ResolvedPriors(design.info, spec.priors, spec.link).table(),
    }
    return Fit(tree, spec, cb, frame, design.info, meta)


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
) -> xr.DataTree:
    """Run NUTS with the chosen backend and return its DataTree."""
    import pymc as pm

    if sampler == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise SamplerError(
                "the numpyro sampler needs JAX and NumPyro: pip install 'bayesresp[jax]'"
            ) from None
    cores = cores or max(1, min(chains, os.cpu_count() or 1))
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
    with model, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Potential.*")
        return pm.sample(**kwargs)


def finish_tree(
    tree: xr.DataTree, design, link: str, frame: pd.DataFrame, cb: Codebook
) -> xr.DataTree:
    """Keep what a fit needs: posterior, sampler stats, per-row log-likelihood, observed data."""
    # Every free variable stays (z[...], chol[...] too): the log prior, which prior
    # sensitivity checks need, is a function of all of them.
    post = tree["posterior"].to_dataset()
    out = xr.DataTree()
    out["posterior"] = xr.DataTree(post)
    out["sample_stats"] = xr.DataTree(tree["sample_stats"].to_dataset())
    draws = Draws.from_posterior(post, design.info)
    eta = eta_from_draws(draws, design, groups="known")
    ll = log_prob(design.y, eta, draws.cutpoints, link)
    shape = (post.sizes["chain"], post.sizes["draw"], design.n)
    row_ids = _row_ids(frame, cb)
    out["log_likelihood"] = xr.DataTree(
        xr.Dataset(
            {cb.outcome.name: (("chain", "draw", "row"), ll.reshape(shape))},
            coords={"chain": post["chain"].values, "draw": post["draw"].values, "row": row_ids},
        )
    )
    out["observed_data"] = xr.DataTree(
        xr.Dataset({cb.outcome.name: (("row",), design.y)}, coords={"row": row_ids})
    )
    return out


def _row_ids(frame: pd.DataFrame, cb: Codebook) -> np.ndarray:
    key = cb.row_key[0] if cb.row_key else None
    if key and key in frame and frame[key].notna().all() and frame[key].is_unique:
        return frame[key].astype(str).to_numpy()
    return np.arange(1, len(frame) + 1)
