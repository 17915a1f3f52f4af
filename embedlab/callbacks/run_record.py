"""RunRecord: what a fit writes into its run directory, so analysis knows what was trained and what it cost.

At the end of `embedlab fit` the run directory (`trainer.default_root_dir` unless given) holds:

- `run.json`: the training provenance (variant, attention, pooling, backbone, seed, training mix and
  its fingerprint, steps, checkpoint), the fields `embedlab test` keeps when it evaluates there;
- `cost.json` under `training`: real (non-padding) tokens seen, padded tokens, examples, wall and
  training-loop time, real tokens per second, peak memory, and trainable parameters (LoRA, pooling
  head and loss separately), the figures the paper's reviewers asked every run to report.

Counters live in the callback's checkpoint state, so a resumed fit reports the whole run.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import lightning as L
import torch

from embedlab.callbacks.peak_memory import PeakMemory
from embedlab.eval.run_dir import RunDirectory
from embedlab.hparams import fingerprint

COUNTERS = ("real_tokens", "padded_tokens", "examples", "steps", "train_time_s", "wall_time_s")


class RunRecord(L.Callback):
    """Writes run.json (training provenance) and the `training` block of cost.json when a fit ends.

    Args:
        run_dir: the run directory; default `trainer.default_root_dir`.
        variant: the variant's name (the CLI fills in the stem of `configs/variants/<name>.yaml`);
            default `<Pooling>+<Attention>`.
        train_mix: the training mix's name (the CLI fills in the stem of `configs/data/<name>.yaml`);
            default the DataModule's class name.
    """

    def __init__(self, run_dir: str | None = None, variant: str | None = None, train_mix: str | None = None) -> None:
        self.run_dir = run_dir
        self.variant = variant
        self.train_mix = train_mix
        self.totals = dict.fromkeys(COUNTERS, 0.0)
        self._memory: PeakMemory | None = None
        self._fit_started = self._batch_started = 0.0
        self._tokens: torch.Tensor | None = None  # [real, all, examples] on the device: one sync at the end

    # ------------------------------------------------------------------ measuring

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._memory = PeakMemory(pl_module.device).__enter__()
        self._fit_started = time.perf_counter()
        self._tokens = torch.zeros(3, dtype=torch.float64, device=pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch: Any, batch_idx: int) -> None:
        self._batch_started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch: Any, batch_idx: int) -> None:
        self.totals["train_time_s"] += time.perf_counter() - self._batch_started
        if self._tokens is None:
            return
        counts = torch.zeros(3, dtype=torch.float64, device=self._tokens.device)  # [real, all, examples]
        for side in ("query", "documents"):
            features = batch.get(side) if isinstance(batch, dict) else None
            if isinstance(features, dict) and "attention_mask" in features:
                mask = features["attention_mask"]  # [N, T]
                counts[0] += mask.sum()
                counts[1] += mask.numel()
                counts[2] += mask.shape[0] if side == "query" else 0
        # Summed over ranks at every step (3 numbers, no host sync), so every rank holds the global counts
        # and a checkpoint written by any of them carries the whole run's.
        self._tokens += trainer.strategy.reduce(counts, reduce_op="sum")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._memory is not None:
            self._memory.__exit__(None, None, None)
        self.totals = self._current(trainer)
        self._tokens = None  # folded in: a re-entered fit must not add them again
        if trainer.is_global_zero:
            directory = RunDirectory(self.run_dir or trainer.default_root_dir)
            directory.record_training(self.provenance(trainer, pl_module), self.cost(trainer, pl_module))

    def _current(self, trainer: L.Trainer | None = None) -> dict[str, float]:
        """The run's totals so far: earlier fits (restored from the checkpoint) plus this one."""
        totals = dict(self.totals)
        if self._tokens is not None:
            real, padded, examples = (float(x) for x in self._tokens.tolist())
            totals["real_tokens"] += real
            totals["padded_tokens"] += padded
            totals["examples"] += examples
            totals["wall_time_s"] += time.perf_counter() - self._fit_started
        if trainer is not None:
            totals["steps"] = float(trainer.global_step)
        return totals

    # ------------------------------------------------------------------ what is written

    def provenance(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        datamodule = getattr(trainer, "datamodule", None)
        data_hparams = dict(datamodule.hparams) if datamodule is not None else None
        seed = os.environ.get("PL_GLOBAL_SEED")
        checkpoint = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
        return {
            "variant": self.variant or pl_module.variant_name,
            "attention": type(pl_module.attention).__name__,
            "pooling": type(pl_module.pooling).__name__,
            "backbone": pl_module.backbone.name_or_path,
            "seed": int(seed) if seed is not None else 0,
            "train_mix": self.train_mix or (type(datamodule).__name__ if datamodule is not None else "unknown"),
            "train_mix_fingerprint": fingerprint(data_hparams),
            "max_steps": int(trainer.global_step),
            "checkpoint": checkpoint or None,
        }

    def cost(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        totals = self.totals
        counts = pl_module.parameter_counts if hasattr(pl_module, "parameter_counts") else {}
        padding = 1 - totals["real_tokens"] / totals["padded_tokens"] if totals["padded_tokens"] else 0.0
        seconds = totals["train_time_s"]
        return {
            "tokens_seen": int(totals["real_tokens"]),
            "tokens_padded": int(totals["padded_tokens"]),
            "padding_fraction": round(padding, 4),
            "examples": int(totals["examples"]),
            "steps": int(totals["steps"]),
            "wall_time_s": round(totals["wall_time_s"], 2),
            "train_time_s": round(totals["train_time_s"], 2),
            "tokens_per_s": round(totals["real_tokens"] / seconds, 1) if seconds else None,
            "peak_memory_bytes": self._memory.peak_bytes if self._memory else None,
            "peak_memory_kind": self._memory.kind if self._memory else None,
            "trainable_parameters": {
                "lora": counts.get("lora", 0),
                "pooling": counts.get("pooling", 0),
                "loss": counts.get("loss", 0),
                "backbone_trainable": counts.get("backbone_trainable", 0),
                "backbone_total": counts.get("backbone_total", 0),
            },
            "precision": str(trainer.precision),
            "device": str(pl_module.device),
            "world_size": trainer.world_size,
            "threads": torch.get_num_threads(),
            "machine": platform.processor() or platform.machine(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict[str, Any]:
        return {"totals": self._current()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.totals.update(state_dict.get("totals", {}))
