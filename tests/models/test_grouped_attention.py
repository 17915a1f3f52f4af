"""The grouped eager attention computes transformers' eager attention: the same outputs and gradients,
under causal and bidirectional masks with padding and grouped key/value heads, and no NaN in bf16."""

from __future__ import annotations

import types

import pytest
import torch
from transformers.masking_utils import bidirectional_mask_function, causal_mask_function, eager_mask
from transformers.models.llama.modeling_llama import eager_attention_forward

from embedlab.models.grouped_attention import grouped_eager_attention
from tests.conftest import tiny_backbone

BATCH, HEADS, KV_HEADS, LENGTH, DIM = 3, 6, 2, 9, 16


def _inputs(dtype):
    generator = torch.Generator().manual_seed(0)
    q = torch.randn(BATCH, HEADS, LENGTH, DIM, generator=generator).to(dtype).requires_grad_()
    k = torch.randn(BATCH, KV_HEADS, LENGTH, DIM, generator=generator).to(dtype).requires_grad_()
    v = torch.randn(BATCH, KV_HEADS, LENGTH, DIM, generator=generator).to(dtype).requires_grad_()
    real = torch.ones(BATCH, LENGTH, dtype=torch.bool)
    real[0, :4] = False  # left padding: rows 0-3 of text 0 see no real key under the causal mask
    real[1, :2] = False
    return q, k, v, real


def _run(attend, q, k, v, mask, real):
    module = types.SimpleNamespace(num_key_value_groups=HEADS // KV_HEADS, training=True)
    out, _ = attend(module, q, k, v, mask, scaling=DIM**-0.5)  # [B, T, H, D]
    out = out * real[:, :, None, None]
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad((out.float() * weights).sum(), (q, k, v))
    return out.float(), grads


@pytest.mark.parametrize("mask_function", [causal_mask_function, bidirectional_mask_function])
def test_grouped_attention_equals_eager_in_float32(mask_function):
    q, k, v, real = _inputs(torch.float32)
    mask = eager_mask(BATCH, LENGTH, LENGTH, mask_function=mask_function, attention_mask=real)
    expected, expected_grads = _run(eager_attention_forward, q, k, v, mask, real)
    out, grads = _run(grouped_eager_attention, q, k, v, mask, real)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-6)
    for grad, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, want, atol=1e-5, rtol=1e-5)


def test_grouped_attention_without_a_mask_is_full_attention():
    q, k, v, real = _inputs(torch.float32)
    real[:] = True
    expected, _ = _run(eager_attention_forward, q, k, v, None, real)
    out, _ = _run(grouped_eager_attention, q, k, v, None, real)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-6)


def test_padding_rows_stay_finite_under_bf16_autocast():
    # transformers' float32 mask minimum overflows to -inf in bf16: a row of padding would softmax to NaN
    backbone = tiny_backbone(attn_implementation="embedlab_grouped_eager")
    ids = torch.randint(3, 200, (2, 9))
    mask = torch.ones_like(ids)
    mask[0, :5] = 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        states = backbone(ids, mask).last_hidden_state
    states.float().sum().backward()
    assert torch.isfinite(states).all()
    assert all(torch.isfinite(p.grad).all() for p in backbone.parameters() if p.grad is not None)


def test_grouped_attention_backbone_matches_eager_backbone():
    grouped = tiny_backbone(attn_implementation="embedlab_grouped_eager")
    eager = tiny_backbone(attn_implementation="eager")
    eager.load_state_dict(grouped.state_dict())
    ids = torch.randint(3, 200, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0
    with torch.no_grad():
        want = eager(ids, mask).last_hidden_state * mask[..., None]
        got = grouped(ids, mask).last_hidden_state * mask[..., None]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
