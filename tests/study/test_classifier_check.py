"""The classification ranking under mteb's classifier and with standardised embeddings."""

from __future__ import annotations

from embedlab.analysis.synthetic import SyntheticVariant, write_synthetic_runs
from embedlab.study.classifier_check import ranking_markdown, ranking_table

TASKS = (("SynClassification1", "Classification"), ("SynSTS1", "STS"))
NAMES = ("m1_eos_causal", "m2_lastlayer_causal", "m3_multilayer_causal")


def runs(root, shifts):
    variants = [
        SyntheticVariant(n, "Causal", "LastToken", {"Classification": s}) for n, s in zip(NAMES, shifts, strict=True)
    ]
    write_synthetic_runs(root, variants=variants, seeds=[0], tasks=TASKS, sizes={"Classification": 300, "STS": 50})
    return {n: root / f"{n}_s0" for n in NAMES}


def test_a_reversed_ranking_is_reported_with_both_leaders(tmp_path):
    logistic = runs(tmp_path / "a", (3.0, 0.0, -3.0))
    standardised = runs(tmp_path / "b", (-3.0, 0.0, 3.0))
    table, tau = ranking_table(logistic, standardised)
    assert table.index.tolist() == list(NAMES)  # sorted by mteb's ranking
    assert table["logistic rank"].tolist() == [1, 2, 3]
    assert table["standardised-logistic rank"].tolist() == [3, 2, 1]
    assert tau == -1.0
    text = ranking_markdown(table, tau)
    assert (
        "changes the ranking (Kendall's tau -1.00; first: m1_eos_causal with mteb's classifier, m3_multilayer_causal"
        in text
    )


def test_the_same_ranking_keeps_mtebs_classifier_for_the_headline(tmp_path):
    table, tau = ranking_table(runs(tmp_path / "a", (3.0, 0.0, -3.0)), runs(tmp_path / "b", (2.0, 0.5, -2.0)))
    assert tau == 1.0
    assert "does not change the ranking (Kendall's tau +1.00)" in ranking_markdown(table, tau)
