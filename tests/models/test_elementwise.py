"""The compiled elementwise islands equal transformers' RMSNorm, MLP and rotary, outputs and gradients."""

import pytest
import torch
import transformers.models.llama.modeling_llama as modeling_llama
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaMLP, LlamaRMSNorm

from embedlab.errors import EmbedlabError
from embedlab.models.elementwise import ElementwiseIslands, can_compile
from tests.conftest import tiny_backbone

CONFIG = LlamaConfig(
    hidden_size=16, intermediate_size=40, num_attention_heads=2, num_key_value_heads=1, hidden_act="silu"
)


def _pair(module_cls, *args):
    torch.manual_seed(0)
    reference = module_cls(*args)
    with torch.no_grad():
        for p in reference.parameters():
            p.normal_()
    fused = module_cls(*args)
    fused.load_state_dict(reference.state_dict())
    assert ElementwiseIslands(fused).changed == 1
    return reference, fused


def _check(reference, fused, x):
    xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_r, out_f = reference(xr), fused(xf)
    torch.testing.assert_close(out_f, out_r, rtol=1e-5, atol=1e-5)
    out_r.square().sum().backward()
    out_f.square().sum().backward()
    torch.testing.assert_close(xf.grad, xr.grad, rtol=1e-4, atol=1e-4)
    for (name, pr), pf in zip(reference.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(pf.grad, pr.grad, rtol=1e-4, atol=1e-4, msg=name)


def test_compiled_rms_norm_equals_transformers_across_shapes():
    reference, fused = _pair(LlamaRMSNorm, 16, 1e-6)
    for shape in [(2, 5, 16), (3, 7, 16)]:  # a second shape must not change the answer (dynamic)
        _check(reference, fused, torch.randn(shape))


def test_compiled_silu_mul_equals_transformers_mlp():
    reference, fused = _pair(LlamaMLP, CONFIG)
    _check(reference, fused, torch.randn(2, 5, 16))


def test_backbone_with_islands_equals_eager_in_training_and_encoding_and_restores_rotary():
    eager = tiny_backbone(fuse_elementwise="never")
    fused = tiny_backbone(fuse_elementwise="always")
    assert eager._islands is None
    assert fused._islands.changed == 2 * 4 + 1  # per layer two norms, the MLP and the rotary; the final norm
    assert fused.state_dict().keys() == eager.state_dict().keys()
    rotary = modeling_llama.apply_rotary_pos_emb
    ids = torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    for module in (eager, fused):
        module.train()
    out_e, out_f = eager(ids, mask).last_hidden_state, fused(ids, mask).last_hidden_state
    assert modeling_llama.apply_rotary_pos_emb is rotary  # the swap lasts one forward
    torch.testing.assert_close(out_f, out_e, rtol=1e-5, atol=1e-5)
    out_e.square().sum().backward()
    out_f.square().sum().backward()
    for (name, pe), pf in zip(eager.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(pf.grad, pe.grad, rtol=1e-4, atol=1e-4, msg=name)
    with torch.no_grad():  # encoding keeps transformers' own math, bit for bit
        eager.eval(), fused.eval()
        assert torch.equal(fused(ids, mask).last_hidden_state, eager(ids, mask).last_hidden_state)


def test_rotary_swap_is_the_compiled_transformers_function_and_is_undone():
    fused = tiny_backbone(fuse_elementwise="always")
    original = modeling_llama.apply_rotary_pos_emb
    fused.train()
    with fused._islands.active():  # the attention forward looks the global up at call time
        assert modeling_llama.apply_rotary_pos_emb._torchdynamo_orig_callable is original
    assert modeling_llama.apply_rotary_pos_emb is original
    with torch.no_grad(), fused._islands.active():  # no gradients: not a training forward
        assert modeling_llama.apply_rotary_pos_emb is original
    fused.eval()
    with fused._islands.active():
        assert modeling_llama.apply_rotary_pos_emb is original


def test_architectures_without_known_islands_are_left_alone():
    model = torch.nn.Sequential(torch.nn.LayerNorm(8), torch.nn.Linear(8, 8))
    assert ElementwiseIslands(model).changed == 0


def test_fuse_elementwise_names_its_choices():
    with pytest.raises(EmbedlabError, match="auto, always, never"):
        tiny_backbone(fuse_elementwise="yes")


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule of fuse_elementwise: auto")
def test_auto_fuses_on_cpu_unless_the_whole_decoder_is_compiled(monkeypatch):
    monkeypatch.setattr("embedlab.models.backbone.can_compile", can_compile)  # the real check (conftest stubs it)
    assert tiny_backbone()._islands is not None
    assert tiny_backbone(compile=True)._islands is None
    monkeypatch.setattr("embedlab.models.backbone.can_compile", lambda: False)  # no C++ compiler: stay eager
    assert tiny_backbone()._islands is None
