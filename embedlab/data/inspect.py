"""`embedlab data inspect --config ...`: what a training mix yields, before a GPU hour is spent on it.

Reads the same stacked `--config` files as `embedlab fit` (only their `data:` and `model.backbone`
sections), builds the DataModule and the backbone's tokenizer (not the model), and prints the
sources with their sizes and weights, sample rows, token-length percentiles, the padded fraction
with and without length bucketing, bad rows met, and (`--check-eval`) any evaluation text found
in the sources (`embedlab.data.contamination`; `--eval-task` names task files). Stacking follows
LightningCLI: later files override earlier ones key by key, a new `class_path` replaces the section.
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from embedlab.data.mix import TrainingMix
from embedlab.errors import EmbedlabError


def merge(base: Any, override: Any) -> Any:
    """`override` stacked on `base` as LightningCLI does: dicts merge, a changed class_path replaces."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return copy.deepcopy(override)
    if "class_path" in override and base.get("class_path") != override["class_path"]:
        return copy.deepcopy(override)
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
    return out


def load_configs(paths: list[str]) -> dict:
    merged: dict = {}
    for path in paths:
        if not Path(path).is_file():
            raise EmbedlabError(f"--config {path}: no such file")
        try:
            merged = merge(merged, yaml.safe_load(Path(path).read_text()) or {})
        except yaml.YAMLError as error:
            raise EmbedlabError(f"{path}: not valid YAML ({error})") from None
    return merged


def build_mix(config: dict, **overrides) -> TrainingMix:
    """The TrainingMix a merged config's `data:` section describes (`overrides` replace init args)."""
    from jsonargparse import ArgumentParser
    from lightning import LightningDataModule

    import embedlab.data  # noqa: F401  (short class names)

    data = config.get("data")
    if not isinstance(data, dict) or "class_path" not in data:
        raise EmbedlabError("the configs have no `data: {class_path: ..., init_args: ...}` section")
    data = merge(data, {"init_args": overrides})
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, "data")
    try:
        namespace = parser.parse_object({"data": data})
        module = parser.instantiate(namespace).data
    except Exception as error:  # jsonargparse reports the key at fault
        raise EmbedlabError(f"data: {error}") from error
    if not isinstance(module, TrainingMix):
        raise EmbedlabError(f"data.class_path is {data['class_path']}; `inspect` needs embedlab.data.TrainingMix")
    return module


def load_tokenizer(config: dict, name: str | None = None):
    """The backbone's TextTokenizer from `model.backbone` (or tokenizer `name`), without loading weights."""
    from embedlab.models.backbone import _load_tokenizer
    from embedlab.models.tokenization import TextTokenizer

    backbone = ((config.get("model") or {}).get("backbone") or {}).get("init_args") or {}
    source = name or backbone.get("tokenizer") or backbone.get("name_or_path") or "smollm2-135m"
    return TextTokenizer(
        _load_tokenizer(source, backbone.get("revision"), bool(backbone.get("trust_remote_code"))),
        max_length=int(backbone.get("max_length", 512)),
        padding_side=backbone.get("padding_side", "right"),
        append_eos=backbone.get("append_eos", True),
        mask_instruction=backbone.get("mask_instruction", True),
    ), source


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="embedlab data", description="Look at the training mix a config describes.")
    sub = p.add_subparsers(dest="command", required=True)
    inspect = sub.add_parser("inspect", help="sources, sizes, samples, token lengths, padding, bad rows")
    inspect.add_argument("--config", "-c", action="append", required=True, help="a YAML config (repeat to stack)")
    inspect.add_argument("--tokenizer", help="tokenizer instead of model.backbone's (byte-level, smollm2-135m, ...)")
    inspect.add_argument("--batches", type=int, default=64, help="batches measured (default 64)")
    inspect.add_argument("--samples", type=int, default=4, help="sample rows shown (default 4)")
    inspect.add_argument(
        "--check-eval",
        action="store_true",
        help="look for evaluation texts in the sources (13-grams shared with a training text cover >= 50%% of "
        "its words, or a short text is equal); "
        "exit status 1 when one is found",
    )
    inspect.add_argument(
        "--eval-task",
        action="append",
        metavar="SPEC",
        help="the evaluation tasks to check (a suite, a task name or a task file .yaml; repeat to add; implies "
        "--check-eval); default: every offline suite's tasks",
    )
    inspect.add_argument(
        "--overlap",
        type=float,
        default=0.5,
        help="with --check-eval: the share of an evaluation text's words that shared 13-grams must cover (0.5)",
    )
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.overlap <= 1:
        raise EmbedlabError(f"--overlap must be a share in (0, 1], e.g. 0.5; got {args.overlap:g}")
    args.check_eval = args.check_eval or bool(args.eval_task)
    started = time.perf_counter()
    logging.getLogger("embedlab.data").setLevel(logging.ERROR)  # bad rows are reported below instead
    config = load_configs(args.config)
    tokenizer, tokenizer_name = load_tokenizer(config, args.tokenizer)
    mix = build_mix(config, num_workers=0)
    mix.connect(tokenizer)
    mix.prepare_streams()
    from embedlab.data import report

    out = [
        *report.describe(mix),
        f"  tokenizer: {tokenizer_name}",
        "",
        "sample rows:",
        *report.sample_rows(mix, args.samples),
    ]
    stats = report.measure(mix, args.batches)
    plain = build_mix(config, num_workers=0, length_bucketing=False)
    plain.connect(tokenizer)
    unbucketed = report.measure(plain, args.batches)
    out += ["", f"token lengths over {args.batches} batches (tokens, EOS included):", *report.length_table(stats)]
    out += [
        "",
        f"padded fraction over {args.batches} batches: {stats.padded_fraction:.1%} as configured "
        f"(length bucketing {'on' if mix.hparams.length_bucketing else 'off'}), "
        f"{unbucketed.padded_fraction:.1%} without length bucketing",
        "",
        "bad rows met (each counted once):",
        *report.bad_row_lines(stats),
    ]
    contaminated = False
    if args.check_eval:
        from embedlab.data.contamination import find_contamination

        found = find_contamination(mix.sources, args.eval_task, threshold=args.overlap)
        contaminated = any(found.values())
        out += ["", *contamination_lines(found, args.overlap)]
    out.append(f"\n({time.perf_counter() - started:.1f} s)")
    print("\n".join(out))
    return 1 if contaminated else 0


def contamination_lines(found: dict, threshold: float, shown: int = 3) -> list[str]:
    """The `--check-eval` section: per contaminated task its count and first hits (source, share, texts)."""
    hits = {task: found_hits for task, found_hits in found.items() if found_hits}
    rule = f"shared 13-grams covering >= {threshold:.0%} of a text, or equal"
    head = f"evaluation texts in the sources ({len(found)} task(s) checked; {rule}):"
    if not hits:
        return [f"{head} none"]
    lines = [head]
    for task, task_hits in hits.items():
        lines.append(f"  {task}: {len({h.evaluation_text for h in task_hits})} evaluation text(s)")
        for hit in task_hits[:shown]:
            lines.append(
                f"    {hit.source}, {hit.fraction:.0%}: {hit.evaluation_text!r:.70} in {hit.training_text!r:.70}"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
