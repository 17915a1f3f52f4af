"""The backbone a layer analysis runs on: an offline alias, a folder or hub id, or a backbone YAML config.

A YAML config is read the way LightningCLI would build it (`model.backbone` of a full config such as
`configs/backbones/smollm2-135m.yaml`, a bare `backbone:` block, or a `class_path` / `init_args` node).
Its LoRA block is dropped: the analysis is of the base model, and freshly initialised adapters are a
no-op anyway (peft initialises B to zero).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from embedlab.errors import EmbedlabError
from embedlab.models.backbone import Backbone

BACKBONE_CLASS_PATHS = ("embedlab.models.Backbone", "embedlab.models.backbone.Backbone", "Backbone")


def load_backbone(
    spec: str | Path | Backbone,
    max_length: int | None = None,
    dtype: str | None = None,
    seed: int = 0,
) -> Backbone:
    """A Backbone from an alias, a folder or hub id, or a YAML config; a Backbone passes through.

    Args:
        spec: `smollm2-135m`, a transformers folder or hub id, a `.yaml` config, or a Backbone.
        max_length: overrides the config's token limit (the analysis passes it per call too).
        dtype: overrides the weight dtype (float32, bfloat16, float16).
        seed: seed of a random-init backbone (a config with `config:`).

    Raises:
        EmbedlabError: for a YAML file without a backbone, or one that names another class.
    """
    if isinstance(spec, Backbone):
        return spec
    spec = str(spec)
    if spec.endswith((".yaml", ".yml")):
        init_args = backbone_arguments(Path(spec))
    else:
        init_args = {"name_or_path": spec}
    init_args.pop("lora", None)
    if max_length is not None:
        init_args["max_length"] = max_length
    if dtype is not None:
        init_args["dtype"] = dtype
    init_args.setdefault("seed", seed)
    return Backbone(**init_args)


def backbone_arguments(path: Path) -> dict[str, Any]:
    """The Backbone init arguments a YAML config gives (`model.backbone`, `backbone`, or the node itself)."""
    if not path.is_file():
        raise EmbedlabError(f"Backbone config {path} does not exist")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    node: Any = data
    for key in ("model", "backbone"):
        if isinstance(node, dict) and key in node:
            node = node[key]
    if not isinstance(node, dict) or not ("class_path" in node or "init_args" in node or "name_or_path" in node):
        raise EmbedlabError(
            f"{path}: no backbone found; expected `model: backbone: {{class_path: embedlab.models.Backbone, "
            "init_args: ...}}` (as in configs/backbones/*.yaml) or a `backbone:` block"
        )
    class_path = node.get("class_path", "embedlab.models.Backbone")
    if class_path not in BACKBONE_CLASS_PATHS:
        raise EmbedlabError(f"{path}: the backbone class is {class_path!r}; it must be embedlab.models.Backbone")
    args = node.get("init_args", node if "class_path" not in node else {})
    return {k: v for k, v in dict(args).items() if k != "class_path"}
