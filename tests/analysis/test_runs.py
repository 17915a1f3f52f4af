"""Loading run directories: the tidy table, provenance refusals, incomplete runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from embedlab.analysis.errors import AnalysisError, IncompleteRunsError, ProvenanceError
from embedlab.analysis.runs import COLUMNS, load_runs, read_run


def _edit_run_json(run_dir: Path, **changes: object) -> None:
    meta = json.loads((run_dir / "run.json").read_text())
    meta.update(changes)
    (run_dir / "run.json").write_text(json.dumps(meta))


def test_tidy_table_columns_and_values(small_runs: Path) -> None:
    rs = load_runs(small_runs)
    assert list(rs.scores.columns) == [*COLUMNS, "run_dir"]
    assert len(rs.scores) == 5 * 2 * 8 and len(rs.runs) == 10 and len(rs.tasks) == 8
    row = rs.scores[(rs.scores.variant == "m4_lastlayer_bidir") & (rs.scores.seed == 1) & (rs.scores.task == "SynSTS2")]
    result = json.loads((small_runs / "m4_lastlayer_bidir_s1" / "results" / "SynSTS2.json").read_text())
    assert row.score.item() == result["scores"]["test"][0]["main_score"]
    assert row[["attention", "pooling", "backbone", "task_type", "category", "metric"]].iloc[0].tolist() == [
        "Bidirectional",
        "TrainableLastLayer",
        "smollm2-135m",
        "STS",
        "STS",
        "cosine_spearman",
    ]
    assert set(rs.scores.category) == {"STS", "Classification", "Retrieval", "Clustering"}
    assert rs.notes == []


def test_results_are_valid_mteb_task_results(small_runs: Path) -> None:
    results = pytest.importorskip("mteb.results")
    for path in sorted((small_runs / "m1_eos_causal_s0" / "results").glob("*.json")):
        loaded = results.TaskResult.from_disk(path)
        assert loaded.task_name == path.stem
        assert loaded.get_score() == json.loads(path.read_text())["scores"]["test"][0]["main_score"]


@pytest.mark.parametrize("field", ["backbone", "max_steps", "train_mix_fingerprint", "suite", "train_mix"])
def test_provenance_mismatch_is_refused_naming_the_field(runs_copy: Path, field: str) -> None:
    _edit_run_json(runs_copy / "m5_multilayer_bidir_s1", **{field: "other"})
    with pytest.raises(ProvenanceError, match=f"'{field}'") as err:
        load_runs(runs_copy)
    assert "m5_multilayer_bidir_s1" in str(err.value) and "--allow-mismatch" in str(err.value)
    rs = load_runs(runs_copy, allow_mismatch=[field])
    assert any(field in note for note in rs.notes)


def test_unknown_allow_mismatch_field_lists_valid_ones(small_runs: Path) -> None:
    with pytest.raises(AnalysisError, match="backbone, train_mix"):
        load_runs(small_runs, allow_mismatch=["learning_rate"])


def test_run_without_done_is_refused_then_allowed(runs_copy: Path) -> None:
    (runs_copy / "m2_lastlayer_causal_s0" / "DONE").unlink()
    with pytest.raises(IncompleteRunsError, match="m2_lastlayer_causal_s0 has no DONE marker"):
        load_runs(runs_copy)
    rs = load_runs(runs_copy, allow_incomplete=True)
    assert any("DONE" in note for note in rs.notes)


def test_missing_task_is_refused_naming_run_and_task(runs_copy: Path) -> None:
    (runs_copy / "m3_multilayer_causal_s1" / "results" / "SynRetrieval2.json").unlink()
    with pytest.raises(IncompleteRunsError, match="m3_multilayer_causal_s1 lacks 1 task.*SynRetrieval2"):
        load_runs(runs_copy)
    rs = load_runs(runs_copy, allow_incomplete=True)
    assert "SynRetrieval2" not in rs.tasks and len(rs.tasks) == 7
    assert any("common to all runs" in note for note in rs.notes)


def test_duplicate_variant_seed_is_refused(runs_copy: Path) -> None:
    _edit_run_json(runs_copy / "m2_lastlayer_causal_s1", seed=0)
    with pytest.raises(AnalysisError, match="two runs of variant 'm2_lastlayer_causal' with seed 0"):
        load_runs(runs_copy)


def test_inconsistent_design_across_seeds_is_refused(runs_copy: Path) -> None:
    _edit_run_json(runs_copy / "m2_lastlayer_causal_s1", pooling="Mean")
    with pytest.raises(AnalysisError, match="m2_lastlayer_causal.*'pooling'"):
        load_runs(runs_copy)


def test_bad_run_json_names_file_and_field(runs_copy: Path) -> None:
    meta_path = runs_copy / "m1_eos_causal_s0" / "run.json"
    meta = json.loads(meta_path.read_text())
    del meta["suite"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(AnalysisError, match=r"m1_eos_causal_s0/run.json: missing required field\(s\) suite"):
        read_run(runs_copy / "m1_eos_causal_s0")


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no run directories"):
        load_runs(tmp_path)
    with pytest.raises(AnalysisError, match="does not exist"):
        load_runs(tmp_path / "nope")


def test_gzipped_predictions_read_as_the_plain_ones(tmp_path):
    # the findings pages ship predictions as <Task>.jsonl.gz; a task name may hold a dot (STS22.v2)
    import gzip

    from embedlab.analysis.examples import load_task_examples
    from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs

    tasks = (("SynSTS1.v2", "STS"), ("SynRetrieval1", "Retrieval"))
    plain = write_synthetic_runs(tmp_path / "plain", variants=DEFAULT_VARIANTS[:2], seeds=[0], tasks=tasks)
    packed = tmp_path / "packed"
    shutil.copytree(plain, packed)
    for path in packed.rglob("*.jsonl"):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    a, b = load_runs(plain), load_runs(packed)
    assert a.tasks == b.tasks == ["SynRetrieval1", "SynSTS1.v2"]
    assert a.scores.drop(columns="run_dir").equals(b.scores.drop(columns="run_dir"))
    for task in a.tasks:
        x, y = load_task_examples(a.runs, task), load_task_examples(b.runs, task)
        assert x.main_scores() == y.main_scores()
