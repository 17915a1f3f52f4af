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


def _fail(path: Path, key: str, message: str) -> TaskFileError:
    return TaskFileError(f"{path}: {key}: {message}")


def parse_spec(path: str | Path) -> TaskFileSpec:
    """Read and check a task YAML; every error names the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
    task_type = data["type"]
    if task_type not in DEFAULT_MAIN_SCORE:
        choices = ", ".join(closest_names(str(task_type), DEFAULT_MAIN_SCORE))
        raise _fail(path, "type", f"{task_type!r} is not supported; choose one of {choices}")
    main_score = str(data.get("main_score") or DEFAULT_MAIN_SCORE[task_type])
    if main_score not in MAIN_SCORES[task_type]:
        choices = ", ".join(closest_names(main_score, MAIN_SCORES[task_type], 5))
        raise _fail(path, "main_score", f"{main_score!r} is not a {task_type} score; closest: {choices}")
    columns = dict(DEFAULT_COLUMNS[task_type])
    for key, value in (data.get("columns") or {}).items():
        if key not in columns:
            valid = ", ".join(closest_names(key, columns))
            raise _fail(path, f"columns.{key}", f"not a column role of {task_type} tasks; roles: {valid}")
        columns[key] = str(value)
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
        if task_type == "Retrieval":
            if not isinstance(value, dict) or set(value) != set(RETRIEVAL_FILES):
                raise _fail(path, f"splits.{split}", f"a Retrieval split names {', '.join(RETRIEVAL_FILES)} files")
            resolved[split] = {k: (path.parent / v).resolve() for k, v in value.items()}
        else:
            if not isinstance(value, str):
                raise _fail(path, f"splits.{split}", "give the path of one CSV, TSV or JSONL file")
            resolved[split] = (path.parent / value).resolve()
    score_range = data.get("score_range")
    if score_range is not None and (not isinstance(score_range, list) or len(score_range) != 2):
        raise _fail(path, "score_range", "give [min, max] of the gold scores")
    return TaskFileSpec(
        path=path,
        name=str(data["name"]),
        type=task_type,
        description=str(data.get("description") or f"{task_type} task from {path.name}"),
        main_score=main_score,
        instruction=data.get("instruction"),
        eval_split=eval_split,
        splits=resolved,
        columns=columns,
        score_range=tuple(float(v) for v in score_range) if score_range else None,
        samples_per_label=data.get("samples_per_label"),
        n_experiments=int(data.get("n_experiments", 1)),
    )
