"""offline-v1 on the real data from the pinned wheels: fixed seeded samples, metadata, and per-example
outputs that give back each main score (mean per-query nDCG@10, Spearman of the saved similarities,
accuracy of the saved predictions, V-measure of the saved clusters)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import v_measure_score

from embedlab.errors import AssetError
from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.instructions import Instructions
from embedlab.eval.offline import OFFLINE_TASKS, OFFLINE_V1
from embedlab.eval.run import evaluate_run, module_info
from tests.eval.conftest import OFFLINE_ASSETS, needs_assets

pytestmark = needs_assets(*OFFLINE_ASSETS)
SIZES = {
    "LeeDocSTS": {"test": 1225},
    "WordSim353STS": {"test": 353},
    "RottenTomatoesClassification": {"train": 64, "test": 300},
    "BBCTopicClassification": {"train": 60, "test": 150},
    "HealthTweetsOutletClassification": {"train": 192, "test": 192},
    "BBCTopicClustering": {"test": 200},
    "HealthTweetsOutletClustering": {"test": 320},
}


@pytest.fixture(scope="module")
def suite_run(module, tmp_path_factory):
    path = tmp_path_factory.mktemp("offline_run")
    adapter = MTEBAdapter(module, precision="fp32")
    report = evaluate_run(adapter, "offline-v1", path, module_info(module))
    return path, report


def lines(path, task):
    rows = [json.loads(line) for line in (path / "predictions" / f"{task}.jsonl").read_text().splitlines()]
    return rows[0], rows[1:]


def reported(path, task):
    return json.loads((path / "results" / f"{task}.json").read_text())["scores"]["test"][0]["main_score"]


def test_samples_are_fixed_and_seeded():
    for name, sizes in SIZES.items():
        first, second = OFFLINE_TASKS[name](), OFFLINE_TASKS[name]()
        first.load_data()
        second.load_data()
        assert {split: len(first.dataset[split]) for split in sizes} == sizes, name
        assert first.dataset["test"]["id"] == second.dataset["test"]["id"], name
    retrieval = OFFLINE_TASKS["BBCHeadlineRetrieval"]()
    retrieval.load_data()
    split = retrieval.dataset["default"]["test"]
    assert (len(split["queries"]), len(split["corpus"]), len(split["relevant_docs"])) == (200, 400, 200)


def test_metadata_type_category_main_score_and_instruction():
    table = Instructions.load()
    expected = {
        "STS": "cosine_spearman",
        "Retrieval": "ndcg_at_10",
        "Classification": "accuracy",
        "Clustering": "v_measure",
    }
    assert len(OFFLINE_V1) == 8
    for cls in OFFLINE_V1:
        meta = cls.metadata
        assert meta.main_score == expected[meta.type] and meta.category in ("t2t", "t2c")
        assert meta.name in table.tasks and meta.dataset["revision"].count("==") == 1


def test_suite_writes_a_complete_run_directory(suite_run):
    path, report = suite_run
    assert [s.task for s in report.scores] == list(OFFLINE_TASKS)
    run = json.loads((path / "run.json").read_text())
    assert run["suite"] == "offline-v1" and run["max_steps"] == 0 and run["variant"].startswith("untrained-")
    assert (path / "DONE").exists() and json.loads((path / "cost.json").read_text())["evaluation"]["texts"] > 0
    assert all(np.isfinite(s.score) for s in report.scores)


def test_mean_per_query_ndcg_is_the_reported_ndcg(suite_run):
    path, _ = suite_run
    header, records = lines(path, "BBCHeadlineRetrieval")
    assert len(records) == 200 and all(len(r["run"]) == 100 for r in records)
    assert np.mean([r["ndcg_at_10"] for r in records]) == pytest.approx(
        reported(path, "BBCHeadlineRetrieval"), abs=1e-5
    )


@pytest.mark.parametrize("task", ["LeeDocSTS", "WordSim353STS"])
def test_spearman_of_saved_similarities_is_the_reported_one(suite_run, task):
    path, _ = suite_run
    _, records = lines(path, task)
    rho = spearmanr([r["gold"] for r in records], [r["score"] for r in records])[0]
    assert rho == pytest.approx(reported(path, task), abs=1e-6)  # results JSON holds 6 decimals


@pytest.mark.parametrize(
    "task", ["RottenTomatoesClassification", "BBCTopicClassification", "HealthTweetsOutletClassification"]
)
def test_accuracy_of_saved_predictions_is_the_reported_one(suite_run, task):
    path, _ = suite_run
    _, records = lines(path, task)
    assert "predictions" not in records[0] and isinstance(records[0]["label"], str)
    assert np.mean([r["label"] == r["prediction"] for r in records]) == pytest.approx(reported(path, task), abs=1e-6)


@pytest.mark.parametrize("task", ["BBCTopicClustering", "HealthTweetsOutletClustering"])
def test_v_measure_of_saved_clusters_is_the_reported_one(suite_run, task):
    path, _ = suite_run
    header, records = lines(path, task)
    assert "sets" not in header
    v = v_measure_score([r["label"] for r in records], [r["cluster"] for r in records])
    assert v == pytest.approx(reported(path, task), abs=1e-6)


def test_missing_asset_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_CACHE", str(tmp_path))
    with pytest.raises(AssetError, match="embedlab assets fetch bbc-news"):
        OFFLINE_TASKS["BBCTopicClustering"]().load_data()


def test_the_mini_suite_is_offline_v1_on_smaller_samples():
    from embedlab.eval.offline import OFFLINE_V1_MINI
    from embedlab.eval.suites import resolve_tasks

    tasks = resolve_tasks("offline-v1-mini")
    assert [t.metadata.name for t in tasks] == [f"{cls.metadata.name}Mini" for cls in OFFLINE_V1]
    for task, full in zip(tasks, OFFLINE_V1, strict=True):
        assert type(task) in OFFLINE_V1_MINI and isinstance(task, full) and task.suite == "offline-v1-mini"
        assert (task.metadata.type, task.metadata.main_score) == (full.metadata.type, full.metadata.main_score)
        assert task.metadata.prompt == full.metadata.prompt  # same instructions as offline-v1
    retrieval = tasks[2]
    retrieval.load_data()
    split = retrieval.dataset["default"]["test"]
    assert (len(split["queries"]), len(split["corpus"])) == (75, 150)
    clustering = next(t for t in tasks if t.metadata.name == "BBCTopicClusteringMini")
    clustering.load_data()
    assert clustering.dataset["test"].num_rows == 80  # 16 per topic
