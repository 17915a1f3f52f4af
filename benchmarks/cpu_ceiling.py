"""CPU ceiling: embedlab's training step and its encoder against this machine's bf16 matmul rate, in one run.

The ceiling is compute: a LoRA step costs about 4 x N FLOPs per real token (forward, and the backward
to the activations; the frozen base gets no weight gradients), a full fine-tune 6 x N, inference 2 x N,
where N counts the decoder's non-embedding weights. The matmul rate is measured here and now, at the
backbone's own shapes and the batch's token count, so the ratio holds on whichever CPU runs it.

- training: `embedlab fit` as a user runs it (configs/base.yaml + the backbone + the mix + a variant),
  timed step by step after warm-up by a callback; real tokens are the batch's attention-mask sums.
- encode: `EmbeddingModule.encode` on the mix's documents, bf16, after one warm-up batch; with the LoRA
  updates folded into the weights (the default on CPU) and, for comparison, with peft's unmerged forward.

    python benchmarks/cpu_ceiling.py                      # SmolLM2-135M, m1, the offline mix (needs the assets)
    python benchmarks/cpu_ceiling.py --fit-steps 40       # also a 40-step fit; cost.json's tokens_per_s
    python benchmarks/cpu_ceiling.py --backbone tiny-random --steps 2 --encode-texts 32   # seconds: a smoke test
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.60
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class StepTimer(Callback):
    """Wall time and real tokens of every training step after `warmup`, written to `out` at the end.

    Args:
        out: JSON file for the figures.
        warmup: steps left out of the timing (first oneDNN kernels, allocator growth).
    """

    def __init__(self, out: str, warmup: int = 3) -> None:
        self.out, self.warmup = out, warmup
        self.steps: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        seconds = time.perf_counter() - self._start
        real = sum(int(batch[side]["attention_mask"].sum()) for side in ("query", "documents"))
        padded = sum(batch[side]["attention_mask"].numel() for side in ("query", "documents"))
        self.steps.append({"seconds": seconds, "real_tokens": real, "padded_tokens": padded})

    def on_train_end(self, trainer, pl_module) -> None:
        Path(self.out).write_text(json.dumps({"warmup": self.warmup, "steps": self.steps}))


def linear_shapes(config) -> list[tuple[int, int]]:
    """(in, out) of every projection of one decoder layer."""
    hidden, inter = config.hidden_size, config.intermediate_size
    head_dim = getattr(config, "head_dim", None) or hidden // config.num_attention_heads
    kv = config.num_key_value_heads * head_dim
    q = config.num_attention_heads * head_dim
    return [(hidden, q), (hidden, kv), (hidden, kv), (q, hidden), (hidden, inter), (hidden, inter), (inter, hidden)]


def matmul_rate(shapes: list[tuple[int, int]], tokens: int, repeats: int = 10, rounds: int = 3) -> float:
    """bf16 GFLOP/s over one decoder layer's projections at `tokens` rows (the forward product and the backward
    one to the input), the best of `rounds`: the ceiling is what the machine reaches, not its noisy average."""
    return max(_matmul_round(shapes, tokens, repeats) for _ in range(rounds))


def _matmul_round(shapes: list[tuple[int, int]], tokens: int, repeats: int) -> float:
    flops = seconds = 0.0
    for fan_in, fan_out in shapes:
        x = torch.randn(tokens, fan_in, dtype=torch.bfloat16)
        w = torch.randn(fan_in, fan_out, dtype=torch.bfloat16)
        g = torch.randn(tokens, fan_out, dtype=torch.bfloat16)
        for _ in range(2):  # warm-up: oneDNN picks and caches its kernel per shape
            x @ w, g @ w.T
        start = time.perf_counter()
        for _ in range(repeats):
            x @ w  # forward
            g @ w.T  # backward to the input
        seconds += time.perf_counter() - start
        flops += repeats * 2 * (2 * tokens * fan_in * fan_out)
    return flops / seconds / 1e9


def non_embedding_parameters(config) -> int:
    per_layer = sum(i * o for i, o in linear_shapes(config))
    return per_layer * config.num_hidden_layers


def fit_args(args, root: Path, steps: int, timer_out: Path | None) -> list[str]:
    argv = [
        "fit",
        "--config", str(ROOT / "configs/base.yaml"),
        "--config", str(ROOT / f"configs/backbones/{args.backbone}.yaml"),
        "--config", str(ROOT / f"configs/data/{args.data}.yaml"),
        "--config", str(ROOT / f"configs/variants/{args.variant}.yaml"),
        "--trainer.max_steps", str(steps),
        "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    if timer_out is not None:
        callback = {"class_path": "cpu_ceiling.StepTimer", "init_args": {"out": str(timer_out), "warmup": args.warmup}}
        argv += ["--trainer.callbacks+=" + json.dumps(callback)]
    return argv + args.overrides


def run_fit(argv: list[str]) -> None:
    from embedlab.cli import main

    code = main(argv)
    if code:
        raise SystemExit(f"embedlab fit failed with exit status {code}: {' '.join(argv)}")


def time_training(args, workdir: Path) -> dict:
    out = workdir / "steps.json"
    run_fit(fit_args(args, workdir / "timed", args.warmup + args.steps, out))
    steps = json.loads(out.read_text())["steps"][args.warmup :]
    seconds = sum(s["seconds"] for s in steps)
    real = sum(s["real_tokens"] for s in steps)
    padded = sum(s["padded_tokens"] for s in steps)
    return {
        "steps": len(steps),
        "seconds_per_step": seconds / len(steps),
        "real_tokens_per_step": real / len(steps),
        "padded_fraction": 1 - real / padded,
        "tokens_per_s": real / seconds,
    }


def backbone_config(args) -> dict:
    """The backbone's init args as the fit's configs give them (configs/backbones/<name>.yaml)."""
    from embedlab.data.inspect import load_configs

    config = load_configs([str(ROOT / f"configs/backbones/{args.backbone}.yaml")])
    return dict(config["model"]["backbone"]["init_args"])


def time_encode(args, texts: list[str], merge_lora: str = "auto") -> tuple[dict, object]:
    """Encode throughput of the fit's backbone (LoRA adapters attached, as a trained checkpoint has them).

    `merge_lora`: the backbone's option (auto folds the adapters into the weights on CPU; never keeps peft's
    unmerged forward, for the side-by-side figure)."""
    import embedlab.models  # noqa: F401  (registers the component names)
    from embedlab.models import Backbone, Causal, LastToken
    from embedlab.models.backbone import LoRA
    from embedlab.module import EmbeddingModule

    init = backbone_config(args)
    if isinstance(init.get("lora"), dict):
        init["lora"] = LoRA(**init["lora"])
    init["max_length"] = args.encode_length
    init["merge_lora"] = merge_lora
    backbone = Backbone(**init)
    module = EmbeddingModule(backbone, attention=Causal(), pooling=LastToken)
    batch = args.encode_batch
    module.encode(texts[:batch], batch_size=batch, precision="bf16")  # warm-up
    features = backbone.tokenizer(texts[batch:], None, args.encode_length)
    real = int(features["attention_mask"].sum())
    start = time.perf_counter()
    module.encode(texts[batch:], batch_size=batch, precision="bf16")
    seconds = time.perf_counter() - start
    figures = {"texts": len(texts) - batch, "real_tokens": real, "seconds": seconds, "tokens_per_s": real / seconds}
    return figures, backbone.base_model.config


def mix_documents(args, count: int) -> list[str]:
    """An even sample, across lengths, of the training mix's texts."""
    from embedlab.data.contamination import training_texts  # the one reader of every text of a mix
    from embedlab.data.inspect import build_mix, load_configs

    mix = build_mix(load_configs([str(ROOT / f"configs/data/{args.data}.yaml")]))
    texts = sorted({t for group in training_texts(mix.sources).values() for t in group}, key=len, reverse=True)
    return texts[:: max(1, len(texts) // count)][:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="smollm2-135m", help="configs/backbones/<name>.yaml")
    parser.add_argument("--data", default="offline-mix", help="configs/data/<name>.yaml")
    parser.add_argument("--variant", default="m1_eos_causal", help="configs/variants/<name>.yaml")
    parser.add_argument("--warmup", type=int, default=3, help="training steps left out of the timing")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--fit-steps", type=int, default=0, help="also run a fit of this many steps (cost.json)")
    parser.add_argument("--encode-texts", type=int, default=288, help="documents to encode (after 32 warm-up)")
    parser.add_argument("--encode-length", type=int, default=128, help="token limit when encoding")
    parser.add_argument("--encode-batch", type=int, default=32, help="texts per encode batch")
    parser.add_argument("--full", action="store_true", help="the ceiling of a full fine-tune (6N) instead of LoRA")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("overrides", nargs="*", help="extra `embedlab fit` arguments, e.g. --model.x y")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))  # `cpu_ceiling.StepTimer` for the fit's callback list
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        training = time_training(args, workdir)
        documents = mix_documents(args, args.encode_texts + args.encode_batch)
        encode, config = time_encode(args, documents)
        unmerged, _ = time_encode(args, documents, merge_lora="never")
        n = non_embedding_parameters(config)
        rate = matmul_rate(linear_shapes(config), int(training["real_tokens_per_step"] / 2))
        training["ceiling_tokens_per_s"] = rate * 1e9 / ((6 if args.full else 4) * n)
        training["ratio"] = training["tokens_per_s"] / training["ceiling_tokens_per_s"]
        encode["ceiling_tokens_per_s"] = rate * 1e9 / (2 * n)
        encode["ratio"] = encode["tokens_per_s"] / encode["ceiling_tokens_per_s"]
        unmerged["ceiling_tokens_per_s"] = encode["ceiling_tokens_per_s"]
        unmerged["ratio"] = unmerged["tokens_per_s"] / encode["ceiling_tokens_per_s"]
        fit = None
        if args.fit_steps:
            run_fit(fit_args(args, workdir / "fit", args.fit_steps, None))
            cost = json.loads((workdir / "fit" / "cost.json").read_text())
            fit = {"steps": args.fit_steps, "tokens_per_s": cost["training"]["tokens_per_s"]}
            fit["ratio"] = fit["tokens_per_s"] / training["ceiling_tokens_per_s"]
    figures = {
        "machine": {"threads": torch.get_num_threads(), "bf16_matmul_gflops": rate, "non_embedding_parameters": n},
        "training": training,
        "encode": encode,
        "encode_unmerged_lora": unmerged,
        "fit": fit,
    }
    print(f"bf16 matmul at the backbone's shapes: {rate:.0f} GFLOP/s on {torch.get_num_threads()} threads; N = {n:,}")
    parts = (("training", training), ("encode", encode), ("unmerged", unmerged), ("fit", fit))
    for name, part in parts:
        if part is None:
            continue
        ceiling = training["ceiling_tokens_per_s"] if name == "fit" else part["ceiling_tokens_per_s"]
        verdict = "PASS" if part["ratio"] >= GOAL else "FAIL"
        print(
            f"{name:9s} {part['tokens_per_s']:8.0f} real tokens/s, ceiling {ceiling:6.0f}: "
            f"ratio {part['ratio']:.2f} ({verdict} vs {GOAL})"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
