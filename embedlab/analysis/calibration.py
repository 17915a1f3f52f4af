"""Calibration of the per-example tests on synthetic null comparisons with a known answer.

Each comparison draws two exchangeable systems on the same examples (shared per-example
difficulty, independent noise, equal quality), so the true difference of the task metric is 0.
Over many comparisons, a 95% bootstrap interval should contain 0 about 95% of the time and the
randomisation test should reject at alpha = 0.05 about 5% of the time.

Scenarios mirror the task types: `retrieval` (per-query nDCG@10 in [0, 1] with many zeros),
`classification` (0/1 correctness), `sts` (Spearman with tied gold scores), `clustering`
(V-measure).

`draws_calibration` mirrors mteb's `.v2` clustering tasks: one pool of documents, each clustered
the same way by a model in every draw, and several draws made with replacement from the pool, so
a document fills several lines of every draw. It runs the analysis's own path (`evidence`) with the
documents known (`item`) or, to show what ignoring them costs, with every line its own document.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedlab.analysis.evidence import pair_null, task_evidence
from embedlab.analysis.examples import TaskExamples
from embedlab.analysis.paired import PairedSample, paired_bootstrap
from embedlab.analysis.randomisation import permutation_pvalue, permutation_test
from embedlab.analysis.resampling import percentile_interval, stable_seed

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
        mean_width: Mean width of the intervals.
        null_sd: Mean over comparisons of the standard deviation of the randomisation null.
    """

    scenario: str
    n_comparisons: int
    n_examples: int
    coverage: float
    rejection_rate: float
    alpha: float
    mean_width: float = float("nan")
    null_sd: float = float("nan")


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
    outcomes = []
    for i in range(n_comparisons):
        rng = np.random.default_rng(np.random.SeedSequence(stable_seed(seed, "null", scenario, i)))
        sample = null_sample(scenario, n_examples, rng)
        boot = paired_bootstrap(sample, n_resamples, alpha, stable_seed(seed, "boot", scenario, i), n_jobs=n_jobs)
        perm = permutation_test(sample, n_permutations, stable_seed(seed, "perm", scenario, i), n_jobs=n_jobs)
        outcomes.append((boot.ci_low, boot.ci_high, perm.pvalue, perm.null))
    return _summarise(scenario, n_examples, outcomes, alpha)


def _summarise(scenario: str, n_examples: int, outcomes: list[tuple], alpha: float) -> CalibrationResult:
    """Coverage of 0, test size, mean width and mean null SD over (ci_low, ci_high, p-value, null) outcomes."""
    low, high, pvalues = (np.array([o[k] for o in outcomes], dtype=float) for k in range(3))
    return CalibrationResult(
        scenario,
        len(outcomes),
        n_examples,
        float(np.mean((low <= 0.0) & (0.0 <= high))),
        float(np.mean(pvalues <= alpha)),
        alpha,
        float(np.mean(high - low)),
        float(np.mean([np.std(o[3]) for o in outcomes])),
    )


def null_draws_examples(
    rng: np.random.Generator,
    *,
    n_documents: int = 200,
    n_draws: int = 10,
    draw_size: int = 800,
    n_labels: int = 5,
    documents: bool = True,
) -> TaskExamples:
    """A `.v2`-style clustering task scored by two systems of equal quality.

    Each document has a true label, a difficulty shared by both systems and, per system, one cluster
    (its label's cluster when the system gets it right, else a random one) kept in every draw, as a
    document's embedding is. Each draw takes `draw_size` documents with replacement from the pool.

    Args:
        rng: Generator.
        n_documents: Documents in the pool.
        n_draws: Draws (mteb: 10).
        draw_size: Lines per draw (mteb: up to 16,384 from a pool of a few thousand).
        n_labels: True labels.
        documents: Give the lines their document (`item`); False treats every line as its own document.

    Returns:
        The examples of variants `a` and `b` (seed 0), one stratum per draw.
    """
    labels = rng.integers(0, n_labels, size=n_documents)
    z = rng.normal(size=n_documents)  # shared difficulty
    correct = rng.uniform(size=(2, n_documents)) < _sigmoid(0.5 + z[None, :] + 0.5 * rng.normal(size=(2, n_documents)))
    clusters = np.where(correct, labels[None, :], rng.integers(0, n_labels, size=(2, n_documents)))  # (2, docs)
    drawn = rng.integers(0, n_documents, size=(n_draws, draw_size)).ravel()  # (draws * size,) document per line
    return TaskExamples(
        task="NullDraws",
        task_type="Clustering",
        kind="v_measure",
        ids=np.array([f"L0:{d}:{p}" for d in range(n_draws) for p in range(draw_size)]),
        reference=labels[drawn],
        outputs={("a", 0): clusters[0][drawn], ("b", 0): clusters[1][drawn]},
        strata=np.repeat([f"|0:{d}" for d in range(n_draws)], draw_size),
        items=np.array([f"|{g}" for g in drawn]) if documents else None,
    )


def draws_calibration(
    *,
    documents: bool = True,
    n_comparisons: int = 500,
    n_documents: int = 200,
    n_draws: int = 10,
    draw_size: int = 800,
    n_resamples: int = 500,
    n_permutations: int = 500,
    alpha: float = 0.05,
    seed: int = 0,
    n_jobs: int | None = 1,
) -> CalibrationResult:
    """Coverage and size of the per-example tests on `.v2`-style clustering null comparisons.

    Args:
        documents: Resample and swap documents (the lines carry `item`); False: lines, as if independent.
        n_comparisons: Independent null comparisons.
        n_documents: Documents in each pool.
        n_draws: Draws per comparison.
        draw_size: Lines per draw.
        n_resamples: Bootstrap resamples per comparison.
        n_permutations: Randomisation permutations per comparison.
        alpha: Test level; intervals have coverage 1 - alpha.
        seed: Seed of the whole experiment; the same seed gives the same tasks with and without documents.
        n_jobs: Threads per comparison.

    Returns:
        Coverage, rejection rate, mean interval width and mean null SD (scenario `clustering-draws`).
    """
    outcomes = []
    for i in range(n_comparisons):
        rng = np.random.default_rng(np.random.SeedSequence(stable_seed(seed, "null-draws", i)))
        ex = null_draws_examples(
            rng, n_documents=n_documents, n_draws=n_draws, draw_size=draw_size, documents=documents
        )
        a, b = ex.stack("a", [0]), ex.stack("b", [0])
        evidence = task_evidence(ex, {"a": a, "b": b}, n_resamples, seed + i, n_jobs=n_jobs)
        delta = evidence.observed["a"] - evidence.observed["b"]
        low, high = percentile_interval(evidence.replicates["a"] - evidence.replicates["b"], alpha)
        null = pair_null(ex, a, b, ("a", "b"), n_permutations, seed + i, n_jobs=n_jobs)
        outcomes.append((low, high, permutation_pvalue(delta, null), null))
    return _summarise("clustering-draws", n_draws * draw_size, outcomes, alpha)
