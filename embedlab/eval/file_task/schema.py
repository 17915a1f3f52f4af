"""The YAML schema of a task from files (documented in `configs/eval/README.md`), parsed and checked.

```yaml
name: SupportTickets              # the task name (results/<name>.json)
type: Classification              # STS | Classification | Clustering | Retrieval
description: Support tickets by product area
main_score: accuracy              # optional; default per type (see DEFAULT_MAIN_SCORE)
instruction: Classify the product area of the given support ticket   # optional; or {query: ..., document: ...}
eval_split: test                  # optional, default test
splits:                           # split -> file (CSV, TSV or JSONL; paths relative to this YAML)
  train: train.csv                # Classification needs a train split too
  test: test.jsonl
columns: {text: body, label: area}  # optional renames; defaults in DEFAULT_COLUMNS
```

Retrieval splits name three files: `test: {queries: q.jsonl, corpus: docs.jsonl, qrels: qrels.csv}`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from embedlab.errors import closest_names
from embedlab.eval.file_task.reader import TaskFileError

DEFAULT_MAIN_SCORE = {
    "STS": "cosine_spearman",
    "Classification": "accuracy",
    "Clustering": "v_measure",
    "Retrieval": "ndcg_at_10",
}
DEFAULT_COLUMNS = {
    "STS": {"id": "id", "text1": "sentence1", "text2": "sentence2", "score": "score"},
    "Classification": {"id": "id", "text": "text", "label": "label"},
    "Clustering": {"id": "id", "text": "text", "label": "label"},
    "Retrieval": {
        "query_id": "id",
        "query_text": "text",
        "doc_id": "id",
        "doc_text": "text",
        "doc_title": "title",
        "qrel_query_id": "query_id",
        "qrel_doc_id": "doc_id",
        "qrel_score": "score",
    },
}
_K = (1, 3, 5, 10, 20, 100, 1000)  # mteb's retrieval cut-offs
MAIN_SCORES = {
    "STS": [f"{kind}_{stat}" for kind in ("cosine", "manhattan", "euclidean") for stat in ("spearman", "pearson")],
    "Classification": ["accuracy", "f1", "f1_weighted", "precision", "precision_weighted", "recall", "recall_weighted"],
    "Clustering": ["v_measure", "ami"],
    "Retrieval": [f"{m}_at_{k}" for m in ("ndcg", "map", "recall", "precision", "mrr") for k in _K],
}
KEYS = (
    "name",
    "type",
    "description",
    "main_score",
    "instruction",
    "eval_split",
    "splits",
    "columns",
    "score_range",
    "samples_per_label",
    "n_experiments",
)
RETRIEVAL_FILES = ("queries", "corpus", "qrels")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass
class TaskFileSpec:
    """A checked task spec: file paths resolved against the YAML's folder."""

    path: Path
    name: str
    type: str
    description: str
    main_score: str
    instruction: Any
    eval_split: str
    splits: dict[str, Any]
    columns: dict[str, str]
    score_range: tuple[float, float] | None
    samples_per_label: int | None
    n_experiments: int


def _is_prompt_mapping(value: Any) -> bool:
    if not isinstance(value, dict) or not set(value) <= {"query", "document"}:
        return False
    return all(isinstance(v, str) for v in value.values())


def _is_range(value: Any) -> bool:
    if not isinstance(value, list) or len(value) != 2:
        return False
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return False
    return value[0] < value[1]


def _positive_int(path: Path, data: dict, key: str, default: int | None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(path, key, f"must be a whole number of at least 1, got {value!r:.60}")
    return value


def _fail(path: Path, key: str, message: str) -> TaskFileError:
    return TaskFileError(f"{path}: {key}: {message}")


def parse_spec(path: str | Path) -> TaskFileSpec:
    """Read and check a task YAML; every error names the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise TaskFileError(f"{path}: not valid UTF-8 ({error.reason} at byte {error.start})") from None
    except yaml.YAMLError as error:
        raise TaskFileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise TaskFileError(f"{path}: a task file is a mapping with keys {', '.join(KEYS)}")
    for key in data:
        if key not in KEYS:
            raise _fail(path, key, f"unknown key; valid keys, closest first: {', '.join(closest_names(key, KEYS, 4))}")
    for key in ("name", "type", "splits"):
        if key not in data:
            raise _fail(path, key, "required")
    for key in ("name", "type", "description", "main_score", "eval_split"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise _fail(path, key, f"must be a string, got {type(data[key]).__name__} {data[key]!r:.60}")
    if not _NAME.fullmatch(data["name"] or ""):
        raise _fail(
            path, "name", f"{data['name']!r} must be letters, digits, `_`, `-` or `.` (it names results/<name>.json)"
        )
    task_type = data["type"]
    if task_type not in DEFAULT_MAIN_SCORE:
        choices = ", ".join(closest_names(str(task_type), DEFAULT_MAIN_SCORE))
        raise _fail(path, "type", f"{task_type!r} is not supported; choose one of {choices}")
    main_score = str(data.get("main_score") or DEFAULT_MAIN_SCORE[task_type])
    if main_score not in MAIN_SCORES[task_type]:
        choices = ", ".join(closest_names(main_score, MAIN_SCORES[task_type], 5))
        raise _fail(path, "main_score", f"{main_score!r} is not a {task_type} score; closest: {choices}")
    columns = dict(DEFAULT_COLUMNS[task_type])
    given = data.get("columns") or {}
    if not isinstance(given, dict):
        raise _fail(path, "columns", f"map column roles to column names, e.g. {{text: body}}; got {given!r:.60}")
    for key, value in given.items():
        if key not in columns:
            valid = ", ".join(closest_names(str(key), columns))
            raise _fail(path, f"columns.{key}", f"not a column role of {task_type} tasks; roles: {valid}")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise _fail(path, f"columns.{key}", f"must name one column, got {value!r:.60}")
        columns[key] = str(value)
    instruction = data.get("instruction")
    if not (instruction is None or isinstance(instruction, str) or _is_prompt_mapping(instruction)):
        raise _fail(path, "instruction", "give a string, or {query: ..., document: ...} with string values")
    splits = data["splits"]
    if not isinstance(splits, dict) or not splits:
        raise _fail(path, "splits", "map each split name to a file")
    eval_split = str(data.get("eval_split", "test"))
    if eval_split not in splits:
        raise _fail(path, "eval_split", f"split {eval_split!r} is not in splits ({', '.join(splits)})")
    if task_type == "Classification" and "train" not in splits:
        raise _fail(path, "splits", "a Classification task needs a `train` split to fit the classifier")
    resolved: dict[str, Any] = {}
    for split, value in splits.items():
        if not isinstance(split, str):
            raise _fail(path, "splits", f"split names are strings, got {split!r}")
        if task_type == "Retrieval":
            if not isinstance(value, dict) or set(value) != set(RETRIEVAL_FILES):
                raise _fail(path, f"splits.{split}", f"a Retrieval split names {', '.join(RETRIEVAL_FILES)} files")
            resolved[split] = {k: (path.parent / v).resolve() for k, v in value.items()}
        else:
            if not isinstance(value, str):
                raise _fail(path, f"splits.{split}", "give the path of one CSV, TSV or JSONL file")
            resolved[split] = (path.parent / value).resolve()
    score_range = data.get("score_range")
    if score_range is not None and not _is_range(score_range):
        raise _fail(
            path, "score_range", f"give [min, max] of the gold scores, two numbers, min < max; got {score_range!r:.50}"
        )
    samples_per_label = _positive_int(path, data, "samples_per_label", None)
    n_experiments = _positive_int(path, data, "n_experiments", 1)
    return TaskFileSpec(
        path=path,
        name=str(data["name"]),
        type=task_type,
        description=str(data.get("description") or f"{task_type} task from {path.name}"),
        main_score=main_score,
        instruction=instruction,
        eval_split=eval_split,
        splits=resolved,
        columns=columns,
        score_range=tuple(float(v) for v in score_range) if score_range else None,
        samples_per_label=samples_per_label,
        n_experiments=n_experiments,
    )
