"""Per-example paired bootstrap and randomisation tests: known answers, all three metric kinds."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.metrics import v_measure
from embedlab.analysis.paired import (
    DocumentDraws,
    PairedSample,
    bootstrap_replicates,
    document_bootstrap_replicates,
    metric_value,
    paired_bootstrap,
    pairwise_mean_bootstrap,
)
from embedlab.analysis.randomisation import (
    document_permutation_null,
    match_clusters,
    permutation_null,
    permutation_pvalue,
    permutation_test,
)

R = 400


def _samples(rng: np.random.Generator, n: int = 120) -> dict[str, tuple]:
    gold = np.round(rng.uniform(0, 5, n) * 5) / 5
    labels = rng.integers(0, 4, n)
    return {
        "mean": (rng.random(n), None),
        "spearman": (gold + rng.normal(size=n), gold),
        "v_measure": (np.where(rng.random(n) < 0.7, labels, rng.integers(0, 4, n)), labels),
    }


@pytest.mark.parametrize("kind", ["mean", "spearman", "v_measure"])
def test_identical_outputs_give_zero_interval_and_no_rejection(kind: str) -> None:
    out, ref = _samples(np.random.default_rng(0))[kind]
    sample = PairedSample.build(kind, out, out, ref)
    boot = paired_bootstrap(sample, R, seed=1)
    assert boot.delta == 0.0 and boot.ci_low <= 0.0 <= boot.ci_high
    assert permutation_test(sample, R, seed=1).pvalue == 1.0


def test_constant_shift_is_detected() -> None:
    a = np.random.default_rng(0).random(200)
    sample = PairedSample.build("mean", a + 0.02, a)
    boot = paired_bootstrap(sample, R, seed=0)
    assert boot.delta == pytest.approx(0.02) and boot.ci_low > 0.0
    perm = permutation_test(sample, R, seed=0)
    assert perm.pvalue == pytest.approx(1.0 / (R + 1))  # only the all-same-sign patterns are as extreme


def test_better_sts_and_clustering_systems_are_detected() -> None:
    rng = np.random.default_rng(3)
    gold = rng.uniform(0, 5, 150)
    sts = PairedSample.build("spearman", gold + 0.3 * rng.normal(size=150), gold + 3 * rng.normal(size=150), gold)
    labels = rng.integers(0, 5, 150)
    clu = PairedSample.build("v_measure", labels, rng.integers(0, 5, 150), labels)
    for sample in (sts, clu):
        assert paired_bootstrap(sample, R, seed=0).ci_low > 0
        assert permutation_test(sample, R, seed=0).pvalue < 0.01


def test_deltas_equal_the_metrics_computed_directly() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    gold = rng.uniform(0, 5, 80)
    a, b = gold + rng.normal(size=80), gold + 2 * rng.normal(size=80)
    expected = scipy.stats.spearmanr(gold, a).statistic - scipy.stats.spearmanr(gold, b).statistic
    sample = PairedSample.build("spearman", a, b, gold)
    assert paired_bootstrap(sample, 50).delta == pytest.approx(expected, abs=1e-12)
    assert permutation_test(sample, 50).delta == pytest.approx(expected, abs=1e-12)
    labels = rng.integers(0, 4, 80)
    ca, cb = rng.integers(0, 4, 80), np.where(rng.random(80) < 0.5, labels, 3)
    expected = metrics.v_measure_score(labels, ca) - metrics.v_measure_score(labels, cb)
    sample = PairedSample.build("v_measure", ca, cb, labels)
    assert paired_bootstrap(sample, 50).delta == pytest.approx(expected, abs=1e-12)
    assert permutation_test(sample, 50).delta == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("kind", ["mean", "spearman", "v_measure"])
def test_fixed_seed_is_reproducible_and_thread_independent(kind: str) -> None:
    rng = np.random.default_rng(5)
    (a, ref), (b, _) = _samples(rng)[kind], _samples(np.random.default_rng(6))[kind]
    sample = PairedSample.build(kind, a, b, ref if kind != "mean" else None)
    first = paired_bootstrap(sample, R, seed=9, n_jobs=1)
    second = paired_bootstrap(sample, R, seed=9, n_jobs=2)
    assert first.replicates.tobytes() == second.replicates.tobytes()
    assert permutation_test(sample, R, seed=9, n_jobs=1).null.tobytes() == (
        permutation_test(sample, R, seed=9, n_jobs=2).null.tobytes()
    )


def test_several_seeds_average_the_per_seed_metric() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, 60)
    runs = np.stack([np.where(rng.random(60) < p, labels, rng.integers(0, 3, 60)) for p in (0.9, 0.5)])
    assert metric_value("v_measure", runs, labels) == pytest.approx(np.mean([v_measure(labels, r) for r in runs]))


def test_bootstrap_replicates_share_resamples_across_variants() -> None:
    x = np.random.default_rng(8).random((3, 100))
    reps = bootstrap_replicates("mean", {"a": x[0], "b": x[1], "c": x[2]}, None, 200, seed=1)
    pair = paired_bootstrap(PairedSample.build("mean", x[0], x[1]), 200, seed=1)
    np.testing.assert_allclose(reps["a"] - reps["b"], pair.replicates)


def test_pairwise_mean_bootstrap_covers_every_pair_and_matches_pairwise_call() -> None:
    x = np.random.default_rng(9).random((500, 4))
    table = pairwise_mean_bootstrap(x, ["v0", "v1", "v2", "v3"], 300, seed=2)
    assert len(table) == 6
    row = table[(table.a == "v2") & (table.b == "v0")].iloc[0]
    pair = paired_bootstrap(PairedSample.build("mean", x[:, 2], x[:, 0]), 300, seed=2)
    assert (row.delta, row.ci_low, row.ci_high) == pytest.approx((pair.delta, pair.ci_low, pair.ci_high))


def test_match_clusters_maps_a_relabelled_partition_back() -> None:
    a = np.array([0, 0, 1, 1, 2, 2])
    matched, n_ids = match_clusters(a, np.array([2, 2, 0, 0, 1, 1]))
    assert matched.tolist() == a.tolist() and n_ids == 3
    matched, n_ids = match_clusters(np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1]))
    assert n_ids == 2 and sorted(set(matched.tolist())) == [0, 1]


def test_permutation_pvalue_formula() -> None:
    assert permutation_pvalue(0.5, np.array([0.1, -0.6, 0.5, 0.2])) == pytest.approx(3 / 5)
    assert permutation_pvalue(0.0, np.zeros(9)) == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("median", [1, 2], [1, 2]), "unknown metric kind"),
        (("mean", [1, 2, 3], [1, 2]), "same"),
        (("spearman", [1, 2, 3], [1, 2, 3]), "needs `reference`"),
        (("mean", [1], [1]), "at least 2"),
    ],
)
def test_build_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PairedSample.build(*args)


def _clusterings(rng: np.random.Generator, n: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = rng.integers(0, 4, n)
    a = np.where(rng.random((2, n)) < 0.7, labels, rng.integers(0, 4, (2, n)))  # (seeds, n)
    b = np.where(rng.random((2, n)) < 0.6, labels, rng.integers(0, 4, (2, n)))
    return labels, a, b


def test_document_resampling_with_one_line_per_document_is_the_line_resampling() -> None:
    labels, a, b = _clusterings(np.random.default_rng(10))
    one = DocumentDraws.build(np.arange(60), np.zeros(60))
    lines = bootstrap_replicates("v_measure", {"a": a, "b": b}, labels, R, seed=4, n_jobs=1)
    documents = document_bootstrap_replicates({"a": a, "b": b}, labels, one, R, seed=4, n_jobs=1)
    for v in ("a", "b"):
        np.testing.assert_array_equal(documents[v], lines[v])
    sample = PairedSample.build("v_measure", a, b, labels)
    np.testing.assert_array_equal(
        document_permutation_null(sample.a, sample.b, sample.reference, one, R, seed=4, n_jobs=1),
        permutation_null(sample, R, seed=4, n_jobs=1),
    )


def test_documents_move_with_all_their_lines_in_every_draw() -> None:
    # Draw d holds documents in its own order, each document twice: the statistic is the draws' mean
    # V-measure, and since every draw holds the same documents with the same clusters, resampling or
    # swapping documents changes every draw alike: replicates and null equal those of one draw.
    labels, a, b = _clusterings(np.random.default_rng(11))
    rng = np.random.default_rng(12)
    orders = [np.tile(rng.permutation(60), 2) for _ in range(5)]  # (5 draws) x 120 lines
    items, draws = np.concatenate(orders), np.repeat(np.arange(5), 120)
    five = DocumentDraws.build(items, draws)
    assert five.n_items == 60 and five.weights.tolist() == [0.2] * 5
    one = DocumentDraws.build(np.arange(60), np.zeros(60))
    reps5 = document_bootstrap_replicates({"a": a[:, items], "b": b[:, items]}, labels[items], five, R, 4, n_jobs=1)
    reps1 = document_bootstrap_replicates({"a": a, "b": b}, labels, one, R, 4, n_jobs=1)
    np.testing.assert_allclose(reps5["a"] - reps5["b"], reps1["a"] - reps1["b"], atol=1e-12)
    null5 = document_permutation_null(a[:, items], b[:, items], labels[items], five, R, 4, n_jobs=2)
    null1 = document_permutation_null(a, b, labels, one, R, 4, n_jobs=1)
    np.testing.assert_allclose(null5, null1, atol=1e-12)


def test_document_draws_reject_mismatched_input() -> None:
    with pytest.raises(ValueError, match="one entry per line"):
        DocumentDraws.build([0, 1, 2], [0, 0])
    with pytest.raises(ValueError, match=r"one entry per draw \(2\)"):
        DocumentDraws.build([0, 1, 2], [0, 1, 1], [1.0])
