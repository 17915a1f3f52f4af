"""One planned run in its own process: `embedlab fit` then `embedlab test` into one run directory.

The runner starts `python -m embedlab.study.worker RUN_DIR/study_run.json`, so a crash or a memory
leak stays inside one run, and peak memory is the run's own. A fit that was interrupted resumes from
its last checkpoint (model, optimiser and data-stream state); a fit that finished is not redone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest `last.ckpt` under the run directory (Lightning nests it under the logger's version)."""
    found = sorted(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def fit_finished(run_dir: Path, steps: int) -> bool:
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        return False
    record = json.loads(run_json.read_text(encoding="utf-8"))
    return record.get("max_steps") == steps and bool(record.get("checkpoint")) and Path(record["checkpoint"]).is_file()


def run(spec: dict) -> int:
    from embedlab.cli import main

    run_dir = Path(spec["run_dir"])
    if spec["kind"] == "reference":
        from embedlab.eval.command import main as evaluate_main

        return evaluate_main(spec["evaluate"])
    if spec["kind"] == "untrained":
        return main(spec["evaluate"])
    if not fit_finished(run_dir, spec["steps"]):
        resume = last_checkpoint(run_dir)
        code = main([*spec["fit"], *(["--ckpt_path", str(resume)] if resume else [])])
        if code:
            return code
    checkpoint = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["checkpoint"]
    return main([*spec["evaluate"], "--ckpt_path", checkpoint])


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
