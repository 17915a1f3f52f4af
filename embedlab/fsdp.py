"""FSDP wrapping for any decoder: one FSDP unit per transformer block.

Lightning's FSDPStrategy takes `auto_wrap_policy` as a set of classes or a callable; a set of
classes cannot be written in YAML, and a fixed set would tie the config to one architecture.
This callable wraps every module whose class name ends in `DecoderLayer` (Llama, Mistral, Qwen2,
Qwen3, Gemma, ... all follow that convention in transformers), so one config serves every backbone.
"""

from __future__ import annotations

from torch import nn


def wrap_decoder_layers(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: descend everywhere, wrap decoder blocks."""
    if recurse:
        return True
    return type(module).__name__.endswith("DecoderLayer")
