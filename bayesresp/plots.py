"""Plots (matplotlib), labelled with the codebook's level names.

A base module: it draws what the verbs compute (their result objects call these
functions from their ``plot`` methods) and imports nothing of the package, so any layer
may use it. Results are read by their attributes, not by their types.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def plain(label: Any) -> str:
    """A label as matplotlib shows it literally: codebook labels may hold ``$``, which
    matplotlib would otherwise read as mathtext (``$\\frac{1}{$`` fails to draw)."""
    return str(label).replace("$", r"\$")


def plain_all(labels: Any) -> list[str]:
    return [plain(v) for v in labels]


def spectrum_colors(n: int):
    """n colours from conciliatory (blue) to confrontational (red)."""
    from matplotlib import colormaps

    return colormaps["RdYlBu_r"](np.linspace(0.05, 0.95, n))


def plot_profiles(result: Any, ax=None, ci: float | None = None):
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
    labels = plain_all(result.profiles["profile"])
    n, K = mean.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.6 * n + 1.6))
    colors = spectrum_colors(K)
    left = np.zeros(n)
    y = np.arange(n)
    for k, level in enumerate(result.levels):
        ax.barh(y, mean[:, k], left=left, color=colors[k], label=plain(level), edgecolor="white")
        left += mean[:, k]
        if k < K - 1:
            centre = cum[:, :, k].mean(axis=0)
            ax.errorbar(
                centre,
                y,
                xerr=[centre - lo[:, k], hi[:, k] - centre],
                fmt="none",
                ecolor="black",
                elinewidth=0.8,
                capsize=2,
            )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability (conciliatory \u2192 confrontational)")
    ax.legend(
        ncol=4,
        fontsize="small",
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25 - 0.02 * n),
        frameon=False,
    )
    modes = plain(", ".join(f"{g}: {m}" for g, m in result.group_modes.items()))
    ax.set_title(f"Predicted responses{' (' + modes + ')' if modes else ''}", fontsize="medium")
    return ax


def plot_ppc(result, ax=None, max_panels: int = 12):
    """Observed counts (bars) against the predictive interval and mean (whiskers, dots).

    One panel overall, or one per group (the first ``max_panels`` groups, flagged cells
    outlined in red).
    """
    import matplotlib.pyplot as plt

    table = result.table
    groups = list(dict.fromkeys(table.index.get_level_values(0)))[:max_panels]
    if ax is None:
        n = len(groups)
        cols = min(3, n)
        rows = int(np.ceil(n / cols))
        fig, axes = plt.subplots(
            rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False, sharey=False
        )
        axes = axes.ravel()
        for extra in axes[n:]:
            extra.set_visible(False)
    else:
        axes = [ax]
        groups = groups[:1]
    colors = spectrum_colors(len(result.levels))
    x = np.arange(len(result.levels))
    for a, g in zip(axes, groups, strict=False):
        sub = table.loc[g]
        edge = ["red" if o else "none" for o in sub["outside"]]
        a.bar(x, sub["observed"], color=colors, edgecolor=edge, linewidth=1.5, label="observed")
        a.errorbar(
            x,
            sub["predicted"],
            yerr=[sub["predicted"] - sub["lower"], sub["upper"] - sub["predicted"]],
            fmt="o",
            color="black",
            ms=3,
            capsize=2,
            label=f"predicted ({result.ci:.0%})",
        )
        a.set_title(plain(g), fontsize="small")
        a.set_xticks(x, plain_all(result.levels), rotation=60, ha="right", fontsize="x-small")
    axes[0].legend(fontsize="x-small")
    axes[0].figure.tight_layout()
    return axes[0]


def plot_prior_predictive(result, ax=None):
    """Prior predictive share of each level: mean and central interval."""
    import matplotlib.pyplot as plt

    table = result.to_dataframe()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(result.levels))
    ax.bar(x, table["mean_share"], color=spectrum_colors(len(x)))
    ax.errorbar(
        x,
        table["mean_share"],
        yerr=[table["mean_share"] - table["lower"], table["upper"] - table["mean_share"]],
        fmt="none",
        color="black",
        capsize=3,
    )
    ax.set_xticks(x, plain_all(result.levels), rotation=45, ha="right", fontsize="small")
    ax.set_ylabel("share of responses")
    ax.set_title(f"Prior predictive ({result.ci:.0%} intervals)", fontsize="medium")
    ax.figure.tight_layout()
    return ax
