"""Comparisons across training runs (seeds): P(A > B) and almost stochastic order.

A single run per model, as in the paper, confounds the design with the seed. With several runs per
variant (one score per run, e.g. a category average), two questions are asked:

- P(A > B) (Bouthillier et al. 2021, "Accounting for variance in machine learning benchmarks"):
  the probability that a run of A outperforms a run of B, with a percentile bootstrap interval over
  runs. Paired by seed when both variants ran the same seeds, else over all run pairs (the
  Mann-Whitney estimate); ties count one half. The authors call A better when the interval's lower
  bound exceeds 0.5, and the difference meaningful when P(A > B) exceeds about 0.75.
- Almost stochastic order (del Barrio, Cuesta-Albertos & Matran 2018; Dror, Shlomov & Reichart
  2019, "Deep Dominance"), implemented here from the papers' definitions (the `deepsig` package is
  GPL and not a dependency). The violation ratio eps_W(F, G) is the share of the squared distance
  between the quantile functions of A (F) and B (G) where A's quantile lies below B's:

      eps_W(F, G) = int_{F^-1(t) < G^-1(t)} (F^-1(t) - G^-1(t))^2 dt / int_0^1 (F^-1(t) - G^-1(t))^2 dt

  computed exactly for the empirical quantile functions (piecewise constant between the
  breakpoints i/n and j/m). Dror et al. test H0: eps >= eps_0 and report the smallest eps_0 they can
  reject at level alpha,

      eps_min = eps_W(F_n, G_m) - sqrt((n + m) / (n m)) * sigma_hat * Phi^-1(alpha),

  where sigma_hat is the bootstrap standard deviation of sqrt(n m / (n + m)) * eps_W(F*_n, G*_m).
  eps_min near 0: A almost stochastically dominates B; the threshold tau is 0.5 or, stricter, 0.2.
  eps_W(F, G) = 1 - eps_W(G, F) exactly; eps_min adds a margin on both sides, so
  eps_min(A, B) + eps_min(B, A) is about 1 + 2 * margin, and identical distributions give a
  violation ratio near 0.5 and an eps_min above it (never a claim of dominance). When the two
  quantile functions coincide the ratio is 0/0; we define it as 0.5 (neither dominates).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.stats
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class ProbOutperform:
    """P(A > B) over runs with a percentile bootstrap interval.

    Args:
        p: Estimated probability that a run of A scores higher than a run of B (ties count 1/2).
        ci_low: Lower bound.
        ci_high: Upper bound.
        n_a: Runs of A.
        n_b: Runs of B.
        paired: Whether runs were paired by seed.
    """

    p: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int
    paired: bool


@dataclass(frozen=True)
class ASOResult:
    """Almost stochastic order of A over B.

    Args:
        eps_min: Smallest violation level rejected at the chosen confidence (Dror et al. 2019).
        violation_ratio: eps_W of the empirical distributions.
        sigma: Bootstrap standard deviation of sqrt(nm/(n+m)) * eps_W.
        n_a: Runs of A.
        n_b: Runs of B.
    """

    eps_min: float
    violation_ratio: float
    sigma: float
    n_a: int
    n_b: int


def prob_outperform(
    a: ArrayLike,
    b: ArrayLike,
    *,
    paired: bool | None = None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int | Iterable[int] = 0,
) -> ProbOutperform:
    """Estimate P(A > B) over runs (Bouthillier et al. 2021).

    Args:
        a: One score per run of A.
        b: One score per run of B.
        paired: Pair run i of A with run i of B (same seed). None: paired when the lengths match.
        n_bootstrap: Bootstrap resamples of the runs.
        confidence: Coverage of the interval.
        seed: Seed of the bootstrap.

    Returns:
        The estimate and its interval.
    """
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError("prob_outperform needs at least one run of each variant")
    paired = x.size == y.size if paired is None else paired
    if paired and x.size != y.size:
        raise ValueError(f"paired comparison needs as many runs of A as of B, got {x.size} and {y.size}")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    if paired:
        wins = (x > y) + 0.5 * (x == y)  # (n,)
        p = float(wins.mean())
        reps = wins[rng.integers(0, x.size, size=(n_bootstrap, x.size))].mean(axis=1)
    else:
        p = float(_auc(x[None, :], y[None, :])[0])
        xs = x[rng.integers(0, x.size, size=(n_bootstrap, x.size))]
        ys = y[rng.integers(0, y.size, size=(n_bootstrap, y.size))]
        reps = _auc(xs, ys)
    alpha = 1.0 - confidence
    low, high = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return ProbOutperform(p, float(low), float(high), int(x.size), int(y.size), bool(paired))


def _auc(x: NDArray, y: NDArray) -> NDArray[np.float64]:
    # Share of (run of A, run of B) pairs A wins, per row: x (rows, n), y (rows, m).
    gt = (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
    eq = (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
    return gt + 0.5 * eq


def _quantile_grid(n: int, m: int) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    # Intervals of (0, 1] on which both empirical quantile functions are constant. Breakpoints are
    # integers over lcm(n, m), so i/n and j/m that coincide are merged exactly.
    lcm = math.lcm(n, m)
    cuts = np.union1d(
        np.arange(1, n + 1, dtype=np.int64) * (lcm // n), np.arange(1, m + 1, dtype=np.int64) * (lcm // m)
    )
    left = np.concatenate([[0], cuts[:-1]])  # (k,) interval starts
    widths = (cuts - left) / lcm  # (k,)
    return widths, (left * n) // lcm, (left * m) // lcm


def _violation_rows(a_sorted: NDArray, b_sorted: NDArray) -> NDArray[np.float64]:
    # eps_W for each row pair of sorted samples: a_sorted (rows, n), b_sorted (rows, m).
    widths, ia, ib = _quantile_grid(a_sorted.shape[1], b_sorted.shape[1])
    diff = a_sorted[:, ia] - b_sorted[:, ib]  # (rows, k): F^-1(t) - G^-1(t) on each interval
    sq = widths * diff * diff  # (rows, k)
    total = sq.sum(axis=1)
    violated = np.where(diff < 0, sq, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, violated / np.where(total > 0, total, 1.0), 0.5)


def violation_ratio(a: ArrayLike, b: ArrayLike) -> float:
    """eps_W(F_A, F_B): how far A is from stochastically dominating B (0: A dominates).

    Args:
        a: Scores of A (one per run).
        b: Scores of B.

    Returns:
        The violation ratio in [0, 1] (0.5 when the empirical quantile functions coincide).
    """
    x = np.sort(np.asarray(a, dtype=np.float64).ravel())[None, :]
    y = np.sort(np.asarray(b, dtype=np.float64).ravel())[None, :]
    return float(_violation_rows(x, y)[0])


def aso(
    a: ArrayLike,
    b: ArrayLike,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int | Iterable[int] = 0,
) -> ASOResult:
    """Almost stochastic order test of A over B (Dror et al. 2019), higher scores better.

    Args:
        a: Scores of A (one per run).
        b: Scores of B (one per run).
        confidence: 1 - alpha of the test behind eps_min.
        n_bootstrap: Bootstrap resamples for sigma_hat.
        seed: Seed of the bootstrap.

    Returns:
        eps_min (clipped to [0, 1]), the violation ratio and sigma_hat.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    n, m = x.size, y.size
    if n == 0 or m == 0:
        raise ValueError("aso needs at least one run of each variant")
    eps = violation_ratio(x, y)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    xs = np.sort(x[rng.integers(0, n, size=(n_bootstrap, n))], axis=1)  # (B, n)
    ys = np.sort(y[rng.integers(0, m, size=(n_bootstrap, m))], axis=1)  # (B, m)
    const = math.sqrt(n * m / (n + m))
    sigma = float(np.std(const * (_violation_rows(xs, ys) - eps), ddof=1)) if n_bootstrap > 1 else 0.0
    eps_min = eps - sigma / const * float(scipy.stats.norm.ppf(1.0 - confidence))
    return ASOResult(float(np.clip(eps_min, 0.0, 1.0)), eps, sigma, n, m)
