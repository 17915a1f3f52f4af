"""A study preset: which backbone, data, variants, seeds, steps and suite a whole comparison uses.

Presets live in `configs/studies/<name>.yaml` and name the other config files by stem
(`backbone: smollm2-135m` is `configs/backbones/smollm2-135m.yaml`), so a study is the same
LightningCLI configs a user would stack by hand, run for every variant and seed:

    backbone: smollm2-135m          # configs/backbones/<name>.yaml
    data: offline-mix               # configs/data/<name>.yaml
    strategy: null                  # configs/strategies/<name>.yaml (ddp, fsdp, deepspeed-zero2)
    variants: [m1_eos_causal, ...]  # configs/variants/<name>.yaml
    seeds: [0, 1, 2]
    max_steps: 1000
    fit: {model.warmup_steps: 100}  # extra `--key value` flags for every fit
    evaluation: {suite: offline-v1} # `--evaluation.*` flags for every evaluation
    untrained: [m1_eos_causal]      # evaluated without training: the floor
    references: [all-minilm-l6-v2]  # reference encoders: the yardstick
    baseline: m1_eos_causal
    layers: {tasks: [...], every: 3}  # `embedlab layers` on the base model, or null
    requires: {hub: false, gpus: 0}
    estimate: {step_seconds: 2.0, eval_seconds: 60, source: "..."}
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from embedlab.errors import EmbedlabError, closest_names


def configs_root() -> Path:
    """The `configs/` folder: next to the package in a checkout, else in the working directory."""
    for candidate in (Path(__file__).resolve().parents[2] / "configs", Path.cwd() / "configs"):
        if (candidate / "studies").is_dir():
            return candidate
    raise EmbedlabError("no configs/studies folder next to the embedlab package or in the working directory")


@dataclass
class Estimate:
    """What one unit of work costs, for the plan's estimate (not a measurement of this run).

    Args:
        step_seconds: wall seconds per training step on the preset's hardware.
        eval_seconds: wall seconds per evaluation of one model on the suite.
        startup_seconds: process start, imports and model loading, per run.
        layers_seconds: the layer analysis.
        source: where these figures come from.
    """

    step_seconds: float = 1.0
    eval_seconds: float = 60.0
    startup_seconds: float = 15.0
    layers_seconds: float = 0.0
    source: str = "unstated"


@dataclass
class StudyPreset:
    """A whole comparison: see the module docstring for the YAML schema.

    Args:
        name: the preset's name (its file stem).
        description: one paragraph for the report: what this study is and how it differs from the full one.
        backbone: stem of `configs/backbones/<backbone>.yaml`.
        data: stem of `configs/data/<data>.yaml`.
        variants: stems of `configs/variants/*.yaml`.
        seeds: training seeds; every variant runs once per seed.
        max_steps: optimiser steps per run.
        baseline: the variant every other is compared with.
        strategy: stem of `configs/strategies/<strategy>.yaml`, or None.
        fit: extra LightningCLI flags for every fit, `{dotted.key: value}`.
        evaluation: `--evaluation.*` flags for every evaluation (`suite`, `max_length`, `batch_size`, ...).
        untrained: variants also evaluated without training (the floor).
        references: reference encoders evaluated as the yardstick.
        layers: options of the layer analysis on the base model (`tasks`, `every`, ...), or None to skip it.
        analysis: options of `embedlab analyze` (`n_resamples`, `alpha`, `correction`).
        requires: `hub` (needs the Hugging Face hub) and `gpus` (GPUs needed); checked before running.
        estimate: figures for the cost estimate printed with the plan.
    """

    name: str
    description: str
    backbone: str
    data: str
    variants: list[str]
    seeds: list[int]
    max_steps: int
    baseline: str
    strategy: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    untrained: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    layers: dict[str, Any] | None = None
    analysis: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)
    estimate: Estimate = field(default_factory=Estimate)

    @property
    def suite(self) -> str:
        return str(self.evaluation.get("suite", "offline-v1"))


def available_presets(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (root or configs_root()).glob("studies/*.yaml"))


def load_preset(name_or_path: str, root: Path | None = None) -> StudyPreset:
    """Read and check a preset: a name in `configs/studies/` or a YAML path.

    Every config file it names must exist; unknown keys and misspelt names get the valid ones.
    """
    root = root or configs_root()
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = root / "studies" / f"{name_or_path}.yaml"
        if not path.is_file():
            choices = closest_names(name_or_path, available_presets(root))
            raise EmbedlabError(f"unknown study preset {name_or_path!r}; presets: {', '.join(choices)}")
    if not path.is_file():
        raise EmbedlabError(f"{path}: no such study preset file")
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        raise EmbedlabError(f"{path}: not valid UTF-8 ({error.reason} at byte {error.start})") from None
    except yaml.YAMLError as error:
        raise EmbedlabError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise EmbedlabError(f"{path}: a study preset is a mapping of keys, got {type(raw).__name__}")
    known = [f.name for f in fields(StudyPreset) if f.name != "name"]
    for key in raw:
        if key not in known:
            raise EmbedlabError(f"{path}: unknown key {key!r}; valid keys: {', '.join(closest_names(key, known))}")
    missing = [f.name for f in fields(StudyPreset) if f.name not in raw and f.name != "name" and _required(f)]
    if missing:
        raise EmbedlabError(f"{path}: missing key(s) {', '.join(missing)}")
    _check_types(raw, path)
    estimate = raw.pop("estimate", None) or {}
    try:
        preset = StudyPreset(name=path.stem, **raw, estimate=Estimate(**estimate))
    except TypeError as error:
        raise EmbedlabError(f"{path}: {error}") from None
    check_preset(preset, root, path)
    return preset


_TYPES: dict[str, tuple[type, ...]] = {
    "description": (str,),
    "backbone": (str,),
    "data": (str,),
    "variants": (list,),
    "seeds": (list,),
    "max_steps": (int,),
    "baseline": (str,),
    "strategy": (str, type(None)),
    "fit": (dict,),
    "evaluation": (dict,),
    "untrained": (list,),
    "references": (list,),
    "layers": (dict, type(None)),
    "analysis": (dict,),
    "requires": (dict,),
    "estimate": (dict, type(None)),
}
_WORDS = {str: "a string", int: "a whole number", list: "a list", dict: "a mapping", type(None): "null"}
_ITEMS = {"variants": str, "seeds": int, "untrained": str, "references": str}


def _check_types(raw: dict, path: Path) -> None:
    """Each key's value has its type (a list where a list is expected, whole numbers for seeds and steps)."""
    for key, value in raw.items():
        allowed = _TYPES.get(key)
        if allowed and (isinstance(value, bool) or not isinstance(value, allowed)):
            names = " or ".join(_WORDS[t] for t in allowed)
            raise EmbedlabError(f"{path}: {key} must be {names}, got {type(value).__name__} {value!r:.60}")
        item = _ITEMS.get(key)
        if item and any(isinstance(v, bool) or not isinstance(v, item) for v in value):
            raise EmbedlabError(f"{path}: {key} must be a list, each item {_WORDS[item]}, got {value!r:.80}")


def _required(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def config_file(root: Path, folder: str, stem: str, where: Path | str) -> Path:
    """`configs/<folder>/<stem>.yaml`, or an error listing the files that folder has."""
    path = root / folder / f"{stem}.yaml"
    if not path.is_file():
        choices = sorted(p.stem for p in (root / folder).glob("*.yaml"))
        raise EmbedlabError(f"{where}: no {folder} config {stem!r}; choices: {', '.join(closest_names(stem, choices))}")
    return path


def check_preset(preset: StudyPreset, root: Path, where: Path | str) -> None:
    """Every named config exists, the baseline is a variant, seeds and steps are sane."""
    config_file(root, "backbones", preset.backbone, where)
    config_file(root, "data", preset.data, where)
    if preset.strategy:
        config_file(root, "strategies", preset.strategy, where)
    for variant in {*preset.variants, *preset.untrained}:
        config_file(root, "variants", variant, where)
    if preset.baseline not in preset.variants:
        raise EmbedlabError(f"{where}: baseline {preset.baseline!r} is not one of the variants {preset.variants}")
    if not preset.seeds or len(set(preset.seeds)) != len(preset.seeds):
        raise EmbedlabError(f"{where}: seeds must be a non-empty list without repeats, got {preset.seeds}")
    if preset.max_steps < 1:
        raise EmbedlabError(f"{where}: max_steps must be at least 1, got {preset.max_steps}")
