"""The user's facade: :class:`Fit`, :func:`fit` and :func:`load_fit`.

A :class:`Fit` is the fitted record (:class:`bayesresp.inference.record.FittedModel`) with
the verbs of the layers below as methods, so that a researcher writes ``fit.what_if(...)``
instead of importing ``what_if`` from its module. Each method only forwards to the
function that does the work, which takes the record as its argument; nothing below this
module imports it.
"""

from __future__ import annotations

import inspect
from dataclasses import fields
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from bayesresp.checks import coders, diagnostics, predictive, proportional_odds, sensitivity
from bayesresp.inference import fitfile, fitting
from bayesresp.inference.arrays import readable_posterior
from bayesresp.inference.record import FittedModel
from bayesresp.present import report
from bayesresp.queries import contrasts, estimates, scenarios, whatif


class Fit(FittedModel):
    """A fitted bayesresp model: the record (``tree``, ``spec``, ``codebook``, ``data``,
    ``info``, ``meta``, ``file_attrs``) and what a researcher reads from it.

    Make one with :func:`bayesresp.fit` or :func:`bayesresp.load_fit`.
    """

    @classmethod
    def of(cls, record: FittedModel) -> Fit:
        """The facade over ``record`` (the record itself when it already is one); cached
        arrays and design carry over."""
        if isinstance(record, cls):
            return record
        out = cls(**{f.name: getattr(record, f.name) for f in fields(FittedModel)})
        out.__dict__.update({k: v for k, v in vars(record).items() if k in ("arrays", "design")})
        return out

    # -- parameters ----------------------------------------------------------------------
    def readable_posterior(self) -> tuple[xr.Dataset, dict[str, str], dict[str, str]]:
        """Every parameter as its own variable with a readable name, with the block and
        scale note of each; see :func:`bayesresp.inference.arrays.readable_posterior`."""
        return readable_posterior(self.posterior, self.info)

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """One row per parameter; see :func:`bayesresp.queries.estimates.summary`.

        Examples
        --------
        >>> fit.summary(ci=0.95).loc["sd(mission)"]  # doctest: +SKIP
        """
        return estimates.summary(self, ci)

    def odds_ratios(self, ci: float = 0.9) -> pd.DataFrame:
        """exp(coefficient) (logit link); see :func:`bayesresp.queries.estimates.odds_ratios`.

        Examples
        --------
        >>> fit.odds_ratios().loc["background[military_security]", "mean"]  # doctest: +SKIP
        """
        return estimates.odds_ratios(self, ci)

    def group_effects(self, group: str | None = None, ci: float = 0.9) -> pd.DataFrame:
        """Each mission's, department's ... effect; see
        :func:`bayesresp.queries.estimates.group_effects`.

        Examples
        --------
        >>> fit.group_effects("mission")  # doctest: +SKIP
        """
        return estimates.group_effects(self, group, ci)

    def variance_decomposition(self, ci: float = 0.9) -> pd.DataFrame:
        """Share of latent variance by block, group level and residual; see
        :func:`bayesresp.queries.estimates.variance_decomposition`.

        Examples
        --------
        >>> fit.variance_decomposition()[["share", "q5", "q95"]]  # doctest: +SKIP
        """
        return estimates.variance_decomposition(self, ci)

    # -- checks --------------------------------------------------------------------------
    def diagnose(self) -> diagnostics.DiagnosticsReport:
        """Convergence diagnostics with verdicts; see
        :func:`bayesresp.checks.diagnostics.diagnose`.

        Examples
        --------
        >>> report = fit.diagnose()  # doctest: +SKIP
        >>> report.verdict  # "ok", "warn" or "fail"  # doctest: +SKIP
        """
        return diagnostics.diagnose(self)

    def convergence(self) -> dict[str, float]:
        """Max r_hat, min bulk and tail ESS, divergences and the verdict; see
        :func:`bayesresp.checks.diagnostics.convergence`."""
        return diagnostics.convergence(self)

    def convergence_line(self) -> str:
        """One line: the diagnostics' verdict with the headline numbers.

        Examples
        --------
        >>> print(fit.convergence_line())  # doctest: +SKIP
        """
        return diagnostics.convergence_line(self)

    def ppc(
        self,
        by: str | None = None,
        *,
        draws: int = 500,
        ci: float = 0.95,
        seed: int | None = None,
        progress: bool = True,
    ) -> predictive.PPCResult:
        """Posterior predictive check; see
        :func:`bayesresp.checks.predictive.posterior_predictive_check`.

        Examples
        --------
        >>> fit.ppc(by="mission").flagged  # doctest: +SKIP
        """
        return predictive.posterior_predictive_check(
            self, by, draws=draws, ci=ci, seed=seed, progress=progress
        )

    def prior_sensitivity(self, threshold: float = 0.05) -> sensitivity.SensitivityResult:
        """Power-scaling prior sensitivity; see
        :func:`bayesresp.checks.sensitivity.prior_sensitivity`.

        Examples
        --------
        >>> fit.prior_sensitivity().prior_dependent  # doctest: +SKIP
        """
        return sensitivity.prior_sensitivity(self, threshold)

    def po_check(
        self,
        covariates: list[str | tuple[str, ...]] | str | None = None,
        *,
        blocks: list[str] | str | None = None,
        seed: int | None = None,
        ci: float = 0.9,
        refit_high_k: bool = False,
        progress: bool = False,
    ) -> proportional_odds.POCheckResult:
        """Check proportional odds, one covariate (or group, or block) at a time (a refit
        with ``cs(x)`` and a LOO comparison); see
        :func:`bayesresp.checks.proportional_odds.po_check`.

        Examples
        --------
        >>> fit.po_check(["severity", "background"])  # doctest: +SKIP
        >>> seq.po_check([("severity", "background")], blocks=["positional"])  # doctest: +SKIP
        """
        return proportional_odds.po_check(
            self,
            covariates,
            blocks=blocks,
            seed=seed,
            ci=ci,
            refit_high_k=refit_high_k,
            progress=progress,
        )

    def coder_reliability(
        self, ci: float = 0.9, n_boot: int = 1000, seed: int | None = 1
    ) -> coders.CoderReliability:
        """Model-based reliability of the coders (a fit with the coders' layer), beside
        Krippendorff's alpha of the same codes; see
        :func:`bayesresp.checks.coders.coder_reliability`.

        Examples
        --------
        >>> fit.coder_reliability().coders[["agreement", "spread"]]  # doctest: +SKIP
        """
        return coders.coder_reliability(self, ci=ci, n_boot=n_boot, seed=seed)

    def imputed(self, ci: float = 0.9) -> pd.DataFrame:
        """The posterior of each missing covariate cell (a fit with ``missing="model"``);
        see :func:`bayesresp.queries.estimates.imputed`.

        Examples
        --------
        >>> fit.imputed().xs("background", level="variable")  # doctest: +SKIP
        """
        return estimates.imputed(self, ci)

    def imputed_values(self, ci: float = 0.9) -> pd.DataFrame:
        """The posterior of each missing cell of a number (a fit with ``missing="model"``,
        where it is a latent value); see :func:`bayesresp.queries.estimates.imputed_values`.

        Examples
        --------
        >>> fit.imputed_values().xs("years_at_station", level="variable")  # doctest: +SKIP
        """
        return estimates.imputed_values(self, ci)

    # -- what-if -------------------------------------------------------------------------
    def what_if(
        self,
        profiles: Any,
        *,
        groups: str = "known",
        fill: str | None = None,
        ci: float = 0.9,
        seed: int | None = None,
    ) -> whatif.WhatIfResult:
        """Posterior response to hypothetical incidents; see
        :func:`bayesresp.queries.whatif.what_if`.

        Examples
        --------
        >>> fit.what_if({"mission": "UNMIL", "background": "military_security"},
        ...             fill="typical").summary()  # doctest: +SKIP
        """
        return whatif.what_if(self, profiles, groups=groups, fill=fill, ci=ci, seed=seed)

    def contrast(
        self,
        base: Any,
        changes: dict[str, Any],
        *,
        groups: str = "known",
        fill: str | None = None,
        ci: float = 0.9,
        seed: int | None = None,
    ) -> contrasts.ContrastResult:
        """Changed minus base profile; see :func:`bayesresp.queries.contrasts.contrast`.

        Examples
        --------
        >>> fit.contrast(profile, {"duty_location": "field_office"})  # doctest: +SKIP
        """
        return contrasts.contrast(self, base, changes, groups=groups, fill=fill, ci=ci, seed=seed)

    def marginal_effects(self, *, draws: int = 1000, ci: float = 0.9) -> pd.DataFrame:
        """Population-averaged effects, ranked; see
        :func:`bayesresp.queries.contrasts.marginal_effects`.

        Examples
        --------
        >>> fit.marginal_effects().head()  # doctest: +SKIP
        """
        return contrasts.marginal_effects(self, draws=draws, ci=ci)

    def scenario(
        self,
        intervention: Any,
        data: pd.DataFrame | None = None,
        *,
        by: str = "mission",
        ci: float = 0.9,
    ) -> scenarios.ScenarioResult:
        """Responses before and after rules; see :func:`bayesresp.queries.scenarios.scenario`.

        Examples
        --------
        >>> fit.scenario({"column": "years_at_station", "max": 3})  # doctest: +SKIP
        """
        return scenarios.scenario(self, intervention, data, by=by, ci=ci)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to one NetCDF (``.nc``) or Zarr (``.zarr``) file; see :func:`load_fit`.

        Examples
        --------
        >>> fit.save("hierarchical.nc")  # doctest: +SKIP
        >>> bayesresp.load_fit("hierarchical.nc")  # doctest: +SKIP
        """
        return fitfile.save_fit(self, path)

    def report(self, path: str | Path, **options: Any) -> Path:
        """Write the shareable HTML report of this fit (see
        :func:`bayesresp.present.report.write_report` for the options, e.g. ``profiles=``).

        Examples
        --------
        >>> fit.report("report.html", profiles="profiles.csv")  # doctest: +SKIP
        """
        return report.write_report(self, path, **options)

    def _repr_html_(self) -> str:
        return (
            f"<p><b>bayesresp fit</b> <code>{escape(self.spec.formula)}</code><br>"
            f"{escape(self.convergence_line())}"
            + (f"<br>{escape(self.missing_note)}" if self.missing_note else "")
            + "</p>"
            + self.summary().to_html(float_format="%.3f")
        )


def fit(data: Any, spec: Any, **options: Any) -> Fit:
    return Fit.of(fitting.fit(data, spec, **options))


def load_fit(path: str | Path) -> Fit:
    return Fit.of(fitfile.load_fit(path))


def prior_predictive_check(
    data: Any, spec: Any, **options: Any
) -> predictive.PriorPredictiveResult:
    result = predictive.prior_predictive_check(data, spec, **options)
    result.prior_fit = Fit.of(result.prior_fit)
    return result


# Each wrapper shows the documentation and parameters of the function it wraps, and
# returns a Fit where that returns the plain record.
for _wrapper, _wrapped in (
    (fit, fitting.fit),
    (load_fit, fitfile.load_fit),
    (prior_predictive_check, predictive.prior_predictive_check),
):
    _wrapper.__doc__ = _wrapped.__doc__
    _wrapper.__signature__ = inspect.signature(_wrapped).replace(
        return_annotation=inspect.signature(_wrapper).return_annotation
    )
