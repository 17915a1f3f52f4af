"""MTEBCallback: score a few MTEB tasks during validation and log them, within a time budget.

At the end of a validation epoch (every `every_n_steps` training steps at most, and on
`trainer.validate`), the callback wraps the LightningModule in the MTEB adapter, runs the configured
tasks in order until the time budget is spent, and logs `<prefix>/<Task>` (main score),
`<prefix>/category/<Category>` (mean over the tasks run) and `<prefix>/average` through
`LightningModule.log`, so ModelCheckpoint can monitor them. Rank 0 evaluates and broadcasts the
scores; every rank logs the same values. It runs where validation runs: the DataModule needs a
validation set (e.g. `JsonlPairs(val_file=...)`), else Lightning skips validation and its hooks.

    trainer:
      callbacks:
        - class_path: embedlab.eval.MTEBCallback
          init_args: {tasks: [LeeDocSTS, BBCTopicClassification], every_n_steps: 500, time_budget_s: 120}
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L

log = logging.getLogger(__name__)


class MTEBCallback(L.Callback):
    """Evaluate on MTEB tasks during validation.

    Args:
        tasks: task names, task files or a suite (see `embedlab.eval.suites`); keep it small.
        every_n_steps: evaluate when at least this many training steps passed since the last evaluation
            (0: at every validation).
        time_budget_s: stop starting new tasks after this many seconds (None: no limit); tasks left out
            are logged as `<prefix>/skipped`.
        batch_size: texts per forward pass.
        instructions: `default`, `none` or a YAML file (see `embedlab.eval.instructions`).
        instruction_template: `e5`, `paper` or a string holding `{instruction}`; default: the training
            mix's `instruction_template` (the instructions are written as in training), else the file's.
        precision: auto, bf16, fp16 or fp32; auto follows the trainer's bf16 / 16 precision.
        max_length: token limit per text.
        prefix: metric name prefix.
        on_sanity_check: also evaluate during the sanity check before training.
    """

    def __init__(
        self,
        tasks: str | list[str] = "offline-v1",
        every_n_steps: int = 0,
        time_budget_s: float | None = None,
        batch_size: int = 32,
        instructions: str = "default",
        instruction_template: str | None = None,
        precision: str = "auto",
        max_length: int | None = 512,
        prefix: str = "val/mteb",
        on_sanity_check: bool = False,
    ) -> None:
        super().__init__()
        self.tasks = tasks
        self.every_n_steps = every_n_steps
        self.time_budget_s = time_budget_s
        self.batch_size = batch_size
        self.instructions = instructions
        self.instruction_template = instruction_template
        self.precision = precision
        self.max_length = max_length
        self.prefix = prefix
        self.on_sanity_check = on_sanity_check
        self.last_step: int | None = None
        self.last_report = None
        self._evaluator = None

    @property
    def evaluator(self):
        if self._evaluator is None:
            from embedlab.eval.evaluator import MTEBEvaluator

            self._evaluator = MTEBEvaluator(self.tasks, self.batch_size, keep_data=True)
        return self._evaluator

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.is_global_zero:
            _ = self.evaluator  # resolve task names now: a typo fails before training, not at the first validation

    def _due(self, trainer: L.Trainer) -> bool:
        if trainer.sanity_checking and not self.on_sanity_check:
            return False
        if self.last_step is None or self.every_n_steps <= 0:
            return True
        return trainer.global_step - self.last_step >= self.every_n_steps

    def _precision(self, trainer: L.Trainer) -> str:
        trainer_precision = str(trainer.precision)
        if self.precision == "auto" and trainer_precision.startswith(("bf16", "16")):
            return trainer_precision
        return self.precision

    def _template(self, trainer: L.Trainer) -> str | None:
        """The template given, else the one the training mix writes its instructions with."""
        from embedlab.instruction_template import trained_template

        datamodule = getattr(trainer, "datamodule", None)
        return self.instruction_template or trained_template(dict(getattr(datamodule, "hparams", None) or {}))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._due(trainer):
            return
        self.last_step = trainer.global_step
        metrics: dict[str, Any] = {}
        if trainer.is_global_zero:
            from embedlab.eval.adapter import MTEBAdapter

            adapter = MTEBAdapter(
                pl_module,
                instructions=self.instructions,
                instruction_template=self._template(trainer),
                batch_size=self.batch_size,
                precision=self._precision(trainer),
                max_length=self.max_length,
            )
            report = self.evaluator.run(adapter, time_budget_s=self.time_budget_s)
            if report.skipped:
                log.warning("MTEBCallback: time budget spent, skipped %s", ", ".join(report.skipped))
            metrics = {k: v for k, v in report.metrics(self.prefix).items() if math.isfinite(v)}
            metrics[f"{self.prefix}/skipped"] = float(len(report.skipped))
            metrics[f"{self.prefix}/seconds"] = report.seconds
            self.last_report = report
        metrics = trainer.strategy.broadcast(metrics, src=0)
        pl_module.log_dict(metrics, on_step=False, on_epoch=True, sync_dist=False)
