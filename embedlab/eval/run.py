"""Evaluate one model into a complete run directory: run.json, config, results, predictions, cost, DONE.

Three kinds of model go through the same path, so every report has its floor and its yardstick:
a trained checkpoint, an untrained backbone with a given attention and pooling (`max_steps: 0`,
`train_mix: none`), and a reference encoder (all-MiniLM-L6-v2, `variant: reference-...`).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import torch

from embedlab.errors import EmbedlabError
from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.evaluator import EvaluationReport, MTEBEvaluator
from embedlab.eval.run_dir import RunDirectory
from embedlab.eval.suites import SUITES, benchmark_names
from embedlab.hparams import fingerprint


def module_info(
    module,
    *,
    seed: int | None = None,
    max_steps: int = 0,
    train_mix: str | None = None,
    train_mix_config: Any = None,
    variant: str | None = None,
    checkpoint: str | None = None,
) -> dict[str, Any]:
    """run.json fields for an EmbeddingModule (untrained when `checkpoint` is None).

    With LoRA adapters, `lora_merged` says whether they were folded into the weights for encoding
    (`Backbone.merge_lora`): the same model, rounded differently under bf16.
    """
    info = {
        "variant": variant or (module.variant_name if checkpoint else f"untrained-{module.variant_name}"),
        "attention": type(module.attention).__name__,
        "pooling": type(module.pooling).__name__,
        "backbone": module.backbone.name_or_path,
        "seed": 0 if seed is None else int(seed),
        "train_mix": train_mix or ("none" if checkpoint is None else "unknown"),
        "train_mix_fingerprint": fingerprint(train_mix_config),
        "max_steps": int(max_steps),
        "checkpoint": checkpoint,
    }
    if getattr(module.backbone, "lora", None) is not None:
        info["lora_merged"] = module.backbone.lora_merged_at_inference
    return info


def reference_info(name: str) -> dict[str, Any]:
    """run.json fields for a reference encoder (mean pooling over a bidirectional encoder)."""
    short = Path(name).name
    return {
        "variant": f"reference-{short}",
        "attention": "Bidirectional",
        "pooling": "Mean",
        "backbone": short,
        "seed": 0,
        "train_mix": "none",
        "train_mix_fingerprint": None,
        "max_steps": 0,
        "checkpoint": None,
    }


def suite_name(spec: Any, task_names: list[str]) -> str:
    """The suite label for run.json: the suite or benchmark name, else the task names joined by '+'."""
    if isinstance(spec, str) and (spec in SUITES or spec in benchmark_names()):
        return spec
    return "+".join(sorted(task_names))


def check_overwrite(run_dir: str | Path, overwrite: bool, flag: str = "--overwrite") -> None:
    """Refuse to evaluate into a run directory that already holds results, unless `overwrite`.

    Results are task results in `results/` or the DONE marker. What `embedlab fit` writes (run.json,
    the training block of cost.json, checkpoints, config.yaml) is not: `embedlab test` evaluates there.

    Raises:
        EmbedlabError: naming the directory, what it holds, and `flag`.
    """
    path = Path(run_dir)
    results = sorted(p.name for p in (path / "results").glob("*.json")) if (path / "results").is_dir() else []
    done = (path / "DONE").exists()
    if overwrite or not (results or done):
        return
    held = [
        f"{len(results)} task result(s) in results/ ({', '.join(results[:3])}{', ...' if len(results) > 3 else ''})"
    ]
    held = (held if results else []) + (["DONE (a finished evaluation)"] if done else [])
    raise EmbedlabError(
        f"{path} already holds {' and '.join(held)}; evaluating there would replace them. "
        f"Pass {flag} to replace them, or choose another run directory."
    )


def evaluate_run(
    adapter: MTEBAdapter,
    suite: Any,
    run_dir: str | Path,
    info: dict[str, Any],
    config: dict[str, Any] | str | None = None,
    batch_size: int = 32,
    overwrite: bool = False,
    overwrite_flag: str = "--overwrite",
    classifier: str = "logistic",
) -> EvaluationReport:
    """Evaluate `adapter` on `suite` and write the whole run directory (DONE last).

    Args:
        adapter: the model, wrapped.
        suite: a suite name or task specs (see `suites.resolve_tasks`).
        run_dir: where to write.
        info: run.json fields (`module_info` or `reference_info`).
        config: the evaluated model's config, saved as config.yaml.
        batch_size: texts per forward pass.
        overwrite: replace the results of an earlier evaluation in `run_dir`; without it they are refused
            (see `check_overwrite`).
        overwrite_flag: the option that sets `overwrite`, named in the error.
        classifier: what classification tasks fit (`embedlab.eval.classifiers`); recorded in run.json when
            it is not mteb's `logistic`.
    """
    check_overwrite(run_dir, overwrite, overwrite_flag)
    evaluator = MTEBEvaluator(suite, batch_size, classifier=classifier)
    directory = RunDirectory(run_dir)
    directory.start()
    label = suite_name(suite, evaluator.task_names)
    directory.write_run_json(
        {
            **info,
            "suite": label,
            "tasks": evaluator.task_names,
            "instructions": adapter.instructions.source if adapter.instructions else "none",
            "instruction_template": adapter.instructions.template if adapter.instructions else None,
            "precision": adapter.precision,
            "device": str(adapter.encoder.device),
            **({"classifier": classifier} if classifier != "logistic" else {}),
        }
    )
    if config is not None:
        directory.write_config(config)
    report = evaluator.run(adapter, directory)
    directory.write_cost(
        {
            "wall_time_s": round(report.seconds, 2),
            "encode_time_s": round(adapter.stats["encode_seconds"], 2),
            "texts": adapter.stats["texts"],
            "texts_encoded": adapter.stats["encoded"],
            "batches": adapter.stats["batches"],
            "per_task_s": {s.task: round(s.seconds, 2) for s in report.scores},
            "device": str(adapter.encoder.device),
            "threads": torch.get_num_threads(),
            "machine": platform.processor() or platform.machine(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
    )
    directory.finish()
    return report
