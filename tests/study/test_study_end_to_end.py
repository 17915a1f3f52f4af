"""The whole study pipeline in miniature: plan, train, evaluate (floor included), analyse, report; then resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from embedlab.analysis.tables import VARIANCE_DATASETS, VARIANCE_EXAMPLES, VARIANCE_SEEDS
from embedlab.study.command import main

EVAL_DATA = Path(__file__).resolve().parents[1] / "eval" / "data"
TASKS = [str(EVAL_DATA / "tickets" / "task.yaml"), str(EVAL_DATA / "faq" / "task.yaml")]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path, Path, int, str]:
    root = tmp_path_factory.mktemp("study")
    preset = root / "tiny-study.yaml"
    preset.write_text(
        yaml.safe_dump(
            {
                "description": "The demo pipeline in miniature on a random 2-layer Llama.",
                "backbone": "tiny-random",
                "data": "samples",
                "variants": ["m1_eos_causal", "x_mean_bidir"],
                "baseline": "m1_eos_causal",
                "seeds": [0],
                "max_steps": 2,
                "fit": {"trainer.enable_progress_bar": False, "trainer.logger": False},
                "evaluation": {"suite": ",".join(TASKS), "show_progress": False},
                "untrained": ["m1_eos_causal"],
                "analysis": {"n_resamples": 200},
                "differs_from": "demo",
                "differences": [{"key": "trainer.max_steps", "paper": 12, "here": 2, "why": "A miniature."}],
            }
        )
    )
    out, report = root / "runs", root / "report"
    code = main(["--preset", str(preset), "--out", str(out), "--report", str(report), "--quiet"])
    return preset, out, report, code, (report / "report.md").read_text() if code == 0 else ""


def test_the_study_finishes_and_writes_every_run(study):
    _, out, _, code, _ = study
    assert code == 0
    names = sorted(p.name for p in (out / "variants").iterdir())
    assert names == ["m1_eos_causal-seed0", "x_mean_bidir-seed0"]
    for run_dir in [*(out / "variants").iterdir(), out / "anchors" / "untrained-m1_eos_causal"]:
        assert (run_dir / "DONE").is_file(), run_dir
        assert sorted(p.name for p in (run_dir / "results").glob("*.json")) == [
            "SupportTicketArea.json",
            "ToyFAQRetrieval.json",
        ]
    trained = json.loads((out / "variants" / "x_mean_bidir-seed0" / "run.json").read_text())
    assert (trained["variant"], trained["max_steps"], trained["train_mix"]) == ("x_mean_bidir", 2, "samples")
    cost = json.loads((out / "variants" / "x_mean_bidir-seed0" / "cost.json").read_text())
    assert cost["training"]["steps"] == 2 and cost["training"]["tokens_seen"] > 0
    assert cost["evaluation"]["wall_time_s"] > 0
    floor = json.loads((out / "anchors" / "untrained-m1_eos_causal" / "run.json").read_text())
    assert (floor["variant"], floor["max_steps"]) == ("untrained-m1_eos_causal", 0)


def test_the_report_has_the_table_the_floor_and_the_costs(study):
    _, _, report, _, markdown = study
    for name in ("report.md", "results.md", "costs.csv", "models.csv", "scores.csv", "forest.png", "pvalues.png"):
        assert (report / name).is_file(), name
    assert "## Main scores by category (paper's Table 2 layout)" in markdown
    assert "x_mean_bidir" in markdown and "untrained-m1_eos_causal" in markdown
    assert "Settings that differ from the `demo` preset:" in markdown  # the preset's `differences`
    assert "| `trainer.max_steps` | `12` | `2` | A miniature. |" in markdown
    # One seed: the front page shows the across-seed table, which says how many seeds a verdict needs,
    # and every table says which source of variance its test covers.
    assert "### Across seeds" in markdown and "needs >= 6 seeds for a verdict at alpha=0.05" in markdown
    for sentence in (VARIANCE_EXAMPLES, VARIANCE_DATASETS, VARIANCE_SEEDS):
        assert sentence in markdown, sentence
    costs = (report / "costs.csv").read_text().splitlines()
    assert costs[0].startswith("run,steps,tokens seen") and len(costs) == 1 + 3


def test_a_finished_study_is_not_run_again(study, capsys):
    preset, out, report, _, _ = study
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("DONE")}
    assert main(["--preset", str(preset), "--out", str(out), "--report", str(report), "--quiet"]) == 0
    assert "3 of 3 runs already finished; 0 to run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("DONE")} == stamps


def test_presets_parse_and_print_their_plan(capsys):
    for preset in ("demo", "offline", "qwen2-0.5b", "qwen2-0.5b-improved", "paper", "paper-improved"):
        assert main(["--preset", preset, "--dry-run", "--out", "/nonexistent/study"]) == 0
        out = capsys.readouterr().out
        assert f"study {preset}:" in out and "estimated wall time" in out
    if torch.cuda.device_count() < 8:
        assert "needs 8 GPU(s), this machine has" in out  # the paper preset says what running it takes


def test_a_misspelt_preset_gets_the_valid_names(capsys):
    assert main(["--preset", "dmeo", "--dry-run"]) == 2
    assert "unknown study preset 'dmeo'; presets: demo" in capsys.readouterr().err
