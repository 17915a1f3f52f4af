"""End to end: runs directory -> report folder, the CLI, figures, and byte-identical output."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib.image
import pytest

from embedlab.analysis import cli
from embedlab.analysis.compare import run_study
from embedlab.analysis.provenance import PROVENANCE_FIELDS
from embedlab.analysis.report import build_report
from embedlab.analysis.runs import load_runs
from embedlab.analysis.synthetic import SyntheticVariant, write_synthetic_runs
from embedlab.analysis.tables import (
    VARIANCE_DATASETS,
    VARIANCE_EXAMPLES,
    VARIANCE_PAIRWISE,
    VARIANCE_SEEDS,
    seeds_table,
    to_markdown,
)

R = 300  # resamples/permutations: enough to exercise everything, cheap enough for `make test`
TEXT_OUTPUTS = (
    "results.md",
    "comparisons.csv",
    "per_task_numbers.csv",
    "scores.csv",
    "table2_wilcoxon.tex",
    "table2_examples.tex",
    "seeds.tex",
    "wilcoxon.tex",
    "per_task.tex",
    "pairwise.tex",
)


@pytest.fixture(scope="module")
def report(small_runs: Path, tmp_path_factory: pytest.TempPathFactory):
    return build_report(small_runs, tmp_path_factory.mktemp("report"), baseline="m1", n_resamples=R, n_jobs=1)


def test_report_writes_every_artefact(report) -> None:
    out = report.paths["results"].parent
    for name in (*TEXT_OUTPUTS, "forest.png", "pvalues.png"):
        assert (out / name).stat().st_size > 0, name
    md = report.markdown
    for heading in (
        "## Table 2 - paper protocol",
        "## Table 2 - per-example tests",
        "## Across seeds",
        "## Wilcoxon details",
        "## Pairwise p-values",
        "### pooling | attention=Causal, STS",
        "### attention | pooling=MultiLayerTrainable, Clustering",
        "## Per-task results",
        "## Data notes",
    ):
        assert heading in md, heading
    assert "Holm" in md and "min p" in md and "2/2^n" in md


def test_table2_layout_and_numbers(report) -> None:
    study = report.study
    frame = report.tables["table2_wilcoxon"].frame
    assert list(frame.index) == study.variants and study.variants[0] == "m1_eos_causal"
    assert list(frame.columns) == ["Pooling", "Attention", "STS", "Classification", "Retrieval", "Clustering"]
    scores = study.runset.scores
    base = scores[(scores.variant == "m1_eos_causal") & (scores.category == "STS")].score.mean()
    assert frame.loc["m1_eos_causal", "STS"] == f"{base:.4f}"
    other = scores[(scores.variant == "m5_multilayer_bidir") & (scores.category == "STS")].score.mean()
    assert frame.loc["m5_multilayer_bidir", "STS"].startswith(f"{other - base:+.4f}")


def test_known_effects_are_found_and_nulls_are_not(report) -> None:
    rows = report.tables["table2_examples"].numbers.set_index(["a", "category"])
    # Synthetic truth: m4 is much worse on clustering and better on retrieval; m3 = m1 on classification.
    assert rows.loc[("m4_lastlayer_bidir", "Clustering"), "ex_high"] < 0
    assert rows.loc[("m4_lastlayer_bidir", "Retrieval"), "ex_low"] > 0
    assert rows.loc[("m3_multilayer_causal", "Classification"), "ex_p"] > 0.05
    wil = report.tables["table2_wilcoxon"].numbers.set_index(["a", "category"])
    assert (wil.w_min_p == 0.5).all()  # two tasks per category: the paper's test can never reject here


def test_markdown_tables_are_well_formed(report) -> None:
    for table in report.tables.values():
        lines = to_markdown(table.frame).splitlines()
        assert len({len(re.findall(r"(?<!\\)\|", line)) for line in lines}) == 1, table.name


def test_latex_is_escaped(report) -> None:
    tex = report.paths["table2_examples"].read_text()
    assert tex.startswith("\\begin{table}") and "m1\\_eos\\_causal" in tex and "†" not in tex


def test_figures_are_readable_pngs(report) -> None:
    for name in ("forest", "pvalues"):
        image = matplotlib.image.imread(report.paths[name])
        assert image.shape[0] > 300 and image.shape[1] > 600


def test_fixed_seed_gives_byte_identical_reports(small_runs: Path, tmp_path: Path, report) -> None:
    build_report(small_runs, tmp_path / "again", baseline="m1", n_resamples=R, n_jobs=2)
    for name in (*TEXT_OUTPUTS, "forest.png", "pvalues.png"):
        assert (report.paths["results"].parent / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_mismatched_predictions_are_reported(small_runs: Path, tmp_path: Path) -> None:
    runs = Path(shutil.copytree(small_runs, tmp_path / "runs"))
    path = runs / "m2_lastlayer_causal_s0" / "results" / "SynRetrieval1.json"
    result = json.loads(path.read_text())
    result["scores"]["test"][0]["main_score"] += 0.01
    path.write_text(json.dumps(result))
    rep = build_report(runs, tmp_path / "out", baseline="m1", n_resamples=50, n_jobs=1, figures=False)
    assert any("SynRetrieval1" in n and "recomputed from predictions" in n for n in rep.notes)
    assert "recomputed from predictions" in rep.markdown


def test_cli_writes_report(small_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    argv = [str(small_runs), "--baseline", "m1", "--out", str(out), "--n-resamples", "100", "--correction", "fdr_bh"]
    assert cli.analyze_main(argv) == 0
    assert (out / "results.md").exists() and "Benjamini-Hochberg" in (out / "results.md").read_text()
    assert "Table 2 - paper protocol" in capsys.readouterr().out


def test_cli_refusals_exit_2_with_a_message(
    small_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.analyze_main([str(small_runs), "--baseline", "m9", "--out", str(tmp_path)]) == 2
    assert "baseline 'm9' is not a variant" in capsys.readouterr().err
    runs = Path(shutil.copytree(small_runs, tmp_path / "runs"))
    meta = json.loads((runs / "m2_lastlayer_causal_s0" / "run.json").read_text())
    meta["max_steps"] = 200
    (runs / "m2_lastlayer_causal_s0" / "run.json").write_text(json.dumps(meta))
    argv = [str(runs), "--baseline", "m1", "--out", str(tmp_path / "x"), "--n-resamples", "50", "--no-figures"]
    assert cli.analyze_main(argv) == 2
    assert "'max_steps'" in capsys.readouterr().err
    assert cli.analyze_main([*argv, "--allow-mismatch", "max_steps"]) == 0


def test_cli_rejects_bad_settings(small_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.analyze_main([str(small_runs), "--baseline", "m1", "--out", str(tmp_path), "--alpha", "5"]) == 2
    assert "alpha must be in (0, 1)" in capsys.readouterr().err
    assert cli.analyze_main([str(small_runs), "--baseline", "m1", "--out", str(tmp_path), "--n-resamples", "0"]) == 2


def test_cli_parser_matches_the_package() -> None:
    assert cli.PROVENANCE_FIELDS == PROVENANCE_FIELDS
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["runs", "--baseline", "m1", "--correction", "sidak"])


def test_every_table_says_which_source_of_variance_its_test_covers(report) -> None:
    expected = {
        "table2_wilcoxon": VARIANCE_DATASETS,
        "wilcoxon": VARIANCE_DATASETS,
        "table2_examples": VARIANCE_EXAMPLES,
        "per_task": VARIANCE_EXAMPLES,
        "seeds": VARIANCE_SEEDS,
    }
    for name, table in report.tables.items():
        sentence = VARIANCE_PAIRWISE if name.startswith("pairwise_") else expected[name]
        assert table.caption.startswith(sentence), name
        # Next to the table in results.md: the caption line follows the table's last row.
        assert f"{to_markdown(table.frame)}\n\n{sentence}" in report.markdown, name
    assert "seed of initialisation and data order" in VARIANCE_SEEDS
    assert "each trained model held fixed" in VARIANCE_EXAMPLES


def test_two_seeds_get_no_seed_level_verdict(report) -> None:
    table = report.tables["seeds"]
    rows = table.numbers
    assert (rows.seed_paired & (rows.runs_a == 2)).all()
    assert (rows.seed_min_p == 0.5).all() and (rows.seed_min_runs == 6).all()
    assert (rows.p_low < rows.p_high).all()  # exact intervals never collapse to a point
    needs = "needs >= 6 seeds for a verdict at alpha=0.05"
    assert (table.frame["verdict"] == needs).all()
    aso_needs = "needs >= 6 runs per variant for a verdict at alpha=0.05"
    assert (table.frame["ASO eps_min model/baseline"] == aso_needs).all()
    assert needs in report.markdown and "## Across seeds" in report.markdown
    assert "covers training runs" in report.markdown  # the protocol notes say which table does


def _seed_study(tmp_path: Path, seeds: tuple[int, ...]):
    # STS: the model is far ahead in every seed; Retrieval: no effect.
    variants = (
        SyntheticVariant("m1_eos_causal", "Causal", "LastToken"),
        SyntheticVariant("m2_mean_bidir", "Bidirectional", "Mean", {"STS": 1.0}),
    )
    tasks = (("SynSTS1", "STS"), ("SynRetrieval1", "Retrieval"))
    root = write_synthetic_runs(tmp_path / "runs", variants=variants, seeds=seeds, tasks=tasks, sizes={"STS": 40})
    study = run_study(load_runs(root), "m1", n_resamples=20, n_jobs=1)
    return study, seeds_table(study, "holm", 0.05)


def test_three_seeds_all_ahead_print_the_seeds_needed(tmp_path: Path) -> None:
    study, table = _seed_study(tmp_path, (0, 1, 2))
    row = table.numbers.set_index("category").loc["STS"]
    assert row.p_a_gt_b == 1.0 and row.seed_p == 0.25 and row.p_high == 1.0
    assert row.p_low == pytest.approx(0.025 ** (1 / 3))  # not [1, 1]
    cells = table.frame.loc[("m2_mean_bidir", "STS")]
    assert cells["P(A > B) [95% exact]"] == "1.00 [0.29, 1.00]"
    assert cells["verdict"] == "needs >= 6 seeds for a verdict at alpha=0.05"
    assert cells["ASO eps_min model/baseline"] == "needs >= 6 runs per variant for a verdict at alpha=0.05"


def test_eight_seeds_all_ahead_get_a_verdict(tmp_path: Path) -> None:
    study, table = _seed_study(tmp_path, tuple(range(8)))
    rows = table.numbers.set_index("category")
    assert rows.loc["STS", "seed_p"] == 2 / 2**8 and rows.loc["STS", "seed_p_adj"] == pytest.approx(2 * 2 / 2**8)
    cells = table.frame.loc[("m2_mean_bidir", "STS")]
    assert cells["p"] == "0.0078" and cells["min p"] == "0.0078"
    assert cells["verdict"] == "model better*†"
    assert cells["ASO eps_min model/baseline"] == "0.00 / 1.00: model dominates"
    assert table.frame.loc[("m2_mean_bidir", "Retrieval"), "verdict"].startswith("no significant difference")
