"""Benchmark: paired bootstrap, 10,000 resamples x 100,000 per-example scores, all 45 pairs of 10 variants.

The issue's target is at most 10 s on 2 cores. The work is vectorised: each block of resamples is
one int32 index matrix, one `np.bincount` into a count matrix and one `counts @ scores` product
that serves all 10 variants (hence all 45 pairs) at once; blocks run on a thread pool.

    python benchmarks/bootstrap_speed.py              # the issue's sizes, all CPUs
    python benchmarks/bootstrap_speed.py --jobs 2 --dtype float64

Prints the wall time of the timed run (after one small warm-up call that pays for imports and
first-touch memory), PASS/FAIL against the budget, and the process CPU time (a check on a shared
machine: wall time is only meaningful when nothing else is running); exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from embedlab.analysis.paired import pairwise_mean_bootstrap  # noqa: E402
from embedlab.analysis.resampling import default_jobs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command-line arguments (None: sys.argv[1:]).

    Returns:
        0 if within the budget, else 1.
    """
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=100_000)
    p.add_argument("--variants", type=int, default=10)
    p.add_argument("--resamples", type=int, default=10_000)
    p.add_argument("--jobs", type=int, default=None, help="threads (default: all CPUs)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--budget", type=float, default=10.0, help="seconds allowed (default: 10)")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    # Per-query nDCG@10-like scores in [0, 1], correlated across variants as real paired outputs are.
    base = rng.beta(2.0, 2.0, size=(args.examples, 1))
    scores = np.clip(base + 0.05 * rng.normal(size=(args.examples, args.variants)), 0.0, 1.0)
    names = [f"v{i}" for i in range(args.variants)]
    dtype = np.float32 if args.dtype == "float32" else np.float64
    jobs = args.jobs or default_jobs()

    pairwise_mean_bootstrap(scores[:1000], names, 100, seed=1, n_jobs=jobs, dtype=dtype)  # warm-up
    start, cpu_start = time.perf_counter(), time.process_time()
    table = pairwise_mean_bootstrap(scores, names, args.resamples, seed=0, n_jobs=jobs, dtype=dtype)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start

    verdict = "PASS" if elapsed <= args.budget else "FAIL"
    print(
        f"paired bootstrap: {args.resamples} resamples x {args.examples} examples x {len(table)} pairs "
        f"({args.variants} variants), {args.dtype}, {jobs} thread(s) on {os.cpu_count()} CPU(s): {elapsed:.2f} s "
        f"-> {verdict} (budget {args.budget:g} s); CPU time {cpu:.2f} s"
    )
    print(f"widest 95% interval: {float((table.ci_high - table.ci_low).max()):.5f}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
