"""`item` on the lines of mteb's bootstrapped (`.v2`) clustering tasks: the document's position in the pool
that was embedded, the same for every occurrence of a document in every draw and level.

For mteb's legacy clustering tasks, whose cluster sets may be sampled from one corpus, `item` is the
document's index among the distinct texts of the sets.

The `.v2` task below embeds a random pool of 12 of its 18 documents and clusters 4 draws of 16 items drawn with
replacement, at two levels (a third of the documents have no level-1 label). Every document has labels of
its own at both levels, so a line's label names its document, and the adapter records the pool it was
asked to embed: the line's `item` must point at that document in that pool.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from datasets import Dataset, DatasetDict
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.mocks.mock_tasks.clustering import general_args

from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.evaluator import MTEBEvaluator
from embedlab.eval.run_dir import RunDirectory

N_DOCS = 18


class PooledHierarchicalClustering(AbsTaskClustering):
    """18 documents, 12 embedded, 4 draws of 16 per level, 2 label levels (level 1 on 12 documents)."""

    max_document_to_embed = 12
    max_fraction_of_documents_to_embed = None
    n_clusters = 4
    max_documents_per_cluster = 16  # at least the 12 labels of level 0: k-means needs k <= n
    metadata = TaskMetadata(
        type="Clustering", name="PooledHierarchicalClustering", main_score="v_measure", **general_args
    )

    string_labels = False

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        labels = [[i, 100 + i] if i % 3 else [i] for i in range(N_DOCS)]
        if self.string_labels:
            labels = [[f"x{value}" for value in row] for row in labels]
        texts = [f"document number {i}" for i in range(N_DOCS)]
        self.dataset = DatasetDict({"test": Dataset.from_dict({"sentences": texts, "labels": labels})})
        self.data_loaded = True


class RecordingAdapter(MTEBAdapter):
    """An adapter that remembers the texts of every `encode_texts` call, in input order."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[str]] = []

    def encode_texts(self, texts, instruction=None, batch_size=None, description="encode"):
        self.calls.append(list(texts))
        return super().encode_texts(texts, instruction, batch_size, description)


def _document(label: str, level: int) -> int | None:
    value = int(label.lstrip("x"))
    if value == -1:
        return None
    return value - 100 * level


@pytest.fixture(scope="module", params=[False, True], ids=["int-labels", "str-labels"])
def pooled_run(module, tmp_path_factory, request):
    path = tmp_path_factory.mktemp("pooled")
    adapter = RecordingAdapter(module, precision="fp32")
    task = PooledHierarchicalClustering()
    task.string_labels = request.param
    report = MTEBEvaluator([task]).run(adapter, RunDirectory(path))
    lines = [json.loads(line) for line in (path / "predictions" / "PooledHierarchicalClustering.jsonl").open()]
    return adapter, report, lines[0], lines[1:]


def test_bootstrapped_clustering_lines_name_their_document_in_the_pool(pooled_run):
    adapter, _, header, records = pooled_run
    (pool,) = adapter.calls  # the 12 embedded documents, in the order mteb embedded them
    assert len(pool) == 12 and len(set(pool)) == 12
    assert len(records) == 2 * 4 * 16 and Counter(r["set"] for r in records) == {
        f"{level}:{d}": 16 for level in range(2) for d in range(4)
    }
    for r in records:
        level = int(r["set"].split(":")[0])
        document = int(pool[r["item"]].rsplit(" ", 1)[1])  # the text of the pool entry at `item`
        # mteb drops documents without a level-1 label only when labels are ints; string labels score them as "-1"
        assert _document(r["label"], level) in (document, None), r
        assert r["label"] not in ("-1", "x-1") or document % 3 == 0, r
    # one document, one item: across draws and across levels
    by_item: dict[int, set[int]] = {}
    for r in records:
        by_item.setdefault(r["item"], set()).add(int(pool[r["item"]].rsplit(" ", 1)[1]))
    assert all(len(documents) == 1 for documents in by_item.values())
    assert len(by_item) < len(records)  # drawn with replacement: items repeat within and across draws


def test_items_keep_the_reproduced_score(pooled_run):
    _, report, header, records = pooled_run
    (score,) = report.scores
    assert header["reproduces_main_score"] is True
    assert abs(score.reproduced - score.score) <= 1e-5
    assert all(isinstance(r["item"], int) and 0 <= r["item"] < 12 for r in records)


class OverlappingLegacyClustering(AbsTaskClusteringLegacy):
    """Two legacy cluster sets sampled from one corpus: documents 2 and 3 are in both."""

    metadata = TaskMetadata(
        type="Clustering", name="OverlappingLegacyClustering", main_score="v_measure", **general_args
    )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        texts = [[f"document number {i}" for i in (0, 1, 2, 3)], [f"document number {i}" for i in (2, 4, 3, 5)]]
        labels = [[0, 1, 0, 1], [0, 1, 1, 0]]
        self.dataset = DatasetDict({"test": Dataset.from_dict({"sentences": texts, "labels": labels})})
        self.data_loaded = True


def test_legacy_cluster_sets_name_shared_documents_once(module, tmp_path):
    adapter = MTEBAdapter(module, precision="fp32")
    report = MTEBEvaluator([OverlappingLegacyClustering()]).run(adapter, RunDirectory(tmp_path))
    lines = [json.loads(line) for line in (tmp_path / "predictions" / "OverlappingLegacyClustering.jsonl").open()]
    header, records = lines[0], lines[1:]
    assert header["reproduces_main_score"] is True and report.scores[0].reproduced is not None
    assert [(r["set"], r["item"]) for r in records] == [
        ("0", 0),
        ("0", 1),
        ("0", 2),
        ("0", 3),
        ("1", 2),
        ("1", 4),
        ("1", 3),
        ("1", 5),
    ]
