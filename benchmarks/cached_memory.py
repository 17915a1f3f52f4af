"""Peak tensor memory of one training step against the contrastive batch size, with and without
`embedding_chunk_size` (cached contrastive batches). Target: with chunks of 32, the peak at a
contrastive batch of 512 is at most 1.3x the peak at 32.

On CUDA the figure is `torch.cuda.max_memory_allocated` over the step. On CPU it is the peak of
PyTorch's own memory timeline (the profiler's allocation events), i.e. the same quantity: bytes of
live tensors, not process RSS, which glibc's caching makes meaningless for this question.

    python benchmarks/cached_memory.py                 # CPU, about 3 minutes on 2 cores
    python benchmarks/cached_memory.py --device cuda   # GPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import torch

SIZES = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4}


def build(chunk: int | None, tokens: int, device: str):
    from embedlab.losses import InfoNCE
    from embedlab.models import Backbone, Bidirectional, Mean
    from embedlab.module import EmbeddingModule

    torch.manual_seed(0)
    config = {"model_type": "llama", "vocab_size": 259, "num_key_value_heads": 4, **SIZES}
    backbone = Backbone(config=config, tokenizer="byte-level", max_length=tokens)
    return EmbeddingModule(backbone, Bidirectional(), Mean, InfoNCE(), embedding_chunk_size=chunk).to(device)


def step(module, batch: int, tokens: int, device: str) -> None:
    ids = torch.randint(3, 259, (batch, tokens), device=device)  # [B, T]
    mask = torch.ones_like(ids)  # [B, T]
    features = {"input_ids": ids, "attention_mask": mask, "pool_mask": mask.bool()}
    queries, documents = module.embed(features), module.embed(features)  # [B, D] each
    module.loss(queries, documents).backward()
    module.zero_grad(set_to_none=True)


def peak_mib(module, batch: int, tokens: int, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(module, batch, tokens, device)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as prof:
        step(module, batch, tokens, device)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timeline.json"
        prof.export_memory_timeline(str(path), device="cpu")
        _, sizes = json.loads(path.read_text())  # bytes per category at each event
    return max(sum(s) for s in sizes) / 2**20


def report(label: str, small: int, small_mib: float, large: int, large_mib: float) -> None:
    print(f"  {label:15} batch {small:4}: {small_mib:8.1f} MiB   batch {large:4}: {large_mib:8.1f} MiB", end="")
    print(f"   ratio {large_mib / small_mib:5.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per text")
    parser.add_argument("--chunk", type=int, default=32, help="embedding_chunk_size of the cached runs")
    parser.add_argument("--small", type=int, default=32)
    parser.add_argument("--large", type=int, default=512)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"device {args.device}, {args.tokens} tokens per text, random-init Llama {SIZES}")
    plain = build(None, args.tokens, args.device)
    # One pass grows linearly; on CPU a batch of 128 shows the trend at a fraction of the cost of 512.
    plain_large = args.large if args.device == "cuda" else 4 * args.small
    p_small, p_large = (
        peak_mib(plain, args.small, args.tokens, args.device),
        peak_mib(plain, plain_large, args.tokens, args.device),
    )
    report("one pass", args.small, p_small, plain_large, p_large)
    cached = build(args.chunk, args.tokens, args.device)
    c_small, c_large = (
        peak_mib(cached, args.small, args.tokens, args.device),
        peak_mib(cached, args.large, args.tokens, args.device),
    )
    ratio = c_large / c_small
    report(f"chunks of {args.chunk}", args.small, c_small, args.large, c_large)
    verdict = "PASS" if ratio <= 1.3 else "FAIL"
    print(f"cached: peak at {args.large} is {ratio:.2f}x the peak at {args.small} (target <= 1.3x): {verdict}")
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
