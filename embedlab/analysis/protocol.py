"""The paper's protocol: Wilcoxon signed-rank over per-task main scores within one category.

Tang & Yang (2024) pair two models' main scores on the datasets of one category (e.g. the 8 STS
datasets) and call a difference significant at p < 0.05, with no correction and no stated
sidedness or method. We run `scipy.stats.wilcoxon` two-sided and choose the method explicitly:

- no zero and no tied |difference|, n <= 50: `method="exact"`, the exact null distribution;
- zeros or ties, at most 16 tasks: the exact conditional distribution, enumerating all 2**n sign
  patterns (`PermutationMethod(n_resamples=2**n)`, deterministic), since the exact tables assume
  distinct ranks and the normal approximation is poor for few tasks;
- otherwise: `method="asymptotic"` (normal approximation with scipy's tie correction, no continuity
  correction).

Zero differences are dropped (`zero_method="wilcox"`), as Wilcoxon (1945) did. With n non-zero
differences the smallest two-sided p the test can return is 2 / 2**n (n=6: 0.03125, n=8:
0.0078125, n=11: 0.0009765625): a category with fewer than 6 tasks can never reach p < 0.05, which
the report states next to every such cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike

EXACT_MAX_N = 50
ENUMERATE_MAX_N = 16


@dataclass(frozen=True)
class WilcoxonResult:
    """One Wilcoxon signed-rank test of paired per-task scores.

    Args:
        n: Number of paired tasks.
        n_nonzero: Tasks with a non-zero difference (the n the test uses).
        statistic: scipy's two-sided statistic, min(T+, T-).
        pvalue: Two-sided p-value (1.0 when every difference is zero).
        min_pvalue: Smallest two-sided p achievable with `n_nonzero` differences, 2 / 2**n.
        method: `exact`, `exact-conditional` (enumerated, ties or zeros), `asymptotic` or `all-zero`.
    """

    n: int
    n_nonzero: int
    statistic: float
    pvalue: float
    min_pvalue: float
    method: str


def min_pvalue(n: int) -> float:
    """Smallest two-sided p-value of the exact Wilcoxon signed-rank test with n non-zero pairs.

    All n signs the same is the most extreme outcome; it has probability 1 / 2**n on each side.

    Args:
        n: Number of non-zero paired differences.

    Returns:
        min(1, 2 / 2**n).
    """
    return 1.0 if n <= 1 else 2.0 / 2.0**n


def choose_method(differences: ArrayLike) -> str:
    """Which p-value method `wilcoxon_test` uses for these differences (see the module docstring).

    Args:
        differences: Paired differences a - b.

    Returns:
        `exact`, `exact-conditional`, `asymptotic` or `all-zero`.
    """
    d = np.asarray(differences, dtype=np.float64)
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return "all-zero"
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    if nonzero.size == d.size and not ties and d.size <= EXACT_MAX_N:
        return "exact"
    if d.size <= ENUMERATE_MAX_N:
        return "exact-conditional"
    return "asymptotic"


def wilcoxon_test(a: ArrayLike, b: ArrayLike) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired per-task main scores (the paper's test).

    Args:
        a: Main score of variant A on each task of one category.
        b: Main score of variant B on the same tasks, same order.

    Returns:
        n, statistic, p-value, the smallest p n allows and the method used.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"wilcoxon_test needs two 1-D arrays of equal length, got shapes {x.shape} and {y.shape}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("wilcoxon_test got NaN scores; drop the task or fix the result file")
    d = x - y
    method = choose_method(d)
    n_nonzero = int(np.count_nonzero(d))
    if method == "all-zero":
        return WilcoxonResult(int(d.size), 0, float("nan"), 1.0, 1.0, method)
    scipy_method: str | scipy.stats.PermutationMethod = method
    if method == "exact-conditional":
        # scipy flips the sign of zeros too, so only 2**n resamples (not 2**n_nonzero) make it exhaustive.
        scipy_method = scipy.stats.PermutationMethod(n_resamples=2**d.size)
    res = scipy.stats.wilcoxon(
        x, y, zero_method="wilcox", correction=False, alternative="two-sided", method=scipy_method
    )
    return WilcoxonResult(
        n=int(d.size),
        n_nonzero=n_nonzero,
        statistic=float(res.statistic),
        pvalue=float(min(1.0, res.pvalue)),
        min_pvalue=min_pvalue(n_nonzero),
        method=method,
    )
