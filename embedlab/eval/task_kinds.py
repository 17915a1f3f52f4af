"""mteb task bases whose per-example outputs reproduce the main score exactly.

- `FixedSplitClassification`: mteb's default draws 8 training examples per label ten times and
  averages ten accuracies, so no single prediction per test item reproduces the score. Here the
  classifier (mteb's logistic regression) is trained once on the whole train split
  (`n_experiments = 1`): one prediction per test item, and their accuracy is the main score.
- `FullSetClustering`: mteb 2's `AbsTaskClustering` scores bootstrap resamples drawn with
  replacement and averages their V-measures. Here the whole split is clustered once
  (scikit-learn k-means, k = the number of labels, 10 seeded restarts) and scored by one V-measure.

Both keep mteb's metadata, data layout and prediction-file format. The offline suite and tasks from
files build on them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from mteb._create_dataloaders import create_dataloader
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering import AbsTaskClustering
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, v_measure_score


class FixedSplitClassification(AbsTaskClassification):
    """Train the classifier once on the whole train split (also used by tasks from files).

    A subclass that sets `whole_train_split = False` keeps mteb's undersampling (`samples_per_label`,
    `n_experiments`).
    """

    n_experiments = 1
    whole_train_split = True

    def evaluate(self, model, split: str = "test", subsets_to_run=None, **kwargs):
        if not self.data_loaded:
            self.load_data()
        if self.whole_train_split:
            self.samples_per_label = max(self._train_counts())  # undersampling then keeps every training item
        return super().evaluate(model, split, subsets_to_run, **kwargs)

    def _train_counts(self) -> list[int]:
        splits = (
            [self.dataset[self.train_split]]
            if self.train_split in self.dataset
            else [d[self.train_split] for d in self.dataset.values()]
        )
        counts = [Counter(s[self.label_column_name]).values() for s in splits]
        return [n for per_split in counts for n in per_split] or [1]


class FullSetClustering(AbsTaskClustering):
    """An `AbsTaskClustering` that clusters every item of the split once (also used by tasks from files)."""

    max_fraction_of_documents_to_embed = None
    input_column_name = "sentences"
    label_column_name = "labels"

    def _evaluate_subset(
        self,
        model,
        data_split,
        *,
        encode_kwargs,
        hf_split,
        hf_subset,
        prediction_folder=None,
        num_proc=None,
        timer,
        **kwargs,
    ) -> dict[str, Any]:
        with timer("Encoding", split=hf_split, subset=hf_subset):
            embeddings = model.encode(
                create_dataloader(
                    data_split.select_columns([self.input_column_name]),
                    task_metadata=self.metadata,
                    input_column=self.input_column_name,
                    num_proc=num_proc,
                    **encode_kwargs,
                ),
                task_metadata=self.metadata,
                hf_split=hf_split,
                hf_subset=hf_subset,
                **encode_kwargs,
            )
        labels = list(data_split[self.label_column_name])
        with timer("Scoring", split=hf_split, subset=hf_subset):
            kmeans = KMeans(n_clusters=len(set(labels)), n_init=10, random_state=self.seed)
            assignment = kmeans.fit_predict(np.asarray(embeddings, dtype=np.float64)).tolist()  # [N]
        if prediction_folder:
            # the layout mteb's own clustering predictions use: one level, one (full-set) draw
            self._save_task_predictions(
                {"Level 0": [assignment]}, model, prediction_folder, hf_subset=hf_subset, hf_split=hf_split
            )
        v_measure = float(v_measure_score(labels, assignment))
        return {
            "v_measure": v_measure,
            "v_measure_std": 0.0,
            "v_measures": {"Level 0": [v_measure]},
            "ami": float(adjusted_mutual_info_score(labels, assignment)),
        }
