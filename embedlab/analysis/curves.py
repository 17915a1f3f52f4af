"""Training curves from a run directory: the loss Lightning's CSV logger wrote, as a table and a figure.

`embedlab fit` logs `train/loss` every `log_every_n_steps` and `val/loss` at every validation (the
mix's held-out split) into `<run_dir>/lightning_logs/version_*/metrics.csv`. A resumed fit writes a
new version; the versions are read in order and a step logged twice keeps its last value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.figures import save_figure

METRICS = ("train/loss", "val/loss")


def read_curves(run_dir: str | Path) -> pd.DataFrame:
    """The logged losses of one run.

    Args:
        run_dir: A run directory written by `embedlab fit`.

    Returns:
        Columns `step`, `metric` (`train/loss` or `val/loss`), `value`, sorted by metric and step.
    """
    files = sorted(Path(run_dir).glob("lightning_logs/version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
    if not files:
        raise AnalysisError(f"{run_dir}: no lightning_logs/version_*/metrics.csv (was it trained with a CSV logger?)")
    frames = []
    for path in files:
        logged = pd.read_csv(path)
        for metric in METRICS:
            if metric in logged:
                part = logged[["step", metric]].dropna().rename(columns={metric: "value"})
                frames.append(part.assign(metric=metric))
    if not frames:
        raise AnalysisError(f"{files[-1]}: none of {', '.join(METRICS)} was logged")
    curves = pd.concat(frames, ignore_index=True)[["step", "metric", "value"]]
    curves["step"] = curves["step"].astype(int)
    return curves.drop_duplicates(["metric", "step"], keep="last").sort_values(["metric", "step"], ignore_index=True)


def convergence_table(curves: Mapping[str, pd.DataFrame], window: int = 4) -> pd.DataFrame:
    """Per run: training loss at the start and the end (means of `window` logged values), validation losses.

    Args:
        curves: run name -> `read_curves` result.
        window: logged training losses averaged at each end (single batches are noisy).

    Returns:
        One row per run: `train loss first`, `train loss last`, their ratio, and `val loss @<step>` columns.
    """
    rows = {}
    for name, frame in curves.items():
        train = frame[frame.metric == "train/loss"]["value"].to_numpy()
        val = frame[frame.metric == "val/loss"]
        row = {
            "train loss first": train[:window].mean() if train.size else float("nan"),
            "train loss last": train[-window:].mean() if train.size else float("nan"),
        }
        row["last / first"] = row["train loss last"] / row["train loss first"]
        for step, value in zip(val["step"], val["value"], strict=True):
            row[f"val loss @{step + 1}"] = value  # Lightning logs validation at the step index before it
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("run")


def curves_figure(curves: Mapping[str, pd.DataFrame], path: str | Path | None = None) -> Figure:
    """Training loss (left) and validation loss (right), one line per run; saved to `path` when given."""
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for name, frame in curves.items():
        for axis, metric in zip(axes, METRICS, strict=True):
            part = frame[frame.metric == metric]
            axis.plot(part["step"] + 1, part["value"], marker="o" if metric == "val/loss" else None, ms=3, label=name)
    for axis, metric in zip(axes, METRICS, strict=True):
        axis.set_xlabel("optimiser step")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    axes[0].set_title("training loss (one batch per point)")
    axes[1].set_title("validation loss (held-out split of the mix)")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
