"""Paired per-example tests within one task: bootstrap intervals and randomisation p-values.

Two variants scored on the same examples of one task. Three kinds of main score, each recomputed
on every resample, never approximated by a mean of per-example numbers it is not:

- `mean`: retrieval (nDCG@10 per query) and classification (correctness per item). The metric is
  a mean over examples, so a resample is a mean over resampled examples and the randomisation test
  flips the sign of each example's difference.
- `spearman`: STS. Pairs are resampled and Spearman(gold, similarity) is recomputed for both
  variants on every resample (ranks recomputed, ties averaged). The randomisation test swaps the
  two variants' outputs per pair after mapping each variant's similarities to normalised ranks:
  Spearman ignores any monotone map, and raw cosines of two models live on different scales, so
  swapping them raw would punish both pseudo-systems for the scale mismatch.
- `v_measure`: clustering. Items are resampled and V-measure recomputed from the contingency table.
  The randomisation test swaps cluster assignments per item after relabelling B's clusters to
  match A's (maximum-overlap assignment, `scipy.optimize.linear_sum_assignment`): cluster ids of two
  clusterings mean nothing to each other, V-measure ignores relabelling, and swapping unmatched ids
  would split every cluster of both pseudo-systems. (Keeping the ids disjoint instead rejected 9.8%
  of 500 null comparisons at alpha = 0.05; matched ids rejected 3.4%, see `calibration`.)
  When lines repeat documents (mteb's `.v2` draws, `DocumentDraws`), documents are resampled and
  swapped instead, each with all its lines (`document_bootstrap_replicates`,
  `randomisation.document_permutation_null`).

Several seeds: outputs are (seeds, n) arrays paired by seed; the statistic is the mean over seeds of
the per-seed metric, and every seed sees the same resample (or the same swaps), since the examples
are shared. Bootstrap intervals are percentile intervals (Berg-Kirkpatrick et al. 2012; Efron &
Tibshirani 1993); randomisation p-values are two-sided, p = (1 + #{|null| >= |observed|}) / (1 + R)
(Noreen 1989; Dror et al. 2018).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from embedlab.analysis.metrics import factorize, pearson_rows, rank_rows, v_measure_rows
from embedlab.analysis.resampling import (
    block_size,
    bootstrap_means,
    draw_indices,
    map_blocks,
    percentile_interval,
    resample_counts,
)

MetricKind = Literal["mean", "spearman", "v_measure"]
KINDS: tuple[str, ...] = ("mean", "spearman", "v_measure")


@dataclass(frozen=True)
class PairedSample:
    """Per-example outputs of two variants on one task, aligned by example id and by seed.

    Build it with `PairedSample.build`, which validates shapes and encodes cluster ids.

    Args:
        kind: `mean`, `spearman` or `v_measure`.
        a: Outputs of variant A, shape (seeds, n): per-example scores (`mean`), similarities
            (`spearman`) or cluster codes (`v_measure`).
        b: Outputs of variant B, same shape, seeds in the same order.
        reference: Gold similarity per pair (`spearman`) or true label code per item (`v_measure`);
            None for `mean`.
    """

    kind: str
    a: NDArray
    b: NDArray
    reference: NDArray | None = None

    @classmethod
    def build(cls, kind: str, a: ArrayLike, b: ArrayLike, reference: ArrayLike | None = None) -> PairedSample:
        """Validate and encode the outputs of two variants.

        Args:
            kind: `mean`, `spearman` or `v_measure`.
            a: Variant A's outputs, shape (n,) for one seed or (seeds, n).
            b: Variant B's outputs, same shape as `a`.
            reference: Gold scores (`spearman`) or true labels (`v_measure`), shape (n,).

        Returns:
            The sample, with cluster ids and labels mapped to integer codes for `v_measure`.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown metric kind {kind!r}; valid kinds: {', '.join(KINDS)}")
        a2, b2 = np.atleast_2d(np.asarray(a)), np.atleast_2d(np.asarray(b))
        if a2.shape != b2.shape:
            raise ValueError(f"paired outputs must have the same (seeds, n) shape, got {a2.shape} and {b2.shape}")
        if a2.shape[1] < 2:
            raise ValueError(f"need at least 2 paired examples, got {a2.shape[1]}")
        ref = None
        if kind == "mean":
            a2, b2 = a2.astype(np.float64), b2.astype(np.float64)
        elif kind == "spearman":
            a2, b2 = a2.astype(np.float64), b2.astype(np.float64)
            ref = _reference(reference, a2.shape[1], kind).astype(np.float64)
        else:
            a2 = np.stack([factorize(row)[0] for row in a2])
            b2 = np.stack([factorize(row)[0] for row in b2])
            ref = factorize(_reference(reference, a2.shape[1], kind))[0]
        return cls(kind=kind, a=a2, b=b2, reference=ref)

    @property
    def n(self) -> int:
        """Number of paired examples."""
        return int(self.a.shape[1])


def _reference(reference: ArrayLike | None, n: int, kind: str) -> NDArray:
    if reference is None:
        raise ValueError(f"kind {kind!r} needs `reference` (gold scores or true labels)")
    ref = np.asarray(reference).reshape(-1)
    if ref.shape[0] != n:
        raise ValueError(f"reference has {ref.shape[0]} entries but the outputs have {n} examples")
    return ref


@dataclass(frozen=True)
class BootstrapResult:
    """Paired bootstrap of metric(A) - metric(B).

    Args:
        delta: Observed difference.
        ci_low: Lower percentile bound.
        ci_high: Upper percentile bound.
        replicates: The resampled differences, shape (n_resamples,).
    """

    delta: float
    ci_low: float
    ci_high: float
    replicates: NDArray[np.float64]


def metric_value(kind: str, outputs: ArrayLike, reference: ArrayLike | None = None) -> float:
    """The task's main score of one variant, averaged over seeds.

    Args:
        kind: `mean`, `spearman` or `v_measure`.
        outputs: Shape (n,) or (seeds, n), encoded as in `PairedSample`.
        reference: Gold scores or label codes, shape (n,).

    Returns:
        The metric.
    """
    x = np.atleast_2d(np.asarray(outputs))
    n = x.shape[1]
    return float(_resampled(kind, x, None if reference is None else np.asarray(reference), np.arange(n)[None, :])[0])


def _resampled(kind: str, outputs: NDArray, reference: NDArray | None, idx: NDArray) -> NDArray[np.float64]:
    # Seed-averaged metric of one variant on each row of the index matrix idx (rows, n).
    if kind == "mean":
        return outputs.astype(np.float64).mean(axis=0)[idx].mean(axis=1)
    if kind == "spearman":
        gold = rank_rows(reference[idx])  # (rows, n)
        return np.mean([pearson_rows(rank_rows(o[idx]), gold) for o in outputs], axis=0)
    labels = reference[idx]  # (rows, n)
    k = int(reference.max()) + 1
    return np.mean([v_measure_rows(labels, o[idx], k, int(o.max()) + 1) for o in outputs], axis=0)


def bootstrap_replicates(
    kind: str,
    outputs: Mapping[str, ArrayLike],
    reference: ArrayLike | None = None,
    n_resamples: int = 10_000,
    seed: int | Iterable[int] = 0,
    *,
    n_jobs: int | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Bootstrap the metric of several variants on the same resamples of one task.

    Any pair's replicated difference is then the difference of two entries, so a task costs one
    bootstrap per variant, not one per pair.

    Args:
        kind: `mean`, `spearman` or `v_measure`.
        outputs: Variant name -> outputs of shape (seeds, n), encoded as in `PairedSample`.
        reference: Gold scores or label codes, shape (n,).
        n_resamples: Bootstrap resamples.
        seed: Seed (or `stable_seed` entropy) of this task.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        Variant name -> resampled metric, shape (n_resamples,).
    """
    names = list(outputs)
    arrays = [np.atleast_2d(np.asarray(outputs[name])) for name in names]
    n = arrays[0].shape[1]
    if kind == "mean":
        scores = np.stack([x.astype(np.float64).mean(axis=0) for x in arrays], axis=1)  # (n, variants)
        means = bootstrap_means(scores, n_resamples, seed, n_jobs=n_jobs)  # (R, variants)
        return {name: means[:, j] for j, name in enumerate(names)}
    ref = np.asarray(reference)

    def fn(rng: np.random.Generator, size: int) -> NDArray:
        idx = draw_indices(rng, size, n)  # (size, n)
        return np.stack([_resampled(kind, x, ref, idx) for x in arrays], axis=1)  # (size, variants)

    reps = map_blocks(fn, n_resamples, seed, block_size(n, n_resamples), n_jobs)
    return {name: reps[:, j] for j, name in enumerate(names)}


@dataclass(frozen=True)
class DocumentDraws:
    """Where the lines of a bootstrapped clustering task sit: which document, which draw.

    mteb's `.v2` clustering tasks score V-measure on several draws made with replacement from one
    pool of embedded documents, so a document fills several lines of a draw and appears in every
    draw. The document, not the line, is the independent unit: the bootstrap resamples documents
    and the randomisation test swaps them, each with every one of its lines.

    Build it with `DocumentDraws.build`.

    Args:
        items: Document code per line, shape (n,), in [0, n_items).
        draws: Draw code per line, shape (n,), in [0, len(weights)).
        weights: Weight of each draw's V-measure in the statistic, shape (draws,).
        lines: Line indices of each draw, in line order.
    """

    items: NDArray[np.int64]
    draws: NDArray[np.int64]
    weights: NDArray[np.float64]
    lines: tuple[NDArray[np.int64], ...]

    @classmethod
    def build(cls, items: ArrayLike, draws: ArrayLike, weights: ArrayLike | None = None) -> DocumentDraws:
        """Encode document and draw keys.

        Args:
            items: Document key per line (any hashable values; equal keys are one document).
            draws: Draw (stratum) key per line.
            weights: Weight per distinct draw key in sorted key order; None weighs draws equally.

        Returns:
            The structure, with keys mapped to codes.
        """
        item_codes, _ = factorize(items)
        draw_codes, n_draws = factorize(draws)
        if item_codes.shape != draw_codes.shape:
            raise ValueError(
                f"items and draws must have one entry per line, got {item_codes.shape} and {draw_codes.shape}"
            )
        w = np.full(n_draws, 1.0 / n_draws) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (n_draws,):
            raise ValueError(f"weights must have one entry per draw ({n_draws}), got shape {w.shape}")
        lines = tuple(np.flatnonzero(draw_codes == d) for d in range(n_draws))
        return cls(items=item_codes, draws=draw_codes, weights=w, lines=lines)

    @property
    def n_items(self) -> int:
        """Number of documents."""
        return int(self.items.max()) + 1


def document_bootstrap_replicates(
    outputs: Mapping[str, ArrayLike],
    reference: ArrayLike,
    structure: DocumentDraws,
    n_resamples: int = 10_000,
    seed: int | Iterable[int] = 0,
    *,
    n_jobs: int | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Bootstrap the weighted mean over draws of V-measure, resampling documents (cluster bootstrap).

    A resample draws the documents with replacement; a document drawn c times counts c times on
    every line it fills, in every draw (c = 0 drops it), and each draw's V-measure is recomputed on
    those counts. With one line per document and one draw this is the plain item bootstrap
    (`bootstrap_replicates` with kind `v_measure`), resample for resample.

    Args:
        outputs: Variant name -> cluster codes of shape (seeds, n), seeds paired.
        reference: True label codes, shape (n,).
        structure: Document and draw of every line.
        n_resamples: Bootstrap resamples.
        seed: Seed (or `stable_seed` entropy).
        n_jobs: Threads; the result does not depend on it.

    Returns:
        Variant name -> sum over draws of weight x resampled V-measure (mean over seeds), shape (n_resamples,).
    """
    names = list(outputs)
    arrays = [np.atleast_2d(np.asarray(outputs[name])) for name in names]
    ref = np.asarray(reference)
    k = int(ref.max()) + 1
    n_codes = [int(x.max()) + 1 for x in arrays]
    g, docs = structure.items, structure.n_items
    per_draw = [(w, lines, ref[lines], g[lines]) for w, lines in zip(structure.weights, structure.lines, strict=True)]

    def fn(rng: np.random.Generator, size: int) -> NDArray:
        counts = resample_counts(draw_indices(rng, size, docs), docs).astype(np.float64)  # (size, docs)
        out = np.zeros((size, len(arrays)))
        for w, lines, labels, items in per_draw:
            line_counts = counts[:, items]  # (size, m): each line counts as often as its document was drawn
            labels_b = np.broadcast_to(labels, line_counts.shape)
            for j, (x, c) in enumerate(zip(arrays, n_codes, strict=True)):
                shape = line_counts.shape
                v = [v_measure_rows(labels_b, np.broadcast_to(o[lines], shape), k, c, line_counts) for o in x]
                out[:, j] += w * np.mean(v, axis=0)
        return out

    widest = max(docs, *(lines.size for lines in structure.lines))
    reps = map_blocks(fn, n_resamples, seed, block_size(widest, n_resamples), n_jobs)
    return {name: reps[:, j] for j, name in enumerate(names)}


def paired_bootstrap(
    sample: PairedSample,
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    seed: int | Iterable[int] = 0,
    *,
    n_jobs: int | None = None,
) -> BootstrapResult:
    """Percentile bootstrap interval for metric(A) - metric(B), resampling examples.

    Args:
        sample: The paired outputs.
        n_resamples: Bootstrap resamples.
        alpha: 1 - confidence level of the interval.
        seed: Seed of the resampling.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        The observed difference, its interval and the replicates.
    """
    reps = bootstrap_replicates(
        sample.kind, {"a": sample.a, "b": sample.b}, sample.reference, n_resamples, seed, n_jobs=n_jobs
    )
    diff = reps["a"] - reps["b"]
    delta = metric_value(sample.kind, sample.a, sample.reference) - metric_value(
        sample.kind, sample.b, sample.reference
    )
    low, high = percentile_interval(diff, alpha)
    return BootstrapResult(delta=float(delta), ci_low=float(low), ci_high=float(high), replicates=diff)


def pairwise_mean_bootstrap(
    scores: ArrayLike,
    names: Sequence[str],
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    seed: int | Iterable[int] = 0,
    *,
    n_jobs: int | None = None,
    dtype: type = np.float64,
) -> pd.DataFrame:
    """Bootstrap intervals for every pair of variants of a mean metric, all pairs on the same resamples.

    One multinomial count vector per resample serves every variant (`counts @ scores`), so the cost
    grows with the number of examples and resamples, not with the k (k - 1) / 2 pairs.

    Args:
        scores: Per-example scores, shape (n, k), rows paired across the k variants.
        names: The k variant names.
        n_resamples: Bootstrap resamples.
        alpha: 1 - confidence level.
        seed: Seed of the resampling.
        n_jobs: Threads (None: all CPUs); the result does not depend on it.
        dtype: Precision of the count-matrix product (see `bootstrap_means`).

    Returns:
        One row per pair (a, b) with a after b in `names`: delta = mean(a) - mean(b), ci_low, ci_high.
    """
    x = np.asarray(scores)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"scores must have shape (n, {len(names)}) for {len(names)} names, got {x.shape}")
    means = bootstrap_means(x, n_resamples, seed, n_jobs=n_jobs, dtype=dtype)  # (R, k)
    a_idx, b_idx = np.tril_indices(len(names), k=-1)  # a after b
    observed = x.astype(np.float64).mean(axis=0)  # (k,)
    low, high = percentile_interval(means[:, a_idx] - means[:, b_idx], alpha)  # (pairs,)
    return pd.DataFrame(
        {
            "a": [names[i] for i in a_idx],
            "b": [names[j] for j in b_idx],
            "delta": observed[a_idx] - observed[b_idx],
            "ci_low": low,
            "ci_high": high,
        }
    )
