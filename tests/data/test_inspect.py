"""`embedlab data inspect` prints the mix: sources, sizes, samples, lengths, padding, bad rows."""

from __future__ import annotations

import pytest
import yaml

from embedlab.data.inspect import main
from embedlab.errors import EmbedlabError
from tests.data.conftest import synthetic_rows, write_jsonl


def test_inspect_prints_the_mix(tmp_path, capsys):
    rows = synthetic_rows(80)
    write_jsonl(tmp_path / "pairs.jsonl", [*rows[:10], {"query": "", "positive": "p", "negative": "n"}, *rows[10:]])
    config = {
        "model": {"backbone": {"init_args": {"tokenizer": "byte-level", "max_length": 64}}},
        "data": {
            "class_path": "embedlab.data.TrainingMix",
            "init_args": {
                "sources": [{"class_path": "JsonlSource", "init_args": {"path": str(tmp_path / "pairs.jsonl")}}],
                "batch_size": 4,
                "bad_rows": "skip",
                "val_fraction": 0.1,
                "val_batches": 1,
            },
        },
    }
    (tmp_path / "mix.yaml").write_text(yaml.safe_dump(config))
    assert main(["inspect", "--config", str(tmp_path / "mix.yaml"), "--batches", "8", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "pairs",
        "sample rows:",
        "p50",
        "padded fraction over 8 batches",
        "pairs: 1 skipped (empty_text 1)",
    ):
        assert expected in out, expected


def test_inspect_needs_a_training_mix(tmp_path):
    (tmp_path / "jsonl.yaml").write_text("data:\n  class_path: embedlab.data.JsonlPairs\n")
    with pytest.raises(EmbedlabError, match="needs embedlab.data.TrainingMix"):
        main(["inspect", "--config", str(tmp_path / "jsonl.yaml"), "--tokenizer", "byte-level"])
    with pytest.raises(EmbedlabError, match="no such file"):
        main(["inspect", "--config", str(tmp_path / "missing.yaml")])
