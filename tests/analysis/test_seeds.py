"""Across-seed comparisons: P(A > B) and almost stochastic order (known answers, symmetry)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.seeds import aso, prob_outperform, violation_ratio


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
    assert clear.p == clear.ci_low == 1.0


def test_prob_outperform_rejects_unequal_paired_runs() -> None:
    with pytest.raises(ValueError, match="as many runs"):
        prob_outperform([1, 2], [1, 2, 3], paired=True)
