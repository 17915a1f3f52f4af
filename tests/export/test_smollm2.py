"""The real SmolLM2-135M (offline asset): a LoRA checkpoint exports and reloads with the same embeddings."""

from __future__ import annotations

import pytest

from embedlab import Embedder
from embedlab.export.st_modules import load_sentence_transformer
from embedlab.export.writer import export_checkpoint
from embedlab.models import Backbone, LoRA
from embedlab.module import EmbeddingModule
from tests.eval.conftest import needs_assets
from tests.export.conftest import ATTENTION, HEADS, INSTRUCTION, TEXTS, perturb, save_checkpoint

pytestmark = [pytest.mark.slow, needs_assets("smollm2-135m")]


@pytest.mark.parametrize(("head", "attention"), [("Mean", "Bidirectional")])
def test_smollm2_export_round_trip(tmp_path, head, attention):
    backbone = Backbone("smollm2-135m", lora=LoRA(r=4, alpha=8, dropout=0.0), max_length=64)
    module = perturb(EmbeddingModule(backbone, attention=ATTENTION[attention](), pooling=HEADS[head])).eval()
    out = export_checkpoint(save_checkpoint(module, tmp_path / "model.ckpt"), tmp_path / "out")  # verifies too
    embedder = Embedder.from_pretrained(out, device="cpu")
    model = load_sentence_transformer(out, device="cpu")
    for instruction in (None, INSTRUCTION):
        expected = module.encode(TEXTS, instruction=instruction, batch_size=2)  # [N, 576]
        assert (embedder.encode(TEXTS, instruction=instruction) - expected).abs().max().item() <= 1e-5
        by_st = model.encode(TEXTS, prompt=instruction, convert_to_tensor=True)
        assert (by_st.cpu() - expected).abs().max().item() <= 1e-5
