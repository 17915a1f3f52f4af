"""Multiple-comparison corrections over every comparison in one table.

The paper starred up to 16 Wilcoxon tests per table at alpha = 0.05 with no correction, the
reviewers' first complaint. Here every table is one family: Holm (controls the family-wise error
rate, valid under any dependence) or Benjamini-Hochberg (controls the false discovery rate,
valid under independence or positive dependence). statsmodels' `multipletests` does the arithmetic;
this module only handles NaNs (comparisons that could not be run) and table columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from statsmodels.stats.multitest import multipletests

from embedlab.analysis.errors import AnalysisError

CORRECTIONS: dict[str, str] = {
    "holm": "Holm (family-wise error rate)",
    "fdr_bh": "Benjamini-Hochberg (false discovery rate)",
    "bonferroni": "Bonferroni (family-wise error rate)",
}


def check_correction(method: str) -> str:
    """Return `method` if it is a supported correction, else raise naming the choices.

    Args:
        method: `holm`, `fdr_bh` or `bonferroni`.

    Returns:
        The method.
    """
    if method not in CORRECTIONS:
        raise AnalysisError(f"unknown correction {method!r}; choose one of: {', '.join(CORRECTIONS)}")
    return method


def adjust_pvalues(
    pvalues: ArrayLike, method: str = "holm", alpha: float = 0.05
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Adjust one family of p-values; NaNs (tests not run) stay NaN and do not count.

    Args:
        pvalues: Raw p-values of every comparison in the family.
        method: `holm`, `fdr_bh` or `bonferroni`.
        alpha: Family-wise error rate (Holm, Bonferroni) or false discovery rate (BH).

    Returns:
        Rejection flags and adjusted p-values, both the shape of `pvalues`.
    """
    check_correction(method)
    p = np.asarray(pvalues, dtype=np.float64)
    flat = p.reshape(-1)
    ok = ~np.isnan(flat)
    reject = np.zeros(flat.shape, dtype=bool)
    adjusted = np.full(flat.shape, np.nan)
    if ok.any():
        rej, adj, _, _ = multipletests(flat[ok], alpha=alpha, method=method)
        reject[ok], adjusted[ok] = rej, adj
    return reject.reshape(p.shape), adjusted.reshape(p.shape)


def adjust_column(
    table: pd.DataFrame, column: str, method: str = "holm", alpha: float = 0.05, *, suffix: str = "_adj"
) -> pd.DataFrame:
    """Add `<column><suffix>` with the adjusted p-values of one table, treated as one family.

    Args:
        table: One row per comparison.
        column: Name of the raw p-value column.
        method: `holm`, `fdr_bh` or `bonferroni`.
        alpha: Error rate the correction controls.
        suffix: Suffix of the new column.

    Returns:
        A copy of `table` with the adjusted column added.
    """
    out = table.copy()
    _, adjusted = adjust_pvalues(out[column].to_numpy(dtype=np.float64), method, alpha)
    out[column + suffix] = adjusted
    return out
