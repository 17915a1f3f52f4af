"""Training-step throughput: embedlab's step against a naive loop and sentence-transformers, on the
same model, the same texts and the same batch size, measured in one process, one run.

Reported per method: real (non-padding) tokens per second, padded fraction, and on GPU the model
FLOP utilisation (6 x N x real tokens / s over the card's bf16 peak; 4 x N for LoRA).

- embedlab: `EmbeddingModule` with its defaults: length-bucketed batches (examples sorted by length
  within windows of 16 batches, as `TrainingMix(length_bucketing=True)` does), positives and hard
  negatives in one forward pass, fused AdamW and `torch.compile` on GPU, flash-attention when
  installed (`attn_implementation: auto`), bf16 autocast on GPU.
- naive: the plain Hugging Face training loop an embedding fine-tune starts from: random batches, padded,
  three forward passes (queries, positives, negatives), last-token pooling, InfoNCE, AdamW.
- sentence-transformers: Transformer -> last-token Pooling -> Normalize with
  MultipleNegativesRankingLoss (scale 20), pre-tokenised, on the naive loop's batches.

    python benchmarks/train_throughput.py --preset tiny          # CPU, a minute
    python benchmarks/train_throughput.py --preset smollm2       # CPU, needs `embedlab assets fetch smollm2-135m`
    python benchmarks/train_throughput.py --preset qwen2-0.5b    # GPU: random-init Qwen2-0.5B shape, full fine-tune
    python benchmarks/train_throughput.py --preset mistral-7b    # GPU: Mistral-7B shape, LoRA r16, checkpointing
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import tempfile
import time
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F

QWEN2_05B = {
    "model_type": "qwen2",
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
}
MISTRAL_7B = {
    "model_type": "mistral",
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
}
TINY = {
    "model_type": "llama",
    "vocab_size": 259,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


@dataclass
class Preset:
    config: dict | None  # random-init config, or None for the offline SmolLM2
    batch: int  # triplets per step
    lengths: tuple[int, int]  # token lengths drawn uniformly
    lora: bool = False
    checkpointing: bool = False


PRESETS = {
    "tiny": Preset(TINY, 16, (16, 64)),
    "smollm2": Preset(None, 8, (16, 64), lora=True),
    "qwen2-0.5b": Preset(QWEN2_05B, 32, (64, 256)),
    "mistral-7b": Preset(MISTRAL_7B, 16, (64, 256), lora=True, checkpointing=True),
}


def make_texts(n: int, lengths: tuple[int, int], vocab: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(lengths[0], lengths[1] + 1, (n,), generator=g)
    return [torch.randint(3, vocab - 1, (int(s),), generator=g) for s in sizes]  # EOS is appended by padding


def pad(rows: list[torch.Tensor], eos: int, device: str) -> dict[str, torch.Tensor]:
    width = max(len(r) for r in rows) + 1
    ids = torch.zeros(len(rows), width, dtype=torch.long)  # [B, T], right padding
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        ids[i, len(r)] = eos
        mask[i, : len(r) + 1] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device), "pool_mask": mask.bool().to(device)}


def random_batches(triplets: list[tuple], batch: int, seed: int) -> list[list[tuple]]:
    order = torch.randperm(len(triplets), generator=torch.Generator().manual_seed(seed)).tolist()
    return [[triplets[i] for i in order[s : s + batch]] for s in range(0, len(order) - batch + 1, batch)]


def bucketed_batches(triplets: list[tuple], batch: int, seed: int, window: int = 16) -> list[list[tuple]]:
    """Random order, then within each window of `window` batches sorted by document length, batches shuffled."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(triplets), generator=g).tolist()
    out = []
    for start in range(0, len(order), window * batch):
        # Positives and negatives share one padded forward pass: sort by the longer of them, then the query.
        span = order[start : start + window * batch]
        chunk = sorted(span, key=lambda i: (max(len(triplets[i][1]), len(triplets[i][2])), len(triplets[i][0])))
        group = [[triplets[i] for i in chunk[s : s + batch]] for s in range(0, len(chunk) - batch + 1, batch)]
        out += [group[i] for i in torch.randperm(len(group), generator=g).tolist()]
    return out


def real_and_padded(batch: list[tuple], together_docs: bool) -> tuple[int, int]:
    real = sum(len(t) + 1 for triplet in batch for t in triplet)
    q = max(len(t[0]) for t in batch) + 1
    if together_docs:
        d = max(max(len(t[1]), len(t[2])) for t in batch) + 1
        return real, len(batch) * (q + 2 * d)
    p, n = (max(len(t[k]) for t in batch) + 1 for k in (1, 2))
    return real, len(batch) * (q + p + n)


def timed(step, batches, device: str, warmup: int) -> float:
    for b in batches[:warmup]:
        step(b)
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for b in batches[warmup:]:
        step(b)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=PRESETS, default="tiny")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per method (after warm-up)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=784.0, help="the card's measured bf16 peak (H200: 784)")
    parser.add_argument("--no-st", action="store_true", help="skip sentence-transformers")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    preset = PRESETS[args.preset]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gpu = device == "cuda"

    from embedlab.models import Backbone, LoRA

    def backbone(compile_: bool) -> Backbone:
        kwargs = dict(
            dtype="bfloat16" if gpu else "float32",
            gradient_checkpointing=preset.checkpointing,
            lora=LoRA(r=16, alpha=32, dropout=0.0) if preset.lora else None,
            compile=compile_,
            max_length=preset.lengths[1] + 1,
        )
        if preset.config is None:
            return Backbone("smollm2-135m", **kwargs)
        with torch.device(device):  # initialise on the GPU: a 7B random init on the CPU takes minutes
            return Backbone(config=preset.config, tokenizer="byte-level", **kwargs)

    probe = backbone(False)
    vocab, eos = probe.config.vocab_size, probe.tokenizer.tokenizer.eos_token_id
    n_params = sum(p.numel() for p in probe.base_model.parameters()) - probe.config.vocab_size * probe.hidden_size
    del probe
    total = (args.steps + args.warmup) * preset.batch
    texts = make_texts(3 * total, preset.lengths, vocab, seed=0)
    triplets = [tuple(texts[3 * i : 3 * i + 3]) for i in range(total)]
    batches = {"embedlab": bucketed_batches(triplets, preset.batch, seed=1)}
    batches["naive"] = batches["sentence-transformers"] = random_batches(triplets, preset.batch, seed=1)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if gpu else contextlib.nullcontext
    steps = {"embedlab": embedlab_step(backbone(gpu), eos, device, autocast)}
    naive = backbone(False).to(device).train()
    steps["naive"] = naive_step(naive, eos, device, autocast)
    if not args.no_st:
        steps.update(st_step(naive, preset, eos, device, autocast, gpu))

    # Interleaved, one step of each method in turn, so that the machine's noise falls on all of them alike.
    seconds = dict.fromkeys(steps, 0.0)
    for i in range(args.warmup + args.steps):
        for name, step in steps.items():
            started = time.perf_counter()
            step(batches[name][i])
            if gpu:
                torch.cuda.synchronize()
            if i >= args.warmup:
                seconds[name] += time.perf_counter() - started

    device_name = torch.cuda.get_device_name(0) if gpu else "CPU"
    print(
        f"preset {args.preset} on {device_name}: {preset.batch} triplets, lengths {preset.lengths[0]}-"
        f"{preset.lengths[1]}, {n_params / 1e6:.1f} M non-embedding parameters, "
        f"{'LoRA r16' if preset.lora else 'full fine-tune'}, {args.steps} timed steps"
    )
    flops_per_token = (4 if preset.lora else 6) * n_params
    rates = {}
    for name in steps:
        timed_batches = batches[name][args.warmup : args.warmup + args.steps]
        counts = [real_and_padded(b, together_docs=name == "embedlab") for b in timed_batches]
        real, padded = sum(c[0] for c in counts), sum(c[1] for c in counts)
        rates[name] = real / seconds[name]
        mfu = f"  MFU {flops_per_token * rates[name] / (args.peak_tflops * 1e12):5.1%}" if gpu else ""
        print(f"  {name:22} {rates[name]:12,.0f} real tokens/s  padding {1 - real / padded:5.1%}{mfu}")
    for other in ("naive", "sentence-transformers"):
        if other in rates:
            print(f"embedlab / {other}: {rates['embedlab'] / rates[other]:.2f}x")
    return 0


def embedlab_step(backbone, eos: int, device: str, autocast):
    from embedlab.losses import InfoNCE
    from embedlab.models import Causal, LastToken
    from embedlab.module import EmbeddingModule

    module = EmbeddingModule(backbone, attention=Causal(), pooling=LastToken, loss=InfoNCE()).to(device).train()
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-5, fused=device == "cuda")

    def step(batch):
        features = {
            "query": pad([t[0] for t in batch], eos, device),
            "documents": pad([t[1] for t in batch] + [t[2] for t in batch], eos, device),
        }
        with autocast():
            loss = module._loss(features)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def naive_step(naive, eos: int, device: str, autocast):
    optimizer = torch.optim.AdamW([p for p in naive.parameters() if p.requires_grad], lr=1e-5)

    def step(batch):
        with autocast():
            embeddings = []
            for k in range(3):
                f = pad([t[k] for t in batch], eos, device)
                h = naive.model(input_ids=f["input_ids"], attention_mask=f["attention_mask"]).last_hidden_state
                last = f["attention_mask"].sum(1) - 1  # right padding
                embeddings.append(F.normalize(h[torch.arange(len(batch), device=device), last].float(), dim=-1))
            logits = 20 * embeddings[0] @ torch.cat([embeddings[1], embeddings[2]]).T  # [B, 2B]
            loss = F.cross_entropy(logits, torch.arange(len(batch), device=device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def st_step(naive, preset: Preset, eos: int, device: str, autocast, gpu: bool) -> dict:
    try:
        from sentence_transformers import SentenceTransformer, losses, models
    except ImportError:
        print("sentence-transformers is not installed: skipped")
        return {}
    folder = tempfile.mkdtemp(prefix="st-bench-")
    base = copy.deepcopy(naive.model).merge_and_unload() if preset.lora else naive.base_model  # peft model when LoRA
    base.save_pretrained(folder)
    naive.tokenizer.tokenizer.save_pretrained(folder)
    transformer = models.Transformer(folder, model_kwargs={"dtype": "bfloat16" if gpu else "float32"})
    pooling = models.Pooling(naive.hidden_size, "lasttoken")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device=device)
    loss_fn = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step(batch):
        features = []
        for k in range(3):
            f = pad([t[k] for t in batch], eos, device)
            features.append({"input_ids": f["input_ids"], "attention_mask": f["attention_mask"]})
        with autocast():
            loss = loss_fn(features, None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return {"sentence-transformers": step}


if __name__ == "__main__":
    raise SystemExit(main())
