"""The classifier a classification task fits on the frozen embeddings: mteb's, or the same after standardising.

mteb fits a logistic regression (C=1, 100 lbfgs iterations) on the embeddings as the model gives them.
A decoder's embeddings are anisotropic (a few dimensions of large, shared magnitude), and at C=1 with
100 iterations such a classifier can understate what the embedding holds; standardising each dimension
on the training split first (scikit-learn's StandardScaler) removes that handicap without changing the
model. `logistic` keeps mteb's task default untouched, so results stay comparable with the leaderboard.
"""

from __future__ import annotations

from collections.abc import Iterable

from embedlab.errors import EmbedlabError, closest_names

CLASSIFIERS = ("logistic", "standardised-logistic")
CLASSIFICATION_TYPES = ("Classification",)


def check_classifier(name: str) -> str:
    """`name` when it is a known classifier, else an error listing the choices."""
    if name not in CLASSIFIERS:
        raise EmbedlabError(f"classifier {name!r} is not one of: {', '.join(closest_names(name, CLASSIFIERS))}")
    return name


def use_classifier(tasks: Iterable, name: str) -> None:
    """Give every classification task in `tasks` the classifier `name` (`logistic`: mteb's own, the class default)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_classifier(name)
    for task in tasks:
        if task.metadata.type not in CLASSIFICATION_TYPES:
            continue
        # task objects can be shared between evaluations: `logistic` drops what another one set
        vars(task).pop("evaluator_model", None)
        if name == "standardised-logistic":
            # mteb's own settings after the scaler: only the standardisation differs
            task.evaluator_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=100))
