"""Per-task evidence with strata (clustering sets, several hf_subsets): resampled within strata."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedlab.analysis.compare import run_study
from embedlab.analysis.evidence import pair_null, task_evidence
from embedlab.analysis.examples import load_task_examples, read_predictions
from embedlab.analysis.runs import load_runs

TASK = "SynClustering1"


def _split_into_sets(runs: Path) -> None:
    # Rewrite one clustering task as two sets (as mteb's legacy clustering tasks are), results to match.
    for path in sorted(runs.glob(f"*/predictions/{TASK}.jsonl")):
        header, *lines = (json.loads(x) for x in path.read_text().splitlines())
        for line in lines:
            line["set"] = str(int(line["id"][1:]) % 2)
        header["sets"] = True
        path.write_text("\n".join(json.dumps(x) for x in [header, *lines]) + "\n")
        result_path = path.parents[1] / "results" / f"{TASK}.json"
        result = json.loads(result_path.read_text())
        result["scores"]["test"][0]["main_score"] = round(read_predictions(path).main_score(), 6)
        result_path.write_text(json.dumps(result))


def test_stratified_task_evidence(runs_copy: Path) -> None:
    _split_into_sets(runs_copy)
    rs = load_runs(runs_copy)
    ex = load_task_examples(rs.runs, TASK)
    assert ex.strata is not None and set(ex.strata) == {"|0", "|1"}
    outputs = {v: ex.stack(v, [0, 1]) for v in rs.variants}
    ev = task_evidence(ex, outputs, 200, seed=0, n_jobs=1)
    scores = ex.main_scores()
    for v in rs.variants:
        assert ev.observed[v] == pytest.approx(np.mean([scores[(v, 0)], scores[(v, 1)]]))
        assert ev.replicates[v].shape == (200,)
    a, b = rs.variants[:2]
    same = pair_null(ex, outputs[a], outputs[a], (a, a), 100, seed=0, n_jobs=1)
    assert np.all(same == 0.0)
    again = task_evidence(ex, outputs, 200, seed=0, n_jobs=2)
    assert all(ev.replicates[v].tobytes() == again.replicates[v].tobytes() for v in rs.variants)


def test_study_on_stratified_task_reports_no_mismatch(runs_copy: Path) -> None:
    _split_into_sets(runs_copy)
    study = run_study(load_runs(runs_copy), "m1", n_resamples=100, n_jobs=1)
    assert not [n for n in study.notes if "recomputed" in n]
    res = study.task_results
    row = res[(res.task == TASK) & (res.a == "m4_lastlayer_bidir") & (res.b == "m1_eos_causal")]
    assert row.ci_low.item() <= row.delta.item() <= row.ci_high.item()


V2 = "SynClusteringV2"


def _v2_runs(root: Path) -> Path:
    # Two variants, one seed, one `.v2`-style clustering task (10 draws of 2n lines from n = 60 documents).
    from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs

    variants = (DEFAULT_VARIANTS[0], DEFAULT_VARIANTS[4])
    tasks = ((V2, "Clustering.v2"),)
    return write_synthetic_runs(root, variants=variants, seeds=(0,), tasks=tasks, sizes={"Clustering.v2": 60})


def _keep_draw_zero(runs: Path, copies: int, *, items: bool = True) -> None:
    # Replace every draw by `copies` copies of draw 0 (same documents, same clusters).
    for path in sorted(runs.glob(f"*/predictions/{V2}.jsonl")):
        header, *lines = (json.loads(x) for x in path.read_text().splitlines())
        first = [x for x in lines if x["set"] == "0:0"]
        out = []
        for d in range(copies):
            for p, x in enumerate(first):
                line = {**x, "id": f"L0:{d}:{p}", "set": f"0:{d}"}
                if not items:
                    line.pop("item")
                out.append(line)
        path.write_text("\n".join(json.dumps(x) for x in [header, *out]) + "\n")


def _evidence(runs: Path, n: int = 300):
    rs = load_runs(runs)
    ex = load_task_examples(rs.runs, V2)
    outputs = {v: ex.stack(v, [0]) for v in rs.variants}
    a, b = rs.variants
    ev = task_evidence(ex, outputs, n, seed=3, n_jobs=1)
    null = pair_null(ex, outputs[a], outputs[b], (a, b), n, seed=3, n_jobs=1)
    return ex, ev, ev.replicates[a] - ev.replicates[b], null


def test_repeating_the_draws_of_the_same_documents_adds_no_evidence(tmp_path: Path) -> None:
    # Ten copies of one draw hold no more information than the draw: with documents as the unit the
    # replicates and the null are those of the single draw, resample for resample.
    one, ten, lines = (_v2_runs(tmp_path / name) for name in ("one", "ten", "lines"))
    _keep_draw_zero(one, 1)
    _keep_draw_zero(ten, 10)
    _keep_draw_zero(lines, 10, items=False)
    ex1, ev1, diff1, null1 = _evidence(one)
    ex10, ev10, diff10, null10 = _evidence(ten)
    assert ev10.observed == pytest.approx(ev1.observed, abs=1e-12)
    np.testing.assert_allclose(diff10, diff1, atol=1e-12)
    np.testing.assert_allclose(null10, null1, atol=1e-12)
    assert ex10.ids.size == 10 * ex1.ids.size and ex10.items.shape == ex10.ids.shape
    # a file without `item` keeps the line as its unit: ten copies then look like ten times the data
    _, _, diff_lines, null_lines = _evidence(lines)
    assert diff_lines.std() < 0.5 * diff1.std() and null_lines.std() < 0.5 * null1.std()


def test_document_level_intervals_are_wider_than_line_level_ones(tmp_path: Path) -> None:
    docs, lines = _v2_runs(tmp_path / "docs"), _v2_runs(tmp_path / "lines")
    for path in sorted(lines.glob(f"*/predictions/{V2}.jsonl")):
        header, *rest = (json.loads(x) for x in path.read_text().splitlines())
        rest = [{k: v for k, v in x.items() if k != "item"} for x in rest]
        path.write_text("\n".join(json.dumps(x) for x in [header, *rest]) + "\n")
    ex, ev, diff, null = _evidence(docs)
    _, ev_lines, diff_lines, null_lines = _evidence(lines)
    assert ev.observed == pytest.approx(ev_lines.observed, abs=1e-12)  # the statistic is the same
    assert diff.std() > 2 * diff_lines.std() and null.std() > 2 * null_lines.std()
    assert len(set(ex.items)) <= 60


def test_study_on_a_v2_clustering_task_reproduces_its_scores(tmp_path: Path) -> None:
    runs = _v2_runs(tmp_path / "runs")
    study = run_study(load_runs(runs), "m1", n_resamples=100, n_jobs=1)
    assert not [n for n in study.notes if "recomputed" in n]
    row = study.task_results[study.task_results.task == V2]
    assert len(row) == 1 and row.ci_low.item() <= row.delta.item() <= row.ci_high.item()
