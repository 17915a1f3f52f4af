"""Task type -> the category whose main scores the paper's headline table averages.

Shared by evaluation (per-category averages logged during training) and analysis (the tidy
table's `category` column), so both always group tasks the same way.
"""

from __future__ import annotations

CATEGORY_BY_TYPE = {
    "STS": "STS",
    "Classification": "Classification",
    "MultilabelClassification": "Classification",
    "Retrieval": "Retrieval",
    "Clustering": "Clustering",
    "PairClassification": "PairClassification",
    "Reranking": "Reranking",
    "Summarization": "Summarization",
}

# The order of the columns of the headline table.
CATEGORY_ORDER = tuple(dict.fromkeys(CATEGORY_BY_TYPE.values()))
