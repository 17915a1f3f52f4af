"""`embedlab analyze RUNS_DIR --baseline m1 --out report/`: the report from the command line.

`analyze_main(argv)` is the whole command; `embedlab.cli` dispatches the `analyze` subcommand to
it (LightningCLI owns fit/validate/test, so analysis keeps its own argparse parser). Heavy imports
happen inside `analyze_main`, so importing this module costs nothing for `embedlab fit`.
Also runnable as `python -m embedlab.analysis.cli`.
"""

from __future__ import annotations

import argparse
import sys
import time

# Kept in sync with embedlab.analysis.provenance.PROVENANCE_FIELDS (a test checks); not imported so that
# building the parser does not load pandas.
PROVENANCE_FIELDS = ("backbone", "train_mix", "train_mix_fingerprint", "max_steps", "suite")


def build_parser(prog: str = "embedlab analyze") -> argparse.ArgumentParser:
    """The argument parser of `embedlab analyze`.

    Args:
        prog: Program name shown in usage.

    Returns:
        The parser.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description="Significance-tested comparison of embedlab runs: tables (Markdown, LaTeX) and figures (PNG).",
    )
    p.add_argument("runs_dir", metavar="RUNS_DIR", help="folder holding run directories (each with run.json)")
    p.add_argument("--baseline", required=True, help="baseline variant: full name or prefix (e.g. m1)")
    p.add_argument("--out", default="report", help="report folder to write (default: report)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    p.add_argument(
        "--correction",
        choices=["holm", "fdr_bh"],
        default="holm",
        help="multiple-comparison correction within each table (default: holm)",
    )
    p.add_argument("--n-resamples", type=int, default=10_000, help="bootstrap resamples per task (default: 10000)")
    p.add_argument(
        "--n-permutations",
        type=int,
        default=None,
        help="randomisation-test permutations per task and pair (default: --n-resamples)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of all resampling (default: 0)")
    p.add_argument(
        "--allow-mismatch",
        nargs="+",
        default=[],
        metavar="FIELD",
        choices=PROVENANCE_FIELDS,
        help=f"compare runs that differ in these provenance fields ({', '.join(PROVENANCE_FIELDS)})",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use only the tasks common to all runs instead of refusing incomplete runs",
    )
    p.add_argument("--jobs", type=int, default=None, help="threads (default: all CPUs; results do not depend on it)")
    p.add_argument("--no-figures", action="store_true", help="write tables only (skip forest.png and pvalues.png)")
    return p


def analyze_main(argv: list[str] | None = None) -> int:
    """Run `embedlab analyze`.

    Args:
        argv: Arguments after the subcommand (None: sys.argv[1:]).

    Returns:
        Exit status: 0 on success, 2 when the input is refused (the message says why).
    """
    args = build_parser().parse_args(argv)
    from embedlab.analysis.errors import AnalysisError
    from embedlab.analysis.report import build_report

    start = time.perf_counter()
    try:
        report = build_report(
            args.runs_dir,
            args.out,
            baseline=args.baseline,
            alpha=args.alpha,
            correction=args.correction,
            n_resamples=args.n_resamples,
            n_permutations=args.n_permutations,
            seed=args.seed,
            allow_mismatch=args.allow_mismatch,
            allow_incomplete=args.allow_incomplete,
            n_jobs=args.jobs,
            figures=not args.no_figures,
        )
    except AnalysisError as err:
        print(f"embedlab analyze: error: {err}", file=sys.stderr)
        return 2
    print(report.table_markdown("table2_wilcoxon"))
    print(report.table_markdown("table2_examples"))
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(
        f"wrote {len(report.paths)} files to {args.out} in {time.perf_counter() - start:.1f} s "
        f"(open {report.paths['results']})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(analyze_main())
