"""The design under test: which variant is the baseline and which pairs are compared.

The study is an attention x pooling design (Tang & Yang 2024: EOS-last / last-layer / multi-layer
pooling under causal and bidirectional attention). Besides every variant against the baseline
(Table 2), the paper compares pooling heads under each attention policy and attention policies
under each pooling head; those groups are the pairwise families here. Run directories carry the
factors in run.json (`attention`, `pooling`), so the families follow from the runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import pandas as pd

from embedlab.analysis.errors import AnalysisError, suggest
from embedlab.analysis.runs import RunSet


def resolve_baseline(name: str, variants: Sequence[str]) -> str:
    """Find the baseline variant: exact name, `name_...` (so `m1` finds `m1_eos_causal`), or unique prefix.

    Args:
        name: What the user passed as --baseline.
        variants: Variant names in the runs.

    Returns:
        The variant name.
    """
    if name in variants:
        return name
    for candidates in ([v for v in variants if v.startswith(name + "_")], [v for v in variants if v.startswith(name)]):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise AnalysisError(f"baseline {name!r} is ambiguous: matches {', '.join(candidates)}")
    raise AnalysisError(
        f"baseline {name!r} is not a variant of these runs; variants: {', '.join(variants)}.{suggest(name, variants)}"
    )


def design_pairs(variants: Sequence[str], design: pd.DataFrame) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Comparisons with the baseline (variants[0]) and within the attention x pooling design.

    Args:
        variants: Variants, baseline first.
        design: variant -> attention, pooling.

    Returns:
        The pairs (A, B) with A after B in `variants`, and the pairwise families.
    """
    families: dict[str, list[str]] = {}
    for factor, other in (("attention", "pooling"), ("pooling", "attention")):
        for level in sorted(design[factor].unique()):
            members = [v for v in variants if design.loc[v, factor] == level]
            if len(members) >= 2:
                families[f"{other} | {factor}={level}"] = members
    if not families and len(variants) > 2:
        families["all pairs"] = list(variants)
    rank = {v: i for i, v in enumerate(variants)}
    pairs = {(v, variants[0]) for v in variants[1:]}
    for members in families.values():
        pairs.update((b, a) if rank[a] < rank[b] else (a, b) for a, b in combinations(members, 2))
    return sorted(pairs, key=lambda p: (rank[p[1]], rank[p[0]])), families


def seeds_by_variant(runset: RunSet, variants: Sequence[str]) -> tuple[dict[str, list[int]], list[str]]:
    """Seeds the per-example tests pair: those every variant has, else each variant's first k in order.

    Args:
        runset: The runs.
        variants: Variants compared.

    Returns:
        Variant -> seeds (equal lengths, paired by position), and notes on seeds left out.
    """
    seeds = {v: sorted(r.seed for r in runset.runs_of(v)) for v in variants}
    common = sorted(set.intersection(*(set(s) for s in seeds.values())))
    if common:
        dropped = {v: sorted(set(s) - set(common)) for v, s in seeds.items() if set(s) - set(common)}
        notes = (
            [f"Per-example tests use the seeds all variants share ({common}); not used: {dropped}."] if dropped else []
        )
        return {v: common for v in variants}, notes
    k = min(len(s) for s in seeds.values())
    note = f"No seed is shared by all variants: per-example tests pair each variant's first {k} seed(s) in order."
    return {v: s[:k] for v, s in seeds.items()}, [note]
