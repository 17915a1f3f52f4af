"""Benchmark: encoding the offline suite's texts length-sorted vs unsorted.

Same model, same batch size, same texts, one timed run each (after one warm-up batch). Two orders:

- `--order shuffled` (default): a seeded sample of the distinct texts offline-v1 encodes (STS pairs,
  headlines and article leads, reviews, tweets, words), in a seeded random order, encoded in one
  call: the length mix of the suite in an arbitrary order;
- `--order calls`: every text of the suite, one call per task column, each in the order mteb hands
  it over (sorting then acts within a call, as in a real evaluation).

Sorting makes each batch pad to its own longest text instead of to the longest of a mix. The
issue's target is a ratio of at least 1.3.

    python benchmarks/encode_sorted.py                          # SmolLM2-135M, Mean + Bidirectional
    python benchmarks/encode_sorted.py --order calls
    python benchmarks/encode_sorted.py --model all-minilm-l6-v2 --texts 2000

Prints wall and process CPU time of each run (wall time means something only on an idle machine;
the load average is printed too), the ratio, and PASS/FAIL; exits 1 on FAIL. Needs the assets
(`embedlab assets fetch`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from embedlab.eval.adapter import MTEBAdapter  # noqa: E402
from embedlab.eval.offline import OFFLINE_V1  # noqa: E402

TARGET = 1.3


def suite_texts() -> list[list[str]]:
    """The texts of every column the offline suite encodes, one list per column, in dataset order."""
    groups = []
    for cls in OFFLINE_V1:
        task = cls()
        task.load_data()
        if task.metadata.type == "Retrieval":
            split = task.dataset["default"]["test"]
            groups += [list(split["queries"]["text"]), list(split["corpus"]["text"])]
            continue
        for split in task.dataset.values():
            names = ("sentence1", "sentence2", "text", "sentences")
            groups += [list(split[c]) for c in names if c in split.column_names]
    return groups


def build_model(name: str):
    if name == "all-minilm-l6-v2":
        from embedlab.eval.encoders import load_reference

        return load_reference(name, device="cpu")
    from embedlab.models import Backbone, Bidirectional, Mean
    from embedlab.module import EmbeddingModule

    if name == "tiny":
        config = {
            "model_type": "llama",
            "vocab_size": 259,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 512,
        }
        backbone = Backbone("tiny", config=config, tokenizer="byte-level", max_length=512)
    else:
        backbone = Backbone(name, max_length=512)
    return EmbeddingModule(backbone, attention=Bidirectional(), pooling=Mean)


def timed(adapter: MTEBAdapter, calls: list[list[str]]) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = np.concatenate([adapter.encode_texts(texts) for texts in calls])
    return time.perf_counter() - wall, time.process_time() - cpu, vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="smollm2-135m (default), tiny, all-minilm-l6-v2")
    parser.add_argument("--order", choices=("shuffled", "calls"), default="shuffled")
    parser.add_argument("--texts", type=int, default=1024, help="with --order shuffled: texts sampled (0: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="auto", help="auto (bf16 where supported), bf16 or fp32")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    groups, rng = suite_texts(), np.random.default_rng(0)
    if args.order == "calls":
        calls = groups
    else:
        pool = list(dict.fromkeys(t for group in groups for t in group))
        size = args.texts if 0 < args.texts < len(pool) else len(pool)
        calls = [[pool[i] for i in rng.choice(len(pool), size, replace=False)]]  # seeded sample, random order
    texts = [t for call in calls for t in call]
    model = build_model(args.model)
    kwargs = {"instructions": "none", "batch_size": args.batch_size, "precision": args.precision, "cache": False}
    sorted_adapter = MTEBAdapter(model, sort_by_length=True, **kwargs)
    unsorted_adapter = MTEBAdapter(model, sort_by_length=False, **kwargs)
    sorted_adapter.encode_texts(texts[: args.batch_size])  # warm-up: first-call allocations, kernel selection
    print(
        f"{args.model}, order {args.order}: {len(texts)} texts in {len(calls)} call(s) "
        f"({np.mean([len(t) for t in texts]):.0f} characters on average), "
        f"batch {args.batch_size}, {sorted_adapter.precision}, {args.threads} threads, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    wall_sorted, cpu_sorted, a = timed(sorted_adapter, calls)
    wall_unsorted, cpu_unsorted, b = timed(unsorted_adapter, calls)
    ratio = wall_unsorted / wall_sorted
    print(f"sorted    {wall_sorted:8.2f} s wall  {cpu_sorted:8.2f} s cpu")
    print(f"unsorted  {wall_unsorted:8.2f} s wall  {cpu_unsorted:8.2f} s cpu")
    difference = np.abs(a - b).max(axis=1)  # [N]: padding changes bf16 rounding, not fp32 results
    print(f"|difference| of the vectors: median {np.median(difference):.1e}, max {difference.max():.1e}")
    print(
        f"speed-up {ratio:.2f}x (cpu time {cpu_unsorted / cpu_sorted:.2f}x), target >= {TARGET}: "
        f"{'PASS' if ratio >= TARGET else 'FAIL'}"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
