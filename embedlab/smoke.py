"""`python -m embedlab.smoke`: train every variant for a few steps on the tiny random model.

Proves on any machine, in about a minute, that each variant builds, passes its attention check,
trains, and writes a checkpoint; prints one line per variant with the checkpoint's path.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from pathlib import Path

import lightning as L

from embedlab.cli import EmbedlabCLI
from embedlab.module import EmbeddingModule

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedlab.smoke", description=__doc__)
    parser.add_argument("--out", default="smoke", help="folder for the runs (default: smoke)")
    parser.add_argument("--steps", type=int, default=3, help="training steps per variant")
    parser.add_argument("--configs", type=Path, default=CONFIGS, help="the configs folder")
    parser.add_argument("variants", nargs="*", help="variant names (default: every file in configs/variants)")
    args = parser.parse_args(argv)
    variants = args.variants or sorted(p.stem for p in (args.configs / "variants").glob("*.yaml"))
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    print(f"{'variant':22} {'attention':14} {'pooling':20} {'head params':>11} {'loss':>7} {'s':>5}  checkpoint")
    for variant in variants:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cli = EmbedlabCLI(
                EmbeddingModule,
                L.LightningDataModule,
                subclass_mode_data=True,
                save_config_kwargs={"overwrite": True},
                args=[
                    "fit",
                    *("--config", str(args.configs / "base.yaml")),
                    *("--config", str(args.configs / "backbones" / "tiny-random.yaml")),
                    *("--config", str(args.configs / "variants" / f"{variant}.yaml")),
                    *("--trainer.max_steps", str(args.steps)),
                    *("--trainer.default_root_dir", str(Path(args.out) / variant)),
                    *("--trainer.enable_progress_bar", "false"),
                ],
            )
        model, trainer = cli.model, cli.trainer
        checkpoint = trainer.checkpoint_callback.last_model_path
        if not checkpoint or not Path(checkpoint).is_file():
            print(f"{variant}: no checkpoint was written")
            return 1
        loss = float(trainer.callback_metrics["train/loss"])
        print(
            f"{variant:22} {type(model.attention).__name__:14} {type(model.pooling).__name__:20} "
            f"{model.parameter_counts['pooling']:>11,} {loss:7.3f} {time.perf_counter() - started:5.1f}  {checkpoint}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
