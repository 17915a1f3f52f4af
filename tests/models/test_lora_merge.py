"""Merged LoRA at inference: the same vectors as peft's unmerged forward, the trained weights untouched."""

from __future__ import annotations

import pytest
import torch

from embedlab.errors import EmbedlabError
from embedlab.eval.run import module_info
from embedlab.models import Causal, LastToken, LoRA
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

TEXTS = ["a short text", "a rather longer text with more words in it", "x"]


def _module(merge_lora: str) -> EmbeddingModule:
    backbone = tiny_backbone(lora=LoRA(r=4, alpha=8, dropout=0.0), merge_lora=merge_lora)
    with torch.no_grad():  # peft starts B at zero: give the adapters an update to merge
        for name, parameter in backbone.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn_like(parameter, generator=torch.Generator().manual_seed(len(name))))
    return EmbeddingModule(backbone, attention=Causal(), pooling=LastToken)


def _adapter_calls(module: EmbeddingModule) -> list[str]:
    calls: list[str] = []
    for name, sub in module.named_modules():
        if name.endswith("lora_A.default"):
            sub.register_forward_hook(lambda *_, name=name: calls.append(name))
    return calls


def test_merged_encode_equals_unmerged_and_skips_the_adapters():
    merged, unmerged = _module("always"), _module("never")
    unmerged.load_state_dict(merged.state_dict())  # peft draws A from the global generator
    calls = _adapter_calls(merged)
    expected = unmerged.encode(TEXTS)  # [3, D]
    got = merged.encode(TEXTS)
    assert calls == []  # the adapters' own forward never ran: the base layers did the work on merged weights
    assert torch.allclose(got, expected, atol=1e-5)
    with unmerged.backbone.model.disable_adapter():  # the adapters' update is large enough to matter
        assert not torch.allclose(got, unmerged.encode(TEXTS), atol=1e-3)


def test_trained_weights_are_untouched_and_an_update_invalidates_the_merge():
    module = _module("always")
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    objects = {n: p for n, p in module.named_parameters()}
    module.encode(TEXTS)
    for name, parameter in module.named_parameters():
        assert parameter is objects[name], name  # the module's parameters are the same objects after encoding
        assert torch.equal(parameter, before[name]), name
    with torch.no_grad():  # an optimiser-style in-place update of one adapter
        next(p for n, p in module.named_parameters() if "lora_B" in n).mul_(3.0)
    reference = _module("never")
    reference.load_state_dict(module.state_dict())
    assert torch.allclose(module.encode(TEXTS), reference.encode(TEXTS), atol=1e-5)


def test_a_training_forward_drops_the_merged_copy():
    module = _module("always")
    module.encode(TEXTS)
    assert len(module.backbone._merged._weights) == 2 * 7  # 2 layers x 7 projections
    module.train()
    features = module.backbone.tokenizer(TEXTS, None, 16)
    module.embed(features).sum().backward()
    assert module.backbone._merged._weights == []


def test_the_choice_is_recorded_and_checked():
    assert module_info(_module("always"))["lora_merged"] is True
    assert module_info(_module("never"))["lora_merged"] is False
    assert module_info(_module("auto"))["lora_merged"] is True  # auto merges on CPU
    assert "lora_merged" not in module_info(EmbeddingModule(tiny_backbone(), attention=Causal(), pooling=LastToken))
    with pytest.raises(EmbedlabError, match="merge_lora 'sometimes' is not one of auto, always, never"):
        tiny_backbone(lora=LoRA(r=4), merge_lora="sometimes")
