"""Baseline resolution and the attention x pooling comparison families."""

from __future__ import annotations

import pandas as pd
import pytest

from embedlab.analysis.design import design_pairs, resolve_baseline
from embedlab.analysis.errors import AnalysisError

VARIANTS = ["m1_eos_causal", "m2_lastlayer_causal", "m3_multilayer_causal", "m4_lastlayer_bidir", "m5_multilayer_bidir"]


def test_resolve_baseline() -> None:
    assert resolve_baseline("m1_eos_causal", VARIANTS) == "m1_eos_causal"
    assert resolve_baseline("m1", VARIANTS) == "m1_eos_causal"
    with pytest.raises(AnalysisError, match="ambiguous"):
        resolve_baseline("m", VARIANTS)
    with pytest.raises(AnalysisError, match="Did you mean 'm1_eos_causal'"):
        resolve_baseline("m1_eos_casual", VARIANTS)


def test_design_pairs_follow_the_paper() -> None:
    design = pd.DataFrame(
        {
            "attention": ["Causal"] * 3 + ["Bidirectional"] * 2,
            "pooling": ["LastToken", "LastLayer", "MultiLayer", "LastLayer", "MultiLayer"],
        },
        index=VARIANTS,
    )
    pairs, families = design_pairs(VARIANTS, design)
    assert families == {
        "pooling | attention=Bidirectional": ["m4_lastlayer_bidir", "m5_multilayer_bidir"],
        "pooling | attention=Causal": ["m1_eos_causal", "m2_lastlayer_causal", "m3_multilayer_causal"],
        "attention | pooling=LastLayer": ["m2_lastlayer_causal", "m4_lastlayer_bidir"],
        "attention | pooling=MultiLayer": ["m3_multilayer_causal", "m5_multilayer_bidir"],
    }
    assert pairs[:4] == [(v, "m1_eos_causal") for v in VARIANTS[1:]]  # Table 2 first
    assert {
        ("m3_multilayer_causal", "m2_lastlayer_causal"),
        ("m5_multilayer_bidir", "m4_lastlayer_bidir"),
        ("m4_lastlayer_bidir", "m2_lastlayer_causal"),
        ("m5_multilayer_bidir", "m3_multilayer_causal"),
    } < set(pairs)
    assert len(pairs) == 8
