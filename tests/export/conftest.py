"""Fixtures for the export tests: tiny trained-looking modules saved as real Lightning checkpoints."""

from __future__ import annotations

import functools
from pathlib import Path

import lightning as L
import pytest
import torch

from embedlab.models import (
    Bidirectional,
    Causal,
    FirstToken,
    LastToken,
    LatentAttention,
    LoRA,
    Mean,
    MultiLayerTrainable,
    ScalarMix,
    TrainableLastLayer,
    WeightedMean,
)
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

# Every head, small where it has sizes (the tiny backbone has 32 dims, 2 layers).
HEADS = {
    "LastToken": LastToken,
    "Mean": Mean,
    "WeightedMean": WeightedMean,
    "FirstToken": FirstToken,
    "LatentAttention": functools.partial(LatentAttention, num_latents=4, num_heads=2),
    "TrainableLastLayer": functools.partial(TrainableLastLayer, num_latents=4),
    "MultiLayerTrainable": functools.partial(MultiLayerTrainable, num_latents=3),
    "ScalarMix": ScalarMix,
}
ATTENTION = {"Causal": Causal, "Bidirectional": Bidirectional}
INSTRUCTION = "Instruct: find the passage\nQuery: "
TEXTS = [
    "a short one",
    "a considerably longer text than the first, long enough to be cut at the forty-eight token limit",
    "mid length text",
    "x",
    "Ünïcödé bytes 🚀",
]


def perturb(module: EmbeddingModule, seed: int = 0) -> EmbeddingModule:
    """Make the weights look trained: LoRA B matrices (zero at init) and every head weight random."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if "lora_" in name or name.startswith("pooling."):
                noise = torch.randn(parameter.shape, generator=generator) * 0.2
                parameter.copy_((parameter if "lora_A" in name else 0) + noise)
    return module


def make_module(
    head: str = "Mean", attention: str = "Bidirectional", lora: bool = True, **backbone_kwargs
) -> EmbeddingModule:
    """A tiny EmbeddingModule with the given head and policy, weights perturbed so export has work to do."""
    adapters = LoRA(r=2, alpha=4, dropout=0.0) if lora else None
    backbone = tiny_backbone(lora=adapters, **backbone_kwargs)
    module = EmbeddingModule(backbone, attention=ATTENTION[attention](), pooling=HEADS[head])
    if not lora:
        with torch.no_grad():  # a full fine-tune moves the base weights too
            for parameter in module.backbone.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.01)
    return perturb(module).eval()


def save_checkpoint(module: EmbeddingModule, path: Path) -> Path:
    """Write `module` as Lightning writes it during fit (its on_save_checkpoint drops frozen LoRA bases)."""
    trainer = L.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.strategy.connect(module)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A LoRA checkpoint of Mean + Bidirectional."""
    return save_checkpoint(make_module(), tmp_path / "model.ckpt")
