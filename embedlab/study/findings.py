"""A study's findings page: what was run, every model against its floor, the paper's claims, the curves.

    python -m embedlab.study.findings --study runs/offline --page docs/findings/offline.md   # `make findings`

Reads the study folder (`variants/`, `anchors/`, and `study.log`, the study's terminal output that
`make reproduce` keeps, for the wall times), copies everything the page is computed from into
`<page folder>/runs/` (run.json, cost.json, results/, the training curves' metrics.csv, the
predictions gzipped, and a manifest with the versions, the machine, the timings and the sha256 of
every uncompressed predictions file), and writes the page and its figures. The copy is a study
folder itself: `--study docs/findings/runs` regenerates the same page without the checkpoints.
A test checks the sections computed from task scores alone
(`score_sections`) against the committed page; a slow one regenerates the whole page.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd

from embedlab.analysis.curves import convergence_table, curves_figure, read_curves
from embedlab.analysis.floors import categories_beaten, floor_comparisons, floor_table
from embedlab.analysis.report import build_report
from embedlab.analysis.runs import open_predictions, task_of
from embedlab.analysis.tables import to_markdown
from embedlab.io import atomic_write_text
from embedlab.study.claims import PAPER_CLAIMS, claim_tests, evidence_text, verdict
from embedlab.study.classifier_check import CLASSIFIER, evaluate_standardised, ranking_markdown, ranking_table
from embedlab.study.preset import load_preset
from embedlab.study.report import category_means, cost_rows

COPIED = ("run.json", "cost.json", "config.yaml", "eval_config.yaml")
PACKAGES = ("embedlab", "torch", "transformers", "peft", "lightning", "mteb", "sentence-transformers", "scipy")
MIN_CATEGORIES = 3  # a trained model has learned when it beats its floor in at least 3 of the 4 categories
FINISHED = re.compile(r"^\[\d+/\d+\] (\S+) finished in (\d+) s$")
STUDY_WALL = re.compile(r"^study finished in ([\d.]+) min")
GNU_TIME = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")


@dataclass
class StudyRuns:
    """The run directories of one study, by kind.

    Args:
        root: The study folder.
        trained: variant -> its trained run (the first seed's, for the floor comparison).
        floors: variant -> its untrained floor.
        all: every run directory of the study, trained first.
        standardised: variant -> its classification run with the standardised classifier, when made.
    """

    root: Path
    trained: dict[str, Path]
    floors: dict[str, Path]
    all: list[Path]
    standardised: dict[str, Path]


def study_runs(root: Path) -> StudyRuns:
    """Find a study's runs: `variants/<variant>-seed<k>/` and `anchors/untrained-<variant>/`, `reference-*`."""
    trained: dict[str, Path] = {}
    for run in sorted((root / "variants").glob("*-seed*")):
        trained.setdefault(run.name.rsplit("-seed", 1)[0], run)
    anchors = sorted((root / "anchors").glob("*"))
    floors = {run.name.removeprefix("untrained-"): run for run in anchors if run.name.startswith("untrained-")}
    checked = {run.name: run for run in sorted((root / "classification" / CLASSIFIER).glob("*-seed*"))}
    standardised = {v: checked[run.name] for v, run in trained.items() if run.name in checked}
    floors = {v: floors[v] for v in trained if v in floors}
    return StudyRuns(root, trained, floors, [*sorted(trained.values()), *anchors], standardised)


def copy_runs(
    study: StudyRuns, dest: Path, log: Path | None, previous: dict | None = None, notes: list[str] | None = None
) -> dict:
    """Copy every run's small files and its predictions (gzipped) to `dest/<kind>/<run>/`; write the manifest.

    Args:
        study: The runs.
        dest: The page's `runs/` folder (replaced).
        log: The study's terminal output, when kept.
        previous: The manifest of a shipped copy being regenerated: its versions, machine, timings and notes stay.
        notes: Sentences about how the study was run (an interruption, a restart), printed on the page.
    """
    staging = dest.with_name(dest.name + ".new")
    checkout = f"{study.root.resolve().parent.parent}/"  # make reproduce writes <checkout>/runs/<preset>
    shutil.rmtree(staging, ignore_errors=True)
    hashes = {}
    for run in [*study.all, *study.standardised.values()]:
        relative = run.relative_to(study.root).as_posix()
        out = staging / relative
        (out / "results").mkdir(parents=True)
        (out / "predictions").mkdir()
        for name in COPIED:
            if (run / name).is_file():
                # paths in them are made relative to the study's checkout (`runs/<preset>/...`): no absolute paths
                text = (run / name).read_text(encoding="utf-8").replace(checkout, "")
                (out / name).write_text(text, encoding="utf-8")
        for result in sorted((run / "results").glob("*.json")):
            shutil.copy2(result, out / "results" / result.name)
        for version in sorted(run.glob("lightning_logs/version_*/metrics.csv")):
            target = out / "lightning_logs" / version.parent.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(version, target / "metrics.csv")
        for prediction in sorted((run / "predictions").iterdir()):
            task = task_of(prediction)
            if task is None:
                continue
            with open_predictions(prediction) as handle:
                content = handle.read()
            # mtime 0 and no file name in the header: the same predictions give the same bytes
            with gzip.GzipFile(out / "predictions" / f"{task}.jsonl.gz", "wb", mtime=0) as packed:
                packed.write(content)
            hashes[f"{relative}/predictions/{task}.jsonl"] = hashlib.sha256(content).hexdigest()
        if (run / "DONE").is_file():
            shutil.copy2(run / "DONE", out / "DONE")
    manifest = {
        "packages": {p: _version(p) for p in PACKAGES},
        "machine": _machine(),
        "timings": parse_study_log(log) if log and log.is_file() else {},
        "notes": list(notes or []),
        **{k: v for k, v in (previous or {}).items() if k in ("packages", "machine", "timings", "notes")},
        "predictions_sha256": hashes,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return manifest


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _machine() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB memory"
    return f"{model or platform.processor() or platform.machine()}, {cores} cores{memory}, {platform.system()}"


def parse_study_log(log: Path) -> dict:
    """Wall seconds per run, of the study and (with GNU time's `-v` output in the log) of the whole command."""
    runs, study, total = {}, None, None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if m := FINISHED.match(line):
            runs[m.group(1)] = int(m.group(2))
        elif m := STUDY_WALL.match(line):
            study = float(m.group(1)) * 60
        elif m := GNU_TIME.search(line):
            parts = [float(x) for x in m.group(1).split(":")]
            total = sum(x * 60**i for i, x in enumerate(reversed(parts)))
    return {"runs": runs, "study_s": study, "command_s": total}


def score_sections(runs_dir: Path) -> dict[str, str]:
    """The page's sections computed from task scores, costs and curves alone (recomputable from `runs/`).

    Args:
        runs_dir: A study folder, or the page's `runs/` copy of one.

    Returns:
        section name -> markdown: `models` (category means of every model with its pooler's size),
        `costs` (one row per run) and, when the runs logged curves, `convergence`.
    """
    study = study_runs(runs_dir)
    costs = cost_rows(study.all)
    pooler = pooler_sizes(study)
    models = category_means(study.all)
    kinds = [_kind(v) for v in models.index]
    models.insert(0, "kind", kinds)
    models.insert(1, "pooler params", [_int(pooler.get(v.removeprefix("untrained-"))) for v in models.index])
    models = models.sort_values(["kind", "mean"], ascending=[True, False])
    shown = costs.set_index("run").astype(object)
    sections = {
        "models": to_markdown(models.round(2).rename_axis("model")),
        "costs": to_markdown(shown.where(shown.notna(), "-")),
    }
    curves = training_curves(study)
    if curves:
        sections["convergence"] = to_markdown(convergence_table(curves).round(3))
    return sections


def pooler_sizes(study: StudyRuns) -> dict[str, int]:
    """variant -> its trained pooling head's parameter count (from the run's cost.json)."""
    costs = cost_rows(list(study.trained.values())).set_index("run")
    return {variant: costs.at[run.name, "pooler params"] for variant, run in study.trained.items()}


def pooler_gain_table(floors: pd.DataFrame, pooler: dict[str, int]) -> str:
    """Markdown: each variant's pooler size beside its mean gain over its floor, in points, smallest pooler first.

    Args:
        floors: `floor_comparisons` rows (variant, category, delta as a fraction of the main score).
        pooler: variant -> pooler parameter count.
    """
    gains = floors.groupby("variant", sort=False)["delta"].mean() * 100
    size = pd.DataFrame({"pooler params": [pooler.get(v) for v in gains.index], "mean gain (points)": gains})
    size = size.sort_values(["pooler params", "mean gain (points)"], kind="stable")
    size["pooler params"] = size["pooler params"].map(_int)
    return to_markdown(size.round(2).rename_axis("model"))


def training_curves(study: StudyRuns) -> dict[str, pd.DataFrame]:
    """variant -> its logged losses, for the trained runs that have a CSV log."""
    return {v: read_curves(run) for v, run in study.trained.items() if any(run.glob("lightning_logs/*/metrics.csv"))}


def _kind(variant: str) -> str:
    for kind in ("untrained", "reference"):
        if variant.startswith(kind + "-"):
            return kind
    return "trained"


def _int(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{int(value):,}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def write_page(
    study_dir: Path,
    page: Path,
    preset_name: str,
    *,
    n_resamples: int,
    seed: int = 0,
    check_classifier: bool = True,
    notes: list[str] | None = None,
) -> Path:
    """Copy the study's small files beside `page`, run the analyses, write the page and its figures.

    Args:
        study_dir: The study folder (`variants/`, `anchors/`, optional `study.log`).
        page: The markdown file to write; `runs/` and `figures/` go beside it.
        preset_name: The study's preset (for its description and settings).
        n_resamples: Bootstrap resamples and permutations of every per-example test.
        seed: Seed of every resampling.
        check_classifier: evaluate the trained checkpoints' classification again with the standardised
            classifier when the study has checkpoints and not yet those runs (`classifier_check`).
        notes: Sentences about how the study was run, kept in the manifest and printed on the page.
    """
    preset = load_preset(preset_name)
    folder = page.parent
    study = study_runs(study_dir)
    if not study.trained:
        raise SystemExit(f"{study_dir}: no trained runs under variants/ (run `make reproduce BACKBONE={preset_name}`)")
    checkpoints = all((run / "checkpoints" / "last.ckpt").is_file() for run in study.trained.values())
    if check_classifier and checkpoints and len(study.standardised) < len(study.trained):
        evaluate_standardised(preset, study.trained, study_dir / "classification" / CLASSIFIER)
        study = study_runs(study_dir)
    shipped = study_dir / "manifest.json"  # regenerating the page from its own runs/ copy keeps its provenance
    previous = json.loads(shipped.read_text(encoding="utf-8")) if shipped.is_file() else None
    manifest = copy_runs(study, folder / "runs", study_dir / "study.log", previous, notes)
    figures = folder / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    analysis = build_report(
        study_dir / "variants", figures / "analysis", baseline=preset.baseline, n_resamples=n_resamples, seed=seed
    )
    for name in ("forest.png", "pvalues.png"):
        shutil.copy2(figures / "analysis" / name, figures / name)
    shutil.rmtree(figures / "analysis")
    floors = floor_comparisons(
        {v: (study.trained[v], study.floors[v]) for v in study.floors}, n_resamples=n_resamples, seed=seed
    )
    beaten = categories_beaten(floors).to_dict()
    curves = training_curves(study)
    if curves:
        curves_figure(curves, figures / "curves.png")
    sections = score_sections(study_dir)
    sections["pooler_gain"] = pooler_gain_table(floors, pooler_sizes(study))
    ranking = None
    if len(study.standardised) == len(study.trained):
        ranking = ranking_markdown(*ranking_table(study.trained, study.standardised))
    text = _page(preset, manifest, analysis, floors, beaten, sections, n_resamples, bool(curves), ranking)
    atomic_write_text(page, text)
    return page


def _page(preset, manifest, analysis, floors, beaten, sections, n_resamples, has_curves, ranking) -> str:
    timings = manifest["timings"]
    runs = timings.get("runs", {})
    by_kind = {k: sum(s for name, s in runs.items() if _kind(name) == k) for k in ("trained", "untrained", "reference")}
    learned = [v for v, n in beaten.items() if n >= MIN_CATEGORIES]
    conclusive = len(learned) == len(beaten)
    packages = ", ".join(f"{p} {v}" for p, v in manifest["packages"].items())
    claims = []
    for claim in PAPER_CLAIMS:
        tests = claim_tests(claim, analysis.study.category_results)
        judged = verdict(claim, tests, beaten, MIN_CATEGORIES)
        claims.append({"claim": claim.text, "verdict": judged, "evidence": evidence_text(tests)})
    claims_md = to_markdown(pd.DataFrame(claims).set_index("claim"))
    floors_tbl = floor_table(floors, n_resamples=n_resamples)
    tables = analysis.tables
    parts = [
        f"# Findings: the `{preset.name}` study\n",
        preset.description.strip() + "\n",
        "## What was run\n",
        f"- Command, on a fresh clone: `make reproduce BACKBONE={preset.name}`, then `make findings` (this page).",
        f"- {len(beaten)} trained variants x seeds {preset.seeds}, {preset.max_steps} steps each; suite "
        f"`{preset.suite}`; training overrides: " + ", ".join(f"`{k}={v}`" for k, v in preset.fit.items()) + ".",
        f"- Versions: {packages}.",
        f"- Machine: {manifest['machine']}.",
        f"- Wall time of the runs, each in its own process (the study's log): trained runs (fit and evaluation) "
        f"{_duration(by_kind['trained'])}, untrained floors {_duration(by_kind['untrained'])}, reference "
        f"{_duration(by_kind['reference'])}; together {_duration(sum(by_kind.values()))}. The last `embedlab study` "
        f"took {_duration(timings.get('study_s'))} (the runs it had left, the analysis and the report), the last "
        f"`make reproduce` {_duration(timings.get('command_s'))} (install, asset check and that study).",
        *(f"- {note}" for note in manifest.get("notes", [])),
        f"- Per-example tests: {n_resamples} bootstrap resamples and {n_resamples} permutations per task, seed 0. "
        "Every run's run.json, cost.json, results/, training log and predictions (gzipped; sha256 in "
        "`runs/manifest.json`) are in `runs/`: `make findings STUDY=docs/findings/runs` rebuilds this page "
        "from them.\n",
        "## Did training work? Every model against its own floor\n",
        (
            f"**Conclusive**: every trained variant beats its untrained floor in at least {MIN_CATEGORIES} of the "
            f"{floors['category'].nunique()} categories after correction."
            if conclusive
            else f"**Not conclusive for every variant**: {len(learned)} of {len(beaten)} variants beat their floor "
            f"in at least {MIN_CATEGORIES} categories after correction ("
            + ", ".join(f"{v}: {n}" for v, n in beaten.items())
            + "). Claims involving the others are marked not testable."
        )
        + "\n",
        f"{to_markdown(floors_tbl.frame)}\n\n{floors_tbl.caption}\n",
        "## The paper's claims at this scale\n",
        "Each claim's tests are the per-example tests of the analysis below, Holm-corrected within the claim; the "
        "verdict rules are fixed in `embedlab/study/claims.py` before any data (a variant that did not beat its "
        "floor in 3 categories makes a claim not testable). One seed: these tests cover test-set examples, not "
        "training runs.\n",
        claims_md + "\n",
    ]
    for name in ("table2_examples", "table2_wilcoxon"):
        t = tables[name]
        parts.append(f"## {t.title}\n\n{to_markdown(t.frame)}\n\n{t.caption}\n")
    parts += [
        "![Forest plot](figures/forest.png)\n\n![Pairwise p-values](figures/pvalues.png)\n",
        "## Every model with its floor and the yardstick\n",
        "Main score per category in % (mean over the category's tasks). `untrained`: the backbone before "
        "training with that variant's attention and pooling (a trainable pooler at its seeded initialisation); "
        "`reference`: all-MiniLM-L6-v2. `pooler params`: the trained head's parameter count.\n",
        sections["models"] + "\n",
        "## The reviewers' questions\n",
        "### Did each run converge?\n",
    ]
    if has_curves:
        parts += [
            "![Training curves](figures/curves.png)\n",
            "Training loss (mean of the first and last 4 logged batches) and validation loss on the mix's held-out "
            "split at each validation.\n",
            sections["convergence"] + "\n",
        ]
    else:
        parts.append("The runs logged no training curves.\n")
    parts += [
        "### Does a larger pooler buy more?\n",
        "The pooler's parameter count beside the variant's mean gain over its own floor across the four categories "
        "(points of main score, from the floor table above). Two controls: ScalarMix (one weight per layer) for "
        '"uses all layers" without a large pooler, and MeanMLP (mean pooling plus a residual MLP with the '
        'last-layer pooler\'s parameter count) for "adds millions of parameters" without the Perceiver.\n',
        sections["pooler_gain"] + "\n",
        "## Classification: mteb's classifier or standardised embeddings?\n",
        "mteb fits a logistic regression (C=1, 100 iterations) on the embeddings as they are; on a decoder's "
        "anisotropic embeddings that can understate a model. Each trained checkpoint's classification tasks were "
        "scored again after standardising every dimension on the training split "
        "(`embedlab evaluate --classifier standardised-logistic`).\n",
        ranking or "Not run for this study (no checkpoints, or `--no-classifier-check`).\n",
        "## Cost of each run\n",
        sections["costs"] + "\n",
    ]
    if analysis.notes:
        parts.append("## Data notes\n\n" + "\n".join(f"- {n}" for n in analysis.notes) + "\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedlab.study.findings", description=__doc__.splitlines()[0])
    parser.add_argument("--study", type=Path, default=Path("runs/offline"), help="the study folder")
    parser.add_argument("--preset", default="offline", help="the study's preset (configs/studies/<name>.yaml)")
    parser.add_argument("--page", type=Path, default=Path("docs/findings/offline.md"), help="the page to write")
    parser.add_argument("--n-resamples", type=int, default=10_000, help="resamples and permutations per test")
    parser.add_argument("--note", action="append", default=[], help="a sentence for the page on how the study ran")
    parser.add_argument(
        "--no-classifier-check", action="store_true", help="skip scoring classification with standardised embeddings"
    )
    args = parser.parse_args(argv)
    page = write_page(
        args.study,
        args.page,
        args.preset,
        n_resamples=args.n_resamples,
        check_classifier=not args.no_classifier_check,
        notes=args.note,
    )
    print(f"wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
