"""Write a run directory exactly as docs/run-directory.md specifies (the contract analysis reads).

`embedlab test` may evaluate into a directory `embedlab fit` already wrote: training provenance
found in an existing run.json (variant, seed, training mix, steps) is kept, evaluation fields are
updated, DONE is removed when evaluation starts and written last when it finishes.

Every file is written atomically (`embedlab.io`): a job killed mid-write leaves the previous
version of a file, or none, never a truncated one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from embedlab import __version__
from embedlab.errors import EmbedlabError
from embedlab.io import atomic_path, atomic_write_json, atomic_write_lines, atomic_write_text

if TYPE_CHECKING:  # mteb is slow to import; a fit writing run.json does not need it
    from embedlab.eval.predictions import TaskPredictions

REQUIRED = ("variant", "attention", "pooling", "backbone", "seed", "train_mix", "max_steps", "suite")
TRAINING_FIELDS = (
    "variant",
    "attention",
    "pooling",
    "backbone",
    "seed",
    "train_mix",
    "train_mix_fingerprint",
    "max_steps",
)


class RunDirectory:
    """One run's directory.

    Args:
        path: the directory (created if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def results(self) -> Path:
        return self.path / "results"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions"

    def start(self) -> None:
        """Mark the run incomplete until `finish()`, and clear the outputs of an earlier evaluation.

        A run directory holds one evaluation: results of tasks from an earlier suite would otherwise
        mix with the new ones.
        """
        (self.path / "DONE").unlink(missing_ok=True)
        self.results.mkdir(parents=True, exist_ok=True)
        self.predictions.mkdir(parents=True, exist_ok=True)
        for stale in [*self.results.glob("*.json"), *self.predictions.glob("*.jsonl")]:
            stale.unlink()

    def write_run_json(self, info: dict[str, Any]) -> dict[str, Any]:
        """Write run.json: `info` plus the version, training fields of an existing run.json kept."""
        path = self.path / "run.json"
        existing = _read_json(path)
        merged = {**info, "embedlab_version": __version__}
        merged.update({k: existing[k] for k in TRAINING_FIELDS if existing.get(k) is not None})
        merged = {**existing, **merged}
        missing = [k for k in REQUIRED if k not in merged]
        if missing:
            raise ValueError(f"{path}: run.json would lack required field(s) {', '.join(missing)}")
        _write_json(path, merged)
        return merged

    def write_config(self, config: dict[str, Any] | str) -> None:
        """Write config.yaml (the resolved config of the evaluated model), unless fit already did."""
        path = self.path / "config.yaml"
        if path.exists():
            path = self.path / "eval_config.yaml"
        plain = config if isinstance(config, str) else json.loads(json.dumps(config, default=str))
        text = plain if isinstance(plain, str) else yaml.safe_dump(plain, sort_keys=False)
        atomic_write_text(path, text)

    def write_result(self, task_result) -> Path:
        """results/<Task>.json: the mteb TaskResult, as mteb writes it (to a temporary name, then renamed)."""
        path = self.results / f"{task_result.task_name}.json"
        with atomic_path(path) as temporary:
            task_result.to_disk(temporary)
        return path

    def write_predictions(self, predictions: TaskPredictions) -> Path:
        """predictions/<Task>.jsonl: the header line, then one line per example."""
        path = self.predictions / f"{predictions.header['task_name']}.jsonl"
        lines = (json.dumps(line, ensure_ascii=False) for line in (predictions.header, *predictions.records))
        atomic_write_lines(path, lines)
        return path

    def write_cost(self, evaluation: dict[str, Any]) -> None:
        """cost.json: the evaluation's costs under `evaluation`, next to whatever fit recorded."""
        path = self.path / "cost.json"
        cost = _read_json(path)
        cost["evaluation"] = evaluation
        _write_json(path, cost)

    def record_training(self, provenance: dict[str, Any], cost: dict[str, Any]) -> None:
        """What a fit writes: run.json's training fields (no `suite` yet) and cost.json's `training` block.

        A later evaluation keeps these fields (see `write_run_json`) and adds its own.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        run_path, cost_path = self.path / "run.json", self.path / "cost.json"
        existing = _read_json(run_path)
        _write_json(run_path, {**existing, **provenance, "embedlab_version": __version__})
        costs = _read_json(cost_path)
        costs["training"] = cost
        _write_json(cost_path, costs)

    def finish(self) -> None:
        """Write the DONE marker, last."""
        atomic_write_text(self.path / "DONE", "")


def _read_json(path: Path) -> dict[str, Any]:
    """An existing run.json / cost.json ({} when absent); a damaged one is an error naming it, not overwritten."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise EmbedlabError(
            f"{path}: not valid JSON ({error}); it is kept as it is: repair or delete it, then run again"
        ) from None
    if not isinstance(data, dict):
        raise EmbedlabError(f"{path}: expected a JSON object, got {type(data).__name__}; repair or delete it")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_json(path, data, default=str)
