"""Model-based coding reliability: what a fit with the coders' layer
(:mod:`bayesresp.maths.rater`) says about its coders, beside Krippendorff's alpha of the
same data (:func:`bayesresp.checks.reliability.reliability`).

For every posterior draw:

- each coder's **agreement**: the probability that the coder's code is the response's
  true level, averaged over the responses that coder coded (their true levels as the
  model predicts them from their covariates), and the probability of a code within one
  level of it;
- the **model's alpha**: Krippendorff's ordinal alpha of the codes the model expects
  from the same coders on the same double-coded responses (the coincidence matrix of
  two readings of one true level, summed over those responses): the reliability the
  data's alpha estimates.

And a check of the model: the alpha of codes replicated from the fit (true levels, then
readings) on the same pairs of codes, whose interval holds the sampling noise of a
finite set of codes; the data's alpha should fall in it.

Each comes with its posterior median and a central interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayesresp.checks.predictive import replicate
from bayesresp.checks.reliability import ReliabilityReport, _alpha, reliability
from bayesresp.errors import ReliabilityError
from bayesresp.inference.arrays import PosteriorArrays
from bayesresp.inference.coders import chunk_of, coder_draws, response_levels
from bayesresp.inference.record import FittedModel
from bayesresp.maths.rater import log_reading


@dataclass
class CoderReliability:
    """Model-based reliability of a fit's coders (:func:`coder_reliability`).

    ``coders``: one row per coder: codes, leniency and spread (posterior medians and
    intervals), ``agreement`` (P(code = true level)) and ``within_one`` (P(|code - true
    level| <= 1)), each with ``_lo`` / ``_hi`` interval ends. ``alpha_model`` with
    ``alpha_model_lo`` / ``_hi``: the ordinal alpha the model expects of the double-coded
    responses (its posterior: the coders' reliability); ``alpha_replicated_lo`` / ``_hi``:
    the interval of the alpha of codes replicated from the fit on the same responses (the
    posterior predictive distribution of the data's alpha, sampling noise included: the
    data's alpha outside it questions the model of coders); ``data``: Krippendorff's
    alpha of the same codes, with its bootstrap interval. ``ci``: the intervals' level.
    """

    coders: pd.DataFrame
    alpha_model: float
    alpha_model_lo: float
    alpha_model_hi: float
    alpha_replicated_lo: float
    alpha_replicated_hi: float
    data: ReliabilityReport
    ci: float
    n_double_coded: int

    def __str__(self) -> str:
        pct = f"{self.ci:.0%}"
        shown = self.coders[["codes", "leniency", "spread", "agreement", "within_one"]]
        return "\n".join(
            [
                f"Coding reliability ({len(self.coders)} coders, {self.n_double_coded} "
                "responses coded twice or more)",
                f"  ordinal alpha, model: {self.alpha_model:.3f} "
                f"({pct} interval {self.alpha_model_lo:.3f} to {self.alpha_model_hi:.3f})",
                f"  ordinal alpha of replicated codes: {pct} interval "
                f"{self.alpha_replicated_lo:.3f} to {self.alpha_replicated_hi:.3f}",
                f"  ordinal alpha, data:  {self.data.alpha:.3f} "
                f"({self.data.ci:.0%} bootstrap interval {self.data.ci_low:.3f} to "
                f"{self.data.ci_high:.3f})",
                "  per coder (posterior medians; agreement = P(code = true level)):",
                shown.to_string(float_format=lambda v: f"{v:.3f}"),
            ]
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<p><b>Coding reliability</b>: ordinal alpha, model {self.alpha_model:.3f} "
            f"({self.ci:.0%} interval {self.alpha_model_lo:.3f} to "
            f"{self.alpha_model_hi:.3f}); data {self.data.alpha:.3f} "
            f"({escape(f'{self.data.ci:.0%}')} bootstrap interval {self.data.ci_low:.3f} to "
            f"{self.data.ci_high:.3f})</p>" + self.coders.to_html(float_format="%.3f")
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "ci": self.ci,
            "alpha_model": self.alpha_model,
            "alpha_model_lo": self.alpha_model_lo,
            "alpha_model_hi": self.alpha_model_hi,
            "alpha_replicated_lo": self.alpha_replicated_lo,
            "alpha_replicated_hi": self.alpha_replicated_hi,
            "n_double_coded": self.n_double_coded,
            "alpha_data": self.data.to_dict(),
            "coders": {
                str(name): {k: (int(v) if k == "codes" else float(v)) for k, v in row.items()}
                for name, row in self.coders.iterrows()
            },
        }


def _summaries(draws: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and central interval over the first axis."""
    q = np.quantile(draws, [0.5, (1 - ci) / 2, (1 + ci) / 2], axis=0)
    return q[0], q[1], q[2]


def expected_agreement(p_level, log_r, coder, response, n_coders):
    """Per draw, each coder's P(code = true level) and P(|code - true| <= 1), averaged
    over the codes they made. ``p_level``: (S, R, K) true-level probabilities; ``log_r``:
    (S, C, K, K). Returns two (S, C) arrays."""
    r = np.exp(log_r)
    K = r.shape[-1]
    steps = np.arange(K)
    near = np.abs(steps[:, None] - steps[None, :]) <= 1
    exact = np.einsum("scjj->scj", r)  # (S, C, K)
    close = (r * near).sum(-1)
    per_code = p_level[:, response, :]  # (S, n, K)
    hit = np.einsum("snk,snk->sn", per_code, exact[:, coder, :])
    within = np.einsum("snk,snk->sn", per_code, close[:, coder, :])
    counts = np.bincount(coder, minlength=n_coders).astype(float)
    agree = np.stack([hit[:, coder == c].sum(1) for c in range(n_coders)], 1) / counts
    one = np.stack([within[:, coder == c].sum(1) for c in range(n_coders)], 1) / counts
    return agree, one


def code_pairs(coder, response, exact):
    """The ordered pairs of two exact codes of one response (Krippendorff's pairable
    values: ranges take no part, as in the data's alpha), with the weight ``1 / (m - 1)``
    of a response with ``m`` such codes: (first, second, weight)."""
    use = np.flatnonzero(exact)
    m = np.bincount(response[use], minlength=int(response.max()) + 1 if response.size else 0)
    first, second = [], []
    by_response = pd.Series(use).groupby(response[use]).agg(list)
    for codes in by_response[m[by_response.index] >= 2]:
        for a in codes:
            for b in codes:
                if a != b:
                    first.append(a)
                    second.append(b)
    first, second = np.array(first, int), np.array(second, int)
    return first, second, 1.0 / (m[response[first]] - 1)


def expected_coincidences(p_level, log_r, coder, response, pairs):
    """Per draw, the coincidence matrix (S, K, K) the model expects of the responses
    coded twice or more: for each ordered pair (:func:`code_pairs`) of two codes of one
    response by coders ``c`` and ``d``, ``sum_j P(true = j) R_c[j, k] R_d[j, l]``,
    weighted as Krippendorff pairs values."""
    first, second, weight = pairs
    r = np.exp(log_r)
    p = p_level[:, response[first], :] * weight[None, :, None]  # (S, P, K)
    return np.einsum("spj,spjk,spjl->skl", p, r[:, coder[first]], r[:, coder[second]])


def replicated_alpha(y_rep, response, pairs, K):
    """The ordinal alpha of each replicated data set (draws, codes) over the same pairs
    of codes as the data's: the posterior predictive distribution of the data's alpha."""
    first, second, weight = pairs
    out = np.empty(len(y_rep))
    for s, y in enumerate(y_rep):
        o = np.zeros((K, K))
        np.add.at(o, (y[first], y[second]), weight)
        out[s] = _alpha(o, np.arange(K, dtype=float), "ordinal")
    return out


def coder_reliability(
    fit: FittedModel, ci: float = 0.9, n_boot: int = 1000, seed: int | None = 1
) -> CoderReliability:
    """Model-based reliability of the coders of a fit with the coders' layer, beside
    Krippendorff's ordinal alpha of the same codes (see the module's docstring).

    Parameters
    ----------
    fit : Fit
        A fit whose model has the coders' layer (``fit.info.coders`` not empty).
    ci : float
        Level of the posterior intervals (and of the data's bootstrap interval).
    n_boot, seed
        The bootstrap of the data's alpha (:func:`bayesresp.reliability`).

    Raises
    ------
    ReliabilityError
        For a fit without the coders' layer.
    """
    info = fit.info
    if not info.coders:
        raise ReliabilityError(
            "this fit has no model of coders (its spec's coders is 'rows', or no response "
            "was coded twice); bayesresp.reliability(data) gives Krippendorff's alpha of "
            "the codes"
        )
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie strictly between 0 and 1, not {ci}")
    design = fit.design
    coders = design.coders
    posterior = fit.tree["posterior"].to_dataset()
    draws = PosteriorArrays.from_posterior(posterior, info)
    leniency, spread = coder_draws(posterior)
    true_levels = response_levels(design, draws, fit.spec.response)
    K, C, S = len(info.spectrum), len(info.coders), draws.n_draws
    pairs = code_pairs(coders.coder, coders.response, ~design.of_rows(design.ranges))
    if pairs[0].size == 0:
        raise ReliabilityError(
            "no response has two exact codes: alpha needs pairs of codes (ranges take no part)"
        )
    agree, within = np.empty((S, C)), np.empty((S, C))
    o = np.empty((S, K, K))
    step = chunk_of(max(coders.coder.size, pairs[0].size), K)
    for start in range(0, S, step):
        part = slice(start, min(start + step, S))
        p_level = np.exp(true_levels(part))
        log_r = log_reading(leniency[part], spread[part], K)
        agree[part], within[part] = expected_agreement(
            p_level, log_r, coders.coder, coders.response, C
        )
        o[part] = expected_coincidences(p_level, log_r, coders.coder, coders.response, pairs)
    alpha = _alpha(o, np.arange(K, dtype=float), "ordinal")
    a_med, a_lo, a_hi = _summaries(alpha, ci)
    y_rep = replicate(fit, draws=200, seed=seed)
    rep = replicated_alpha(y_rep, coders.response, pairs, K)
    _, r_lo, r_hi = _summaries(rep[~np.isnan(rep)], ci)
    table = {"codes": np.bincount(coders.coder, minlength=C)}
    for name, values in (
        ("leniency", leniency),
        ("spread", spread),
        ("agreement", agree),
        ("within_one", within),
    ):
        med, lo, hi = _summaries(values, ci)
        table |= {name: med, f"{name}_lo": lo, f"{name}_hi": hi}
    response_col, coder_col = info.coder_columns
    data = reliability(
        fit.data,
        unit=response_col,
        coder=coder_col,
        value=info.outcome,
        levels=list(info.spectrum),
        n_boot=n_boot,
        ci=ci,
        seed=seed,
        ranges=info.outcome_range,
    )
    return CoderReliability(
        coders=pd.DataFrame(table, index=pd.Index(info.coders, name="coder")),
        alpha_model=float(a_med),
        alpha_model_lo=float(a_lo),
        alpha_model_hi=float(a_hi),
        alpha_replicated_lo=float(r_lo),
        alpha_replicated_hi=float(r_hi),
        data=data,
        ci=ci,
        n_double_coded=int((coders.codes_per_response >= 2).sum()),
    )
