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
