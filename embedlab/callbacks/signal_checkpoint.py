"""SignalCheckpoint: on SIGTERM or SIGINT, finish the current step, save `last.ckpt`, and exit 143 / 130.

Lightning 2.6 already does most of it (checked with lightning 2.6.6): its signal connector turns SIGTERM
into `trainer.received_sigterm`, and the training loop raises `SIGTERMException` at the next step
boundary, after the step's `on_train_batch_end` (so after `ModelCheckpoint`'s periodic save), which
reaches every callback's `on_exception`. This callback adds three things:

- SIGINT (Ctrl+C) takes the same path. Lightning's own SIGINT handling is Python's KeyboardInterrupt,
  which lands anywhere in a step (between the optimiser step and the step counter, between the data
  stream's counter and the batch), so a checkpoint written then would not be a step boundary.
  A second SIGINT raises KeyboardInterrupt at once (no checkpoint) for whoever really wants out.
- The save: the model, optimiser, schedulers, loop counters and every callback's and DataModule's
  state (TrainingMix's stream position) go into `last.ckpt` in the `ModelCheckpoint`'s folder, where
  `--ckpt_path last` finds it. Lightning's `OnExceptionCheckpoint` is not used: it saves on any
  exception, e.g. mid-step on a non-finite loss, and being one makes every later `fit` resume
  silently (`ckpt_path=None` turns into "last").
- The exit status: `SIGTERMException` is a `SystemExit` with status 0, so a scheduler or the study
  runner would take an interrupted fit for a finished one. The status becomes 128 + the signal's
  number (143 for SIGTERM, 130 for SIGINT), what a shell reports for a process a signal ended: the
  run is incomplete, and a rerun with `--ckpt_path last` resumes it exactly.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException


class SignalCheckpoint(L.Callback):
    """Saves a checkpoint at the step boundary after SIGTERM or SIGINT, then stops the fit with status 143 / 130.

    Args:
        dirpath: where to write; default the `ModelCheckpoint`'s folder (`<default_root_dir>/checkpoints`
            under `embedlab fit`), else `<default_root_dir>/checkpoints`.
        filename: the checkpoint's name without `.ckpt`; default `last`, so `--ckpt_path last` resumes from it.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "last") -> None:
        self.dirpath = dirpath
        self.filename = filename
        self.signal: signal.Signals | None = None  # SIGINT when routed here; SIGTERM otherwise
        self.saved_path: str | None = None
        self._trainer: L.Trainer | None = None
        self._previous_sigint: Any = None

    # ------------------------------------------------------------------ SIGINT -> Lightning's SIGTERM path

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Here, not in `setup`: the trainer records every handler after `setup` and puts them back at its
        # teardown, which would otherwise reinstate this one after the fit.
        if threading.current_thread() is not threading.main_thread():
            return
        self._trainer, self.signal, self.saved_path = trainer, None, None
        self._previous_sigint = signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame) -> None:
        if self.signal is not None:  # the second Ctrl+C: stop now, mid-step, without a checkpoint
            raise KeyboardInterrupt
        self.signal = signal.SIGINT
        print("embedlab: SIGINT: stopping after this step with a checkpoint (Ctrl+C again: now)", file=sys.stderr)
        handler = signal.getsignal(signal.SIGTERM)  # Lightning's, registered by the trainer for this fit
        if callable(handler):
            handler(signal.SIGTERM, frame)
        else:  # no trainer handler (not the main thread): behave as Python does by default
            raise KeyboardInterrupt

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_sigint()

    def _restore_sigint(self) -> None:
        if self._previous_sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_sigint)
        self._previous_sigint = None

    # ------------------------------------------------------------------ the save

    def checkpoint_path(self, trainer: L.Trainer) -> str:
        """Where the checkpoint goes (see `dirpath`)."""
        folder = self.dirpath
        if folder is None:
            folders = [c.dirpath for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.dirpath]
            folder = folders[0] if folders else os.path.join(trainer.default_root_dir, "checkpoints")
        return str(Path(folder) / f"{self.filename}.ckpt")

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_sigint()
        if not isinstance(exception, SIGTERMException):
            return  # a mid-step failure: the last periodic checkpoint stays the last good one
        received = self.signal or signal.SIGTERM
        path = self.checkpoint_path(trainer)
        trainer.save_checkpoint(path)  # every rank calls it; rank 0 writes
        self.saved_path = path
        exception.code = 128 + int(received)
        if trainer.is_global_zero:
            print(
                f"embedlab: {received.name} received: stopped after step {trainer.global_step}, checkpoint {path}; "
                f"the run is incomplete (exit status {exception.code}): rerun the same command with "
                "--ckpt_path last to resume it exactly",
                file=sys.stderr,
                flush=True,
            )
