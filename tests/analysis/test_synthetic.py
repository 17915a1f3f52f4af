"""The synthetic fixture generator is deterministic and writes the documented layout."""

from __future__ import annotations

import hashlib
from pathlib import Path

from embedlab.analysis.synthetic import SyntheticVariant, write_synthetic_runs


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    kwargs = {
        "variants": (SyntheticVariant("a", "Causal", "LastToken"), SyntheticVariant("b", "Causal", "Mean")),
        "tasks": (("T1", "STS"), ("T2", "Clustering")),
        "sizes": {"STS": 30, "Clustering": 30},
    }
    first = _digest(write_synthetic_runs(tmp_path / "one", **kwargs))
    assert first == _digest(write_synthetic_runs(tmp_path / "two", **kwargs))
    assert first != _digest(write_synthetic_runs(tmp_path / "three", seed=1, **kwargs))


def test_run_directory_layout(small_runs: Path) -> None:
    run = small_runs / "m1_eos_causal_s0"
    assert {p.name for p in run.iterdir()} == {"run.json", "config.yaml", "cost.json", "DONE", "results", "predictions"}
    assert len(list((run / "results").glob("*.json"))) == len(list((run / "predictions").glob("*.jsonl"))) == 8
