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
    pooling: {preset: paper}        # options of every variant's pooling head that takes them
    fit: {model.warmup_steps: 100}  # extra `--key value` flags for every fit
    evaluation: {suite: offline-v1} # `--evaluation.*` flags for every evaluation
    untrained: [m1_eos_causal]      # evaluated without training: the floor
    references: [all-minilm-l6-v2]  # reference encoders: the yardstick
    baseline: m1_eos_causal
    layers: {tasks: [...], every: 3}  # `embedlab layers` on the base model, or null
    requires: {hub: false, gpus: 0}
    estimate: {step_seconds: 2.0, eval_seconds: 60, source: "..."}
    differs_from: paper             # the preset the `differences` are counted from
    differences:                    # every setting that differs from it, and why
      - {key: data.init_args.batch_size, paper: 1, here: 32, why: "..."}

`pooling` goes to fit, test and the untrained floor alike (`--model.pooling.init_args.<key>`), but only
to heads whose constructor takes the key, so `{preset: paper}` sizes the trainable poolers and leaves
`LastToken` alone. `differences` is printed by the plan and the study report, so a reader sees what a
preset changes relative to the setting it is compared with; `tests/study/test_paper_preset.py`
checks it against the settings the two presets' commands resolve to.
"""

from __future__ import annotations

import inspect
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
        pooling: options of the pooling head (`preset`, `paper_faithful`, ...), given to every variant whose
            head takes them, in fit, test and the untrained floor alike.
        fit: extra LightningCLI flags for every fit, `{dotted.key: value}`.
        evaluation: `--evaluation.*` flags for every evaluation (`suite`, `max_length`, `batch_size`, ...).
        untrained: variants also evaluated without training (the floor).
        references: reference encoders evaluated as the yardstick.
        layers: options of the layer analysis on the base model (`tasks`, `every`, ...), or None to skip it.
        analysis: options of `embedlab analyze` (`n_resamples`, `alpha`, `correction`).
        requires: `hub` (needs the Hugging Face hub) and `gpus` (GPUs needed); checked before running.
        estimate: figures for the cost estimate printed with the plan.
        differs_from: the preset `differences` are counted from (e.g. `paper`), or None.
        differences: each setting that differs from `differs_from`: `key` (a dotted config key, as the
            fit/test commands resolve it), `paper` (its value there), `here` (its value in this preset)
            and `why`.
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
    pooling: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    untrained: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    layers: dict[str, Any] | None = None
    analysis: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)
    estimate: Estimate = field(default_factory=Estimate)
    differs_from: str | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)

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
    "pooling": (dict,),
    "fit": (dict,),
    "evaluation": (dict,),
    "untrained": (list,),
    "references": (list,),
    "layers": (dict, type(None)),
    "analysis": (dict,),
    "requires": (dict,),
    "estimate": (dict, type(None)),
    "differs_from": (str, type(None)),
    "differences": (list,),
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
    check_pooling(preset, root, where)
    check_differences(preset, root, where)


def pooling_class(root: Path, variant: str, where: Path | str) -> type:
    """The pooling head class `configs/variants/<variant>.yaml` chooses (LastToken when it names none)."""
    from embedlab.models.pooling import PoolingHead
    from embedlab.registry import resolve

    path = config_file(root, "variants", variant, where)
    model = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("model") or {}
    pooling = model.get("pooling") or "LastToken"  # EmbeddingModule's default head
    name = pooling.get("class_path") if isinstance(pooling, dict) else pooling
    try:
        return resolve(PoolingHead, str(name), "pooling head")
    except EmbedlabError as error:
        raise EmbedlabError(f"{path}: model.pooling: {error}") from None


def pooling_parameters(cls: type) -> list[str]:
    """The options a pooling head's constructor takes (its hidden size and layer count are bound by the model)."""
    bound = {"self", "hidden_size", "num_layers"}
    return [name for name in inspect.signature(cls.__init__).parameters if name not in bound]


def pooling_options(preset: StudyPreset, root: Path, variant: str) -> dict[str, Any]:
    """The preset's `pooling` options this variant's head takes (the others do not apply to it)."""
    taken = pooling_parameters(pooling_class(root, variant, preset.name))
    return {key: value for key, value in preset.pooling.items() if key in taken}


def check_pooling(preset: StudyPreset, root: Path, where: Path | str) -> None:
    """Every `pooling` option is taken by the head of at least one variant (a misspelt one by none)."""
    for key in preset.fit:
        if key.startswith("model.pooling."):  # it would reach every head, and the fit but not the floor
            option = key.rpartition(".")[2]
            raise EmbedlabError(
                f"{where}: fit: {key}: pooling options go under `pooling:` (`pooling: {{{option}: ...}}`), which "
                "gives them to the heads that take them, in fit, test and the untrained floor alike"
            )
    if not preset.pooling:
        return
    heads = {v: pooling_class(root, v, where) for v in dict.fromkeys([*preset.variants, *preset.untrained])}
    taken = sorted({name for cls in heads.values() for name in pooling_parameters(cls)})
    for key in preset.pooling:
        if key not in taken:
            chosen = ", ".join(sorted({cls.__name__ for cls in heads.values()}))
            raise EmbedlabError(
                f"{where}: pooling option {key!r} is taken by none of the variants' heads ({chosen}); "
                f"their options: {', '.join(closest_names(key, taken))}"
            )


DIFFERENCE_KEYS = ("key", "paper", "here", "why")


def check_differences(preset: StudyPreset, root: Path, where: Path | str) -> None:
    """`differences` entries have `key`, `paper`, `here` and `why`, and name the preset they differ from."""
    if preset.differs_from is not None:
        if preset.differs_from == preset.name:
            raise EmbedlabError(f"{where}: differs_from names the preset itself")
        if not (root / "studies" / f"{preset.differs_from}.yaml").is_file():
            choices = closest_names(preset.differs_from, available_presets(root))
            raise EmbedlabError(
                f"{where}: differs_from {preset.differs_from!r} is not a study preset; presets: {', '.join(choices)}"
            )
    if preset.differences and preset.differs_from is None:
        raise EmbedlabError(f"{where}: `differences` needs `differs_from`, the preset they are counted from")
    seen = set()
    for number, entry in enumerate(preset.differences, 1):
        if not isinstance(entry, dict) or sorted(entry) != sorted(DIFFERENCE_KEYS):
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise EmbedlabError(
                f"{where}: differences item {number} must have exactly the keys {', '.join(DIFFERENCE_KEYS)}; got {got}"
            )
        if entry["key"] in seen:
            raise EmbedlabError(f"{where}: differences item {number}: {entry['key']!r} is listed twice")
        seen.add(entry["key"])


def differences_markdown(preset: StudyPreset) -> str:
    """The preset's differences from `differs_from` as a markdown table (empty when it lists none)."""
    if not preset.differences:
        return ""
    rows = [
        f"Settings that differ from the `{preset.differs_from}` preset:\n",
        f"| setting | `{preset.differs_from}` | `{preset.name}` | why |",
        "|---|---|---|---|",
    ]
    for entry in preset.differences:
        why = " ".join(str(entry["why"]).split()).replace("|", "\\|")
        rows.append(f"| `{entry['key']}` | {_value(entry['paper'])} | {_value(entry['here'])} | {why} |")
    return "\n".join(rows) + "\n"


def _value(value: Any) -> str:
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return f"`{text}`"
