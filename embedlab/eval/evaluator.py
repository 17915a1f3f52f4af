"""Run an encoder on a list of mteb tasks: main scores, per-category means, and optionally a run directory.

One task at a time, through `mteb.evaluate` (no mteb result cache: a run directory is the record).
With a run directory, each task writes `results/<Task>.json` and `predictions/<Task>.jsonl` as soon
as it finishes, and the per-example lines are checked to reproduce the main score. A time budget
stops before a task that would start after it (the callback uses it); skipped tasks are reported.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.capture import capturing
from embedlab.eval.classifiers import use_classifier
from embedlab.eval.predictions import build
from embedlab.eval.reproduce import main_score_from
from embedlab.eval.run_dir import RunDirectory
from embedlab.eval.suites import resolve_tasks
from embedlab.task_categories import CATEGORY_BY_TYPE

log = logging.getLogger(__name__)
REPRODUCTION_TOLERANCE = 1e-5  # mteb rounds retrieval metrics to 5 decimals


@dataclass
class TaskScore:
    """One task's outcome: main score, timing, and whether its per-example lines reproduce the score."""

    task: str
    task_type: str
    category: str
    metric: str
    score: float
    seconds: float
    reproduced: float | None = None


@dataclass
class EvaluationReport:
    """Scores of an evaluation, in task order, and the tasks skipped for lack of time."""

    scores: list[TaskScore] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def by_category(self) -> dict[str, float]:
        """Mean main score per category (the paper's headline numbers)."""
        groups: dict[str, list[float]] = {}
        for s in self.scores:
            groups.setdefault(s.category, []).append(s.score)
        return {category: float(np.mean(values)) for category, values in groups.items()}

    def metrics(self, prefix: str = "mteb") -> dict[str, float]:
        """Flat metrics for a logger: `<prefix>/<Task>`, `<prefix>/category/<Category>`, `<prefix>/average`."""
        out = {f"{prefix}/{s.task}": s.score for s in self.scores}
        out.update({f"{prefix}/category/{c}": v for c, v in self.by_category().items()})
        if self.scores:
            out[f"{prefix}/average"] = float(np.mean([s.score for s in self.scores]))
        return out

    def table(self) -> str:
        """A plain-text table of the scores, for the terminal."""
        lines = [f"{'task':38s} {'type':15s} {'metric':17s} {'score':>8s} {'time':>7s}"]
        lines += [
            f"{s.task:38s} {s.task_type:15s} {s.metric:17s} {s.score:8.4f} {s.seconds:6.1f}s" for s in self.scores
        ]
        lines += [f"{'mean ' + c:38s} {'':15s} {'':17s} {v:8.4f}" for c, v in self.by_category().items()]
        lines.append(f"total {self.seconds:.1f}s" + (f"; skipped: {', '.join(self.skipped)}" if self.skipped else ""))
        return "\n".join(lines)


class MTEBEvaluator:
    """Evaluate encoders on a fixed list of tasks.

    Args:
        tasks: a suite name, task names, task files or mteb tasks (see `suites.resolve_tasks`).
        batch_size: texts per forward pass.
        keep_data: keep each task's data loaded between runs (the callback evaluates repeatedly).
        classifier: what classification tasks fit on the embeddings: `logistic` (mteb's) or
            `standardised-logistic` (see `embedlab.eval.classifiers`).
    """

    def __init__(
        self, tasks: Any = "offline-v1", batch_size: int = 32, keep_data: bool = False, classifier: str = "logistic"
    ) -> None:
        self.tasks = resolve_tasks(tasks)
        use_classifier(self.tasks, classifier)
        self.batch_size = batch_size
        self.keep_data = keep_data

    @property
    def task_names(self) -> list[str]:
        return [task.metadata.name for task in self.tasks]

    def run(
        self, adapter: MTEBAdapter, run_dir: RunDirectory | None = None, time_budget_s: float | None = None
    ) -> EvaluationReport:
        """Evaluate `adapter` on every task (in order), writing results and predictions into `run_dir`."""
        import mteb

        report, start = EvaluationReport(), time.perf_counter()
        if run_dir is not None:
            run_dir.start()
        for task in self.tasks:
            name = task.metadata.name
            if time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
                report.skipped.append(name)
                continue
            began = time.perf_counter()
            task.load_data()
            with tempfile.TemporaryDirectory() as folder, capturing(task) as capture:
                result = mteb.evaluate(
                    adapter,
                    task,
                    cache=None,
                    overwrite_strategy="always",
                    prediction_folder=Path(folder) if run_dir is not None else None,
                    encode_kwargs={"batch_size": self.batch_size, "show_progress_bar": adapter.show_progress},
                    show_progress_bar=False,
                    co2_tracker=False,
                ).task_results[0]
                saved_path = Path(folder) / task.prediction_file_name
                saved = json.loads(saved_path.read_text(encoding="utf-8")) if saved_path.is_file() else None
            score = TaskScore(
                name,
                task.metadata.type,
                CATEGORY_BY_TYPE.get(task.metadata.type, task.metadata.type),
                task.metadata.main_score,
                _main_score(result, task.eval_splits[0]),
                time.perf_counter() - began,
            )
            if run_dir is not None:
                score.reproduced = self._write(run_dir, task, result, saved, capture)
            if not self.keep_data:
                task.unload_data()
            report.scores.append(score)
        report.seconds = time.perf_counter() - start
        return report

    def _write(self, run_dir: RunDirectory, task, result, saved, capture) -> float | None:
        split = task.eval_splits[0]
        subsets = [s["hf_subset"] for s in result.scores.get(split, [])] or list(task.hf_subsets)
        predictions = build(task, saved, capture, split, subsets)
        reproduced = main_score_from(predictions.header, predictions.records)
        reported = _main_score(result, split)
        if reproduced is not None:
            ok = abs(reproduced - reported) <= REPRODUCTION_TOLERANCE
            predictions.header["reproduces_main_score"] = ok
            if not ok:
                log.warning(
                    "%s: per-example outputs give %.6f, mteb reported %.6f", task.metadata.name, reproduced, reported
                )
        run_dir.write_result(result)
        run_dir.write_predictions(predictions)
        return reproduced


def _main_score(result, split: str) -> float:
    """The main score of one split, averaged over its hf_subsets (what the run directory's analysis reads)."""
    return float(np.mean([entry["main_score"] for entry in result.scores[split]]))
