"""Fixtures for the layer-analysis tests: a tiny random Llama and three tiny tasks written as task files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import tiny_backbone

TASK_FILES = {
    "sts": {
        "task.yaml": "name: TinySTS\ntype: STS\ninstruction: Retrieve semantically similar text\n"
        "splits: {test: pairs.csv}\nscore_range: [0, 5]\n",
        "pairs.csv": "sentence1,sentence2,score\na cat sits,a cat is sitting,4.8\na cat sits,stocks fell,0.2\n"
        "rain today,it is raining,4.1\nrain today,a red car,0.5\nthe market rose,stocks went up,4.4\n"
        "the market rose,a cat is sitting,0.3\n",
    },
    "clusters": {
        "task.yaml": "name: TinyClusters\ntype: Clustering\nsplits: {test: items.tsv}\n",
        "items.tsv": "text\tlabel\napples and pears\tfruit\nbananas\tfruit\nripe plums\tfruit\nhammer\ttool\n"
        "screwdriver\ttool\na saw\ttool\n",
    },
    "topics": {
        "task.yaml": "name: TinyTopics\ntype: Classification\nsplits: {train: train.csv, test: test.csv}\n",
        "train.csv": "text,label\nstocks fell,money\nthe bank raised rates,money\nprices went up,money\n"
        "a goal in the last minute,sport\nthe team won the cup,sport\nthe striker scored,sport\n",
        "test.csv": "text,label\nshares dropped,money\nthe keeper saved it,sport\nrates are high,money\n"
        "a late winner,sport\n",
    },
}


def write_tasks(folder: Path, names=("sts", "clusters", "topics")) -> list[str]:
    """Write the named tiny tasks under `folder`; returns their task.yaml paths."""
    paths = []
    for name in names:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for file, text in TASK_FILES[name].items():
            (folder / name / file).write_text(text)
        paths.append(str(folder / name / "task.yaml"))
    return paths


@pytest.fixture
def task_files(tmp_path) -> list[str]:
    return write_tasks(tmp_path / "tasks")


@pytest.fixture
def backbone():
    """A 2-layer random Llama (hidden 32, byte-level tokens, 48 tokens at most): layers 0..2."""
    return tiny_backbone()
