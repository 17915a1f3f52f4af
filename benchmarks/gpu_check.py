"""The one-command GPU check (about 8 minutes on one H100/H200), in three parts:

1. the attention property, bf16, on random-init Llama, Qwen2 and Mistral: sdpa, and flash-attention 2
   when installed (causal: token 0 never moves; bidirectional: it does; padding never leaks);
2. 20 training steps of every variant in configs/variants through `embedlab fit` (Lightning,
   bf16-mixed) on a random-init Qwen2-shaped model, each must finish with a finite loss;
3. the throughput table of benchmarks/train_throughput.py (Qwen2-0.5B shape full fine-tune, and
   Mistral-7B shape with LoRA and activation checkpointing).

    python benchmarks/gpu_check.py            # on a GPU machine
    TINY=1 python benchmarks/gpu_check.py     # the same code paths on CPU, in a couple of minutes
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = os.environ.get("TINY") == "1"
GPU = torch.cuda.is_available() and not TINY
SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
if GPU:
    SHAPE = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 8, "num_attention_heads": 14}


def attention_property() -> bool:
    from transformers.utils import is_flash_attn_2_available

    from embedlab.errors import AttentionPolicyError
    from embedlab.models import Backbone, Bidirectional, Causal

    impls = ["sdpa", "eager"] + (["flash_attention_2"] if GPU and is_flash_attn_2_available() else [])
    ok = True
    for model_type in ("llama", "qwen2", "mistral"):
        for impl in impls:
            config = {"model_type": model_type, "vocab_size": 259, "num_key_value_heads": 2, **SHAPE}
            with torch.device("cuda" if GPU else "cpu"):
                backbone = Backbone(config=config, tokenizer="byte-level", dtype="bfloat16", attn_implementation=impl)
            results = []
            for policy in (Causal(), Bidirectional()):
                policy.apply(backbone)
                try:
                    policy.verify(backbone, atol=1e-2)  # bf16: states move by far more when they should
                    results.append(f"{type(policy).__name__} ok")
                except AttentionPolicyError as error:
                    ok = False
                    results.append(f"{type(policy).__name__} FAILED: {error}")
            print(f"  {model_type:8} {impl:18} " + "; ".join(results))
    return ok


def every_variant(steps: int) -> bool:
    import json
    import tempfile

    ok = True
    backbone_yaml = {
        "trainer": {"precision": "bf16-mixed" if GPU else "32-true", "accelerator": "gpu" if GPU else "cpu"},
        "model": {
            "warmup_steps": 2,
            "backbone": {
                "class_path": "embedlab.models.Backbone",
                "init_args": {
                    "name_or_path": "random-qwen2",
                    "tokenizer": "byte-level",
                    "config": {"model_type": "qwen2", "vocab_size": 259, "num_key_value_heads": 2, **SHAPE},
                    "max_length": 128,
                },
            },
        },
    }
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "backbone.yaml"
        config.write_text(json.dumps(backbone_yaml))  # JSON is YAML
        for variant in sorted((ROOT / "configs" / "variants").glob("*.yaml")):
            started = time.perf_counter()
            command = [sys.executable, "-m", "embedlab.cli", "fit", "--config", str(ROOT / "configs" / "base.yaml")]
            command += ["--config", str(config), "--config", str(variant), "--trainer.max_steps", str(steps)]
            command += ["--trainer.default_root_dir", str(Path(folder) / variant.stem), "--trainer.logger", "false"]
            command += ["--trainer.enable_progress_bar", "false", "--trainer.enable_checkpointing", "false"]
            command += ["--trainer.callbacks", "[]"]
            result = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
            )
            status = "ok" if result.returncode == 0 else "FAILED: " + result.stderr.strip()[-400:]
            ok &= result.returncode == 0
            print(f"  {variant.stem:22} {steps} steps {time.perf_counter() - started:6.1f} s  {status}")
    return ok


def main() -> int:
    warnings.simplefilter("ignore")
    device = torch.cuda.get_device_name(0) if GPU else "CPU (TINY)"
    print(f"embedlab GPU check on {device}, torch {torch.__version__}")
    print("1. attention property (bf16)")
    ok = attention_property()
    print(f"2. every variant, {20 if GPU else 2} steps")
    ok &= every_variant(20 if GPU else 2)
    print("3. training throughput")
    presets = ["qwen2-0.5b", "mistral-7b"] if GPU else ["tiny"]
    for preset in presets:
        command = [sys.executable, str(ROOT / "benchmarks" / "train_throughput.py"), "--preset", preset]
        ok &= subprocess.run(command + (["--steps", "3"] if not GPU else [])).returncode == 0
    print("GPU check:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
