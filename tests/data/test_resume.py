"""Exact resume through Lightning checkpoints, order identical across variants, with 0 and 2 workers."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch

from embedlab.errors import EmbedlabError
from embedlab.models import Bidirectional, Causal, Mean
from embedlab.module import EmbeddingModule
from tests.conftest import tiny_backbone
from tests.data.conftest import batch_texts, small_mix, take, write_jsonl

BAD = json.dumps({"query": "", "positive": "p", "negative": "n"})


class Recorder(L.Callback):
    """The texts of every batch that reaches training_step."""

    def __init__(self) -> None:
        self.batches: list[tuple] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        assert "mix" not in batch  # the stream state never reaches the model
        self.batches.append((tuple(batch["query_keys"].tolist()), tuple(batch["document_keys"].tolist())))


def fit(paths, steps: int, workers: int, root, ckpt=None, attention=None, pooling=None, logger=False):
    torch.manual_seed(0)
    module = EmbeddingModule(tiny_backbone(), attention=attention or Causal(), pooling=pooling, verify_attention=False)
    mix = small_mix(paths, num_workers=workers, batches_per_epoch=4, bad_rows="skip", val_batches=1)
    recorder = Recorder()
    trainer = L.Trainer(
        max_steps=steps,
        default_root_dir=root,
        logger=logger,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        accelerator="cpu",
        callbacks=[recorder],
    )
    trainer.fit(module, mix, ckpt_path=ckpt)
    return trainer, mix, recorder.batches


@pytest.fixture
def sources(two_sources, tmp_path):
    a, b = two_sources
    lines = a.read_text().splitlines()
    a.write_text("\n".join(lines[:7] + [BAD] + lines[7:]) + "\n")  # one bad row, to see its count resume too
    return a, b


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_continues_exactly_where_it_stopped(sources, tmp_path, tokenizer, workers):
    reference = small_mix(sources, tokenizer, batches_per_epoch=4, bad_rows="skip", val_batches=1)
    straight = [batch_texts(b["batch"]) for b in take(reference, 6)]  # the uninterrupted stream
    trainer, _, head = fit(sources, 3, workers, tmp_path / "first")
    trainer.save_checkpoint(tmp_path / "stop.ckpt")  # the workers have produced more than 3 batches by now
    assert torch.load(tmp_path / "stop.ckpt", weights_only=True)["TrainingMix"]["consumed"] == 3
    logger = L.pytorch.loggers.CSVLogger(tmp_path / "logs")
    _, mix, tail = fit(sources, 6, workers, tmp_path / "second", ckpt=tmp_path / "stop.ckpt", logger=logger)
    assert head == straight[:3]
    assert tail == straight[3:]  # crosses the epoch boundary at step 4: nothing repeated, nothing skipped
    assert mix.consumed == 6 and mix.last["bad_rows"] == {"alpha": {"empty_text": 1}}
    metrics = (tmp_path / "logs" / "lightning_logs" / "version_0" / "metrics.csv").read_text()
    assert "data/bad_rows/alpha" in metrics  # reported at the epoch end through the module's logger


def test_every_variant_sees_the_same_batches(sources, tmp_path):
    _, _, causal = fit(sources, 2, 0, tmp_path / "a", attention=Causal())
    _, _, bidirectional = fit(sources, 2, 0, tmp_path / "b", attention=Bidirectional(), pooling=Mean)
    assert causal == bidirectional


def test_resume_refuses_a_changed_mix(sources, tokenizer):
    mix = small_mix(sources, tokenizer, batches_per_epoch=4, bad_rows="skip", val_batches=1)
    take(mix, 2)
    state = mix.state_dict()
    other = small_mix(sources, tokenizer, batch_size=5)
    with pytest.raises(EmbedlabError, match=r"batch_size: 4 -> 5"):
        other.load_state_dict(state)
    same = small_mix(sources, tokenizer, batches_per_epoch=4, bad_rows="skip", val_batches=1)
    same.load_state_dict(state)
    assert same.consumed == 2


def test_resume_detects_changed_data(sources, tmp_path, tokenizer):
    mix = small_mix(sources, tokenizer, bad_rows="skip")
    take(mix, 3)
    state = mix.state_dict()
    rows = sources[1].read_text().splitlines()
    write_jsonl(sources[1], [r for r in rows[::-1]])  # same file name, different data
    resumed = small_mix(sources, tokenizer, bad_rows="skip")
    resumed.load_state_dict(state)
    with pytest.raises(EmbedlabError, match="does not replay to the checkpointed batch"):
        take(resumed, 1)
