"""NV-Embed's latent attention head (Lee et al. 2024): token states query learned latents."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from embedlab.models.pooling.base import PoolingHead, PoolingInputs, masked_mean
from embedlab.models.pooling.blocks import CrossAttention, GEGLUFeedForward


class LatentAttention(PoolingHead):
    """Each token's final state attends to r learned latents (the opposite direction of the paper's
    Perceiver pooler), then a feed-forward layer, then a masked mean over tokens.

    Args:
        hidden_size: the backbone's hidden size.
        num_latents: number of learned latents r (NV-Embed: 512).
        num_heads: attention heads (NV-Embed: 8).
        head_dim: width of each head; default hidden_size // num_heads.
        ff_mult: feed-forward expansion.
    """

    def __init__(
        self,
        hidden_size: int,
        num_latents: int = 512,
        num_heads: int = 8,
        head_dim: int | None = None,
        ff_mult: int = 4,
    ) -> None:
        super().__init__(hidden_size)
        self.latents = nn.Parameter(torch.randn(num_latents, hidden_size))  # [R, D]
        self.attention = CrossAttention(hidden_size, num_heads, head_dim or hidden_size // num_heads)
        self.feed_forward = GEGLUFeedForward(hidden_size, ff_mult)

    def forward(self, inputs: PoolingInputs) -> Tensor:
        tokens = inputs.last  # [B, T, D]
        latents = self.latents.unsqueeze(0).expand(tokens.shape[0], -1, -1).to(tokens.dtype)  # [B, R, D]
        x = self.attention(tokens, latents) + tokens  # [B, T, D]
        x = self.feed_forward(x) + x  # [B, T, D]
        return masked_mean(x, inputs.pool_mask)  # [B, D]
