"""Report tables: the paper's Table 2 layout, pairwise p-value matrices, per-task and per-seed tables.

Each table is one family for the multiple-comparison correction: its raw p-values are adjusted
together (Holm or Benjamini-Hochberg), and cells carry two marks, `*` for p < alpha before
correction (what the paper starred) and `†` for p < alpha after it. Every table keeps its numbers
in long form (`Table.numbers`, raw and adjusted p) next to the formatted cells (`Table.frame`).
Every caption opens with the source of variance its test covers (`VARIANCE_*`): examples of the
test set with each trained model held fixed, datasets of a category, or training runs.
Markdown is written here (pandas' `to_markdown` needs `tabulate`); LaTeX uses `DataFrame.to_latex`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlab.analysis.compare import Study
from embedlab.analysis.multiple import CORRECTIONS, adjust_pvalues
from embedlab.analysis.seeds import ASO_TAU, min_seeds

RAW_MARK, ADJ_MARK = "*", "†"

# Which source of variance a table's test covers: one sentence next to every table.
VARIANCE_EXAMPLES = (
    "Variance covered: examples of the test set, with each trained model held fixed (averaged over its "
    "seeds), so it says nothing about what another training run would score."
)
VARIANCE_DATASETS = (
    "Variance covered: datasets of the category (one seed-averaged main score per task), not test-set examples "
    "within a task and not training runs."
)
VARIANCE_SEEDS = (
    "Variance covered: training runs (seed of initialisation and data order), with the test set held fixed "
    "(one category average per run)."
)
VARIANCE_PAIRWISE = (
    "Variance covered: upper triangle, examples of the test set with each trained model held fixed; lower "
    "triangle, datasets of the category."
)


@dataclass
class Table:
    """One formatted table and the numbers behind it.

    Args:
        name: File stem (`<name>.tex`) and anchor.
        title: Heading.
        frame: Formatted cells, as rendered.
        caption: Legend: test, correction, family size, marks.
        numbers: Long-form numbers (raw and adjusted p-values), or None.
    """

    name: str
    title: str
    frame: pd.DataFrame
    caption: str
    numbers: pd.DataFrame | None = None


def fmt_p(p: float) -> str:
    """A p-value with 2 significant digits, `<1e-4` below that, `-` when missing."""
    if p is None or np.isnan(p):
        return "-"
    return "<1e-4" if p < 1e-4 else f"{p:.2g}"


def fmt_interval(delta: float, low: float, high: float) -> str:
    """`+0.0123 [+0.0050, +0.0190]`; the interval is left out when undefined (one task), `-` with no delta."""
    if np.isnan(delta):
        return "-"
    if np.isnan(low) or np.isnan(high):
        return f"{delta:+.4f}"
    return f"{delta:+.4f} [{low:+.4f}, {high:+.4f}]"


def marks(p_raw: float, p_adj: float, alpha: float) -> str:
    """`*` if p_raw < alpha, plus `†` if p_adj < alpha."""
    out = RAW_MARK if p_raw < alpha else ""
    return out + (ADJ_MARK if p_adj < alpha else "")


def _legend(alpha: float, correction: str, family: int, test: str) -> str:
    return (
        f"{test}. {RAW_MARK}: p < {alpha} uncorrected; {ADJ_MARK}: p < {alpha} after {CORRECTIONS[correction]} "
        f"over the {family} comparisons of this table."
    )


def _vs_baseline(study: Study, column: str, correction: str, alpha: float) -> pd.DataFrame:
    rows = study.category_results[study.category_results.b == study.baseline].copy()
    _, rows[column + "_adj"] = adjust_pvalues(rows[column].to_numpy(dtype=float), correction, alpha)
    return rows


def _layout(study: Study, cell: dict[tuple[str, str], str]) -> pd.DataFrame:
    base = study.task_scores[study.task_scores.variant == study.baseline].groupby("category")["score"].mean()
    records = []
    for v in study.variants:
        rec = {"Pooling": study.design.loc[v, "pooling"], "Attention": study.design.loc[v, "attention"]}
        for c in study.categories:
            rec[c] = f"{base[c]:.4f}" if v == study.baseline else cell[(v, c)]
        records.append(rec)
    return pd.DataFrame(records, index=pd.Index(study.variants, name="Model"))


def _task_counts(study: Study) -> str:
    rows = study.category_results.drop_duplicates("category").set_index("category")
    parts = []
    for c in study.categories:
        n, min_p = int(rows.loc[c, "n_tasks"]), float(rows.loc[c, "w_min_p"])
        parts.append(
            f"{c} n={n} (min p {min_p:.2g}{', cannot reach p < alpha' if min_p >= study.settings['alpha'] else ''})"
        )
    return "; ".join(parts)


def table2_protocol(study: Study, correction: str, alpha: float) -> Table:
    """Table 2 as the paper laid it out, significance from the paper's Wilcoxon protocol."""
    rows = _vs_baseline(study, "w_p", correction, alpha)
    cell = {(r.a, r.category): f"{r.delta:+.4f}{marks(r.w_p, r.w_p_adj, alpha)}" for r in rows.itertuples()}
    caption = (
        f"{VARIANCE_DATASETS} Baseline {study.baseline}: seed-averaged mean main score per category; other rows: "
        "difference from it. "
        + _legend(
            alpha,
            correction,
            len(rows),
            "Two-sided Wilcoxon signed-rank over per-task main scores within the category (the paper's test)",
        )
        + f" Tasks per category and smallest achievable p: {_task_counts(study)}."
    )
    return Table(
        "table2_wilcoxon", "Table 2 - paper protocol (Wilcoxon over tasks)", _layout(study, cell), caption, rows
    )


def table2_examples(study: Study, correction: str, alpha: float) -> Table:
    """Table 2 with per-example evidence: delta, bootstrap interval, randomisation-test marks."""
    rows = _vs_baseline(study, "ex_p", correction, alpha)
    cell = {}
    for r in rows.itertuples():
        text = fmt_interval(r.ex_delta, r.ex_low, r.ex_high)
        cell[(r.a, r.category)] = text if text == "-" else text + marks(r.ex_p, r.ex_p_adj, alpha)
    s = study.settings
    caption = (
        f"{VARIANCE_EXAMPLES} Per-example paired tests pooled over each category's tasks: mean per-task delta, "
        f"{100 * (1 - alpha):.0f}% percentile bootstrap interval ({s['n_resamples']} resamples of examples), "
        + _legend(alpha, correction, len(rows), f"two-sided randomisation test ({s['n_permutations']} permutations)")
    )
    return Table("table2_examples", "Table 2 - per-example tests", _layout(study, cell), caption, rows)


def wilcoxon_details(study: Study, correction: str, alpha: float) -> Table:
    """Every baseline comparison of the paper's protocol: n, statistic, p, smallest possible p, effect sizes."""
    rows = _vs_baseline(study, "w_p", correction, alpha)
    frame = pd.DataFrame(
        {
            "Model": rows.a,
            "Category": rows.category,
            "n": rows.n_tasks,
            "n nonzero": rows.w_n_nonzero,
            "W": rows.w_statistic.map(lambda w: "-" if np.isnan(w) else f"{w:g}"),
            "p": rows.w_p.map(fmt_p),
            "min p": rows.w_min_p.map(fmt_p),
            "p adj": rows.w_p_adj.map(fmt_p),
            "method": rows.w_method,
            "rank-biserial": rows.rank_biserial.map(lambda x: f"{x:+.2f}"),
            f"mean delta [{100 * (1 - alpha):.0f}% t]": [
                fmt_interval(d, lo, hi) for d, lo, hi in zip(rows.delta, rows.delta_low, rows.delta_high, strict=True)
            ],
        }
    ).set_index(["Model", "Category"])
    caption = (
        f"{VARIANCE_DATASETS} The paper's protocol in full: two-sided Wilcoxon signed-rank test over per-task "
        "main scores (zero differences dropped); W = min(T+, T-); min p = 2/2^n is the smallest p the test can "
        f"give with n non-zero differences; p adj: {CORRECTIONS[correction]} over the {len(rows)} comparisons of this "
        "table; rank-biserial: matched-pairs rank-biserial correlation; t: t interval over tasks."
    )
    return Table("wilcoxon", "Wilcoxon details (vs baseline)", frame, caption, rows)


def needs_seeds(min_runs: int, paired: bool, alpha: float) -> str:
    """What a seed-level cell says instead of a verdict when there are too few runs."""
    unit = "seeds" if paired else "runs per variant"
    return f"needs >= {min_runs} {unit} for a verdict at alpha={alpha:g}"


def _seed_verdict(r, alpha: float) -> str:
    if r.seed_min_p >= alpha:  # no outcome of these runs could reach alpha
        return needs_seeds(r.seed_min_runs, r.seed_paired, alpha)
    if r.seed_p_adj < alpha:
        return ("model better" if r.p_a_gt_b > 0.5 else "baseline better") + marks(r.seed_p, r.seed_p_adj, alpha)
    return "no significant difference" + marks(r.seed_p, r.seed_p_adj, alpha)


def _aso_cell(r, alpha: float) -> str:
    if min(r.runs_a, r.runs_b) < r.aso_min_runs or np.isnan(r.aso_eps):
        return needs_seeds(r.aso_min_runs, False, alpha)
    if r.aso_eps < ASO_TAU:
        verdict = "model dominates"
    elif r.aso_eps_reverse < ASO_TAU:
        verdict = "baseline dominates"
    else:
        verdict = "neither dominates"
    return f"{r.aso_eps:.2f} / {r.aso_eps_reverse:.2f}: {verdict}"


def seeds_table(study: Study, correction: str, alpha: float) -> Table:
    """Every variant against the baseline across training runs: P(A > B), its exact test, ASO eps_min.

    Below the number of seeds at which the exact test can reach alpha the verdict cell says how many
    are needed instead; ASO gets no verdict below the same number.
    """
    rows = _vs_baseline(study, "seed_p", correction, alpha)
    level = f"{100 * (1 - alpha):.0f}%"
    frame = pd.DataFrame(
        {
            "Model": rows.a,
            "Category": rows.category,
            "runs": [
                f"{x} paired" if paired else f"{x} vs {y}"
                for x, y, paired in zip(rows.runs_a, rows.runs_b, rows.seed_paired, strict=True)
            ],
            f"P(A > B) [{level} exact]": [
                f"{p:.2f} [{lo:.2f}, {hi:.2f}]"
                for p, lo, hi in zip(rows.p_a_gt_b, rows.p_low, rows.p_high, strict=True)
            ],
            "p": rows.seed_p.map(fmt_p),
            "min p": rows.seed_min_p.map(fmt_p),
            "p adj": rows.seed_p_adj.map(fmt_p),
            "verdict": [_seed_verdict(r, alpha) for r in rows.itertuples()],
            "ASO eps_min model/baseline": [_aso_cell(r, alpha) for r in rows.itertuples()],
        }
    ).set_index(["Model", "Category"])
    need_paired, need_unpaired = min_seeds(alpha), min_seeds(alpha, paired=False)
    caption = (
        f"{VARIANCE_SEEDS} P(A > B): probability that a run of the model beats the baseline's run "
        f"(Bouthillier et al. 2021; ties count 1/2), {level} exact interval (Clopper-Pearson over paired seeds, "
        "Newcombe's score interval over unpaired runs); p: two-sided exact test of P(A > B) = 1/2 (sign test "
        "over paired seeds, Mann-Whitney U over unpaired runs); min p: the smallest p these runs allow (2/2^n "
        f"for n paired seeds); p adj: {CORRECTIONS[correction]} over the {len(rows)} comparisons of this table. "
        f"At alpha={alpha:g} the test needs >= {need_paired} paired seeds (>= {need_unpaired} unpaired runs per "
        "variant) to be able to reject; with fewer the verdict says so. ASO: eps_min of model over baseline / "
        f"baseline over model (Dror et al. 2019), dominance when below {ASO_TAU:g}; a bootstrap description of "
        f"the two score distributions, not an exact test, shown with a verdict from {need_paired} runs per "
        "variant."
    )
    return Table("seeds", "Across seeds", frame, caption, rows)


def pairwise_tables(study: Study, correction: str, alpha: float) -> tuple[list[Table], pd.DataFrame]:
    """p-value matrices per design family and category: upper triangle per-example, lower Wilcoxon.

    Returns:
        One matrix per (family, category), and the long-form numbers with adjusted p-values.
    """
    in_family = {(a, b) for a, b in study.pairs for m in study.families.values() if a in m and b in m}
    rows = study.category_results[
        [(a, b) in in_family for a, b in zip(study.category_results.a, study.category_results.b, strict=True)]
    ].copy()
    for col in ("w_p", "ex_p"):
        _, rows[col + "_adj"] = adjust_pvalues(rows[col].to_numpy(dtype=float), correction, alpha)
    index = rows.set_index(["a", "b", "category"])
    tables = []
    for family, members in study.families.items():
        for c in study.categories:
            frame = pd.DataFrame("", index=pd.Index(members, name=family), columns=members)
            for i, x in enumerate(members):
                for j, y in enumerate(members):
                    if i == j:
                        frame.loc[x, y] = "—"
                        continue
                    key = (y, x, c) if (y, x, c) in index.index else (x, y, c)
                    r = index.loc[key]
                    col = "ex_p" if i < j else "w_p"
                    frame.loc[x, y] = fmt_p(r[col + "_adj"]) + marks(r[col], r[col + "_adj"], alpha)
            slug = family.replace(" | ", "_").replace("=", "_").lower()
            caption = (
                f"{VARIANCE_PAIRWISE} {c}: adjusted p-values, each test corrected ({CORRECTIONS[correction]}) "
                f"over the {len(rows)} comparisons of all pairwise tables. Upper triangle: per-example "
                "randomisation test pooled over tasks; lower triangle: Wilcoxon over tasks (the paper's test). "
                "Marks as in Table 2."
            )
            tables.append(Table(f"pairwise_{slug}_{c.lower()}", f"{family}, {c}", frame, caption, None))
    numbers = rows.assign(
        family=[
            next(f for f, m in study.families.items() if a in m and b in m) for a, b in zip(rows.a, rows.b, strict=True)
        ]
    )
    return tables, numbers


def per_task_table(study: Study, correction: str, alpha: float) -> Table:
    """Every task: the baseline's score and each variant's per-example delta, interval and marks."""
    rows = study.task_results[study.task_results.b == study.baseline].copy()
    _, rows["p_adj"] = adjust_pvalues(rows.p.to_numpy(dtype=float), correction, alpha)
    base = study.task_scores[study.task_scores.variant == study.baseline].set_index("task")
    order = [t for c in study.categories for t in sorted(base.index[base.category == c])]
    frame = pd.DataFrame(index=pd.Index(order, name="Task"))
    frame["Category"] = [base.loc[t, "category"] for t in order]
    frame[study.baseline] = [f"{base.loc[t, 'score']:.4f}" for t in order]
    for v in study.variants[1:]:
        sub = rows[rows.a == v].set_index("task")
        frame[v] = [
            fmt_interval(sub.loc[t, "delta"], sub.loc[t, "ci_low"], sub.loc[t, "ci_high"])
            + marks(sub.loc[t, "p"], sub.loc[t, "p_adj"], alpha)
            if t in sub.index
            else "-"
            for t in order
        ]
    caption = (
        f"{VARIANCE_EXAMPLES} Baseline column: seed-averaged main score; others: per-example delta from the "
        f"baseline with its {100 * (1 - alpha):.0f}% bootstrap interval. "
        + _legend(alpha, correction, len(rows), "Two-sided paired randomisation test per task")
    )
    return Table("per_task", "Per-task results (vs baseline)", frame, caption, rows)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub pipe table of `frame`, index included (no `tabulate` needed)."""

    def clean(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    names = [str(n) for n in frame.index.names if n is not None] or [""]
    header = [clean(" / ".join(names))] + [clean(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for idx, row in frame.iterrows():
        key = " / ".join(map(str, idx)) if isinstance(idx, tuple) else str(idx)
        lines.append("| " + " | ".join([clean(key)] + [clean(v) for v in row]) + " |")
    return "\n".join(lines)


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    ADJ_MARK: r"$^{\dagger}$",
    "—": "--",
    "<": r"$<$",
    ">": r"$>$",
}


def _latex_text(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def to_latex(table: Table) -> str:
    """The table as a LaTeX `table` environment (booktabs rules), cells and caption escaped."""
    frame = table.frame.map(lambda x: _latex_text(str(x)))
    frame.columns = [_latex_text(str(c)) for c in frame.columns]
    frame.index = frame.index.map(lambda i: _latex_text(" / ".join(map(str, i)) if isinstance(i, tuple) else str(i)))
    frame.index.name = _latex_text(" / ".join(n for n in table.frame.index.names if n))
    return frame.to_latex(
        escape=False,
        caption=_latex_text(table.caption),
        label=f"tab:{table.name}",
        column_format="l" + "l" * len(frame.columns),
    )
