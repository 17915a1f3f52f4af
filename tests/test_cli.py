"""The `embedlab` command: every variant fits on the tiny model and reloads; every YAML parses;
bad names and unsupported models get errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from embedlab.cli import EmbedlabCLI, main
from embedlab.module import EmbeddingModule
from embedlab.registry import attention_policies, pooling_heads

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
VARIANTS = sorted(CONFIGS.glob("variants/*.yaml"))
BACKBONES = sorted(CONFIGS.glob("backbones/*.yaml"))
BASE = ["--config", str(CONFIGS / "base.yaml")]
TINY = [*BASE, "--config", str(CONFIGS / "backbones" / "tiny-random.yaml")]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda p: p.stem)
def test_every_variant_fits_and_reloads(variant, tmp_path):
    argv = ["fit", *TINY, "--config", str(variant), "--trainer.max_steps", "2", *QUIET]
    assert main([*argv, "--trainer.default_root_dir", str(tmp_path)]) == 0
    checkpoint = next(tmp_path.rglob("last.ckpt"))
    state = torch.load(checkpoint, weights_only=True)
    loaded = EmbeddingModule.load_from_checkpoint(checkpoint, weights_only=True)
    expected = yaml_model(variant)
    assert type(loaded.pooling).__name__ == expected["pooling"]
    assert type(loaded.attention).__name__ == expected["attention"]
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, state["state_dict"][name]), name


def yaml_model(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())["model"]


class ParseOnlyCLI(EmbedlabCLI):
    def instantiate_classes(self) -> None:  # parse and validate, load nothing
        pass


@pytest.mark.parametrize("backbone", BACKBONES, ids=lambda p: p.stem)
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda p: p.stem)
def test_every_config_stack_parses(backbone, variant):
    import lightning as L

    cli = ParseOnlyCLI(
        EmbeddingModule,
        L.LightningDataModule,
        subclass_mode_data=True,
        run=False,
        args=[*BASE, "--config", str(backbone), "--config", str(variant)],
    )
    assert cli.config.model.pooling.class_path.endswith(yaml_model(variant)["pooling"])


STRATEGIES = sorted(CONFIGS.glob("strategies/*.yaml"))


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda p: p.stem)
def test_every_strategy_config_parses(strategy):
    import lightning as L

    cli = ParseOnlyCLI(
        EmbeddingModule,
        L.LightningDataModule,
        subclass_mode_data=True,
        run=False,
        args=[*TINY, "--config", str(VARIANTS[0]), "--config", str(strategy)],
    )
    assert cli.config.trainer.strategy.class_path.startswith("lightning.pytorch.strategies.")


def test_every_yaml_is_used_by_a_tested_stack():
    tested = {CONFIGS / "base.yaml", *VARIANTS, *BACKBONES, *STRATEGIES}
    # data/ stacks are parsed in tests/data, studies/ presets in tests/study.
    elsewhere = {*CONFIGS.glob("data/*.yaml"), *CONFIGS.glob("eval/*.yaml"), *CONFIGS.glob("studies/*.yaml")}
    assert set(CONFIGS.rglob("*.yaml")) <= tested | elsewhere


def test_unknown_pooling_lists_closest_names(capsys):
    assert main(["fit", *TINY, "--model.pooling", "MultiLayerTrainabel"]) == 2
    error = capsys.readouterr().err
    assert "Unknown pooling head 'MultiLayerTrainabel'" in error
    names = error.split("closest first: ")[1].rstrip(".\n").split(", ")
    assert names[0] == "MultiLayerTrainable" and set(names) == set(pooling_heads())


def test_unknown_attention_in_a_config_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "variant.yaml"
    bad.write_text("model:\n  attention: Bidirectionnal\n  pooling: Mean\n")
    assert main(["fit", *TINY, "--config", str(bad)]) == 2
    error = capsys.readouterr().err
    assert f"{bad}: model.attention: Unknown attention policy 'Bidirectionnal'" in error
    assert error.split("closest first: ")[1].startswith("Bidirectional, Causal")
    assert set(attention_policies()) == {"Bidirectional", "Causal"}


def test_bidirectional_on_unsupported_model_fails_before_training(tmp_path, capsys):
    argv = ["fit", *TINY, "--model.attention", "Bidirectional", "--model.pooling", "Mean"]
    gpt2 = '{"model_type": "gpt2", "vocab_size": 259, "n_embd": 32, "n_head": 4, "n_layer": 2}'
    argv += ["--model.backbone.init_args.config", gpt2]
    assert main([*argv, "--trainer.default_root_dir", str(tmp_path)]) == 2
    assert "not supported for model type 'gpt2'" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ckpt"))


def test_invalid_backbone_config_is_an_error_not_a_traceback(capsys):
    argv = ["fit", *TINY, "--model.backbone.init_args.config", '{"model_type": "gpt2", "n_embd": 32, "n_head": 12}']
    assert main(argv) == 2
    assert "backbone.config for model_type 'gpt2' is not valid" in capsys.readouterr().err


def test_smoke_prints_a_line_and_checkpoint_per_variant(tmp_path, capsys):
    from embedlab.smoke import main as smoke

    assert smoke(["--out", str(tmp_path), "--steps", "1", "m1_eos_causal", "x_scalarmix_bidir"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["variant", "attention", "pooling"]
    for line, variant in zip(lines[1:], ["m1_eos_causal", "x_scalarmix_bidir"], strict=True):
        assert line.startswith(variant) and line.endswith("last.ckpt")
        assert (tmp_path / variant).is_dir() and Path(line.split()[-1]).is_file()


def test_fsdp_policy_wraps_decoder_layers_only():
    from embedlab.fsdp import wrap_decoder_layers
    from tests.conftest import tiny_backbone

    backbone = tiny_backbone()
    wrapped = [type(m).__name__ for m in backbone.modules() if wrap_decoder_layers(m, False, 0)]
    assert wrapped == ["LlamaDecoderLayer", "LlamaDecoderLayer"]
    assert wrap_decoder_layers(backbone, True, 0)
