"""A task's main score recomputed from its per-example outputs, to prove they are what was scored.

| task_type | recomputed as |
|---|---|
| STS | Spearman(gold, score) |
| Retrieval, Reranking | mean of the per-query main metric (`ndcg_at_10`, or the field named after the main score) |
| Classification | mean over examples of `label == prediction` (over `predictions` when several experiments) |
| Clustering | V-measure(label, cluster); with `set` fields, the mean V-measure over sets |
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import v_measure_score


def _mean_over_subsets(records: Sequence[dict[str, Any]], score) -> float:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record.get("hf_subset")].append(record)
    return float(np.mean([score(group) for group in groups.values()]))


def _sts(records) -> float:
    return float(spearmanr([r["gold"] for r in records], [r["score"] for r in records])[0])


def _classification(records) -> float:
    if "predictions" in records[0]:
        return float(np.mean([[p == r["label"] for p in r["predictions"]] for r in records]))
    return float(np.mean([r["prediction"] == r["label"] for r in records]))


def _clustering(records) -> float:
    sets: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        sets[record.get("set")].append(record)
    scores = [v_measure_score([r["label"] for r in s], [r["cluster"] for r in s]) for s in sets.values()]
    return float(np.mean(scores))


def main_score_from(header: dict[str, Any], records: Sequence[dict[str, Any]]) -> float | None:
    """The main score the per-example lines imply (mean over hf_subsets when several), or None if unknown."""
    if not records:
        return None
    task_type = header["task_type"]
    if task_type == "STS":
        return _mean_over_subsets(records, _sts)
    if task_type in ("Retrieval", "Reranking"):
        field = header["main_score_name"] if header["main_score_name"] in records[0] else "ndcg_at_10"
        if field != header["main_score_name"]:
            return None
        return _mean_over_subsets(records, lambda group: float(np.mean([r[field] for r in group])))
    if task_type == "Classification":
        return _mean_over_subsets(records, _classification)
    if task_type == "Clustering":
        return _mean_over_subsets(records, _clustering)
    return None
