"""Paired randomisation (permutation) tests of metric(A) = metric(B) within one task.

Under the null hypothesis the two variants are exchangeable on every example, so swapping their
outputs on a random subset of examples gives a draw of the statistic under the null (Noreen 1989;
Dror et al. 2018). Two-sided p = (1 + #{|null| >= |observed|}) / (1 + R). How each metric kind
swaps (signs, normalised ranks, matched cluster ids) is explained in `paired`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from embedlab.analysis.metrics import pearson_rows, rank_rows, v_measure_rows
from embedlab.analysis.paired import DocumentDraws, PairedSample
from embedlab.analysis.resampling import block_size, map_blocks


@dataclass(frozen=True)
class PermutationResult:
    """Paired randomisation test of metric(A) - metric(B) = 0 (two-sided).

    Args:
        delta: Observed difference.
        pvalue: (1 + #extreme) / (1 + n_permutations).
        null: The differences under random swaps, shape (n_permutations,).
    """

    delta: float
    pvalue: float
    null: NDArray[np.float64]


def _swapped_deltas(sample: PairedSample, swap: NDArray[np.bool_]) -> NDArray[np.float64]:
    # metric(A') - metric(B') for each row of the swap mask (rows, n), A' taking B's output where swapped.
    rows, n = swap.shape
    if sample.kind == "mean":
        d = sample.a.mean(axis=0) - sample.b.mean(axis=0)  # (n,)
        signs = 1.0 - 2.0 * swap  # (rows, n)
        return signs @ d / n
    out = np.zeros(rows)
    if sample.kind == "spearman":
        gold = rank_rows(sample.reference[None, :])  # (1, n)
        for a, b in zip(sample.a, sample.b, strict=True):
            ra, rb = rank_rows(a[None, :])[0] / n, rank_rows(b[None, :])[0] / n  # common [0, 1] scale
            xa, xb = np.where(swap, rb, ra), np.where(swap, ra, rb)  # (rows, n)
            out += pearson_rows(rank_rows(xa), gold) - pearson_rows(rank_rows(xb), gold)
        return out / sample.a.shape[0]
    k = int(sample.reference.max()) + 1
    labels = np.broadcast_to(sample.reference, (rows, n))
    for a, b in zip(sample.a, sample.b, strict=True):
        b_matched, c = match_clusters(a, b)
        xa, xb = np.where(swap, b_matched, a), np.where(swap, a, b_matched)  # (rows, n)
        out += v_measure_rows(labels, xa, k, c) - v_measure_rows(labels, xb, k, c)
    return out / sample.a.shape[0]


def match_clusters(a: NDArray[np.integer], b: NDArray[np.integer]) -> tuple[NDArray[np.int64], int]:
    """Relabel clustering `b` so its clusters carry the ids of the clusters of `a` they overlap most.

    Args:
        a: Cluster codes of A, in [0, C_a).
        b: Cluster codes of B, in [0, C_b).

    Returns:
        B's codes in A's id space (unmatched B clusters get new ids from C_a up) and the number of ids.
    """
    ca, cb = int(a.max()) + 1, int(b.max()) + 1
    overlap = np.bincount(a.astype(np.int64) * cb + b, minlength=ca * cb).reshape(ca, cb)  # (C_a, C_b)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    mapping = np.full(cb, -1, dtype=np.int64)
    mapping[cols] = rows
    unmatched = np.flatnonzero(mapping < 0)
    mapping[unmatched] = ca + np.arange(unmatched.size)
    return mapping[b], ca + int(unmatched.size)


def permutation_null(
    sample: PairedSample, n_permutations: int = 10_000, seed: int | Iterable[int] = 0, *, n_jobs: int | None = None
) -> NDArray[np.float64]:
    """Differences metric(A') - metric(B') under random per-example swaps of the two variants.

    Args:
        sample: The paired outputs.
        n_permutations: Random swap patterns.
        seed: Seed of the randomisation.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        The null distribution, shape (n_permutations,).
    """
    n = sample.n

    def fn(rng: np.random.Generator, size: int) -> NDArray:
        swap = rng.integers(0, 2, size=(size, n), dtype=np.int8).astype(bool)  # (size, n)
        return _swapped_deltas(sample, swap)

    return map_blocks(fn, n_permutations, seed, block_size(n, n_permutations), n_jobs)


def document_permutation_null(
    a: ArrayLike,
    b: ArrayLike,
    reference: ArrayLike,
    structure: DocumentDraws,
    n_permutations: int = 10_000,
    seed: int | Iterable[int] = 0,
    *,
    n_jobs: int | None = None,
) -> NDArray[np.float64]:
    """Randomisation null of a weighted mean over draws of V-measure, swapping documents.

    Each swap pattern exchanges A's and B's cluster assignments of a document on every line it
    fills, in every draw, together (the document is the exchangeable unit). Within each draw B's
    clusters are first relabelled to match A's (`match_clusters`), as in the per-line test, and each
    draw's V-measures are recomputed. With one line per document and one draw this is
    `permutation_null` with kind `v_measure`, pattern for pattern.

    Args:
        a: Cluster codes of A, shape (seeds, n).
        b: Cluster codes of B, same shape, seeds paired.
        reference: True label codes, shape (n,).
        structure: Document and draw of every line.
        n_permutations: Random swap patterns.
        seed: Seed of the randomisation.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        The null distribution of sum over draws of weight x (V(A') - V(B')) (mean over seeds), shape (n_permutations,).
    """
    a2, b2, ref = np.atleast_2d(np.asarray(a)), np.atleast_2d(np.asarray(b)), np.asarray(reference)
    k, docs = int(ref.max()) + 1, structure.n_items
    per_draw = []  # (weight, labels, document per line, [(A, matched B, ids) per seed]) of every draw
    for w, lines in zip(structure.weights, structure.lines, strict=True):
        seeds = [(x[lines], *match_clusters(x[lines], y[lines])) for x, y in zip(a2, b2, strict=True)]
        per_draw.append((w, ref[lines], structure.items[lines], seeds))

    def fn(rng: np.random.Generator, size: int) -> NDArray:
        swap = rng.integers(0, 2, size=(size, docs), dtype=np.int8).astype(bool)  # (size, docs)
        out = np.zeros(size)
        for w, labels, items, seeds in per_draw:
            swapped = swap[:, items]  # (size, m): a line swaps with its document
            labels_b = np.broadcast_to(labels, swapped.shape)
            for x, y, c in seeds:
                xa, xb = np.where(swapped, y, x), np.where(swapped, x, y)  # (size, m)
                out += w * (v_measure_rows(labels_b, xa, k, c) - v_measure_rows(labels_b, xb, k, c)) / len(seeds)
        return out

    widest = max(docs, *(lines.size for lines in structure.lines))
    return map_blocks(fn, n_permutations, seed, block_size(widest, n_permutations), n_jobs)


def permutation_pvalue(observed: float, null: ArrayLike) -> float:
    """Two-sided randomisation p-value, (1 + #{|null| >= |observed|}) / (1 + R).

    A relative tolerance of 1e-9 counts a null value equal to the observed one up to rounding as
    extreme, so identical outputs give p = 1, not a rounding accident.

    Args:
        observed: The observed difference.
        null: The differences under the null, shape (R,).

    Returns:
        The p-value in (0, 1].
    """
    null = np.asarray(null, dtype=np.float64)
    threshold = abs(observed) - 1e-9 * max(1.0, abs(observed))
    extreme = int(np.count_nonzero(np.abs(null) >= threshold))
    return (1.0 + extreme) / (1.0 + null.shape[0])


def permutation_test(
    sample: PairedSample, n_permutations: int = 10_000, seed: int | Iterable[int] = 0, *, n_jobs: int | None = None
) -> PermutationResult:
    """Paired randomisation test of metric(A) = metric(B), two-sided.

    Args:
        sample: The paired outputs.
        n_permutations: Random swap patterns.
        seed: Seed of the randomisation.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        The observed difference, the p-value and the null distribution.
    """
    observed = float(_swapped_deltas(sample, np.zeros((1, sample.n), dtype=bool))[0])
    null = permutation_null(sample, n_permutations, seed, n_jobs=n_jobs)
    return PermutationResult(delta=observed, pvalue=permutation_pvalue(observed, null), null=null)
