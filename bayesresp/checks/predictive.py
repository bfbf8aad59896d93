"""Prior and posterior predictive checks for an ordinal outcome.

Replicated data are drawn from the model's probabilities by inverse-CDF sampling, from
posterior (or prior) draws and the fitted rows' design, with array code. A check
compares, for each level of the spectrum (overall, or within each group of a column),
the observed count with the distribution of replicated counts. The randomised PIT of an
ordinal outcome (Czado, Gneiting and Held 2009), computed leave-one-out with PSIS
weights, checks calibration: for a calibrated model its values are uniform on (0, 1).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bayesresp.inference.arrays import (
    PosteriorArrays,
    eta_and_fresh,
    eta_from_draws,
    fresh_draws,
    integrate_fresh,
    row_thresholds,
    thresholds_from_draws,
)
from bayesresp.inference.imputation import copy_weights, mix, row_probabilities
from bayesresp.inference.record import FittedModel
from bayesresp.model.design import apply_design, unfitted


def _subset(draws: PosteriorArrays, n: int | None) -> PosteriorArrays:
    if n is None or n >= draws.n_draws:
        return draws
    return draws.subset(np.unique(np.linspace(0, draws.n_draws - 1, n).astype(int)))


def draw_levels(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Level codes drawn from probabilities ``p`` (..., K) by inverse-CDF sampling."""
    u = rng.random(p.shape[:-1])
    return (np.cumsum(p, axis=-1) < u[..., None]).sum(axis=-1).clip(max=p.shape[-1] - 1)


def draw_prior(frame: pd.DataFrame, cb: Any, spec: Any, draws: int, seed: int):
    """A fitted record whose "posterior" holds draws from the prior (PyMC's forward
    sampler), with its design: the prediction path then works on the prior exactly as on
    a posterior."""
    import pymc as pm
    import xarray as xr

    from bayesresp.model.design import design_of_spec
    from bayesresp.model.graph import build_model

    design = design_of_spec(frame, spec, cb)
    model = build_model(design, spec.priors, spec.response)
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    with model, warnings.catch_warnings():
        # The model's likelihood is a Potential, which prior draws rightly ignore (no
        # outcome is drawn here); its cutpoints' CustomDist draws in Python (Numba's
        # "object mode"). Neither is news to a user, so neither is shown.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        warnings.filterwarnings(
            "ignore", message="Numba will use object mode", category=UserWarning
        )
        prior = pm.sample_prior_predictive(draws=draws, random_seed=seed, var_names=names)
    tree = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    return FittedModel(tree, spec, cb, frame, design.info, {"seed": seed, "sampler": "prior"})


# Level probabilities are made for this many (draw, row, level) cells at a time, so that
# replicating large data sets (50,000 rows x 500 draws) never holds them all at once.
_CELLS_PER_CHUNK = 4_000_000


def replicate(
    fit: FittedModel,
    draws: int | None = 500,
    seed: int | None = None,
    data: pd.DataFrame | None = None,
    progress: bool = False,
    complete: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Replicated outcome codes, shape (draws, rows), for the fitted rows (or ``data``).

    Draws are replicated in chunks (a progress bar with ``progress=True``); the random
    stream is the same as in one piece, so the result does not depend on the chunking.

    ``complete=True`` also returns the observed outcome completed, draw by draw: a row
    coded as a range (an ambiguous code) gets a level drawn from the draw's predictive
    distribution restricted to its range, an exact row keeps its level (the completed
    data of a posterior predictive check of coarsened data; Gelman et al. 2005,
    *Biometrics* 61, 74-85). Its draws use a random stream of their own, so the
    replicates are those of ``complete=False``.

    A row whose covariates the fit sums out (``missing="model"``) is replicated from its
    predictive distribution given its observed covariates, the missing ones averaged
    over their model: the distribution whose log-density the fit stores for the row. A
    number the fit gives latent values is averaged over its model alike (not held at
    the row's posterior draws of it, which have seen the row's outcome), under the model
    of coders too.
    """
    from bayesresp.progress import bar

    design = fit.design if data is None else apply_design(fit.info, data)
    if data is None:  # the latent numbers' values: from their models, integrated out
        design = unfitted(design)
    if design.coders is not None:  # codes: coders' readings of the true levels
        return _replicate_codes(fit, design, draws, seed, complete)
    d = _subset(fit.arrays, draws)
    seed = fit.meta.get("seed", 0) if seed is None else seed
    rng = np.random.default_rng(seed)
    eta, fresh = eta_and_fresh(d, design, "known")
    imp = design.imputation
    y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    weights = None if imp is None else copy_weights(design, d)
    n_rows = design.n if imp is None else imp.n_rows
    out = np.empty((len(eta), n_rows), dtype=np.int64)
    completed = None
    if complete:
        completed = np.broadcast_to(y, out.shape).copy()
        ranged = np.flatnonzero(design.of_rows(design.ranges))
        K = len(fit.info.spectrum)
        if ranged.size:
            levels = np.arange(K)
            inside = (levels >= y[ranged, None]) & (levels <= y_high[ranged, None])
            rng_fill = np.random.default_rng([seed, 1])
    cells = design.n * len(fit.info.spectrum)
    step = max(1, _CELLS_PER_CHUNK // max(cells, 1))
    with bar(len(eta), "posterior predictive draws", progress) as shown:
        for start in range(0, len(eta), step):
            stop = min(start + step, len(eta))
            cut = thresholds_from_draws(d, design, slice(start, stop))
            # latent numbers the rows lack: their model integrated out
            p = integrate_fresh(
                lambda e, c, cut=cut: fit.spec.response.probs(e, row_thresholds(cut, c)),
                eta[start:stop],
                fresh_draws(fresh, slice(start, stop)),
            )
            if weights is not None:  # copies mixed into their rows
                p = mix(p, design, weights[start:stop])
            out[start:stop] = draw_levels(p, rng)
            if completed is not None and ranged.size:
                q = p[:, ranged, :] * inside
                total = q.sum(axis=-1, keepdims=True)
                # a range the draw gives no mass at all (beyond double precision): its
                # levels alike
                q = np.where(
                    total > 0,
                    q / np.where(total > 0, total, 1.0),
                    inside / inside.sum(-1, keepdims=True),
                )
                completed[start:stop, ranged] = draw_levels(q, rng_fill)
            shown.update(stop - start)
    return out if completed is None else (out, completed)


def count_table(
    y_obs: np.ndarray | None,
    y_rep: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    levels: list[str],
    by: str,
    ci: float,
) -> pd.DataFrame:
    """Observed and replicated counts of each level per group.

    ``y_obs`` is (rows,) level codes, or (draws, rows) completed data where some rows are
    ranges (:func:`replicate` with ``complete=True``): then the observed count is the
    mean over draws of the completed counts, each range row counted at the level drawn
    for it within its range. A cell is outside when the observed count lies outside the
    central interval (``ci``) of the replicated counts."""
    K, G = len(levels), len(names)
    S = y_rep.shape[0]
    rep = np.zeros((S, G, K))
    completed = y_obs is not None and np.ndim(y_obs) == 2
    obs = np.zeros((S if completed else 1, G, K))
    for g in range(G):
        rows = groups == g
        for k in range(K):
            rep[:, g, k] = (y_rep[:, rows] == k).sum(axis=1)
            if y_obs is not None:
                obs[:, g, k] = (np.atleast_2d(y_obs)[:, rows] == k).sum(axis=1)
    lo, hi = np.quantile(rep, [(1 - ci) / 2, 1 - (1 - ci) / 2], axis=0)
    observed = obs.mean(axis=0)
    out = []
    for g, name in enumerate(names):
        for k, level in enumerate(levels):
            row = {
                by: name,
                "level": level,
                "predicted": rep[:, g, k].mean(),
                "lower": lo[g, k],
                "upper": hi[g, k],
            }
            if y_obs is not None:
                value = observed[g, k] if completed else int(observed[g, k])
                row |= {
                    "observed": value,
                    "outside": bool(value < lo[g, k] or value > hi[g, k]),
                }
            out.append(row)
    return pd.DataFrame(out).set_index([by, "level"])


def range_table(
    y_low: np.ndarray,
    y_high: np.ndarray | None,
    y_rep: np.ndarray,
    groups: np.ndarray,
    names: list[str],
    levels: list[str],
    by: str,
    ci: float,
) -> pd.DataFrame | None:
    """The ranges (ambiguous codes) per group: how many rows are coded as each range,
    and how likely the model finds a response of those rows to fall within it (the
    share of their replicates inside the range: mean and central interval over draws).
    A description, not a test: without a model of which responses get coded as ranges,
    no count of ranges can be replicated. None when no row is a range."""
    if y_high is None or not np.any(y_high > y_low):
        return None
    ranged = y_high > y_low
    inside = (y_rep >= y_low) & (y_rep <= y_high)  # (S, n)
    out = []
    for g, name in enumerate(names):
        mine = (groups == g) & ranged
        for lo, hi in sorted(set(zip(y_low[mine].tolist(), y_high[mine].tolist(), strict=True))):
            rows = mine & (y_low == lo) & (y_high == hi)
            share = inside[:, rows].mean(axis=1)
            lower, upper = np.quantile(share, [(1 - ci) / 2, 1 - (1 - ci) / 2])
            out.append(
                {
                    by: name,
                    "range": f"{levels[lo]}..{levels[hi]}",
                    "rows": int(rows.sum()),
                    "p_inside": share.mean(),
                    "lower": lower,
                    "upper": upper,
                }
            )
    return pd.DataFrame(out).set_index([by, "range"])


@dataclass
class PPCResult:
    """Observed versus replicated counts of each level, overall or by a column.

    ``table`` has one row per group and level: observed, predicted (mean), the central
    interval (``ci``) of replicated counts, and whether the observed count lies outside.
    Where some rows are ranges (ambiguous codes), the observed counts are of the
    completed data: each range row at a level drawn from the model within its range,
    draw by draw (mean over draws; :func:`replicate`), so that every row counts and
    none is assigned a level for good. ``ranges`` (None when no row is a range) has one
    row per group and coded range: its rows and the share of their replicates inside it
    (:func:`range_table`). ``pit`` holds the randomised PIT of every row (uniform when
    calibrated; for a range, ``P(Y < low) + V P(low <= Y <= high)``).
    """

    table: pd.DataFrame
    by: str
    ci: float
    pit: np.ndarray
    levels: list[str]
    ranges: pd.DataFrame | None = None

    @property
    def flagged(self) -> pd.DataFrame:
        """The cells whose observed count falls outside the predictive interval."""
        return self.table.loc[self.table["outside"]]

    @property
    def share_outside(self) -> float:
        return float(self.table["outside"].mean())

    def pit_test(self, bins: int = 10) -> dict[str, float]:
        """Chi-square test of uniform PIT over ``bins`` equal bins."""
        counts, _ = np.histogram(self.pit, bins=bins, range=(0, 1))
        res = stats.chisquare(counts)
        return {"statistic": float(res.statistic), "p_value": float(res.pvalue), "bins": bins}

    def plot(self, ax=None):
        from bayesresp.plots import plot_ppc

        return plot_ppc(self, ax=ax)

    def plot_pit(self, ax=None, bins: int = 10):
        """Histogram of the LOO-PIT with the 99% band of a uniform histogram."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        lo, hi = stats.binom.ppf([0.005, 0.995], len(self.pit), 1 / bins)
        ax.axhspan(lo, hi, color="grey", alpha=0.25, label="99% band if calibrated")
        ax.hist(self.pit, bins=bins, range=(0, 1), color="#4c72b0", edgecolor="white")
        ax.set_xlabel("randomised LOO-PIT")
        ax.set_ylabel("rows")
        ax.set_title(
            f"Calibration (uniformity p = {self.pit_test(bins)['p_value']:.3g})", fontsize="medium"
        )
        ax.legend(fontsize="x-small")
        ax.figure.tight_layout()
        return ax

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        n = len(self.flagged)
        head = (
            f"Posterior predictive check by {self.by}: {n} of {len(self.table)} cells "
            f"outside the {self.ci:.0%} predictive interval; PIT uniformity p = "
            f"{self.pit_test()['p_value']:.3g}"
        )
        with pd.option_context("display.width", 200, "display.max_rows", 60):
            body = (self.flagged if n else self.table).to_string(float_format=lambda x: f"{x:.1f}")
            if self.ranges is not None:
                body += "\n" + self._ranges_line() + "\n"
                body += self.ranges.to_string(float_format=lambda x: f"{x:.2f}")
        return head + "\n" + body

    def _ranges_line(self) -> str:
        assert self.ranges is not None
        return (
            f"Ranges (ambiguous codes): {int(self.ranges['rows'].sum())} rows in "
            f"{len(self.ranges)} ranges, counted above at levels drawn within their range "
            "(completed data); p_inside: the share of their replicates inside the range"
        )

    def _repr_html_(self) -> str:
        from html import escape

        html = f"<p>{escape(str(self).splitlines()[0])}</p>" + (
            self.flagged if len(self.flagged) else self.table
        ).to_html(float_format="%.1f")
        if self.ranges is not None:
            html += f"<p>{escape(self._ranges_line())}</p>"
            html += self.ranges.to_html(float_format="%.2f")
        return html


def _draw_index(total: int, n: int | None) -> np.ndarray:
    """The positions :func:`_subset` keeps."""
    if n is None or n >= total:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, n).astype(int))


def _coder_arrays(fit: FittedModel, design, idx: np.ndarray):
    """Per kept draw: the responses' true levels' log-probabilities, as a function of a
    slice of the kept draws ((m, R, K), :func:`bayesresp.inference.coders.response_levels`),
    and the coders' log reading probabilities (S, C, K, K)."""
    from bayesresp.inference.coders import coder_draws, response_levels
    from bayesresp.maths.rater import log_reading

    d = fit.arrays.subset(idx)
    leniency, spread = coder_draws(fit.tree["posterior"].to_dataset())
    levels = response_levels(design, d, fit.spec.response)
    log_r = log_reading(leniency[idx], spread[idx], len(fit.info.spectrum))
    return levels, log_r


def _replicate_codes(fit: FittedModel, design, draws, seed, complete: bool):
    """Replicated codes under the coders' layer (:mod:`bayesresp.maths.rater`): per draw,
    each response's true level from the model, then each of its codes as its coder's
    reading of that level. The completed data (``complete=True``) give a range code a
    level drawn from its coder's reading restricted to the range, the true level drawn
    from its posterior given all the response's codes (the draw's parameters)."""
    from bayesresp.inference.coders import chunk_of
    from bayesresp.maths.rater import log_codes

    seed = fit.meta.get("seed", 0) if seed is None else seed
    rng = np.random.default_rng(seed)
    idx = _draw_index(fit.arrays.n_draws, draws)
    true_levels, log_r = _coder_arrays(fit, design, idx)
    coders, K = design.coders, len(fit.info.spectrum)
    y, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    n = coders.coder.size  # codes (the data's rows)
    out = np.empty((len(idx), n), dtype=np.int64)
    completed = None
    ranged = np.flatnonzero(design.of_rows(design.ranges))
    if complete:
        completed = np.broadcast_to(y, out.shape).copy()
        if ranged.size:
            levels = np.arange(K)
            inside = (levels >= y[ranged, None]) & (levels <= y_high[ranged, None])
            rng_fill = np.random.default_rng([seed, 1])
    step = chunk_of(n, K)  # (draws x codes x K x K) cells near 4 million
    for start in range(0, len(idx), step):
        part = slice(start, min(start + step, len(idx)))
        m = part.stop - part.start
        level_lp = true_levels(part)  # (m, R, K)
        p = np.exp(level_lp)
        true = draw_levels(p / p.sum(axis=-1, keepdims=True), rng)  # (m, R)
        reading = np.exp(log_r[part])  # (m, C, K, K)
        at = np.arange(m)[:, None]
        out[part] = draw_levels(reading[at, coders.coder, true[:, coders.response]], rng)
        if completed is not None and ranged.size:
            joint = level_lp.copy()
            codes = log_codes(log_r[part], coders.coder, y, y_high)
            np.add.at(np.moveaxis(joint, -2, 0), coders.response, np.moveaxis(codes, -2, 0))
            given = np.exp(joint - joint.max(axis=-1, keepdims=True))
            true = draw_levels(given / given.sum(axis=-1, keepdims=True), rng_fill)
            q = reading[at, coders.coder[ranged], true[:, coders.response[ranged]]] * inside
            total = q.sum(axis=-1, keepdims=True)
            # a range its coder's reading gives no mass (beyond double precision): its
            # levels alike
            q = np.where(
                total > 0,
                q / np.where(total > 0, total, 1.0),
                inside / inside.sum(-1, keepdims=True),
            )
            completed[part, ranged] = draw_levels(q, rng_fill)
    return out if completed is None else (out, completed)


def _coder_pit(fit: FittedModel, seed: int | None) -> np.ndarray:
    """The randomised LOO-PIT of every code under the coders' layer: its coder's
    predictive distribution of the code, ``sum_j P(true = j) R_c[j, k]``, averaged over
    the draws with the PSIS weights of leaving its response (all its codes) out."""
    from scipy.special import softmax

    from bayesresp.inference.coders import chunk_of

    # the latent numbers integrated out, as in the stored terms whose PSIS weights these
    # are (each draw's fitted value has seen the response's own codes)
    design = unfitted(fit.design)
    coders, K = design.coders, len(fit.info.spectrum)
    unit = fit.info.coder_columns[0]
    log_w = fit.loo().log_weights.transpose(unit, "chain", "draw").values
    w = softmax(log_w.reshape(log_w.shape[0], -1), axis=1)  # (R, S)
    idx = np.arange(fit.arrays.n_draws)
    true_levels, log_r = _coder_arrays(fit, design, idx)
    n = coders.coder.size  # codes (the data's rows)
    p_loo = np.zeros((n, K))
    step = chunk_of(n, K)  # (draws x codes x K x K) cells near 4 million
    for start in range(0, len(idx), step):
        part = slice(start, min(start + step, len(idx)))
        p = np.exp(true_levels(part))  # (m, R, K)
        reading = np.exp(log_r[part])[:, coders.coder]  # (m, n, K, K)
        per_code = np.einsum("mnj,mnjk->mnk", p[:, coders.response], reading)
        p_loo += np.einsum("nm,mnk->nk", w[coders.response, part], per_code)
    y = design.of_rows(design.y)
    top = y if design.y_high is None else design.of_rows(design.y_high)
    cum = np.cumsum(p_loo, axis=1)
    rows = np.arange(n)
    below = cum[rows, y] - p_loo[rows, y]
    at = cum[rows, top] - below
    rng = np.random.default_rng((fit.meta.get("seed", 0) if seed is None else seed) + 1)
    return below + rng.random(n) * at


def posterior_predictive_check(
    fit: FittedModel,
    by: str | None = None,
    *,
    draws: int = 500,
    ci: float = 0.95,
    seed: int | None = None,
    progress: bool = True,
) -> PPCResult:
    """Observed vs replicated counts per level, overall (``by=None``) or by a column.

    ``progress=False`` hides the progress bar of the replicated draws.

    Examples
    --------
    >>> ppc = fit.ppc(by="mission")  # doctest: +SKIP
    >>> ppc.flagged  # doctest: +SKIP
    """
    design = fit.design
    y_obs, y_high = design.of_rows(design.y), design.of_rows(design.y_high)
    if y_high is None:
        y_rep = replicate(fit, draws, seed, progress=progress)
        observed = y_obs
    else:  # ranges: the observed data completed draw by draw
        y_rep, observed = replicate(fit, draws, seed, progress=progress, complete=True)
    if by is None:
        groups, names, label = np.zeros(len(y_obs), dtype=int), ["overall"], "group"
    else:
        if by not in fit.data:
            from bayesresp.errors import BayesrespError

            raise BayesrespError(
                f"no column '{by}' in the fitted data; columns: " + ", ".join(fit.data.columns)
            )
        column = fit.data[by]  # (a cell the fit sums out, missing="model": a group of its own)
        labels = column.astype(object).where(column.notna(), "(missing)").astype(str).to_numpy()
        names = sorted(set(labels))
        groups, label = np.searchsorted(names, labels), by
    levels = list(fit.info.spectrum)
    table = count_table(observed, y_rep, groups, names, levels, label, ci)
    ranges = range_table(y_obs, y_high, y_rep, groups, names, levels, label, ci)
    return PPCResult(table, label, ci, ordinal_pit(fit, seed), levels, ranges)


def ordinal_pit(fit: FittedModel, seed: int | None = None, chunk: int = 256) -> np.ndarray:
    """Randomised LOO-PIT: P(Y < y) + V * P(Y = y), V ~ U(0, 1), with each row's
    leave-one-out predictive probabilities (PSIS weights from the stored log-likelihood);
    for a range (an ambiguous code) P(Y < low) + V * P(low <= Y <= high), uniform too
    when the model is right (the randomised PIT of an interval-censored value).

    Leaving the row out matters: in-sample predictive probabilities are pulled towards
    the observed value, so an in-sample PIT is not uniform even for a correct model.
    """
    from scipy.special import softmax

    if fit.info.coders:
        return _coder_pit(fit, seed)
    log_w = fit.loo().log_weights.transpose("row", "chain", "draw").values
    w = softmax(log_w.reshape(log_w.shape[0], -1), axis=1)  # (n, S), rows sum to one
    d, design = fit.arrays, fit.design
    y = design.of_rows(design.y)
    top = y if design.y_high is None else design.of_rows(design.y_high)
    n = len(y)
    below, at = np.empty(n), np.empty(n)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        part = apply_design(fit.info, fit.data.iloc[rows])
        p = row_probabilities(d, part, fit.spec.response)  # (S, m, K)
        p_loo = np.einsum("ms,smk->mk", w[rows], p)
        cum = np.cumsum(p_loo, axis=1)
        m = np.arange(len(rows))
        below[rows] = cum[m, y[rows]] - p_loo[m, y[rows]]
        at[rows] = cum[m, top[rows]] - below[rows]
    del design
    rng = np.random.default_rng((fit.meta.get("seed", 0) if seed is None else seed) + 1)
    return below + rng.random(n) * at


@dataclass
class PriorPredictiveResult:
    """Distribution of the share of responses at each level implied by the priors alone."""

    shares: np.ndarray  # (draws, K): share of the rows at each level, per prior draw
    levels: list[str]
    prior_fit: FittedModel | None = None  # a record whose "posterior" is the prior draws
    ci: float = 0.9

    def for_profiles(self, profiles: Any, **kwargs: Any):
        """Prior predictive probabilities for hypothetical profiles (a what-if on the prior).

        Groups are drawn from the prior population (``groups="new"``) unless
        ``groups=`` says otherwise.
        """
        kwargs.setdefault("groups", "new")
        from bayesresp.queries.whatif import what_if

        return what_if(self.prior_fit, profiles, **kwargs)

    def to_dataframe(self) -> pd.DataFrame:
        lo, hi = np.quantile(self.shares, [(1 - self.ci) / 2, 1 - (1 - self.ci) / 2], axis=0)
        return pd.DataFrame(
            {
                "mean_share": self.shares.mean(axis=0),
                "lower": lo,
                "upper": hi,
                "p_share_above_half": (self.shares > 0.5).mean(axis=0),
            },
            index=pd.Index(self.levels, name="level"),
        )

    def plot(self, ax=None):
        from bayesresp.plots import plot_prior_predictive

        return plot_prior_predictive(self, ax=ax)

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        return (
            "Prior predictive share of responses at each level:\n"
            + self.to_dataframe().to_string(float_format=lambda x: f"{x:.3f}")
        )

    def _repr_html_(self) -> str:
        return self.to_dataframe().to_html(float_format="%.3f")


def prior_predictive_check(
    data: Any, spec: Any, *, codebook: Any = None, draws: int = 1000, seed: int = 0, ci: float = 0.9
) -> PriorPredictiveResult:
    """What the priors alone say about the spread of responses, before fitting.

    Draws the parameters from their priors (PyMC's forward sampler), then the expected
    share of the data set's rows at each level per draw, with the same array code that
    predicts from a posterior. A sane prior spreads the shares; one piling mass on the two
    ends of the spectrum shows up as large ``p_share_above_half`` for them.

    Examples
    --------
    >>> bayesresp.prior_predictive_check(bayesresp.load_example(), "hierarchical")  # doctest: +SKIP
    """
    from bayesresp.inference.fitting import prepare_data
    from bayesresp.model.spec import ModelSpec

    spec = ModelSpec.coerce(spec)
    frame, cb = prepare_data(data, spec, codebook)
    prior_fit = draw_prior(frame, cb, spec, draws, seed)
    d = prior_fit.arrays
    design = prior_fit.design
    p = spec.response.probs(eta_from_draws(d, design, "known"), thresholds_from_draws(d, design))
    return PriorPredictiveResult(p.mean(axis=1), list(prior_fit.info.spectrum), prior_fit, ci)
