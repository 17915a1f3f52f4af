"""The exported tokenisation is the training one: instruction masking, EOS, max_length, padding side."""

from __future__ import annotations

import json

import pytest
import torch

from embedlab import Embedder
from embedlab.export.st_modules import load_sentence_transformer
from embedlab.export.writer import export_checkpoint
from tests.export.conftest import INSTRUCTION, TEXTS, make_module, save_checkpoint


def export(module, tmp_path):
    return export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out", verify=False)


@pytest.mark.parametrize("mask_instruction", [True, False])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_exported_features_equal_the_training_tokenizer(tmp_path, mask_instruction, padding_side):
    module = make_module("Mean", "Causal", mask_instruction=mask_instruction, padding_side=padding_side)
    out = export(module, tmp_path)
    settings = json.loads((out / "embedlab.json").read_text())
    assert settings["max_length"] == 48 and settings["append_eos"] is True
    assert settings["padding_side"] == padding_side and settings["mask_instruction"] is mask_instruction
    embedder = Embedder.from_pretrained(out, device="cpu")
    expected = module.backbone.tokenizer(TEXTS, INSTRUCTION)
    got = embedder.input_module.preprocess(TEXTS, INSTRUCTION)
    for key in ("input_ids", "attention_mask", "pool_mask"):
        assert torch.equal(got[key], expected[key]), key
    real = got["attention_mask"].bool()  # [B, T]
    hidden = (real & ~got["pool_mask"]).sum(dim=1)  # [B], instruction tokens kept out of pooling
    assert hidden.tolist() == [len(INSTRUCTION.encode()) if mask_instruction else 0] * len(TEXTS)
    eos = embedder.input_module.tokenizer.eos_token_id
    last = got["input_ids"][torch.arange(len(TEXTS)), (real * torch.arange(real.shape[1])).argmax(dim=1)]  # [B]
    assert (last == eos).all()
    assert real.sum(dim=1).max().item() == 48  # the long text is cut at the exported max_length, EOS kept
    for instruction in (None, INSTRUCTION):
        reference = module.encode(TEXTS, instruction=instruction)
        assert (embedder.encode(TEXTS, instruction=instruction) - reference).abs().max().item() <= 1e-5


def test_instruction_is_masked_from_pooling_yet_seen_bidirectionally(tmp_path):
    module = make_module("Mean", "Bidirectional")
    out = export(module, tmp_path)
    embedder = Embedder.from_pretrained(out, device="cpu")
    model = load_sentence_transformer(out, device="cpu")
    plain, instructed = embedder.encode(TEXTS), embedder.encode(TEXTS, instruction=INSTRUCTION)
    assert not torch.allclose(plain, instructed, atol=1e-3)  # text tokens attend to the instruction
    by_st = model.encode(TEXTS, prompt=INSTRUCTION, convert_to_tensor=True)
    assert (by_st - module.encode(TEXTS, instruction=INSTRUCTION)).abs().max().item() <= 1e-5


def test_a_shorter_max_length_per_call_matches_the_module(tmp_path):
    module = make_module("LastToken", "Causal")
    embedder = Embedder.from_pretrained(export(module, tmp_path), device="cpu")
    expected = module.encode(TEXTS, max_length=8)
    assert (embedder.encode(TEXTS, max_length=8) - expected).abs().max().item() <= 1e-5
