"""Posterior draws as plain arrays, and the linear predictor computed from them (NumPy).

Everything that predicts (what-if, contrasts, posterior predictive checks) goes through
:func:`eta_from_draws`, the NumPy twin of :func:`bayesresp.model.linear_predictor`; a test
ties the two together. The per-row log-likelihood stored with a fit goes through the
compiled kernel's packed rows (:func:`bayesresp.kernel.log_likelihood`, tested against
this module), except for designs with ``mo()`` terms, which come here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayesresp.design import Design, DesignInfo
from bayesresp.errors import BayesrespError


@dataclass
class Draws:
    """Flattened posterior draws (``S = chains * draws`` first axis)."""

    b: np.ndarray  # (S, p)
    b_mo: np.ndarray  # (S, m)
    simplex: dict[str, np.ndarray]  # var -> (S, K_var - 1)
    cutpoints: np.ndarray  # (S, K - 1)
    r: dict[str, np.ndarray]  # group -> (S, levels, q)
    sd: dict[str, np.ndarray]  # group -> (S, q)
    cor: dict[str, np.ndarray]  # group -> (S, q, q), identity when uncorrelated

    @property
    def n_draws(self) -> int:
        return self.cutpoints.shape[0]

    @classmethod
    def from_posterior(cls, posterior: xr.Dataset, info: DesignInfo) -> Draws:
        def flat(name: str) -> np.ndarray:
            da = posterior[name]
            return da.values.reshape((-1, *da.shape[2:]))

        S = posterior.sizes["chain"] * posterior.sizes["draw"]
        b = flat("b") if info.columns else np.zeros((S, 0))
        b_mo = flat("b_mo") if info.monotonic else np.zeros((S, 0))
        simplex = {m.var: flat(f"simplex[{m.var}]") for m in info.monotonic}
        r, sd, cor = {}, {}, {}
        for g in info.groups:
            r[g.label] = flat(f"r[{g.label}]")
            sd[g.label] = flat(f"sd[{g.label}]")
            q = len(g.columns)
            if f"cor[{g.label}]" in posterior:
                cor[g.label] = flat(f"cor[{g.label}]")
            else:
                cor[g.label] = np.broadcast_to(np.eye(q), (S, q, q))
        return cls(b, b_mo, simplex, flat("cutpoints"), r, sd, cor)

    def subset(self, idx: np.ndarray) -> Draws:
        """The draws at positions ``idx``."""
        return Draws(
            self.b[idx],
            self.b_mo[idx],
            {k: v[idx] for k, v in self.simplex.items()},
            self.cutpoints[idx],
            {k: v[idx] for k, v in self.r.items()},
            {k: v[idx] for k, v in self.sd.items()},
            {k: v[idx] for k, v in self.cor.items()},
        )


GROUP_MODES = ("known", "new", "average")


class UnknownGroupError(BayesrespError):
    """A row names a group the fit has not seen, where only known groups are allowed."""


def eta_from_draws(
    draws: Draws,
    design: Design,
    groups: str | dict[str, str] = "known",
    rng: np.random.Generator | None = None,
    shared_new: bool = False,
) -> np.ndarray:
    """Linear predictor for every draw and row, shape ``(S, n)``.

    Parameters
    ----------
    groups : {"known", "new", "average"} or dict of group label to one of them
        ``known``: each row's estimated group effects (an unseen group is an error);
        ``new``: a fresh draw from the estimated population of groups, for every row and
        posterior draw; ``average``: group effects at zero, their population mean. A dict
        chooses per group term (``{"mission": "known", "official_id": "new"}``).
    shared_new : bool
        With ``new``: one fresh group per posterior draw, shared by all rows (the rows
        of a contrast are then in the same new mission); otherwise a fresh one per row.
    """
    modes = groups if isinstance(groups, dict) else {g.label: groups for g in design.info.groups}
    for mode in modes.values():
        if mode not in GROUP_MODES:
            raise ValueError(f"groups must be one of {', '.join(GROUP_MODES)}, not {mode!r}")
    info = design.info
    eta = draws.b @ design.X.T  # (S, n)
    for j, m in enumerate(info.monotonic):
        steps = np.concatenate(
            [np.zeros((draws.n_draws, 1)), np.cumsum(draws.simplex[m.var], axis=1)], axis=1
        )
        eta = eta + draws.b_mo[:, j : j + 1] * steps[:, design.mono[:, j]]
    for g in info.groups:
        Z = design.group_Z[g.label]  # (n, q)
        idx = design.group_index[g.label]
        mode = modes.get(g.label, "known")
        if mode == "average":
            continue
        if mode == "known":
            unseen = np.flatnonzero(idx < 0)
            if unseen.size:
                raise UnknownGroupError(
                    f"{unseen.size} row(s) (first: row {unseen[0] + 1}) name a "
                    f"{g.label} the fit has not seen; known {g.label} levels: "
                    + ", ".join(g.levels[:10])
                    + (" ..." if len(g.levels) > 10 else "")
                    + ". Predictions for unseen groups need groups='new' (what-if and "
                    "contrasts offer it)."
                )
            r = draws.r[g.label][:, idx, :]  # (S, n, q)
        else:
            r = _new_group_effects(draws, g.label, 1 if shared_new else design.n, rng)
        r = np.broadcast_to(r, (r.shape[0], design.n, r.shape[2]))
        eta = eta + np.einsum("snq,nq->sn", r, Z)
    return eta


def _new_group_effects(draws: Draws, label: str, n: int, rng) -> np.ndarray:
    """Fresh group effects from N(0, Sigma) for each draw and row: (S, n, q)."""
    rng = rng if rng is not None else np.random.default_rng()
    sd, cor = draws.sd[label], draws.cor[label]
    S, q = sd.shape
    cov = cor * sd[:, :, None] * sd[:, None, :]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(q))
    z = rng.standard_normal((S, n, q))
    return np.einsum("sij,snj->sni", chol, z)
