"""SIGINT / SIGTERM during a fit (in-process, so fast): the step finishes, last.ckpt is written with the data
stream's state, the fit exits with 128 + the signal's number, and resuming gives the uninterrupted weights.
A second SIGINT aborts at once without a checkpoint; other failures write nothing. (Signals from
outside a separate `embedlab fit` process: tests/reliability/test_resume_after_kill.py.)"""

from __future__ import annotations

import signal

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from embedlab.callbacks import SignalCheckpoint, StepSeed
from embedlab.models import Causal
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone
from tests.data.conftest import small_mix, synthetic_rows, write_jsonl


class Interrupt(L.Callback):
    """Sends this process `signum` (`times` times) at the start of step `step`."""

    def __init__(self, step: int, signum: int, times: int = 1) -> None:
        self.step, self.signum, self.times = step, signum, times

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            for _ in range(self.times):
                signal.raise_signal(self.signum)


def fit(paths, root, steps: int, *extra, ckpt_path=None) -> EmbeddingModule:
    torch.manual_seed(0)
    module = EmbeddingModule(tiny_backbone(), attention=Causal(), warmup_steps=1)
    trainer = L.Trainer(
        max_steps=steps, default_root_dir=root, logger=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", deterministic=True, limit_val_batches=0,
        callbacks=[ModelCheckpoint(dirpath=root / "checkpoints", save_last=True, every_n_train_steps=1),
                   SignalCheckpoint(), StepSeed(0), *extra],
    )  # fmt: skip
    trainer.fit(module, small_mix(paths, batches_per_epoch=3, val_fraction=0.0), ckpt_path=ckpt_path)
    return module


@pytest.fixture
def two_sources(tmp_path):
    return (
        write_jsonl(tmp_path / "alpha.jsonl", synthetic_rows(40, seed=1, prefix="a")),
        write_jsonl(tmp_path / "bravo.jsonl", synthetic_rows(20, seed=2, prefix="b")),
    )


@pytest.fixture
def sigint_restored():
    before = signal.getsignal(signal.SIGINT)
    yield before
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)],  # SIGTERM: test_resume_after_kill too
    ids=["SIGINT", "SIGTERM"],
)
def test_signal_saves_the_step_boundary_and_resume_matches(two_sources, tmp_path, capsys, signum, sigint_restored):
    straight = fit(two_sources, tmp_path / "straight", 5)
    root = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        fit(two_sources, root, 5, Interrupt(2, signum))
    assert stopped.value.code == 128 + signum  # 130 / 143: "ended by a signal", not finished
    err = capsys.readouterr().err
    assert f"{signal.Signals(signum).name} received: stopped after step 3" in err and "--ckpt_path last" in err
    saved = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 3 and saved["TrainingMix"]["consumed"] == 3  # step 3 finished, stream with it
    assert signal.getsignal(signal.SIGINT) is sigint_restored  # the handler is put back
    resumed = fit(two_sources, root, 5, ckpt_path=root / "checkpoints" / "last.ckpt")
    for name, tensor in straight.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_second_sigint_aborts_now_without_a_checkpoint(two_sources, tmp_path, sigint_restored):
    root = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        fit(two_sources, root, 5, Interrupt(2, signal.SIGINT, times=2))
    assert stopped.value.code == 1  # Lightning's KeyboardInterrupt exit
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2  # the periodic one
    assert signal.getsignal(signal.SIGINT) is sigint_restored


def test_a_failure_other_than_a_signal_writes_no_checkpoint(two_sources, tmp_path, sigint_restored):
    class Fail(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
            if trainer.global_step == 2:
                raise RuntimeError("boom")

    root = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        fit(two_sources, root, 5, Fail())
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2
    assert signal.getsignal(signal.SIGINT) is sigint_restored
