"""Evaluation with MTEB: encoder adapter, offline suite, tasks from files, validation callback, run directories.

Public API (imported lazily: mteb takes seconds to import):

- `MTEBAdapter(model_or_encoder, instructions="default", ...)`: an mteb 2.x `AbsEncoder`.
- `load_reference("all-minilm-l6-v2")`: the reference encoder, for the same adapter.
- `MTEBEvaluator(tasks).run(adapter, run_dir=None)` -> `EvaluationReport`; `evaluate_run(...)` writes a
  complete run directory (docs/run-directory.md).
- `resolve_tasks(spec)`: suites (`offline-v1`, `paper`, `mteb-eng`), task names, task files.
- `load_task_file(path)`: a task from a YAML spec and CSV/JSONL data.
- `MTEBCallback(tasks, every_n_steps, time_budget_s)`: scores during validation, to the logger.
- `Instructions`: the per-task instruction table (`instructions.yaml`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MTEBAdapter": "embedlab.eval.adapter",
    "load_reference": "embedlab.eval.encoders",
    "ModuleEncoder": "embedlab.eval.encoders",
    "SentenceTransformerEncoder": "embedlab.eval.encoders",
    "MTEBEvaluator": "embedlab.eval.evaluator",
    "EvaluationReport": "embedlab.eval.evaluator",
    "evaluate_run": "embedlab.eval.run",
    "module_info": "embedlab.eval.run",
    "reference_info": "embedlab.eval.run",
    "resolve_tasks": "embedlab.eval.suites",
    "SUITES": "embedlab.eval.suites",
    "PAPER_TASKS": "embedlab.eval.suites",
    "load_task_file": "embedlab.eval.file_task",
    "MTEBCallback": "embedlab.eval.callback",
    "Instructions": "embedlab.eval.instructions",
    "EvaluationOptions": "embedlab.eval.options",
    "OFFLINE_TASKS": "embedlab.eval.offline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'embedlab.eval' has no attribute {name!r}")
