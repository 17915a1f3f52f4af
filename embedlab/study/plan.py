"""A study's plan: every run (variant x seed, plus the floor and the yardstick) as the commands that make it.

Trained runs are two LightningCLI commands in one process (`embedlab fit` then `embedlab test` into
the same run directory); the untrained floor is `embedlab test` without a checkpoint; a reference
encoder is `embedlab evaluate --reference`. Layout under the study's folder:

    <out>/variants/<variant>-seed<k>/    trained runs (compared by the analysis)
    <out>/anchors/untrained-<variant>/   the untrained backbone with that variant's attention and pooling
    <out>/anchors/reference-<name>/      a reference encoder

A trained run's seed sets `seed_everything` and the data seed (`data.init_args.seed`: batch order,
mined negatives), so differences between seeds include data-order variance; the variants of one
seed train on identical batches. The held-out validation documents stay the same for every seed.

A run is finished when its DONE marker exists (written last by the evaluation); finished runs are
skipped, so an interrupted study continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.errors import EmbedlabError, closest_names
from embedlab.study.preset import StudyPreset, config_file, differences_markdown, pooling_options

DATA_SEED = "data.init_args.seed"  # set from the study seed for every trained run


@dataclass
class PlannedRun:
    """One run of a study.

    Args:
        name: the run directory's name.
        kind: `trained`, `untrained` or `reference`.
        run_dir: where it writes.
        fit: `embedlab fit` arguments (trained runs), else None.
        evaluate: `embedlab test` / `embedlab evaluate` arguments.
        variant: the variant name its run.json will carry (`untrained-<variant>`, `reference-<name>` for anchors).
        steps: optimiser steps (0 for anchors).
        seed: the training seed (0 for anchors).
    """

    name: str
    kind: str
    run_dir: Path
    fit: list[str] | None
    evaluate: list[str]
    variant: str
    steps: int = 0
    seed: int = 0

    @property
    def done(self) -> bool:
        return (self.run_dir / "DONE").is_file()


def _flags(options: dict[str, Any], prefix: str = "") -> list[str]:
    argv = []
    for key, value in options.items():
        text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        argv += [f"--{prefix}{key}", text]
    return argv


def config_stack(preset: StudyPreset, root: Path, variant: str) -> list[str]:
    """The `--config` files of a variant's run, then the preset's pooling options its head takes."""
    files = [root / "base.yaml", config_file(root, "backbones", preset.backbone, preset.name)]
    files.append(config_file(root, "data", preset.data, preset.name))
    files.append(config_file(root, "variants", variant, preset.name))
    if preset.strategy:
        files.append(config_file(root, "strategies", preset.strategy, preset.name))
    # Pooling options go into fit, test and the floor alike: the floor has no checkpoint to take them from.
    pooling = _flags(pooling_options(preset, root, variant), "model.pooling.init_args.")
    return [arg for path in files for arg in ("--config", str(path))] + pooling


def build_plan(
    preset: StudyPreset,
    out: Path,
    root: Path,
    variants: list[str] | None = None,
    seeds: list[int] | None = None,
) -> list[PlannedRun]:
    """The runs of `preset` (restricted to `variants` / `seeds` when given), anchors first.

    Args:
        preset: the study.
        out: the study's folder.
        root: the `configs/` folder.
        variants: a subset of the preset's variants (names or unique prefixes such as `m1`).
        seeds: seeds instead of the preset's.
    """
    chosen = [resolve_variant(v, preset.variants, preset.name) for v in variants] if variants else preset.variants
    if preset.baseline not in chosen:
        chosen = [preset.baseline, *chosen]  # every comparison needs its baseline
    seeds = seeds if seeds else preset.seeds
    if DATA_SEED in preset.fit:
        raise EmbedlabError(
            f"study {preset.name!r}: `fit: {{{DATA_SEED}: ...}}` would give every seed the same data order; the "
            "study's seeds set the data seed (remove the key, or list the seeds you want under `seeds:`)"
        )
    evaluation = preset.evaluation
    runs: list[PlannedRun] = []
    for reference in preset.references:
        run_dir = out / "anchors" / f"reference-{Path(reference).name}"
        argv = ["--reference", reference, "--suite", preset.suite, "--run-dir", str(run_dir)]
        for key in ("batch_size", "max_length"):
            if key in evaluation:
                argv += [f"--{key.replace('_', '-')}", str(evaluation[key])]
        runs.append(PlannedRun(run_dir.name, "reference", run_dir, None, argv, run_dir.name))
    for variant in preset.untrained:
        run_dir = out / "anchors" / f"untrained-{variant}"
        stack = config_stack(preset, root, variant)
        argv = ["test", *stack, "--seed_everything", "0", "--trainer.default_root_dir", str(run_dir)]
        argv += _flags({**evaluation, "run_dir": str(run_dir), "variant": f"untrained-{variant}"}, "evaluation.")
        runs.append(PlannedRun(run_dir.name, "untrained", run_dir, None, argv, run_dir.name))
    for variant in chosen:
        for seed in seeds:
            run_dir = out / "variants" / f"{variant}-seed{seed}"
            stack = config_stack(preset, root, variant)
            # The study seed is the data seed too (batch order, mined negatives): seed-level variance then
            # covers data order, while the variants of one seed still see identical batches.
            common = [*stack, "--seed_everything", str(seed), f"--{DATA_SEED}", str(seed)]
            common += ["--trainer.default_root_dir", str(run_dir)]
            fit = ["fit", *common, "--trainer.max_steps", str(preset.max_steps), *_flags(preset.fit)]
            test = ["test", *common, *_flags({**evaluation, "run_dir": str(run_dir)}, "evaluation.")]
            runs.append(PlannedRun(run_dir.name, "trained", run_dir, fit, test, variant, preset.max_steps, seed))
    return runs


def resolve_variant(name: str, variants: list[str], where: str) -> str:
    """A variant by full name or unique prefix (`m1` -> `m1_eos_causal`)."""
    if name in variants:
        return name
    matches = [v for v in variants if v.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    detail = f"matches {', '.join(matches)}" if matches else f"choices: {', '.join(closest_names(name, variants))}"
    raise EmbedlabError(f"study {where!r}: variant {name!r} is not one of its variants ({detail})")


def estimate_seconds(preset: StudyPreset, runs: list[PlannedRun]) -> dict[str, float]:
    """Estimated wall seconds: training, evaluation, layer analysis and total (from `preset.estimate`)."""
    e = preset.estimate
    todo = [r for r in runs if not r.done]
    training = sum(e.startup_seconds + r.steps * e.step_seconds for r in todo if r.kind == "trained")
    evaluation = sum(e.eval_seconds + (0 if r.kind == "trained" else e.startup_seconds) for r in todo)
    layers = e.layers_seconds if preset.layers else 0.0
    return {"training": training, "evaluation": evaluation, "layers": layers, "total": training + evaluation + layers}


def describe(preset: StudyPreset, runs: list[PlannedRun]) -> str:
    """The plan in words: what runs, what is already done, and the estimated cost."""
    e = estimate_seconds(preset, runs)
    gpus = int(preset.requires.get("gpus", 0) or 0)
    lines = [
        f"study {preset.name}: {preset.description.strip()}",
        f"  backbone {preset.backbone}, data {preset.data}, {preset.max_steps} steps, suite {preset.suite}"
        + (f", strategy {preset.strategy}" if preset.strategy else ""),
    ]
    for run in runs:
        state = "done" if run.done else "to run"
        lines.append(f"  [{state:6}] {run.kind:9} {run.name}  -> {run.run_dir}")
    # Training uses every GPU of the preset; mteb encodes on one device.
    gpu_hours = (e["training"] * gpus + e["evaluation"] + e["layers"]) / 3600
    where = f"{gpus} GPU(s)" if gpus else "this machine's CPUs"
    lines.append(
        f"  estimated wall time for the runs left: {_duration(e['total'])} on {where} "
        f"(training {_duration(e['training'])}, evaluation {_duration(e['evaluation'])}"
        + (f", layers {_duration(e['layers'])}" if e["layers"] else "")
        + ")"
        + (f", about {gpu_hours:.0f} GPU-hours" if gpus else "")
    )
    lines.append(f"  estimate from: {preset.estimate.source}")
    if preset.differences:
        lines += [f"  {line}".rstrip() for line in differences_markdown(preset).strip().splitlines()]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
