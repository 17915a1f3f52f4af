"""Eager attention for CPU training, registered in transformers' own attention and mask interfaces.

transformers' eager attention copies every key and value head once per query head (`repeat_kv`), scales
the [B, H, T, S] scores in a separate pass, adds a float32 mask (which turns the scores into float32),
and rounds the softmax back to bf16: four passes over the largest tensor of the layer, forward and
backward. This version groups the query heads that share a key/value head into the rows of one matrix
product (no copies), adds the mask (in the scores' dtype, built once per forward and shared by every
layer) inside the GEMM (`baddbmm`, which also applies the scale), and runs the softmax in the scores'
dtype, which on CPU accumulates in float32. Masks come from transformers' eager mask builder, so the
attention policy (`config.is_causal`) holds exactly as with `eager`. Used by `Backbone` to train without
a GPU (see `CPU_TRAINING_ATTENTION`); any model whose attention modules call the interface can use it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from embedlab.precision import matmul_dtype

NAME = "embedlab_grouped_eager"


def grouped_eager_attention(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[Tensor, Tensor]:
    """Attention as transformers' `eager_attention_forward` computes it, in fewer passes.

    Args:
        module: the attention layer (its `training` flag gates dropout).
        query: [B, H, T, D].
        key: [B, Hkv, S, D], with H a multiple of Hkv.
        value: [B, Hkv, S, D].
        attention_mask: [B, 1, T, S] additive float mask, or None for full attention.
        scaling: the factor applied to the scores (1 / sqrt(D) for most models).
        dropout: attention dropout probability, applied in training only.

    Returns:
        the output [B, T, H, D] and the attention weights [B, H, T, S].
    """
    batch, heads, length, dim = query.shape
    kv_heads, kv_length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    q = query.reshape(batch * kv_heads, groups * length, dim)  # the query heads of one kv head stacked as rows
    k = key.reshape(batch * kv_heads, kv_length, dim)
    v = value.reshape(batch * kv_heads, kv_length, dim)
    if attention_mask is None:
        scores = torch.bmm(q, k.transpose(1, 2)) * scaling  # [B * Hkv, g * T, S]
    else:
        # in the GEMM's dtype, not q's: rotary leaves queries in float32 under bf16 autocast
        bias = _grouped_mask(attention_mask, kv_heads, groups, matmul_dtype(q))  # [B * Hkv, g * T, S]
        scores = torch.baddbmm(bias, q, k.transpose(1, 2), alpha=scaling)
    weights = torch.softmax(scores, dim=-1)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    out = torch.bmm(weights, v)  # [B * Hkv, g * T, D]
    out = out.view(batch, heads, length, dim).transpose(1, 2)  # [B, T, H, D]
    return out, weights.view(batch, heads, length, kv_length)


_last_mask: tuple[Tensor, tuple, Tensor] | None = None


def _grouped_mask(mask: Tensor, kv_heads: int, groups: int, dtype: torch.dtype) -> Tensor:
    """[B, 1, T, S] -> [B * Hkv, g * T, S] in `dtype`, kept for the next layer, which gets the same mask."""
    global _last_mask
    key = (kv_heads, groups, dtype, mask._version)
    if _last_mask is not None and _last_mask[0] is mask and _last_mask[1] == key:
        return _last_mask[2]
    batch, _, length, kv_length = mask.shape
    # float32's minimum overflows to -inf in bf16, and a row of padding with -inf everywhere gives NaN
    grouped = mask.clamp(min=torch.finfo(dtype).min).to(dtype).expand(batch, kv_heads * groups, length, kv_length)
    grouped = grouped.reshape(batch * kv_heads, groups * length, kv_length)
    _last_mask = (mask, key, grouped)
    return grouped


def register() -> None:
    """Make `attn_implementation="embedlab_grouped_eager"` known to transformers (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask

    if NAME not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionInterface.register(NAME, grouped_eager_attention)
        AttentionMaskInterface.register(NAME, eager_mask)
