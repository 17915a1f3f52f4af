"""The hub path, offline: mteb's mock tasks go through the same evaluator as any MTEB task, and their
results and per-example outputs land in the run directory in the documented format; suites and names
resolve through mteb's registry without touching the network."""

from __future__ import annotations

import json

import pytest

from embedlab.errors import UnknownNameError
from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.evaluator import MTEBEvaluator
from embedlab.eval.reproduce import main_score_from
from embedlab.eval.run_dir import RunDirectory
from embedlab.eval.suites import PAPER_TASKS, resolve_tasks
from tests.eval.conftest import mock_tasks

FIELDS = {
    "STS": {"id", "gold", "score"},
    "Retrieval": {"id", "ndcg_at_10", "run"},
    "Classification": {"id", "label", "prediction"},
    "Clustering": {"id", "label", "cluster"},
}


@pytest.fixture(scope="module")
def mock_run(module, tmp_path_factory):
    path = tmp_path_factory.mktemp("mock_run")
    report = MTEBEvaluator(mock_tasks()).run(MTEBAdapter(module, precision="fp32"), RunDirectory(path))
    return path, report


def read_jsonl(path):
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return lines[0], lines[1:]


def test_every_mock_task_writes_results_and_predictions(mock_run):
    path, report = mock_run
    for score in report.scores:
        result = json.loads((path / "results" / f"{score.task}.json").read_text())
        assert result["task_name"] == score.task and "main_score" in result["scores"][result_split(result)][0]
        header, records = read_jsonl(path / "predictions" / f"{score.task}.jsonl")
        assert header["task_name"] == score.task and header["task_type"] == score.task_type
        assert header["main_score_name"] == score.metric and header["split"] in result["scores"]
        assert records and all(FIELDS[score.task_type] <= set(r) for r in records)
        assert len({r["id"] for r in records}) == len(records)


def result_split(result):
    return next(iter(result["scores"]))


def test_per_example_outputs_reproduce_main_scores(mock_run):
    path, report = mock_run
    for score in report.scores:
        header, records = read_jsonl(path / "predictions" / f"{score.task}.jsonl")
        assert header["reproduces_main_score"] is True, score.task
        assert main_score_from(header, records) == pytest.approx(score.score, abs=1e-5), score.task


def test_multilingual_tasks_prefix_ids_with_the_subset(mock_run):
    path, _ = mock_run
    header, records = read_jsonl(path / "predictions" / "MockMultilingualSTSTask.jsonl")
    assert header["hf_subset"] is None and {r["hf_subset"] for r in records} == {"eng", "fra"}
    assert all(r["id"].startswith(r["hf_subset"] + "/") for r in records)


def test_bootstrapped_clustering_records_its_draws(mock_run):
    path, _ = mock_run
    header, records = read_jsonl(path / "predictions" / "LegacyMockClusteringFastTask.jsonl")
    assert header["sets"] is True and len({r["set"] for r in records}) == 3  # n_clusters = 3 draws


def test_hub_names_and_suites_resolve_offline():
    (sts12,) = resolve_tasks("STS12")
    assert sts12.metadata.type == "STS" and not sts12.data_loaded
    paper = resolve_tasks("paper")
    assert [t.metadata.name for t in paper] == [t for group in PAPER_TASKS.values() for t in group]
    english = resolve_tasks("mteb-eng")
    assert len(english) > 30 and {t.metadata.name for t in english} == {
        t.metadata.name for t in resolve_tasks("MTEB(eng, v2)")
    }
    assert [t.metadata.name for t in resolve_tasks("LeeDocSTS, STS12")] == ["LeeDocSTS", "STS12"]


def test_unknown_task_suggests_the_closest_names():
    with pytest.raises(UnknownNameError, match=r"Unknown task or suite 'LeeDocSTs'.*LeeDocSTS"):
        resolve_tasks("LeeDocSTs")
    with pytest.raises(UnknownNameError, match="offline-v1"):
        resolve_tasks("offline-v2")
