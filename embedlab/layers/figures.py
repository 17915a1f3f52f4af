"""Figures of a layer analysis: the layer-by-layer similarity heatmap and score-versus-layer lines.

Built on `matplotlib.figure.Figure` without pyplot, like `embedlab.analysis.figures`: no global state
and no GUI backend, so the same code runs headless and in a notebook (which can show the returned figure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from embedlab.layers.report import AVERAGE, LayerReport

TITLES = {"cka": "linear CKA", "cosine": "mean cosine per text"}
ANNOTATE_UP_TO = 12  # write the numbers into the cells of smaller matrices


def similarity_heatmap(report: LayerReport, measure: str | None = None, path: str | Path | None = None) -> Figure:
    """Layer-by-layer similarity of the embeddings; one panel per measure (`both` shows CKA and cosine).

    Args:
        report: the layer analysis.
        measure: `cka`, `cosine` or `both`; default the report's `similarity_measure`.
        path: where to save the PNG, if given.

    Returns:
        The figure.
    """
    measure = measure or report.similarity_measure
    measures = [m for m in ("cka", "cosine") if m in report.similarity] if measure == "both" else [measure]
    k = len(report.layers)
    side = min(9.0, max(4.5, 2.5 + 0.22 * k))
    fig = Figure(figsize=(side * len(measures) + 0.8, side), layout="constrained")
    axes = fig.subplots(1, len(measures), squeeze=False)[0]
    labels = [f"{layer}*" if layer == report.num_layers else str(layer) for layer in report.layers]
    step = max(1, k // 16)  # at most ~16 tick labels per axis
    for ax, name in zip(axes, measures, strict=True):
        matrix = np.asarray(report.similarity[name], dtype=float)  # [K, K]
        image = ax.imshow(matrix, cmap="viridis", vmin=min(0.0, float(np.nanmin(matrix))), vmax=1.0)
        if k <= ANNOTATE_UP_TO:
            for i in range(k):
                for j in range(k):
                    color = "black" if matrix[i, j] > 0.6 else "white"
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color=color)
        ticks = list(range(0, k, step))
        ax.set_xticks(ticks, [labels[t] for t in ticks], fontsize=7)
        ax.set_yticks(ticks, [labels[t] for t in ticks], fontsize=7)
        ax.set_xlabel("layer", fontsize=9)
        ax.set_ylabel("layer", fontsize=9)
        ax.set_title(TITLES.get(name, name), fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(
        f"{report.backbone}: per-layer embeddings\n({report.pooling} pooling, {report.attention}, "
        f"{report.similarity_texts} texts; * = last layer)",
        fontsize=9,
    )
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def score_plot(report: LayerReport, path: str | Path | None = None) -> Figure:
    """Main score versus layer: per category and the average (left), per task (right); last layer marked.

    Args:
        report: the layer analysis.
        path: where to save the PNG, if given.

    Returns:
        The figure.
    """
    categories = report.category_table()
    tasks = report.task_table()
    fig = Figure(figsize=(14.0, 4.4), layout="constrained")
    by_category, by_task = fig.subplots(1, 2, sharey=False)
    x = np.asarray(report.layers)
    marker = "o" if len(x) <= 20 else None
    for name in categories.columns:
        average = name == AVERAGE
        by_category.plot(
            x,
            categories[name].to_numpy(),
            marker=marker,
            ms=3,
            lw=2.2 if average else 1.4,
            ls="--" if average else "-",
            color="black" if average else None,
            label=name,
        )
    for name in tasks.columns:
        by_task.plot(x, tasks[name].to_numpy(), marker=marker, ms=2.5, lw=1.0, label=name)
    best = report.best_layers().get(AVERAGE)
    for ax, title in ((by_category, "per category (mean main score)"), (by_task, "per task (main score)")):
        ax.axvline(report.num_layers, color="tab:red", lw=1.0, ls=":", label=f"last layer ({report.num_layers})")
        if best is not None and ax is by_category:
            ax.axvline(best["layer"], color="0.5", lw=0.8, ls="-.", label=f"best average ({best['layer']})")
        ax.set_xlabel("layer (0 = token embeddings)", fontsize=9)
        ax.set_ylabel("main score", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.suptitle(
        f"{report.backbone}: score of each layer's embedding ({report.pooling} pooling, {report.attention})",
        fontsize=10,
    )
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
