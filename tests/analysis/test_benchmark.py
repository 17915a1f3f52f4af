"""benchmarks/bootstrap_speed.py stays runnable (a tiny run; the real figure is `make bench`-sized)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bootstrap_speed.py"


def test_benchmark_script_runs(capsys) -> None:
    spec = importlib.util.spec_from_file_location("bootstrap_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--examples", "2000", "--resamples", "200", "--budget", "60", "--jobs", "1"]) == 0
    assert "45 pairs" in capsys.readouterr().out
