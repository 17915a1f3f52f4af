"""Per-example outputs from `predictions/<Task>.jsonl`, aligned by example id across runs.

The paired tests need, for every task, the same examples in the same order for every run. This
module reads the prediction files, turns each task type's fields into the arrays `paired` expects,
checks that all runs list the same ids and the same gold data, and recomputes each run's main score
so it can be compared with the results JSON (a mismatch means the predictions are not the outputs
that were scored, and the per-example tests would test something else). mteb rounds stored scores
to 5-6 decimals, so the report lists mismatches rather than refusing them.

| task_type            | kind      | output per line                                   | reference |
|----------------------|-----------|---------------------------------------------------|-----------|
| STS                  | spearman  | `score` (cosine similarity)                       | `gold`    |
| Retrieval, Reranking | mean      | `<main_score_name>` if on the line, else `ndcg_at_10` | -     |
| Classification       | mean      | share of `predictions` (else `prediction`) equal to `label` | - |
| Clustering           | v_measure | `cluster`                                         | `label`   |

Strata (docs/run-directory.md, optional fields): lines with `hf_subset` (several subsets in one
file) or `set` (clustering sets, or mteb's bootstrap draws) form strata. The main score is the mean
over subsets of the mean over that subset's sets of the metric within a set, so each stratum gets
weight 1 / (#subsets * #sets in its subset), and the tests resample and swap within strata.

Documents (`item`, clustering lines of mteb's `.v2` tasks): the draws of one subset are drawn with
replacement from one pool, so a document fills several lines of every draw. Lines with the same
`hf_subset` and `item` are one document; the tests resample and swap documents, all the draws of a
subset together (`evidence`). A file without `item` treats every line as its own document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from embedlab.analysis.errors import AnalysisError, DamagedFileError
from embedlab.analysis.metrics import factorize
from embedlab.analysis.paired import metric_value
from embedlab.analysis.runs import Run, open_predictions

KIND_BY_TYPE = {
    "STS": "spearman",
    "Retrieval": "mean",
    "Reranking": "mean",
    "Classification": "mean",
    "Clustering": "v_measure",
}
NUMERIC_FIELDS = {"STS": ("gold", "score")}
FIELDS_BY_TYPE = {
    "STS": ("id", "gold", "score"),
    "Retrieval": ("id",),
    "Reranking": ("id",),
    "Classification": ("id", "label", "prediction"),
    "Clustering": ("id", "label", "cluster"),
}


@dataclass(frozen=True)
class Predictions:
    """One predictions file: its header and per-example arrays.

    Args:
        path: The file.
        header: The header object of line 1.
        ids: Example ids, shape (n,).
        outputs: Per-example outputs (see the module table), shape (n,).
        reference: Gold scores or true labels, shape (n,), or None.
        strata: Stratum key per example (`<hf_subset>|<set>`), shape (n,), or None.
        items: Document key per example (`<hf_subset>|<item>`), shape (n,), or None.
    """

    path: Path
    header: dict[str, Any]
    ids: NDArray
    outputs: NDArray
    reference: NDArray | None
    strata: NDArray | None = None
    items: NDArray | None = None

    @property
    def kind(self) -> str:
        """Metric kind of the task type."""
        return KIND_BY_TYPE[self.header["task_type"]]

    def main_score(self) -> float:
        """The task's main score recomputed from the examples (weighted over strata)."""
        outputs, reference = self.outputs, self.reference
        if self.kind == "v_measure":
            outputs, reference = factorize(outputs)[0], factorize(reference)[0]
        return weighted_metric(self.kind, outputs[None, :], reference, self.strata)


def stratum_weights(strata: NDArray) -> tuple[NDArray, NDArray]:
    """Distinct stratum keys and their weights in the main score.

    Args:
        strata: Key `<hf_subset>|<set>` per example.

    Returns:
        Sorted keys and weights 1 / (#subsets * #sets in the key's subset), summing to 1.
    """
    keys = np.unique(strata)
    subsets = np.array([k.split("|", 1)[0] for k in keys])
    uniq, counts = np.unique(subsets, return_counts=True)
    sets_in = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
    return keys, np.array([1.0 / (len(uniq) * sets_in[s]) for s in subsets])


def weighted_metric(kind: str, outputs: NDArray, reference: NDArray | None, strata: NDArray | None) -> float:
    """Seed-averaged main score, weighted over strata when there are any.

    Args:
        kind: Metric kind.
        outputs: Shape (seeds, n).
        reference: Shape (n,) or None.
        strata: Shape (n,) or None.

    Returns:
        The main score.
    """
    if strata is None:
        return metric_value(kind, outputs, reference)
    keys, weights = stratum_weights(strata)
    total = 0.0
    for key, w in zip(keys, weights, strict=True):
        mask = strata == key
        total += w * metric_value(kind, outputs[:, mask], None if reference is None else reference[mask])
    return total


def _number(path: Path, lineno: int, record: dict[str, Any], name: str) -> float:
    value = record[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise DamagedFileError(f"{path}:{lineno}: field {name!r} must be a finite number, got {value!r:.60}")
    return float(value)


def _outputs(
    path: Path, header: dict[str, Any], records: list[dict[str, Any]], numbers: list[int]
) -> tuple[NDArray, NDArray | None]:
    task_type = header["task_type"]
    if task_type == "STS":
        return np.array([float(r["score"]) for r in records]), np.array([float(r["gold"]) for r in records])
    if task_type in ("Retrieval", "Reranking"):
        name = header.get("main_score_name") or "ndcg_at_10"
        field = name if name in records[0] else "ndcg_at_10"
        if field != name or any(field not in r for r in records):
            raise AnalysisError(f"{path}: lines lack the per-query main metric {name!r}; cannot reproduce the score")
        return np.array([_number(path, n, r, field) for n, r in zip(numbers, records, strict=True)]), None
    if task_type == "Classification":
        correct = []
        for n, r in zip(numbers, records, strict=True):
            predictions = r.get("predictions", [r["prediction"]])
            if not isinstance(predictions, list) or not predictions:
                raise DamagedFileError(f"{path}:{n}: 'predictions' must be a non-empty list, got {predictions!r:.50}")
            correct.append(np.mean([str(p) == str(r["label"]) for p in predictions]))
        return np.array(correct, dtype=np.float64), None
    return np.array([str(r["cluster"]) for r in records]), np.array([str(r["label"]) for r in records])


def _read_lines(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    """The header object, the example objects and their line numbers; a bad line is an error naming it."""
    header: dict[str, Any] | None = None
    records, numbers = [], []
    with open_predictions(path) as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DamagedFileError(f"{path}:{number}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
            if not text.strip() and number > 1:
                continue
            what = "the JSON header object" if number == 1 else "a JSON object"
            try:
                value = json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as err:
                raise DamagedFileError(f"{path}:{number}: must be {what} ({err.msg}, column {err.colno})") from None
            except (ValueError, RecursionError) as err:
                raise DamagedFileError(f"{path}:{number}: must be {what} ({type(err).__name__})") from None
            if not isinstance(value, dict):
                raise DamagedFileError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
            if number == 1:
                header = value
            else:
                records.append(value)
                numbers.append(number)
    if header is None:
        raise DamagedFileError(f"{path}: empty predictions file (line 1 must be the header)")
    return header, records, numbers


def read_predictions(path: str | Path) -> Predictions:
    """Read one predictions file written by `embedlab test`.

    Args:
        path: predictions/<Task>.jsonl.

    Returns:
        The parsed file.
    """
    path = Path(path)
    header, records, numbers = _read_lines(path)
    task_type = header.get("task_type")
    if header.get("per_example") is False:
        raise AnalysisError(f"{path}: header says per_example: false (nothing per example reproduces the score)")
    if task_type not in FIELDS_BY_TYPE:
        raise AnalysisError(
            f"{path}: no per-example test for task_type {task_type!r}; supported: {', '.join(FIELDS_BY_TYPE)}"
        )
    if not records:
        raise AnalysisError(f"{path}: header only, no examples")
    fields = FIELDS_BY_TYPE[task_type]
    seen: dict[str, int] = {}
    for lineno, rec in zip(numbers, records, strict=True):
        missing = [f for f in fields if f not in rec]
        if missing:
            raise DamagedFileError(f"{path}:{lineno}: {task_type} example lacks field(s) {', '.join(missing)}")
        for name in NUMERIC_FIELDS.get(task_type, ()):
            _number(path, lineno, rec, name)
        key = str(rec["id"])
        if key in seen:
            raise DamagedFileError(f"{path}:{lineno}: example id {key!r} repeats line {seen[key]}; ids must be unique")
        seen[key] = lineno
    ids = np.array([str(r["id"]) for r in records])
    outputs, reference = _outputs(path, header, records, numbers)
    strata = None
    if any("hf_subset" in r or "set" in r for r in records):
        strata = np.array([f"{r.get('hf_subset', '')}|{r.get('set', '')}" for r in records])
    items = _items(path, task_type, records, numbers)
    return Predictions(
        path=path, header=header, ids=ids, outputs=outputs, reference=reference, strata=strata, items=items
    )


def _items(path: Path, task_type: str, records: list[dict[str, Any]], numbers: list[int]) -> NDArray | None:
    """Document key `<hf_subset>|<item>` per line, or None when no line has `item`."""
    has = [n for n, r in zip(numbers, records, strict=True) if "item" in r]
    if not has:
        return None
    if task_type != "Clustering":
        raise AnalysisError(
            f"{path}:{has[0]}: field 'item' is defined for Clustering lines only (mteb's bootstrapped "
            f"clustering draws), this file is {task_type}; remove it, or see docs/run-directory.md"
        )
    if len(has) != len(records):
        lineno = next(n for n, r in zip(numbers, records, strict=True) if "item" not in r)
        raise DamagedFileError(f"{path}:{lineno}: line lacks 'item' while {len(has)} other lines carry it")
    for n, r in zip(numbers, records, strict=True):
        value = r["item"]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise DamagedFileError(f"{path}:{n}: field 'item' must be an int or a string, got {value!r:.60}")
    return np.array([f"{r.get('hf_subset', '')}|{r['item']}" for r in records])


@dataclass(frozen=True)
class TaskExamples:
    """One task's per-example outputs for every run, aligned by id.

    Args:
        task: Task name.
        task_type: MTEB task type.
        kind: Metric kind (`mean`, `spearman`, `v_measure`).
        ids: Example ids in the common order, shape (n,).
        reference: Gold scores (float) or true label codes (int), shape (n,), or None.
        outputs: (variant, seed) -> outputs in the common order (cluster ids as int codes).
        strata: Stratum key per example, shape (n,), or None (see the module docstring).
        items: Document key per example, shape (n,), or None: every example is its own document.
    """

    task: str
    task_type: str
    kind: str
    ids: NDArray
    reference: NDArray | None
    outputs: dict[tuple[str, int], NDArray]
    strata: NDArray | None = None
    items: NDArray | None = None

    def stack(self, variant: str, seeds: Sequence[int]) -> NDArray:
        """Outputs of one variant for the given seeds, shape (len(seeds), n)."""
        return np.stack([self.outputs[(variant, s)] for s in seeds])

    def main_scores(self) -> dict[tuple[str, int], float]:
        """Each run's main score recomputed from its examples, to check against results/."""
        return {
            key: weighted_metric(self.kind, value[None, :], self.reference, self.strata)
            for key, value in self.outputs.items()
        }


def load_task_examples(runs: Sequence[Run], task: str) -> TaskExamples:
    """Read and align one task's predictions from every run.

    Args:
        runs: Runs that all have predictions for `task`.
        task: Task name.

    Returns:
        The aligned examples.
    """
    missing = [str(r.path) for r in runs if task not in r.predictions]
    if missing:
        raise AnalysisError(f"no predictions/{task}.jsonl in: {', '.join(missing)}")
    first = read_predictions(runs[0].predictions[task])
    order = np.argsort(first.ids, kind="stable")
    ids = first.ids[order]
    reference = None if first.reference is None else first.reference[order]
    strata = None if first.strata is None else first.strata[order]
    items = None if first.items is None else first.items[order]
    outputs: dict[tuple[str, int], NDArray] = {}
    for run in runs:
        pred = first if run is runs[0] else read_predictions(run.predictions[task])
        if pred.header["task_type"] != first.header["task_type"]:
            raise AnalysisError(
                f"{pred.path}: task_type {pred.header['task_type']!r}, {first.path} says {first.header['task_type']!r}"
            )
        pos = np.argsort(pred.ids, kind="stable")
        if pred.ids.size != ids.size or not np.array_equal(pred.ids[pos], ids):
            extra = sorted(set(pred.ids) ^ set(ids))[:5]
            raise AnalysisError(
                f"{pred.path} and {first.path} list different example ids (e.g. {', '.join(extra)}); "
                "paired tests need the same examples in every run"
            )
        if reference is not None and not np.array_equal(pred.reference[pos], reference):
            raise AnalysisError(f"{pred.path}: gold scores/labels differ from {first.path} for the same ids")
        if (strata is None) != (pred.strata is None) or (
            strata is not None and not np.array_equal(pred.strata[pos], strata)
        ):
            raise AnalysisError(f"{pred.path}: hf_subset/set of the examples differ from {first.path}")
        if (items is None) != (pred.items is None) or (
            items is not None and not np.array_equal(pred.items[pos], items)
        ):
            raise AnalysisError(
                f"{pred.path}: the documents (`item`) of the examples differ from {first.path}; "
                "paired tests need the same draws of the same documents in every run"
            )
        outputs[(run.variant, run.seed)] = pred.outputs[pos]
    kind = first.kind
    if kind == "v_measure":
        reference = factorize(reference)[0]
        outputs = {key: factorize(value)[0] for key, value in outputs.items()}
    return TaskExamples(task, first.header["task_type"], kind, ids, reference, outputs, strata, items)
