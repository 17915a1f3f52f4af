"""Figures: a forest plot of deltas with intervals, and a heatmap of pairwise p-values.

Built on `matplotlib.figure.Figure` directly, without pyplot: no global state, no GUI backend
(Agg renders the PNG), so the same code runs headless in `make test`, in a notebook and on a
cluster node, and returns the figure for a notebook to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from embedlab.analysis.tables import fmt_p, marks
from embedlab.io import atomic_path

MAX_LOG10_P = 4.0  # colour scale saturates at p = 1e-4


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> None:
    """Save `fig` atomically (a temporary name, then renamed), in the format the file's extension names."""
    path = Path(path)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")


def forest_plot(
    rows: pd.DataFrame,
    variants: Sequence[str],
    categories: Sequence[str],
    baseline: str,
    alpha: float,
    path: str | Path | None = None,
) -> Figure:
    """One panel per category: each variant's per-example delta from the baseline with its interval.

    Filled markers: significant after correction; hollow: not.

    Args:
        rows: Table 2 (per-example) numbers: a, category, ex_delta, ex_low, ex_high, ex_p_adj, ex_tasks.
        variants: Variants to show, top to bottom (the baseline is skipped).
        categories: Panels, left to right.
        baseline: Baseline variant, for the axis label.
        alpha: Significance level for the marker fill.
        path: Where to save the PNG, if given.

    Returns:
        The figure.
    """
    shown = [v for v in variants if v != baseline]
    fig = Figure(figsize=(2.2 + 3.0 * len(categories), 1.2 + 0.45 * len(shown)), layout="constrained")
    axes = fig.subplots(1, len(categories), sharey=True, squeeze=False)[0]
    y = np.arange(len(shown))[::-1]
    index = rows.set_index(["a", "category"])
    for ax, category in zip(axes, categories, strict=True):
        ax.axvline(0.0, color="0.4", lw=0.8, ls="--")
        n_tasks = 0
        for yi, v in zip(y, shown, strict=True):
            if (v, category) not in index.index or np.isnan(index.loc[(v, category), "ex_delta"]):
                continue
            r = index.loc[(v, category)]
            n_tasks = int(r["ex_tasks"])
            significant = r["ex_p_adj"] < alpha
            color = "tab:blue" if r["ex_delta"] >= 0 else "tab:red"
            ax.errorbar(
                r["ex_delta"],
                yi,
                xerr=[[r["ex_delta"] - r["ex_low"]], [r["ex_high"] - r["ex_delta"]]],
                fmt="o",
                color=color,
                mfc=color if significant else "white",
                capsize=3,
                ms=6,
            )
        ax.set_title(f"{category} ({n_tasks} tasks)", fontsize=10)
        ax.set_xlabel(f"delta vs {baseline}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, shown)
    axes[0].set_ylim(-0.7, len(shown) - 0.3)
    fig.suptitle(
        f"Per-example deltas with {100 * (1 - alpha):.0f}% bootstrap intervals (filled: significant after correction)",
        fontsize=10,
    )
    if path is not None:
        save_figure(fig, path)
    return fig


def pvalue_heatmap(
    numbers: pd.DataFrame,
    families: Mapping[str, Sequence[str]],
    categories: Sequence[str],
    alpha: float,
    path: str | Path | None = None,
) -> Figure:
    """Grid of pairwise p-value matrices: rows are design families, columns categories.

    Upper triangle: per-example randomisation test; lower triangle: Wilcoxon over tasks; both
    adjusted. Colour is -log10(p), saturating at 1e-4; cells are annotated with p and marks.

    Args:
        numbers: Pairwise numbers: a, b, category, w_p, w_p_adj, ex_p, ex_p_adj.
        families: Family name -> member variants.
        categories: Columns of the grid.
        alpha: Level of the marks.
        path: Where to save the PNG, if given.

    Returns:
        The figure.
    """
    fams = list(families.items())
    if not fams:
        fig = Figure(figsize=(4, 1.5))
        fig.text(0.5, 0.5, "no pairwise comparisons in this design", ha="center", va="center")
        if path is not None:
            save_figure(fig, path)
        return fig
    size = max(len(m) for _, m in fams)
    fig = Figure(figsize=(2.5 + 1.0 * size * len(categories), 1.5 + 1.1 * size * len(fams)), layout="constrained")
    axes = fig.subplots(len(fams), len(categories), squeeze=False)
    index = numbers.set_index(["a", "b", "category"])
    image = None
    for i, (family, members) in enumerate(fams):
        for j, category in enumerate(categories):
            ax = axes[i, j]
            k = len(members)
            values = np.full((k, k), np.nan)
            for x in range(k):
                for z in range(k):
                    if x == z:
                        continue
                    a, b = members[x], members[z]
                    key = (b, a, category) if (b, a, category) in index.index else (a, b, category)
                    col = "ex_p" if x < z else "w_p"
                    p, p_adj = index.loc[key, col], index.loc[key, col + "_adj"]
                    if not np.isnan(p_adj):
                        values[x, z] = min(-np.log10(max(p_adj, 1e-300)), MAX_LOG10_P)
                    ax.text(
                        z,
                        x,
                        fmt_p(p_adj) + marks(p, p_adj, alpha),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if values[x, z] > MAX_LOG10_P / 2 else "black",
                    )
            image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=MAX_LOG10_P)
            labels = [m if len(m) <= 22 else m[:21] + "…" for m in members]
            ax.set_xticks(range(k), labels, rotation=35, ha="right", fontsize=7)
            ax.set_yticks(range(k), labels if j == 0 else [""] * k, fontsize=7)
            if i == 0:
                ax.set_title(category, fontsize=10)
            if j == 0:
                ax.set_ylabel(family, fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.6, label="-log10(adjusted p)")
    fig.suptitle("Pairwise adjusted p-values (upper: per-example test, lower: Wilcoxon over tasks)", fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig
