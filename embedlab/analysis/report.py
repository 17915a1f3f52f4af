"""Runs directory -> report folder: the orchestration behind `embedlab analyze`.

Writes into the output folder:

- `results.md`: protocol notes, Table 2 (paper protocol and per-example), across-seed table,
  Wilcoxon details, pairwise p-value matrices, per-task table, figures, data notes;
- one `.tex` per table (`pairwise.tex` holds every matrix);
- `forest.png`, `pvalues.png`;
- `scores.csv` (the tidy table), `comparisons.csv` and `per_task.csv` (every raw number).

Same runs, same arguments, same seed: byte-identical files. Each file is written atomically
(`embedlab.io`): an interrupted analysis leaves the previous report's files, never half-written ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from embedlab.analysis.compare import Study, run_study
from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.figures import forest_plot, pvalue_heatmap
from embedlab.analysis.multiple import CORRECTIONS, check_correction
from embedlab.analysis.protocol import ENUMERATE_MAX_N, EXACT_MAX_N
from embedlab.analysis.runs import load_runs
from embedlab.analysis.seeds import min_seeds
from embedlab.analysis.tables import (
    Table,
    pairwise_tables,
    per_task_table,
    seeds_table,
    table2_examples,
    table2_protocol,
    to_latex,
    to_markdown,
    wilcoxon_details,
)
from embedlab.io import atomic_path, atomic_write_text


@dataclass
class Report:
    """What `build_report` computed and wrote.

    Args:
        study: Every number.
        tables: Table name -> table, in report order (pairwise matrices included).
        markdown: Contents of results.md.
        paths: Artefact name -> file written.
        notes: Data and protocol notes shown in the report.
    """

    study: Study
    tables: dict[str, Table]
    markdown: str
    paths: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def table_markdown(self, name: str) -> str:
        """One table as markdown with its title and caption (for notebooks)."""
        return _section(self.tables[name], level=3)


def _section(table: Table, level: int = 2) -> str:
    return f"{'#' * level} {table.title}\n\n{to_markdown(table.frame)}\n\n{table.caption}\n"


def _protocol(study: Study, correction: str) -> list[str]:
    s = study.settings
    return [
        "Paper's protocol: two-sided Wilcoxon signed-rank test (scipy) over the per-task main scores of a category, "
        f"seed-averaged; exact distribution when no zero or tied differences and n <= {EXACT_MAX_N}, exact "
        f"conditional distribution by enumerating all sign patterns when ties or zeros and n <= {ENUMERATE_MAX_N}, "
        "normal approximation otherwise; zero differences dropped. With n tasks the smallest p is 2/2^n.",
        f"Per-example tests: paired bootstrap ({s['n_resamples']} resamples, percentile intervals) and paired "
        f"randomisation test ({s['n_permutations']} permutations, p = (1 + #extreme) / (1 + R)); retrieval and "
        "reranking resample queries (the task's per-query main metric: nDCG@10 for retrieval, MAP@1000 for mteb 2's "
        "reranking), classification test items (correctness in every experiment), STS pairs (Spearman recomputed), "
        "clustering documents (every occurrence in every draw together, V-measure recomputed); within "
        "hf_subsets and clustering sets when a task has them. Category rows pool the tasks: mean of per-task "
        "deltas. The interval and the test are separate procedures and can disagree near the boundary.",
        "Across seeds: P(A > B) over runs (Bouthillier et al. 2021) on each run's category average, with an exact "
        "interval and an exact two-sided test (sign test over paired seeds: smallest p 2/2^n, so at least "
        f"{min_seeds(s['alpha'])} seeds for p < {s['alpha']:g}; fewer, and the table says how many are needed instead "
        "of giving a verdict), and almost stochastic order eps_min (Dror et al. 2019), given no verdict below the "
        "same number of runs.",
        "Sources of variance: the per-example tests hold each trained model fixed and resample the examples of the "
        "test set; the paper's Wilcoxon treats the datasets of a category as the units; only the across-seed table "
        "covers training runs (seed of initialisation and data order). Each table's caption opens with its source.",
        f"Multiple comparisons: {CORRECTIONS[correction]} within each table; alpha = {s['alpha']}; seed = {s['seed']}.",
        f"With {s['n_permutations']} permutations the smallest randomisation p is 1/{s['n_permutations'] + 1} = "
        f"{1 / (s['n_permutations'] + 1):.2g}; Holm or Bonferroni over m comparisons can reject only if "
        "m/(R+1) < alpha.",
    ]


def _header(study: Study) -> str:
    rs = study.runset
    first = rs.runs[0].meta
    lines = [
        "# embedlab analysis report\n",
        f"{len(rs.runs)} runs of {len(study.variants)} variants; backbone `{first['backbone']}`, training mix "
        f"`{first['train_mix']}`, {first['max_steps']} steps, suite `{first['suite']}`; "
        f"{len(rs.tasks)} tasks; baseline `{study.baseline}`.\n",
        "| Model | Attention | Pooling | Seeds |",
        "|---|---|---|---|",
    ]
    for v in study.variants:
        seeds = ", ".join(str(r.seed) for r in rs.runs_of(v))
        lines.append(f"| {v} | {study.design.loc[v, 'attention']} | {study.design.loc[v, 'pooling']} | {seeds} |")
    return "\n".join(lines) + "\n"


def build_report(
    runs_dir: str | Path,
    out_dir: str | Path,
    *,
    baseline: str,
    alpha: float = 0.05,
    correction: str = "holm",
    n_resamples: int = 10_000,
    n_permutations: int | None = None,
    seed: int = 0,
    allow_mismatch: Iterable[str] = (),
    allow_incomplete: bool = False,
    n_jobs: int | None = None,
    figures: bool = True,
) -> Report:
    """Load runs, run every test, write the report folder.

    Args:
        runs_dir: Folder of run directories.
        out_dir: Report folder (created).
        baseline: Baseline variant (name or prefix, e.g. `m1`).
        alpha: Significance level and 1 - interval coverage.
        correction: `holm` or `fdr_bh` (or `bonferroni`).
        n_resamples: Bootstrap resamples per task.
        n_permutations: Randomisation permutations per task and pair (default: n_resamples).
        seed: Seed of all resampling.
        allow_mismatch: Provenance fields allowed to differ between runs.
        allow_incomplete: Use only tasks common to all runs instead of refusing incomplete runs.
        n_jobs: Threads (None: all CPUs); does not change any number.
        figures: Render forest.png and pvalues.png (about half the run time on a small study).

    Returns:
        The report, with the paths written.
    """
    check_correction(correction)
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"alpha must be in (0, 1), got {alpha}")
    for name, value in (("n_resamples", n_resamples), ("n_permutations", n_permutations)):
        if value is not None and value < 1:
            raise AnalysisError(f"{name} must be at least 1, got {value}")
    runset = load_runs(runs_dir, allow_mismatch=allow_mismatch, allow_incomplete=allow_incomplete)
    study = run_study(
        runset, baseline, alpha=alpha, n_resamples=n_resamples, n_permutations=n_permutations, seed=seed, n_jobs=n_jobs
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    main = [
        table2_protocol(study, correction, alpha),
        table2_examples(study, correction, alpha),
        seeds_table(study, correction, alpha),
        wilcoxon_details(study, correction, alpha),
    ]
    pairwise, pair_numbers = pairwise_tables(study, correction, alpha)
    per_task = per_task_table(study, correction, alpha)
    tables = {t.name: t for t in [*main, *pairwise, per_task]}
    paths: dict[str, Path] = {}
    if figures:
        paths["forest"] = out / "forest.png"
        forest_plot(main[1].numbers, study.variants, study.categories, study.baseline, alpha, paths["forest"])
        paths["pvalues"] = out / "pvalues.png"
        pvalue_heatmap(pair_numbers, study.families, study.categories, alpha, paths["pvalues"])
    for table in [*main, per_task]:
        paths[table.name] = out / f"{table.name}.tex"
        atomic_write_text(paths[table.name], to_latex(table))
    paths["pairwise"] = out / "pairwise.tex"
    atomic_write_text(paths["pairwise"], "\n".join(to_latex(t) for t in pairwise))
    for name, frame in (
        ("scores", runset.scores),
        ("comparisons", study.category_results),
        ("per_task_numbers", study.task_results),
    ):
        paths[name] = out / f"{name}.csv"
        with atomic_path(paths[name]) as temporary:
            frame.to_csv(temporary, index=False, float_format="%.10g")
    notes = list(study.notes)
    family = max(len(t.numbers) for t in main if t.numbers is not None)
    if correction != "fdr_bh" and family / (study.settings["n_permutations"] + 1) >= alpha:
        notes.append(
            f"{study.settings['n_permutations']} permutations are too few for {family} corrected comparisons: "
            "no per-example test can be significant after correction; raise --n-permutations."
        )
    parts = [_header(study), "## Protocol\n", "\n".join(f"- {p}" for p in _protocol(study, correction)) + "\n"]
    parts += [_section(t) for t in main]
    parts.append("## Pairwise p-values\n")
    parts.append("Pooling heads compared under each attention policy, attention policies under each pooling head.\n")
    parts += [_section(t, level=3) for t in pairwise]
    parts.append(_section(per_task))
    if figures:
        parts.append("## Figures\n\n![Forest plot](forest.png)\n\n![Pairwise p-values](pvalues.png)\n")
    parts.append(
        "## Data notes\n\n"
        + (
            "\n".join(f"- {n}" for n in notes)
            if notes
            else "- none: every run complete, provenance identical, predictions match the results JSON."
        )
        + "\n"
    )
    markdown = "\n".join(parts)
    paths["results"] = out / "results.md"
    atomic_write_text(paths["results"], markdown)
    return Report(study=study, tables=tables, markdown=markdown, paths=paths, notes=notes)
