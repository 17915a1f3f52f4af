"""`embedlab fit` as a separate process on the tiny model and a TrainingMix over two small JSONL files,
for the tests that kill it: its config files, its launch, and what its checkpoints and logs hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from tests.data.conftest import synthetic_rows, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
STEPS = "tests.reliability.steps"


def write_configs(folder: Path, lora: bool = True) -> list[str]:
    """The data and model config files (two JSONL sources, 3 batches an epoch; LoRA with dropout)."""
    folder.mkdir(parents=True, exist_ok=True)
    alpha = write_jsonl(folder / "alpha.jsonl", synthetic_rows(40, seed=1, prefix="a"))
    bravo = write_jsonl(folder / "bravo.jsonl", synthetic_rows(20, seed=2, prefix="b"))
    sources = [
        {"class_path": "embedlab.data.JsonlSource", "init_args": {"path": str(p), "weight": w, "instruction": p.stem}}
        for p, w in ((alpha, 2.0), (bravo, 1.0))
    ]
    mix = {
        "sources": sources, "batch_size": 4, "num_negatives": 1, "num_workers": 0, "val_fraction": 0.0,
        "shuffle_buffer": 16, "batches_per_epoch": 3, "token_store_dir": str(folder / "tokens"),
    }  # fmt: skip
    config = {"data": {"class_path": "embedlab.data.TrainingMix", "init_args": mix}}
    if lora:  # dropout in every step: exact resume needs each batch's own seed (StepSeed)
        config["model"] = {"backbone": {"init_args": {"lora": {"r": 4, "alpha": 8, "dropout": 0.1}}}}
    (folder / "mix.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return ["--config", str(CONFIGS / "base.yaml"), "--config", str(CONFIGS / "backbones" / "tiny-random.yaml"),
            "--config", str(folder / "mix.yaml")]  # fmt: skip


def callbacks_config(path: Path, extra: list[dict]) -> list[str]:
    """base.yaml's callbacks with a checkpoint every step (all kept) and `extra` appended, as a config file."""
    callbacks = yaml.safe_load((CONFIGS / "base.yaml").read_text())["trainer"]["callbacks"]
    for callback in callbacks:
        if callback["class_path"].endswith("ModelCheckpoint"):
            callback["init_args"].update(every_n_train_steps=1, save_top_k=-1)
    path.write_text(yaml.safe_dump({"trainer": {"callbacks": callbacks + extra}}), encoding="utf-8")
    return ["--config", str(path)]


def step_log(path: Path) -> dict:
    return {"class_path": f"{STEPS}.StepLog", "init_args": {"path": str(path)}}


def hold_at(step: int, hook: str, marker: Path) -> dict:
    return {"class_path": f"{STEPS}.HoldAt", "init_args": {"step": step, "hook": hook, "marker": str(marker)}}


def start_fit(argv: list[str], root: Path, steps: int, log: Path) -> subprocess.Popen:
    """`python -m embedlab.cli fit ...` (CPU, deterministic, one thread, no logger) into `root`."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "embedlab.cli", "fit", *argv, "--trainer.max_steps", str(steps),
        "--trainer.accelerator", "cpu", "--trainer.deterministic", "true", "--trainer.logger", "false",
        "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
    ]  # fmt: skip
    handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed with the process by the caller's wait
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_for(marker: Path, process: subprocess.Popen, log: Path, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"fit exited with {process.returncode} before {marker.name}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{marker.name} not written within {timeout_s} s:\n{log.read_text()}")
        time.sleep(0.05)


def interrupt(process: subprocess.Popen, signum: int, timeout_s: float = 240.0) -> int:
    process.send_signal(signum)
    return process.wait(timeout_s)


def steps_logged(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
