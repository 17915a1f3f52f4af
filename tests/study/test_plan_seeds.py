"""A study seed is the data seed too: each seed its own batch order and negatives, every variant of a seed the same."""

from __future__ import annotations

import dataclasses

import lightning as L
import pytest
import yaml

from embedlab.cli import EmbedlabCLI
from embedlab.errors import EmbedlabError
from embedlab.hparams import fingerprint
from embedlab.module import EmbeddingModule
from embedlab.study.plan import build_plan
from embedlab.study.preset import configs_root, load_preset

VARIANTS = ["m1_eos_causal", "m5_multilayer_bidir"]


class ParseOnlyCLI(EmbedlabCLI):
    def instantiate_classes(self) -> None:
        pass


@pytest.fixture
def preset(tmp_path):
    path = tmp_path / "seeds.yaml"
    spec = {
        "description": "Three seeds of two variants on the offline mix.",
        "backbone": "tiny-random",
        "data": "offline-mix",
        "variants": VARIANTS,
        "baseline": VARIANTS[0],
        "seeds": [0, 1, 2],
        "max_steps": 3,
        "evaluation": {"suite": "offline-v1-mini"},
    }
    path.write_text(yaml.safe_dump(spec))
    return load_preset(str(path))


def flag(argv: list[str], name: str) -> str:
    (value,) = [argv[i + 1] for i, a in enumerate(argv) if a == name]
    return value


def test_the_fit_of_a_seed_sets_the_data_seed_and_variants_of_a_seed_share_it(preset, tmp_path):
    runs = [r for r in build_plan(preset, tmp_path, configs_root()) if r.kind == "trained"]
    assert sorted((r.variant, r.seed) for r in runs) == sorted((v, s) for v in VARIANTS for s in (0, 1, 2))
    for run in runs:
        for argv in (run.fit, run.evaluate):  # test rebuilds the same data config as fit
            assert flag(argv, "--seed_everything") == flag(argv, "--data.init_args.seed") == str(run.seed)
    seed1 = [r for r in runs if r.seed == 1]
    assert {flag(r.fit, "--data.init_args.seed") for r in seed1} == {"1"} and len(seed1) == 2
    # the flag reaches the training mix as LightningCLI parses the fit
    fit = seed1[0].fit[1:]
    cli = ParseOnlyCLI(EmbeddingModule, L.LightningDataModule, subclass_mode_data=True, run=False, args=fit)
    assert cli.config.data.class_path == "embedlab.data.TrainingMix"
    assert cli.config.data.init_args.seed == 1 and cli.config.seed_everything == 1


def test_a_preset_cannot_pin_the_data_seed_of_every_seed(preset, tmp_path):
    pinned = dataclasses.replace(preset, fit={"data.init_args.seed": 0})
    with pytest.raises(EmbedlabError, match="every seed the same data order"):
        build_plan(pinned, tmp_path, configs_root())


def test_runs_of_one_mix_with_different_seeds_share_its_fingerprint():
    hparams = {"batch_size": 16, "num_negatives": 1, "seed": 0}
    assert fingerprint(hparams) == fingerprint({**hparams, "seed": 1})
    assert fingerprint(hparams) != fingerprint({**hparams, "batch_size": 8})
    config = {"class_path": "embedlab.data.TrainingMix", "init_args": hparams}  # the CLI's data config
    assert fingerprint(config) == fingerprint({**config, "init_args": {**hparams, "seed": 2}})
    assert fingerprint(config) != fingerprint({**config, "init_args": {**hparams, "num_negatives": 2}})
    assert fingerprint(None) is None
