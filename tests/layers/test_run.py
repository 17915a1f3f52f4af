"""End to end on a tiny model and tiny task files: the API's report and files, the CLI, its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from embedlab.cli import main as embedlab_main
from embedlab.layers import LayerReport, run_layer_analysis
from embedlab.layers.figures import similarity_heatmap
from tests.conftest import tiny_backbone
from tests.layers.conftest import write_tasks

CONFIGS = Path(__file__).parents[2] / "configs"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> tuple[LayerReport, Path]:
    """One analysis of the tiny model on the three tiny tasks, shared by the tests of its outputs."""
    folder = tmp_path_factory.mktemp("layers")
    tasks = write_tasks(folder / "tasks")
    report = run_layer_analysis(
        tiny_backbone(), tasks, folder / "out", precision="fp32", batch_size=8, show_progress=False
    )
    return report, folder / "out"


def test_report_and_files(analysed):
    report, out = analysed
    written = {p.name for p in out.iterdir()}
    assert written == {
        "layer_similarity.png",
        "layer_scores.png",
        "layers.json",
        "layer_scores.csv",
        "layer_similarity.csv",
        "layers.md",
    }
    assert all((out / name).stat().st_size > 0 for name in written)
    assert (out / "layer_similarity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "layers.json").read_text())
    assert data["layers"] == [0, 1, 2] and data["last_layer"] == 2 and data["pooling"] == "mean"
    assert data["attention"] == "Causal" and data["settings"]["tasks"] == ["TinySTS", "TinyClusters", "TinyTopics"]
    for measure in ("cka", "cosine"):
        matrix = data["similarity"][measure]
        assert len(matrix) == 3 and all(row[i] == pytest.approx(1.0, abs=1e-5) for i, row in enumerate(matrix))
    assert len(data["scores"]) == 9
    assert set(data["category_scores"]) == {"STS", "Classification", "Clustering", "Average"}
    assert set(data["best_layers"]["Average"]) == {"layer", "score", "last_layer_score"}
    timings = data["timings"]
    assert timings["texts_encoded"] == data["similarity_texts"] and timings["forward_passes"] >= 1
    csv = (out / "layer_scores.csv").read_text().splitlines()
    assert csv[0] == "layer,task,task_type,category,metric,score,seconds" and len(csv) == 10
    markdown = (out / "layers.md").read_text()
    assert "| layer | STS | Classification | Clustering | Average |" in markdown and "| 2 (last) |" in markdown
    assert report.category_table().shape == (3, 4)


def test_similarity_heatmap_with_both_measures(analysed, tmp_path):
    report, _ = analysed
    figure = similarity_heatmap(report, "both", path=tmp_path / "both.png")
    assert len([ax for ax in figure.axes if ax.get_title()]) == 2 and (tmp_path / "both.png").stat().st_size > 0


def test_cli_with_a_backbone_config_and_task_subset(task_files, tmp_path, capsys):
    out = tmp_path / "cli"
    suite = ",".join(task_files)
    argv = ["layers", "--backbone", str(CONFIGS / "backbones/tiny-random.yaml"), "--suite", suite]
    argv += ["--tasks", "TinySTS", "--layers", "0,-1", "--pooling", "LastToken", "--attention", "Bidirectional"]
    argv += ["--precision", "fp32", "--max-length", "32", "--out", str(out), "--quiet"]
    assert embedlab_main(argv) == 0
    data = json.loads((out / "layers.json").read_text())
    assert data["layers"] == [0, 2] and data["pooling"] == "last_token" and data["attention"] == "Bidirectional"
    assert data["settings"]["max_length"] == 32 and [s["task"] for s in data["scores"]] == ["TinySTS", "TinySTS"]
    assert "forward passes" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--layers", "7"], r"Layer 7 is out of range: valid layers are 0\.\.2"),
        (["--tasks", "TinySTs,Nope"], r"Unknown task 'Nope' .*Closest task names:"),
        (["--pooling", "maen"], r"Unknown per-layer pooling 'maen'; choose one of mean"),
        (["--attention", "Bidirectionl"], r"Unknown attention policy 'Bidirectionl'.*Bidirectional"),
    ],
)
def test_cli_errors_for_people(task_files, tmp_path, capsys, extra, message):
    argv = ["layers", "--backbone", str(CONFIGS / "backbones/tiny-random.yaml"), "--suite", ",".join(task_files)]
    assert embedlab_main([*argv, "--out", str(tmp_path / "x"), "--quiet", *extra]) == 2
    assert re.search(message, capsys.readouterr().err)
