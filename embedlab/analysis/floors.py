"""Each trained variant against its own untrained floor: did training help, per category, per example?

The floor of a variant is the same backbone with the same attention policy and pooling head before
training (for a trainable head: its seeded initialisation). A trained model that does not beat its
floor has not learned anything a comparison between designs could be about, so a study's findings
rest on this check first.

Each (trained, floor) pair is one `run_study` of two runs (the same per-example tests as Table 2:
paired bootstrap interval and randomisation test pooled over a category's tasks); the p-values of
every variant and category are then corrected together as one family.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from embedlab.analysis.compare import run_study
from embedlab.analysis.multiple import CORRECTIONS, adjust_pvalues
from embedlab.analysis.runs import load_runs
from embedlab.analysis.tables import ADJ_MARK, RAW_MARK, VARIANCE_EXAMPLES, Table, fmt_interval, fmt_p, marks

# Floors are evaluated without training: no training mix and 0 steps in their run.json.
FLOOR_MISMATCH = ("train_mix", "train_mix_fingerprint", "max_steps")


def floor_comparisons(
    pairs: Mapping[str, tuple[str | Path, str | Path]],
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    n_resamples: int = 10_000,
    seed: int = 0,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Per-example tests of every trained run against its floor, corrected as one family.

    Args:
        pairs: variant -> (trained run directory, floor run directory).
        alpha: Level of the tests and 1 - interval coverage.
        correction: `holm`, `fdr_bh` or `bonferroni`, over all variants x categories.
        n_resamples: Bootstrap resamples and permutations per task.
        seed: Seed of every resampling.
        n_jobs: Threads (None: all CPUs); does not change the numbers.

    Returns:
        One row per (variant, category): trained and floor scores, delta with its interval, raw and
        adjusted p, and `beats_floor` (delta > 0 and adjusted p < alpha).
    """
    rows = []
    for variant, (trained, floor) in pairs.items():
        runset = load_runs([trained, floor], allow_mismatch=FLOOR_MISMATCH)
        floor_name = next(r.variant for r in runset.runs if Path(r.path) == Path(floor))
        study = run_study(runset, floor_name, alpha=alpha, n_resamples=n_resamples, seed=seed, n_jobs=n_jobs)
        for r in study.category_results.itertuples():
            rows.append(
                {
                    "variant": variant,
                    "category": r.category,
                    "trained": r.score_a,
                    "floor": r.score_b,
                    "delta": r.ex_delta,
                    "low": r.ex_low,
                    "high": r.ex_high,
                    "p": r.ex_p,
                    "tasks": r.ex_tasks,
                    "examples": r.ex_n,
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    _, frame["p_adj"] = adjust_pvalues(frame["p"].to_numpy(dtype=float), correction, alpha)
    frame["beats_floor"] = (frame["delta"] > 0) & (frame["p_adj"] < alpha)
    return frame


def floor_table(frame: pd.DataFrame, *, alpha: float = 0.05, correction: str = "holm", n_resamples: int) -> Table:
    """The floor comparisons as one table: a cell per (variant, category), and how many categories it beats.

    Args:
        frame: `floor_comparisons`' result.
        alpha: Level the marks use.
        correction: The correction `frame` was adjusted with.
        n_resamples: Resamples and permutations used (for the caption).
    """
    categories = list(dict.fromkeys(frame["category"]))
    records = []
    for _, rows in frame.groupby("variant", sort=False):
        record: dict[str, str | int] = {}
        for r in rows.itertuples():
            cell = fmt_interval(r.delta, r.low, r.high)
            record[r.category] = cell if cell == "-" else cell + marks(r.p, r.p_adj, alpha)
        record["beats floor in"] = f"{int(rows['beats_floor'].sum())} of {len(rows)}"
        records.append(record)
    table = pd.DataFrame(records, index=pd.Index(list(dict.fromkeys(frame["variant"])), name="Model"))
    table = table[[*categories, "beats floor in"]]
    caption = (
        f"{VARIANCE_EXAMPLES} Trained model minus its own untrained floor (same attention and pooling, before "
        f"training), per-example tests pooled over each category's tasks: mean per-task delta, "
        f"{100 * (1 - alpha):.0f}% percentile bootstrap interval ({n_resamples} resamples), two-sided randomisation "
        f"test ({n_resamples} permutations). {RAW_MARK}: p < {alpha} uncorrected; {ADJ_MARK}: p < {alpha} after "
        f"{CORRECTIONS[correction]} over all {len(frame)} comparisons of this table. A category counts as beaten "
        f"when the delta is positive and {ADJ_MARK} holds."
    )
    numbers = frame.assign(p_text=frame["p"].map(fmt_p), p_adj_text=frame["p_adj"].map(fmt_p))
    return Table("floors", "Every trained model against its untrained floor", table, caption, numbers)


def categories_beaten(frame: pd.DataFrame) -> pd.Series:
    """variant -> number of categories in which it beats its floor."""
    return frame.groupby("variant", sort=False)["beats_floor"].sum().astype(int)
