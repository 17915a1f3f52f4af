"""NV-Embed's latent attention head (Lee et al. 2024): token states query learned latents."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from embedlab.models.pooling.base import PoolingHead, PoolingInputs, masked_mean
from embedlab.models.pooling.blocks import CrossAttention, GEGLUFeedForward

HeadDim = int | Literal["full", "split"]


class LatentAttention(PoolingHead):
    """Each token's final state attends to r learned latents (the opposite direction of the paper's
    Perceiver pooler), then a feed-forward layer, then a masked mean over tokens.

    The defaults are NV-Embed's released configuration: nvidia/NV-Embed-v2 (and -v1) config.json
    gives `latent_attention_config` only its model type, so the defaults of `LatentAttentionConfig`
    in the repository's configuration_nvembed.py apply: `num_latents_value` 512, `num_cross_heads` 8,
    `hidden_dim` = `latent_dim` = `cross_dim_head` = 4096, the hidden size of Mistral-7B. Each head
    is as wide as the hidden size, so the inner width is 8 x d (32,768 at d = 4096; about 740 M
    parameters in this head).

    Args:
        hidden_size: the backbone's hidden size d.
        num_latents: number of learned latents r (NV-Embed: 512).
        num_heads: attention heads (NV-Embed: 8).
        head_dim: width of each head: `full` (d per head, NV-Embed's `cross_dim_head`), `split`
            (d // num_heads, inner width d: embedlab's default before it followed NV-Embed), or a number.
        ff_mult: feed-forward expansion.
    """

    def __init__(
        self,
        hidden_size: int,
        num_latents: int = 512,
        num_heads: int = 8,
        head_dim: HeadDim = "full",
        ff_mult: int = 4,
    ) -> None:
        super().__init__(hidden_size)
        if head_dim == "full":
            head_dim = hidden_size
        elif head_dim == "split":
            head_dim = max(1, hidden_size // num_heads)
        elif isinstance(head_dim, bool) or not isinstance(head_dim, int) or head_dim < 1:
            raise ValueError(f"LatentAttention head_dim must be 'full', 'split' or a positive int, not {head_dim!r}")
        self.latents = nn.Parameter(torch.randn(num_latents, hidden_size))  # [R, D]
        self.attention = CrossAttention(hidden_size, num_heads, head_dim)
        self.feed_forward = GEGLUFeedForward(hidden_size, ff_mult)

    def forward(self, inputs: PoolingInputs) -> Tensor:
        tokens = inputs.last  # [B, T, D]
        latents = self.latents.unsqueeze(0).expand(tokens.shape[0], -1, -1).to(tokens.dtype)  # [B, R, D]
        x = self.attention(tokens, latents) + tokens  # [B, T, D]
        x = self.feed_forward(x) + x  # [B, T, D]
        return masked_mean(x, inputs.pool_mask)  # [B, D]
