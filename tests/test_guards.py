"""Guarded training: a non-finite loss or gradient stops the run, names the step and the batch's
sources, takes no optimiser step, and leaves earlier checkpoints alone."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
import yaml

from embedlab.cli import main
from embedlab.data import JsonlPairs
from embedlab.errors import AttentionPolicyError, NonFiniteError
from embedlab.models import Causal, Mean
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone


class PoisonAt(L.Callback):
    """Turns the loss (or the gradients) into NaN at one step."""

    def __init__(self, step: int, where: str) -> None:
        self.step, self.where = step, where

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and self.where == "loss":
            with torch.no_grad():
                module.backbone.base_model.norm.weight.fill_(float("nan"))

    def on_after_backward(self, trainer, module) -> None:
        if trainer.global_step == self.step and self.where == "grad":
            next(p for p in module.parameters() if p.grad is not None).grad.fill_(float("inf"))


@pytest.mark.parametrize("where,message", [("loss", "The loss is nan at step 2"), ("grad", "Non-finite gradients")])
def test_non_finite_stops_with_step_and_sources(tmp_path, where, message):
    module = EmbeddingModule(tiny_backbone(), attention=Causal(), pooling=Mean)
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    trainer = L.Trainer(
        max_steps=5,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[checkpoints, PoisonAt(2, where)],
        default_root_dir=tmp_path,
    )
    with pytest.raises(NonFiniteError, match=message) as error:
        trainer.fit(module, JsonlPairs(batch_size=4, num_negatives=1))
    assert "source(s) pairs" in str(error.value)
    saved = sorted(p.name for p in tmp_path.glob("*.ckpt"))
    assert saved == ["epoch=0-step=1.ckpt", "epoch=0-step=2.ckpt"]  # nothing written for the bad step
    if where == "grad":  # the weights are those of the last good checkpoint: no step was taken
        last = torch.load(tmp_path / "epoch=0-step=2.ckpt", weights_only=True)["state_dict"]
        for name, tensor in module.state_dict().items():
            assert torch.equal(tensor, last[name]), name


# ---------------------------------------------------------------- the same stop through `embedlab fit`

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = ["--config", str(CONFIGS / "base.yaml"), "--config", str(CONFIGS / "backbones" / "tiny-random.yaml")]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]


def test_cli_non_finite_stop_keeps_last_good_checkpoint_and_says_where(tmp_path, capsys):
    callbacks = yaml.safe_load((CONFIGS / "base.yaml").read_text())["trainer"]["callbacks"]
    callbacks[0]["init_args"]["every_n_train_steps"] = 1
    callbacks.append({"class_path": "tests.test_guards.PoisonAt", "init_args": {"step": 2, "where": "loss"}})
    (tmp_path / "poison.yaml").write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks}}))
    argv = ["fit", *TINY, "--config", str(tmp_path / "poison.yaml"), *QUIET, "--trainer.max_steps", "5"]
    assert main([*argv, "--trainer.default_root_dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "embedlab: error: The loss is nan at step 2 on a batch from source(s) pairs" in err
    assert "the last good checkpoint is left as it was" in err and "Traceback" not in err
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["global_step"] == 2  # written after step 2; neither the bad step nor a signal save replaced it
    assert torch.isfinite(last["state_dict"]["backbone.model.norm.weight"]).all()


# ---------------------------------------------------------------- the attention policy, proved on every load


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fit")
    argv = ["fit", *TINY, *QUIET, "--trainer.max_steps", "1", "--model.learning_rate", "0.01"]
    assert main([*argv, "--model.warmup_steps", "0", "--trainer.default_root_dir", str(root)]) == 0
    return root / "checkpoints" / "last.ckpt"


@pytest.fixture
def verified(monkeypatch, trained_checkpoint):
    """Records, for every proof of the policy, whether it ran on the checkpoint's weights; fails on those
    weights when `fail` is set, as a policy that does not hold would."""
    loaded = torch.load(trained_checkpoint, weights_only=True)["state_dict"]["backbone.model.norm.weight"]
    calls: list[bool] = []
    state = {"fail": False}

    def verify(self, backbone, atol: float = 1e-4) -> None:
        on_loaded = torch.equal(backbone.base_model.norm.weight.detach().cpu(), loaded)
        calls.append(on_loaded)
        if on_loaded and state["fail"]:
            raise AttentionPolicyError("Causal attention does not hold (test)")

    monkeypatch.setattr(Causal, "verify", verify)
    return calls, state


def test_load_from_checkpoint_proves_the_policy_on_the_loaded_weights(trained_checkpoint, verified):
    calls, _ = verified
    module = EmbeddingModule.load_from_checkpoint(trained_checkpoint, weights_only=True)
    assert calls == [False]  # at construction, on the freshly initialised weights
    module.encode(["a text"])
    assert calls == [False, True]  # proved again on the weights as loaded, before the first use
    module.encode(["another"])
    assert calls == [False, True]  # once per load


def test_embedlab_test_and_evaluate_stop_when_the_loaded_model_breaks_the_policy(
    trained_checkpoint, verified, tmp_path, capsys
):
    from embedlab.eval.command import main as evaluate_main

    calls, state = verified
    state["fail"] = True
    task = str(Path(__file__).parent / "eval" / "data" / "tickets" / "task.yaml")
    argv = ["test", *TINY, *QUIET, "--ckpt_path", str(trained_checkpoint), "--evaluation.suite", task]
    assert main([*argv, "--evaluation.run_dir", str(tmp_path / "test")]) == 2
    assert calls[-1] is True and "Causal attention does not hold (test)" in capsys.readouterr().err
    argv = ["--checkpoint", str(trained_checkpoint), "--suite", task, "--run-dir", str(tmp_path / "evaluate")]
    assert evaluate_main([*argv, "--quiet", "--device", "cpu"]) == 2
    assert calls[-1] is True and "Causal attention does not hold (test)" in capsys.readouterr().err
    assert not list(tmp_path.rglob("DONE")) and not list(tmp_path.rglob("results/*.json"))
