"""Run by tests/distributed/test_ddp.py: one training step of the tiny model under Lightning's DDP
strategy on 2 CPU processes (gloo), saving each rank's loss and the synchronised gradients.

Usage: python ddp_worker.py OUT_DIR
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.distributed.reference import EXAMPLES, build_module, collator_for  # noqa: E402


class FixedPairs(L.LightningDataModule):
    def __init__(self, collator) -> None:
        super().__init__()
        self.collator = collator

    def train_dataloader(self) -> DataLoader:
        # Lightning swaps in a DistributedSampler: rank r gets examples r, r+2, r+4, r+6.
        return DataLoader(EXAMPLES, batch_size=len(EXAMPLES) // 2, shuffle=False, collate_fn=self.collator)


class Capture(L.Callback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        torch.save(outputs["loss"].detach(), self.out / f"loss_rank{trainer.global_rank}.pt")

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        # DDP has averaged the gradients over ranks by now.
        if trainer.global_rank == 0:
            grads = {n: p.grad.detach().clone() for n, p in module.named_parameters() if p.grad is not None}
            torch.save(grads, self.out / "grads.pt")


def main(out: Path) -> None:
    warnings.simplefilter("ignore")
    module = build_module()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Capture(out)],
    )
    trainer.fit(module, FixedPairs(collator_for(module)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
