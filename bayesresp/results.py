"""The :class:`Fit`: a fitted model and what a researcher reads from it."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayesresp.codebook import Codebook
from bayesresp.design import DesignInfo, apply_design
from bayesresp.draws import Draws
from bayesresp.maths import RESIDUAL_VARIANCE
from bayesresp.model import cutpoint_names
from bayesresp.spec import ModelSpec


def _interval_names(ci: float) -> tuple[str, str]:
    lo = (1 - ci) / 2 * 100
    return f"q{lo:g}", f"q{100 - lo:g}"


def describe_draws(draws: np.ndarray, ci: float = 0.9) -> dict[str, float]:
    """Mean, sd, median and central interval of a 1-D array of draws."""
    lo, hi = _interval_names(ci)
    q = np.quantile(draws, [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2])
    return {
        "mean": float(np.mean(draws)),
        "sd": float(np.std(draws, ddof=1)),
        "median": float(q[1]),
        lo: float(q[0]),
        hi: float(q[2]),
    }


class Fit:
    """A fitted bayesresp model.

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
    """

    def __init__(
        self,
        tree: xr.DataTree,
        spec: ModelSpec,
        codebook: Codebook,
        data: pd.DataFrame,
        info: DesignInfo,
        meta: dict[str, Any],
    ):
        self.tree = tree
        self.spec = spec
        self.codebook = codebook
        self.data = data
        self.info = info
        self.meta = meta
        self.file_attrs: dict[str, Any] = {}  # set by load_fit: versions, hash, format

    # -- basic access ------------------------------------------------------------------
    @property
    def posterior(self) -> xr.Dataset:
        return self.tree["posterior"].to_dataset()

    @cached_property
    def draws(self) -> Draws:
        """Posterior draws as flat arrays (chains stacked)."""
        return Draws.from_posterior(self.posterior, self.info)

    @cached_property
    def design(self):
        """The fitted rows' design arrays."""
        return apply_design(self.info, self.data)

    def __repr__(self) -> str:
        p = self.posterior
        return (
            f"<bayesresp.Fit {self.spec.name or 'model'}: {self.spec.formula}; "
            f"{len(self.data)} rows, {p.sizes['chain']} chains x {p.sizes['draw']} draws, "
            f"sampler {self.meta.get('sampler')}, seed {self.meta.get('seed')}>"
        )

    # -- readable parameters -------------------------------------------------------------
    def readable_posterior(self) -> tuple[xr.Dataset, dict[str, str], dict[str, str]]:
        """Every parameter as its own variable with a readable name.

        Returns the dataset, the block of each parameter and the scale note of each.

        Examples
        --------
        >>> posterior, blocks, scales = fit.readable_posterior()  # doctest: +SKIP
        >>> posterior["sd(mission)"].mean()  # doctest: +SKIP
        """
        post, info = self.posterior, self.info
        out, block, scale = {}, {}, {}
        for j, c in enumerate(info.columns):
            out[c.name] = post["b"].isel(coef=j, drop=True)
            block[c.name] = c.block
            scale[c.name] = _scale_note(c, info)
        for j, m in enumerate(info.monotonic):
            out[m.name] = post["b_mo"].isel(mo_term=j, drop=True)
            block[m.name] = m.block
            scale[m.name] = f"total effect, {m.levels[0]} to {m.levels[-1]}"
            for k, lv in enumerate(m.levels[1:]):
                name = f"simplex({m.var})[{lv}]"
                out[name] = post[f"simplex[{m.var}]"].isel({f"{m.var}_step": k}, drop=True)
                block[name] = m.block
                scale[name] = f"share of the total effect at the step to {lv}"
        for k, name in enumerate(cutpoint_names(info.spectrum)):
            out[f"cutpoint[{name}]"] = post["cutpoints"].isel(cutpoint=k, drop=True)
            block[f"cutpoint[{name}]"] = "cutpoints"
            scale[f"cutpoint[{name}]"] = "latent scale"
        for g in info.groups:
            names = g.column_names
            for j, term in enumerate(names):
                name = f"sd({g.label})" if names == ["Intercept"] else f"sd({g.label})[{term}]"
                out[name] = post[f"sd[{g.label}]"].isel({f"{g.label}_term": j}, drop=True)
                block[name] = "groups"
                scale[name] = "latent scale"
            if f"cor[{g.label}]" in post:
                for a in range(len(names)):
                    for b in range(a + 1, len(names)):
                        name = f"cor({g.label})[{names[a]},{names[b]}]"
                        out[name] = post[f"cor[{g.label}]"].isel(
                            {f"{g.label}_term": a, f"{g.label}_term_": b}, drop=True
                        )
                        block[name] = "groups"
                        scale[name] = "correlation"
        return xr.Dataset(out), block, scale

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """One row per parameter: mean, sd, median, central interval, r_hat, ESS, block.

        Names are tied to codebook levels: ``background[military_security]``,
        ``mo(hierarchy_level)``, ``cutpoint[silence|mild_concern]``, ``sd(mission)``,
        ``sd(mission:department)``. A positive coefficient moves responses towards the
        confrontational end of the spectrum. Continuous covariates are per standard
        deviation of the fitting data (the ``scale`` column says how many units).

        Examples
        --------
        >>> fit.summary(ci=0.95).loc["sd(mission)"]  # doctest: +SKIP
        """
        ds, block, scale = self.readable_posterior()
        stats = az.summary(
            xr.DataTree.from_dict({"posterior": ds}), ci_prob=ci, ci_kind="eti", round_to="none"
        )
        lo, hi = _interval_names(ci)
        lb = next(c for c in stats.columns if c.endswith("_lb"))
        ub = next(c for c in stats.columns if c.endswith("_ub"))
        med = {name: float(ds[name].median()) for name in ds.data_vars}
        table = pd.DataFrame(
            {
                "mean": stats["mean"],
                "sd": stats["sd"],
                "median": pd.Series(med),
                lo: stats[lb],
                hi: stats[ub],
                "r_hat": stats["r_hat"],
                "ess_bulk": stats["ess_bulk"],
                "ess_tail": stats["ess_tail"],
                "block": pd.Series(block),
                "scale": pd.Series(scale),
            }
        )
        table.index.name = "parameter"
        return table.loc[list(ds.data_vars)]

    def odds_ratios(self, ci: float = 0.9) -> pd.DataFrame:
        """exp(coefficient): the factor on the odds of a response above any level.

        Under proportional odds, ``background[military_security] = 2.5`` says that the
        odds of a response more confrontational than any given level are 2.5 times those
        of the reference background, other things equal.

        Examples
        --------
        >>> fit.odds_ratios().loc["background[military_security]", "mean"]  # doctest: +SKIP
        """
        if self.spec.link != "logit":
            from bayesresp.errors import BayesrespError

            raise BayesrespError(
                f"odds ratios belong to the logit link; this model uses {self.spec.link}: "
                "read its coefficients on the latent scale (summary()) instead"
            )
        ds, block, _ = self.readable_posterior()
        names = [c.name for c in self.info.columns] + [m.name for m in self.info.monotonic]
        rows = {}
        for name in names:
            d = describe_draws(np.exp(ds[name].values.ravel()), ci)
            rows[name] = {
                "odds_ratio": d["median"],
                **{k: v for k, v in d.items() if k.startswith("q")},
                "p_above_1": float((ds[name].values > 0).mean()),
                "block": block[name],
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "parameter"
        return out

    def group_effects(self, group: str | None = None, ci: float = 0.9) -> pd.DataFrame:
        """Estimated effect of each mission, department, official... on the latent scale.

        Examples
        --------
        >>> fit.group_effects("mission")  # doctest: +SKIP
        """
        frames = []
        for g in self.info.groups:
            if group is not None and g.label != group:
                continue
            r = self.draws.r[g.label]  # (S, levels, q)
            for j, term in enumerate(g.column_names):
                for i, level in enumerate(g.levels):
                    frames.append(
                        {
                            "group": g.label,
                            "level": level,
                            "term": term,
                            **describe_draws(r[:, i, j], ci),
                        }
                    )
        if group is not None and not frames:
            known = ", ".join(g.label for g in self.info.groups) or "none"
            raise KeyError(f"no group term '{group}' in this model (group terms: {known})")
        if not frames:  # a model without group terms has no group effects
            lo, hi = _interval_names(ci)
            cols = ["group", "level", "term", "mean", "sd", "median", lo, hi]
            return pd.DataFrame(columns=cols).set_index(["group", "level", "term"])
        return pd.DataFrame(frames).set_index(["group", "level", "term"])

    def variance_decomposition(self, ci: float = 0.9) -> pd.DataFrame:
        """Share of latent variance due to each block, each grouping level and the residual.

        Rows: one per block of covariates (``incident``, ``individual``, ...), one per
        grouping term (``group(mission)``, ``group(mission:department)``) and
        ``residual``.

        Per posterior draw: a block's variance is the variance, over the fitted rows, of
        its part of the linear predictor; a grouping level's is the average over rows of
        ``z' Sigma z`` (``sd^2`` for an intercept); the residual's is the link's
        (pi^2/3 for logit, 1 for probit). Shares divide each by their sum, so they add to
        one; covariance between blocks is not attributed to either.

        Examples
        --------
        >>> fit.variance_decomposition()[["share", "q5", "q95"]]  # doctest: +SKIP
        """
        info, d, design = self.info, self.draws, self.design
        comps: dict[str, np.ndarray] = {}
        kinds: dict[str, str] = {}
        blocks = list(
            dict.fromkeys([c.block for c in info.columns] + [m.block for m in info.monotonic])
        )
        for block in blocks:
            cols = [j for j, c in enumerate(info.columns) if c.block == block]
            part = d.b[:, cols] @ design.X[:, cols].T
            for j, m in enumerate(info.monotonic):
                if m.block == block:
                    steps = np.concatenate(
                        [np.zeros((d.n_draws, 1)), np.cumsum(d.simplex[m.var], axis=1)], axis=1
                    )
                    part = part + d.b_mo[:, j : j + 1] * steps[:, design.mono[:, j]]
            comps[block], kinds[block] = part.var(axis=1), "block"
        for g in info.groups:
            Z = design.group_Z[g.label]
            cov = d.cor[g.label] * d.sd[g.label][:, :, None] * d.sd[g.label][:, None, :]
            comps[f"group({g.label})"] = np.einsum("nq,sqr,nr->s", Z, cov, Z) / len(Z)
            kinds[f"group({g.label})"] = "group"
        comps["residual"] = np.full(d.n_draws, RESIDUAL_VARIANCE[self.spec.link])
        kinds["residual"] = "residual"
        total = sum(comps.values())
        lo, hi = _interval_names(ci)
        rows = {}
        for name, v in comps.items():
            share = describe_draws(v / total, ci)
            rows[name] = {
                "kind": kinds[name],
                "variance": float(v.mean()),
                "share": share["mean"],
                lo: share[lo],
                hi: share[hi],
            }
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = "component"
        return out

    def diagnose(self):
        """Convergence diagnostics with verdicts; see :func:`bayesresp.diagnostics.diagnose`.

        Examples
        --------
        >>> report = fit.diagnose()  # doctest: +SKIP
        >>> report.verdict  # "ok", "warn" or "fail"  # doctest: +SKIP
        """
        from bayesresp.diagnostics import diagnose

        return diagnose(self)

    def ppc(
        self,
        by: str | None = None,
        *,
        draws: int = 500,
        ci: float = 0.95,
        seed: int | None = None,
        progress: bool = True,
    ):
        """Posterior predictive check; see :func:`bayesresp.checks.posterior_predictive_check`.

        Examples
        --------
        >>> fit.ppc(by="mission").flagged  # doctest: +SKIP
        """
        from bayesresp.checks import posterior_predictive_check

        return posterior_predictive_check(
            self, by, draws=draws, ci=ci, seed=seed, progress=progress
        )

    def prior_sensitivity(self, threshold: float = 0.05):
        """Power-scaling prior sensitivity; see :func:`bayesresp.sensitivity.prior_sensitivity`.

        Examples
        --------
        >>> fit.prior_sensitivity().prior_dependent  # doctest: +SKIP
        """
        from bayesresp.sensitivity import prior_sensitivity

        return prior_sensitivity(self, threshold)

    def loo(self):
        """PSIS-LOO of this fit (ArviZ), from the stored per-row log-likelihood.

        Examples
        --------
        >>> fit.loo().elpd  # doctest: +SKIP
        """
        import arviz as az

        return az.loo(self.tree, pointwise=True)

    def convergence(self) -> dict[str, float]:
        """Headline convergence numbers: max r_hat, min bulk and tail ESS, divergences.

        Examples
        --------
        >>> fit.convergence()["max_r_hat"]  # doctest: +SKIP
        """
        report = self.diagnose()
        values = {c.name: c.value for c in report.checks}
        return {
            "max_r_hat": values["max r_hat"],
            "min_ess_bulk": values["min bulk ESS"],
            "min_ess_tail": values["min tail ESS"],
            "divergences": int(values["divergent transitions"]),
            "verdict": report.verdict,
        }

    def convergence_line(self) -> str:
        """One line: the diagnostics' verdict, with the headline numbers.

        Examples
        --------
        >>> print(fit.convergence_line())  # doctest: +SKIP
        """
        c = self.convergence()
        verdict = {"ok": "converged", "warn": "converged, with warnings", "fail": "NOT CONVERGED"}[
            c["verdict"]
        ]
        return (
            f"{verdict}: max r_hat {c['max_r_hat']:.3f}, min bulk ESS "
            f"{c['min_ess_bulk']:.0f}, min tail ESS {c['min_ess_tail']:.0f}, "
            f"{c['divergences']} divergent transitions (details: diagnose())"
        )

    # -- what-if ------------------------------------------------------------------------
    def what_if(
        self,
        profiles,
        *,
        groups: str = "known",
        fill: str | None = None,
        ci: float = 0.9,
        seed: int | None = None,
    ):
        """Posterior response to hypothetical incidents; see :func:`bayesresp.whatif.what_if`.

        Examples
        --------
        >>> fit.what_if({"mission": "UNMIL", "background": "military_security"},
        ...             fill="typical").summary()  # doctest: +SKIP
        """
        from bayesresp.whatif import what_if

        return what_if(self, profiles, groups=groups, fill=fill, ci=ci, seed=seed)

    def contrast(
        self,
        base,
        changes,
        *,
        groups: str = "known",
        fill: str | None = None,
        ci: float = 0.9,
        seed: int | None = None,
    ):
        """Changed minus base profile; see :func:`bayesresp.contrasts.contrast`.

        Examples
        --------
        >>> fit.contrast(profile, {"duty_location": "field_office"})  # doctest: +SKIP
        """
        from bayesresp.contrasts import contrast

        return contrast(self, base, changes, groups=groups, fill=fill, ci=ci, seed=seed)

    def marginal_effects(self, *, draws: int = 1000, ci: float = 0.9) -> pd.DataFrame:
        """Population-averaged effects, ranked; see :func:`bayesresp.contrasts.marginal_effects`.

        Examples
        --------
        >>> fit.marginal_effects().head()  # doctest: +SKIP
        """
        from bayesresp.contrasts import marginal_effects

        return marginal_effects(self, draws=draws, ci=ci)

    def scenario(
        self,
        intervention,
        data: pd.DataFrame | None = None,
        *,
        by: str = "mission",
        ci: float = 0.9,
    ):
        """Responses before and after rules; see :func:`bayesresp.scenarios.scenario`.

        Examples
        --------
        >>> fit.scenario({"column": "years_at_station", "max": 3})  # doctest: +SKIP
        """
        from bayesresp.scenarios import scenario

        return scenario(self, intervention, data, by=by, ci=ci)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to one NetCDF (``.nc``) or Zarr (``.zarr``) file; see :func:`load_fit`.

        Examples
        --------
        >>> fit.save("hierarchical.nc")  # doctest: +SKIP
        >>> bayesresp.load_fit("hierarchical.nc")  # doctest: +SKIP
        """
        from bayesresp.fitfile import save_fit

        return save_fit(self, path)

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<p><b>bayesresp fit</b> <code>{escape(self.spec.formula)}</code><br>"
            f"{escape(self.convergence_line())}</p>" + self.summary().to_html(float_format="%.3f")
        )

    def report(self, path: str | Path, **options: Any) -> Path:
        """Write the shareable HTML report of this fit (see
        :func:`bayesresp.report.write_report` for the options, e.g. ``profiles=``).

        Examples
        --------
        >>> fit.report("report.html", profiles="profiles.csv")  # doctest: +SKIP
        """
        from bayesresp.report import write_report

        return write_report(self, path, **options)


def _scale_note(col, info: DesignInfo) -> str:
    notes = []
    for name, level in col.parts:
        c = info.codings[name]
        if level is None:
            if c.scale != 1.0 or c.center != 0.0:
                unit = f" {c.unit}" if c.unit else ""
                notes.append(f"{name}: per sd ({c.scale:.3g}{unit}), centred at {c.center:.3g}")
            else:
                notes.append(f"{name}: per unit")
        else:
            notes.append(f"{name}: vs {c.reference}")
    return "; ".join(notes)
