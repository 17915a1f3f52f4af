"""Benchmark: the training mix's loader throughput, and the padding that length bucketing removes.

1. Throughput: tokenised triplets (query + positive + hard negative, BM25-mined) per second that the
   offline mix's train DataLoader delivers to the main process with the SmolLM2 tokenizer and
   `--workers` worker processes (default 2, the CI machine's cores), on the same batches twice:
   - cold: no token store (`token_store: false`, or the first run before a store exists): the
     workers tokenise every text (pre-truncation, per-worker cache);
   - warm: the token store present (built by `prepare_data`, timed and printed as the build time):
     what every run of a study after the first, and every later epoch, sees.
   Timed from the first batch (worker start-up and the first read of the corpora excluded; printed
   separately), as wall clock and per CPU-second of the main process and the workers.
   Target: >= 3,000/s, checked against the warm figure (steady state); the cold figure is printed next to it.
2. Padded fraction: padding tokens / all tokens in the query and document tensors, over the same
   batches with length bucketing (as configured) and without it. Target: <= 10% with bucketing.

    python benchmarks/data_throughput.py                            # configs/data/offline-mix.yaml as is
    python benchmarks/data_throughput.py --document-max-length 512  # other limits
    python benchmarks/data_throughput.py --batches 400 --workers 2
    python benchmarks/data_throughput.py --skip 410                 # time the second epoch (token cache warm)
    python benchmarks/data_throughput.py --store-dir ~/.cache/embedlab/tokens  # keep the store (default: a temp dir)

Prints the load average (wall-clock rates mean little on a busy machine), both figures and
PASS/FAIL; exits 1 on FAIL. Needs the assets (`embedlab assets fetch`).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from embedlab.data.inspect import build_mix, load_configs, load_tokenizer  # noqa: E402
from embedlab.data.report import measure  # noqa: E402
from embedlab.data.stream import META  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
STACK = [CONFIGS / "base.yaml", CONFIGS / "backbones" / "smollm2-135m.yaml", CONFIGS / "data" / "offline-mix.yaml"]
TARGET_RATE, TARGET_PADDING = 3000.0, 0.10


def cpu_seconds(processes) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def throughput(mix, batches: int, skip: int = 0) -> dict:
    """Triplets per wall second and per CPU second (main + workers) after the first batch, and the start-up time."""
    import psutil

    started = time.perf_counter()
    mix.prepare_streams()
    loader = mix.train_dataloader()
    state = {"iterator": iter(loader)}
    processes = [psutil.Process()] + [psutil.Process(w.pid) for w in getattr(state["iterator"], "_workers", [])]

    def consume() -> dict:
        try:
            batch = next(state["iterator"])
        except StopIteration:  # the epoch ended: the next one continues the stream (persistent workers)
            state["iterator"] = iter(loader)
            batch = next(state["iterator"])
        mix.on_before_batch_transfer(batch, 0)
        return batch

    for _ in range(1 + skip):
        consume()
    first, cpu_first = time.perf_counter(), cpu_seconds(processes)
    triplets = 0
    for _ in range(batches):
        batch = consume()
        triplets += batch["query"]["input_ids"].shape[0]
    wall, cpu = time.perf_counter() - first, cpu_seconds(processes) - cpu_first
    assert META not in batch
    state.clear()  # shuts the workers down
    return {"wall": triplets / wall, "cpu": triplets / cpu, "startup": first - started, "triplets": triplets}


def report(name: str, result: dict, cores: int) -> None:
    print(
        f"  {name}: {result['wall']:,.0f} triplets/s wall clock, {result['cpu']:,.0f} per CPU-second (main + workers; "
        f"about {result['cpu'] * cores:,.0f}/s on {cores} idle cores); first batch after {result['startup']:.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="batches timed and measured")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--skip", type=int, default=0, help="batches consumed before timing (e.g. one epoch: warm caches)"
    )
    parser.add_argument("--batch-size", type=int, help="override the config's batch_size")
    parser.add_argument("--query-max-length", type=int)
    parser.add_argument("--document-max-length", type=int)
    parser.add_argument("--length-matched-negatives", choices=["true", "false"], help="override the config's")
    parser.add_argument("--store-dir", help="token store folder (default: a fresh temporary one, built here)")
    args = parser.parse_args()
    logging.getLogger("embedlab.data").setLevel(logging.ERROR)
    overrides = {
        key: value
        for key, value in (
            ("batch_size", args.batch_size),
            ("query_max_length", args.query_max_length),
            ("document_max_length", args.document_max_length),
            (
                "length_matched_negatives",
                None if args.length_matched_negatives is None else args.length_matched_negatives == "true",
            ),
        )
        if value is not None
    }
    config = load_configs([str(p) for p in STACK])
    tokenizer, name = load_tokenizer(config)
    cores = os.cpu_count() or 1
    print(f"load average {os.getloadavg()[0]:.1f} on {cores} cores; tokenizer {name}; overrides {overrides or 'none'}")

    store_dir = args.store_dir or tempfile.mkdtemp(prefix="embedlab-tokens-")
    try:
        cold = build_mix(config, num_workers=args.workers, token_store=False, **overrides)
        cold.connect(tokenizer)
        cold_result = throughput(cold, args.batches, args.skip)

        warm = build_mix(config, num_workers=args.workers, token_store_dir=store_dir, **overrides)
        warm.connect(tokenizer)
        started = time.perf_counter()
        warm.prepare_data()  # what a Trainer runs first: builds the store (or checks an existing one)
        built = time.perf_counter() - started
        warm.collator.tokenizer.open_stores()  # as `setup` does
        rows = sum(store.rows for store in warm.collator.tokenizer.stores.values())
        warm_result = throughput(warm, args.batches, args.skip)
        print(
            f"throughput over {cold_result['triplets']:,} triplets ({args.batches} batches after {args.skip} "
            f"skipped, {args.workers} workers):"
        )
        report("cold (no token store: every text tokenised in the workers)", cold_result, cores)
        print(
            f"  token store: {rows:,} rows, built (or checked, if present) in {built:.1f} s by prepare_data, "
            f"once per tokenizer setting and mix, in {store_dir}"
        )
        report("warm (token store present: every run after the first, every later epoch)", warm_result, cores)
    finally:
        if not args.store_dir:
            shutil.rmtree(store_dir, ignore_errors=True)
    rate = warm_result["wall"]
    load = os.getloadavg()[0]
    if load > cores:  # other processes share the cores: wall-clock rates understate
        print(
            f"  note: load average {load:.1f} on {cores} cores during the runs: wall-clock rates understate; "
            f"per CPU-second, warm projects to {warm_result['cpu'] * cores:,.0f}/s and cold to "
            f"{cold_result['cpu'] * cores:,.0f}/s on {cores} idle cores (the target is checked on wall clock)"
        )

    padded = {}
    for bucketing in (True, False):
        mix = build_mix(config, num_workers=0, length_bucketing=bucketing, token_store=False, **overrides)
        mix.connect(tokenizer)
        stats = measure(mix, args.batches)
        padded[bucketing] = stats.padded_fraction
    hp = mix.hparams
    default = tokenizer.max_length
    limits = f"queries {hp.query_max_length or default}, documents {hp.document_max_length or default} tokens"
    print(f"padded fraction over {args.batches} batches of {hp.batch_size} ({limits}):")
    print(f"  length bucketing (window {hp.bucket_window}): {padded[True]:.1%}   without: {padded[False]:.1%}")

    ok_rate, ok_padding = rate >= TARGET_RATE, padded[True] <= TARGET_PADDING
    print(
        f"throughput >= {TARGET_RATE:,.0f}/s (warm, wall clock: {rate:,.0f}/s; cold: {cold_result['wall']:,.0f}/s): "
        f"{'PASS' if ok_rate else 'FAIL'}"
    )
    print(f"padded fraction with bucketing <= {TARGET_PADDING:.0%}: {'PASS' if ok_padding else 'FAIL'}")
    return 0 if ok_rate and ok_padding else 1


if __name__ == "__main__":
    sys.exit(main())
