"""Across-seed comparisons: P(A > B) with exact intervals and tests, almost stochastic order (known answers)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.seeds import (
    ASO_TAU,
    aso,
    min_pvalue,
    min_seeds,
    newcombe_interval,
    prob_outperform,
    violation_ratio,
)


def test_violation_ratio_known_values() -> None:
    assert violation_ratio([2.0, 3.0], [0.0, 1.0]) == 0.0  # A above B everywhere
    assert violation_ratio([0.0, 1.0], [2.0, 3.0]) == 1.0
    # F^-1 = 0 on (0, 1/2], 3 on (1/2, 1]; G^-1 = 1: violated mass 1 * 1/2 of total 1/2 + 4/2.
    assert violation_ratio([0.0, 3.0], [1.0]) == pytest.approx(0.2)
    assert violation_ratio([1.0, 2.0], [2.0, 1.0]) == 0.5  # identical distributions: defined as 0.5


def test_violation_ratio_is_exactly_antisymmetric() -> None:
    rng = np.random.default_rng(0)
    for n, m in [(5, 5), (3, 7), (10, 4)]:
        a, b = rng.normal(size=n), rng.normal(size=m)
        assert violation_ratio(a, b) + violation_ratio(b, a) == pytest.approx(1.0)


def test_aso_clear_winner_has_eps_min_near_zero() -> None:
    rng = np.random.default_rng(1)
    better, worse = rng.normal(1.0, 0.1, 10), rng.normal(0.0, 0.1, 10)
    assert aso(better, worse).eps_min < 0.05
    assert aso(worse, better).eps_min > 0.95


def test_aso_same_distribution_sits_near_one_half_and_never_claims_dominance() -> None:
    # E[eps_W] = 1/2 exactly for iid samples (eps_W(A, B) = 1 - eps_W(B, A)); its sd is ~0.37 at n = 20.
    ratios = [violation_ratio(*np.random.default_rng(i).normal(size=(2, 20))) for i in range(1000)]
    assert np.mean(ratios) == pytest.approx(0.5, abs=0.04)
    claims = 0
    for i in range(100):
        a, b = np.random.default_rng(5000 + i).normal(size=(2, 20))
        res = aso(a, b, n_bootstrap=200, seed=i)
        assert res.eps_min >= res.violation_ratio  # eps_min is an upper confidence bound
        claims += res.eps_min < 0.2
    assert claims <= 5


def test_aso_eps_min_is_symmetric_up_to_the_confidence_margin() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.3, 1, 15), rng.normal(0, 1, 15)
    ab, ba = aso(a, b, seed=3), aso(b, a, seed=3)
    assert ab.violation_ratio + ba.violation_ratio == pytest.approx(1.0)
    # Both directions add the same kind of margin, z_{0.95} * sigma / sqrt(nm / (n + m)), then clip to [0, 1].
    assert ab.sigma == pytest.approx(ba.sigma, rel=0.15)
    for res in (ab, ba):
        margin = scipy.stats.norm.ppf(0.95) * res.sigma / np.sqrt(15 * 15 / 30)
        assert res.eps_min == pytest.approx(min(1.0, res.violation_ratio + margin))


def test_aso_is_deterministic_for_a_seed() -> None:
    a, b = [0.1, 0.5, 0.3, 0.4], [0.2, 0.25, 0.35, 0.3]
    assert aso(a, b, seed=4) == aso(a, b, seed=4)


def test_prob_outperform_known_values() -> None:
    paired = prob_outperform([1, 2, 3], [0, 2, 4])  # win, tie, loss
    assert paired.paired and paired.p == 0.5
    unpaired = prob_outperform([1, 2], [0, 3, 1.5])  # 3 of 6 run pairs won
    assert not unpaired.paired and unpaired.p == 0.5
    clear = prob_outperform([5, 6, 7, 8], [1, 2, 3, 4])
    # Exact, not bootstrap: 4 of 4 seeds won gives Clopper-Pearson [0.025^(1/4), 1] and sign-test p = 2/2^4.
    assert clear.p == clear.ci_high == 1.0
    assert clear.ci_low == pytest.approx(0.025**0.25, rel=1e-9)
    assert clear.pvalue == 0.125 and clear.method == "sign"


def test_prob_outperform_rejects_unequal_paired_runs() -> None:
    with pytest.raises(ValueError, match="as many runs"):
        prob_outperform([1, 2], [1, 2, 3], paired=True)


def test_three_seeds_all_ahead_by_a_hair_is_not_a_certainty() -> None:
    # The case: A ahead in 3 of 3 seeds by 0.001. A bootstrap said P = 1, interval [1, 1].
    b = np.array([0.61, 0.64, 0.60])
    res = prob_outperform(b + 0.001, b)
    assert res.paired and res.p == 1.0
    assert res.ci_low == pytest.approx(0.025 ** (1 / 3), rel=1e-9)  # 0.292: Clopper-Pearson, 3 of 3
    assert res.ci_high == 1.0
    assert res.pvalue == res.min_pvalue == 0.25  # exact sign test: 2 / 2^3
    assert res.min_runs == 6 and not res.can_decide


def test_eight_seeds_all_ahead_reach_a_verdict() -> None:
    b = np.linspace(0.5, 0.6, 8)
    res = prob_outperform(b + 0.001, b)
    assert res.pvalue == res.min_pvalue == 2 / 2**8  # 0.0078125
    assert res.ci_low == pytest.approx(0.025 ** (1 / 8), rel=1e-9)  # 0.631
    assert res.can_decide
    loses = prob_outperform(b, b + 0.001)
    assert loses.p == 0.0 and loses.pvalue == 2 / 2**8 and loses.ci_high == pytest.approx(1 - 0.025 ** (1 / 8))


@pytest.mark.parametrize(
    ("alpha", "paired", "expected"),
    [(0.05, True, 6), (0.01, True, 8), (0.0625, True, 6), (0.1, True, 5), (0.05, False, 4), (0.01, False, 5)],
)
def test_min_seeds_from_the_smallest_attainable_p(alpha: float, paired: bool, expected: int) -> None:
    # Paired: 2/2^n (n=5: 0.0625, n=6: 0.03125); unpaired, equal runs: 2/C(2n, n) (n=3: 0.1, n=4: 0.029).
    assert min_seeds(alpha, paired=paired) == expected
    below = min_pvalue(expected - 1, expected - 1, paired=paired)
    assert min_pvalue(expected, expected, paired=paired) < alpha <= below


def test_min_pvalue_known_values() -> None:
    assert min_pvalue(3, 3, paired=True) == 0.25
    assert min_pvalue(3, 3, paired=False) == 0.1
    assert min_pvalue(3, 10, paired=False) == 2 / 286
    assert min_pvalue(1, 1, paired=False) == 1.0
    with pytest.raises(ValueError, match="alpha"):
        min_seeds(1.5)


def test_paired_ties_widen_the_interval_both_ways() -> None:
    res = prob_outperform([1, 2, 3, 4, 5], [0, 2, 5, 3, 4])  # win, tie, loss, win, win
    assert res.p == pytest.approx(3.5 / 5)
    # Clopper-Pearson bounds from the beta distribution: tie as a loss (k=3) below, as a win (k=4) above.
    assert res.ci_low == pytest.approx(scipy.stats.beta.ppf(0.025, 3, 5 - 3 + 1))
    assert res.ci_high == pytest.approx(scipy.stats.beta.ppf(0.975, 4 + 1, 5 - 4))
    assert res.pvalue == pytest.approx(2 * (4 + 1) / 16)  # sign test on the 4 untied seeds, 3 won: 2 P(K >= 3)
    assert prob_outperform([1, 2], [1, 2]).pvalue == 1.0  # every seed tied


def test_clopper_pearson_covers_at_least_nominal_at_three_seeds() -> None:
    # Exact coverage over every outcome of 3 Bernoulli seeds, for a grid of true win probabilities.
    intervals = [prob_outperform(np.r_[np.ones(k), np.zeros(3 - k)], np.full(3, 0.5)) for k in range(4)]
    for theta in np.linspace(0.01, 0.99, 99):
        pmf = scipy.stats.binom.pmf(np.arange(4), 3, theta)
        coverage = sum(pmf[k] for k, r in enumerate(intervals) if r.ci_low <= theta <= r.ci_high)
        assert coverage >= 0.95 - 1e-12, theta


def _brute_force_mann_whitney(x: list[float], y: list[float]) -> float:
    # Two-sided p of U (ties count 1/2) over every split of the pooled runs: twice the smaller tail.
    pooled, n = x + y, len(x)

    def u(a: list[float], b: list[float]) -> float:
        return sum((i > j) + 0.5 * (i == j) for i in a for j in b)

    observed = u(x, y)
    null = np.asarray(
        [
            u([pooled[i] for i in idx], [pooled[i] for i in range(len(pooled)) if i not in idx])
            for idx in itertools.combinations(range(len(pooled)), n)
        ]
    )
    return float(min(1.0, 2 * min(np.mean(null >= observed - 1e-12), np.mean(null <= observed + 1e-12))))


def test_unpaired_runs_use_the_exact_mann_whitney_test() -> None:
    res = prob_outperform([4, 5, 6], [1, 2, 3], paired=False)
    assert not res.paired and res.p == 1.0 and res.method == "mann-whitney-exact"
    assert res.pvalue == res.min_pvalue == 0.1  # 2 / C(6, 3)
    assert res.ci_high == 1.0 and res.ci_low < 1.0 and res.min_runs == 4 and not res.can_decide
    four = prob_outperform([4, 5, 6, 7], [0, 1, 2, 3], paired=False)
    assert four.pvalue == pytest.approx(2 / 70) and four.can_decide
    tied = prob_outperform([1, 2, 2], [2, 3, 4], paired=False)
    assert tied.method == "mann-whitney-enumerated"
    assert tied.pvalue == pytest.approx(_brute_force_mann_whitney([1, 2, 2], [2, 3, 4]))
    x, y = [0.3, 0.5, 0.5, 0.9, 0.2], [0.5, 0.1, 0.4, 0.4]
    assert prob_outperform(x, y, paired=False).pvalue == pytest.approx(_brute_force_mann_whitney(x, y))


def test_newcombe_interval_solves_its_score_equation_and_is_symmetric() -> None:
    z = scipy.stats.norm.ppf(0.975)
    n_a, n_b = 5, 7
    n_star = (n_a + n_b) / 2
    for p in (0.0, 0.2, 0.5, 0.9, 1.0):
        low, high = newcombe_interval(p, n_a, n_b)
        assert 0.0 <= low <= p <= high <= 1.0
        for theta in {low, high} - {0.0, 1.0}:
            var = theta * (1 - theta) * (1 + (n_star - 1) * ((1 - theta) / (2 - theta) + theta / (1 + theta)))
            assert (p - theta) ** 2 == pytest.approx(z * z * var / (n_a * n_b), rel=1e-8)
        mirror = newcombe_interval(1 - p, n_a, n_b)
        assert mirror == pytest.approx((1 - high, 1 - low), abs=1e-10)
    # Large samples at p = 1/2: half-width z * sqrt(Var), Var = (1/4)(1 + (N* - 1) 2/3) / (n m).
    low, high = newcombe_interval(0.5, 1000, 1000)
    assert (high - low) / 2 == pytest.approx(z * np.sqrt(0.25 * (1 + 999 * 2 / 3) / 1e6), rel=0.01)


def test_newcombe_interval_covers_at_small_n() -> None:
    # Normal scores one sd apart: true P(A > B) = Phi(1 / sqrt(2)).
    theta = scipy.stats.norm.cdf(1 / np.sqrt(2))
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        res = prob_outperform(rng.normal(1, 1, 5), rng.normal(0, 1, 5), paired=False)
        hits += res.ci_low <= theta <= res.ci_high
    assert 0.92 <= hits / 400 <= 0.99


def test_aso_gives_no_verdict_below_the_exact_tests_minimum() -> None:
    # Every run of A above every run of B: every bootstrap resample agrees, sigma = 0, eps_min = 0 at any n.
    three = aso([0.71, 0.72, 0.73], [0.61, 0.62, 0.63])
    assert three.eps_min == 0.0 and three.sigma == 0.0
    assert three.min_runs == 6 and not three.can_decide and not three.dominates
    six = aso(np.linspace(0.7, 0.75, 6), np.linspace(0.6, 0.65, 6))
    assert six.eps_min == 0.0 and six.can_decide and six.dominates and ASO_TAU == 0.2
    assert aso(np.linspace(0.7, 0.75, 8), np.linspace(0.6, 0.65, 8), confidence=0.99).min_runs == 8
