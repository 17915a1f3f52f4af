"""Run every test for every comparison a report needs: the study's numbers, before any formatting.

Comparisons: each variant against the baseline (the paper's Table 2), and within the design's
factors, pooling heads under each attention policy and attention policies under each pooling head
(the paper's Tables 3-4). Each pair (A, B), with A after B in the variant order and delta = A - B,
gets per category:

- the paper's protocol: Wilcoxon over per-task main scores (seed-averaged), rank-biserial
  correlation and the mean per-task delta with its t interval;
- per-example evidence pooled over the category's tasks: the category delta is the mean of the
  per-task deltas; its bootstrap replicate r is the mean of the tasks' replicates r, and its null
  replicate r the mean of the tasks' randomisation replicates r. Tasks are independent data sets
  with independent streams, so these are valid draws of the joint resampling / randomisation;
- across seeds: P(A > B) with its exact interval and exact test (sign test over paired seeds),
  the number of seeds that test needs to reach alpha, and eps_min of ASO, on the runs' category
  averages.

p-values here are raw; `tables` corrects them per table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from embedlab.analysis.design import design_pairs, resolve_baseline, seeds_by_variant
from embedlab.analysis.effects import mean_difference, rank_biserial
from embedlab.analysis.errors import AnalysisError, DamagedFileError
from embedlab.analysis.evidence import pair_null, task_evidence
from embedlab.analysis.examples import KIND_BY_TYPE, load_task_examples
from embedlab.analysis.protocol import wilcoxon_test
from embedlab.analysis.randomisation import permutation_pvalue
from embedlab.analysis.resampling import percentile_interval, stable_seed
from embedlab.analysis.runs import CATEGORY_ORDER, RunSet
from embedlab.analysis.seeds import aso, min_seeds, prob_outperform

SCORE_TOLERANCE = 1e-4  # results JSON holds 6 decimals; anything larger is a real mismatch


@dataclass
class Study:
    """Every number behind a report.

    Args:
        runset: The loaded runs.
        baseline: Baseline variant.
        variants: Variants, baseline first.
        design: variant -> attention, pooling.
        categories: Categories present, in the paper's order.
        task_scores: Seed-averaged main score per (variant, task), with category.
        pairs: Comparisons (A, B), A after B in `variants`.
        families: Pairwise families: name -> member variants (pooling under an attention policy,
            attention under a pooling head).
        category_results: One row per (a, b, category).
        task_results: One row per (a, b, task) with per-example results.
        notes: Sentences for the report.
        settings: Parameters of the run (alpha, resamples, seed, ...).
    """

    runset: RunSet
    baseline: str
    variants: list[str]
    design: pd.DataFrame
    categories: list[str]
    task_scores: pd.DataFrame
    pairs: list[tuple[str, str]]
    families: dict[str, list[str]]
    category_results: pd.DataFrame
    task_results: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Plan:
    # What every comparison needs: the runs, the pairs and the resampling settings.
    runset: RunSet
    variants: list[str]
    pairs: list[tuple[str, str]]
    seed: int
    n_resamples: int
    n_permutations: int
    alpha: float
    n_jobs: int | None
    task_scores: pd.DataFrame
    run_scores: dict[tuple[str, str], pd.Series]


def _per_example(plan: _Plan) -> tuple[pd.DataFrame, dict, list[str]]:
    # Per task: bootstrap every variant on shared resamples, randomisation test per pair; pool per category.
    runset, variants, pairs, seed = plan.runset, plan.variants, plan.pairs, plan.seed
    seeds, notes = seeds_by_variant(runset, variants)
    stored = runset.scores.set_index(["variant", "seed", "task"])["score"]
    category_of = runset.scores.drop_duplicates("task").set_index("task")["category"]
    rows, pooled = [], {}
    runs = [r for v in variants for r in runset.runs_of(v) if r.seed in seeds[v]]
    for task in runset.tasks:
        task_type = runset.scores.loc[runset.scores.task == task, "task_type"].iloc[0]
        if task_type not in KIND_BY_TYPE:
            notes.append(
                f"{task}: no per-example test for task type {task_type} (supported: {', '.join(KIND_BY_TYPE)})."
            )
            continue
        try:
            ex = load_task_examples(runs, task)
        except DamagedFileError:
            raise  # a damaged file is refused, not skipped: nothing read from it can be trusted
        except AnalysisError as err:
            notes.append(f"{task}: per-example tests skipped ({err}).")
            continue
        for (variant, s), value in ex.main_scores().items():
            if abs(value - float(stored[(variant, s, task)])) > SCORE_TOLERANCE:
                notes.append(
                    f"{variant} seed {s}, {task}: main score {float(stored[(variant, s, task)]):.6f} in results/ "
                    f"but {value:.6f} recomputed from predictions/."
                )
        outputs = {v: ex.stack(v, seeds[v]) for v in variants}
        evidence = task_evidence(ex, outputs, plan.n_resamples, seed, n_jobs=plan.n_jobs)
        observed = evidence.observed
        for a, b in pairs:
            boot = evidence.replicates[a] - evidence.replicates[b]
            null = pair_null(ex, outputs[a], outputs[b], (a, b), plan.n_permutations, seed, n_jobs=plan.n_jobs)
            delta = observed[a] - observed[b]
            low, high = percentile_interval(boot, plan.alpha)
            category = category_of[task]
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "category": category,
                    "task": task,
                    "kind": ex.kind,
                    "n_examples": ex.ids.size,
                    "score_a": observed[a],
                    "score_b": observed[b],
                    "delta": delta,
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "p": permutation_pvalue(delta, null),
                }
            )
            acc = pooled.setdefault((a, b, category), {"delta": 0.0, "boot": 0.0, "null": 0.0, "tasks": 0, "n": 0})
            acc["delta"] += delta
            acc["boot"] = acc["boot"] + boot
            acc["null"] = acc["null"] + null
            acc["tasks"] += 1
            acc["n"] += int(ex.ids.size)
    columns = [
        "a",
        "b",
        "category",
        "task",
        "kind",
        "n_examples",
        "score_a",
        "score_b",
        "delta",
        "ci_low",
        "ci_high",
        "p",
    ]
    return pd.DataFrame(rows, columns=columns), pooled, notes


def _category_row(plan: _Plan, a: str, b: str, category: str, pooled: dict) -> dict[str, Any]:
    # Every test of one pair in one category: Wilcoxon over tasks, pooled per-example, across seeds.
    scores, alpha, seed = plan.task_scores, plan.alpha, plan.seed
    sub = scores[scores.category == category].pivot(index="task", columns="variant", values="score")
    w = wilcoxon_test(sub[a].to_numpy(), sub[b].to_numpy())
    md = mean_difference(sub[a].to_numpy(), sub[b].to_numpy(), confidence=1 - alpha)
    row: dict[str, Any] = {
        "a": a,
        "b": b,
        "category": category,
        "n_tasks": w.n,
        "score_a": float(sub[a].mean()),
        "score_b": float(sub[b].mean()),
        "delta": md.delta,
        "delta_low": md.ci_low,
        "delta_high": md.ci_high,
        "w_n_nonzero": w.n_nonzero,
        "w_statistic": w.statistic,
        "w_p": w.pvalue,
        "w_min_p": w.min_pvalue,
        "w_method": w.method,
        "rank_biserial": rank_biserial(sub[a].to_numpy(), sub[b].to_numpy()),
    }
    acc = pooled.get((a, b, category))
    if acc is None:
        row.update(ex_tasks=0, ex_n=0, ex_delta=np.nan, ex_low=np.nan, ex_high=np.nan, ex_p=np.nan)
    else:
        k = acc["tasks"]
        low, high = percentile_interval(acc["boot"] / k, alpha)
        row.update(
            ex_tasks=k,
            ex_n=acc["n"],
            ex_delta=acc["delta"] / k,
            ex_low=float(low),
            ex_high=float(high),
            ex_p=permutation_pvalue(acc["delta"] / k, acc["null"] / k),
        )
    ra, rb = plan.run_scores[(a, category)], plan.run_scores[(b, category)]
    # Seed level: runs are the units (training variance); exact tests, so no resampling seed is needed.
    paired = list(ra.index) == list(rb.index)
    pab = prob_outperform(ra.to_numpy(), rb.to_numpy(), paired=paired, confidence=1 - alpha)
    row.update(
        runs_a=len(ra),
        runs_b=len(rb),
        seed_paired=paired,
        p_a_gt_b=pab.p,
        p_low=pab.ci_low,
        p_high=pab.ci_high,
        seed_p=pab.pvalue,
        seed_min_p=pab.min_pvalue,
        seed_min_runs=pab.min_runs,
        seed_method=pab.method,
        aso_eps=np.nan,
        aso_eps_reverse=np.nan,
        aso_min_runs=min_seeds(alpha),
    )
    if len(ra) >= 2 and len(rb) >= 2:
        eps = aso(ra.to_numpy(), rb.to_numpy(), confidence=1 - alpha, seed=stable_seed(seed, "aso", a, b, category))
        rev = aso(rb.to_numpy(), ra.to_numpy(), confidence=1 - alpha, seed=stable_seed(seed, "aso", b, a, category))
        row.update(aso_eps=eps.eps_min, aso_eps_reverse=rev.eps_min)
    return row


def run_study(
    runset: RunSet,
    baseline: str,
    *,
    alpha: float = 0.05,
    n_resamples: int = 10_000,
    n_permutations: int | None = None,
    seed: int = 0,
    n_jobs: int | None = None,
) -> Study:
    """Compute every comparison of a report.

    Args:
        runset: Runs from `load_runs`.
        baseline: Baseline variant name (or a prefix such as `m1`).
        alpha: Level of the tests and 1 - coverage of the intervals.
        n_resamples: Bootstrap resamples per task.
        n_permutations: Randomisation-test permutations per task and pair (default: n_resamples).
        seed: Seed of every resampling; the same seed gives identical numbers.
        n_jobs: Threads (None: all CPUs); does not change the numbers.

    Returns:
        The study.
    """
    names = runset.variants
    base = resolve_baseline(baseline, names)
    variants = [base] + [v for v in names if v != base]
    if len(variants) < 2:
        raise AnalysisError(f"need at least two variants to compare, found only {base!r}")
    design = runset.design()
    pairs, families = design_pairs(variants, design)
    tidy = runset.scores
    task_scores = tidy.groupby(["variant", "category", "task"], as_index=False)["score"].mean()
    present = list(dict.fromkeys(tidy.category))
    categories = [c for c in CATEGORY_ORDER if c in present] + sorted(set(present) - set(CATEGORY_ORDER))
    run_means = tidy.groupby(["variant", "category", "seed"])["score"].mean()
    run_scores = {(v, c): run_means.loc[(v, c)] for v in variants for c in categories}
    plan = _Plan(
        runset,
        variants,
        pairs,
        seed,
        n_resamples,
        n_permutations or n_resamples,
        alpha,
        n_jobs,
        task_scores,
        run_scores,
    )
    task_results, pooled, notes = _per_example(plan)
    rows = [_category_row(plan, a, b, c, pooled) for a, b in pairs for c in categories]
    settings = {"alpha": alpha, "n_resamples": n_resamples, "n_permutations": plan.n_permutations, "seed": seed}
    return Study(
        runset,
        base,
        variants,
        design,
        categories,
        task_scores,
        pairs,
        families,
        pd.DataFrame(rows),
        task_results,
        list(runset.notes) + notes,
        settings,
    )
