"""Shared fixtures: tiny random-init decoders that need no files and no network."""

from __future__ import annotations

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["HF_HUB_OFFLINE"] = "1"  # tests never touch the network; the hub path fails fast

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

TINY_SIZES = {
    "vocab_size": 259,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def tiny_config(model_type: str = "llama", **overrides) -> dict:
    return {"model_type": model_type, **TINY_SIZES, **overrides}


def tiny_backbone(model_type: str = "llama", attn_implementation: str = "sdpa", max_length: int = 48, **kwargs):
    from embedlab.models import Backbone

    return Backbone(
        name_or_path=f"tiny-{model_type}",
        config=tiny_config(model_type),
        tokenizer="byte-level",
        attn_implementation=attn_implementation,
        max_length=max_length,
        **kwargs,
    )


@pytest.fixture
def backbone():
    return tiny_backbone()


@pytest.fixture(autouse=True)
def token_store_dir(tmp_path_factory, monkeypatch):
    """Token stores built by any test go to a temporary folder, never the user's cache."""
    folder = tmp_path_factory.mktemp("tokens")
    monkeypatch.setattr("embedlab.data.mix.default_store_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def eager_elementwise(monkeypatch):
    """`fuse_elementwise: auto` stays eager in the suite, as on a machine without a C++ compiler: compiling
    the islands for every tiny model in every process more than doubled the suite's time. The islands'
    own tests (tests/models/test_elementwise.py) name `always`, or restore the real check."""
    monkeypatch.setattr("embedlab.models.backbone.can_compile", lambda: False)
