"""Row-wise metric kernels agree with scipy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.metrics import factorize, pearson_rows, rank_rows, spearman, v_measure, v_measure_rows


def test_rank_rows_matches_scipy_with_ties() -> None:
    x = np.random.default_rng(0).integers(0, 7, size=(40, 30)).astype(float)
    np.testing.assert_array_equal(rank_rows(x), scipy.stats.rankdata(x, axis=1))


def test_rank_rows_of_a_vector_is_one_row() -> None:
    np.testing.assert_array_equal(rank_rows([3.0, 1.0, 2.0, 1.0]), [[4.0, 1.5, 3.0, 1.5]])


def test_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    gold = np.round(rng.uniform(0, 5, 60) * 5) / 5
    score = gold + rng.normal(size=60)
    assert spearman(gold, score) == pytest.approx(scipy.stats.spearmanr(gold, score).statistic, abs=1e-12)


def test_pearson_rows_constant_row_is_nan() -> None:
    out = pearson_rows(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]), np.array([1.0, 2.0, 4.0]))
    assert np.isnan(out[0]) and out[1] == pytest.approx(scipy.stats.pearsonr([1, 2, 3], [1, 2, 4]).statistic)


@pytest.mark.parametrize(
    ("labels", "clusters"),
    [([0, 0, 1, 1], [1, 1, 0, 0]), ([1, 1, 1], [0, 1, 2]), ([0, 1, 2], [0, 0, 0]), ([0, 0], [5, 5]), ([0, 1], [0, 1])],
)
def test_v_measure_edge_cases_match_sklearn(labels: list[int], clusters: list[int]) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    assert v_measure(labels, clusters) == pytest.approx(metrics.v_measure_score(labels, clusters), abs=1e-12)


def test_v_measure_random_matches_sklearn_and_rows_match_single() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, size=(20, 90))
    clusters = rng.integers(0, 7, size=(20, 90))
    rows = v_measure_rows(labels, clusters, 5, 7)
    expected = [metrics.v_measure_score(a, b) for a, b in zip(labels, clusters, strict=True)]
    np.testing.assert_allclose(rows, expected, atol=1e-12)
    assert v_measure([f"t{i}" for i in labels[0]], clusters[0]) == pytest.approx(expected[0], abs=1e-12)


def test_factorize_strings() -> None:
    codes, k = factorize(["b", "a", "b", "c"])
    assert k == 3 and codes.tolist() == [1, 0, 1, 2]


def test_weighted_v_measure_is_the_v_measure_of_the_repeated_items() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    labels, clusters = rng.integers(0, 4, size=(6, 40)), rng.integers(0, 5, size=(6, 40))
    weights = rng.integers(0, 4, size=(6, 40))  # 0 drops an item, 3 counts it three times
    rows = v_measure_rows(labels, clusters, 4, 5, weights)
    triples = zip(labels, clusters, weights, strict=True)
    expected = [metrics.v_measure_score(np.repeat(a, w), np.repeat(c, w)) for a, c, w in triples]
    np.testing.assert_allclose(rows, expected, atol=1e-12)
    unweighted = v_measure_rows(labels, clusters, 4, 5)
    np.testing.assert_allclose(v_measure_rows(labels, clusters, 4, 5, np.ones((6, 40))), unweighted, atol=1e-15)
