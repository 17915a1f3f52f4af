"""The verdict rules of the paper's claims, on hand-written comparisons with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from embedlab.study.claims import PAPER_CLAIMS, Claim, claim_tests, evidence_text, verdict

BETTER = Claim("A beats B and C", (("a", "b"), ("a", "c")), ("STS",))
NO_GAIN = Claim("no gain of A over B", (("a", "b"),), ("STS", "Clustering"), kind="no_gain")
LEARNED = {"a": 4, "b": 4, "c": 3}


def comparisons(rows) -> pd.DataFrame:
    """(a, b, category, delta, p) -> Study.category_results' per-example columns, interval delta +- 0.01."""
    return pd.DataFrame(
        [
            {"a": a, "b": b, "category": c, "ex_delta": d, "ex_low": d - 0.01, "ex_high": d + 0.01, "ex_p": p}
            for a, b, c, d, p in rows
        ]
    )


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("a", "b", "STS", 0.05, 0.001), ("a", "c", "STS", 0.04, 0.002)], "supported"),
        ([("a", "b", "STS", 0.05, 0.001), ("a", "c", "STS", 0.04, 0.5)], "partly supported"),
        ([("a", "b", "STS", -0.05, 0.001), ("a", "c", "STS", 0.01, 0.5)], "contradicted"),
        ([("a", "b", "STS", 0.05, 0.2), ("a", "c", "STS", 0.04, 0.3)], "not supported"),
        # Holm over the claim's 2 tests: 0.03 alone passes 0.05, but 2 x 0.03 = 0.06 does not
        ([("a", "b", "STS", 0.05, 0.03), ("a", "c", "STS", 0.04, 0.03)], "not supported"),
    ],
)
def test_better_claims_follow_the_rules_after_holm(rows, expected):
    tests = claim_tests(BETTER, comparisons(rows))
    assert verdict(BETTER, tests, LEARNED) == expected


def test_a_pair_stored_the_other_way_round_is_read_with_its_sign_flipped():
    # the study tested (b, a): A - B is minus its delta, and the interval flips with it
    tests = claim_tests(BETTER, comparisons([("b", "a", "STS", -0.05, 0.001), ("a", "c", "STS", 0.04, 0.001)]))
    first = tests.iloc[0]
    assert (first.delta, first.low, first.high) == pytest.approx((0.05, 0.04, 0.06))
    assert verdict(BETTER, tests, LEARNED) == "supported"


def test_no_gain_claims_fail_only_on_a_significant_gain():
    worse = comparisons([("a", "b", "STS", -0.05, 0.001), ("a", "b", "Clustering", 0.01, 0.4)])
    assert verdict(NO_GAIN, claim_tests(NO_GAIN, worse), LEARNED) == "supported"
    gain = comparisons([("a", "b", "STS", 0.05, 0.001), ("a", "b", "Clustering", 0.01, 0.4)])
    assert verdict(NO_GAIN, claim_tests(NO_GAIN, gain), LEARNED) == "not supported"


def test_a_variant_that_did_not_learn_makes_its_claims_untestable():
    tests = claim_tests(BETTER, comparisons([("a", "b", "STS", 0.05, 0.001), ("a", "c", "STS", 0.04, 0.001)]))
    assert verdict(BETTER, tests, {**LEARNED, "c": 2}) == "not testable at this scale"


def test_a_missing_comparison_makes_the_claim_untestable_instead_of_passing():
    tests = claim_tests(BETTER, comparisons([("a", "b", "STS", 0.05, 0.001)]))
    assert tests["p"].isna().sum() == 1
    assert verdict(BETTER, tests, LEARNED) == "not testable at this scale"


def test_the_evidence_line_names_each_test_with_its_corrected_p():
    tests = claim_tests(BETTER, comparisons([("a", "b", "STS", 0.05, 0.001), ("a", "c", "STS", 0.04, 0.002)]))
    assert evidence_text(tests) == (
        "A - B, STS: +0.0500 [+0.0400, +0.0600], p adj 0.002; A - C, STS: +0.0400 [+0.0300, +0.0500], p adj 0.002"
    )


def test_the_paper_claims_name_the_paper_models():
    named = {v for claim in PAPER_CLAIMS for pair in claim.pairs for v in pair}
    assert named == {
        "m1_eos_causal",
        "m2_lastlayer_causal",
        "m3_multilayer_causal",
        "m4_lastlayer_bidir",
        "m5_multilayer_bidir",
    }
