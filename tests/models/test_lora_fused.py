"""LoRA projections run as one fused autograd node that computes exactly peft's `W x + s B (A x)`; where
the fused node does not apply (dropout, disabled adapters), peft's own forward runs."""

from __future__ import annotations

import types

import pytest
import torch
from peft.tuners.lora import Linear as PeftLoraLinear

from embedlab.models.backbone import LoRA
from embedlab.models.lora_fused import FusedLoRAFunction, FusedLoRALinear
from tests.conftest import tiny_backbone

TARGETS = 7  # q, k, v, o, gate, up, down


def _lora_backbone(dropout: float = 0.0):
    backbone = tiny_backbone(lora=LoRA(r=4, alpha=8, dropout=dropout))
    generator = torch.Generator().manual_seed(0)
    for layer in backbone.model.modules():
        if isinstance(layer, PeftLoraLinear):
            with torch.no_grad():  # B starts at zero: give the adapters something to add
                layer.lora_B["default"].weight.normal_(generator=generator)
    return backbone


def _layers(backbone):
    return [m for m in backbone.model.modules() if isinstance(m, PeftLoraLinear)]


def _use_peft_forward(backbone):
    for layer in _layers(backbone):
        layer.forward = types.MethodType(PeftLoraLinear.forward, layer)


def _forward_and_grads(backbone, ids, mask):
    backbone.zero_grad()
    states = backbone(ids, mask).last_hidden_state * mask[..., None]
    weights = torch.randn(states.shape, generator=torch.Generator().manual_seed(1))
    (states * weights).sum().backward()
    return states.detach(), {n: p.grad.clone() for n, p in backbone.named_parameters() if p.requires_grad}


def test_every_adapted_projection_is_a_fused_peft_layer_with_peft_state_dict_keys():
    backbone = _lora_backbone()
    layers = _layers(backbone)
    assert len(layers) == TARGETS * backbone.num_layers
    assert all(type(layer) is FusedLoRALinear for layer in layers)
    keys = set(backbone.state_dict())
    assert sum(".lora_A.default.weight" in k for k in keys) == TARGETS * backbone.num_layers


def test_fused_forward_and_gradients_equal_peft_in_float32():
    backbone = _lora_backbone()
    backbone.train()
    ids = torch.randint(3, 200, (2, 9))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    fused, fused_grads = _forward_and_grads(backbone, ids, mask)
    _use_peft_forward(backbone)
    peft, peft_grads = _forward_and_grads(backbone, ids, mask)
    torch.testing.assert_close(fused, peft, atol=1e-6, rtol=1e-5)
    assert fused_grads.keys() == peft_grads.keys() and len(fused_grads) == 2 * TARGETS * backbone.num_layers
    for name, grad in fused_grads.items():  # float32 rounding of a different summation order, no more
        scale = peft_grads[name].abs().max().item()
        torch.testing.assert_close(grad, peft_grads[name], atol=1e-5 * scale, rtol=1e-5, msg=name)


@pytest.mark.parametrize("autocast", [False, True])
def test_fused_function_on_hand_written_tensors(autocast):
    # x A^T = 3; y = x W^T + 0.5 * 3 * B^T = [1, 2, 3] + [1.5, 3, 0]; exact in bf16 as well
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    weight = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    lora_a = torch.tensor([[1.0, 1.0]], requires_grad=True)
    lora_b = torch.tensor([[1.0], [2.0], [0.0]], requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        y = FusedLoRAFunction.apply(x, weight, None, lora_a, lora_b, 0.5)
    assert y.dtype == (torch.bfloat16 if autocast else torch.float32)
    assert y.tolist() == [[2.5, 5.0, 3.0]]
    y.float().sum().backward()
    assert x.grad.tolist() == [[3.5, 3.5]]  # 1^T W + (1^T s B) A = [2, 2] + 1.5 [1, 1]
    assert lora_a.grad.tolist() == [[1.5, 3.0]]  # (1^T s B) x
    assert lora_b.grad.tolist() == [[1.5], [1.5], [1.5]]  # s (x A^T) for every output
    assert x.grad.dtype == lora_a.grad.dtype == lora_b.grad.dtype == torch.float32


def test_dropout_and_disabled_adapters_run_peft_forward(monkeypatch):
    def refuse(*args):
        raise AssertionError("the fused node ran where peft's forward must")

    monkeypatch.setattr(FusedLoRAFunction, "apply", refuse)
    backbone = _lora_backbone(dropout=0.1)
    ids = torch.randint(3, 200, (2, 9))
    backbone.train()
    backbone(ids, torch.ones_like(ids))  # dropout: peft's forward
    plain = _lora_backbone()
    with plain.model.disable_adapter():
        plain(ids, torch.ones_like(ids))  # disabled adapters: the base layers alone
