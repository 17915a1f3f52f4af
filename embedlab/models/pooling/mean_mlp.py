"""MeanMLP: mean pooling plus a residual MLP as large as the paper's trainable pooler, the control that
separates "adds millions of trainable parameters" from "the Perceiver's attention over tokens or layers"."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from embedlab.models.pooling.base import PoolingHead, PoolingInputs, masked_mean


class MeanMLP(PoolingHead):
    """v + W2 gelu(W1 norm(v)), v the masked mean of the final states; W2 starts at zero, so the untrained
    head is mean pooling and its floor is mean pooling's.

    Args:
        hidden_size: the backbone's hidden size.
        width: the MLP's hidden width; by default the width whose parameter count matches
            `TrainableLastLayer(hidden_size)` (the scaled Perceiver of the paper's Models 2 and 4).
    """

    def __init__(self, hidden_size: int, width: int | None = None) -> None:
        super().__init__(hidden_size)
        self.width = width or matched_width(hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.up = nn.Linear(hidden_size, self.width)
        self.down = nn.Linear(self.width, hidden_size)
        nn.init.zeros_(self.down.weight)
        nn.init.zeros_(self.down.bias)

    def forward(self, inputs: PoolingInputs) -> Tensor:
        mean = masked_mean(inputs.last, inputs.pool_mask)  # [B, D]
        return mean + self.down(torch.nn.functional.gelu(self.up(self.norm(mean))))  # [B, D]


def matched_width(hidden_size: int) -> int:
    """The MLP width giving about as many parameters as the scaled `TrainableLastLayer` for this hidden size."""
    from embedlab.models.pooling.trainable import TrainableLastLayer

    target = TrainableLastLayer(hidden_size).num_parameters
    # norm 2D + up (D + 1) * W + down (W * D + D) = W * (2D + 1) + 3D
    return max(1, round((target - 3 * hidden_size) / (2 * hidden_size + 1)))
