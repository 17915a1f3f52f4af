"""LoRA projections in one autograd node: `W x + s B (A x)` with the scale folded and the add fused.

peft's `lora.Linear` computes the base output, casts the input to the adapter's dtype (fp32 under bf16
autocast, which autocast then casts back), runs the two rank-r products, multiplies the full output by the
scale and adds it: five full-width elementwise passes per projection, forward and backward. On CPU those
passes cost as much as a fifth of a SmolLM2-135M LoRA step (the PyTorch profiler: `copy_`, `mul`, `add` at
[tokens, 1536]). `FusedLoRALinear` is the same peft layer (same parameters, state-dict keys, merge and
save), registered through peft's own custom-module hook, whose forward, where it applies, runs one
`torch.autograd.Function` that folds the scale into B (a [out, r] tensor), accumulates `(A x) B^T` into the
base product in place (`addmm_`) and writes its backward by hand with the same fusions. Anywhere else
(dropout, DoRA, several adapters, a trainable base weight, merged or disabled adapters) it is peft's forward.
"""

from __future__ import annotations

from typing import Any

import torch
from peft.tuners.lora import Linear as LoraLinear
from torch import Tensor, nn

from embedlab.precision import matmul_dtype


class FusedLoRALinear(LoraLinear):
    """peft's LoRA `Linear` whose plain single-adapter forward runs as one fused autograd node."""

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        adapter = self._fusable_adapter(args, kwargs)
        if adapter is None:
            return super().forward(x, *args, **kwargs)
        base = self.get_base_layer()
        return FusedLoRAFunction.apply(
            x, base.weight, base.bias, self.lora_A[adapter].weight, self.lora_B[adapter].weight, self.scaling[adapter]
        )

    def _fusable_adapter(self, args: tuple, kwargs: dict) -> str | None:
        """The one active plain adapter when the fused path computes exactly what peft would, else None."""
        if args or kwargs or self.disable_adapters or self.merged or self.fan_in_fan_out:
            return None
        adapters = [a for a in self.active_adapters if a in self.lora_A]
        if len(adapters) != 1 or adapters[0] in self.lora_variant:
            return None
        adapter = adapters[0]
        if not isinstance(self.lora_dropout[adapter], nn.Identity):
            return None
        base = self.get_base_layer()
        if type(base) is not nn.Linear or base.weight.requires_grad:
            return None
        if base.bias is not None and base.bias.requires_grad:
            return None
        if type(base.weight.data) is not torch.Tensor:  # DTensor shards: leave them to peft
            return None
        return adapter


class FusedLoRAFunction(torch.autograd.Function):
    """y = x W^T + b + s (x A^T) B^T, with W and b frozen, in the autocast dtype where autocast is on."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, lora_a: Tensor, lora_b: Tensor, scaling: float):
        dtype = matmul_dtype(x)
        with torch.autocast(x.device.type, enabled=False):
            x2 = x.reshape(-1, x.shape[-1]).to(dtype)  # [M, K]
            w = weight.to(dtype)  # [N, K]
            a = lora_a.to(dtype)  # [r, K]
            b = (lora_b * scaling).to(dtype)  # [N, r], the scale folded into the small factor
            xa = x2 @ a.t()  # [M, r]
            out = torch.addmm(bias.to(dtype), x2, w.t()) if bias is not None else x2 @ w.t()  # [M, N]
            out.addmm_(xa, b.t())
        ctx.save_for_backward(x2, w, a, b, xa)
        ctx.x_shape, ctx.x_dtype, ctx.scaling = x.shape, x.dtype, scaling
        ctx.a_dtype, ctx.b_dtype = lora_a.dtype, lora_b.dtype
        return out.view(*x.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad: Tensor):
        x2, w, a, b, xa = ctx.saved_tensors
        with torch.autocast(grad.device.type, enabled=False):
            g = grad.reshape(-1, grad.shape[-1]).to(w.dtype)  # [M, N]
            g_xa = g @ b  # [M, r]
            grad_x = None
            if ctx.needs_input_grad[0]:
                grad_x = g @ w  # [M, K]
                grad_x.addmm_(g_xa, a)
                grad_x = grad_x.view(ctx.x_shape).to(ctx.x_dtype)
            grad_a = (g_xa.t() @ x2).to(ctx.a_dtype) if ctx.needs_input_grad[3] else None  # [r, K]
            grad_b = (g.t() @ xa).to(ctx.b_dtype) * ctx.scaling if ctx.needs_input_grad[4] else None  # [N, r]
        return grad_x, None, None, grad_a, grad_b, None
