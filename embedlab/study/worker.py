"""One planned run in its own process: `embedlab fit` then `embedlab test` into one run directory.

The runner starts `python -m embedlab.study.worker RUN_DIR/study_run.json`, so a crash or a memory
leak stays inside one run, and peak memory is the run's own. The worker is only started for a run
without DONE. A fit that was interrupted (killed, SIGTERM, out of memory) resumes exactly from
`RUN_DIR/checkpoints/last.ckpt` (model, optimiser and data-stream state) through `--ckpt_path last`;
a fit that finished is not redone. An evaluation that was interrupted left results without DONE:
only then is it told to replace them (`--evaluation.overwrite true` / `--overwrite`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fit_finished(run_dir: Path, steps: int) -> bool:
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        return False
    record = json.loads(run_json.read_text(encoding="utf-8"))
    return record.get("max_steps") == steps and bool(record.get("checkpoint")) and Path(record["checkpoint"]).is_file()


def evaluation_interrupted(run_dir: Path) -> bool:
    """Results written by an evaluation that never finished (no DONE): safe, and needed, to replace."""
    results = run_dir / "results"
    return not (run_dir / "DONE").exists() and results.is_dir() and any(results.iterdir())


def run(spec: dict) -> int:
    from embedlab.cli import main

    run_dir = Path(spec["run_dir"])
    replace = evaluation_interrupted(run_dir)
    if spec["kind"] == "reference":
        from embedlab.eval.command import main as evaluate_main

        return evaluate_main([*spec["evaluate"], *(["--overwrite"] if replace else [])])
    test_flags = ["--evaluation.overwrite", "true"] if replace else []
    if spec["kind"] == "untrained":
        return main([*spec["evaluate"], *test_flags])
    if not fit_finished(run_dir, spec["steps"]):
        code = main([*spec["fit"], "--ckpt_path", "last"])  # no checkpoint yet: Lightning starts afresh
        if code:
            return code
    checkpoint = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["checkpoint"]
    return main([*spec["evaluate"], "--ckpt_path", checkpoint, *test_flags])


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
