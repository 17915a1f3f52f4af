"""The paper's Wilcoxon protocol: exact known values and agreement with scipy called directly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats

from embedlab.analysis.protocol import choose_method, min_pvalue, wilcoxon_test


@pytest.mark.parametrize(("n", "expected"), [(6, 0.03125), (8, 0.0078125), (11, 0.0009765625), (1, 1.0), (0, 1.0)])
def test_min_pvalue_exact(n: int, expected: float) -> None:
    assert min_pvalue(n) == expected


@pytest.mark.parametrize("n", [6, 8, 11])
def test_all_positive_differences_reach_the_minimum(n: int) -> None:
    base = np.linspace(0.5, 0.8, n)
    res = wilcoxon_test(base + np.linspace(0.001, 0.01, n), base)
    assert res.method == "exact" and res.pvalue == res.min_pvalue == min_pvalue(n)
    assert res.statistic == 0.0 and res.n == res.n_nonzero == n


def test_matches_scipy_exact() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.random(9), rng.random(9)
        ours, ref = wilcoxon_test(a, b), scipy.stats.wilcoxon(a, b, method="exact")
        assert ours.method == "exact"
        assert (ours.statistic, ours.pvalue) == (ref.statistic, ref.pvalue)


def _enumerated_pvalue(d: np.ndarray) -> float:
    # Brute force: signed-rank statistic over all 2**n sign patterns of the non-zero differences.
    d = d[d != 0]
    ranks = scipy.stats.rankdata(np.abs(d))
    signs = np.array(list(itertools.product([0, 1], repeat=d.size)))  # (2**n, n)
    t_plus = signs @ ranks
    centre = ranks.sum() / 2
    observed = abs(ranks[d > 0].sum() - centre)
    return float(np.mean(np.abs(t_plus - centre) >= observed - 1e-12))


def test_ties_and_zeros_use_exact_conditional_enumeration() -> None:
    a = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    b = a - np.array([0.0, 0.1, 0.1, 0.2, -0.05, 0.3, 0.4])  # one zero, tied |differences|
    res = wilcoxon_test(a, b)
    assert res.method == "exact-conditional" and res.n == 7 and res.n_nonzero == 6
    assert res.pvalue == pytest.approx(_enumerated_pvalue(a - b))
    assert res.min_pvalue == min_pvalue(6)
    assert wilcoxon_test(a, b).pvalue == res.pvalue  # enumeration, not sampling: deterministic


def test_constant_shift_is_the_most_extreme_outcome() -> None:
    a = np.linspace(0.4, 0.9, 8)
    res = wilcoxon_test(a + 0.01, a)  # all |differences| tied
    assert res.pvalue == pytest.approx(min_pvalue(8))


def test_identical_scores_do_not_reject() -> None:
    a = np.linspace(0.4, 0.9, 6)
    res = wilcoxon_test(a, a.copy())
    assert res.pvalue == 1.0 and res.method == "all-zero" and res.n_nonzero == 0


def test_large_n_uses_scipy_asymptotic() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random(60), rng.random(60)
    res = wilcoxon_test(a, b)
    ref = scipy.stats.wilcoxon(a, b, method="asymptotic")
    assert res.method == "asymptotic" and res.pvalue == pytest.approx(ref.pvalue)


def test_choose_method() -> None:
    assert choose_method([0.1, -0.2, 0.3]) == "exact"
    assert choose_method([0.1, -0.1, 0.3]) == "exact-conditional"
    assert choose_method([0.0, 0.0]) == "all-zero"


def test_rejects_nan_and_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="NaN"):
        wilcoxon_test([0.1, np.nan], [0.2, 0.3])
    with pytest.raises(ValueError, match="equal length"):
        wilcoxon_test([0.1, 0.2], [0.2])
