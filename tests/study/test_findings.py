"""The findings page: written from a study folder, and the committed page matches the runs it ships."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from embedlab.analysis.synthetic import DEFAULT_VARIANTS, ONE_TASK_PER_CATEGORY, SyntheticVariant, write_synthetic_runs
from embedlab.study.findings import parse_study_log, score_sections, study_runs, write_page

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "findings" / "offline.md"
N_RESAMPLES = 10_000  # what `make findings` uses
TASKS = ONE_TASK_PER_CATEGORY
SIZES = {"STS": 80, "Retrieval": 80, "Classification": 100, "Clustering": 80}
LOG = """0 of 3 runs already finished; 3 to run

[1/3] untrained-m1_eos_causal: evaluate (untrained)
[1/3] untrained-m1_eos_causal finished in 165 s
[2/3] m1_eos_causal-seed0: train 100 steps + evaluate
[2/3] m1_eos_causal-seed0 finished in 640 s
[3/3] reference-all-minilm-l6-v2 finished in 26 s
study finished in 14.0 min; report: report/offline/report.md
\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02:03.5
"""


def write_study(root: Path) -> Path:
    """A study folder as `embedlab study` lays it out: five trained variants, their floors, one reference."""
    variants = [v for v in DEFAULT_VARIANTS if v.name[:2] in {"m1", "m2", "m3", "m4", "m5"}]
    floors = [SyntheticVariant(f"untrained-{v.name}", v.attention, v.pooling, {"STS": -2.0}) for v in variants]
    write_synthetic_runs(root / "tmp" / "variants", variants=variants, seeds=[0], tasks=TASKS, sizes=SIZES)
    write_synthetic_runs(root / "tmp" / "anchors", variants=floors, seeds=[0], tasks=TASKS, sizes=SIZES, max_steps=0)
    for kind in ("variants", "anchors"):
        (root / kind).mkdir(parents=True)
        for run in sorted((root / "tmp" / kind).iterdir()):
            name = run.name.removesuffix("_s0") + ("-seed0" if kind == "variants" else "")
            shutil.move(run, root / kind / name)
    shutil.rmtree(root / "tmp")
    for run in (root / "anchors").iterdir():
        meta = json.loads((run / "run.json").read_text())
        (run / "run.json").write_text(json.dumps({**meta, "train_mix": "none", "train_mix_fingerprint": None}))
    for step, run in enumerate(sorted((root / "variants").iterdir())):
        log = run / "lightning_logs" / "version_0" / "metrics.csv"
        log.parent.mkdir(parents=True)
        log.write_text(f"step,train/loss,val/loss\n4,{2 + step},\n9,{1 + step},\n24,,{1.5 + step}\n")
    (root / "study.log").write_text(LOG)
    return root


def test_the_study_log_gives_every_runs_time_the_studys_and_the_whole_commands(tmp_path):
    (tmp_path / "study.log").write_text(LOG)
    assert parse_study_log(tmp_path / "study.log") == {
        "runs": {"untrained-m1_eos_causal": 165, "m1_eos_causal-seed0": 640, "reference-all-minilm-l6-v2": 26},
        "study_s": 840.0,
        "command_s": 3723.5,
    }


def test_a_study_folder_gives_its_page_floors_claims_curves_and_shipped_runs(tmp_path):
    study = write_study(tmp_path / "study")
    page = write_page(study, tmp_path / "docs" / "offline.md", "offline", n_resamples=200)
    text = page.read_text()
    runs = tmp_path / "docs" / "runs"
    # every run is copied with its predictions gzipped, and the manifest hashes what they hold
    trained = sorted(study_runs(study).trained)
    assert sorted(p.name for p in (runs / "variants").iterdir()) == [f"{v}-seed0" for v in trained]
    manifest = json.loads((runs / "manifest.json").read_text())
    assert len(manifest["predictions_sha256"]) == 10 * len(TASKS)
    for key, digest in manifest["predictions_sha256"].items():
        original = (study / key).read_bytes()
        assert hashlib.sha256(original).hexdigest() == digest
        assert gzip.decompress((runs / (key + ".gz")).read_bytes()) == original
    assert manifest["timings"]["command_s"] == 3723.5
    assert "the last `make reproduce` 62.1 min" in text
    assert "untrained floors 2.8 min, reference 26 s; together 13.8 min" in text
    # the floors here are worse on STS only: nobody beats its floor in 3 categories, so no claim is testable
    assert "**Not conclusive for every variant**: 0 of 5 variants" in text
    assert text.count("not testable at this scale") >= 3
    for figure in ("forest.png", "pvalues.png", "curves.png"):
        assert (tmp_path / "docs" / "figures" / figure).stat().st_size > 0
    # what the page computed from scores alone, the shipped copy recomputes the same
    for name, section in score_sections(runs).items():
        assert section in text, name
    # the copy is a study folder: the page rebuilt from it is the same page
    again = write_page(runs, tmp_path / "again" / "offline.md", "offline", n_resamples=200)
    assert again.read_text() == text


def test_the_committed_findings_page_shows_the_tables_of_the_runs_it_ships():
    runs = PAGE.parent / "runs"
    text = PAGE.read_text(encoding="utf-8")
    sections = score_sections(runs)
    assert set(sections) == {"models", "costs", "convergence"}
    for name, section in sections.items():
        assert section in text, f"{PAGE}: the {name} table differs from the one its runs/ give; run `make findings`"
    manifest = json.loads((runs / "manifest.json").read_text(encoding="utf-8"))
    for run in study_runs(runs).all:
        for result in (run / "results").glob("*.json"):
            key = f"{run.parent.name}/{run.name}/predictions/{result.stem}.jsonl"
            content = gzip.decompress((runs / (key + ".gz")).read_bytes())
            assert hashlib.sha256(content).hexdigest() == manifest["predictions_sha256"][key], key


@pytest.mark.slow
def test_the_committed_findings_page_is_what_its_shipped_runs_give(tmp_path):
    # the whole page, per-example tests included, rebuilt from docs/findings/runs (minutes)
    shutil.copytree(PAGE.parent / "runs", tmp_path / "runs")
    page = write_page(tmp_path / "runs", tmp_path / "offline.md", "offline", n_resamples=N_RESAMPLES)
    assert page.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")


def test_the_committed_page_states_its_verdicts_in_the_words_of_the_rules():
    # every verdict on the page is one of the rule's words: nothing hand-written slipped in
    text = PAGE.read_text(encoding="utf-8")
    claims = text.split("## The paper's claims at this scale", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in claims.splitlines() if line.startswith("| ") and "verdict" not in line]
    verdicts = {line.split(" | ")[1] for line in rows}
    assert verdicts <= {"supported", "not supported", "partly supported", "contradicted", "not testable at this scale"}
    assert len(rows) == 3
