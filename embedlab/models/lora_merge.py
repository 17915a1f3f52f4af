"""Inference with the LoRA updates folded into the frozen weights: one matmul per projection instead of three.

peft's unmerged forward computes `W x + B (A x) * scale` for every projection. At inference on CPU the two
rank-r products are skinny GEMMs that oneDNN runs far below its peak, plus an elementwise scale and add
over the full output; folding `W + scale * B A` once and running the base layer alone encoded SmolLM2-135M
(LoRA r=8 on all 7 projections) markedly faster (benchmarks/cpu_ceiling.py, `encode`).

The merged weights are new tensors, kept in a cache keyed by every adapter and base weight's identity and
in-place version counter: an optimiser step or a loaded checkpoint invalidates it, and the originals are
never modified (peft's `merge_adapter` / `unmerge_adapter` would round the frozen weights on every
validation). The cache costs one copy of the adapted weights; a training forward drops it.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch
from torch import nn


def _lora_layers(model: nn.Module) -> list[nn.Module]:
    from peft.tuners.lora import Linear as LoraLinear

    return [m for m in model.modules() if isinstance(m, LoraLinear)]


class MergedLoRA:
    """Folds a peft model's active LoRA adapter into its base weights for no-grad forwards.

    Args:
        model: a peft model with one active LoRA adapter.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.layers = _lora_layers(model)  # found once: every forward would walk the whole module tree again
        self._key: tuple | None = None
        self._weights: list[torch.Tensor] = []

    def applies(self) -> bool:
        """Whether a merge is possible here: plain (not sharded) weights, one active adapter, no DoRA."""
        if not self.layers:
            return False
        for layer in self.layers:
            weight = layer.get_base_layer().weight
            adapters = layer.active_adapters
            if len(adapters) != 1 or layer.use_dora.get(adapters[0], False) or layer.merged:
                return False
            if type(weight.data) is not torch.Tensor or weight.device.type == "meta":  # DTensor, FSDP flat params
                return False
        return True

    def drop(self) -> None:
        """Forget the merged weights (frees their memory)."""
        self._key, self._weights = None, []

    @contextmanager
    def active(self):
        """Within: every LoRA projection runs its base layer alone, on the merged weight."""
        merged = self._merged()
        saved = [layer.get_base_layer().weight for layer in self.layers]
        try:
            for layer, weight in zip(self.layers, merged, strict=True):
                layer.get_base_layer().weight = nn.Parameter(weight, requires_grad=False)
            with self.model.disable_adapter() if hasattr(self.model, "disable_adapter") else nullcontext():
                yield
        finally:
            for layer, weight in zip(self.layers, saved, strict=True):
                layer.get_base_layer().weight = weight

    def _merged(self) -> list[torch.Tensor]:
        key = tuple(
            (id(p), p._version)
            for layer in self.layers
            for p in (layer.get_base_layer().weight, *_adapter_weights(layer))
        )
        if key != self._key:
            with torch.no_grad():
                self._weights = [_merge(layer) for layer in self.layers]
            self._key = key
        return self._weights


def _adapter_weights(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    name = layer.active_adapters[0]
    return layer.lora_A[name].weight, layer.lora_B[name].weight


def _merge(layer: nn.Module) -> torch.Tensor:
    weight = layer.get_base_layer().weight  # [out, in]
    delta = layer.get_delta_weight(layer.active_adapters[0])  # [out, in], scale and fan-in-fan-out applied
    return (weight.float() + delta.float()).to(weight.dtype)
