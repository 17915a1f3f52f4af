"""Results never half-written: a write that fails midway leaves the previous file whole and no temporary file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from embedlab.eval.predictions import TaskPredictions
from embedlab.eval.run_dir import RunDirectory
from embedlab.io import atomic_path, atomic_write_json, atomic_write_text


class Interrupted(RuntimeError):
    """Stands for the job being killed (or the disk filling up) in the middle of a write."""


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"score": 1})
    atomic_write_json(path, {"score": 2})
    assert json.loads(path.read_text()) == {"score": 2} and leftovers(tmp_path) == []
    mode = stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # the usual permissions, not mkstemp's 0600


def test_a_writer_failing_midway_leaves_the_old_file(tmp_path):
    path = atomic_write_text(tmp_path / "report.md", "old report\n")
    with pytest.raises(Interrupted), atomic_path(path) as temporary:
        temporary.write_text("new rep")
        raise Interrupted
    assert path.read_text() == "old report\n" and leftovers(tmp_path) == []


def test_a_failing_rename_leaves_the_old_file(tmp_path, monkeypatch):
    path = atomic_write_json(tmp_path / "run.json", {"variant": "m1"})

    def fail(*args):
        raise Interrupted

    monkeypatch.setattr("embedlab.io.os.replace", fail)
    with pytest.raises(Interrupted):
        atomic_write_json(path, {"variant": "m5"})
    assert json.loads(path.read_text()) == {"variant": "m1"} and leftovers(tmp_path) == []


def test_unserialisable_data_never_touches_the_file(tmp_path):
    path = atomic_write_json(tmp_path / "cost.json", {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1} and leftovers(tmp_path) == []


class HalfWrittenResult:
    """An mteb TaskResult whose `to_disk` dies halfway through the JSON."""

    task_name = "LeeDocSTS"

    def to_disk(self, path: Path) -> None:
        path.write_text('{"task_name": "LeeDocSTS", "scores": {"te')
        raise Interrupted


def test_results_json_is_never_half_written(tmp_path):
    run = RunDirectory(tmp_path)
    run.results.mkdir(parents=True)
    (run.results / "LeeDocSTS.json").write_text('{"scores": {}}')
    with pytest.raises(Interrupted):
        run.write_result(HalfWrittenResult())
    assert (run.results / "LeeDocSTS.json").read_text() == '{"scores": {}}'
    assert leftovers(run.results) == [] and sorted(p.name for p in run.results.glob("*.json")) == ["LeeDocSTS.json"]


def test_predictions_are_never_half_written(tmp_path):
    run = RunDirectory(tmp_path)
    run.predictions.mkdir(parents=True)
    header = {"task_name": "LeeDocSTS", "task_type": "STS"}
    path = run.write_predictions(TaskPredictions(header, [{"id": "1", "gold": 1.0, "score": 0.5}]))
    before = path.read_text()
    records = [{"id": str(i), "gold": 1.0, "score": 0.5} for i in range(1000)] + [{"id": "x", "score": object()}]
    with pytest.raises(TypeError):  # the last line cannot be serialised: the job dies after 1,000 lines
        run.write_predictions(TaskPredictions(header, records))
    assert path.read_text() == before and leftovers(run.predictions) == []


@pytest.mark.parametrize("writer", ["run_json", "cost", "config", "done", "record_training"])
def test_run_directory_files_survive_a_failed_write(writer, tmp_path, monkeypatch):
    run = RunDirectory(tmp_path)
    info = {k: "x" for k in ("variant", "attention", "pooling", "backbone", "train_mix", "suite")}
    info.update(seed=0, max_steps=1)
    run.write_run_json(info)
    run.write_cost({"seconds": 1.0})
    run.write_config({"model": {"pooling": "Mean"}})
    run.finish()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def fail(*args):
        raise Interrupted

    monkeypatch.setattr("embedlab.io.os.replace", fail)
    calls = {
        "run_json": lambda: run.write_run_json({**info, "seed": 1}),
        "cost": lambda: run.write_cost({"seconds": 2.0}),
        "config": lambda: run.write_config({"model": {"pooling": "LastToken"}}),
        "done": run.finish,
        "record_training": lambda: run.record_training({"variant": "y"}, {"steps": 2}),
    }
    with pytest.raises(Interrupted):
        calls[writer]()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert leftovers(tmp_path) == []


def test_analysis_report_files_are_replaced_whole(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from embedlab.analysis.report import build_report
    from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs

    runs = write_synthetic_runs(
        tmp_path / "runs", variants=DEFAULT_VARIANTS[:2], seeds=(0,), tasks=(("SynSTS1", "STS"),), sizes={"STS": 40}
    )
    out = tmp_path / "report"
    options = dict(baseline="m1", n_resamples=20, n_jobs=1)
    report = build_report(runs, out, **options)
    before = {name: path.read_bytes() for name, path in report.paths.items()}
    assert before["forest"].startswith(b"\x89PNG")  # saved as PNG although written under a temporary name
    original = Figure.savefig

    def dies_midway(self, fname, **kwargs):
        original(self, fname, **kwargs)
        Path(fname).write_bytes(Path(fname).read_bytes()[:100])  # a PNG cut short
        raise Interrupted

    monkeypatch.setattr(Figure, "savefig", dies_midway)
    with pytest.raises(Interrupted):
        build_report(runs, out, **options)
    assert {name: path.read_bytes() for name, path in report.paths.items()} == before
    assert leftovers(out) == []


def test_study_report_uses_the_shared_helper():
    import embedlab.study.report as study_report

    assert not hasattr(study_report, "_atomic_write") and study_report.atomic_write_text is atomic_write_text
