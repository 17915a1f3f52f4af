"""Guarded training: a non-finite loss or gradient stops the run, names the step and the batch's
sources, takes no optimiser step, and leaves earlier checkpoints alone."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from embedlab.data import JsonlPairs
from embedlab.errors import NonFiniteError
from embedlab.models import Causal, Mean
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone


class PoisonAt(L.Callback):
    """Turns the loss (or the gradients) into NaN at one step."""

    def __init__(self, step: int, where: str) -> None:
        self.step, self.where = step, where

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and self.where == "loss":
            with torch.no_grad():
                module.backbone.base_model.norm.weight.fill_(float("nan"))

    def on_after_backward(self, trainer, module) -> None:
        if trainer.global_step == self.step and self.where == "grad":
            next(p for p in module.parameters() if p.grad is not None).grad.fill_(float("inf"))


@pytest.mark.parametrize("where,message", [("loss", "The loss is nan at step 2"), ("grad", "Non-finite gradients")])
def test_non_finite_stops_with_step_and_sources(tmp_path, where, message):
    module = EmbeddingModule(tiny_backbone(), attention=Causal(), pooling=Mean)
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    trainer = L.Trainer(
        max_steps=5,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[checkpoints, PoisonAt(2, where)],
        default_root_dir=tmp_path,
    )
    with pytest.raises(NonFiniteError, match=message) as error:
        trainer.fit(module, JsonlPairs(batch_size=4, num_negatives=1))
    assert "source(s) pairs" in str(error.value)
    saved = sorted(p.name for p in tmp_path.glob("*.ckpt"))
    assert saved == ["epoch=0-step=1.ckpt", "epoch=0-step=2.ckpt"]  # nothing written for the bad step
    if where == "grad":  # the weights are those of the last good checkpoint: no step was taken
        last = torch.load(tmp_path / "epoch=0-step=2.ckpt", weights_only=True)["state_dict"]
        for name, tensor in module.state_dict().items():
            assert torch.equal(tensor, last[name]), name
