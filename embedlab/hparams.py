"""Components as plain `class_path` configs, so checkpoints rebuild the exact variant.

Under LightningCLI, `save_hyperparameters()` already stores the YAML form of every injected
component. A module built in Python (a notebook) holds live objects instead; `as_config` turns
them into the same `{"class_path", "init_args"}` form, so `EmbeddingModule.load_from_checkpoint`
works for both, and checkpoints hold only plain data (loadable with `weights_only=True`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record_init_args(obj: Any, frame_locals: dict[str, Any]) -> None:
    """Remember the arguments `obj.__init__` was called with (call with `locals()` first thing)."""
    names = list(inspect.signature(type(obj).__init__).parameters)[1:]
    obj._init_args = {n: _plain(frame_locals[n]) for n in names if n in frame_locals}


def as_config(component: Any) -> Any:
    """A component (instance, class or functools.partial of a class) as a class_path dict."""
    if component is None or isinstance(component, (dict, str, int, float, bool)):
        return component
    if isinstance(component, type):
        return {"class_path": _class_path(component)}
    if isinstance(component, functools.partial) and isinstance(component.func, type):
        return {"class_path": _class_path(component.func), "init_args": _plain(dict(component.keywords))}
    if isinstance(component, functools.partial):
        # What jsonargparse hands __init__ for a `Callable[[int], PoolingHead]` on reload: a partial of its
        # own factory, with the class among the positional arguments.
        classes = [a for a in component.args if isinstance(a, type)]
        if classes:
            return {"class_path": _class_path(classes[-1]), "init_args": _plain(dict(component.keywords))}
    init_args = getattr(component, "_init_args", None)
    if init_args is None:
        if type(component).__init__ is object.__init__:
            init_args = {}
        else:
            raise TypeError(f"{type(component).__name__} did not record its init args; call record_init_args()")
    return {"class_path": _class_path(type(component)), "init_args": init_args}


def fingerprint(config: Any) -> str | None:
    """sha256 of a config as canonical JSON (None for no config): the training mix's identity in run.json.

    The mix's `seed` (its hyper-parameters' or its `init_args`') is left out: a study's seeds set it
    (the run's `seed` records it), and runs of one mix with different seeds must compare.
    """
    if config is None:
        return None
    if isinstance(config, Mapping):
        config = {k: v for k, v in config.items() if k != "seed"}
        if isinstance(config.get("init_args"), Mapping):
            config["init_args"] = {k: v for k, v in config["init_args"].items() if k != "seed"}
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
