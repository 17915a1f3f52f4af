"""Run a study's plan: each run in its own process, finished runs skipped, failures collected, then analysed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

from embedlab.study.plan import PlannedRun


def spec_of(run: PlannedRun) -> dict:
    spec = asdict(run)
    spec["run_dir"] = str(run.run_dir)
    return spec


def execute(runs: list[PlannedRun], quiet: bool = False) -> dict[str, str]:
    """Run every unfinished run in order; returns {run name: failure} for the runs that failed.

    Each run's exact commands are kept in `<run_dir>/study_run.json`; its output goes to the terminal,
    or to `<run_dir>/log.txt` with `quiet`.
    """
    failures: dict[str, str] = {}
    todo = [r for r in runs if not r.done]
    print(f"{len(runs) - len(todo)} of {len(runs)} runs already finished; {len(todo)} to run", flush=True)
    for number, run in enumerate(todo, 1):
        run.run_dir.mkdir(parents=True, exist_ok=True)
        spec_path = run.run_dir / "study_run.json"
        spec_path.write_text(json.dumps(spec_of(run), indent=2) + "\n", encoding="utf-8")
        what = f"train {run.steps} steps + evaluate" if run.kind == "trained" else f"evaluate ({run.kind})"
        print(f"\n[{number}/{len(todo)}] {run.name}: {what}", flush=True)
        started = time.perf_counter()
        env = {**os.environ, "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "ignore")}
        command = [sys.executable, "-m", "embedlab.study.worker", str(spec_path)]
        if quiet:
            with (run.run_dir / "log.txt").open("w", encoding="utf-8") as log:
                code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        else:
            code = subprocess.call(command, env=env)
        seconds = time.perf_counter() - started
        if code != 0 or not run.done:
            failures[run.name] = f"exit status {code}" + (f"; see {run.run_dir / 'log.txt'}" if quiet else "")
            print(f"[{number}/{len(todo)}] {run.name} FAILED after {seconds:.0f} s ({failures[run.name]})", flush=True)
        else:
            print(f"[{number}/{len(todo)}] {run.name} finished in {seconds:.0f} s", flush=True)
    return failures
