"""Per-example outputs in the run-directory format (docs/run-directory.md), one file per task.

Built from three sources: the task's data (ids, gold scores, labels), mteb's own prediction file
(`<Task>_predictions.json`: STS similarities, classification predictions, cluster assignments)
and what `capture.py` recorded (per-query retrieval metrics and runs, bootstrap draws). Each
writer reproduces the task's main score from its lines; `check()` in `evaluator.py` verifies it.

Clustering lines with `set` also carry `item`, the document they show, so the analysis can resample
documents rather than lines: for the bootstrapped `.v2` tasks the document's position in the pool
mteb embedded (the same in every draw and level), for the legacy tasks the document's index among
the distinct texts of the split's sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.sts import AbsTaskSTS

from embedlab.eval.capture import Capture

RUN_DEPTH = 100  # documents kept per query in `run`
PYTREC_NAMES = {"ndcg_at_": "ndcg_cut_", "map_at_": "map_cut_", "recall_at_": "recall_", "precision_at_": "P_"}


@dataclass
class TaskPredictions:
    """The header and example lines of one `predictions/<Task>.jsonl`."""

    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)


def _rows(task, subset: str, split: str):
    dataset = task.dataset
    if subset in dataset:
        return dataset[subset][split]
    return dataset[split]  # monolingual tasks keep a DatasetDict without the "default" level


def _ids(rows, prefix: str) -> list[str]:
    column = rows["id"] if "id" in rows.column_names else range(len(rows))
    return [f"{prefix}{value}" for value in column]


def _sts(task, saved, subset, split, prefix) -> list[dict]:
    rows = _rows(task, subset, split)
    scores = saved["cosine_scores"]
    return [
        {"id": i, "gold": float(g), "score": float(s)}
        for i, g, s in zip(_ids(rows, prefix), rows["score"], scores, strict=True)
    ]


def _retrieval(task, recorded, prefix) -> list[dict]:
    metric = task.metadata.main_score
    extra = next((metric.replace(k, v, 1) for k, v in PYTREC_NAMES.items() if metric.startswith(k)), None)
    records = []
    for query_id, per_query in recorded["scores"].items():
        docs = recorded["results"].get(query_id, {})
        top = sorted(docs.items(), key=lambda item: (item[1], item[0]), reverse=True)[:RUN_DEPTH]
        record = {"id": f"{prefix}{query_id}", "ndcg_at_10": float(per_query["ndcg_cut_10"])}
        if extra and extra in per_query and metric != "ndcg_at_10":
            record[metric] = float(per_query[extra])
        record["run"] = {doc: float(score) for doc, score in top}
        records.append(record)
    return records


def _classification(task, saved, subset, split, prefix) -> list[dict]:
    rows = _rows(task, subset, split)
    column = task.label_column_name
    feature = rows.features[column]
    names = getattr(feature, "names", None)

    def name(value):
        return names[int(value)] if names is not None else value

    experiments = saved  # one list of predictions per experiment
    records = []
    for n, (i, label) in enumerate(zip(_ids(rows, prefix), rows[column], strict=True)):
        record = {"id": i, "label": name(label), "prediction": name(experiments[0][n])}
        if len(experiments) > 1:
            record["predictions"] = [name(e[n]) for e in experiments]
        records.append(record)
    return records


def _full_set_clustering(task, saved, subset, split, prefix) -> list[dict]:
    rows = _rows(task, subset, split)
    (assignment,) = saved["Level 0"]
    labels = rows[task.label_column_name]
    return [
        {"id": i, "label": str(label), "cluster": int(c)}
        for i, label, c in zip(_ids(rows, prefix), labels, assignment, strict=True)
    ]


def _legacy_clustering(task, saved, subset, split, prefix) -> list[dict]:
    rows, records, assignments = _rows(task, subset, split), [], iter(saved)
    documents: dict[Any, int] = {}  # text -> item: sets sampled from one corpus may share documents
    for s, (texts, labels) in enumerate(zip(rows[task.input_column_name], rows[task.label_column_name], strict=True)):
        if len(set(labels)) <= 1:  # mteb scores such a set 1.0 without clustering it
            continue
        for i, (text, label, c) in enumerate(zip(texts, labels, next(assignments), strict=True)):
            item = documents.setdefault(text if isinstance(text, str) else (s, i), len(documents))  # non-text: own item
            records.append(
                {"id": f"{prefix}{s}:{i}", "label": str(label), "cluster": int(c), "set": str(s), "item": item}
            )
    return records


def _bootstrapped_clustering(task, saved, calls, subset, split, prefix) -> list[dict] | None:
    rows = _rows(task, subset, split)
    labels = [v if isinstance(v, list) else [v] for v in rows[task.label_column_name]]
    if calls and calls[0][0] == "sample":
        chosen = calls[0][1]
        labels, calls = [labels[i] for i in chosen], calls[1:]
    draws = iter(indices for kind, indices in calls if kind == "choices")
    records = []
    for level, per_draw in enumerate(saved.values()):
        # mteb's own filter: a missing level is -1, and numpy turns that into "-1" (kept) when labels are strings
        level_labels = np.array([item_labels[level] if len(item_labels) > level else -1 for item_labels in labels])
        valid = [i for i, value in enumerate(level_labels) if value != -1]
        for d, assignment in enumerate(per_draw):
            drawn = next(draws, None)
            if drawn is None or len(drawn) != len(assignment):
                return None  # mteb changed how it draws: no per-example outputs rather than wrong ones
            for p, (index, c) in enumerate(zip(drawn, assignment, strict=True)):
                item = valid[index]  # position in the embedded pool: one document, one item, in every draw and level
                records.append(
                    {
                        "id": f"{prefix}L{level}:{d}:{p}",
                        "label": str(level_labels[item]),
                        "cluster": int(c),
                        "set": f"{level}:{d}",
                        "item": item,
                    }
                )
    return records


def build(task, saved: dict[str, Any] | None, capture: Capture, split: str, subsets: list[str]) -> TaskPredictions:
    """Per-example outputs of one task for one split, over its hf_subsets (ids prefixed when several).

    Args:
        task: the evaluated mteb task, data still loaded.
        saved: mteb's prediction file for the task (subset -> split -> predictions), or None.
        capture: what `capture.capturing` recorded during the evaluation.
        split: the evaluation split to write.
        subsets: the hf_subsets evaluated.
    """
    from embedlab.eval.task_kinds import FullSetClustering

    meta = task.metadata
    header = {
        "task_name": meta.name,
        "task_type": meta.type,
        "main_score_name": meta.main_score,
        "split": split,
        "hf_subset": subsets[0] if len(subsets) == 1 else None,
    }
    result = TaskPredictions(header)
    for subset in subsets:
        prefix = f"{subset}/" if len(subsets) > 1 else ""
        part = (saved or {}).get(subset, {}).get(split)
        if isinstance(task, AbsTaskRetrieval):
            recorded = capture.retrieval.get((split, subset))
            records = _retrieval(task, recorded, prefix) if recorded else None
        elif part is None:
            records = None
        elif isinstance(task, AbsTaskSTS):
            records = _sts(task, part, subset, split, prefix)
        elif isinstance(task, AbsTaskClassification) and meta.type == "Classification" and not task.is_cross_validation:
            records = _classification(task, part, subset, split, prefix)
        elif isinstance(task, FullSetClustering):
            records = _full_set_clustering(task, part, subset, split, prefix)
        elif isinstance(task, AbsTaskClusteringLegacy):
            records = _legacy_clustering(task, part, subset, split, prefix)
        elif isinstance(task, AbsTaskClustering):
            records = _bootstrapped_clustering(
                task, part, capture.draws.get((split, subset), []), subset, split, prefix
            )
        else:
            records = None
        if records is None:
            header["per_example"] = False
            result.records = []
            return result
        if len(subsets) > 1:
            for record in records:
                record["hf_subset"] = subset
        result.records.extend(records)
    if any("set" in r for r in result.records):
        header["sets"] = True
    return result
