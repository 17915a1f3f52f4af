"""Hard negatives mined from a source's own documents: BM25 (Robertson & Zaragoza 2009) or random.

The pool is the source's training-split documents (its positives, unique by text, in file order,
at most `pool_size`). A negative is never the item's own query or positive, nor any document of the
item's group (the other spans of the same article would be false negatives). BM25 negatives are
drawn at random among the `depth` best-scoring documents, so the hardest (often a near-duplicate)
is not always taken. Scoring is a sparse matrix product over the chunk of items being mined:
queries [Q, V] @ documents^T [V, N] -> scores [Q, N]. No extra dependency (numpy + scipy).

Positive-aware cut-off (TopK-PercPos of Moreira et al. 2024, "NV-Retriever: Improving text embedding
models with effective hard-negative mining", arXiv:2407.15831, whose setting is 95%): a candidate
scoring above `max_score_ratio` times the query's BM25 score against its own positive is dropped
before the draw. Such candidates are mostly near-duplicates of the positive (another outlet's
version of the same story) and would be false negatives. The positive is scored with the pool's
statistics, also when it is not in the pool (a held-out positive).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp

from embedlab.data.collate import text_key
from embedlab.data.rows import Item
from embedlab.errors import EmbedlabError

_WORD = re.compile(r"\w+")
MiningMethod = Literal["bm25", "random"]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BM25Index:
    """Okapi BM25 over a fixed list of documents.

    Args:
        documents: the texts to search.
        k1: term-frequency saturation.
        b: length normalisation.
        max_df: query terms found in more than this share of documents are ignored (they score ~0
            and would make every product dense).
    """

    def __init__(self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75, max_df: float = 0.5) -> None:
        self.vocabulary: dict[str, int] = {}
        counts, lengths = self._counts(documents, grow=True)  # [N, V] term frequencies, [N] words
        n = len(documents)
        df = np.bincount(counts.indices, minlength=len(self.vocabulary)).astype(np.float32)  # [V]
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)  # [V]
        self.k1, self.b = k1, b
        self.mean_length = max(lengths.mean(), 1.0)
        self.weights_t = self._weigh(counts, lengths).T.tocsr()  # [V, N]
        self.usable = df <= max_df * max(n, 1)  # [V]

    def _counts(self, texts: Sequence[str], grow: bool) -> tuple[sp.csr_matrix, np.ndarray]:
        """Term frequencies [N, V] and lengths in words [N] of `texts`; `grow` adds their words to the
        vocabulary, otherwise words outside it are left out of the counts (not of the lengths)."""
        vocabulary = self.vocabulary
        indptr, indices, lengths = [0], [], []
        for text in texts:
            found = words(text)
            if grow:
                indices.extend(vocabulary.setdefault(w, len(vocabulary)) for w in found)
            else:
                indices.extend(vocabulary[w] for w in found if w in vocabulary)
            indptr.append(len(indices))
            lengths.append(len(found))
        data = np.ones(len(indices), dtype=np.float32)
        counts = sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=(len(texts), len(vocabulary))
        )
        counts.sum_duplicates()  # [N, V]
        return counts, np.asarray(lengths, dtype=np.float32)

    def _weigh(self, counts: sp.csr_matrix, lengths: np.ndarray) -> sp.csr_matrix:
        """BM25 term weights [N, V] of texts as documents of this index (its idf and average length)."""
        norm = self.k1 * (1 - self.b + self.b * lengths / self.mean_length)  # [N]
        tf = counts.data
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        weights = counts.copy()
        weights.data = self.idf[counts.indices] * tf * (self.k1 + 1) / (tf + norm[rows])
        return weights

    def _queries(self, queries: Sequence[str]) -> sp.csr_matrix:
        """The usable distinct terms of each query [Q, V] (0/1)."""
        indptr, indices = [0], []
        for query in queries:
            ids = {self.vocabulary[w] for w in words(query) if w in self.vocabulary}
            indices.extend(i for i in ids if self.usable[i])
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        shape = (len(queries), len(self.vocabulary))
        return sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=shape)  # [Q, V]

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 scores [Q, N] of every document for every query (sparse: documents sharing no term score 0)."""
        return (self._queries(queries) @ self.weights_t).tocsr()  # [Q, N]

    def pair_scores(self, queries: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """The BM25 score [Q] of each query against its own text, scored as a document of this index (a text
        of the index scores as in `scores`; one outside it, e.g. a held-out positive, with the same statistics)."""
        counts, lengths = self._counts(texts, grow=False)  # [Q, V], [Q]
        weights = self._weigh(counts, lengths)  # [Q, V]
        return np.asarray(self._queries(queries).multiply(weights).sum(axis=1), dtype=np.float32).ravel()  # [Q]


class NegativeMiner:
    """Chooses hard negatives for items of one source from that source's document pool.

    Args:
        method: `bm25` or `random`.
        documents: the pool's texts (unique).
        groups: the split group of each document.
        depth: BM25 negatives are drawn among this many best-scoring documents.
        max_score_ratio: BM25 candidates scoring above this fraction of the query's score against its
            positive are dropped (NV-Retriever's positive-aware rule); None: no cut-off.
    """

    def __init__(
        self,
        method: MiningMethod,
        documents: list[str],
        groups: list[str],
        depth: int = 20,
        max_score_ratio: float | None = 0.95,
    ) -> None:
        if method not in ("bm25", "random"):
            raise EmbedlabError(f"mining method {method!r} is not one of: bm25, random")
        if depth < 1:
            raise EmbedlabError(f"mining depth must be at least 1, got {depth}")
        check_score_ratio(max_score_ratio)
        self.method = method
        self.documents = documents
        self.depth = depth
        self.max_score_ratio = max_score_ratio
        self.keys = [text_key(d) for d in documents]
        self.key_index = {key: i for i, key in enumerate(self.keys)}
        self.group_index: dict[str, list[int]] = {}
        for i, group in enumerate(groups):
            self.group_index.setdefault(group, []).append(i)
        self.index = BM25Index(documents) if method == "bm25" else None
        self.lengths = np.asarray([len(d) for d in documents], dtype=np.int64)  # [N] characters
        self._blocked = np.zeros(len(documents), dtype=bool)  # [N] scratch mask

    def mine(
        self,
        items: list[Item],
        count: int,
        rng: np.random.Generator,
        avoid: set[int] | None = None,
        match_chars: int | None = None,
    ) -> None:
        """Set `count` negatives on every item, in place (deterministic given `rng`).

        Args:
            items: the items to mine for (all of this miner's source).
            count: negatives per item.
            rng: the random generator (seeded by the caller from the seed and the batch index).
            avoid: text keys that no negative may have (the other texts of the batch); the keys of the
                negatives chosen are added to it.
            match_chars: prefer negatives as long as the item's positive, both capped at this many
                characters (the length the tokenizer keeps), so length bucketing still pays with mined
                negatives and length is no shortcut; None: any length.
        """
        if count == 0 or not items:
            return
        n = len(self.documents)
        taken = {i for key in (avoid or ()) if (i := self.key_index.get(key)) is not None}
        queries = [it.example.query for it in items]
        scores = self.index.scores(queries) if self.index is not None else None  # [Q, N]
        limits = None
        if scores is not None and self.max_score_ratio is not None:  # [Q] the highest score a negative may have
            limits = self.max_score_ratio * self.index.pair_scores(queries, [it.example.positive for it in items])
        for row, item in enumerate(items):
            out = taken | set(self.group_index.get(item.group, ()))
            out.update(i for key in item.keys if (i := self.key_index.get(key)) is not None)
            if n - len(out) < count:
                raise EmbedlabError(
                    f"source {item.example.source!r}: {n - len(out)} of its {n} documents are left to mine {count} "
                    "negative(s) from once the batch's own texts are excluded: the source is too small for this "
                    "batch size (lower batch_size, or set unique_texts: false)"
                )
            if scores is not None:
                span = slice(scores.indptr[row], scores.indptr[row + 1])
                documents, values = scores.indices[span], scores.data[span]  # [M] the documents sharing a term
                blocked = self._blocked
                blocked[list(out)] = True
                keep = (values > 0) & ~blocked[documents]  # [M]
                blocked[list(out)] = False
                close = set()
                if limits is not None:
                    above = values > limits[row]  # [M] as close to the query as its positive: likely false negatives
                    close = set(documents[above].tolist())
                    keep &= ~above
                documents, values = documents[keep], values[keep]
                if len(documents) > self.depth:
                    documents = documents[np.argpartition(-values, self.depth - 1)[: self.depth]]
                candidates = np.sort(documents)  # [<= depth]
            else:
                candidates, close = np.zeros(0, dtype=np.int64), set()
            if len(candidates) < count:  # random negatives, or BM25 found too few matching documents
                draws = rng.integers(n, size=self.depth + 4 * count).tolist()
                extra = [i for i in draws if i not in out and i not in close]
                candidates = np.unique(np.concatenate([candidates, np.asarray(extra, dtype=np.int64)]))
            chosen = self._pick(
                candidates, count, rng, None if match_chars is None else (len(item.example.positive), match_chars)
            )
            while len(chosen) < count:  # still short (a tiny pool): any document not excluded
                i = int(rng.integers(n))
                if i not in out and i not in chosen:
                    chosen.append(i)
            item.set_negatives([self.documents[i] for i in chosen])
            taken.update(chosen)  # no document twice in one batch
            if avoid is not None:
                avoid.update(self.keys[i] for i in chosen)

    def _pick(self, candidates: np.ndarray, count: int, rng: np.random.Generator, match) -> list[int]:
        """`count` distinct candidates at random; with `match` (length, cap), among those closest in length."""
        if match is not None and len(candidates) > count:
            length, cap = match
            target = min(length, cap)
            gaps = np.abs(np.minimum(self.lengths[candidates], cap) - target)  # [C] characters
            close = candidates[gaps <= max(64, target // 8)]
            candidates = close if len(close) >= count else candidates[np.argsort(gaps, kind="stable")[:count]]
        order = rng.permutation(len(candidates))[:count]
        return [int(candidates[i]) for i in order]


def check_score_ratio(ratio: float | None) -> None:
    """Refuse a cut-off that is not a positive number (or None)."""
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio > 0):
        raise EmbedlabError(
            f"mining_score_cap must be a positive fraction of the positive's BM25 score (e.g. 0.95) or null for "
            f"no cut-off, got {ratio!r}"
        )


def build_pool(items: Iterable[Item], pool_size: int) -> tuple[list[str], list[str], int | None]:
    """The documents (unique positives, in order) and their groups from `items`, stopping at `pool_size`.

    Returns:
        documents, groups, and the number of items read when the iterable ended before the pool
        filled up (None when it was cut short: the source's size is then not known).
    """
    documents: list[str] = []
    groups: list[str] = []
    seen: set[int] = set()
    read = 0
    for item in items:
        read += 1
        key = text_key(item.example.positive)
        if key not in seen:
            seen.add(key)
            documents.append(item.example.positive)
            groups.append(item.group)
            if len(documents) >= pool_size:
                return documents, groups, None
    return documents, groups, read
