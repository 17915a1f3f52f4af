"""The per-layer encoder: each layer's vector is that layer's pooled hidden state, the last layer is the
model's own embedding, and every text goes through the backbone once whatever the number of layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from embedlab.layers.encoding import LayerwiseEncoder
from embedlab.layers.scoring import score_layers
from embedlab.layers.selection import LayerSelectionError, select_tasks
from embedlab.models import Bidirectional, Causal, LastToken, Mean
from embedlab.models.pooling.base import last_token, masked_mean
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

TEXTS = ["a cat sits on the mat", "rain", "the market rose sharply today, said the report", "x y"]
INSTRUCTION = "Represent this: "


def direct(backbone, texts, instruction, layer: int, pooling: str) -> torch.Tensor:
    """The reference: one plain backbone call, that layer's states pooled by hand, L2-normalised."""
    features = backbone.tokenizer(texts, instruction)
    with torch.no_grad():
        states = backbone(features["input_ids"], features["attention_mask"], output_hidden_states=True).hidden_states
    h = states[layer]  # [B, T, D]
    pooled = masked_mean(h, features["pool_mask"]) if pooling == "mean" else last_token(h, features["attention_mask"])
    return F.normalize(pooled.float(), dim=-1)  # [B, D]


@pytest.mark.parametrize("pooling", ["mean", "last_token"])
@pytest.mark.parametrize("instruction", [None, INSTRUCTION])
def test_each_layer_is_that_layers_pooled_state(backbone, pooling, instruction):
    encoder = LayerwiseEncoder(backbone, pooling=pooling, precision="fp32")
    assert encoder.layers == [0, 1, 2]
    for layer in encoder.layers:
        expected = direct(backbone, TEXTS, instruction, layer, pooling)
        # The encoder batches texts longest first; rows of one padded batch do not interact, so the
        # vectors agree to float32 rounding (measured: exactly equal on CPU).
        torch.testing.assert_close(encoder.vectors(TEXTS, instruction, layer), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("head", "pooling"), [(Mean, "mean"), (LastToken, "last_token")])
@pytest.mark.parametrize("policy", [Causal, Bidirectional])
def test_last_layer_is_the_embedding_module_encoding(head, pooling, policy):
    module = EmbeddingModule(tiny_backbone(), attention=policy(), pooling=head)
    expected = module.encode(TEXTS, INSTRUCTION)  # [N, D] unit vectors, fp32 on CPU
    encoder = LayerwiseEncoder(tiny_backbone(), pooling=pooling, attention=policy(), precision="fp32")
    # Same weights (seed 0), same batch, same kernels: equal to 1e-6 absolute (measured: exactly equal).
    torch.testing.assert_close(encoder.vectors(TEXTS, INSTRUCTION, -1), expected, rtol=0, atol=1e-6)


def test_layer_zero_ignores_attention_and_deeper_layers_do_not(backbone):
    causal = LayerwiseEncoder(tiny_backbone(), attention=Causal(), precision="fp32")
    both = LayerwiseEncoder(tiny_backbone(), attention=Bidirectional(), precision="fp32")
    torch.testing.assert_close(causal.vectors(TEXTS, None, 0), both.vectors(TEXTS, None, 0), rtol=0, atol=0)
    assert (causal.vectors(TEXTS, None, 2) - both.vectors(TEXTS, None, 2)).abs().max() > 1e-3


def test_each_text_is_encoded_once_for_all_layers(backbone, task_files):
    rows: list[int] = []
    backbone.model.register_forward_hook(
        lambda module, args, kwargs, out: rows.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    encoder = LayerwiseEncoder(backbone, precision="fp32", batch_size=4)
    rows.clear()  # the attention check ran the model; count from here
    tasks = select_tasks(task_files)
    scores = score_layers(encoder, tasks, show_progress=False)
    assert len(scores) == len(tasks) * 3 and {s.layer for s in scores} == {0, 1, 2}
    distinct = len(encoder.cache)  # (instruction, text) pairs seen by any layer of any task
    assert sum(rows) == distinct == encoder.stats["texts"]
    assert len(rows) == encoder.stats["forward_passes"]
    before = len(rows)
    encoder.vectors([text for _, text in list(encoder.cache)[:3]], list(encoder.cache)[0][0], 1)
    assert len(rows) == before  # cached: no forward pass


def test_only_selected_layers_are_cached_and_served(backbone):
    encoder = LayerwiseEncoder(backbone, layers="0,-1", precision="fp32")
    encoder.ensure(TEXTS, None)
    assert encoder.layers == [0, 2] and next(iter(encoder.cache.values())).shape == (2, 32)
    with pytest.raises(LayerSelectionError, match=r"Layer 1 was not selected for encoding; selected: \[0, 2\]"):
        encoder.vectors(TEXTS, None, 1)
    with pytest.raises(LayerSelectionError, match=r"Layer 3 is out of range: valid layers are 0\.\.2"):
        encoder.view(3)
    assert encoder.stacked().shape == (2, len(TEXTS), 32)
