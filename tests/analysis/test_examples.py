"""Per-example predictions: consistent with results JSON, aligned by id, errors that name files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.examples import load_task_examples, read_predictions
from embedlab.analysis.runs import load_runs


def test_every_prediction_file_recomputes_its_results_main_score(small_runs: Path) -> None:
    for path in sorted(small_runs.glob("*/predictions/*.jsonl")):
        result = json.loads((path.parents[1] / "results" / f"{path.stem}.json").read_text())
        assert read_predictions(path).main_score() == pytest.approx(result["scores"]["test"][0]["main_score"], abs=1e-6)


def test_alignment_is_by_id_not_by_line_order(runs_copy: Path) -> None:
    rs = load_runs(runs_copy)
    before = load_task_examples(rs.runs, "SynClustering1")
    path = runs_copy / "m2_lastlayer_causal_s0" / "predictions" / "SynClustering1.jsonl"
    header, *lines = path.read_text().splitlines()
    path.write_text("\n".join([header, *lines[::-1]]) + "\n")
    after = load_task_examples(load_runs(runs_copy).runs, "SynClustering1")
    assert before.ids.tolist() == after.ids.tolist()
    for key, value in before.outputs.items():
        np.testing.assert_array_equal(value, after.outputs[key])
    assert before.kind == "v_measure" and before.main_scores() == pytest.approx(after.main_scores())


def test_different_ids_are_refused_naming_both_files(runs_copy: Path) -> None:
    path = runs_copy / "m4_lastlayer_bidir_s1" / "predictions" / "SynSTS1.jsonl"
    path.write_text(path.read_text().replace('"q00003"', '"zzz"'))
    with pytest.raises(AnalysisError, match="m4_lastlayer_bidir_s1/predictions/SynSTS1.jsonl and .* different example"):
        load_task_examples(load_runs(runs_copy).runs, "SynSTS1")


def test_bad_prediction_lines_are_reported_with_line_number(tmp_path: Path) -> None:
    path = tmp_path / "T.jsonl"
    path.write_text('{"task_type": "Classification"}\n{"id": "a", "label": 1}\n')
    with pytest.raises(AnalysisError, match=r"T.jsonl:2: Classification example lacks field\(s\) prediction"):
        read_predictions(path)
    path.write_text('{"task_type": "Bitext"}\n')
    with pytest.raises(AnalysisError, match="supported: STS, Retrieval, Reranking, Classification, Clustering"):
        read_predictions(path)
    path.write_text('{"task_type": "PairClassification", "per_example": false}\n')
    with pytest.raises(AnalysisError, match="per_example: false"):
        read_predictions(path)


def _write(path: Path, header: dict, lines: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in [header, *lines]) + "\n")
    return path


def test_optional_fields_give_the_documented_main_scores(tmp_path: Path) -> None:
    # Classification trained several times: correctness averaged over experiments.
    cls = _write(
        tmp_path / "C.jsonl",
        {"task_type": "Classification"},
        [
            {"id": "a", "label": "x", "prediction": "x", "predictions": ["x", "y", "x", "x"]},
            {"id": "b", "label": "y", "prediction": "x", "predictions": ["x", "x", "y", "x"]},
        ],
    )
    assert read_predictions(cls).main_score() == pytest.approx((0.75 + 0.25) / 2)
    # Reranking: the per-query main metric named in the header.
    rr = _write(
        tmp_path / "R.jsonl",
        {"task_type": "Reranking", "main_score_name": "map_at_1000"},
        [{"id": "q1", "ndcg_at_10": 0.1, "map_at_1000": 0.5}, {"id": "q2", "ndcg_at_10": 0.2, "map_at_1000": 0.7}],
    )
    assert read_predictions(rr).main_score() == pytest.approx(0.6)
    missing = _write(
        tmp_path / "M.jsonl",
        {"task_type": "Retrieval", "main_score_name": "recall_at_5"},
        [{"id": "q1", "ndcg_at_10": 0.1}],
    )
    with pytest.raises(AnalysisError, match="per-query main metric 'recall_at_5'"):
        read_predictions(missing)
    # Two hf_subsets: mean over subsets of each subset's score, whatever their sizes.
    sub = _write(
        tmp_path / "S.jsonl",
        {"task_type": "Retrieval", "hf_subset": None},
        [
            {"id": "en/1", "ndcg_at_10": 1.0, "hf_subset": "en"},
            {"id": "de/1", "ndcg_at_10": 0.0, "hf_subset": "de"},
            {"id": "de/2", "ndcg_at_10": 0.0, "hf_subset": "de"},
            {"id": "de/3", "ndcg_at_10": 0.6, "hf_subset": "de"},
        ],
    )
    assert read_predictions(sub).main_score() == pytest.approx((1.0 + 0.2) / 2)


def test_clustering_sets_are_strata(tmp_path: Path) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    lines, expected = [], []
    for s, n in enumerate((30, 50, 40)):
        labels, clusters = rng.integers(0, 3, n), rng.integers(0, 4, n)
        expected.append(metrics.v_measure_score(labels, clusters))
        lines += [
            {"id": f"{s}:{i}", "label": str(a), "cluster": int(c), "set": str(s)}
            for i, (a, c) in enumerate(zip(labels, clusters, strict=True))
        ]
    pred = read_predictions(_write(tmp_path / "K.jsonl", {"task_type": "Clustering", "sets": True}, lines))
    assert pred.main_score() == pytest.approx(np.mean(expected))


def _v2_lines(items: list) -> list[dict]:
    return [
        {"id": f"L0:{i // 3}:{i % 3}", "label": "xy"[g % 2], "cluster": g % 2, "set": f"0:{i // 3}", "item": g}
        for i, g in enumerate(items)
    ]


def test_items_are_documents_within_their_subset(tmp_path: Path) -> None:
    lines = _v2_lines([0, 1, 1, 1, 2, 0])
    pred = read_predictions(_write(tmp_path / "V.jsonl", {"task_type": "Clustering", "sets": True}, lines))
    assert pred.items.tolist() == ["|0", "|1", "|1", "|1", "|2", "|0"]
    assert pred.strata.tolist() == ["|0:0"] * 3 + ["|0:1"] * 3
    both = [{**x, "id": f"{s}/{x['id']}", "hf_subset": s} for s in ("en", "de") for x in lines]
    pred = read_predictions(_write(tmp_path / "W.jsonl", {"task_type": "Clustering", "hf_subset": None}, both))
    assert pred.items[0] == "en|0" and pred.items[6] == "de|0"  # item 0 of two pools: two documents
    assert read_predictions(_write(tmp_path / "N.jsonl", {"task_type": "Clustering"}, lines[:3])).items.size == 3
    plain = [{k: v for k, v in x.items() if k != "item"} for x in lines]
    assert read_predictions(_write(tmp_path / "P.jsonl", {"task_type": "Clustering"}, plain)).items is None


@pytest.mark.parametrize(
    ("header", "lines", "message"),
    [
        (
            {"task_type": "Classification"},
            [{"id": "a", "label": "x", "prediction": "x", "item": 0}, {"id": "b", "label": "x", "prediction": "y"}],
            r"X.jsonl:2: field 'item' is defined for Clustering lines only",
        ),
        (
            {"task_type": "Clustering"},
            [*_v2_lines([0, 1]), {"id": "z", "label": "x", "cluster": 0}],
            r"X.jsonl:4: line lacks 'item' while 2 other lines carry it",
        ),
        (
            {"task_type": "Clustering"},
            [*_v2_lines([0]), {**_v2_lines([1])[0], "id": "w", "item": 1.5}],
            r"X.jsonl:3: field 'item' must be an int or a string, got 1.5",
        ),
    ],
)
def test_bad_items_are_refused_naming_the_line(tmp_path: Path, header: dict, lines: list, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        read_predictions(_write(tmp_path / "X.jsonl", header, lines))


def test_runs_with_different_documents_are_refused(tmp_path: Path) -> None:
    from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs

    tasks = (("V2", "Clustering.v2"),)
    variants = DEFAULT_VARIANTS[:2]
    runs = write_synthetic_runs(tmp_path, variants=variants, seeds=(0,), tasks=tasks, sizes={"Clustering.v2": 20})
    path = runs / "m2_lastlayer_causal_s0" / "predictions" / "V2.jsonl"
    header, first, *rest = path.read_text().splitlines()
    line = json.loads(first)
    line["item"] += 1
    path.write_text("\n".join([header, json.dumps(line), *rest]) + "\n")
    with pytest.raises(AnalysisError, match=r"m2_lastlayer_causal_s0/predictions/V2.jsonl: the documents \(`item`\)"):
        load_task_examples(load_runs(runs).runs, "V2")


def test_classification_experiments_stay_with_their_test_item(tmp_path: Path) -> None:
    # mteb's experiments retrain on new train draws and predict the same test items: one unit per test item,
    # whose output is its correctness over the experiments (the resampled and swapped value), not item x experiment.
    lines = [
        {"id": "a", "label": "x", "prediction": "x", "predictions": ["x", "y", "x", "x"]},
        {"id": "b", "label": "y", "prediction": "x", "predictions": ["x", "x", "y", "x"]},
        {"id": "c", "label": "y", "prediction": "y", "predictions": ["y", "y", "y", "y"]},
    ]
    pred = read_predictions(_write(tmp_path / "C.jsonl", {"task_type": "Classification"}, lines))
    assert pred.ids.tolist() == ["a", "b", "c"] and pred.outputs.tolist() == [0.75, 0.25, 1.0]
    assert pred.strata is None
