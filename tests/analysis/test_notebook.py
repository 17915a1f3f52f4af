"""notebooks/01_results.ipynb runs headlessly against a small fixture, so it cannot rot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "01_results.ipynb"


def test_results_notebook_executes(small_runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(small_runs))
    monkeypatch.setenv("EMBEDLAB_REPORT_DIR", str(tmp_path / "report"))
    monkeypatch.setenv("EMBEDLAB_N_RESAMPLES", "100")
    # The kernel is a fresh process: make the checkout importable even when embedlab is not installed.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    markdown = "".join(o["data"].get("text/markdown", "") for o in outputs if "data" in o)
    assert len(images) == 2 and "Table 2 - paper protocol" in markdown and "Per-task results" in markdown
    assert (tmp_path / "report" / "results.md").exists()
