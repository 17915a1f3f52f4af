"""Backbone loading: random-init configs, local folders, LoRA, and padding-side invariance."""

from __future__ import annotations

import pytest
import torch

from embedlab.errors import EmbedlabError
from embedlab.models import Backbone, LoRA
from tests.conftest import tiny_backbone, tiny_config


def test_random_init_is_seeded():
    a, b = tiny_backbone(), tiny_backbone()
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb), name
    c = tiny_backbone(seed=1)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_sizes_and_type(backbone):
    assert (backbone.hidden_size, backbone.num_layers, backbone.model_type) == (32, 2, "llama")


def test_lora_freezes_the_base_and_counts_adapters():
    backbone = tiny_backbone(lora=LoRA(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"]))
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # q_proj: 32 -> 32, v_proj: 32 -> 16 (2 KV heads x 8); r = 4 per layer: A (r x in) + B (out x r)
    per_layer = (4 * 32 + 32 * 4) + (4 * 32 + 16 * 4)
    assert sum(p.numel() for p in backbone.parameters() if p.requires_grad) == 2 * per_layer


def test_unknown_lora_target_lists_the_linear_layers():
    with pytest.raises(EmbedlabError, match=r"\['qkv'\] are not in this model.*q_proj"):
        tiny_backbone(lora=LoRA(target_modules=["qkv"]))


def test_config_needs_model_type():
    with pytest.raises(EmbedlabError, match="model_type"):
        Backbone(config={"hidden_size": 8}, tokenizer="byte-level")


def test_local_folder_round_trip(tmp_path, backbone):
    backbone.base_model.save_pretrained(tmp_path)
    backbone.tokenizer.tokenizer.save_pretrained(tmp_path)
    loaded = Backbone(str(tmp_path))
    ids = torch.tensor([[5, 6, 7, 1]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        a = backbone(ids, mask).last_hidden_state
        b = loaded(ids, mask).last_hidden_state
    assert torch.allclose(a, b, atol=1e-6)


def test_missing_hub_model_offline_says_what_to_do():
    with pytest.raises(EmbedlabError, match="Offline, use a local folder"):
        Backbone("no-such-org/no-such-model", tokenizer="byte-level")


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
def test_left_and_right_padding_give_the_same_states(model_type):
    right = tiny_backbone(model_type, padding_side="right")
    left = tiny_backbone(model_type, padding_side="left")
    texts = ["short", "a somewhat longer text"]
    r = right.tokenizer(texts)
    lt = left.tokenizer(texts)
    with torch.no_grad():
        sr = right(r["input_ids"], r["attention_mask"]).last_hidden_state
        sl = left(lt["input_ids"], lt["attention_mask"]).last_hidden_state
    n = int(r["attention_mask"][0].sum())
    assert torch.allclose(sr[0, :n], sl[0, -n:], atol=1e-5)


def test_config_dict_is_not_mutated():
    config = tiny_config()
    Backbone(config=config, tokenizer="byte-level")
    assert config["model_type"] == "llama"


def test_gradient_checkpointing_with_lora_backpropagates():
    backbone = tiny_backbone(gradient_checkpointing=True, lora=LoRA(r=2, alpha=4, dropout=0.0))
    backbone.train()
    ids = torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    backbone(ids, mask).last_hidden_state.pow(2).mean().backward()
    grads = [p.grad for n, p in backbone.named_parameters() if "lora_B" in n]  # A gets none while B = 0
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)
    assert backbone.base_model.is_gradient_checkpointing


@pytest.mark.slow
def test_compiled_backbone_matches_eager_and_keeps_its_state_dict():
    eager = tiny_backbone(lora=LoRA(r=2, alpha=4, dropout=0.0))
    compiled = tiny_backbone(lora=LoRA(r=2, alpha=4, dropout=0.0), compile=True)
    assert eager.state_dict().keys() == compiled.state_dict().keys()
    ids = torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    with torch.no_grad():
        assert torch.allclose(eager(ids, mask).last_hidden_state, compiled(ids, mask).last_hidden_state, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule of attn_implementation: auto")
def test_auto_attention_trains_grouped_eager_and_encodes_sdpa_on_cpu():
    """On CPU `auto` trains with the grouped eager attention (faster backward) and encodes with sdpa."""
    backbone = tiny_backbone(attn_implementation="auto")
    ids = torch.randint(3, 200, (2, 7))
    mask = torch.ones_like(ids)
    backbone.train()
    trained = backbone(ids, mask).last_hidden_state
    assert backbone.base_model.config._attn_implementation == "embedlab_grouped_eager"
    with torch.no_grad():
        backbone.train()  # no gradients: an encode inside a training loop
        backbone(ids, mask)
        assert backbone.base_model.config._attn_implementation == "sdpa"
        backbone.eval()
        encoded = backbone(ids, mask).last_hidden_state
    assert backbone.base_model.config._attn_implementation == "sdpa"
    torch.testing.assert_close(trained.detach(), encoded, atol=1e-5, rtol=1e-5)  # the same attention either way
    pinned = tiny_backbone(attn_implementation="sdpa")
    pinned.train()
    pinned(ids, mask)
    assert pinned.base_model.config._attn_implementation == "sdpa"  # a named kernel is never switched
