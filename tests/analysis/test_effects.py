"""Effect sizes: rank-biserial known values, t interval equal to scipy's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.effects import mean_difference, rank_biserial


def test_rank_biserial_known_values() -> None:
    assert rank_biserial([2, 3, 4], [1, 1, 1]) == 1.0
    assert rank_biserial([1, 1, 1], [2, 3, 4]) == -1.0
    assert rank_biserial([1, -2, 3], [0, 0, 0]) == pytest.approx(1 / 3)  # T+ = 1 + 3, T- = 2
    assert rank_biserial([1, 2], [1, 2]) == 0.0


def test_mean_difference_matches_scipy_paired_t_interval() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.random(7), rng.random(7)
    md = mean_difference(a, b, confidence=0.95)
    ci = scipy.stats.ttest_rel(a, b).confidence_interval(0.95)
    assert md.delta == pytest.approx(np.mean(a - b))
    assert (md.ci_low, md.ci_high) == pytest.approx((ci.low, ci.high))


def test_mean_difference_degenerate() -> None:
    assert np.isnan(mean_difference([0.5], [0.4]).ci_low)
    md = mean_difference([0.5, 0.6], [0.4, 0.5])
    assert md.ci_low == pytest.approx(0.1) and md.ci_high == pytest.approx(0.1)
