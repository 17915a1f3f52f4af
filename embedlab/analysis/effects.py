"""Effect sizes for paired comparisons: how large a difference is, not only whether it is real.

- Mean paired difference with a t interval (for a handful of per-task deltas the t interval is the
  honest one; per-example intervals come from the bootstrap in `paired`).
- Matched-pairs rank-biserial correlation (Kerby 2014): (T+ - T-) / (T+ + T-) over the signed
  ranks the Wilcoxon test uses, zeros dropped. +1: A wins every pair; -1: B wins every pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class MeanDifference:
    """Mean of paired differences a - b with a two-sided t confidence interval.

    Args:
        delta: Mean difference.
        ci_low: Lower bound (NaN with fewer than 2 pairs).
        ci_high: Upper bound.
        n: Number of pairs.
    """

    delta: float
    ci_low: float
    ci_high: float
    n: int


def mean_difference(a: ArrayLike, b: ArrayLike, confidence: float = 0.95) -> MeanDifference:
    """Mean paired difference and its t interval.

    Args:
        a: Scores of variant A.
        b: Scores of variant B, paired with `a`.
        confidence: Coverage of the interval.

    Returns:
        The difference and interval.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return MeanDifference(float("nan"), float("nan"), float("nan"), 0)
    delta = float(d.mean())
    if n < 2:
        return MeanDifference(delta, float("nan"), float("nan"), n)
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2.0, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return MeanDifference(delta, delta - half, delta + half, n)


def rank_biserial(a: ArrayLike, b: ArrayLike) -> float:
    """Matched-pairs rank-biserial correlation of a - b (zeros dropped, tied ranks averaged).

    Args:
        a: Scores of variant A.
        b: Scores of variant B, paired with `a`.

    Returns:
        A value in [-1, 1]; 0.0 when every difference is zero.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = scipy.stats.rankdata(np.abs(d))
    t_plus, t_minus = float(ranks[d > 0].sum()), float(ranks[d < 0].sum())
    return (t_plus - t_minus) / (t_plus + t_minus)
