"""Fixtures for the analysis tests: synthetic run directories in the exact `embedlab test` format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embedlab.analysis.synthetic import DEFAULT_VARIANTS, write_synthetic_runs

# A 2x2 design plus the EOS baseline, two tasks per type: small enough for end-to-end tests.
SMALL_VARIANTS = tuple(v for v in DEFAULT_VARIANTS if v.name[:2] in {"m1", "m2", "m3", "m4", "m5"})
SMALL_TASKS = (
    ("SynSTS1", "STS"),
    ("SynSTS2", "STS"),
    ("SynClassification1", "Classification"),
    ("SynClassification2", "Classification"),
    ("SynRetrieval1", "Retrieval"),
    ("SynRetrieval2", "Retrieval"),
    ("SynClustering1", "Clustering"),
    ("SynClustering2", "Clustering"),
)
SMALL_SIZES = {"STS": 80, "Retrieval": 80, "Classification": 100, "Clustering": 80}


def write_small_runs(root: Path) -> Path:
    """The small fixture: 5 variants x 2 seeds x 8 tasks."""
    return write_synthetic_runs(root, variants=SMALL_VARIANTS, tasks=SMALL_TASKS, sizes=SMALL_SIZES)


@pytest.fixture(scope="session")
def full_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default synthetic study (6 variants x 2 seeds x 16 tasks). Do not modify: copy it."""
    return write_synthetic_runs(tmp_path_factory.mktemp("full") / "runs")


@pytest.fixture(scope="session")
def small_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic study. Do not modify: copy it."""
    return write_small_runs(tmp_path_factory.mktemp("small") / "runs")


@pytest.fixture
def runs_copy(small_runs: Path, tmp_path: Path) -> Path:
    """A private, modifiable copy of the small study."""
    return Path(shutil.copytree(small_runs, tmp_path / "runs"))
