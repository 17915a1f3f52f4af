"""Fixtures for the data tests: small synthetic sources on disk and a byte-level tokenizer."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from embedlab.data import JsonlSource, TrainingMix
from embedlab.models.byte_tokenizer import byte_level_tokenizer
from embedlab.models.tokenization import TextTokenizer

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa".split()


def synthetic_rows(n: int, seed: int = 0, prefix: str = "") -> list[dict]:
    """`n` distinct {query, positive, negative} rows with lengths that vary widely."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60)))
        rows.append(
            {
                "query": f"{prefix}q{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))),
                "positive": f"{prefix}p{i} {body}",
                "negative": f"{prefix}n{i} " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60))),
            }
        )
    return rows


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


@pytest.fixture
def tokenizer() -> TextTokenizer:
    return TextTokenizer(byte_level_tokenizer(), max_length=48)


@pytest.fixture
def two_sources(tmp_path):
    """Two JSONL files of 120 and 60 rows."""
    a = write_jsonl(tmp_path / "alpha.jsonl", synthetic_rows(120, seed=1, prefix="a"))
    b = write_jsonl(tmp_path / "bravo.jsonl", synthetic_rows(60, seed=2, prefix="b"))
    return a, b


def small_mix(paths, tokenizer=None, **overrides) -> TrainingMix:
    """A TrainingMix over JSONL files (weights 2:1, data negatives), connected when a tokenizer is given."""
    settings = dict(batch_size=4, num_negatives=1, num_workers=0, val_fraction=0.1, val_batches=2, shuffle_buffer=32)
    settings.update(overrides)
    weights = [2.0, 1.0, 1.0, 1.0][: len(paths)]
    sources = [JsonlSource(str(p), weight=w, instruction=f"task {p.stem}") for p, w in zip(paths, weights, strict=True)]
    mix = TrainingMix(sources, **settings)
    if tokenizer is not None:
        mix.connect(tokenizer)
    return mix


def take(mix: TrainingMix, count: int) -> list[dict]:
    """The next `count` training batches, consumed as a fit would (their `mix` state popped)."""
    if mix.train_stream is None:
        mix.prepare_streams()
    out: list[dict] = []
    loader = mix.train_dataloader()
    while len(out) < count:  # epoch after epoch, as the fit loop does
        for batch in loader:
            meta = batch["mix"]
            mix.on_before_batch_transfer(batch, 0)
            out.append({"meta": meta, "batch": batch})
            if len(out) == count:
                break
    return out


def batch_texts(batch: dict) -> tuple:
    return tuple(batch["query_keys"].tolist()), tuple(batch["document_keys"].tolist())
