"""The resampling engine: seeded blocks, thread-count independence, counts @ scores."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.analysis.resampling import (
    block_size,
    bootstrap_means,
    draw_indices,
    map_blocks,
    percentile_interval,
    resample_counts,
    stable_seed,
)


def test_stable_seed_uses_crc32_for_names() -> None:
    assert stable_seed(3, "STS12") == [3, 2643336232]


def test_map_blocks_does_not_depend_on_threads() -> None:
    def fn(rng: np.random.Generator, size: int) -> np.ndarray:
        return draw_indices(rng, size, 50)

    one = map_blocks(fn, 103, 7, block=10, n_jobs=1)
    two = map_blocks(fn, 103, 7, block=10, n_jobs=2)
    assert one.shape == (103, 50)
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, map_blocks(fn, 103, 8, block=10, n_jobs=1))


def test_map_blocks_rejects_zero_resamples() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        map_blocks(lambda rng, size: np.zeros((size, 1)), 0, 0, 1)


def test_resample_counts_are_per_row_bincounts() -> None:
    idx = np.random.default_rng(0).integers(0, 9, size=(4, 9))
    counts = resample_counts(idx, 9)
    np.testing.assert_array_equal(counts, [np.bincount(row, minlength=9) for row in idx])
    assert (counts.sum(axis=1) == 9).all()


def test_bootstrap_means_equal_gathered_means_on_the_same_resamples() -> None:
    x = np.random.default_rng(1).random((300, 3))
    means = bootstrap_means(x, 250, seed=5, n_jobs=1)
    idx = map_blocks(lambda rng, size: draw_indices(rng, size, 300), 250, 5, block_size(300, 250), n_jobs=1)
    np.testing.assert_allclose(means, x[idx].mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(bootstrap_means(x, 250, seed=5, dtype=np.float32), means, atol=1e-6)


def test_percentile_interval_along_first_axis() -> None:
    low, high = percentile_interval(np.arange(101.0)[:, None].repeat(2, axis=1), alpha=0.1)
    np.testing.assert_allclose(low, [5.0, 5.0])
    np.testing.assert_allclose(high, [95.0, 95.0])
