"""offline-v1-mini: the eight offline-v1 tasks on smaller seeded samples, for the 15-minute CPU demo.

Same data, cleaning, seed and instructions as offline-v1; only the sample sizes shrink (about a third
of the encoding work), and every task gets a `Mini` suffix so its scores are never mixed with
offline-v1's. The two STS tasks are already small and are used whole (under their Mini names).

| task | offline-v1 | offline-v1-mini |
|---|---|---|
| BBCHeadlineRetrievalMini | 200 queries, 400 documents | 75 queries, 150 documents |
| RottenTomatoesClassificationMini | 64 train / 300 test | 32 train / 100 test |
| BBCTopicClassificationMini | 60 train / 150 test | 40 train / 60 test |
| HealthTweetsOutletClassificationMini | 192 train / 192 test | 96 train / 96 test |
| BBCTopicClusteringMini | 200 articles | 80 articles |
| HealthTweetsOutletClusteringMini | 320 tweets | 128 tweets |
| LeeDocSTSMini, WordSim353STSMini | as in offline-v1 | as in offline-v1 |
"""

from __future__ import annotations

from embedlab.eval.offline.base import OfflineTask
from embedlab.eval.offline.classification import (
    BBCTopicClassification,
    HealthTweetsOutletClassification,
    RottenTomatoesClassification,
)
from embedlab.eval.offline.clustering import BBCTopicClustering, HealthTweetsOutletClustering
from embedlab.eval.offline.retrieval import BBCHeadlineRetrieval
from embedlab.eval.offline.sts import LeeDocSTS, WordSim353STS

MINI_SUITE = "offline-v1-mini"

# offline-v1 task -> its smaller sample sizes (class attributes of the task)
MINI_SIZES: dict[type[OfflineTask], dict[str, int]] = {
    LeeDocSTS: {},
    WordSim353STS: {},
    BBCHeadlineRetrieval: {"queries_per_topic": 15, "distractors_per_topic": 15},
    RottenTomatoesClassification: {"train_per_label": 16, "test_per_label": 50},
    BBCTopicClassification: {"train_per_label": 8, "test_per_label": 12},
    HealthTweetsOutletClassification: {"train_per_label": 6, "test_per_label": 6},
    BBCTopicClustering: {"per_label": 16},
    HealthTweetsOutletClustering: {"per_label": 8},
}


def mini_task(base: type[OfflineTask], sizes: dict[str, int]) -> type[OfflineTask]:
    """A subclass of an offline-v1 task with smaller samples, named `<name>Mini`, in the mini suite."""
    name = f"{base.metadata.name}Mini"
    described = ", ".join(f"{k}={v}" for k, v in sizes.items()) or "the whole task"
    dataset = {**base.metadata.dataset, "path": base.metadata.dataset["path"].replace("offline-v1", MINI_SUITE)}
    metadata = base.metadata.model_copy(
        update={
            "name": name,
            "description": f"{base.metadata.description} offline-v1-mini sample: {described}.",
            "dataset": dataset,
        }
    )
    return type(name, (base,), {**sizes, "metadata": metadata, "suite": MINI_SUITE, "__doc__": metadata.description})


OFFLINE_V1_MINI: tuple[type[OfflineTask], ...] = tuple(mini_task(base, sizes) for base, sizes in MINI_SIZES.items())
