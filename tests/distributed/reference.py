"""The model and batch shared by the DDP worker and the single-process reference."""

from __future__ import annotations

import functools

import torch

from embedlab.data import Example, PairCollator
from embedlab.losses import InfoNCE
from embedlab.models import Backbone, Bidirectional, MultiLayerTrainable
from embedlab.module import EmbeddingModule

EXAMPLES = [
    Example(f"query number {i} about topic {i % 3}", f"the answer to query {i}", [f"an unrelated text {i}"])
    for i in range(8)
]


def build_module() -> EmbeddingModule:
    torch.manual_seed(0)  # the pooling head's init; the backbone is seeded by its own `seed`
    backbone = Backbone(
        config={
            "model_type": "llama",
            "vocab_size": 259,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
        },
        tokenizer="byte-level",
        max_length=48,
    )
    return EmbeddingModule(
        backbone,
        attention=Bidirectional(),
        pooling=functools.partial(MultiLayerTrainable, num_latents=4),
        loss=InfoNCE(symmetric=True, query_query=True),
        warmup_steps=0,
    )


def collator_for(module: EmbeddingModule) -> PairCollator:
    return PairCollator(module.backbone.tokenizer, num_negatives=1)
