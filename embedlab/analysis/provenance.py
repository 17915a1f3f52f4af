"""Refusals before any comparison: runs that were not trained or evaluated alike, or not finished.

Both are overridable explicitly, and an override is recorded in the notes the report prints:

- provenance: runs must agree on backbone, training mix (name and fingerprint), steps and
  evaluation suite, else the difference is not the design's (`allow_mismatch`);
- completeness: every run must have its DONE marker and every task any run has, else category
  averages would mix different task sets (`allow_incomplete` keeps only the common tasks).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from embedlab.analysis.errors import AnalysisError, IncompleteRunsError, ProvenanceError

if TYPE_CHECKING:
    from embedlab.analysis.runs import Run

PROVENANCE_FIELDS = ("backbone", "train_mix", "train_mix_fingerprint", "max_steps", "suite")


def check_provenance(runs: Sequence[Run], allow_mismatch: Iterable[str] = ()) -> list[str]:
    """Refuse runs that differ in backbone, training mix, steps or evaluation suite.

    Args:
        runs: The runs to compare.
        allow_mismatch: Fields whose disagreement is accepted (and reported).

    Returns:
        Notes on the accepted mismatches.
    """
    allowed = set(allow_mismatch)
    unknown = allowed - set(PROVENANCE_FIELDS)
    if unknown:
        raise AnalysisError(
            f"allow_mismatch names unknown field(s) {', '.join(sorted(unknown))}; "
            f"provenance fields: {', '.join(PROVENANCE_FIELDS)}"
        )
    notes = []
    for name in PROVENANCE_FIELDS:
        groups: dict[str, list[str]] = {}
        for run in runs:
            groups.setdefault(json.dumps(run.meta.get(name)), []).append(run.name)
        if len(groups) < 2:
            continue
        detail = "; ".join(f"{value} in {', '.join(names)}" for value, names in sorted(groups.items()))
        if name not in allowed:
            raise ProvenanceError(
                f"runs differ in {name!r}: {detail}. Runs compared together must share "
                f"{', '.join(PROVENANCE_FIELDS)}; pass allow_mismatch=[{name!r}] "
                f"(--allow-mismatch {name}) to compare them anyway."
            )
        notes.append(f"Provenance mismatch accepted on request: runs differ in `{name}` ({detail}).")
    return notes


def check_completeness(runs: Sequence[Run], allow_incomplete: bool = False) -> tuple[list[str], list[str]]:
    """Refuse unfinished runs and runs missing tasks the others have.

    Args:
        runs: The runs to compare.
        allow_incomplete: Keep going with the tasks common to every run, and say so.

    Returns:
        The tasks to use (sorted) and notes for the report.
    """
    problems = [f"{r.path} has no DONE marker (evaluation did not finish)" for r in runs if not r.done]
    all_tasks = set().union(*(r.results for r in runs))
    common = set(all_tasks).intersection(*(r.results for r in runs))
    for run in runs:
        lacking = sorted(all_tasks - set(run.results))
        if lacking:
            problems.append(f"{run.path} lacks {len(lacking)} task(s) the other runs have: {', '.join(lacking)}")
    if not common:
        raise IncompleteRunsError("the runs have no task in common:\n  " + "\n  ".join(problems))
    if problems and not allow_incomplete:
        raise IncompleteRunsError(
            "refusing to average over different task sets:\n  "
            + "\n  ".join(problems)
            + "\nFinish the runs, or pass allow_incomplete=True (--allow-incomplete) to use only the "
            f"{len(common)} task(s) common to all runs."
        )
    notes = [f"Incomplete runs accepted on request: {p}." for p in problems]
    if problems:
        notes.append(f"Only the {len(common)} task(s) common to all runs are used: {', '.join(sorted(common))}.")
    return sorted(common), notes
