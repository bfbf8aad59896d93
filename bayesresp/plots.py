"""Plots (matplotlib), labelled with the codebook's level names."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bayesresp.whatif import WhatIfResult


def spectrum_colors(n: int):
    """n colours from conciliatory (blue) to confrontational (red)."""
    from matplotlib import colormaps

    return colormaps["RdYlBu_r"](np.linspace(0.05, 0.95, n))


def plot_profiles(result: WhatIfResult, ax=None, ci: float | None = None):
    """Stacked horizontal bars of P(level) per profile, with intervals on the boundaries.

    The whisker at each boundary between two segments is the central interval of the
    cumulative probability P(response <= level) up to that boundary.
    """
    import matplotlib.pyplot as plt

    ci = result.ci if ci is None else ci
    p = result._flat()  # (S, n, K)
    mean = p.mean(axis=0)
    cum = np.cumsum(p, axis=2)
    lo, hi = np.quantile(cum, [(1 - ci) / 2, 1 - (1 - ci) / 2], axis=0)
    labels = list(result.profiles["profile"])
    n, K = mean.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.6 * n + 1.6))
    colors = spectrum_colors(K)
    left = np.zeros(n)
    y = np.arange(n)
    for k, level in enumerate(result.levels):
        ax.barh(y, mean[:, k], left=left, color=colors[k], label=level, edgecolor="white")
        left += mean[:, k]
        if k < K - 1:
            centre = cum[:, :, k].mean(axis=0)
            ax.errorbar(centre, y, xerr=[centre - lo[:, k], hi[:, k] - centre], fmt="none",
                        ecolor="black", elinewidth=0.8, capsize=2)  # fmt: skip
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability (conciliatory \u2192 confrontational)")
    ax.legend(ncol=4, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25 - 0.02 * n),
              frameon=False)  # fmt: skip
    modes = ", ".join(f"{g}: {m}" for g, m in result.group_modes.items())
    ax.set_title(f"Predicted responses{' (' + modes + ')' if modes else ''}", fontsize="medium")
    return ax
