"""`embedlab study`: a whole comparison from a preset: plan, run (skipping finished runs), analyse, report.

embedlab study --preset demo                       # the README's demo (make demo)
embedlab study --preset offline --seeds 0 1 2      # the offline grid (make reproduce)
embedlab study --preset paper --dry-run            # the paper's plan and its estimated cost
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from embedlab.errors import EmbedlabError
from embedlab.study.plan import build_plan, describe
from embedlab.study.preset import configs_root, load_preset
from embedlab.study.report import write_study_report
from embedlab.study.runner import execute


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embedlab study", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", help="a name in configs/studies/ or a YAML path (default: demo)")
    parser.add_argument("--out", type=Path, help="the study's run folder (default: runs/<preset>)")
    parser.add_argument("--report", type=Path, help="the report folder (default: report/<preset>)")
    parser.add_argument("--variants", nargs="+", help="a subset of the preset's variants (names or prefixes: m1 m5)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds instead of the preset's")
    parser.add_argument("--steps", type=int, help="optimiser steps per run instead of the preset's")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and its estimated cost, run nothing")
    parser.add_argument("--force", action="store_true", help="run even where the preset's requirements look unmet")
    parser.add_argument("--no-layers", action="store_true", help="skip the layer analysis")
    parser.add_argument("--quiet", action="store_true", help="send each run's output to <run_dir>/log.txt")
    return parser


def unmet_requirements(requires: dict) -> list[str]:
    """What the preset needs that this machine lacks (GPUs, hub access)."""
    import torch

    problems = []
    gpus = int(requires.get("gpus", 0) or 0)
    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus > have:
        problems.append(f"needs {gpus} GPU(s), this machine has {have}")
    if requires.get("hub") and os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        problems.append("needs the Hugging Face hub, and HF_HUB_OFFLINE is set")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        root = configs_root()
        preset = load_preset(args.preset, root)
        if args.steps is not None:
            if args.steps < 1:
                raise EmbedlabError(f"--steps must be at least 1, got {args.steps}")
            preset.max_steps = args.steps
        out = args.out or Path("runs") / preset.name
        report_dir = args.report or Path("report") / preset.name
        runs = build_plan(preset, out, root, args.variants, args.seeds)
        print(describe(preset, runs), flush=True)
        problems = unmet_requirements(preset.requires)
        if args.dry_run:
            if problems:
                print(f"  (to run it: {'; '.join(problems)})")
            return 0
        if problems and not args.force:
            print(
                f"embedlab study: not running preset {preset.name!r} here: {'; '.join(problems)}. The plan above "
                "is what it would run; pass --force to try anyway.",
                file=sys.stderr,
            )
            return 2
        failures = execute(runs, quiet=args.quiet)
        if failures:
            print("\nembedlab study: failed runs (finished runs are kept; rerun the same command to retry):")
            for name, why in failures.items():
                print(f"  {name}: {why}")
            return 1
        if preset.layers and not args.no_layers:
            run_layers(preset, root, report_dir / "layers")
        report = write_study_report(preset, runs, out, report_dir, time.perf_counter() - started)
    except EmbedlabError as error:
        print(f"embedlab study: error: {error}", file=sys.stderr)
        return 2
    print(f"\n{report.main_table}\n{report.models_table}\n")
    print(f"study finished in {(time.perf_counter() - started) / 60:.1f} min; report: {report.path}")
    return 0


def run_layers(preset, root: Path, out: Path) -> None:
    """`embedlab layers` on the untrained backbone, into the report's `layers/` (skipped when already there)."""
    if (out / "layers.json").is_file():
        print(f"\nlayer analysis already in {out}", flush=True)
        return
    print(f"\nlayer analysis of {preset.backbone} -> {out}", flush=True)
    argv = [
        sys.executable,
        "-m",
        "embedlab.cli",
        "layers",
        "--backbone",
        str(root / "backbones" / f"{preset.backbone}.yaml"),
    ]
    for key, value in preset.layers.items():  # `embedlab layers` flags; lists are comma-separated there
        argv += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    argv += ["--out", str(out)]
    code = subprocess.call(argv)
    if code != 0:
        raise EmbedlabError(f"the layer analysis failed (exit status {code}); rerun with --no-layers to skip it")
