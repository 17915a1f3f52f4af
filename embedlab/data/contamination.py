"""Evaluation texts must never be trained on: find the training texts that hold one.

What is compared. The evaluation side is exactly what the evaluator feeds the model: every task is
built and `load_data()`-ed as the evaluator does (the offline suites' tasks by default, any task file
or task name on request), and every text of every split is taken from its dataset (queries, corpus,
sentences of both sides of a pair, classification train and test texts; ids, labels and scores are
not texts). So BBC bodies are the 400-character leads the tasks use and tweets are the URL-free ones,
and a new offline task is covered as soon as it is in a suite. The training side is every query,
positive and negative of every row of the mix's sources (mined negatives are positives of the same
sources).

Normalisation (`normalised_words`): Unicode NFKC, case folding, URLs removed (the suite's own
`URL` pattern), then the words are the runs of letters, digits and underscores (`\\w+`): punctuation
and whitespace only separate words, so quotes, dashes, line breaks and spacing never matter.

Rule. A training text is contaminated by an evaluation text of at least `NGRAM` (13) words when the
word 13-grams they share cover at least `threshold` (default 0.5) of the evaluation text's words:
a copy, a copy inside a longer text, a copy cut at another place or with a sentence changed. This
share is never below the share of the evaluation text's 13-grams held (so it flags everything the
">= 50% of 13-grams" rule flags), and unlike it stays above the threshold when a sentence in the
middle of a 400-character lead is rewritten. An evaluation text shorter than 13 words (a headline,
a short tweet, a word of WordSim353) counts only when a training text equals it after
normalisation: finding a few words inside a news article is a coincidence of language, not a leak.
N-grams are hashed to 64 bits; a collision can only add a false alarm, never hide an overlap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from embedlab.data.rows import BadRow
from embedlab.data.sources.base import Source

NGRAM = 13
THRESHOLD = 0.5
_WORD = re.compile(r"\w+")
_PRIME = np.uint64(0x100000001B3)
_NOT_TEXT_COLUMNS = frozenset({"id", "label", "labels", "score", "query_id", "corpus_id", "doc_id"})
_NOT_TEXT_KEYS = frozenset({"relevant_docs", "top_ranked"})  # retrieval splits: id -> ids / relevance


def normalised_words(text: str) -> list[str]:
    """The words of `text` as the check compares them: NFKC, case-folded, URLs removed, `\\w+` runs."""
    from embedlab.eval.offline.data import URL

    return _WORD.findall(URL.sub(" ", unicodedata.normalize("NFKC", text).casefold()))


def dataset_texts(dataset: Any) -> list[str]:
    """Every non-empty text of a loaded mteb task's `dataset` (any nesting of dicts, splits and lists), in order."""
    from datasets import Dataset

    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if value.strip():
                out.append(value)
        elif isinstance(value, Dataset):
            for column in value.column_names:
                if column not in _NOT_TEXT_COLUMNS:
                    walk(list(value[column]))  # a datasets Column, not a list
        elif isinstance(value, dict):
            for key, item in value.items():
                if key not in _NOT_TEXT_KEYS:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(dataset)
    return out


def evaluation_texts(tasks: Any = None) -> dict[str, list[str]]:
    """The texts each evaluation task feeds the model, by task name (each task's texts once, in order).

    Args:
        tasks: anything `embedlab.eval.resolve_tasks` accepts (suite and task names, task files, mteb
            tasks); default: every task of every offline suite. Each task is loaded as the evaluator
            loads it, so the texts are the evaluated ones, not the raw files.
    """
    from embedlab.eval.offline import ALL_OFFLINE_TASKS
    from embedlab.eval.suites import resolve_tasks

    loaded = [cls() for cls in ALL_OFFLINE_TASKS.values()] if tasks is None else resolve_tasks(tasks)
    texts = {}
    for task in loaded:
        task.load_data()
        texts[task.metadata.name] = list(dict.fromkeys(dataset_texts(task.dataset)))
    return texts


def _ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """Hashes [len(ids) - n + 1] of every window of `n` word ids (uint64, wrapping)."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            out = out * _PRIME + ids[k : k + count]
    return out


@dataclass(frozen=True)
class Overlap:
    """A training text that holds an evaluation text: indices into the two lists, and the share of words."""

    evaluation: int
    training: int
    fraction: float  # of the evaluation text's words inside 13-grams the training text holds (1.0: all, or equal)


class OverlapIndex:
    """The evaluation texts' word n-grams (hashed, with their positions) and short texts, to scan training texts.

    Args:
        texts: the evaluation texts (repeats are kept once).
        n: n-gram length in words; shorter texts are matched exactly.
    """

    def __init__(self, texts: Iterable[str], n: int = NGRAM) -> None:
        self.n = n
        self.texts = list(dict.fromkeys(texts))
        self.vocabulary: dict[str, int] = {}  # word -> id >= 1; 0 is a word no evaluation text has
        self.exact: dict[str, list[int]] = {}  # normalised short text -> evaluation indices
        self.words = np.zeros(len(self.texts), dtype=np.int64)  # words per evaluation text
        hashes, owners, positions = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for i, text in enumerate(self.texts):
            words = normalised_words(text)
            self.words[i] = len(words)
            if not words:
                continue
            if len(words) < n:
                self.exact.setdefault(" ".join(words), []).append(i)
                continue
            ids = np.fromiter((self.vocabulary.setdefault(w, len(self.vocabulary) + 1) for w in words), np.uint64)
            hashes.append(_ngram_hashes(ids, n))  # [len(words) - n + 1]
            owners.append(np.full(len(words) - n + 1, i, dtype=np.int64))
            positions.append(np.arange(len(words) - n + 1, dtype=np.int64))
        every = np.concatenate(hashes)
        order = np.argsort(every, kind="stable")  # sorted by hash: a hash may have several (owner, position)s
        self.hashes, self.owners = every[order], np.concatenate(owners)[order]
        self.positions = np.concatenate(positions)[order]

    def scan(self, texts: Sequence[str], threshold: float = THRESHOLD) -> list[Overlap]:
        """Every (evaluation text, training text) pair where the training text holds 13-grams covering at least
        `threshold` of the evaluation text's words, or equals a short evaluation text; sorted by indices.

        Word coverage is never below the share of the evaluation text's 13-grams held, so this flags all that
        rule flags, and also a copy with a sentence changed in the middle (both sides keep their 13-grams).
        """
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        found: dict[tuple[int, int], float] = {}
        stream: list[int] = []  # word ids of all training texts, each followed by a 0 (no window spans two)
        lengths = np.zeros(len(texts), dtype=np.int64)
        for t, text in enumerate(texts):
            words = normalised_words(text)
            for e in self.exact.get(" ".join(words), ()):
                found[e, t] = 1.0
            stream += [self.vocabulary.get(w, 0) for w in words]
            stream.append(0)
            lengths[t] = len(words) + 1
        ids = np.asarray(stream, dtype=np.uint64)  # [W]
        owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)  # [W] training text of each word
        grams = _ngram_hashes(ids, self.n)  # [W - n + 1] the window starting at each word
        hit = np.zeros(0, dtype=np.int64)  # windows whose n-gram some evaluation text has
        if len(grams) and len(self.hashes):
            zeros = np.concatenate([[0], np.cumsum(ids == 0)])  # [W + 1]
            known = zeros[self.n :] == zeros[: len(grams)]  # windows of evaluation words only
            at = np.minimum(np.searchsorted(self.hashes, grams), len(self.hashes) - 1)
            hit = np.flatnonzero(known & (self.hashes[at] == grams))
        if len(hit):
            pairs = np.unique(np.stack([owner[hit], grams[hit].view(np.int64)], axis=1), axis=0)  # [P, 2]
            low = np.searchsorted(self.hashes, pairs[:, 1].view(np.uint64), "left")
            count = np.searchsorted(self.hashes, pairs[:, 1].view(np.uint64), "right") - low  # [P]
            at = np.arange(count.sum()) + np.repeat(low - (np.cumsum(count) - count), count)  # [M] into the index
            key = np.repeat(pairs[:, 0], count) * len(self.texts) + self.owners[at]  # [M] training x evaluation
            position = self.positions[at]  # [M] where the shared n-gram starts in the evaluation text
            order = np.lexsort((position, key))
            key, position = key[order], position[order]
            first = np.concatenate([[True], key[1:] != key[:-1]])  # [M] first shared n-gram of a pair
            # words covered: a pair's first n-gram adds n words, each later one the gap to the previous (at most n)
            added = np.where(first, self.n, np.minimum(np.diff(position, prepend=0), self.n))
            starts = np.flatnonzero(first)
            train, evaluated = np.divmod(key[starts], len(self.texts))
            share = np.add.reduceat(added, starts) / self.words[evaluated]
            for t, e, f in zip(*(a[share >= threshold].tolist() for a in (train, evaluated, share)), strict=True):
                found[e, t] = f
        return [Overlap(e, t, f) for (e, t), f in sorted(found.items())]


def training_texts(sources: list[Source]) -> dict[str, list[str]]:
    """Every distinct text of every row of `sources` (queries, positives, negatives), by source name."""
    texts: dict[str, dict[str, None]] = {}
    for source in sources:
        held = texts.setdefault(source.name, {})
        for entry in source.rows():
            if not isinstance(entry, BadRow):
                held.update(dict.fromkeys([entry.example.query, entry.example.positive, *entry.example.negatives]))
    return {name: list(held) for name, held in texts.items()}


@dataclass(frozen=True)
class Hit:
    """An evaluation text of `task` that a training text of `source` holds (`fraction` of its n-grams)."""

    task: str
    source: str
    evaluation_text: str
    training_text: str
    fraction: float


def find_contamination(
    sources: list[Source] | dict[str, list[str]], tasks: Any = None, threshold: float = THRESHOLD
) -> dict[str, list[Hit]]:
    """Evaluation texts held by training texts, by task name (every task checked is a key; empty list: clean).

    Args:
        sources: the mix's sources, or their texts by source name (`training_texts`).
        tasks: the evaluation tasks (see `evaluation_texts`; default: every offline suite's tasks), or their
            texts by task name.
        threshold: the share of an evaluation text's words that 13-grams shared with a training text must cover.
    """
    evaluation = tasks if isinstance(tasks, dict) else evaluation_texts(tasks)
    index = OverlapIndex(text for texts in evaluation.values() for text in texts)
    tasks_of: dict[str, list[str]] = {}
    for task, texts in evaluation.items():
        for text in texts:
            tasks_of.setdefault(text, []).append(task)
    found: dict[str, list[Hit]] = {task: [] for task in evaluation}
    by_source = sources if isinstance(sources, dict) else training_texts(sources)
    for name, texts in by_source.items():
        for overlap in index.scan(texts, threshold):
            text = index.texts[overlap.evaluation]
            for task in tasks_of[text]:
                found[task].append(Hit(task, name, text, texts[overlap.training], overlap.fraction))
    return found
