"""The study's report: the paper-style table with significance marks, the floor and the yardstick, costs, layers.

`report/report.md` is the front page; the full significance analysis (`embedlab analyze` over the
trained runs) sits next to it as `results.md` with its tables, CSVs and figures, and the layer
analysis under `layers/`.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embedlab.analysis.report import build_report
from embedlab.analysis.runs import load_runs
from embedlab.analysis.tables import to_markdown
from embedlab.io import atomic_path, atomic_write_text
from embedlab.study.plan import PlannedRun
from embedlab.study.preset import StudyPreset, differences_markdown

# Per-example tests first: with a handful of tasks per category the paper's Wilcoxon over tasks cannot
# reach significance at all (its smallest achievable p is in the caption). The across-seed table is the
# only one that covers training variance; with few seeds it says how many a verdict needs.
MAIN_TABLES = ("table2_examples", "table2_wilcoxon", "seeds")


@dataclass
class StudyReport:
    """What `write_study_report` produced: the front page and the tables printed to the terminal."""

    path: Path
    main_table: str
    models_table: str


def category_means(runs_dir: Path | list[Path]) -> pd.DataFrame:
    """Main score per category (mean over the category's tasks, then over seeds) for every variant, in %."""
    runset = load_runs(
        runs_dir, allow_mismatch=("backbone", "train_mix", "train_mix_fingerprint", "max_steps", "suite")
    )
    per_seed = runset.scores.groupby(["variant", "seed", "category"])["score"].mean().reset_index()
    table = per_seed.groupby(["variant", "category"])["score"].mean().unstack("category") * 100
    table["mean"] = table.mean(axis=1)
    return table


def cost_rows(run_dirs: list[Path]) -> pd.DataFrame:
    """Training and evaluation cost of every run directory (one row per run, named by its folder)."""
    rows = []
    for run_dir in run_dirs:
        path = run_dir / "cost.json"
        cost = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        training, evaluation = cost.get("training", {}), cost.get("evaluation", {})
        params = training.get("trainable_parameters", {})
        peak = training.get("peak_memory_bytes")
        rows.append(
            {
                "run": run_dir.name,
                "steps": training.get("steps", 0),
                "tokens seen": training.get("tokens_seen", 0),
                "train s": training.get("wall_time_s", 0.0),
                "real tokens/s": training.get("tokens_per_s"),
                "peak memory MiB": round(peak / 2**20) if peak else None,
                "LoRA params": params.get("lora"),
                "pooler params": params.get("pooling"),
                "eval s": evaluation.get("wall_time_s"),
            }
        )
    frame = pd.DataFrame(rows)
    for column in ("steps", "tokens seen", "peak memory MiB", "LoRA params", "pooler params"):
        frame[column] = frame[column].astype("Int64")  # integers, with <NA> where a run has no training
    return frame


def write_study_report(
    preset: StudyPreset, runs: list[PlannedRun], study_dir: Path, report_dir: Path, wall_seconds: float | None = None
) -> StudyReport:
    """Analyse the trained runs and write `report_dir/report.md` (and the analysis beside it).

    Args:
        preset: the study.
        runs: its runs (all finished).
        study_dir: the study's folder (`variants/`, `anchors/`).
        report_dir: where the report goes.
        wall_seconds: the study's wall time, for the report.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    analysis = build_report(study_dir / "variants", report_dir, baseline=preset.baseline, **preset.analysis)
    main_md = "\n".join(
        f"### {t.title}\n\n{to_markdown(t.frame)}\n\n{t.caption}\n" for t in (analysis.tables[n] for n in MAIN_TABLES)
    )
    models = category_means([r.run_dir for r in runs])
    kinds = {r.variant: r.kind for r in runs}
    models.insert(0, "kind", [kinds.get(v, "trained") for v in models.index])
    models = models.sort_values(["kind", "mean"], ascending=[True, False])
    models_md = to_markdown(models.round(1).rename_axis("model"))
    costs = cost_rows([r.run_dir for r in runs])
    shown = costs.set_index("run").astype(object)
    costs_md = to_markdown(shown.where(shown.notna(), "-"))
    parts = [
        f"# embedlab study `{preset.name}`\n",
        preset.description.strip() + "\n",
        f"- backbone `{preset.backbone}`, training mix `{preset.data}`, {preset.max_steps} steps per run, "
        f"seeds {', '.join(map(str, sorted({r.seed for r in runs if r.kind == 'trained'})))}, "
        f"suite `{preset.suite}`"
        + (f" (evaluation options: {_inline(preset.evaluation)})" if preset.evaluation else ""),
        f"- training overrides: {_inline(preset.fit) if preset.fit else 'none'}",
        *([f"- pooling options (heads that take them): {_inline(preset.pooling)}"] if preset.pooling else []),
        f"- generated {time.strftime('%Y-%m-%d %H:%M')} on {platform.node() or 'this machine'} "
        f"({platform.machine()})" + (f"; whole study {wall_seconds / 60:.1f} min wall" if wall_seconds else ""),
        "",
        *([differences_markdown(preset)] if preset.differences else []),
        "## Main scores by category (paper's Table 2 layout)\n",
        main_md,
        "The full analysis (per-example tests, pairwise comparisons, per-task scores, figures) is in "
        "[results.md](results.md); CSVs: `scores.csv`, `comparisons.csv`, `per_task_numbers.csv`.\n",
        "## Every model, with its floor and yardstick\n",
        "Main score per category in % (mean over the category's tasks, then over seeds). `untrained` is the "
        "backbone before training with that variant's attention and pooling; `reference` a small "
        "purpose-built sentence encoder.\n",
        models_md + "\n",
        "## Cost of each run\n",
        "Real (non-padding) tokens, training wall time, real tokens per second of the training loop, peak "
        "memory (CPU: resident set of the training process; GPU: allocator peak), trainable parameters.\n",
        costs_md + "\n",
    ]
    layers = report_dir / "layers" / "layers.md"
    if layers.is_file():
        parts += ["## Layer analysis of the base model\n", _relink(layers.read_text(encoding="utf-8"), "layers/")]
    if "forest" in analysis.paths:
        parts.append("## Figures\n\n![Forest plot](forest.png)\n\n![Pairwise p-values](pvalues.png)\n")
    if analysis.notes:
        parts.append("## Data notes\n\n" + "\n".join(f"- {n}" for n in analysis.notes) + "\n")
    path = report_dir / "report.md"
    atomic_write_text(path, "\n".join(parts))
    with atomic_path(report_dir / "costs.csv") as temporary:
        costs.to_csv(temporary, index=False)
    with atomic_path(report_dir / "models.csv") as temporary:
        models.to_csv(temporary, float_format="%.4f")
    return StudyReport(path=path, main_table=main_md, models_table=models_md)


def _inline(options: dict) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in options.items())


def _relink(markdown: str, prefix: str) -> str:
    """Make the layer report's relative image links point into its folder."""
    return markdown.replace("](", f"]({prefix}").replace(f"]({prefix}http", "](http")
