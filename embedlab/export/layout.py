"""The files of an exported model folder, and the checks that name a missing or corrupt one.

    OUT/
      config.json, model.safetensors      the backbone (transformers layout, LoRA merged, `is_causal` kept)
      tokenizer.json, tokenizer_config.json
      embedlab.json                       tokenizer settings and attention policy (EmbedlabInput's config)
      1_EmbedlabPooling/head.json         the head's class path and init arguments
      1_EmbedlabPooling/model.safetensors the head's weights
      2_Normalize/config.json             sentence-transformers' L2 normalisation
      modules.json, config_sentence_transformers.json

A folder is checked before anything is loaded, so a broken export fails with the file's name
rather than deep inside transformers or safetensors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedlab.errors import EmbedlabError

FORMAT_VERSION = 1
INPUT_CONFIG = "embedlab.json"
POOLING_DIR = "1_EmbedlabPooling"  # sentence-transformers names module folders <index>_<class name>
NORMALIZE_DIR = "2_Normalize"
HEAD_CONFIG = "head.json"
HEAD_WEIGHTS = "model.safetensors"
BACKBONE_CONFIG = "config.json"
BACKBONE_WEIGHTS = "model.safetensors"
BACKBONE_WEIGHTS_INDEX = "model.safetensors.index.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
ST_MODULES = "modules.json"
ST_CONFIG = "config_sentence_transformers.json"


def read_json(path: Path, kind: type = dict) -> Any:
    """A JSON object (or `kind`, e.g. list) from `path`, or an EmbedlabError naming the file."""
    if not path.is_file():
        raise EmbedlabError(f"{path} is missing: the export is incomplete; run `embedlab export` again.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EmbedlabError(f"{path} is not readable JSON ({error}); run `embedlab export` again.") from error
    if not isinstance(data, kind):
        raise EmbedlabError(
            f"{path} holds a {type(data).__name__}, not a JSON {kind.__name__}; run `embedlab export` again."
        )
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def check_safetensors(path: Path) -> None:
    """Open a safetensors file's header and every tensor's byte range; EmbedlabError naming the file if not."""
    from safetensors import safe_open

    if not path.is_file():
        raise EmbedlabError(f"{path} is missing: the export is incomplete; run `embedlab export` again.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            for key in handle.keys():
                handle.get_slice(key)
    except Exception as error:  # safetensors raises its own SafetensorError, or OSError / ValueError
        raise EmbedlabError(
            f"{path} is not a valid safetensors file ({error}); run `embedlab export` again."
        ) from error


def backbone_weight_files(folder: Path) -> list[Path]:
    """The backbone's safetensors files: one file, or the shards listed in the index."""
    index = folder / BACKBONE_WEIGHTS_INDEX
    if index.is_file():
        weight_map = read_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise EmbedlabError(f"{index} has no `weight_map`; run `embedlab export` again.")
        return [folder / name for name in sorted(set(weight_map.values()))]
    return [folder / BACKBONE_WEIGHTS]


def check_backbone_files(folder: Path) -> None:
    """The backbone config, tokenizer config and weights are present and readable."""
    read_json(folder / BACKBONE_CONFIG)
    read_json(folder / TOKENIZER_CONFIG)
    for path in backbone_weight_files(folder):
        check_safetensors(path)


def check_head_files(folder: Path) -> None:
    """The head's JSON and weights are present and readable (`folder` is the pooling module's folder)."""
    read_json(folder / HEAD_CONFIG)
    check_safetensors(folder / HEAD_WEIGHTS)


def check_export(folder: str | Path) -> Path:
    """Check an exported folder before loading it.

    Args:
        folder: the folder `embedlab export` wrote.

    Returns:
        The folder as a Path.

    Raises:
        EmbedlabError: naming the first missing or corrupt file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise EmbedlabError(f"{folder} is not a folder; pass the OUT folder of `embedlab export`.")
    read_json(folder / ST_MODULES, kind=list)
    read_json(folder / ST_CONFIG)
    read_json(folder / INPUT_CONFIG)
    check_backbone_files(folder)
    check_head_files(folder / POOLING_DIR)
    return folder
