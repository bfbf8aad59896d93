"""The fitted record: what a fit is, without what can be done with it.

A :class:`FittedModel` holds the sampler's DataTree, the specification, the codebook, the
rows fitted and their coding recipe, and the settings that produced them. Every verb
(summaries, what-if, checks, the report) takes one as its argument; the user's
:class:`bayesresp.Fit` is this record with those verbs as methods (``bayesresp.api``).
The record knows nothing above the inference layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.data.codebook import Codebook
from bayesresp.inference.arrays import PosteriorArrays
from bayesresp.model.design import Design, DesignInfo, apply_design
from bayesresp.model.spec import ModelSpec


@dataclass(eq=False)
class FittedModel:
    """A fitted bayesresp model, as data.

    Attributes
    ----------
    tree : xarray.DataTree
        ArviZ-ready groups: ``posterior``, ``sample_stats``, ``log_likelihood`` (per row)
        and ``observed_data``.
    spec : ModelSpec
    codebook : Codebook
    data : pandas.DataFrame
        The validated rows the model was fitted on.
    info : DesignInfo
        The coding recipe (reference levels, scaling, group levels), reused for
        predictions.
    meta : dict
        Sampler, seed, draws, chains and the prior of every parameter.
    file_attrs : dict
        Set by ``load_fit``: the file's versions, hashes and format.
    """

    tree: xr.DataTree
    spec: ModelSpec
    codebook: Codebook
    data: pd.DataFrame
    info: DesignInfo
    meta: dict[str, Any]
    file_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior draws (the ``posterior`` group of :attr:`tree`) as a Dataset."""
        return self.tree["posterior"].to_dataset()

    @cached_property
    def arrays(self) -> PosteriorArrays:
        """The posterior as flat arrays per parameter (chains stacked), for predictions."""
        return PosteriorArrays.from_posterior(self.posterior, self.info)

    @property
    def draws(self) -> PosteriorArrays:
        """Deprecated name of :attr:`arrays` (``draws`` means a number of draws)."""
        import warnings

        warnings.warn(
            "fit.draws is now fit.arrays (draws= is a number of draws); the old name will "
            "be removed in bayesresp 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.arrays

    @cached_property
    def design(self) -> Design:
        """The fitted rows' design arrays (with the coders' layer, for such a fit)."""
        return apply_design(self.info, self.data, coders=True, own=True)

    @cached_property
    def responses(self) -> pd.DataFrame:
        """The fitted data with one row per response: the data themselves, or under the
        model of coders the first code of each response (what averages over the sample,
        typical values and scenarios read, so that a response coded twice counts once)."""
        if not self.info.coders:
            return self.data
        return self.data.iloc[self.response_positions]

    @property
    def response_positions(self) -> np.ndarray:
        """The positions of :attr:`responses`' rows in the fitted data (to apply the
        design to them with ``positions=``: a fitted row's latent values are then the
        fit's draws of them)."""
        if not self.info.coders:
            return np.arange(len(self.data))
        return np.sort(self.design.coders.first)

    @property
    def missing_note(self) -> str | None:
        """What the fit did with missing covariates, in a sentence (None: nothing was
        missing or ``missing="model"`` was not asked for); the summary, the command line
        and the report show it."""
        cells = self.meta.get("missing") or {}
        if not cells:
            return None
        parts = []
        summed = {var: c["cells"] for var, c in cells.items() if c["cells"] and not c.get("latent")}
        latent = {var: c["cells"] for var, c in cells.items() if c["cells"] and c.get("latent")}
        if summed:
            counts = ", ".join(f"{var} {n:,}" for var, n in summed.items())
            imp = self.design.imputation
            rows = int(imp.missing.any(axis=1).sum())
            parts.append(
                f"Missing covariate cells summed out in the model (missing='model'): {counts} "
                f"(in {rows:,} of {len(self.data):,} rows); each row keeps its outcome, "
                "averaged over its missing levels (fit.imputed() gives their posterior)."
            )
        if latent:
            counts = ", ".join(f"{var} {n:,}" for var, n in latent.items())
            parts.append(
                f"Missing numbers as latent values in the model (missing='model'): {counts} "
                "cell(s), each drawn under the number's own model (a normal regression within "
                "mission) and the row's outcome (fit.imputed_values() gives their posterior)."
            )
        filled = [
            f"{c['filled']['filled']:,} of {var} from the same {c['filled']['within']}"
            for var, c in cells.items()
            if c.get("filled", {}).get("filled")
        ]
        if filled:
            parts.append(
                "Missing cells filled from other rows before the fit (the codebook: "
                f"constant within the group): {'; '.join(filled)}."
            )
        return " ".join(parts) or None

    def loo(self):
        """PSIS-LOO of this fit (ArviZ), from the stored per-row log-likelihood.

        Computed once per fit object (the Pareto smoothing of every row's weights takes
        seconds at thousands of rows and draws; the posterior predictive check, the
        comparison and the report all read it). Each call returns a copy of its own
        whose totals and pointwise terms the caller may change (an exact refit replaces
        terms in it); the smoothed log weights (draws x rows) are shared, read-only.

        Examples
        --------
        >>> fit.loo().elpd  # doctest: +SKIP
        """
        import copy

        out = copy.copy(self._psis_loo)
        for name in ("elpd_i", "pareto_k"):
            if getattr(out, name, None) is not None:
                setattr(out, name, getattr(out, name).copy())
        return out

    @cached_property
    def _psis_loo(self):
        import arviz as az

        return az.loo(self.tree, pointwise=True)

    def __repr__(self) -> str:
        p = self.posterior
        return (
            f"<bayesresp.Fit {self.spec.name or 'model'}: {self.spec.formula}; "
            f"{len(self.data)} rows, {p.sizes['chain']} chains x {p.sizes['draw']} draws, "
            f"sampler {self.meta.get('sampler')}, seed {self.meta.get('seed')}>"
        )
