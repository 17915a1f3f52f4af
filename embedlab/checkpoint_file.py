"""A checkpoint file a user names (`--ckpt_path`, `--checkpoint`): read safely, refused with a clear message.

Two things go wrong with checkpoints in a study of many runs, and both must stop the command
before anything runs:

- the file is not a usable checkpoint: missing, cut short by a killed copy or job, not a Lightning
  checkpoint at all, or holding pickled objects (embedlab reads checkpoints with
  `torch.load(weights_only=True)` and never runs code from a file);
- the checkpoint is of another variant than the config asks for. LightningCLI (2.6) replaces the
  config's `model` with the checkpoint's hyper-parameters when `--ckpt_path` is given, so
  `embedlab test --config variants/m1.yaml --ckpt_path runs/m5/last.ckpt` would silently evaluate
  m5 as if it were m1. `check_variant` compares what the config chose explicitly with what the
  checkpoint was trained as.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embedlab.errors import EmbedlabError

LIGHTNING_NAMES = ("last", "best", "hpc", "registry")  # `ckpt_path` values Lightning resolves itself
COMPARED = ("attention", "pooling")


def read_checkpoint(path: str | Path, *, mmap: bool = True) -> dict[str, Any]:
    """The checkpoint's contents, loaded with `weights_only=True` on the CPU.

    Args:
        path: the `.ckpt` file.
        mmap: map the tensors instead of reading them (cheap when only the hyper-parameters are needed).

    Raises:
        EmbedlabError: naming the file, when it is missing, unreadable (truncated), unsafe or not a
            Lightning checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise EmbedlabError(f"checkpoint {path} does not exist (or is not a file)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        raise EmbedlabError(
            f"checkpoint {path} holds objects other than tensors and plain data, and embedlab loads checkpoints "
            f"with weights_only=True (it never runs code from a file): {_unsafe_reason(error)}"
        ) from None
    except Exception as error:  # zip / EOF / OS errors: a truncated or foreign file
        raise EmbedlabError(
            f"checkpoint {path} is not readable ({type(error).__name__}: {error}); a file cut short by an "
            "interrupted copy or a killed job looks like this: use another checkpoint (e.g. the previous one)"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise EmbedlabError(
            f"checkpoint {path} is not a Lightning checkpoint (no 'state_dict'); "
            "give a `.ckpt` written by `embedlab fit`"
        )
    return checkpoint


def _unsafe_reason(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return next((line for line in lines if "GLOBAL" in line), lines[0] if lines else type(error).__name__)


def class_name(node: Any) -> str | None:
    """The class name a config node chooses (`Bidirectional`, `{class_path: embedlab.models.LastToken}`), or None."""
    if node is None:
        return None
    if isinstance(node, str):
        value = node
    elif isinstance(node, Mapping):
        value = node.get("class_path")
    else:
        value = getattr(node, "class_path", None) or type(node).__name__
    return str(value).rsplit(".", 1)[-1] if value else None


def _backbone_name(node: Any) -> str | None:
    if not isinstance(node, Mapping):
        return None
    args = node.get("init_args") if isinstance(node.get("init_args"), Mapping) else node
    value = args.get("name_or_path")
    return str(value) if value else None


def check_variant(hyper_parameters: Mapping[str, Any], config_model: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint whose attention, pooling or backbone differs from what the config chose.

    Only what the config sets counts (a `None` attention or pooling takes the checkpoint's).

    Args:
        hyper_parameters: the checkpoint's `hyper_parameters`.
        config_model: the config's `model` section as plain data.
        path: the checkpoint, for the message.

    Raises:
        EmbedlabError: naming the checkpoint, the keys and both values.
    """
    differences = []
    for key in COMPARED:
        wanted, trained = class_name(config_model.get(key)), class_name(hyper_parameters.get(key))
        if wanted is not None and trained is not None and wanted != trained:
            differences.append((f"model.{key}", wanted, trained))
    wanted, trained = _backbone_name(config_model.get("backbone")), _backbone_name(hyper_parameters.get("backbone"))
    if wanted is not None and trained is not None and wanted != trained:
        differences.append(("model.backbone.init_args.name_or_path", wanted, trained))
    if differences:
        detail = "; ".join(
            f"{key}: the config says {a!r}, the checkpoint was trained with {b!r}" for key, a, b in differences
        )
        raise EmbedlabError(
            f"checkpoint {path} is of another model than the config describes ({detail}). Pass the variant and "
            "backbone configs the checkpoint was trained with, or the checkpoint of this variant."
        )
