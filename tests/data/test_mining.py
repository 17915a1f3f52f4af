"""Mined hard negatives: BM25 ranking, exclusions, determinism, and length matching."""

from __future__ import annotations

import numpy as np

from embedlab.data import JsonlSource, TrainingMix, padding_stats
from embedlab.data.collate import Example
from embedlab.data.mining import BM25Index, NegativeMiner
from embedlab.data.rows import Item
from tests.data.conftest import synthetic_rows, take, write_jsonl

DOCS = [
    "the cat sat on the mat",
    "a dog chased the cat across the garden",
    "stock markets fell sharply on monday",
    "the garden was full of roses and a cat",
    "interest rates and stock prices",
]


def test_bm25_ranks_shared_rare_terms_first():
    scores = BM25Index(DOCS).scores(["stock prices", "roses in the garden"]).toarray()  # [2, 5]
    assert scores[0].argmax() == 4 and scores[1].argmax() == 3
    assert scores[0, 0] == 0  # no shared term


def test_negatives_exclude_own_texts_and_group_and_repeat_nothing():
    miner = NegativeMiner("bm25", DOCS, ["g0", "g1", "g2", "g1", "g4"], depth=3)
    items = [Item(Example("cat in the garden", DOCS[1]), "g1"), Item(Example("stock", DOCS[2]), "g2")]
    avoid = {k for it in items for k in it.keys}
    miner.mine(items, 1, np.random.default_rng(0), avoid)
    first, second = items[0].example.negatives[0], items[1].example.negatives[0]
    assert first not in (DOCS[1], DOCS[3])  # its positive, and the other document of its group
    assert second != DOCS[2] and first != second
    again = [Item(Example("cat in the garden", DOCS[1]), "g1"), Item(Example("stock", DOCS[2]), "g2")]
    miner.mine(again, 1, np.random.default_rng(0), {k for it in again for k in it.keys})
    assert [it.example.negatives for it in again] == [[first], [second]]


def mined_mix(path, tokenizer, **overrides) -> TrainingMix:
    source = JsonlSource(str(path), negatives="bm25")
    settings = dict(batch_size=8, num_negatives=1, num_workers=0, val_fraction=0.0, document_max_length=400)
    mix = TrainingMix([source], **{**settings, **overrides})
    mix.connect(tokenizer)
    return mix


def test_mined_batches_hold_no_text_twice(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "docs.jsonl", synthetic_rows(200, seed=5))
    for b in take(mined_mix(path, tokenizer), 20):
        keys = b["batch"]["query_keys"].tolist() + b["batch"]["document_keys"].tolist()
        assert len(keys) == len(set(keys))


def test_length_matched_negatives_let_bucketing_pay(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "docs.jsonl", synthetic_rows(400, seed=6))

    def padded(matched: bool) -> float:
        stats = [
            padding_stats(b["batch"]) for b in take(mined_mix(path, tokenizer, length_matched_negatives=matched), 30)
        ]
        return sum(p for p, _ in stats) / sum(t for _, t in stats)

    assert padded(True) < 0.7 * padded(False)
