"""`embedlab test`: LightningCLI's test subcommand, answered by an MTEB evaluation instead of a test loop.

Testing an embedding model means encoding task data and scoring it with mteb, which has no batches
for a `test_step`. LightningCLI runs a method named after the subcommand when the CLI class defines
one (`EmbedlabCLI.test`), with the model the config (or the checkpoint's hyperparameters) built;
it delegates here. The trainer still decides the device (`trainer.accelerator`) and the precision
(`trainer.precision`: bf16-mixed -> bf16 autocast), and its logger receives the scores.

    embedlab test --config configs/base.yaml --config configs/backbones/smollm2-135m.yaml \\
        --config configs/variants/m5_multilayer_bidir.yaml --ckpt_path runs/m5/last.ckpt \\
        --evaluation.run_dir runs/m5/eval

Without `--ckpt_path` the same command evaluates the untrained backbone with the configured
attention and pooling.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml

from embedlab.eval.evaluator import EvaluationReport
from embedlab.eval.options import EvaluationOptions
from embedlab.eval.run import check_overwrite, evaluate_run, module_info
from embedlab.instruction_template import trained_template


def _precision(trainer) -> str:
    precision = str(getattr(trainer, "precision", "auto"))
    return precision if precision.startswith(("bf16", "16")) else "auto"


def _config_dump(cli) -> dict[str, Any] | None:
    try:
        text = cli.parser.dump(cli.config, skip_none=False, skip_check=True)
    except Exception:  # noqa: BLE001 - a config we cannot dump is not worth failing the evaluation for
        return None
    dumped = yaml.safe_load(text) or {}
    return dumped.get(cli.subcommand, dumped)


def _data_config(cli) -> tuple[str | None, Any]:
    data = cli.config[cli.subcommand].get("data")
    if data is None:
        return None, None
    data = data.as_dict() if hasattr(data, "as_dict") else data
    class_path = data.get("class_path", "") if isinstance(data, dict) else ""
    return class_path.rsplit(".", 1)[-1] or None, data


def run_test(cli, model, ckpt_path: str | None = None, weights_only: bool | None = None) -> EvaluationReport:
    """Evaluate `model` (with the checkpoint's weights when `ckpt_path` is given) into a run directory.

    Args:
        cli: the running EmbedlabCLI (its config, trainer and subcommand).
        model: the EmbeddingModule the CLI instantiated.
        ckpt_path: a Lightning checkpoint of that model, or None for the untrained backbone.
        weights_only: passed to `torch.load` (default True: checkpoints hold plain data).
    """
    options: EvaluationOptions = cli.config_init[cli.subcommand]["evaluation"]
    seed = cli.config[cli.subcommand].get("seed_everything")
    train_mix, train_mix_config, max_steps = options.train_mix, None, 0
    trainer = cli.trainer
    run_dir = options.run_dir or Path(trainer.default_root_dir) / "eval" / options.suite.replace("/", "_")
    overwrite = options.overwrite or bool(cli.config[cli.subcommand].get("overwrite"))
    check_overwrite(run_dir, overwrite, "--evaluation.overwrite true")  # before loading the checkpoint
    if ckpt_path:
        checkpoint = torch.load(
            ckpt_path, map_location="cpu", weights_only=True if weights_only is None else weights_only
        )
        model.load_state_dict(checkpoint["state_dict"])
        max_steps = int(checkpoint.get("global_step", 0))
        name, data_config = _data_config(cli)
        train_mix = train_mix or name
        train_mix_config = checkpoint.get("datamodule_hyper_parameters") or data_config
    model.to(trainer.strategy.root_device)
    model.verify_attention_policy()  # on the weights as loaded, on their device (raises AttentionPolicyError)
    info = module_info(
        model,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        max_steps=max_steps,
        train_mix=train_mix,
        train_mix_config=train_mix_config,
        variant=options.variant,
        checkpoint=str(ckpt_path) if ckpt_path else None,
    )
    adapter = options.adapter(model, precision=_precision(trainer), trained_template=trained_template(train_mix_config))
    report = evaluate_run(
        adapter, options.suite, run_dir, info, config=_config_dump(cli), batch_size=options.batch_size,
        overwrite=overwrite, overwrite_flag="--evaluation.overwrite true", classifier=options.classifier,
    )  # fmt: skip
    if trainer.logger is not None:
        trainer.logger.log_metrics(report.metrics("test"), step=max_steps)
    print(report.table())
    print(f"run directory: {run_dir}")
    return report
