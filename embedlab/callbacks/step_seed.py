"""StepSeed: every training batch draws its randomness (dropout, LoRA dropout) from a seed of its own.

A resumed fit restores weights, optimiser and data stream, but not the global random generators:
Lightning's checkpoints hold no RNG state, and restoring one would not be enough, since creating a
DataLoader iterator (at resume, and at every epoch of an uninterrupted run) draws from the global
generator too. The dropout masks of step k would then depend on where the run was last resumed, and
a resumed LoRA fit (dropout 0.05 in the configs) would end with other weights than an uninterrupted one.
Seeding torch's generators at the start of each batch from (seed, epoch, batch, rank) makes a batch's
masks a function of its position alone: the same in a straight run and in any resumed one, on any
number of interruptions. Checked with lightning 2.6.6 and torch 2.13.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch

_MODULUS = 2**63 - 1


class StepSeed(L.Callback):
    """Seeds torch (CPU and every CUDA device) at the start of every training batch from its position.

    Args:
        seed: the base seed; default `seed_everything`'s (`PL_GLOBAL_SEED`), else 0.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def batch_seed(self, epoch: int, batch_idx: int, rank: int) -> int:
        """The seed of one training batch on one rank (distinct per batch and per rank)."""
        base = self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))
        value = base
        for part in (epoch, batch_idx, rank):
            value = (value * 1_000_003 + part + 1) % _MODULUS
        return value

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        torch.manual_seed(self.batch_seed(trainer.current_epoch, batch_idx, trainer.global_rank))
