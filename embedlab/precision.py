"""The inference precision: one name (auto, bf16, fp16, fp32) resolved for a device, and its autocast context.

Every inference path (`EmbeddingModule.encode`, `Embedder.encode`, the MTEB adapter, the layer encoder)
decides its autocast dtype here, so a requested precision is the one that runs. Kept free of heavy
imports: training code uses it without importing mteb.
"""

from __future__ import annotations

import torch

from embedlab.errors import EmbedlabError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def resolve_precision(precision: str, device: torch.device) -> str:
    """`auto` -> bf16 where the device computes it natively (CUDA with bf16, CPUs with AVX512-BF16/AMX), else fp32.

    Lightning's precision strings (`bf16-mixed`, `16-mixed`, `32-true`, ...) are accepted too.
    """
    precision = str(precision)
    if precision.startswith("bf16"):
        return "bf16"
    if precision in ("16", "16-mixed", "16-true", "fp16"):
        return "fp16"
    if precision in ("32", "32-true", "64", "64-true", "fp32"):
        return "fp32"
    if precision != "auto":
        raise EmbedlabError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def autocast(precision: str, device: torch.device):
    """The autocast context for a resolved precision; fp32 disables autocast, even inside an outer bf16 one."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def matmul_dtype(tensor: torch.Tensor) -> torch.dtype:
    """The dtype a matrix product of `tensor` runs in: autocast's where autocast is on, else its own
    (kernels that turn autocast off inside, or build masks for a GEMM, need it)."""
    device = tensor.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else tensor.dtype
