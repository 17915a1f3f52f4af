"""Run directories -> one tidy table of main scores, after checking the runs may be compared.

Reads only what `embedlab test` writes (see docs/run-directory.md): `run.json` (provenance),
`results/<Task>.json` (MTEB 2.x TaskResult), the header line of `predictions/<Task>.jsonl` (task
type, split, main-score name) and the `DONE` marker. The resolved `config.yaml` is kept on the run
for reference but the analysis does not depend on it.

Runs pass the provenance and completeness checks of `provenance` before anything is averaged.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.provenance import check_completeness, check_provenance
from embedlab.task_categories import CATEGORY_BY_TYPE, CATEGORY_ORDER  # noqa: F401  (re-exported)

REQUIRED_FIELDS = ("variant", "attention", "pooling", "backbone", "seed", "train_mix", "max_steps", "suite")
COLUMNS = ("variant", "attention", "pooling", "backbone", "seed", "task", "task_type", "category", "metric", "score")

SPLIT_PREFERENCE = ("test", "dev", "validation")
PREDICTION_SUFFIXES = (".jsonl", ".jsonl.gz")


@dataclass(frozen=True)
class Run:
    """One run directory.

    Args:
        path: The run directory.
        meta: Contents of run.json.
        done: Whether the DONE marker exists.
        results: Task name -> results JSON path.
        predictions: Task name -> predictions JSONL path.
    """

    path: Path
    meta: dict[str, Any]
    done: bool
    results: dict[str, Path]
    predictions: dict[str, Path]

    @property
    def variant(self) -> str:
        """The variant name from run.json."""
        return str(self.meta["variant"])

    @property
    def seed(self) -> int:
        """The training seed from run.json."""
        return int(self.meta["seed"])

    @property
    def name(self) -> str:
        """Short label for messages: the directory name."""
        return self.path.name


@dataclass
class RunSet:
    """Runs checked to be comparable, and their tidy score table.

    Args:
        runs: The runs, sorted by variant and seed.
        scores: One row per (run, task): the columns of `COLUMNS` plus `run_dir`.
        tasks: The tasks used (common to all runs).
        notes: What was overridden or dropped, in sentences for the report.
    """

    runs: list[Run]
    scores: pd.DataFrame
    tasks: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def variants(self) -> list[str]:
        """Variant names, sorted."""
        return sorted({r.variant for r in self.runs})

    def design(self) -> pd.DataFrame:
        """One row per variant: attention and pooling (checked consistent across its seeds)."""
        return self.scores.groupby("variant", sort=True)[["attention", "pooling"]].first()

    def runs_of(self, variant: str) -> list[Run]:
        """The runs of one variant, sorted by seed."""
        return [r for r in self.runs if r.variant == variant]


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`; anything else (invalid UTF-8 or JSON, a list, a number) names the file."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise AnalysisError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    except (ValueError, RecursionError) as err:  # JSONDecodeError is a ValueError
        raise AnalysisError(
            f"{path}: not valid JSON ({err}); a job killed while writing leaves such a file: re-run that evaluation"
        ) from None
    if not isinstance(data, dict):
        raise AnalysisError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_run(path: str | Path) -> Run:
    """Read one run directory (run.json, results/, predictions/, DONE).

    Args:
        path: The run directory.

    Returns:
        The run.
    """
    path = Path(path)
    meta_path = path / "run.json"
    if not meta_path.is_file():
        raise AnalysisError(f"{path}: no run.json; a run directory needs it (see docs/run-directory.md)")
    meta = _read_json(meta_path)
    missing = [f for f in REQUIRED_FIELDS if f not in meta]
    if missing:
        raise AnalysisError(f"{meta_path}: missing required field(s) {', '.join(missing)}")
    if isinstance(meta["seed"], bool) or not isinstance(meta["seed"], int):
        raise AnalysisError(f"{meta_path}: 'seed' must be an integer, got {meta['seed']!r}")
    for key in ("variant", "attention", "pooling", "backbone"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise AnalysisError(f"{meta_path}: {key!r} must be a non-empty string, got {meta[key]!r}")
    results = {p.stem: p for p in sorted((path / "results").glob("*.json"))}
    predictions = {task_of(p): p for p in sorted((path / "predictions").glob("*.jsonl*")) if task_of(p)}
    return Run(path=path, meta=meta, done=(path / "DONE").exists(), results=results, predictions=predictions)


def discover_runs(runs_dir: str | Path) -> list[Path]:
    """Every directory holding a run.json under `runs_dir` (or `runs_dir` itself).

    Args:
        runs_dir: Folder of run directories.

    Returns:
        The run directories, sorted.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        raise AnalysisError(f"runs directory {root} does not exist")
    found = sorted(p.parent for p in root.rglob("run.json"))
    if not found:
        raise AnalysisError(f"no run directories (folders with a run.json) under {root}")
    return found


def task_of(path: Path) -> str | None:
    """The task a predictions file is for: `<Task>.jsonl`, or `<Task>.jsonl.gz` (compressed, as shipped with a
    findings page); None for any other file. Task names may hold dots (`STS22.v2`)."""
    for suffix in PREDICTION_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name.removesuffix(suffix)
    return None


def open_predictions(path: Path) -> BinaryIO:
    """A predictions file opened for reading bytes, decompressing a `.gz` one."""
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def read_prediction_header(path: Path) -> dict[str, Any]:
    """The first line of a predictions file (task_name, task_type, main_score_name, split, hf_subset).

    Args:
        path: predictions/<Task>.jsonl.

    Returns:
        The header object.
    """
    with open_predictions(path) as fh:
        line = fh.readline()
    try:
        header = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise AnalysisError(f"{path}:1: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    except (ValueError, RecursionError) as err:
        raise AnalysisError(f"{path}:1: line 1 must be the JSON header object ({err})") from None
    if not isinstance(header, dict):
        raise AnalysisError(f"{path}:1: line 1 must be the JSON header object, got {type(header).__name__}")
    if "task_type" not in header:
        raise AnalysisError(f"{path}: header line lacks 'task_type' (has {', '.join(sorted(header))})")
    return header


def _task_type_from_mteb(task: str, run: Run) -> str:
    try:
        import mteb  # heavy and optional: only needed when predictions/ is missing

        return str(mteb.get_task(task).metadata.type)
    except Exception as err:  # any failure (not installed, unknown task) means the same to the user
        raise AnalysisError(
            f"{run.path}: no predictions/{task}.jsonl to read the task type from, and mteb could not "
            f"supply it ({type(err).__name__}: {err})"
        ) from err


def main_score(result: dict[str, Any], path: Path, split: str | None, subset: str | None) -> tuple[float, str]:
    """The main score of one MTEB TaskResult (mean over hf_subsets, as MTEB's get_score does).

    Args:
        result: Parsed TaskResult JSON.
        path: Its path, for messages.
        split: Split named in the predictions header, if any.
        subset: hf_subset named in the predictions header, if any.

    Returns:
        The score and the split it came from.
    """
    scores = result.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise AnalysisError(f"{path}: no 'scores' mapping split -> list of scores (MTEB TaskResult format)")
    if split is None:
        split = next((s for s in SPLIT_PREFERENCE if s in scores), None) if len(scores) > 1 else next(iter(scores))
    if split not in scores:
        raise AnalysisError(f"{path}: split {split!r} not in scores; splits present: {', '.join(scores)}")
    if not isinstance(scores[split], list) or not all(isinstance(e, dict) for e in scores[split]):
        raise AnalysisError(f"{path}: scores.{split} must be a list of score objects (MTEB TaskResult format)")
    entries = [e for e in scores[split] if subset is None or e.get("hf_subset") == subset]
    if not entries:
        raise AnalysisError(f"{path}: no scores for split {split!r}" + (f", hf_subset {subset!r}" if subset else ""))
    values = []
    for index, entry in enumerate(entries):
        value = entry.get("main_score")
        where = f"{path}: scores.{split}[{index}].main_score"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AnalysisError(f"{where} must be a number, got {value!r:.60}")
        if not np.isfinite(value):
            raise AnalysisError(f"{where} is {value}: the evaluation failed on this task; re-run it")
        values.append(float(value))
    return float(np.mean(values)), split


def _rows(run: Run, tasks: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for task in tasks:
        header: dict[str, Any] = {}
        if task in run.predictions:
            header = read_prediction_header(run.predictions[task])
        task_type = header.get("task_type") or _task_type_from_mteb(task, run)
        result = _read_json(run.results[task])
        score, _ = main_score(result, run.results[task], header.get("split"), header.get("hf_subset"))
        rows.append(
            {
                **{k: run.meta[k] for k in ("variant", "attention", "pooling", "backbone")},
                "seed": int(run.meta["seed"]),
                "task": task,
                "task_type": task_type,
                "category": CATEGORY_BY_TYPE.get(task_type, task_type),
                "metric": header.get("main_score_name", "main_score"),
                "score": score,
                "run_dir": str(run.path),
            }
        )
    return rows


def load_runs(
    runs: str | Path | Sequence[str | Path],
    *,
    allow_mismatch: Iterable[str] = (),
    allow_incomplete: bool = False,
) -> RunSet:
    """Load run directories into one tidy table after the provenance and completeness checks.

    Args:
        runs: A folder of run directories, or a list of run directories.
        allow_mismatch: Provenance fields allowed to differ (see `provenance.PROVENANCE_FIELDS`).
        allow_incomplete: Accept runs without DONE or missing tasks; use only common tasks.

    Returns:
        The run set: runs, tidy scores (columns `COLUMNS` + `run_dir`), tasks and notes.
    """
    paths = discover_runs(runs) if isinstance(runs, (str, Path)) else [Path(p) for p in runs]
    loaded = sorted((read_run(p) for p in paths), key=lambda r: (r.variant, r.seed, str(r.path)))
    seen: dict[tuple[str, int], Run] = {}
    for run in loaded:
        other = seen.setdefault((run.variant, run.seed), run)
        if other is not run:
            raise AnalysisError(
                f"two runs of variant {run.variant!r} with seed {run.seed}: {other.path} and {run.path}"
            )
    notes = check_provenance(loaded, allow_mismatch)
    tasks, more = check_completeness(loaded, allow_incomplete)
    scores = pd.DataFrame([row for run in loaded for row in _rows(run, tasks)], columns=[*COLUMNS, "run_dir"])
    for column in ("attention", "pooling"):
        per_variant = scores.groupby("variant")[column].nunique()
        if (per_variant > 1).any():
            bad = ", ".join(per_variant[per_variant > 1].index)
            raise AnalysisError(f"variant(s) {bad}: runs disagree on {column!r} across seeds; check their run.json")
    return RunSet(runs=loaded, scores=scores, tasks=tasks, notes=notes + more)
