"""A run directory that holds results is never overwritten without an explicit flag: `embedlab test`
(`--evaluation.overwrite true`), `embedlab evaluate` (`--overwrite`) and `embedlab fit` over a finished
run (`--overwrite true`, or resuming). What `embedlab fit` wrote is not results: `embedlab test` evaluates
there. The study worker passes the flag only to redo an evaluation that never finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab.cli import main
from embedlab.errors import EmbedlabError
from embedlab.eval.command import main as evaluate_main
from embedlab.eval.run import check_overwrite
from embedlab.study import worker

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["--config", str(CONFIGS / "base.yaml"), "--config", str(CONFIGS / "backbones" / "tiny-random.yaml")]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
TASK = str(Path(__file__).resolve().parents[1] / "eval" / "data" / "tickets" / "task.yaml")
EVAL = ["--evaluation.suite", TASK, "--evaluation.show_progress", "false"]


def fit(run_dir: Path, *extra: str) -> int:
    return main(["fit", *TINY, *QUIET, "--trainer.max_steps", "1", "--trainer.default_root_dir", str(run_dir), *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained")
    assert fit(run_dir) == 0
    return run_dir


def test_results_or_done_are_refused_and_fit_artefacts_are_not(tmp_path):
    for name in ("run.json", "cost.json", "config.yaml"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "results").mkdir()
    check_overwrite(tmp_path, overwrite=False)  # what fit writes: fine
    (tmp_path / "results" / "STS12.json").write_text("{}")
    with pytest.raises(EmbedlabError, match=rf"{tmp_path} already holds 1 task result\(s\) in results/ \(STS12.json\)"):
        check_overwrite(tmp_path, overwrite=False, flag="--evaluation.overwrite true")
    (tmp_path / "results" / "STS12.json").unlink()
    (tmp_path / "DONE").write_text("")
    with pytest.raises(EmbedlabError, match=r"DONE \(a finished evaluation\).*Pass --overwrite to replace them"):
        check_overwrite(tmp_path, overwrite=False)
    check_overwrite(tmp_path, overwrite=True)


def test_embedlab_test_evaluates_where_fit_wrote_then_needs_the_flag(trained, capsys):
    argv = [
        "test",
        *TINY,
        *QUIET,
        *EVAL,
        "--evaluation.run_dir",
        str(trained),
        "--trainer.default_root_dir",
        str(trained),
    ]
    checkpoint = str(trained / "checkpoints" / "last.ckpt")
    assert main([*argv, "--ckpt_path", checkpoint]) == 0  # run.json, cost.json, checkpoints: not results
    stamp = (trained / "results" / "SupportTicketArea.json").stat().st_mtime_ns
    assert main([*argv, "--ckpt_path", checkpoint]) == 2
    err = capsys.readouterr().err
    assert f"{trained} already holds 1 task result(s)" in err and "--evaluation.overwrite true" in err
    assert (trained / "results" / "SupportTicketArea.json").stat().st_mtime_ns == stamp  # untouched
    assert (trained / "DONE").exists()
    assert main([*argv, "--ckpt_path", checkpoint, "--evaluation.overwrite", "true"]) == 0
    assert (trained / "results" / "SupportTicketArea.json").stat().st_mtime_ns != stamp


def test_embedlab_evaluate_needs_the_flag(trained, tmp_path, capsys):
    run_dir = tmp_path / "eval"
    (run_dir / "results").mkdir(parents=True)
    (run_dir / "results" / "Old.json").write_text("{}")
    argv = ["--checkpoint", str(trained / "checkpoints" / "last.ckpt"), "--run-dir", str(run_dir)]
    argv += ["--suite", TASK, "--quiet", "--device", "cpu"]
    assert evaluate_main(argv) == 2
    err = capsys.readouterr().err
    assert f"{run_dir} already holds 1 task result(s) in results/ (Old.json)" in err and "--overwrite" in err
    assert evaluate_main([*argv, "--overwrite"]) == 0
    assert sorted(p.name for p in (run_dir / "results").iterdir()) == ["SupportTicketArea.json"]


def test_fit_over_a_finished_run_needs_resume_or_the_flag(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert fit(run_dir) == 0
    (run_dir / "DONE").write_text("")
    assert fit(run_dir) == 2
    err = capsys.readouterr().err
    assert f"{run_dir} holds a finished, evaluated run (DONE)" in err
    assert "--ckpt_path last" in err and "--overwrite true" in err
    assert (run_dir / "DONE").exists()
    assert fit(run_dir, "--overwrite", "true") == 0
    assert not (run_dir / "DONE").exists()  # its results no longer describe the checkpoint
    (run_dir / "DONE").write_text("")
    assert fit(run_dir, "--ckpt_path", "last", "--trainer.max_steps", "2") == 0  # resuming is allowed
    assert json.loads((run_dir / "run.json").read_text())["max_steps"] == 2


def test_worker_resumes_with_last_and_replaces_only_an_unfinished_evaluation(tmp_path, monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr("embedlab.cli.main", lambda argv: calls.append(argv) or 0)
    spec = {"run_dir": str(tmp_path), "kind": "trained", "steps": 2, "fit": ["fit"], "evaluate": ["test"]}
    (tmp_path / "run.json").write_text(json.dumps({"max_steps": 2, "checkpoint": str(tmp_path / "last.ckpt")}))
    assert worker.run({**spec, "steps": 3}) == 0  # not finished: fit resumes through --ckpt_path last
    assert calls[0] == ["fit", "--ckpt_path", "last"]
    assert calls[1] == ["test", "--ckpt_path", str(tmp_path / "last.ckpt")]
    (tmp_path / "last.ckpt").write_text("")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "A.json").write_text("{}")  # an evaluation that crashed before DONE
    calls.clear()
    assert worker.run(spec) == 0
    assert calls == [["test", "--ckpt_path", str(tmp_path / "last.ckpt"), "--evaluation.overwrite", "true"]]
    (tmp_path / "DONE").write_text("")
    assert not worker.evaluation_interrupted(tmp_path)
