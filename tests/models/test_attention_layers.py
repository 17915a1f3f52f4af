"""Bidirectional attention is checked layer by layer: every layer's states equal those of a run under an
explicit full-attention mask, so a backbone bidirectional in some layers only, or within a sliding window,
is refused although token 0 still moves when a later token changes."""

from __future__ import annotations

import pytest

from embedlab.errors import AttentionPolicyError
from embedlab.models import Backbone, Bidirectional, attention
from embedlab.models.attention import verify_attention
from embedlab.models.grouped_attention import NAME as GROUPED
from tests.conftest import tiny_backbone, tiny_config


def keep_causal(module, monkeypatch) -> None:
    """One layer's kernel runs causally whenever no mask forces otherwise (a layer that ignores `is_causal`)."""
    forward = module.forward

    def causal_forward(*args, **kwargs):
        return forward(*args, **{**kwargs, "is_causal": True})

    monkeypatch.setattr(module, "forward", causal_forward)


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
@pytest.mark.parametrize("impl", ["eager", "sdpa", GROUPED])
def test_every_layer_of_the_allowlisted_models_is_bidirectional(model_type, impl):
    backbone = tiny_backbone(model_type, impl)
    Bidirectional().apply(backbone)
    Bidirectional().verify(backbone)  # the behavioural check and the per-layer comparison
    attention.verify_full_attention(backbone, rtol=1e-5)  # float32: agreement to rounding, far below the 1e-3 default


def test_one_causal_layer_fails_the_check_naming_the_layer(monkeypatch):
    backbone = tiny_backbone("llama", "sdpa")
    Bidirectional().apply(backbone)
    keep_causal(backbone.base_model.layers[1].self_attn, monkeypatch)
    verify_attention(backbone, expect_causal=False)  # token 0 still moves: layer 0 is bidirectional
    with pytest.raises(AttentionPolicyError, match=r"\(unpadded\): the states after layer 1 \(of 0\.\.1\) differ"):
        Bidirectional().verify(backbone)


@pytest.mark.parametrize("impl", ["eager", "sdpa", GROUPED])
def test_sliding_window_in_some_layers_fails_the_check_naming_the_first(impl):
    # Qwen2 with use_sliding_window: layers from max_window_layers on attend within a 3-token window.
    config = {**tiny_config("qwen2"), "num_hidden_layers": 3, "use_sliding_window": True, "sliding_window": 3}
    backbone = Backbone(
        name_or_path="tiny-qwen2-window",
        config={**config, "max_window_layers": 1},
        tokenizer="byte-level",
        attn_implementation=impl,
    )
    Bidirectional().apply(backbone)
    verify_attention(backbone, expect_causal=False)  # layer 0 attends fully: token 0 moves
    with pytest.raises(AttentionPolicyError, match=r"after layer 1 \(of 0\.\.2\) .*sliding_window=3"):
        Bidirectional().verify(backbone)


def test_a_sliding_window_fails_the_check():
    # Mistral with a 6-token window: bidirectional within the window, which the token-0 check cannot see
    # on its 8-token probe (two layers reach 10 tokens), but the 32-token comparison does.
    config = {**tiny_config("mistral"), "sliding_window": 6}
    config.pop("model_type")
    backbone = Backbone(
        name_or_path="tiny-mistral-window", config={"model_type": "mistral", **config}, tokenizer="byte-level"
    )
    Bidirectional().apply(backbone)
    verify_attention(backbone, expect_causal=False)
    with pytest.raises(AttentionPolicyError, match=r"after layer 0 .*sliding_window=6"):
        Bidirectional().verify(backbone)


def test_both_runs_of_the_check_see_the_same_rotary():
    """The reference run goes through `Backbone.kernels()` as `forward` does: compiled rotary against eager
    rotary alone moved SmolLM2's bf16 states by 0.26 at layer 11 and refused every bidirectional variant."""
    import transformers.models.llama.modeling_llama as modeling_llama

    backbone = tiny_backbone("llama", "sdpa", fuse_elementwise="always")
    Bidirectional().apply(backbone)
    seen = []
    backbone.base_model.register_forward_pre_hook(lambda *_: seen.append(modeling_llama.apply_rotary_pos_emb))
    attention.verify_full_attention(backbone, rtol=1e-5)
    assert len(seen) == 4  # unpadded and right-padded, each as configured and under the explicit mask
    assert all(rotary is modeling_llama.apply_rotary_pos_emb for rotary in seen)  # an eval check: eager rotary
