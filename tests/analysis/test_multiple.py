"""Holm and Benjamini-Hochberg equal statsmodels' multipletests called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.multiple import adjust_column, adjust_pvalues

P = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])


@pytest.mark.parametrize("method", ["holm", "fdr_bh", "bonferroni"])
def test_matches_multipletests(method: str) -> None:
    reject, adjusted = adjust_pvalues(P, method, alpha=0.05)
    ref_reject, ref_adjusted, _, _ = multipletests(P, alpha=0.05, method=method)
    np.testing.assert_array_equal(reject, ref_reject)
    np.testing.assert_array_equal(adjusted, ref_adjusted)


def test_nan_is_excluded_from_the_family() -> None:
    with_nan = np.insert(P, 3, np.nan)
    reject, adjusted = adjust_pvalues(with_nan, "holm")
    ref_reject, ref_adjusted, _, _ = multipletests(P, method="holm")
    assert np.isnan(adjusted[3]) and not reject[3]
    np.testing.assert_array_equal(np.delete(adjusted, 3), ref_adjusted)


def test_adjust_column_and_unknown_method() -> None:
    out = adjust_column(pd.DataFrame({"p": P}), "p", "fdr_bh")
    np.testing.assert_array_equal(out.p_adj, multipletests(P, method="fdr_bh")[1])
    with pytest.raises(AnalysisError, match="holm, fdr_bh"):
        adjust_pvalues(P, "sidak")
