"""MTEBCallback: on `trainer.validate` with a tiny model it logs one finite main score per task and the
per-category means; it respects its time budget and its step interval."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import pytest

from embedlab.data import JsonlPairs
from embedlab.data.jsonl import SAMPLE_PAIRS
from embedlab.eval.callback import MTEBCallback
from tests.eval.conftest import tiny_module

DATA = Path(__file__).parent / "data"
TASKS = [str(DATA / "tickets" / "task.yaml"), str(DATA / "faq" / "task.yaml")]


def validate(callback: MTEBCallback, tmp_path) -> dict[str, float]:
    trainer = L.Trainer(
        callbacks=[callback],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        limit_val_batches=1,
        accelerator="cpu",
    )
    trainer.validate(tiny_module(), datamodule=JsonlPairs(val_file=str(SAMPLE_PAIRS), batch_size=4))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def test_validate_logs_one_finite_score_per_task_and_category_means(tmp_path):
    metrics = validate(MTEBCallback(tasks=TASKS), tmp_path)
    scores = {k: v for k, v in metrics.items() if k.startswith("val/mteb/")}
    assert {"val/mteb/SupportTicketArea", "val/mteb/ToyFAQRetrieval"} <= set(scores)
    assert {"val/mteb/category/Classification", "val/mteb/category/Retrieval", "val/mteb/average"} <= set(scores)
    assert all(math.isfinite(v) for v in scores.values())
    assert scores["val/mteb/skipped"] == 0 and "val/loss" in metrics


def test_time_budget_skips_the_remaining_tasks(tmp_path):
    metrics = validate(MTEBCallback(tasks=TASKS, time_budget_s=0.0), tmp_path)
    assert metrics["val/mteb/skipped"] == 2 and "val/mteb/SupportTicketArea" not in metrics


def test_step_interval():
    callback = MTEBCallback(tasks=TASKS, every_n_steps=100)

    class FakeTrainer:
        sanity_checking = False
        global_step = 0

    trainer = FakeTrainer()
    assert callback._due(trainer)
    callback.last_step = 0
    trainer.global_step = 99
    assert not callback._due(trainer)
    trainer.global_step = 100
    assert callback._due(trainer)
    trainer.sanity_checking = True
    assert not callback._due(trainer)


def test_unknown_task_fails_at_setup_not_mid_training(tmp_path):
    from embedlab.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Closest valid names"):
        validate(MTEBCallback(tasks=["NoSuchTaskAnywhere"]), tmp_path)
