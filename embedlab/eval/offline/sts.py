"""offline-v1 STS: Lee document similarity and WordSim353, scored by Spearman on cosine similarity."""

from __future__ import annotations

from datasets import Dataset, DatasetDict
from mteb.abstasks.sts import AbsTaskSTS

from embedlab.eval.offline import data
from embedlab.eval.offline.base import OfflineTask, offline_metadata, suite_prompt

LEE_CITATION = """@inproceedings{lee2005empirical,
  title={An empirical evaluation of models of text document similarity},
  author={Lee, Michael D. and Pincombe, Brandon and Welsh, Matthew},
  booktitle={Proceedings of the 27th Annual Conference of the Cognitive Science Society},
  year={2005}
}"""

WORDSIM_CITATION = """@article{finkelstein2002placing,
  title={Placing search in context: the concept revisited},
  author={Finkelstein, Lev and Gabrilovich, Evgeniy and Matias, Yossi and Rivlin, Ehud and Solan, Zach
    and Wolfman, Gadi and Ruppin, Eytan},
  journal={ACM Transactions on Information Systems},
  volume={20}, number={1}, pages={116--131}, year={2002}
}"""


class LeeDocSTS(OfflineTask, AbsTaskSTS):
    """All 1,225 pairs of the 50 Lee et al. news documents, with their mean human similarity (0-1)."""

    asset = "gensim-data"
    min_score = 0
    max_score = 1
    metadata = offline_metadata(
        name="LeeDocSTS",
        type="STS",
        main_score="cosine_spearman",
        asset=asset,
        description="Document-level similarity of 50 short news articles, every pair rated by humans "
        "(Lee, Pincombe & Welsh 2005; gensim 4.4.0 test data). All 1,225 pairs.",
        reference="https://github.com/piskvorky/gensim/tree/4.4.0/gensim/test/test_data",
        bibtex_citation=LEE_CITATION,
        domains=["News"],
        annotations_creators="human-annotated",
        prompt=suite_prompt("LeeDocSTS"),
    )

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        if self.data_loaded:
            return
        self._require_asset()
        docs, ratings = data.lee_documents(), data.lee_similarities()  # 50 texts, [50, 50]
        rows = [(i, j) for i in range(len(docs)) for j in range(i + 1, len(docs))]
        test = Dataset.from_dict(
            {
                "id": [f"{i}-{j}" for i, j in rows],
                "sentence1": [docs[i] for i, _ in rows],
                "sentence2": [docs[j] for _, j in rows],
                "score": [float(ratings[i, j]) for i, j in rows],
            }
        )
        self.dataset = DatasetDict({"test": test})
        self.data_loaded = True


class WordSim353STS(OfflineTask, AbsTaskSTS):
    """WordSim353: 353 word pairs with mean human relatedness ratings (0-10)."""

    asset = "gensim-data"
    min_score = 0
    max_score = 10
    metadata = offline_metadata(
        name="WordSim353STS",
        type="STS",
        main_score="cosine_spearman",
        asset=asset,
        description="Word relatedness: 353 English word pairs rated 0-10 by humans (Finkelstein et al. 2002; "
        "gensim 4.4.0 test data).",
        reference="https://gabrilovich.com/resources/data/wordsim353/wordsim353.html",
        bibtex_citation=WORDSIM_CITATION,
        domains=["Constructed"],
        annotations_creators="human-annotated",
        prompt=suite_prompt("WordSim353STS"),
    )

    def load_data(self, num_proc: int | None = None, **kwargs) -> None:
        if self.data_loaded:
            return
        self._require_asset()
        rows = data.wordsim353()
        test = Dataset.from_dict(
            {
                "id": [f"{i:03d}:{a}|{b}" for i, (a, b, _) in enumerate(rows)],
                "sentence1": [a for a, _, _ in rows],
                "sentence2": [b for _, b, _ in rows],
                "score": [s for _, _, s in rows],
            }
        )
        self.dataset = DatasetDict({"test": test})
        self.data_loaded = True
