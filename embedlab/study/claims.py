"""The paper's claims as tests on a study's comparisons, each with a verdict computed from the numbers.

A claim names pairs (A, B) and categories; its tests are the per-example paired tests of the
study (pooled over a category's tasks), Holm-corrected within the claim. The verdict rules are
fixed here, before any data: nothing in them looks at which answer the paper gave.

- "A beats B" claims: `supported` when every test is positive and significant after correction,
  `partly supported` when some are, `contradicted` when some are significantly negative and none
  positive, `not supported` otherwise.
- "no gain" claims: `supported` when no test is significantly positive, `not supported` otherwise.
- Either kind is `not testable at this scale` when a variant it involves did not beat its own
  untrained floor in at least `min_categories` categories: a model that did not learn says nothing
  about its design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlab.analysis.multiple import adjust_pvalues
from embedlab.analysis.tables import fmt_interval, fmt_p


@dataclass(frozen=True)
class Claim:
    """One claim of the paper.

    Args:
        text: The claim as the paper makes it.
        pairs: (A, B) variant pairs whose delta A - B the claim is about.
        categories: Categories the claim covers.
        kind: `better` (A beats B) or `no_gain` (A does not beat B).
    """

    text: str
    pairs: tuple[tuple[str, str], ...]
    categories: tuple[str, ...]
    kind: str = "better"


PAPER_CLAIMS = (
    Claim(
        "Bidirectional attention with trainable pooling (M4, M5) beats causal EOS pooling (M1) on STS and retrieval",
        (("m4_lastlayer_bidir", "m1_eos_causal"), ("m5_multilayer_bidir", "m1_eos_causal")),
        ("STS", "Retrieval"),
    ),
    Claim(
        "No design (M2-M5) gains significantly over M1 on clustering and classification",
        tuple(
            (v, "m1_eos_causal")
            for v in ("m2_lastlayer_causal", "m3_multilayer_causal", "m4_lastlayer_bidir", "m5_multilayer_bidir")
        ),
        ("Clustering", "Classification"),
        kind="no_gain",
    ),
    Claim(
        "Multi-layer trainable pooling beats last-layer trainable pooling on STS and retrieval (M3 > M2, M5 > M4)",
        (("m3_multilayer_causal", "m2_lastlayer_causal"), ("m5_multilayer_bidir", "m4_lastlayer_bidir")),
        ("STS", "Retrieval"),
    ),
)


def claim_tests(claim: Claim, comparisons: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """The claim's tests, Holm-corrected together.

    Args:
        claim: The claim.
        comparisons: `Study.category_results` (columns a, b, category, ex_delta, ex_low, ex_high, ex_p).
        alpha: Family-wise error rate.

    Returns:
        One row per (pair, category): delta with interval (sign as the claim reads it), raw and adjusted p.
    """
    rows = []
    for a, b in claim.pairs:
        for category in claim.categories:
            row = _lookup(comparisons, a, b, category)
            rows.append({"a": a, "b": b, "category": category, **row})
    frame = pd.DataFrame(rows)
    _, frame["p_adj"] = adjust_pvalues(frame["p"].to_numpy(dtype=float), "holm", alpha)
    frame["significant"] = frame["p_adj"] < alpha
    return frame


def _lookup(comparisons: pd.DataFrame, a: str, b: str, category: str) -> dict:
    # A study tests each pair once, in its own order: flip the sign when it stored (b, a).
    for x, y, sign in ((a, b, 1.0), (b, a, -1.0)):
        hit = comparisons[(comparisons.a == x) & (comparisons.b == y) & (comparisons.category == category)]
        if len(hit):
            r = hit.iloc[0]
            low, high = sorted((sign * r.ex_low, sign * r.ex_high))
            return {"delta": sign * r.ex_delta, "low": low, "high": high, "p": r.ex_p}
    return {"delta": np.nan, "low": np.nan, "high": np.nan, "p": np.nan}


def verdict(claim: Claim, tests: pd.DataFrame, floors_beaten: dict[str, int], min_categories: int = 3) -> str:
    """The claim's verdict from its tests (see the module docstring for the rules).

    Args:
        claim: The claim.
        tests: `claim_tests`' result.
        floors_beaten: variant -> categories in which it beats its untrained floor.
        min_categories: Categories a variant must beat its floor in for the claim to be testable.
    """
    involved = {v for pair in claim.pairs for v in pair}
    if any(floors_beaten.get(v, 0) < min_categories for v in involved) or tests["p"].isna().any():
        return "not testable at this scale"
    up = tests["significant"] & (tests["delta"] > 0)
    down = tests["significant"] & (tests["delta"] < 0)
    if claim.kind == "no_gain":
        return "not supported" if up.any() else "supported"
    if up.all():
        return "supported"
    if up.any():
        return "partly supported"
    return "contradicted" if down.any() else "not supported"


def evidence_text(tests: pd.DataFrame) -> str:
    """The claim's numbers in one line per test: `M4 - M1, STS: +0.0123 [+0.0050, +0.0190], p adj 0.003`."""
    return "; ".join(
        f"{r.a.split('_')[0].upper()} - {r.b.split('_')[0].upper()}, {r.category}: "
        f"{fmt_interval(r.delta, r.low, r.high)}, p adj {fmt_p(r.p_adj)}"
        for r in tests.itertuples()
    )
