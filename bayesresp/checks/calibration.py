"""Simulation-based calibration of the whole fitting procedure (Talts et al. 2018).

For each simulation: draw parameters from the prior, simulate the outcome for the data
set's own covariates and groups, fit, and record the rank of each true parameter among
``L`` thinned posterior draws. If the procedure is calibrated, every parameter's ranks
are uniform on 0..L. A fitting model whose prior differs from the generating one shows
up as ranks piled at one end.

Simulations run as a batch (:mod:`bayesresp.inference.batches`): on local processes by
default, on a Dask cluster with ``client=`` (a ``distributed.Client``), or through any
``concurrent.futures.Executor`` (Ray's). Work is sent in chunks; each chunk compiles the
model once and reuses it for all its simulations (nutpie's ``with_data``), so compile
time is paid once per chunk, not per fit. With ``store=`` (a folder) every chunk's ranks
are written as they arrive, and a run killed and started again with the same arguments
fits only the simulations not yet stored, with the same final ranks, bit for bit.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bayesresp.data.codebook import Codebook
from bayesresp.inference.batches import BatchStore, frame_hash, run_batch, versions
from bayesresp.model.spec import ModelSpec


@dataclass
class SBCResult:
    """Ranks of the true parameters (one row per simulation, one column per parameter)."""

    ranks: pd.DataFrame
    n_posterior: int  # L: ranks run from 0 to L
    bins: int

    def uniformity(self) -> pd.DataFrame:
        """Chi-square test of uniform ranks per parameter (``bins`` equal bins)."""
        rows = {}
        edges = np.linspace(0, self.n_posterior + 1, self.bins + 1)
        for name in self.ranks.columns:
            counts, _ = np.histogram(self.ranks[name], bins=edges)
            res = stats.chisquare(counts)
            rows[name] = {
                "chi2": float(res.statistic),
                "p_value": float(res.pvalue),
                "mean_rank": float(self.ranks[name].mean() / self.n_posterior),
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "parameter"
        return out

    def miscalibrated(self, alpha: float = 0.01) -> list[str]:
        """Parameters whose ranks fail the uniformity test at level ``alpha``
        (Bonferroni-corrected over parameters)."""
        u = self.uniformity()
        return list(u.index[u["p_value"] < alpha / len(u)])

    def plot(self, parameters: list[str] | None = None):
        """Rank histograms with the 99% band of a uniform histogram."""
        import matplotlib.pyplot as plt

        from bayesresp.plots import plain

        names = parameters or list(self.ranks.columns)[:12]
        cols = min(4, len(names))
        rows = int(np.ceil(len(names) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
        n = len(self.ranks)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / self.bins)
        for ax, name in zip(axes.ravel(), names, strict=False):
            ax.hist(
                self.ranks[name],
                bins=np.linspace(0, self.n_posterior + 1, self.bins + 1),
                color="#4c72b0",
            )
            ax.axhspan(lo, hi, color="grey", alpha=0.25)
            ax.set_title(plain(name), fontsize="x-small")
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return axes.ravel()[0]

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        bad = self.miscalibrated()
        head = f"SBC: {len(self.ranks)} simulations, ranks 0..{self.n_posterior}; " + (
            f"miscalibrated: {', '.join(bad)}" if bad else "ranks look uniform"
        )
        return head + "\n" + self.uniformity().to_string(float_format=lambda x: f"{x:.3f}")


def sbc(
    data: pd.DataFrame,
    spec: ModelSpec | str | dict,
    *,
    fit_spec: ModelSpec | str | dict | None = None,
    codebook: Codebook | None = None,
    simulations: int = 200,
    draws: int = 500,
    tune: int = 500,
    n_posterior: int = 99,
    bins: int = 10,
    seed: int = 0,
    executor: Executor | None = None,
    client: Any = None,
    store: str | os.PathLike | None = None,
    chunks: int | None = None,
    progress: bool = True,
) -> SBCResult:
    """Run simulation-based calibration.

    Parameters
    ----------
    data : DataFrame
        Rows whose covariates and groups the simulations reuse (the outcome is replaced).
    spec : the generating model (its priors draw the true parameters).
    fit_spec : the fitting model; ``spec`` by default. A different prior here is the
        classic way to see SBC detect miscalibration. Parameters only the generating
        model has (``R2`` and the shares of an r2d2 prior, fitted with independent
        priors) are not ranked.
    simulations : int
        Number of simulated data sets (the documented default, 200; a handful for tests).
    draws, tune : per simulation, one chain.
    n_posterior : int
        L: posterior draws (thinned evenly) the truth is ranked among.
    executor : concurrent.futures.Executor, optional
        Where fits run; a local process pool with one worker per core by default.
    client : distributed.Client, optional
        A Dask cluster to run the fits on (instead of ``executor``).
    store : path, optional
        A folder for the batch's results: each chunk's ranks are written as they
        arrive, and a run given a store that holds some already fits only the rest.
        A store made with other arguments is refused
        (:class:`~bayesresp.errors.BatchError`).
    chunks : int, optional
        How many pieces the simulations (those not yet stored) are sent in (four per
        core by default, or per Dask worker thread). Each piece compiles the model once
        and reuses it for all its simulations.
    progress : bool
        Show a progress bar of finished simulations (``False`` hides it).

    Examples
    --------
    >>> result = bayesresp.sbc(data, "response ~ severity + (1 | mission)",
    ...                        simulations=200)  # doctest: +SKIP
    >>> result.miscalibrated()  # doctest: +SKIP
    """
    from bayesresp.inference.fitting import prepare_data

    gen = ModelSpec.coerce(spec)
    fitting = gen if fit_spec is None else ModelSpec.coerce(fit_spec)
    frame, cb = prepare_data(data, gen, codebook)
    if executor is not None and client is not None:
        raise ValueError("give executor= or client=, not both")
    settings = {
        "kind": "sbc",
        "versions": versions(),
        "data": frame_hash(frame),
        "codebook": cb.to_dict(),
        "spec": gen.to_dict(),
        "fit_spec": fitting.to_dict(),
        "simulations": int(simulations),
        "draws": int(draws),
        "tune": int(tune),
        "n_posterior": int(n_posterior),
        "seed": int(seed),
    }
    batch = BatchStore(store, settings) if store is not None else None  # refused early
    truths, ys = _simulate(frame, cb, gen, simulations, seed)

    def task(part: np.ndarray) -> dict[str, Any]:
        return {
            "units": part,
            "frame": frame,
            "codebook": cb.to_dict(),
            "spec": fitting.to_dict(),
            "ys": ys[part],
            "truths": truths.iloc[part],
            "draws": draws,
            "tune": tune,
            "n_posterior": n_posterior,
            "seeds": [seed + 1 + int(i) for i in part],
        }

    ranks = run_batch(
        _run_chunk,
        np.arange(simulations),
        task,
        pieces=chunks,
        store=batch,
        executor=executor,
        client=client,
        progress=progress,
        label="SBC simulations",
    )
    return SBCResult(ranks, n_posterior, bins)


def _simulate(
    frame: pd.DataFrame, cb: Codebook, spec: ModelSpec, n: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Prior draws of the parameters (readable names) and outcome codes simulated from them."""
    from bayesresp.checks.predictive import draw_levels, draw_prior
    from bayesresp.inference.arrays import (
        eta_from_draws,
        readable_posterior,
        thresholds_from_draws,
    )

    prior_fit = draw_prior(frame, cb, spec, n, seed)
    d = prior_fit.arrays
    design = prior_fit.design
    p = spec.response.probs(eta_from_draws(d, design, "known"), thresholds_from_draws(d, design))
    ys = draw_levels(p, np.random.default_rng(seed))
    readable, _, _ = readable_posterior(prior_fit.posterior, prior_fit.info)
    truths = pd.DataFrame({k: readable[k].values.ravel() for k in readable.data_vars})
    # A parameter that cannot vary (the simplex of a two-level mo() term) has no rank.
    truths = truths.loc[:, truths.std() > 0]
    return truths, ys


def _run_chunk(task: dict[str, Any]) -> pd.DataFrame:
    """Fit each simulated outcome of a chunk with one compiled model; rank the truths."""
    from bayesresp.inference.arrays import readable_posterior
    from bayesresp.inference.sampling import sample_outcomes
    from bayesresp.model.design import design_of_spec

    cb = Codebook(task["codebook"])
    spec = ModelSpec.from_dict(task["spec"])
    frame = task["frame"]
    design = design_of_spec(frame, spec, cb)
    posteriors = sample_outcomes(
        design, spec, list(task["ys"]), list(task["seeds"]), task["draws"], task["tune"]
    )
    ranks = []
    for post, (idx, truth) in zip(posteriors, task["truths"].iterrows(), strict=True):
        readable, _, _ = readable_posterior(post, design.info)
        keep = np.linspace(0, post.sizes["draw"] - 1, task["n_posterior"]).astype(int)
        row = {}
        for name in truth.index:
            if name not in readable:  # a parameter of the generating model only
                continue
            samples = readable[name].values.ravel()[keep]
            row[name] = int((samples < truth[name]).sum())
        ranks.append(pd.Series(row, name=idx))
    return pd.DataFrame(ranks)
