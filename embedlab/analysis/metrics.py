"""Task metrics recomputed row by row over resamples: Spearman for STS, V-measure for clustering.

The bootstrap and the randomisation test recompute a corpus-level metric on thousands of resampled
or relabelled copies of one task. Each function here takes a matrix with one copy per row and
returns one value per row, so a whole block of resamples costs a few numpy passes instead of a
Python loop per resample. The single-vector forms agree with `scipy.stats.spearmanr` and
`sklearn.metrics.v_measure_score` (checked in the tests; scikit-learn is not a dependency).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# An entropy below this is a single class: rounding in log(n) - sum(n log n)/n must not count as one.
_ENTROPY_FLOOR = 1e-12


def rank_rows(x: ArrayLike) -> NDArray[np.float64]:
    """Average ranks (1-based, ties share their mean rank) of each row.

    Same result as `scipy.stats.rankdata(x, axis=1)`, about three times faster: bootstrap rows are
    full of ties (an item drawn twice ties with itself), so ordinal ranks would be wrong.

    Args:
        x: Matrix of shape (rows, n).

    Returns:
        Matrix of shape (rows, n) with the rank of every entry within its row.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    rows, n = x.shape
    order = np.argsort(x, axis=1)  # (rows, n); order within ties is irrelevant to average ranks
    xs = np.take_along_axis(x, order, axis=1)  # (rows, n) sorted rows
    pos = np.broadcast_to(np.arange(n), (rows, n))
    starts_group = np.ones((rows, n), dtype=bool)
    starts_group[:, 1:] = xs[:, 1:] != xs[:, :-1]
    ends_group = np.ones((rows, n), dtype=bool)
    ends_group[:, :-1] = starts_group[:, 1:]
    first = np.maximum.accumulate(np.where(starts_group, pos, 0), axis=1)  # (rows, n)
    last = np.minimum.accumulate(np.where(ends_group, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]  # (rows, n)
    ranks = np.empty((rows, n), dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=1)
    return ranks


def pearson_rows(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Pearson correlation of each row of `x` with the same row of `y` (NaN for a constant row).

    Args:
        x: Matrix of shape (rows, n).
        y: Matrix of shape (rows, n), or a vector of length n shared by every row.

    Returns:
        Vector of shape (rows,).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean(axis=1, keepdims=True)  # (rows, n)
    yc = y - y.mean(axis=-1, keepdims=True)  # (rows, n) or (n,)
    num = (xc * yc).sum(axis=1)  # (rows,)
    den = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=-1))  # (rows,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def spearman_rows(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Spearman correlation of each row of `x` with the same row of `y`.

    Args:
        x: Matrix of shape (rows, n).
        y: Matrix of shape (rows, n).

    Returns:
        Vector of shape (rows,).
    """
    return pearson_rows(rank_rows(x), rank_rows(y))


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman correlation of two vectors (the STS main score, `cosine_spearman` in MTEB).

    Args:
        x: Vector of length n, e.g. the human scores.
        y: Vector of length n, e.g. the cosine similarities.

    Returns:
        The correlation, NaN if either vector is constant.
    """
    return float(spearman_rows(np.asarray(x)[None, :], np.asarray(y)[None, :])[0])


def factorize(values: ArrayLike) -> tuple[NDArray[np.int64], int]:
    """Map arbitrary labels (strings or ints) to codes 0..k-1.

    Args:
        values: Vector of labels.

    Returns:
        The codes and the number of distinct labels k.
    """
    uniques, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int64).reshape(-1), len(uniques)


def _entropy_rows(counts: NDArray[np.float64], total: NDArray[np.float64]) -> NDArray[np.float64]:
    # H = log N - sum(n log n) / N over the last axis of `counts` (rows, k), skipping empty cells; total is (rows,).
    with np.errstate(divide="ignore", invalid="ignore"):
        nlogn = np.where(counts > 0, counts * np.log(np.where(counts > 0, counts, 1.0)), 0.0)
    return np.log(total) - nlogn.sum(axis=-1) / total


def v_measure_rows(
    labels: ArrayLike, clusters: ArrayLike, n_labels: int, n_clusters: int, weights: ArrayLike | None = None
) -> NDArray[np.float64]:
    """V-measure (beta = 1) of each row's clustering against the same row's true labels.

    Builds every row's contingency table with one `np.bincount`, then uses
    MI = H(labels) + H(clusters) - H(labels, clusters), homogeneity = MI / H(labels) and
    completeness = MI / H(clusters), with sklearn's conventions for a single class (1.0) and for
    h + c = 0 (V = 0).

    Args:
        labels: Integer codes in [0, n_labels), shape (rows, n).
        clusters: Integer codes in [0, n_clusters), shape (rows, n).
        n_labels: Number of label codes.
        n_clusters: Number of cluster codes.
        weights: How many times each entry counts, shape (rows, n) (non-negative integers give the
            V-measure of the items repeated that often); None counts every entry once.

    Returns:
        Vector of shape (rows,).
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    clusters = np.atleast_2d(np.asarray(clusters, dtype=np.int64))
    rows = labels.shape[0]
    cells = n_labels * n_clusters
    codes = labels * n_clusters + clusters + (np.arange(rows, dtype=np.int64) * cells)[:, None]  # (rows, n)
    w = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=np.float64), codes.shape).ravel()
    table = np.bincount(codes.ravel(), weights=w, minlength=rows * cells).reshape(rows, n_labels, n_clusters)
    table = table.astype(np.float64)  # (rows, K, C) contingency tables
    total = table.sum(axis=(1, 2))  # (rows,)
    h_labels = _entropy_rows(table.sum(axis=2), total)  # (rows,)
    h_clusters = _entropy_rows(table.sum(axis=1), total)  # (rows,)
    h_joint = _entropy_rows(table.reshape(rows, cells), total)  # (rows,)
    mi = np.maximum(h_labels + h_clusters - h_joint, 0.0)  # (rows,)
    with np.errstate(divide="ignore", invalid="ignore"):
        homogeneity = np.where(h_labels > _ENTROPY_FLOOR, mi / h_labels, 1.0)
        completeness = np.where(h_clusters > _ENTROPY_FLOOR, mi / h_clusters, 1.0)
        hc = homogeneity + completeness
        return np.where(hc > 0, 2.0 * homogeneity * completeness / np.where(hc > 0, hc, 1.0), 0.0)


def v_measure(labels: ArrayLike, clusters: ArrayLike) -> float:
    """V-measure of one clustering (the clustering main score in MTEB).

    Args:
        labels: True class of each item (any hashable values).
        clusters: Assigned cluster of each item.

    Returns:
        The V-measure in [0, 1].
    """
    label_codes, k = factorize(labels)
    cluster_codes, c = factorize(clusters)
    return float(v_measure_rows(label_codes[None, :], cluster_codes[None, :], k, c)[0])
