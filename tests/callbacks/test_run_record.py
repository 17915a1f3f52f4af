"""RunRecord: a fit leaves run.json and cost.json with exact token counts, named after its config files."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch

from embedlab.callbacks import PeakMemory, RunRecord
from embedlab.cli import main
from embedlab.data import JsonlPairs
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--config", str(CONFIGS / "base.yaml"), "--config", str(CONFIGS / "backbones" / "tiny-random.yaml")]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


class CountingModule(EmbeddingModule):
    """Records the real tokens of every training batch, the figure RunRecord must reproduce."""

    seen: list[int]

    def training_step(self, batch, batch_idx):
        self.seen.append(int(batch["query"]["attention_mask"].sum() + batch["documents"]["attention_mask"].sum()))
        return super().training_step(batch, batch_idx)


def test_cli_fit_writes_run_json_and_cost_named_after_config_files(tmp_path):
    variant = CONFIGS / "variants" / "m4_lastlayer_bidir.yaml"
    argv = ["fit", *TINY, "--config", str(variant), "--trainer.max_steps", "3", *QUIET]
    assert main([*argv, "--trainer.default_root_dir", str(tmp_path), "--seed_everything", "7"]) == 0
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["variant"] == "m4_lastlayer_bidir"
    assert (run["attention"], run["pooling"], run["seed"], run["max_steps"]) == (
        "Bidirectional",
        "TrainableLastLayer",
        7,
        3,
    )
    assert run["train_mix"] == "JsonlPairs" and len(run["train_mix_fingerprint"]) == 64
    assert Path(run["checkpoint"]).name == "last.ckpt" and Path(run["checkpoint"]).is_file()
    training = json.loads((tmp_path / "cost.json").read_text())["training"]
    assert training["steps"] == 3 and training["examples"] == 3 * 8  # batch_size 8 in base.yaml
    assert training["tokens_seen"] > 0 and training["peak_memory_bytes"] > 0
    assert training["trainable_parameters"]["pooling"] > 0
    assert training["tokens_per_s"] > 0


def test_token_counts_are_exact_and_survive_resume(tmp_path):
    def fit(steps: int, ckpt_path=None) -> tuple[CountingModule, RunRecord]:
        L.seed_everything(0)
        module = CountingModule(tiny_backbone(), learning_rate=1e-3, warmup_steps=0)
        module.seen = []
        record = RunRecord(variant="tiny", train_mix="samples")
        trainer = L.Trainer(
            max_steps=steps,
            default_root_dir=tmp_path,
            callbacks=[record, L.pytorch.callbacks.ModelCheckpoint(save_last=True)],
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, datamodule=JsonlPairs(batch_size=4, num_negatives=1), ckpt_path=ckpt_path)
        return module, record

    first, _ = fit(2)
    second, record = fit(4, ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"))
    training = json.loads((tmp_path / "cost.json").read_text())["training"]
    assert training["tokens_seen"] == sum(first.seen) + sum(second.seen)
    assert (training["steps"], training["examples"]) == (4, 16)
    assert json.loads((tmp_path / "run.json").read_text())["variant"] == "tiny"


def test_evaluation_keeps_the_training_block_of_cost_json(tmp_path):
    from embedlab.eval.run_dir import RunDirectory

    directory = RunDirectory(tmp_path)
    directory.record_training({"variant": "m1", "seed": 0}, {"tokens_seen": 10})
    directory.write_cost({"wall_time_s": 1.0})
    cost = json.loads((tmp_path / "cost.json").read_text())
    assert cost == {"training": {"tokens_seen": 10}, "evaluation": {"wall_time_s": 1.0}}


def test_peak_memory_sees_an_allocation_inside_the_block():
    with PeakMemory("cpu", interval_s=0.005) as memory:
        before = memory.peak_bytes
        block = torch.ones(64, 1024, 1024, dtype=torch.uint8)  # 64 MiB, touched
        block += 1
        import time

        time.sleep(0.05)
        del block
    assert memory.peak_bytes - before >= 60 * 2**20
    assert memory.kind == "cpu_peak_rss"
