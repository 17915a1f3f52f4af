"""Mined hard negatives: BM25 ranking, exclusions, determinism, and length matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from embedlab.data import JsonlSource, TrainingMix, padding_stats
from embedlab.data.collate import Example
from embedlab.data.mining import BM25Index, NegativeMiner
from embedlab.data.rows import Item
from embedlab.errors import EmbedlabError
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


def test_pair_scores_are_bm25_with_the_index_statistics():
    index = BM25Index(["a b", "c"])  # idf(a) = ln(1 + 1.5 / 1.5) = ln 2; mean length 1.5 words
    # "a b" as a document: k1 (1 - b + b * 2 / 1.5) = 1.5, one `a`: ln2 * 2.2 / (1 + 1.5)
    assert index.scores(["a"]).toarray()[0, 0] == pytest.approx(math.log(2) * 2.2 / 2.5, rel=1e-6)
    # "a a x" outside the index (x unknown, still counted in its length): 1.2 (0.25 + 0.75 * 3 / 1.5) = 2.1;
    # "c" (one word): 1.2 (0.25 + 0.75 / 1.5) = 0.9, and the query's `b` is not in it
    pairs = index.pair_scores(["a", "a", "c b", "a"], ["a a x", "a b", "c", "x y"])
    expected = [math.log(2) * 2 * 2.2 / (2 + 2.1), math.log(2) * 2.2 / 2.5, math.log(2) * 2.2 / 1.9, 0.0]
    assert pairs == pytest.approx(expected, rel=1e-6)


NEAR = [
    "storm floods the river town and closes the bridge",  # 0: the positive
    "Storm floods the river town, and closes the bridge!",  # 1: another outlet's copy: 1.0 of the positive's score
    "storm floods the river town and closes the road",  # 2: 0.77
    "river bridge repairs begin in the town",  # 3: 0.66
    "a storm passes",  # 4: 0.27
    *["markets rally as rates fall", "the central bank holds rates", "a football club wins the cup"],  # 0
    *["new phones go on sale", "the film festival opens"],
]
QUERY = "storm floods river town bridge"


def chosen_over_seeds(cap, seeds: int = 60) -> set[int]:
    miner = NegativeMiner("bm25", NEAR, [f"g{i}" for i in range(len(NEAR))], depth=10, max_score_ratio=cap)
    chosen = set()
    for seed in range(seeds):
        item = Item(Example(QUERY, NEAR[0]), "g0")
        miner.mine([item], 1, np.random.default_rng(seed))
        chosen.add(NEAR.index(item.example.negatives[0]))
    return chosen


def test_negatives_above_a_fraction_of_the_positive_score_are_dropped():
    index = BM25Index(NEAR)
    scores = index.scores([QUERY]).toarray()[0]  # [10]
    assert scores / scores[0] == pytest.approx([1, 1, 0.7697, 0.6638, 0.2700, 0, 0, 0, 0, 0], abs=1e-4)
    assert index.pair_scores([QUERY], [NEAR[0]])[0] == pytest.approx(scores[0], rel=1e-6)
    assert chosen_over_seeds(None) == {1, 2, 3, 4}  # no cut-off: the copy of the positive is drawn too
    assert chosen_over_seeds(0.95) == {2, 3, 4}  # NV-Retriever's rule, the default
    assert chosen_over_seeds(0.7) == {3, 4}
    assert chosen_over_seeds(0.2) == {5, 6, 7, 8, 9}  # none left below the cap: random ones, not those above it
    with pytest.raises(EmbedlabError, match="mining_score_cap must be a positive fraction"):
        NegativeMiner("bm25", NEAR, ["g"] * len(NEAR), max_score_ratio=0)


def test_the_cut_off_is_a_mix_setting_recorded_with_the_order(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "docs.jsonl", synthetic_rows(60, seed=3))
    assert mined_mix(path, tokenizer).recipe.config()["mining_score_cap"] == 0.95
    mix = mined_mix(path, tokenizer, mining_score_cap=None)
    assert mix.recipe.config()["mining_score_cap"] is None
    assert mix.recipe.miners()[0]["docs"].max_score_ratio is None
    with pytest.raises(EmbedlabError, match="mining_score_cap"):
        mined_mix(path, tokenizer, mining_score_cap=-1)
