"""Whole studies from presets (`configs/studies/`): every variant x seed trained and evaluated, then analysed.

`embedlab study --preset demo` is `make demo`; `make reproduce` runs the other presets.
"""

from embedlab.study.plan import PlannedRun, build_plan, describe
from embedlab.study.preset import StudyPreset, load_preset

__all__ = ["PlannedRun", "StudyPreset", "build_plan", "describe", "load_preset"]
