"""EmbeddingModule: encode, training steps, checkpoints that rebuild the exact variant."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch

from embedlab.data import JsonlPairs
from embedlab.losses import InfoNCE
from embedlab.models import Bidirectional, Causal, LoRA, MultiLayerTrainable, TrainableLastLayer
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

TEXTS = ["a short one", "a considerably longer text than the first", "mid length text", "x"]


def make(pooling=TrainableLastLayer, attention=None, **backbone_kwargs) -> EmbeddingModule:
    return EmbeddingModule(tiny_backbone(**backbone_kwargs), attention=attention or Bidirectional(), pooling=pooling)


def test_encode_is_normalised_ordered_and_batch_invariant():
    module = make()
    one = module.encode(TEXTS, batch_size=1)
    many = module.encode(TEXTS, batch_size=3)
    assert one.shape == (4, 32) and one.dtype == torch.float32
    assert torch.allclose(one.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert torch.allclose(one, many, atol=1e-5)
    alone = module.encode([TEXTS[2]])
    assert torch.allclose(alone[0], one[2], atol=1e-5)


@pytest.mark.parametrize("pooling", [TrainableLastLayer, MultiLayerTrainable])
def test_padding_side_does_not_change_embeddings(pooling):
    torch.manual_seed(0)
    right = make(pooling, padding_side="right")
    torch.manual_seed(0)
    left = make(pooling, padding_side="left")
    assert torch.allclose(right.encode(TEXTS, batch_size=4), left.encode(TEXTS, batch_size=4), atol=1e-5)


def test_instruction_changes_the_embedding_but_is_not_pooled():
    module = make(pooling=functools.partial(TrainableLastLayer, num_latents=4))
    plain = module.encode(TEXTS)
    instructed = module.encode(TEXTS, instruction="Instruct: find it\nQuery: ")
    assert not torch.allclose(plain, instructed)  # bidirectional: the text tokens see the instruction


def fit(module: EmbeddingModule, tmp_path, steps: int = 2) -> L.Trainer:
    trainer = L.Trainer(
        max_steps=steps,
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        accelerator="cpu",
    )
    trainer.fit(module, JsonlPairs(batch_size=4, num_negatives=1))
    return trainer


def test_training_changes_trainable_weights_only(tmp_path):
    module = make(lora=LoRA(r=2, alpha=4, dropout=0.0))
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    fit(module, tmp_path)
    for name, parameter in module.named_parameters():
        changed = not torch.equal(before[name], parameter)
        assert changed == parameter.requires_grad or "lora_B" in name and not changed, name


def test_python_built_module_reloads_from_checkpoint(tmp_path):
    module = EmbeddingModule(
        tiny_backbone(lora=LoRA(r=2, alpha=4, dropout=0.0)),
        attention=Causal(),
        pooling=functools.partial(MultiLayerTrainable, num_latents=3),
        loss=InfoNCE(temperature=0.1),
    )
    trainer = fit(module, tmp_path)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)  # plain data only
    frozen = [k for k in checkpoint["state_dict"] if k.startswith("backbone") and "lora_" not in k]
    assert frozen == []  # LoRA checkpoints keep only what trains
    loaded = EmbeddingModule.load_from_checkpoint(path, weights_only=True)
    assert isinstance(loaded.pooling, MultiLayerTrainable) and isinstance(loaded.attention, Causal)
    assert loaded.pooling.resampler.latents.shape[0] == 3
    assert loaded.loss.temperature == pytest.approx(0.1)
    assert torch.allclose(loaded.encode(TEXTS), module.encode(TEXTS), atol=1e-6)
    # Saved again from the reloaded module, the pooling head keeps its class and settings.
    assert loaded.hparams["pooling"]["class_path"].endswith("MultiLayerTrainable")
    assert loaded.hparams["pooling"]["init_args"]["num_latents"] == 3
    trainer.strategy.connect(loaded)
    trainer.save_checkpoint(tmp_path / "again.ckpt")
    again = EmbeddingModule.load_from_checkpoint(tmp_path / "again.ckpt", weights_only=True)
    assert again.pooling.resampler.latents.shape[0] == 3


def test_parameter_counts():
    module = make(lora=LoRA(r=2, alpha=4, dropout=0.0, target_modules=["q_proj"]))
    counts = module.parameter_counts
    assert counts["lora"] == counts["backbone_trainable"] == 2 * (2 * 32 + 32 * 2)
    assert counts["pooling"] == module.pooling.num_parameters > 0
    assert counts["loss"] == 0
