"""The `embedlab` command: LightningCLI's fit / validate / test, plus `assets`, `data`, `evaluate`, `analyze`,
`export`, `layers` and `study`.

Importing `embedlab.models` and `embedlab.data` registers every attention policy, pooling head and
DataModule, so configs name them by class (`pooling: MultiLayerTrainable`). A misspelt name is
answered with the valid ones, closest first, before anything is loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

import embedlab.data  # noqa: F401  (registers DataModules for short class names)
import embedlab.models  # noqa: F401  (registers attention policies and pooling heads)
from embedlab.cli_names import check_component_names
from embedlab.errors import EmbedlabError
from embedlab.eval.options import EvaluationOptions
from embedlab.module import EmbeddingModule


class EmbedlabCLI(LightningCLI):
    """LightningCLI over EmbeddingModule and any DataModule (`data.class_path`).

    `test` is an MTEB evaluation into a run directory (options under `evaluation:`), not a test loop.
    """

    def add_arguments_to_parser(self, parser) -> None:
        parser.set_defaults({"data": {"class_path": "embedlab.data.JsonlPairs"}})
        parser.add_class_arguments(EvaluationOptions, "evaluation")  # read by `test` only
        parser.add_argument(
            "--overwrite",
            type=bool,
            default=False,
            help="fit: train anew in a run directory that holds a finished, evaluated run (DONE); "
            "test: replace the results already in the run directory (same as --evaluation.overwrite)",
        )

    def _parse_ckpt_path(self) -> None:
        """Refuse an unusable checkpoint, or one of another variant, before LightningCLI adopts its hyperparameters.

        LightningCLI replaces the config's model with the checkpoint's, so a m5 checkpoint given with
        the m1 config would otherwise be evaluated silently as m5 under m1's name.
        """
        from embedlab.checkpoint_file import LIGHTNING_NAMES, check_variant, read_checkpoint

        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and str(ckpt_path) not in LIGHTNING_NAMES:
            checkpoint = read_checkpoint(ckpt_path)
            model = self.config[subcommand].get("model")
            chosen = model.as_dict() if hasattr(model, "as_dict") else dict(model or {})
            check_variant(checkpoint.get("hyper_parameters") or {}, chosen, ckpt_path)
        super()._parse_ckpt_path()

    def before_fit(self) -> None:
        """Checkpoints in `<default_root_dir>/checkpoints`; no fit over a finished run; the RunRecord named."""
        from embedlab.callbacks import RunRecord

        root = Path(self.trainer.default_root_dir)
        for callback in self.trainer.callbacks:
            # Lightning's default folder is under the logger's version_N, which a new process does not
            # reuse: `--ckpt_path last` would find nothing. A stable folder makes resuming a rerun.
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                callback.dirpath = os.path.realpath(root / "checkpoints")
        stems = config_stems(self.config[self.subcommand].get("config") or [])
        records = [c for c in self.trainer.callbacks if isinstance(c, RunRecord)]
        for callback in records:
            callback.variant = callback.variant or stems.get("variants")
            callback.train_mix = callback.train_mix or stems.get("data")
        run_dirs = {Path(c.run_dir) for c in records if c.run_dir} or {root}
        self._refuse_finished_runs(run_dirs)

    def _refuse_finished_runs(self, run_dirs: set[Path]) -> None:
        """A fit into a run directory with DONE (trained and evaluated) would leave results describing
        another model: refused, unless resuming (`--ckpt_path`) or told to (`--overwrite true`)."""
        config = self.config[self.subcommand]
        for run_dir in sorted(run_dirs):
            done = run_dir / "DONE"
            if not done.exists():
                continue
            if not (config.get("ckpt_path") or config.get("overwrite")):
                raise EmbedlabError(
                    f"{run_dir} holds a finished, evaluated run (DONE): a new fit there would leave its results "
                    "describing another model. Resume it with --ckpt_path last, choose another "
                    "--trainer.default_root_dir, or pass --overwrite true to train anew there."
                )
            done.unlink()  # results/ no longer describe the checkpoint: the run is incomplete until re-evaluated
            print(
                f"embedlab: {run_dir}: DONE removed; evaluate again with `embedlab test --evaluation.overwrite true`",
                file=sys.stderr,
            )

    def test(self, model, ckpt_path: str | None = None, weights_only: bool | None = None, **kwargs) -> None:
        """Evaluate the model (checkpoint weights, or untrained) on an MTEB suite: `embedlab.eval.lightning_test`."""
        from embedlab.eval.lightning_test import run_test

        run_test(self, model, ckpt_path, weights_only)


def config_stems(paths) -> dict[str, str]:
    """{folder: file stem} of the `--config` files, e.g. {"variants": "m5_multilayer_bidir", "data": "offline-mix"}."""
    stems = {}
    for path in paths:
        path = Path(str(getattr(path, "absolute", path)))
        stems[path.parent.name] = path.stem
    return stems


def run_lightning(argv: list[str], from_command_line: bool = False) -> int:
    check_component_names(argv)
    EmbedlabCLI(
        EmbeddingModule,
        L.LightningDataModule,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=None if from_command_line else argv,
        auto_configure_optimizers=False,
    )
    return 0


def _assets(argv: list[str]) -> int:
    from embedlab.assets.command import main as assets_main

    return assets_main(argv)


def _evaluate(argv: list[str]) -> int:
    from embedlab.eval.command import main as evaluate_main

    return evaluate_main(argv)


def _analyze(argv: list[str]) -> int:
    from embedlab.analysis.cli import analyze_main

    return analyze_main(argv)


def _data(argv: list[str]) -> int:
    from embedlab.data.inspect import main as data_main

    return data_main(argv)


def _export(argv: list[str]) -> int:
    from embedlab.export.command import main as export_main

    return export_main(argv)


def _layers(argv: list[str]) -> int:
    from embedlab.layers.command import main as layers_main

    return layers_main(argv)


def _study(argv: list[str]) -> int:
    from embedlab.study.command import main as study_main

    return study_main(argv)


SUBCOMMANDS: dict[str, Callable[[list[str]], int]] = {
    "analyze": _analyze,
    "assets": _assets,
    "data": _data,
    "evaluate": _evaluate,
    "export": _export,
    "layers": _layers,
    "study": _study,
}


def main(argv: list[str] | None = None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return SUBCOMMANDS[argv[0]](argv[1:])
        return run_lightning(argv, from_command_line)
    except EmbedlabError as error:
        print(f"embedlab: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
