"""Cross-device negatives are correct: a 2-process CPU DDP step (Lightning, gloo) gives the same loss
and gradients as one process on the concatenated batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.distributed.reference import EXAMPLES, build_module, collator_for


@pytest.fixture(scope="module")
def ddp_outputs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("ddp_worker.py")), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def single_process_reference():
    module = build_module()
    module.train()
    batch = collator_for(module)(EXAMPLES)
    loss = module._loss(batch)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in module.named_parameters() if p.grad is not None}


def test_two_process_loss_equals_the_concatenated_batch(ddp_outputs):
    reference, _ = single_process_reference()
    local = [torch.load(ddp_outputs / f"loss_rank{r}.pt") for r in (0, 1)]
    assert torch.allclose((local[0] + local[1]) / 2, reference, atol=1e-5)
    assert not torch.allclose(local[0], local[1])  # the ranks really saw different halves


def test_two_process_gradients_equal_the_concatenated_batch(ddp_outputs):
    _, reference = single_process_reference()
    synced = torch.load(ddp_outputs / "grads.pt")
    assert set(synced) == set(reference)
    for name, grad in reference.items():
        assert torch.allclose(synced[name], grad, atol=1e-5, rtol=1e-4), name


def test_cli_fit_with_the_ddp_config_on_two_cpu_processes(tmp_path):
    configs = Path(__file__).resolve().parents[2] / "configs"
    embedlab = Path(sys.executable).with_name("embedlab")
    argv = [str(embedlab), "fit"]
    for name in ("base.yaml", "backbones/tiny-random.yaml", "variants/m5_multilayer_bidir.yaml", "strategies/ddp.yaml"):
        argv += ["--config", str(configs / name)]
    argv += ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.max_steps", "2"]
    argv += ["--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(next(tmp_path.rglob("last.ckpt")), weights_only=True)
    assert checkpoint["global_step"] == 2
