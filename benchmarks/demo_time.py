"""Benchmark: wall time of `make demo` as a new user meets it, against the budget of 15 minutes on 2 CPU cores.

Two modes:

    python benchmarks/demo_time.py --fresh-clone     # clone HEAD, empty asset cache: install + assets + study
    python benchmarks/demo_time.py                   # the study alone, in this checkout (needs the assets)
    python benchmarks/demo_time.py --keep runs/demo-bench

`--fresh-clone` clones this repository's committed HEAD into a temporary folder, points `EMBEDLAB_CACHE`
at an empty folder (and torch's inductor cache at another) and runs `make install`, `make assets` and
`make demo` there one after the other, timing each (`make demo` repeats nothing the first two did).
pip's own wheel cache is used as it is; `--no-pip-cache` turns it off, to time a first download of the
pinned wheels too.

Prints the load average before and after (wall time means something only on an idle machine), each
run's training and evaluation time (from its cost.json) and PASS/FAIL; exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 15 * 60
ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, float]:
    """Exit status and wall seconds of a command, its output passed through."""
    started = time.perf_counter()
    code = subprocess.call(command, cwd=cwd, env=env)
    return code, time.perf_counter() - started


def fresh_clone(work: Path, pip_cache: bool) -> tuple[int, dict[str, float], Path]:
    """Clone HEAD into `work`, then install, fetch the assets into an empty cache and run the demo there."""
    clone = work / "embedlab"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # An empty inductor cache too: the compiled CPU kernels (backbone.fuse_elementwise) are built as a new user's are.
    env = dict(os.environ, EMBEDLAB_CACHE=str(work / "cache"), TORCHINDUCTOR_CACHE_DIR=str(work / "inductor"))
    if not pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    stages: dict[str, float] = {}
    for target in ("install", "assets", "demo"):
        print(f"\n== make {target}", flush=True)
        code, stages[target] = timed(["make", target], clone, env)
        if code:
            return code, stages, clone / "runs" / "demo"
    return 0, stages, clone / "runs" / "demo"


def study_only(root: Path) -> tuple[int, dict[str, float], Path]:
    """The demo study in this checkout, into `root` (nothing skipped)."""
    command = [sys.executable, "-m", "embedlab.cli", "study", "--preset", "demo", "--quiet"]
    code, seconds = timed([*command, "--out", str(root / "runs"), "--report", str(root / "report")], ROOT)
    return code, {"study": seconds}, root / "runs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh-clone", action="store_true", help="clone HEAD, empty cache: install, assets, demo")
    parser.add_argument("--no-pip-cache", action="store_true", help="with --fresh-clone: no pip wheel cache")
    parser.add_argument("--keep", type=Path, help="run into this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    if args.keep and args.keep.exists():
        print(f"{args.keep} exists: choose a new folder (the benchmark times a demo from scratch)")
        return 2
    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="embedlab-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    before = os.getloadavg()[0]
    if args.fresh_clone:
        code, stages, runs = fresh_clone(work, pip_cache=not args.no_pip_cache)
    else:
        code, stages, runs = study_only(work)
    wall = sum(stages.values())
    print(f"\nload average {before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
    for cost_path in sorted(runs.rglob("cost.json")):
        cost = json.loads(cost_path.read_text(encoding="utf-8"))
        train = cost.get("training", {}).get("wall_time_s", 0.0)
        evaluation = cost.get("evaluation", {}).get("wall_time_s", 0.0)
        print(f"  {cost_path.parent.name:32} training {train:6.1f} s   evaluation {evaluation:6.1f} s")
    print("  " + ", ".join(f"{name} {seconds / 60:.1f} min" for name, seconds in stages.items()))
    ok = code == 0 and wall <= BUDGET_S
    what = "make install + assets + demo on a fresh clone" if args.fresh_clone else "demo study"
    print(
        f"{what}: {wall / 60:.1f} min (exit status {code}), budget {BUDGET_S / 60:.0f} min: {'PASS' if ok else 'FAIL'}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
