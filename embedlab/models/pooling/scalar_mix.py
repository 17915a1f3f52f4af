"""ScalarMix: a softmax-weighted sum of per-layer vectors (ELMo-style), the parameter-light
control that separates "uses all layers" from "adds a large pooler"."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from embedlab.models.pooling.base import LayerReduce, PoolingHead, PoolingInputs


class ScalarMix(PoolingHead):
    """gamma * sum_l softmax(w)_l * v_l over layers 1..L, where v_l is the layer's vector.

    Args:
        hidden_size: the backbone's hidden size.
        num_layers: the backbone's layer count L; bound automatically when left out.
        layer_reduce: auto (EOS under causal, mean under bidirectional), last_token or mean.
    """

    needs_all_layers = True

    def __init__(self, hidden_size: int, num_layers: int | None = None, layer_reduce: LayerReduce = "auto") -> None:
        super().__init__(hidden_size)
        self.layer_reduce = layer_reduce
        self.gamma = nn.Parameter(torch.ones(()))
        self.layer_logits: nn.Parameter | None = None
        if num_layers is not None:
            self.connect(num_layers)

    def connect(self, num_layers: int) -> None:
        if self.layer_logits is None:
            self.layer_logits = nn.Parameter(torch.zeros(num_layers))  # [L], uniform mix at init
        elif self.layer_logits.numel() != num_layers:
            raise ValueError(f"head built for {self.layer_logits.numel()} layers, backbone has {num_layers}")

    def forward(self, inputs: PoolingInputs) -> Tensor:
        if self.layer_logits is None:
            raise RuntimeError("ScalarMix needs connect(num_layers) before use")
        layers = inputs.layers(self.layer_reduce)  # [B, L, D]
        weights = torch.softmax(self.layer_logits.float(), dim=0).to(layers.dtype)  # [L]
        return self.gamma.to(layers.dtype) * torch.einsum("bld,l->bd", layers, weights)  # [B, D]
