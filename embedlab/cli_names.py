"""Check the attention and pooling names a command line and its config files choose, before
LightningCLI parses them, so a typo gets the list of valid names instead of a parser dump."""

from __future__ import annotations

from pathlib import Path

import yaml

from embedlab.errors import EmbedlabError
from embedlab.models.attention import AttentionPolicy
from embedlab.models.pooling import PoolingHead
from embedlab.registry import resolve

CHECKED = {"attention": (AttentionPolicy, "attention policy"), "pooling": (PoolingHead, "pooling head")}


def _class_name(value) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict) and isinstance(value.get("class_path"), str):
        return value["class_path"]
    return None


def _check(key: str, value, where: str) -> None:
    name = _class_name(value)
    if name is None or name.startswith(("{", "[")):
        return
    base, what = CHECKED[key]
    try:
        resolve(base, name, what)
    except EmbedlabError as error:
        raise type(error)(f"{where}: {error}") from None


def check_component_names(argv: list[str]) -> None:
    """Raise UnknownNameError (naming the file or flag) for an unknown attention or pooling name."""
    for i, arg in enumerate(argv):
        flag, _, inline = arg.partition("=")
        value = inline if inline else (argv[i + 1] if i + 1 < len(argv) else None)
        if flag in ("--config", "-c") and value and Path(value).is_file():
            try:
                config = yaml.safe_load(Path(value).read_text()) or {}
            except yaml.YAMLError as error:
                raise EmbedlabError(f"{value}: not valid YAML ({error})") from None
            model = config.get("model") if isinstance(config, dict) else None
            for key in CHECKED:
                if isinstance(model, dict) and key in model:
                    _check(key, model[key], f"{value}: model.{key}")
        for key in CHECKED:
            if flag in (f"--model.{key}", f"--model.{key}.class_path") and value is not None:
                _check(key, value, flag)
