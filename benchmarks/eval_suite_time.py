"""Benchmark: wall time of the whole offline-v1 suite for SmolLM2-135M (untrained, Mean + Bidirectional).

The issue's budget is about three minutes on 2 CPU cores, from start (model load included) to the
DONE marker of the run directory. Evaluates through the same path as `embedlab evaluate`, with the
default instructions and bf16 autocast where the CPU has it.

    python benchmarks/eval_suite_time.py                       # SmolLM2-135M, 2 threads
    python benchmarks/eval_suite_time.py --reference           # all-minilm-l6-v2 (fp32, no instructions)
    python benchmarks/eval_suite_time.py --run-dir runs/floor  # keep the run directory

Prints the score table with per-task times, the model load time, wall and process CPU time (wall
time means something only on an idle machine; the load average is printed too) and PASS/FAIL
against the budget; exits 1 on FAIL. Needs the assets (`embedlab assets fetch`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

BUDGET_S = 180.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", action="store_true", help="time all-minilm-l6-v2 instead")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default=None, help="auto (default for SmolLM2), bf16 or fp32")
    parser.add_argument("--run-dir", help="keep the run directory here (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()

    from embedlab.eval.adapter import MTEBAdapter
    from embedlab.eval.run import evaluate_run, module_info, reference_info

    if args.reference:
        from embedlab.eval.encoders import load_reference

        model, info = load_reference("all-minilm-l6-v2", device="cpu"), reference_info("all-minilm-l6-v2")
        adapter = MTEBAdapter(model, instructions="none", precision=args.precision or "fp32")
    else:
        from embedlab.models import Backbone, Bidirectional, Mean
        from embedlab.module import EmbeddingModule

        model = EmbeddingModule(Backbone("smollm2-135m", max_length=512), attention=Bidirectional(), pooling=Mean)
        info = module_info(model)
        adapter = MTEBAdapter(model, instructions="default", precision=args.precision or "auto")
    loaded = time.perf_counter() - wall
    with tempfile.TemporaryDirectory() as scratch:
        report = evaluate_run(adapter, "offline-v1", args.run_dir or scratch, info, batch_size=args.batch_size)
    total, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(report.table())
    print(
        f"{info['variant']} ({info['backbone']}), {adapter.precision}, {args.threads} threads, "
        f"load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    print(
        f"model load {loaded:.1f} s; encoding {adapter.stats['encode_seconds']:.1f} s for "
        f"{adapter.stats['encoded']} distinct texts of {adapter.stats['texts']} requested"
    )
    ok = total <= BUDGET_S
    print(
        f"suite wall time {total:.1f} s (process cpu {cpu:.1f} s), budget {BUDGET_S:.0f} s: {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
