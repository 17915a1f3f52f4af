"""The pooling-head contract, and the masked reductions every head is built from.

A head turns the backbone's token states into one vector per text. It takes `hidden_size` as its
first argument (the module binds it at build time, so YAML names only the head and its options),
declares whether it needs the states of every layer (only then are they requested from the
backbone), and reads real tokens from masks, never from pad ids. Rows with no poolable token give
a zero vector, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

LayerReduce = Literal["auto", "last_token", "mean"]


@dataclass
class PoolingInputs:
    """What the backbone hands a pooling head.

    Attributes:
        hidden_states: the final layer's states alone, or (embeddings, layer 1, ..., layer L) when the
            head needs all layers; each [B, T, D]. Layer L is the final-norm output.
        attention_mask: [B, T], 1 for real tokens.
        pool_mask: [B, T], True for tokens that may be pooled: real, not a special prefix token (BOS), and
            not an instruction token when the tokenizer masks instructions.
        is_causal: whether the backbone ran with causal attention.
    """

    hidden_states: tuple[Tensor, ...]
    attention_mask: Tensor
    pool_mask: Tensor
    is_causal: bool

    @property
    def last(self) -> Tensor:
        return self.hidden_states[-1]  # [B, T, D]

    def layers(self, reduce: LayerReduce = "auto", use_attention_mask: bool = False) -> Tensor:
        """One vector per transformer layer 1..L: [B, L, D].

        Args:
            reduce: `last_token` (the EOS), `mean` (masked mean), or `auto`: last token under causal
                attention, where only it has seen the whole text, mean under bidirectional attention.
            use_attention_mask: average over every real token (BOS and instruction included), as the paper's
                code does.
        """
        if len(self.hidden_states) < 2:
            raise ValueError("this head needs all layers: set `needs_all_layers = True` on it")
        if reduce == "auto":
            reduce = "last_token" if self.is_causal else "mean"
        mask = self.attention_mask.bool() if use_attention_mask else self.pool_mask
        per_layer = [
            last_token(h, self.attention_mask) if reduce == "last_token" else masked_mean(h, mask)
            for h in self.hidden_states[1:]
        ]
        return torch.stack(per_layer, dim=1)  # [B, L, D]


class PoolingHead(nn.Module):
    """Base class of every pooling head. Subclasses take `hidden_size` as their first argument."""

    needs_all_layers: ClassVar[bool] = False

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size

    def connect(self, num_layers: int) -> None:
        """Bind run-time facts of the backbone (its layer count) before training; default: nothing."""

    @property
    def output_size(self) -> int:
        return self.hidden_size

    @property
    def num_parameters(self) -> int:
        """Trainable parameters this head adds to the model."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, inputs: PoolingInputs) -> Tensor:  # [B, D]
        raise NotImplementedError


def last_token(states: Tensor, attention_mask: Tensor) -> Tensor:
    """The state at each row's last real position, whatever the padding side: [B, T, D] -> [B, D]."""
    positions = torch.arange(states.shape[1], device=states.device)  # [T]
    index = (positions * attention_mask.bool()).argmax(dim=1)  # [B], last position whose mask is 1
    picked = states[torch.arange(states.shape[0], device=states.device), index]  # [B, D]
    return picked * attention_mask.bool().any(dim=1, keepdim=True)  # [B, D], zero for all-padding rows


def first_token(states: Tensor, mask: Tensor) -> Tensor:
    """The state at each row's first masked-in position: [B, T, D] -> [B, D]."""
    mask = mask.bool()
    index = mask.int().argmax(dim=1)  # [B], first True
    picked = states[torch.arange(states.shape[0], device=states.device), index]  # [B, D]
    return picked * mask.any(dim=1, keepdim=True)  # [B, D]


def masked_mean(states: Tensor, mask: Tensor, weights: Tensor | None = None) -> Tensor:
    """(Weighted) mean over masked-in positions, accumulated in float32: [B, T, D] -> [B, D]."""
    w = mask.to(torch.float32) if weights is None else weights.to(torch.float32) * mask  # [B, T]
    total = torch.einsum("btd,bt->bd", states.to(torch.float32), w)  # [B, D]
    return (total / w.sum(dim=1, keepdim=True).clamp(min=1e-9)).to(states.dtype)  # [B, D]
