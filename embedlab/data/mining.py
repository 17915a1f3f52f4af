"""Hard negatives mined from a source's own documents: BM25 (Robertson & Zaragoza 2009) or random.

The pool is the source's training-split documents (its positives, unique by text, in file order,
at most `pool_size`). A negative is never the item's own query or positive, nor any document of the
item's group (the other spans of the same article would be false negatives). BM25 negatives are
drawn at random among the `depth` best-scoring documents, so the hardest (often a near-duplicate)
is not always taken. Scoring is a sparse matrix product over the chunk of items being mined:
queries [Q, V] @ documents^T [V, N] -> scores [Q, N]. No extra dependency (numpy + scipy).
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
        vocabulary: dict[str, int] = {}
        indptr, indices = [0], []
        for document in documents:
            ids = [vocabulary.setdefault(w, len(vocabulary)) for w in words(document)]
            indices.extend(ids)
            indptr.append(len(indices))
        n = len(documents)
        data = np.ones(len(indices), dtype=np.float32)
        counts = sp.csr_matrix(
            (data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=(n, len(vocabulary))
        )
        counts.sum_duplicates()  # [N, V] term frequencies
        lengths = np.diff(np.asarray(indptr)).astype(np.float32)  # [N]
        df = np.bincount(counts.indices, minlength=len(vocabulary)).astype(np.float32)  # [V]
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)  # [V]
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))  # [N]
        tf = counts.data
        rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        counts.data = idf[counts.indices] * tf * (k1 + 1) / (tf + norm[rows])
        self.weights_t = counts.T.tocsr()  # [V, N]
        self.vocabulary = vocabulary
        self.usable = df <= max_df * max(n, 1)  # [V]

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """BM25 scores [Q, N] of every document for every query (sparse: documents sharing no term score 0)."""
        indptr, indices = [0], []
        for query in queries:
            ids = {self.vocabulary[w] for w in words(query) if w in self.vocabulary}
            indices.extend(i for i in ids if self.usable[i])
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        shape = (len(queries), len(self.vocabulary))
        matrix = sp.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(indptr)), shape=shape)  # [Q, V]
        return (matrix @ self.weights_t).tocsr()  # [Q, N]


class NegativeMiner:
    """Chooses hard negatives for items of one source from that source's document pool.

    Args:
        method: `bm25` or `random`.
        documents: the pool's texts (unique).
        groups: the split group of each document.
        depth: BM25 negatives are drawn among this many best-scoring documents.
    """

    def __init__(self, method: MiningMethod, documents: list[str], groups: list[str], depth: int = 20) -> None:
        if method not in ("bm25", "random"):
            raise EmbedlabError(f"mining method {method!r} is not one of: bm25, random")
        if depth < 1:
            raise EmbedlabError(f"mining depth must be at least 1, got {depth}")
        self.method = method
        self.documents = documents
        self.depth = depth
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
        scores = self.index.scores([it.example.query for it in items]) if self.index is not None else None  # [Q, N]
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
                documents, values = documents[keep], values[keep]
                if len(documents) > self.depth:
                    documents = documents[np.argpartition(-values, self.depth - 1)[: self.depth]]
                candidates = np.sort(documents)  # [<= depth]
            else:
                candidates = np.zeros(0, dtype=np.int64)
            if len(candidates) < count:  # random negatives, or BM25 found too few matching documents
                extra = [i for i in rng.integers(n, size=self.depth + 4 * count).tolist() if i not in out]
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
