"""Calibration of the per-example tests on synthetic null comparisons with a known answer.

Each comparison draws two exchangeable systems on the same examples (shared per-example
difficulty, independent noise, equal quality), so the true difference of the task metric is 0.
Over many comparisons, a 95% bootstrap interval should contain 0 about 95% of the time and the
randomisation test should reject at alpha = 0.05 about 5% of the time.

Scenarios mirror the task types: `retrieval` (per-query nDCG@10 in [0, 1] with many zeros),
`classification` (0/1 correctness), `sts` (Spearman with tied gold scores), `clustering`
(V-measure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedlab.analysis.paired import PairedSample, paired_bootstrap
from embedlab.analysis.randomisation import permutation_test
from embedlab.analysis.resampling import stable_seed

SCENARIOS = ("retrieval", "classification", "sts", "clustering")


@dataclass(frozen=True)
class CalibrationResult:
    """Coverage and size of the per-example tests under the null.

    Args:
        scenario: Which task type was simulated.
        n_comparisons: Null comparisons run.
        n_examples: Examples per comparison.
        coverage: Share of bootstrap intervals containing the true difference (0).
        rejection_rate: Share of randomisation tests with p <= alpha.
        alpha: Level of the tests; the intervals have coverage 1 - alpha.
    """

    scenario: str
    n_comparisons: int
    n_examples: int
    coverage: float
    rejection_rate: float
    alpha: float


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def null_sample(scenario: str, n: int, rng: np.random.Generator) -> PairedSample:
    """Two systems of equal quality on the same n examples.

    Args:
        scenario: `retrieval`, `classification`, `sts` or `clustering`.
        n: Examples.
        rng: Generator.

    Returns:
        The paired sample; the population difference of its metric is 0.
    """
    z = rng.normal(size=n)  # shared difficulty: the pairing the tests exploit
    if scenario == "retrieval":
        latent = z[None, :] * 1.2 + 0.5 * rng.normal(size=(2, n))
        ndcg = np.where(latent < -1.0, 0.0, _sigmoid(latent))
        return PairedSample.build("mean", ndcg[0], ndcg[1])
    if scenario == "classification":
        correct = rng.uniform(size=(2, n)) < _sigmoid(1.0 + z[None, :] + 0.5 * rng.normal(size=(2, n)))
        return PairedSample.build("mean", correct[0].astype(float), correct[1].astype(float))
    if scenario == "sts":
        gold = np.round(rng.uniform(0, 5, size=n) * 5) / 5
        scores = gold[None, :] + 1.5 * (0.6 * z[None, :] + 0.8 * rng.normal(size=(2, n)))
        return PairedSample.build("spearman", scores[0], scores[1], gold)
    if scenario == "clustering":
        labels = rng.integers(0, 5, size=n)
        correct = rng.uniform(size=(2, n)) < _sigmoid(0.5 + z[None, :] + 0.5 * rng.normal(size=(2, n)))
        clusters = np.where(correct, labels[None, :], rng.integers(0, 5, size=(2, n)))
        return PairedSample.build("v_measure", clusters[0], clusters[1], labels)
    raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")


def null_calibration(
    scenario: str = "retrieval",
    *,
    n_comparisons: int = 500,
    n_examples: int = 200,
    n_resamples: int = 1000,
    n_permutations: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    n_jobs: int | None = 1,
) -> CalibrationResult:
    """Run `n_comparisons` null comparisons and measure interval coverage and test size.

    Args:
        scenario: `retrieval`, `classification`, `sts` or `clustering`.
        n_comparisons: Independent null comparisons.
        n_examples: Examples per comparison.
        n_resamples: Bootstrap resamples per comparison.
        n_permutations: Randomisation permutations per comparison.
        alpha: Test level; intervals have coverage 1 - alpha.
        seed: Seed of the whole experiment.
        n_jobs: Threads per comparison.

    Returns:
        Coverage and rejection rate.
    """
    covered = rejected = 0
    for i in range(n_comparisons):
        rng = np.random.default_rng(np.random.SeedSequence(stable_seed(seed, "null", scenario, i)))
        sample = null_sample(scenario, n_examples, rng)
        boot = paired_bootstrap(sample, n_resamples, alpha, stable_seed(seed, "boot", scenario, i), n_jobs=n_jobs)
        perm = permutation_test(sample, n_permutations, stable_seed(seed, "perm", scenario, i), n_jobs=n_jobs)
        covered += boot.ci_low <= 0.0 <= boot.ci_high
        rejected += perm.pvalue <= alpha
    return CalibrationResult(
        scenario, n_comparisons, n_examples, covered / n_comparisons, rejected / n_comparisons, alpha
    )
