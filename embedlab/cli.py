"""The `embedlab` command: LightningCLI's fit / validate / test, plus `assets`, `data`, `evaluate`, `analyze`,
`export`, `layers` and `study`.

Importing `embedlab.models` and `embedlab.data` registers every attention policy, pooling head and
DataModule, so configs name them by class (`pooling: MultiLayerTrainable`). A misspelt name is
answered with the valid ones, closest first, before anything is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import lightning as L
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

    def before_fit(self) -> None:
        """Name the run in its RunRecord after the variant and data config files, unless named explicitly."""
        from embedlab.callbacks import RunRecord

        stems = config_stems(self.config[self.subcommand].get("config") or [])
        for callback in self.trainer.callbacks:
            if isinstance(callback, RunRecord):
                callback.variant = callback.variant or stems.get("variants")
                callback.train_mix = callback.train_mix or stems.get("data")

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
