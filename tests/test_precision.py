"""The requested inference precision is the one that runs: `EmbeddingModule.encode`, `Embedder.encode` and
the MTEB adapter decide their autocast through `embedlab.precision`, on CUDA as on the CPU."""

from __future__ import annotations

import contextlib

import pytest
import torch

from embedlab.module import EmbeddingModule
from embedlab.precision import autocast, resolve_precision
from tests.conftest import tiny_backbone

TEXTS = ["a short one", "a considerably longer text than the first", "x"]


@pytest.fixture(scope="module")
def module() -> EmbeddingModule:
    torch.manual_seed(0)
    return EmbeddingModule(tiny_backbone()).eval()


class RecordingAutocast(contextlib.nullcontext):
    """Stands in for `torch.autocast` (CUDA autocast is a no-op without a GPU): records what was asked for."""

    calls: list[tuple[str, torch.dtype | None, bool]] = []

    def __init__(self, device_type, dtype=None, enabled=True, **kwargs) -> None:
        super().__init__()
        RecordingAutocast.calls.append((device_type, dtype, enabled))


class Stay:
    """A token tensor that stays where it is on `.to("cuda")` (no GPU in the test)."""

    def __init__(self, n: int) -> None:
        self.shape = (n, 1)

    def to(self, device):
        return self


@pytest.fixture
def fake_cuda(module, monkeypatch):
    """The module believes it is on CUDA; tokenizing and embedding are stand-ins that record the autocast in force."""
    RecordingAutocast.calls = []
    monkeypatch.setattr(torch, "autocast", RecordingAutocast)
    monkeypatch.setattr(EmbeddingModule, "device", property(lambda self: torch.device("cuda")))
    tokenize = lambda texts, instruction, max_length: {"input_ids": Stay(len(texts))}  # noqa: E731
    monkeypatch.setattr(module.backbone, "tokenizer", tokenize)
    monkeypatch.setattr(module, "embed", lambda features: torch.zeros(features["input_ids"].shape[0], 32))
    return RecordingAutocast.calls


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        ("fp32", [("cuda", None, False)]),  # autocast off, even inside a caller's bf16 context
        ("fp16", [("cuda", torch.float16, True)]),
        ("bf16", [("cuda", torch.bfloat16, True)]),
        ("32-true", [("cuda", None, False)]),
        (None, []),  # no context of its own: the caller's (or none) applies
    ],
)
def test_encode_on_cuda_uses_the_requested_precision(module, fake_cuda, precision, expected):
    module.encode(TEXTS, precision=precision)
    assert fake_cuda == expected


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_mteb_adapter_precision_is_not_overridden_by_the_module_on_cuda(module, fake_cuda, precision):
    from embedlab.eval.adapter import MTEBAdapter

    adapter = MTEBAdapter(module, instructions="none", precision=precision, sort_by_length=False, cache=False)
    adapter.encode_texts(TEXTS)
    # one context per batch, the adapter's; nothing inside it switches to bf16
    wanted = ("cuda", None, False) if precision == "fp32" else ("cuda", torch.float16, True)
    assert fake_cuda == [wanted]


def test_fp32_on_the_cpu_is_float32_inside_an_outer_bf16_autocast(module):
    reference = module.encode(TEXTS)  # float32 weights, no autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inherited = module.encode(TEXTS)  # precision=None: the caller's bf16 applies
        fp32 = module.encode(TEXTS, precision="fp32")
    assert (fp32 - reference).abs().max().item() < 1e-6
    assert (inherited - reference).abs().max().item() > 1e-4  # bf16 really ran: the comparison can fail
    bf16 = module.encode(TEXTS, precision="bf16")
    assert torch.allclose(bf16, inherited, atol=1e-6)


def test_resolved_contexts_for_cuda_and_cpu():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert resolve_precision("fp32", cuda) == "fp32" and resolve_precision("16-mixed", cuda) == "fp16"
    assert resolve_precision("bf16-mixed", cpu) == "bf16"
    with autocast("fp16", cpu):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.float16
    with torch.autocast("cpu", dtype=torch.bfloat16), autocast("fp32", cpu):
        assert not torch.is_autocast_enabled("cpu")


class StubInput(torch.nn.Module):
    def preprocess(self, texts, instruction, max_length):
        return {"input_ids": Stay(len(texts))}


class StubPooling(torch.nn.Module):
    def get_embedding_dimension(self) -> int:
        return 4


@pytest.mark.parametrize(
    ("precision", "expected"),
    [("fp32", [("cuda", None, False)]), ("fp16", [("cuda", torch.float16, True)]), (None, [])],
)
def test_exported_embedder_on_cuda_uses_the_requested_precision(monkeypatch, precision, expected):
    from embedlab.embedder import Embedder

    RecordingAutocast.calls = []
    monkeypatch.setattr(torch, "autocast", RecordingAutocast)
    monkeypatch.setattr(Embedder, "device", property(lambda self: torch.device("cuda")))
    embedder = Embedder(StubInput(), StubPooling())
    monkeypatch.setattr(embedder, "embed", lambda features: torch.zeros(features["input_ids"].shape[0], 4))
    embedder.encode(TEXTS, precision=precision)
    assert RecordingAutocast.calls == expected
