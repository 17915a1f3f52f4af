"""Chunked embedding with activation recomputation (GradCache's memory profile): the same loss and
gradients as one pass, and dropout masks that match between the forward and the recomputation."""

from __future__ import annotations

import functools
import inspect

import pytest
import torch

from embedlab.data import Example, PairCollator
from embedlab.models import Bidirectional, Causal, LoRA, MultiLayerTrainable, pooling
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

EXAMPLES = [Example(f"query {i} " + "word " * (i % 5), f"positive text {i}", [f"negative {i}"]) for i in range(10)]


def build(chunk_size, dropout: float = 0.0, head=None, attention=None, verify: bool = True) -> EmbeddingModule:
    torch.manual_seed(0)
    module = EmbeddingModule(
        tiny_backbone(lora=LoRA(r=2, alpha=4, dropout=dropout)),
        attention=attention or Bidirectional(),
        pooling=head or functools.partial(MultiLayerTrainable, num_latents=4),
        embedding_chunk_size=chunk_size,
        verify_attention=verify,
    )
    # LoRA starts with B = 0; give it weight so the adapters matter for gradients.
    for name, parameter in module.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    return module.train()


def loss_and_grads(module: EmbeddingModule, examples=EXAMPLES, num_negatives: int = 1):
    batch = PairCollator(module.backbone.tokenizer, num_negatives=num_negatives)(examples)
    module.zero_grad()
    loss = module._loss(batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk_size", [3, 8])
def test_chunked_equals_one_pass(chunk_size):
    loss, grads = loss_and_grads(build(None))
    chunked_loss, chunked_grads = loss_and_grads(build(chunk_size))
    assert chunked_loss.item() == pytest.approx(loss.item(), abs=1e-5)
    assert grads.keys() == chunked_grads.keys()
    for name in grads:
        assert torch.allclose(chunked_grads[name], grads[name], atol=1e-5, rtol=1e-4), name


def every_head():
    """Every registered pooling head, small, with `paper_faithful` on and off where the head has it."""
    for name in sorted(pooling.__all__):
        cls = getattr(pooling, name)
        if not (inspect.isclass(cls) and issubclass(cls, pooling.PoolingHead)) or cls is pooling.PoolingHead:
            continue
        options = inspect.signature(cls).parameters
        small = {"num_latents": 4} if "num_latents" in options else {}
        for faithful in (False, True) if "paper_faithful" in options else (None,):
            extra = {} if faithful is None else {"paper_faithful": faithful}
            label = name if faithful is None else f"{name}-paper_faithful={faithful}"
            yield pytest.param(functools.partial(cls, **small, **extra), id=label)


@pytest.mark.parametrize("attention", [Causal(), Bidirectional()], ids=repr)
@pytest.mark.parametrize("head", list(every_head()))
def test_chunked_equals_one_pass_for_every_head_and_policy(head, attention):
    # Queries of 6 examples in chunks of 4: the first chunk's longest query is shorter than the batch's, so
    # its padding can be trimmed; the paper-faithful bidirectional TrainableLastLayer attends over pad
    # positions, so its chunks must keep them. (The policy is proved by tests/models/test_attention.py.)
    module = build(None, head=head, attention=attention, verify=False)
    loss, grads = loss_and_grads(module, EXAMPLES[:6], num_negatives=0)
    module.hparams.embedding_chunk_size = 4
    chunked_loss, chunked_grads = loss_and_grads(module, EXAMPLES[:6], num_negatives=0)
    assert chunked_loss.item() == pytest.approx(loss.item(), abs=1e-5)
    assert grads.keys() == chunked_grads.keys()
    for name in grads:
        assert torch.allclose(chunked_grads[name], grads[name], atol=1e-5, rtol=1e-4), name


def test_dropout_masks_are_replayed_in_the_recomputation():
    # Reference: the same chunks embedded with ordinary autograd in the same order draw the same dropout
    # masks; the checkpointed version must give identical gradients, which it can only if backward's
    # recomputation replays each chunk's RNG state.
    module = build(4, dropout=0.5)
    batch = PairCollator(module.backbone.tokenizer, num_negatives=1)(EXAMPLES)
    torch.manual_seed(123)
    module.zero_grad()
    module._loss(batch).backward()
    checkpointed = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}

    module.hparams.embedding_chunk_size = None
    original = module.embed

    def plain_chunks(features):
        outs = []
        for start in range(0, features["input_ids"].shape[0], 4):
            rows = slice(start, start + 4)
            real = features["attention_mask"][rows].any(0).nonzero().squeeze(-1)
            cols = slice(int(real.min()), int(real.max()) + 1)
            outs.append(module._embed(*(features[k][rows, cols] for k in ("input_ids", "attention_mask", "pool_mask"))))
        return torch.cat(outs)

    module.embed = plain_chunks
    torch.manual_seed(123)
    module.zero_grad()
    module._loss(batch).backward()
    module.embed = original
    for name, grad in checkpointed.items():
        assert torch.allclose(grad, module.get_parameter(name).grad, atol=1e-5, rtol=1e-4), name


def test_inference_ignores_chunking():
    module = build(2).eval()
    assert torch.allclose(module.encode(["a", "bb", "ccc"]), build(None).eval().encode(["a", "bb", "ccc"]), atol=1e-6)
