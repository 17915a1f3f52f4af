"""Test callbacks that the `embedlab fit` processes of the reliability tests load by class_path:
a log of the examples every training batch carried, and a hold at a chosen point of a chosen step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning as L


class StepLog(L.Callback):
    """Appends one JSON line per training batch: the step and the keys of its queries and documents.

    Args:
        path: the log file.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        line = {
            "step": trainer.global_step,
            "queries": batch["query_keys"].tolist(),
            "documents": batch["document_keys"].tolist(),
        }
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


class HoldAt(L.Callback):
    """At `step` (optimiser steps done) in `hook`, writes `marker` and waits to be killed or signalled.

    Args:
        step: the value of `trainer.global_step` to hold at.
        hook: `batch_start` (a step boundary: the step's checkpoint is written), `after_backward`
            (mid-step: gradients computed, no optimiser step yet) or `batch_end` (the optimiser stepped,
            its checkpoint not yet written: checkpoint callbacks run after the others).
        marker: the file written when holding.
        timeout_s: give up waiting (the test failed to signal).
    """

    def __init__(self, step: int, hook: str, marker: str, timeout_s: float = 300.0) -> None:
        self.step, self.hook, self.marker, self.timeout_s = step, hook, marker, timeout_s

    def _hold(self, trainer, hook: str) -> None:
        if hook != self.hook or trainer.global_step != self.step:
            return
        Path(self.marker).write_text(str(trainer.global_step), encoding="utf-8")
        deadline = time.monotonic() + self.timeout_s
        while not trainer.received_sigterm:  # SIGKILL ends it here; SIGTERM / SIGINT go on to the step's end
            if time.monotonic() > deadline:
                raise RuntimeError(f"HoldAt: not signalled within {self.timeout_s} s")
            time.sleep(0.02)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._hold(trainer, "batch_start")

    def on_after_backward(self, trainer, pl_module) -> None:
        self._hold(trainer, "after_backward")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._hold(trainer, "batch_end")
