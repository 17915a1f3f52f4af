"""Turn a checked spec (`schema.py`) and its data files into an mteb task instance.

Classification and clustering use `task_kinds`' bases, so per-example outputs of a task from files
reproduce its main score like the offline suite's do. The task's dataset revision is a hash of the
spec and its files: two runs agree on it only if they read the same data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

from embedlab.eval.file_task.reader import Table, TaskFileError, read_table
from embedlab.eval.file_task.schema import TaskFileSpec
from embedlab.eval.task_kinds import FixedSplitClassification, FullSetClustering

BASES = {
    "STS": AbsTaskSTS,
    "Classification": FixedSplitClassification,
    "Clustering": FullSetClustering,
    "Retrieval": AbsTaskRetrieval,
}
CATEGORY = {"STS": "t2t", "Retrieval": "t2t", "Classification": "t2c", "Clustering": "t2c"}


def _files(spec: TaskFileSpec) -> list[Path]:
    found = []
    for value in spec.splits.values():
        found.extend(value.values() if isinstance(value, dict) else [value])
    return found


def _revision(spec: TaskFileSpec) -> str:
    digest = hashlib.sha256(spec.path.read_bytes())
    for path in _files(spec):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def _ids(table: Table, name: str, spec: Path) -> list[str]:
    if name not in table.columns:
        return [str(i) for i in range(len(table.rows))]
    ids = table.texts(name, "id", spec)
    seen: dict[str, int] = {}
    for value, line in zip(ids, table.lines, strict=True):
        if value in seen:
            raise TaskFileError(f"{table.path}:{line}: id {value!r} in column {name!r} repeats line {seen[value]}")
        seen[value] = line
    return ids


def _sts(spec: TaskFileSpec, tables: dict[str, Table]) -> tuple[DatasetDict, dict[str, Any]]:
    c, splits, scores = spec.columns, {}, []
    for split, table in tables.items():
        values = table.numbers(c["score"], "score", spec.path)
        if spec.score_range is not None:
            low, high = spec.score_range
            for value, line in zip(values, table.lines, strict=True):
                if not low <= value <= high:
                    raise TaskFileError(
                        f"{table.path}:{line}: column {c['score']!r}: {value:g} is outside score_range "
                        f"[{low:g}, {high:g}] of {spec.path}"
                    )
        scores.extend(values)
        splits[split] = Dataset.from_dict(
            {
                "id": _ids(table, c["id"], spec.path),
                "sentence1": table.texts(c["text1"], "text1", spec.path),
                "sentence2": table.texts(c["text2"], "text2", spec.path),
                "score": values,
            }
        )
    low, high = spec.score_range or (min(scores), max(scores))
    return DatasetDict(splits), {"min_score": low, "max_score": high}


def _labelled(spec: TaskFileSpec, tables: dict[str, Table], text_column: str) -> tuple[DatasetDict, dict[str, Any]]:
    c, labels, kinds = spec.columns, {}, {}
    for split, table in tables.items():
        labels[split] = table.labels(c["label"], "label", spec.path)
        kinds[split] = {type(row[c["label"]]).__name__ for row in table.rows}
    if len({frozenset(k) for k in kinds.values()}) > 1:
        detail = "; ".join(f"{tables[s].path} holds {'/'.join(sorted(k))}" for s, k in kinds.items())
        raise TaskFileError(f"label type mismatch in column {c['label']!r}: {detail}")
    if spec.type == "Classification":
        unseen = sorted(set(labels[spec.eval_split]) - set(labels["train"]))
        if unseen:
            raise TaskFileError(
                f"{tables[spec.eval_split].path}: column {c['label']!r} has labels the train split "
                f"({tables['train'].path}) lacks: {', '.join(unseen[:10])}"
            )
    names = sorted({label for values in labels.values() for label in values})
    label_feature = ClassLabel(names=names) if spec.type == "Classification" else Value("string")
    features = Features({"id": Value("string"), text_column: Value("string"), "label": label_feature})
    splits = {}
    for split, table in tables.items():
        texts = table.texts(c["text"], "text", spec.path)
        values = [names.index(v) for v in labels[split]] if spec.type == "Classification" else labels[split]
        columns = {"id": _ids(table, c["id"], spec.path), text_column: texts, "label": values}
        splits[split] = Dataset.from_dict(columns, features=features)
    if spec.type == "Clustering":
        splits = {s: d.rename_column("label", "labels") for s, d in splits.items()}
    extra = {"n_experiments": spec.n_experiments}
    if spec.samples_per_label:
        extra.update(samples_per_label=int(spec.samples_per_label), whole_train_split=False)
    return DatasetDict(splits), extra


def _retrieval(spec: TaskFileSpec) -> dict[str, Any]:
    c, out = spec.columns, {}
    for split, files in spec.splits.items():
        queries = read_table(files["queries"], f"{spec.path}: splits.{split}.queries")
        corpus = read_table(files["corpus"], f"{spec.path}: splits.{split}.corpus")
        qrels = read_table(files["qrels"], f"{spec.path}: splits.{split}.qrels")
        query_ids = _ids_required(queries, c["query_id"], "query_id", spec.path)
        doc_ids = _ids_required(corpus, c["doc_id"], "doc_id", spec.path)
        titles = [str(r.get(c["doc_title"]) or "") for r in corpus.rows]
        relevant: dict[str, dict[str, int]] = {}
        rel_q = qrels.texts(c["qrel_query_id"], "qrel_query_id", spec.path)
        rel_d = qrels.texts(c["qrel_doc_id"], "qrel_doc_id", spec.path)
        has_score = c["qrel_score"] in qrels.columns
        rel_s = qrels.numbers(c["qrel_score"], "qrel_score", spec.path) if has_score else [1.0] * len(rel_q)
        known_q, known_d = set(query_ids), set(doc_ids)
        seen: dict[tuple[str, str], int] = {}
        for q, d, s, line in zip(rel_q, rel_d, rel_s, qrels.lines, strict=True):
            if q not in known_q:
                raise TaskFileError(f"{qrels.path}:{line}: column {c['qrel_query_id']!r}: {q!r} is not a query id")
            if d not in known_d:
                raise TaskFileError(f"{qrels.path}:{line}: column {c['qrel_doc_id']!r}: {d!r} is not a corpus id")
            if s != int(s):
                raise TaskFileError(
                    f"{qrels.path}:{line}: column {c['qrel_score']!r}: relevance must be a whole number, got {s:g}"
                )
            if (q, d) in seen:
                raise TaskFileError(f"{qrels.path}:{line}: the pair ({q!r}, {d!r}) repeats line {seen[q, d]}")
            seen[q, d] = line
            relevant.setdefault(q, {})[d] = int(s)
        out[split] = {
            "queries": Dataset.from_dict(
                {"id": query_ids, "text": queries.texts(c["query_text"], "query_text", spec.path)}
            ),
            "corpus": Dataset.from_dict(
                {
                    "id": doc_ids,
                    "title": titles,
                    "text": corpus.texts(c["doc_text"], "doc_text", spec.path),
                }
            ),
            "relevant_docs": relevant,
            "top_ranked": None,
        }
    return {"default": out}


def _ids_required(table: Table, name: str, key: str, spec: Path) -> list[str]:
    table.column(name, key, spec)  # a retrieval file must carry its ids
    return _ids(table, name, spec)


def build_task(spec: TaskFileSpec):
    """An instance of a fresh mteb task class for `spec`, its data read and checked now."""
    if spec.type == "Retrieval":
        dataset, extra = _retrieval(spec), {}
    else:
        tables = {split: read_table(path, f"{spec.path}: splits.{split}") for split, path in spec.splits.items()}
        if spec.type == "STS":
            dataset, extra = _sts(spec, tables)
        else:
            dataset, extra = _labelled(spec, tables, "sentences" if spec.type == "Clustering" else "text")
    metadata = TaskMetadata(
        name=spec.name,
        description=spec.description,
        reference=None,
        dataset={"path": str(spec.path), "revision": _revision(spec)},
        type=spec.type,
        category=CATEGORY[spec.type],
        modalities=["text"],
        eval_splits=[spec.eval_split],
        eval_langs=["eng-Latn"],
        main_score=spec.main_score,
        prompt=spec.instruction,
        sample_creation="found",
        bibtex_citation="",
    )

    def load_data(self, num_proc=None, **kwargs) -> None:
        self.dataset, self.data_loaded = dataset, True

    cls = type(spec.name, (BASES[spec.type],), {"metadata": metadata, "load_data": load_data, **extra})
    return cls()
