"""Per-example evidence for one task: bootstrap replicates per variant, randomisation nulls per pair.

A task's main score may be a weighted mean over strata (hf_subsets, clustering sets; see
`examples`). Each stratum is resampled and swapped on its own, with its own random stream, and the
replicates are combined with the main score's weights, so every replicate is a draw of the
statistic the results JSON reports. Without strata this is the plain per-task bootstrap and test.

With documents (`item` on the lines of mteb's `.v2` clustering tasks) the unit is the document, not
the line: all the draws of one hf_subset come from one pool, so they are resampled together, a
document with every line it fills (`paired.document_bootstrap_replicates`), and swapped together
(`randomisation.document_permutation_null`); hf_subsets stay independent strata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from embedlab.analysis.examples import TaskExamples, stratum_weights
from embedlab.analysis.paired import (
    DocumentDraws,
    PairedSample,
    bootstrap_replicates,
    document_bootstrap_replicates,
    metric_value,
)
from embedlab.analysis.randomisation import document_permutation_null, permutation_null
from embedlab.analysis.resampling import stable_seed


@dataclass(frozen=True)
class TaskEvidence:
    """Observed main scores and bootstrap replicates of every variant on one task.

    Args:
        observed: Variant -> seed-averaged main score recomputed from predictions.
        replicates: Variant -> bootstrap replicates of that score, shape (n_resamples,); all
            variants share resamples, so a pair's replicated difference is a difference of entries.
    """

    observed: dict[str, float]
    replicates: dict[str, NDArray[np.float64]]


def _strata(ex: TaskExamples) -> list[tuple[str | None, NDArray | slice, float]]:
    if ex.strata is None:
        return [(None, slice(None), 1.0)]
    keys, weights = stratum_weights(ex.strata)
    return [(str(k), ex.strata == k, float(w)) for k, w in zip(keys, weights, strict=True)]


def _ref(ex: TaskExamples, mask: NDArray | slice) -> NDArray | None:
    return None if ex.reference is None else ex.reference[mask]


def _document_blocks(ex: TaskExamples) -> list[tuple[str, NDArray, DocumentDraws]]:
    # One block per hf_subset: its lines, and their documents and draws with the main score's weights.
    n = ex.ids.shape[0]
    strata = ex.strata if ex.strata is not None else np.full(n, "|")
    keys, weights = stratum_weights(strata)
    subset_of = np.array([k.split("|", 1)[0] for k in strata])
    key_subsets = np.array([k.split("|", 1)[0] for k in keys])
    blocks = []
    for subset in np.unique(key_subsets):
        mask = subset_of == subset
        structure = DocumentDraws.build(ex.items[mask], strata[mask], weights[key_subsets == subset])
        blocks.append((str(subset), mask, structure))
    return blocks


def _check_documents(ex: TaskExamples) -> None:
    if ex.kind != "v_measure":
        raise ValueError(f"{ex.task}: documents (`item`) are defined for clustering only, not kind {ex.kind!r}")


def task_evidence(
    ex: TaskExamples,
    outputs: Mapping[str, NDArray],
    n_resamples: int,
    seed: int,
    *,
    n_jobs: int | None = None,
) -> TaskEvidence:
    """Bootstrap every variant on shared resamples of one task (within strata).

    Args:
        ex: The task's aligned examples.
        outputs: Variant -> outputs of shape (seeds, n), seeds paired across variants.
        n_resamples: Bootstrap resamples.
        seed: User seed; the stream is derived from it, the task and the stratum.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        Observed scores and replicates per variant.
    """
    observed = dict.fromkeys(outputs, 0.0)
    replicates = {v: np.zeros(n_resamples) for v in outputs}
    for key, mask, weight in _strata(ex):
        sub = {v: x[:, mask] for v, x in outputs.items()}
        for v in outputs:
            observed[v] += weight * metric_value(ex.kind, sub[v], _ref(ex, mask))
        if ex.items is not None:
            continue
        parts = (seed, "bootstrap", ex.task) if key is None else (seed, "bootstrap", ex.task, key)
        reps = bootstrap_replicates(ex.kind, sub, _ref(ex, mask), n_resamples, stable_seed(*parts), n_jobs=n_jobs)
        for v in outputs:
            replicates[v] += weight * reps[v]
    if ex.items is not None:
        _check_documents(ex)
        for subset, mask, structure in _document_blocks(ex):
            entropy = stable_seed(seed, "bootstrap", ex.task, "documents", subset)
            sub = {v: x[:, mask] for v, x in outputs.items()}
            ref = ex.reference[mask]
            reps = document_bootstrap_replicates(sub, ref, structure, n_resamples, entropy, n_jobs=n_jobs)
            for v in outputs:
                replicates[v] += reps[v]
    return TaskEvidence(observed, replicates)


def pair_null(
    ex: TaskExamples,
    a: NDArray,
    b: NDArray,
    names: tuple[str, str],
    n_permutations: int,
    seed: int,
    *,
    n_jobs: int | None = None,
) -> NDArray[np.float64]:
    """Randomisation null of metric(A) - metric(B) on one task (swaps within strata).

    Args:
        ex: The task's aligned examples.
        a: Outputs of A, shape (seeds, n).
        b: Outputs of B, same shape, seeds paired.
        names: (A, B) variant names, part of the random stream's identity.
        n_permutations: Random swap patterns.
        seed: User seed.
        n_jobs: Threads; the result does not depend on it.

    Returns:
        The null distribution, shape (n_permutations,).
    """
    null = np.zeros(n_permutations)
    if ex.items is not None:
        _check_documents(ex)
        for subset, mask, structure in _document_blocks(ex):
            entropy = stable_seed(seed, "permutation", ex.task, *names, "documents", subset)
            null += document_permutation_null(
                a[:, mask], b[:, mask], ex.reference[mask], structure, n_permutations, entropy, n_jobs=n_jobs
            )
        return null
    for key, mask, weight in _strata(ex):
        parts = (seed, "permutation", ex.task, *names) + (() if key is None else (key,))
        sample = PairedSample(ex.kind, a[:, mask], b[:, mask], _ref(ex, mask))
        null += weight * permutation_null(sample, n_permutations, stable_seed(*parts), n_jobs=n_jobs)
    return null
