"""Elementwise islands of a decoder layer compiled with inductor: RMSNorm, rotary and SwiGLU's SiLU(gate) * up.

Eager PyTorch runs each of these ops as its own pass over memory (RMSNorm alone: a float32 copy, the
square, the mean, rsqrt, two products and a cast back, in forward and again in backward; rotary a
concatenation and four products for queries and keys). Compiling only these pure functions (dynamic
shapes, so new batch sizes and lengths do not recompile) fuses each into one loop, forward and backward,
and leaves everything else eager: the fused LoRA node, the grouped attention and the state dict are
untouched. Alternating both in one process on the offline mix's own SmolLM2-135M batches (2 CPU cores),
a LoRA step ran 1.15x faster. Only training forwards take them: encoding gained 1.02x, less than the
seconds each process spends compiling its graphs. Compiling whole decoder layers instead gained about as
much and cost 110 s more warm-up per process.

RMSNorm and the MLP are patched per instance. Rotary has no per-module hook: the attention forward calls
its module's `apply_rotary_pos_emb` global (transformers' only way to swap it is the `kernels` hub package).
`ElementwiseIslands.active()` therefore swaps that global for the compiled version of the same function
for the length of one forward, and puts it back.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# transformers' classes whose math is exactly `_rms_norm` / `_silu_mul` (Gemma's RMSNorm uses 1 + weight: not here)
RMS_NORMS = ("LlamaRMSNorm", "MistralRMSNorm", "Qwen2RMSNorm")
SWIGLU_MLPS = ("LlamaMLP", "MistralMLP", "Qwen2MLP")
ROTARY_ATTENTIONS = ("LlamaAttention", "MistralAttention", "Qwen2Attention")  # call `apply_rotary_pos_emb`
ROTARY = "apply_rotary_pos_emb"


def _rms_norm(hidden: Tensor, weight: Tensor, eps: float) -> Tensor:
    # [..., H] -> [..., H], op for op transformers' LlamaRMSNorm: statistics in float32, weight in the input dtype
    x = hidden.float()
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(hidden.dtype)


def _silu_mul(gate: Tensor, up: Tensor) -> Tensor:
    return F.silu(gate) * up  # [..., I]


compiled_rms_norm = torch.compile(_rms_norm, dynamic=True)  # compiled on first call, cached on disk by inductor
compiled_silu_mul = torch.compile(_silu_mul, dynamic=True)


@functools.cache
def can_compile() -> bool:
    """Whether inductor finds the C++ compiler it builds CPU kernels with (g++, clang++ or $CXX)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler  # inductor's own search, not a public API

        get_cpp_compiler()
    except Exception:  # no compiler, or a torch without that module: stay eager
        return False
    return True


def training_forward(module: nn.Module) -> bool:
    """Whether `module` runs a forward the islands take: training, with gradients."""
    return module.training and torch.is_grad_enabled()


def _norm_forward(self, hidden: Tensor) -> Tensor:
    norm = compiled_rms_norm if training_forward(self) else _rms_norm
    return norm(hidden, self.weight, self.variance_epsilon)


def _mlp_forward(self, x: Tensor) -> Tensor:
    act = compiled_silu_mul if training_forward(self) else _silu_mul
    return self.down_proj(act(self.gate_proj(x), self.up_proj(x)))


class ElementwiseIslands:
    """The compiled islands of one model: patched RMSNorm and MLP instances, and rotary while `active()`.

    Args:
        model: a transformers decoder (peft-wrapped or not); architectures other than Llama, Mistral and
            Qwen2 are left as they are (`changed` counts what was routed).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.changed = 0
        self._rotary: dict[str, object] = {}  # name of the modeling module -> transformers' function
        for module in model.modules():
            name = type(module).__name__
            if name in RMS_NORMS:
                module.forward = types.MethodType(_norm_forward, module)
                self.changed += 1
            elif name in SWIGLU_MLPS and getattr(getattr(module, "config", None), "hidden_act", None) == "silu":
                module.forward = types.MethodType(_mlp_forward, module)
                self.changed += 1
            elif name in ROTARY_ATTENTIONS and hasattr(sys.modules[type(module).__module__], ROTARY):
                home = type(module).__module__
                self._rotary.setdefault(home, getattr(sys.modules[home], ROTARY))
                self.changed += 1

    @contextmanager
    def active(self) -> Iterator[None]:
        """Rotary through its compiled version while the block runs a training forward (the autograd graph
        keeps it for backward); an eval or no-grad forward keeps transformers' own, like the norms and MLPs."""
        with ExitStack() as stack:
            for home, original in self._rotary.items() if training_forward(self.model) else ():
                stack.enter_context(_swapped(sys.modules[home], ROTARY, _compiled_rotary(original)))
            yield


@functools.cache  # one compiled version of transformers' function per process
def _compiled_rotary(original):
    return torch.compile(original, dynamic=True)


@contextmanager
def _swapped(namespace, name: str, value) -> Iterator[None]:
    original = getattr(namespace, name)
    setattr(namespace, name, value)
    try:
        yield
    finally:
        setattr(namespace, name, original)
