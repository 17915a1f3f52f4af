"""Exported folders embed exactly like the training module: every head, both attention policies,
LoRA merged or fully fine-tuned, through Embedder and through sentence-transformers."""

from __future__ import annotations

import pytest
import torch

from embedlab import Embedder
from embedlab.export.st_modules import load_sentence_transformer
from embedlab.export.writer import export_checkpoint
from tests.export.conftest import HEADS, INSTRUCTION, TEXTS, make_module, save_checkpoint

TOLERANCE = 1e-5  # fp32


def assert_same_embeddings(module, out) -> None:
    """Module, Embedder and SentenceTransformer agree, with and without an instruction, across batch sizes."""
    embedder = Embedder.from_pretrained(out, device="cpu")
    sentence_transformer = load_sentence_transformer(out, device="cpu")
    for instruction in (None, INSTRUCTION):
        expected = module.encode(TEXTS, instruction=instruction, batch_size=2)  # [N, D]
        by_embedder = embedder.encode(TEXTS, instruction=instruction, batch_size=3)  # [N, D]
        by_st = sentence_transformer.encode(TEXTS, prompt=instruction, batch_size=4, convert_to_tensor=True)
        assert by_embedder.shape == expected.shape == tuple(by_st.shape)
        assert (by_embedder - expected).abs().max().item() <= TOLERANCE, instruction
        assert (by_st.cpu() - expected).abs().max().item() <= TOLERANCE, instruction


@pytest.mark.parametrize("attention", ["Causal", "Bidirectional"])
@pytest.mark.parametrize("head", list(HEADS))
def test_lora_export_round_trip_for_every_head(tmp_path, head, attention):
    module = make_module(head, attention, lora=True)
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out", verify=False)
    assert_same_embeddings(module, out)


@pytest.mark.parametrize("attention", ["Causal", "Bidirectional"])
@pytest.mark.parametrize("head", ["LastToken", "MultiLayerTrainable"])
def test_full_finetune_export_round_trip(tmp_path, head, attention):
    module = make_module(head, attention, lora=False)
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out", verify=False)
    assert_same_embeddings(module, out)


def test_sentence_transformer_loads_the_folder_by_path(tmp_path):
    from sentence_transformers import SentenceTransformer

    module = make_module("TrainableLastLayer", "Bidirectional")
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out")
    # sentence-transformers >= 6 imports module classes outside its namespace only with this flag; the
    # folder holds no code, and the backbone still loads with transformers' trust_remote_code=False.
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    got = model.encode(TEXTS, prompt=INSTRUCTION, convert_to_tensor=True)
    assert (got.cpu() - module.encode(TEXTS, instruction=INSTRUCTION)).abs().max().item() <= TOLERANCE
    assert model.get_embedding_dimension() == 32
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(out), device="cpu")


def test_resaved_sentence_transformer_folder_still_loads(tmp_path):
    module = make_module("ScalarMix", "Causal")
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out", verify=False)
    load_sentence_transformer(out, device="cpu").save(str(tmp_path / "again"), create_model_card=False)
    again = Embedder.from_pretrained(tmp_path / "again", device="cpu")
    assert (again.encode(TEXTS) - module.encode(TEXTS)).abs().max().item() <= TOLERANCE


def test_export_is_plain_transformers_with_lora_merged_and_policy_kept(tmp_path):
    from safetensors import safe_open
    from transformers import AutoModel

    module = make_module("Mean", "Bidirectional", lora=True)
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out", verify=False)
    with safe_open(str(out / "model.safetensors"), framework="pt") as handle:
        assert not [key for key in handle.keys() if "lora" in key]
    assert not list(out.rglob("*.bin")) and not list(out.rglob("*.pt")) and not list(out.rglob("*.py"))
    bare = AutoModel.from_pretrained(out)
    assert bare.config.is_causal is False
    merged = module.backbone.model.merge_and_unload()  # what the export should hold
    for name, tensor in merged.state_dict().items():
        assert torch.allclose(bare.state_dict()[name], tensor, atol=1e-6), name
