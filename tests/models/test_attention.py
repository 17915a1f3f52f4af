"""Attention policies hold behaviourally on every allowlisted architecture, eager and sdpa,
padded and unpadded; unsupported models are refused before any training."""

from __future__ import annotations

import pytest
import torch

from embedlab.errors import AttentionPolicyError
from embedlab.models import Backbone, Bidirectional, Causal
from embedlab.models.attention import BIDIRECTIONAL_MODEL_TYPES, verify_attention
from embedlab.models.grouped_attention import NAME as GROUPED
from tests.conftest import tiny_backbone


@pytest.mark.parametrize("model_type", BIDIRECTIONAL_MODEL_TYPES)
@pytest.mark.parametrize("impl", ["eager", "sdpa", GROUPED])
def test_policies_hold(model_type, impl):
    backbone = tiny_backbone(model_type, impl)
    Causal().apply(backbone)
    Causal().verify(backbone)
    Bidirectional().apply(backbone)
    Bidirectional().verify(backbone)
    # And each check fails on the other policy: the test can tell them apart.
    with pytest.raises(AttentionPolicyError, match="Causal attention does not hold"):
        verify_attention(backbone, expect_causal=True)


def _first_state_moves(backbone, pad_side: str | None) -> float:
    tokenizer = backbone.tokenizer
    tokenizer.padding_side = pad_side or "right"
    texts = ["the cat sat on the mat", "the cat sat on the hat"]
    if pad_side:
        batch = tokenizer(texts + ["a much longer text that forces padding on the others"])
    else:
        batch = tokenizer(texts)
    with torch.no_grad():
        states = backbone(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    first = batch["attention_mask"].argmax(1)  # first real position of each row
    return (states[0, first[0]] - states[1, first[1]]).abs().max().item()


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
@pytest.mark.parametrize("pad_side", [None, "left", "right"])
def test_token0_moves_only_under_bidirectional(model_type, pad_side):
    backbone = tiny_backbone(model_type)
    Causal().apply(backbone)
    assert _first_state_moves(backbone, pad_side) < 1e-5
    Bidirectional().apply(backbone)
    assert _first_state_moves(backbone, pad_side) > 1e-3


def test_unsupported_model_type_is_refused_with_choices():
    backbone = Backbone(
        config={"model_type": "gpt2", "vocab_size": 259, "n_embd": 32, "n_layer": 2, "n_head": 4},
        tokenizer="byte-level",
    )
    Causal().apply(backbone)  # causal is every decoder's native policy
    with pytest.raises(AttentionPolicyError, match=r"model type 'gpt2'.*llama, mistral, qwen2"):
        Bidirectional().apply(backbone)


def test_remote_code_is_refused_for_bidirectional(backbone):
    backbone.trust_remote_code = True
    with pytest.raises(AttentionPolicyError, match="remote code"):
        Bidirectional().apply(backbone)


def test_a_model_that_ignores_the_flag_fails_verification(backbone):
    # Simulate remote code that ignores is_causal: the config says bidirectional, the model stays causal.
    Bidirectional().apply(backbone)
    backbone.base_model.config.is_causal = True
    with pytest.raises(AttentionPolicyError, match="did not move"):
        Bidirectional().verify(backbone)
