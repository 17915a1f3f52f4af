"""Building blocks shared by the trainable heads: pre-norm multi-head cross-attention and a GEGLU
feed-forward, in the form of the Perceiver-resampler code the paper's poolers use."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class CrossAttention(nn.Module):
    """Queries attend to a context; both are layer-normed first; projections have no bias.

    Args:
        dim: width of queries, context and output.
        num_heads: attention heads.
        head_dim: width of each head (the inner width is num_heads * head_dim).
    """

    def __init__(self, dim: int, num_heads: int, head_dim: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        inner = num_heads * head_dim
        self.norm_queries = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, queries: Tensor, context: Tensor, context_mask: Tensor | None = None) -> Tensor:
        """Args: queries [B, M, D], context [B, N, D], context_mask [B, N] (True = attend). Returns [B, M, D]."""
        b, m, _ = queries.shape
        q = self.to_q(self.norm_queries(queries))  # [B, M, H*Dh]
        k, v = self.to_kv(self.norm_context(context)).chunk(2, dim=-1)  # [B, N, H*Dh] each
        q, k, v = (t.view(b, -1, self.num_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # [B, H, *, Dh]
        mask = None
        if context_mask is not None:
            keep = context_mask.bool()
            keep = keep | ~keep.any(dim=1, keepdim=True)  # [B, N]; a row with no key would give NaN
            mask = keep[:, None, None, :]  # [B, 1, 1, N]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [B, H, M, Dh]
        return self.to_out(out.transpose(1, 2).reshape(b, m, -1))  # [B, M, D]


class GEGLUFeedForward(nn.Module):
    """LayerNorm -> Linear(D, 2*mult*D) -> a * GELU(g) -> Linear(mult*D, D).

    Args:
        dim: input and output width.
        mult: expansion factor of the hidden width.
    """

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj_in = nn.Linear(dim, 2 * mult * dim)
        self.proj_out = nn.Linear(mult * dim, dim)

    def forward(self, x: Tensor) -> Tensor:  # [B, M, D] -> [B, M, D]
        a, gate = self.proj_in(self.norm(x)).chunk(2, dim=-1)  # [B, M, mult*D] each
        return self.proj_out(a * F.gelu(gate))


class PerceiverResampler(nn.Module):
    """m learned latents query a set of vectors; cross-attention and feed-forward with residuals;
    the mean over latents is the embedding (the released pooling_layers/*.py).

    Args:
        dim: width of the inputs and the latents.
        num_latents: number of learned latent queries (m).
        num_heads: cross-attention heads.
        head_dim: width of each head.
        ff_mult: feed-forward expansion.
    """

    def __init__(self, dim: int, num_latents: int, num_heads: int, head_dim: int, ff_mult: int = 4) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(num_latents, dim))  # [M, D], N(0, 1) as in the paper's code
        self.attention = CrossAttention(dim, num_heads, head_dim)
        self.feed_forward = GEGLUFeedForward(dim, ff_mult)

    def forward(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor:
        """Args: inputs [B, N, D], mask [B, N] or None. Returns [B, D]."""
        z = self.latents.unsqueeze(0).expand(inputs.shape[0], -1, -1).to(inputs.dtype)  # [B, M, D]
        z = self.attention(z, inputs, mask) + z  # [B, M, D]
        z = self.feed_forward(z) + z  # [B, M, D]
        return z.mean(dim=1)  # [B, D]
