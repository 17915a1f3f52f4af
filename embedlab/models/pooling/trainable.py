"""The paper's trainable poolers (Tang & Yang 2024): a Perceiver resampler over the last layer's
token states, or over one vector per layer plus a learned per-layer embedding.

Sizes: `preset: paper` is the released code's 768 latents x 32 heads x 2048 head dim (1.28 B
parameters at d = 4096); the default `scaled` preset (32 latents, 8 heads of hidden_size / 8)
suits small backbones. Explicit sizes override either.

Inputs: by default both attention policies feed the same thing, the masked token states, so a
comparison of policies changes one factor only. `paper_faithful: true` reproduces the released
code instead: under causal attention the last-layer pooler sees only the EOS state (one key, so
its attention is trivially uniform), under bidirectional attention it sees every position,
padding included, unmasked; the multi-layer pooler averages over every real token.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from embedlab.models.pooling.base import LayerReduce, PoolingHead, PoolingInputs, last_token
from embedlab.models.pooling.blocks import PerceiverResampler

Preset = Literal["scaled", "paper"]
PRESETS = {"paper": (768, 32, None), "scaled": (32, 8, None)}  # latents, heads, head_dim (None: derived)


def _sizes(hidden_size: int, preset: Preset, num_latents, num_heads, head_dim) -> tuple[int, int, int]:
    if preset not in PRESETS:
        raise ValueError(f"preset {preset!r} is not one of {', '.join(PRESETS)}")
    latents, heads, _ = PRESETS[preset]
    latents = num_latents or latents
    heads = num_heads or heads
    head_dim = head_dim or (2048 if preset == "paper" else max(1, hidden_size // heads))
    return latents, heads, head_dim


class TrainableLastLayer(PoolingHead):
    """Perceiver-resampler pooling over the final layer's token states (the paper's Models 2 and 4).

    Args:
        hidden_size: the backbone's hidden size.
        preset: `scaled` (small models) or `paper` (768 latents, 32 heads x 2048).
        num_latents: learned latent queries; overrides the preset.
        num_heads: cross-attention heads; overrides the preset.
        head_dim: width of each head; overrides the preset.
        paper_faithful: reproduce the released code's inputs (EOS only under causal attention,
            unmasked padding under bidirectional attention).
    """

    def __init__(
        self,
        hidden_size: int,
        preset: Preset = "scaled",
        num_latents: int | None = None,
        num_heads: int | None = None,
        head_dim: int | None = None,
        paper_faithful: bool = False,
    ) -> None:
        super().__init__(hidden_size)
        self.paper_faithful = paper_faithful
        self.resampler = PerceiverResampler(hidden_size, *_sizes(hidden_size, preset, num_latents, num_heads, head_dim))

    def forward(self, inputs: PoolingInputs) -> Tensor:
        if not self.paper_faithful:
            return self.resampler(inputs.last, inputs.pool_mask)  # [B, D]
        if inputs.is_causal:
            eos = last_token(inputs.last, inputs.attention_mask).unsqueeze(1)  # [B, 1, D]
            return self.resampler(eos)  # [B, D]
        return self.resampler(inputs.last)  # [B, D], pad positions are keys, as released


class MultiLayerTrainable(PoolingHead):
    """Perceiver-resampler pooling over one vector per layer 1..L, each plus a learned layer embedding
    (the paper's Models 3 and 5). The vector of a layer is its EOS state under causal attention and
    its masked token mean under bidirectional attention (`layer_reduce: auto`).

    Args:
        hidden_size: the backbone's hidden size.
        num_layers: the backbone's layer count L; bound automatically when left out.
        preset: `scaled` (small models) or `paper` (768 latents, 32 heads x 2048).
        num_latents: learned latent queries; overrides the preset.
        num_heads: cross-attention heads; overrides the preset.
        head_dim: width of each head; overrides the preset.
        layer_reduce: auto, last_token or mean: how a layer's token states become its vector.
        paper_faithful: average over every real token (instruction included), as released.
    """

    needs_all_layers = True

    def __init__(
        self,
        hidden_size: int,
        num_layers: int | None = None,
        preset: Preset = "scaled",
        num_latents: int | None = None,
        num_heads: int | None = None,
        head_dim: int | None = None,
        layer_reduce: LayerReduce = "auto",
        paper_faithful: bool = False,
    ) -> None:
        super().__init__(hidden_size)
        self.layer_reduce = layer_reduce
        self.paper_faithful = paper_faithful
        self.resampler = PerceiverResampler(hidden_size, *_sizes(hidden_size, preset, num_latents, num_heads, head_dim))
        self.layer_embedding: nn.Embedding | None = None
        if num_layers is not None:
            self.connect(num_layers)

    def connect(self, num_layers: int) -> None:
        if self.layer_embedding is None:
            self.layer_embedding = nn.Embedding(num_layers, self.hidden_size)  # N(0, 1) init, as released
        elif self.layer_embedding.num_embeddings != num_layers:
            raise ValueError(f"head built for {self.layer_embedding.num_embeddings} layers, backbone has {num_layers}")

    def forward(self, inputs: PoolingInputs) -> Tensor:
        if self.layer_embedding is None:
            raise RuntimeError("MultiLayerTrainable needs connect(num_layers) before use")
        layers = inputs.layers(self.layer_reduce, use_attention_mask=self.paper_faithful)  # [B, L, D]
        layers = layers + self.layer_embedding.weight.to(layers.dtype)  # [B, L, D], additive as released
        return self.resampler(layers)  # [B, D]
