"""The mteb encoder adapter: input order kept, each distinct text encoded once, sorting changes speed not
vectors, instructions chosen per task and side, precision resolved per device."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from embedlab.eval.adapter import MTEBAdapter, resolve_precision
from embedlab.eval.encoders import TextEncoder


class RecordingEncoder:
    """A TextEncoder that records its calls and embeds a text by its length."""

    name = "test/recording"
    device = torch.device("cpu")

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def embed(self, texts, instruction):
        self.calls.append((list(texts), instruction))
        return torch.tensor([[len(t), 1.0] for t in texts])  # [B, 2]


def loader(texts):
    return [{"text": texts[i : i + 2]} for i in range(0, len(texts), 2)]  # what mteb's DataLoader yields


def test_recording_encoder_is_a_text_encoder():
    assert isinstance(RecordingEncoder(), TextEncoder)


def test_order_kept_and_duplicates_encoded_once():
    encoder = RecordingEncoder()
    adapter = MTEBAdapter(encoder, instructions="none", batch_size=2)
    texts = ["bb", "a", "dddd", "a", "ccc", "bb"]
    out = adapter.encode_texts(texts)
    assert out[:, 0].tolist() == [2, 1, 4, 1, 3, 2]
    assert [t for batch, _ in encoder.calls for t in batch] == ["dddd", "ccc", "bb", "a"]  # longest first, once
    adapter.encode_texts(["a", "eeeee"])  # "a" comes from the cache
    assert encoder.calls[-1] == (["eeeee"], None)
    assert adapter.stats == {"texts": 8, "encoded": 5, "batches": 3, "encode_seconds": pytest.approx(0, abs=1)}


def test_sorted_by_tokens_when_the_encoder_counts_them():
    class TokenCounting(RecordingEncoder):
        def lengths(self, texts, instruction):
            return [{"aaaa": 1, "bb": 5, "c": 3}[t] for t in texts]  # tokens need not follow characters

    encoder = TokenCounting()
    MTEBAdapter(encoder, instructions="none", batch_size=8).encode_texts(["aaaa", "bb", "c"])
    assert encoder.calls == [(["bb", "c", "aaaa"], None)]


def test_instruction_per_task_and_prompt_type():
    from mteb.types import PromptType

    encoder = RecordingEncoder()
    adapter = MTEBAdapter(encoder, instructions="default")
    retrieval = SimpleNamespace(name="SciFact", type="Retrieval", prompt=None)
    adapter.encode(
        loader(["q1"]), task_metadata=retrieval, hf_split="test", hf_subset="default", prompt_type=PromptType.query
    )
    adapter.encode(
        loader(["d1"]), task_metadata=retrieval, hf_split="test", hf_subset="default", prompt_type=PromptType.document
    )
    sts = SimpleNamespace(name="LeeDocSTS", type="STS", prompt=None)
    adapter.encode(loader(["s1"]), task_metadata=sts, hf_split="test", hf_subset="default")
    assert [instruction for _, instruction in encoder.calls] == [
        "Instruct: Given a scientific claim, retrieve documents that support or refute the claim.\nQuery: ",
        None,
        "Instruct: Retrieve semantically similar text.\nQuery: ",
    ]


def test_sorting_changes_batches_not_vectors(module):
    texts = ["short", "a much longer text than the others, with many more tokens in it", "mid-sized text", "x"] * 3
    sorted_out = MTEBAdapter(module, instructions="none", batch_size=2, precision="fp32").encode_texts(texts)
    unsorted = MTEBAdapter(module, instructions="none", batch_size=2, precision="fp32", sort_by_length=False)
    np.testing.assert_allclose(sorted_out, unsorted.encode_texts(texts), atol=1e-5)
    assert sorted_out.shape == (12, module.pooling.output_size) and sorted_out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(sorted_out, axis=1), 1.0, atol=1e-5)


def test_same_vectors_as_module_encode(module):
    texts = ["one text", "another, longer text here", "third"]
    adapter = MTEBAdapter(module, instructions="none", precision="fp32")
    np.testing.assert_allclose(adapter.encode_texts(texts, "Instruct: "), module.encode(texts, "Instruct: "), atol=1e-5)


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("bf16-mixed", cpu) == "bf16"
    assert resolve_precision("32-true", cpu) == "fp32"
    assert resolve_precision("auto", cpu) in ("bf16", "fp32")
    with pytest.raises(Exception, match="not one of"):
        resolve_precision("int8", cpu)


def test_mteb_accepts_the_adapter():
    from mteb.models import EncoderProtocol
    from mteb.models.model_meta import ScoringFunction

    adapter = MTEBAdapter(RecordingEncoder(), instructions="none")
    assert isinstance(adapter, EncoderProtocol)
    assert adapter.mteb_model_meta.similarity_fn_name is ScoringFunction.COSINE
