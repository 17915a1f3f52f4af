"""Batch composition: determinism, single-source batches, unique texts, length bucketing, weights."""

from __future__ import annotations

from collections import Counter

import pytest

from embedlab.data import LeeBackgroundSource, Source, TrainingMix, padding_stats
from tests.data.conftest import WORDS, batch_texts, small_mix, synthetic_rows, take, write_jsonl


def test_same_seed_same_batches_other_seed_other_batches(two_sources, tokenizer):
    first = [batch_texts(b["batch"]) for b in take(small_mix(two_sources, tokenizer), 12)]
    again = [batch_texts(b["batch"]) for b in take(small_mix(two_sources, tokenizer), 12)]
    other = [batch_texts(b["batch"]) for b in take(small_mix(two_sources, tokenizer, seed=1), 12)]
    assert first == again
    assert first != other


def test_order_does_not_depend_on_the_tokenizer_or_its_limits(two_sources, tokenizer):
    from embedlab.models.byte_tokenizer import byte_level_tokenizer
    from embedlab.models.tokenization import TextTokenizer

    other = TextTokenizer(byte_level_tokenizer(), max_length=20, padding_side="left", mask_instruction=False)
    texts = [
        [e for e in b["batch"]["sources"]] + b["batch"]["query_keys"].tolist()
        for b in take(small_mix(two_sources, tokenizer), 8)
    ]
    again = [
        [e for e in b["batch"]["sources"]] + b["batch"]["query_keys"].tolist()
        for b in take(small_mix(two_sources, other), 8)
    ]
    assert texts == again


def test_single_source_batches_when_enabled_mixed_otherwise(two_sources, tokenizer):
    single = take(small_mix(two_sources, tokenizer), 20)
    assert all(len(set(b["batch"]["sources"])) == 1 for b in single)
    mixed = take(small_mix(two_sources, tokenizer, single_source_batches=False), 20)
    assert any(len(set(b["batch"]["sources"])) == 2 for b in mixed)


def test_weights_set_the_sampling_proportions(two_sources, tokenizer):
    batches = take(small_mix(two_sources, tokenizer, batch_size=2, length_bucketing=False), 300)
    counts = Counter(b["batch"]["sources"][0] for b in batches)
    assert 0.58 < counts["alpha"] / 300 < 0.75  # weights 2:1


def test_no_text_twice_in_a_batch_and_no_example_lost(tmp_path, tokenizer):
    rows = synthetic_rows(40)
    for i in range(0, 40, 4):  # every fourth row shares its positive with the next one
        rows[i + 1]["positive"] = rows[i]["positive"]
    path = write_jsonl(tmp_path / "dupes.jsonl", rows)
    mix = small_mix([path], tokenizer, batch_size=6, val_fraction=0.0, length_bucketing=False)
    batches = take(mix, 30)
    for b in batches:
        keys = b["batch"]["query_keys"].tolist() + b["batch"]["document_keys"].tolist()
        assert len(keys) == len(set(keys))
    first_pass = Counter()
    for b in batches[: 40 // 6]:  # the first pass's examples come out before the second pass's
        first_pass.update(b["batch"]["query_keys"].tolist())
    assert max(first_pass.values()) == 1
    duplicates_allowed = take(small_mix([path], tokenizer, batch_size=6, val_fraction=0.0, unique_texts=False), 30)
    assert any(
        len(set(b["batch"]["document_keys"].tolist())) < len(b["batch"]["document_keys"]) for b in duplicates_allowed
    )


def test_length_bucketing_cuts_padding(two_sources, tokenizer):
    def padded(**overrides):
        mix = small_mix(two_sources, tokenizer, query_max_length=80, document_max_length=400, **overrides)
        stats = [padding_stats(b["batch"]) for b in take(mix, 32)]
        return sum(p for p, _ in stats) / sum(t for _, t in stats)

    assert padded(length_bucketing=True, num_negatives=0) < 0.5 * padded(length_bucketing=False, num_negatives=0)
    # a row's own negative has an unrelated length: its padding remains, but the widths still shrink
    assert padded(length_bucketing=True) < 0.85 * padded(length_bucketing=False)


def test_instructions_come_from_each_source(two_sources, tokenizer):
    from embedlab.data.collate import Example

    seen = {}
    mix = small_mix(two_sources, tokenizer)
    collate = mix.collator

    def spy(examples: list[Example]):
        for e in examples:
            seen[e.source] = e.instruction
        return original(examples)

    original, collate.__class__ = collate.__call__, type("Spy", (type(collate),), {"__call__": lambda self, x: spy(x)})
    take(mix, 6)
    assert seen == {"alpha": "Instruct: task alpha\nQuery: ", "bravo": "Instruct: task bravo\nQuery: "}


class SpanSource(Source):
    """Documents of four sentences, three span pairs each (a sentence -> the rest), one group per document,
    in file order: the spans of a document are neighbours, and their positives tie in length."""

    def __init__(self, documents: int = 40, **kwargs) -> None:
        self.record_args(locals())
        super().__init__(**kwargs)
        self.documents = documents

    def default_name(self) -> str:
        return "spans"

    def rows(self):
        for d in range(self.documents):
            sentences = [f"Document {d:03d} sentence {s} says {WORDS[(d + s) % len(WORDS)]}." for s in range(4)]
            for index in range(3):
                rest = " ".join(x for i, x in enumerate(sentences) if i != index)
                yield self.item({"query": sentences[index], "positive": rest}, SPAN_COLUMNS, f"doc {d}", f"doc{d}")


SPAN_COLUMNS = {"query": "query", "positive": "positive"}


def same_group_batches(composer, count: int) -> tuple[int, list]:
    """(batches holding two or more items of one group among the first `count`, those batches' items)."""
    found, items = 0, []
    for composed in composer:
        found += max(Counter(it.group for it in composed.items).values()) >= 2
        items += composed.items
        if composed.index + 1 == count:
            break
    return found, items


def test_unique_texts_keeps_the_spans_of_one_document_apart():
    def mix(**overrides):
        settings = dict(batch_size=8, num_negatives=0, num_workers=0, val_fraction=0.0, shuffle_buffer=16)
        return TrainingMix([SpanSource()], **{**settings, **overrides})

    together, _ = same_group_batches(mix(unique_texts=False).recipe.composer(), 15)
    assert together >= 5  # bucketing puts a document's spans (tied lengths) side by side
    apart, items = same_group_batches(mix().recipe.composer(), 18)  # 120 spans a pass: 15 batches
    assert apart == 0
    assert {it.example.query for it in items} == {it.example.query for it in SpanSource().rows()}  # none lost


def test_no_lee_background_batch_holds_two_spans_of_one_document():
    from embedlab.assets import is_fetched

    if not is_fetched("gensim-data"):
        pytest.skip("offline corpora not fetched: run `embedlab assets fetch gensim-data`")
    # the offline mix's settings (configs/data/offline-mix.yaml), its Lee source alone
    lee = LeeBackgroundSource(spans_per_document=3, negatives="bm25")
    settings = dict(batch_size=16, bucket_window=16, query_max_length=64, document_max_length=128, val_fraction=0.05)
    for unique, expected in ((False, lambda n: n >= 10), (True, lambda n: n == 0)):
        mix = TrainingMix([lee], num_workers=0, unique_texts=unique, **settings)
        found, _ = same_group_batches(mix.recipe.composer(), 60)
        assert expected(found), (unique, found)
