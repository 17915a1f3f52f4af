"""Benchmark: wall time of the whole demo study (`make demo` without the install and asset fetch).

Runs `embedlab study --preset demo` into a fresh folder (nothing skipped), from the first run to the
report, and compares the wall time with the issue's budget of 15 minutes on 2 CPU cores. The install
(~70 s) and the asset fetch (~35 s on a fresh cache) come on top on a fresh clone and are reported
by `make demo` itself.

    python benchmarks/demo_time.py                  # runs into a temporary folder, then removes it
    python benchmarks/demo_time.py --keep runs/demo-bench

Prints the load average before and after (wall time means something only on an idle machine), the
time of each run (from its cost.json) and PASS/FAIL; exits 1 on FAIL. Needs the assets.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="run into this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="embedlab-demo-"))
    if args.keep and args.keep.exists():
        print(f"{args.keep} exists: choose a new folder (the benchmark times a study from scratch)")
        return 2
    before = os.getloadavg()[0]
    started = time.perf_counter()
    command = [sys.executable, "-m", "embedlab.cli", "study", "--preset", "demo", "--quiet"]
    code = subprocess.call([*command, "--out", str(root / "runs"), "--report", str(root / "report")])
    wall = time.perf_counter() - started
    print(f"\nload average {before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")
    for cost_path in sorted((root / "runs").rglob("cost.json")):
        cost = json.loads(cost_path.read_text(encoding="utf-8"))
        train = cost.get("training", {}).get("wall_time_s", 0.0)
        evaluation = cost.get("evaluation", {}).get("wall_time_s", 0.0)
        print(f"  {cost_path.parent.name:32} training {train:6.1f} s   evaluation {evaluation:6.1f} s")
    ok = code == 0 and wall <= BUDGET_S
    print(
        f"demo study wall time {wall / 60:.1f} min (exit status {code}), budget {BUDGET_S / 60:.0f} min: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
