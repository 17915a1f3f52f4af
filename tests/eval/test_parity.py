"""Parity with mteb's own SentenceTransformer path: all-MiniLM-L6-v2 through embedlab's adapter gives the
same offline-v1 main scores as `mteb.evaluate(SentenceTransformer(...))`, within 1e-4.

Slow (two full suite runs of MiniLM on CPU, a few minutes): `pytest -m slow tests/eval/test_parity.py`.
"""

from __future__ import annotations

import pytest

from tests.eval.conftest import OFFLINE_ASSETS, needs_assets

pytestmark = [pytest.mark.slow, needs_assets("all-minilm-l6-v2", *OFFLINE_ASSETS)]


def test_adapter_matches_mtebs_sentence_transformer_path():
    import mteb
    from sentence_transformers import SentenceTransformer

    from embedlab.eval.adapter import MTEBAdapter
    from embedlab.eval.encoders import load_reference, reference_path
    from embedlab.eval.evaluator import MTEBEvaluator

    ours = MTEBEvaluator("offline-v1").run(MTEBAdapter(load_reference(), instructions="none", precision="fp32"))
    model = SentenceTransformer(str(reference_path("all-minilm-l6-v2")), device="cpu", local_files_only=True)
    theirs = mteb.evaluate(
        model,
        mteb_tasks(),
        cache=None,
        overwrite_strategy="always",
        show_progress_bar=False,
        encode_kwargs={"batch_size": 32},
        co2_tracker=False,
    )
    reference = {r.task_name: r.get_score() for r in theirs.task_results}
    deltas = {s.task: abs(s.score - reference[s.task]) for s in ours.scores}
    print("parity |delta| per task:", {k: f"{v:.2e}" for k, v in deltas.items()})
    assert set(deltas) == set(reference) and max(deltas.values()) <= 1e-4, deltas


def mteb_tasks():
    from embedlab.eval.suites import resolve_tasks

    return resolve_tasks("offline-v1")
