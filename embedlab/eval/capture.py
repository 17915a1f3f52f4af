"""Record, during an mteb evaluation, what the per-example outputs need and mteb's prediction files lack.

- Retrieval and reranking: mteb saves the run but not the per-query metrics it averaged. Its
  `task_specific_scores` hook receives exactly the pytrec_eval per-query scores and the run that
  were scored (after `ignore_identical_ids` / `skip_first_result`), so we listen there.
- Bootstrapped clustering (`AbsTaskClustering`, the hub's `.v2` tasks): mteb saves each draw's
  cluster assignments but not which items were drawn. Its draws come from the task's
  `random.Random`; a subclass that records what `sample` and `choices` return recovers them:
  `sample` picks the pool of documents to embed (in embedding order), and each `choices` call draws
  one bootstrap sample of positions among the pool's documents that have a label at that level.
  `predictions.py` maps those back to pool positions, the lines' `item`.

Both hooks are set on one task instance, for one evaluation, and removed afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mteb.abstasks.clustering import AbsTaskClustering
from mteb.abstasks.retrieval import AbsTaskRetrieval


class RecordingRandom(random.Random):
    """A `random.Random` that remembers what `sample` and `choices` returned, in call order."""

    def __init__(self, state: tuple) -> None:
        super().__init__()
        self.setstate(state)
        self.calls: list[tuple[str, list[int]]] = []

    def sample(self, population, k, **kwargs):
        result = super().sample(population, k, **kwargs)
        self.calls.append(("sample", list(result)))
        return result

    def choices(self, population, weights=None, *, cum_weights=None, k=1):
        result = super().choices(population, weights, cum_weights=cum_weights, k=k)
        self.calls.append(("choices", list(result)))
        return result


class Capture:
    """What was recorded for one task, keyed by (split, hf_subset).

    Attributes:
        retrieval: per-query pytrec_eval scores and the run.
        draws: for bootstrapped clustering, the random calls made while scoring a subset.
    """

    def __init__(self) -> None:
        self.retrieval: dict[tuple[str, str], dict[str, Any]] = {}
        self.draws: dict[tuple[str, str], list[tuple[str, list[int]]]] = {}


def _is_bootstrapped(task) -> bool:
    from embedlab.eval.task_kinds import FullSetClustering

    return isinstance(task, AbsTaskClustering) and not isinstance(task, FullSetClustering)


@contextmanager
def capturing(task) -> Iterator[Capture]:
    """Install the recording hooks on `task` for the duration of the block."""
    capture = Capture()
    installed: list[str] = []
    if isinstance(task, AbsTaskRetrieval):
        original = task.task_specific_scores

        def task_specific_scores(scores, qrels, results, hf_split, hf_subset, **kwargs):
            capture.retrieval[(hf_split, hf_subset)] = {"scores": scores, "results": results}
            return original(scores, qrels, results, hf_split=hf_split, hf_subset=hf_subset, **kwargs)

        task.task_specific_scores = task_specific_scores
        installed.append("task_specific_scores")
    if _is_bootstrapped(task):
        evaluate_subset = task._evaluate_subset

        def _evaluate_subset(model, data_split, *, hf_split, hf_subset, **kwargs):
            task.rng_state = RecordingRandom(task.rng_state.getstate())
            try:
                return evaluate_subset(model, data_split, hf_split=hf_split, hf_subset=hf_subset, **kwargs)
            finally:
                capture.draws[(hf_split, hf_subset)] = task.rng_state.calls

        task._evaluate_subset = _evaluate_subset
        installed.append("_evaluate_subset")
    try:
        yield capture
    finally:
        for name in installed:
            vars(task).pop(name, None)
