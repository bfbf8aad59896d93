"""Prior sensitivity by power-scaling (Kallioinen et al. 2024; ArviZ's ``psense``).

The prior and the likelihood are each raised to powers near one (0.99 and 1.01, by
importance weighting of the existing draws, no refitting); the cumulative Jensen-Shannon
distance between the perturbed and original posterior of each parameter measures its
sensitivity. ArviZ flags values above 0.05: sensitivity to the prior together with
sensitivity to the likelihood suggests prior-data conflict; sensitivity to the prior
alone, a strong prior or a weak likelihood. Conclusions about flagged parameters depend
on the prior.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import arviz as az
import pandas as pd
import xarray as xr

from bayesresp.inference.arrays import arviz_tree, readable_posterior
from bayesresp.inference.record import FittedModel


@dataclass
class SensitivityResult:
    """Per parameter: prior and likelihood sensitivity and ArviZ's diagnosis."""

    table: pd.DataFrame
    threshold: float

    @property
    def prior_dependent(self) -> list[str]:
        """Parameters whose posterior depends on the prior (prior sensitivity above threshold)."""
        return list(self.table.index[self.table["prior"] > self.threshold])

    def __repr__(self) -> str:  # the text form in a terminal or notebook
        return self.__str__()

    def __str__(self) -> str:
        flagged = self.prior_dependent
        head = f"Prior sensitivity (power-scaling; flagged above {self.threshold}): " + (
            f"{len(flagged)} parameter(s) depend on the prior: {', '.join(flagged)}"
            if flagged
            else "no conclusion depends on the prior"
        )
        with pd.option_context("display.width", 200, "display.max_rows", 200):
            return head + "\n" + self.table.to_string(float_format=lambda x: f"{x:.3f}")

    def _repr_html_(self) -> str:
        return f"<p>{str(self).splitlines()[0]}</p>" + self.table.to_html(float_format="%.3f")


def prior_sensitivity(fit: FittedModel, threshold: float = 0.05) -> SensitivityResult:
    """Power-scaling prior sensitivity of the readable parameters of a fit.

    The joint log prior of every posterior draw is computed from the model rebuilt from
    the fit's own recipe (PyMC's ``compute_log_prior``), over the priors a user chooses:
    coefficients, simplexes, group standard deviations and correlations, cutpoints; under
    the r2d2 prior, R2's Beta and the shares' Dirichlet (with the cutpoints'). The
    standardised group effects' N(0, 1) is the groups' own distribution, not a prior, and
    is not scaled; nor is, under r2d2, the coefficients' normal given their scale. The
    per-row log-likelihood is the one stored with the fit.

    Examples
    --------
    >>> fit.prior_sensitivity().prior_dependent  # doctest: +SKIP
    """
    import pymc as pm

    from bayesresp.model.design import design_of_spec
    from bayesresp.model.graph import build_model

    # the model of coders, and of summed-out covariates, is built on the fitted rows'
    # design (its layer and priors)
    design = (
        fit.design
        if fit.info.coders or fit.info.modelled_missing
        else design_of_spec(fit.data, fit.spec, fit.codebook)
    )
    # the coders' leniencies in the form they were sampled in (the rule could read
    # otherwise under another version)
    centred = "leniency_z" not in fit.posterior if fit.info.coders else None
    model = build_model(design, fit.spec.priors, fit.spec.response, centre_leniency=centred)
    free = {v.name for v in model.free_RVs}
    posterior = _with_correlation_factors(fit.posterior, free)
    posterior = posterior[[v for v in posterior.data_vars if v in free]]
    log_prior = pm.stats.compute_log_prior(
        xr.DataTree.from_dict({"posterior": posterior}),
        model=model,
        extend_inferencedata=False,
        progressbar=False,
    )
    sample_dims = ("chain", "draw")
    # Only the priors a user chooses are power-scaled: coefficients, monotonic simplexes,
    # group standard deviations (with the LKJ correlations), cutpoints. The standardised
    # group effects z ~ N(0, 1) are part of the hierarchical likelihood of the groups,
    # not a prior anyone sets; scaling them flags parameters of a model with many groups
    # as conflicts that do not exist. Under the r2d2 prior the coefficients' normal
    # given their scale (b_w, b_mo_w) is that hierarchy's conditional level in the same
    # way: its prior is R2's Beta and the shares' Dirichlet, which are scaled (scaling
    # the 35 normals too would move R2 by their product of scales alone).
    # The coders' standardised leniencies and spreads likewise, or their leniencies
    # where sampled centred (their sds and median are the priors), and a latent
    # number's standardised cells (mi_e[x]: their prior is the number's model, part of
    # the likelihood of the data as the group effects are).
    conditional = ("b_w", "b_mo_w") if "R2" in fit.posterior else ()
    conditional += ("leniency_z", "leniency", "spread_z")  # leniency: when centred
    chosen = [
        name
        for name in log_prior.data_vars
        if not name.startswith(("z[", "mi_z[", "mi_e[")) and name not in conditional
    ]
    joint = sum(
        log_prior[name].sum([d for d in log_prior[name].dims if d not in sample_dims])
        for name in chosen
    )
    readable, _, _ = readable_posterior(fit.posterior, fit.info)
    tree, readable_of = arviz_tree(readable)  # safe names: levels may hold '/'
    tree["log_prior"] = xr.DataTree(xr.Dataset({"prior": joint}))
    tree["log_likelihood"] = xr.DataTree(fit.tree["log_likelihood"].to_dataset())
    quiet = io.StringIO()  # ArviZ prints advice; the result reports it
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        table = az.psense_summary(tree, threshold=threshold, round_to=12)
    table = table.rename(index=readable_of)
    table.index.name = "parameter"
    return SensitivityResult(table, threshold)


def _with_correlation_factors(posterior: xr.Dataset, free: set[str]) -> xr.Dataset:
    """The posterior with a ``cor_chol[g]`` the model needs but the file lacks. Fits of
    correlated slopes under independent sd priors saved before those were built with
    LKJCorr stored LKJCholeskyCov's packed ``chol[g]`` instead; their ``cor[g]`` gives
    the factor exactly (its Cholesky decomposition)."""
    import numpy as np

    added = {}
    for name in free:
        source = "cor" + name[len("cor_chol") :]
        if name.startswith("cor_chol[") and name not in posterior and source in posterior:
            cor = posterior[source]
            added[name] = (cor.dims, np.linalg.cholesky(cor.values))
    return posterior.assign(added) if added else posterior
