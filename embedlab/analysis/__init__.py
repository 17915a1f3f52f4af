"""embedlab.analysis: run directories -> significance-tested tables, figures and a report.

Reads only what `embedlab test` writes (docs/run-directory.md); no torch, no training code.

- Loading: `load_runs` (tidy table + provenance and completeness checks), `load_task_examples`.
- Tests (pure functions over numpy): `wilcoxon_test` (the paper's protocol), `paired_bootstrap` and
  `permutation_test` (per example; mean, Spearman and V-measure metrics), `bootstrap_means` (many
  variants on shared resamples), `prob_outperform` and `aso` (across seeds), `adjust_pvalues`
  (Holm, Benjamini-Hochberg), `mean_difference` and `rank_biserial` (effect sizes).
- Outputs: `run_study` (every comparison), `build_report` (the report folder), `analyze_main`
  (the `embedlab analyze` command).
- Fixtures: `write_synthetic_runs` (runs in the exact on-disk format), `null_calibration`.

Names are imported on first use (PEP 562), so `from embedlab.analysis.cli import analyze_main` in
the console script does not load pandas, scipy and matplotlib for `embedlab fit`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "calibration": ("CalibrationResult", "draws_calibration", "null_calibration"),
    "cli": ("analyze_main",),
    "compare": ("Study", "run_study"),
    "design": ("design_pairs", "resolve_baseline"),
    "effects": ("MeanDifference", "mean_difference", "rank_biserial"),
    "evidence": ("TaskEvidence", "pair_null", "task_evidence"),
    "errors": ("AnalysisError", "IncompleteRunsError", "ProvenanceError"),
    "examples": ("TaskExamples", "load_task_examples", "read_predictions"),
    "metrics": ("spearman", "v_measure"),
    "multiple": ("adjust_pvalues",),
    "paired": (
        "BootstrapResult",
        "DocumentDraws",
        "PairedSample",
        "bootstrap_replicates",
        "document_bootstrap_replicates",
        "metric_value",
        "paired_bootstrap",
        "pairwise_mean_bootstrap",
    ),
    "randomisation": (
        "PermutationResult",
        "document_permutation_null",
        "permutation_null",
        "permutation_pvalue",
        "permutation_test",
    ),
    "protocol": ("WilcoxonResult", "min_pvalue", "wilcoxon_test"),
    "report": ("Report", "build_report"),
    "resampling": ("bootstrap_means",),
    "runs": ("Run", "RunSet", "load_runs"),
    "seeds": (
        "ASOResult",
        "ProbOutperform",
        "aso",
        "min_seeds",
        "newcombe_interval",
        "prob_outperform",
        "violation_ratio",
    ),
    "synthetic": ("SyntheticVariant", "write_synthetic_runs"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'embedlab.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"embedlab.analysis.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
