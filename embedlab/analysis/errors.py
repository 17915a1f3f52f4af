"""Errors raised by `embedlab.analysis`.

Every error is meant to be read by a person at the command line: it names the run directory, file
or field at fault and the valid choices, so `embedlab analyze` can print it and exit without a
traceback. `AnalysisError` is an `EmbedlabError` (the console script prints those) and a
`ValueError` (it is bad input).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from embedlab.errors import EmbedlabError


class AnalysisError(EmbedlabError, ValueError):
    """Base class for every refusal of the analysis (bad input, not a bug)."""


class ProvenanceError(AnalysisError):
    """Runs compared together were not trained or evaluated alike."""


class IncompleteRunsError(AnalysisError):
    """A run lacks its DONE marker or some of the tasks the other runs have."""


class DamagedFileError(AnalysisError):
    """A file of a run directory is damaged (cut short, not UTF-8 or JSON, non-finite numbers, repeated ids).

    Unlike a task without per-example outputs (noted in the report and skipped), a damaged file stops
    the analysis: it is the trace of a job killed mid-write or of a bug, and no number read from it can be trusted.
    """


def suggest(name: str, choices: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' hint with the closest valid names, or ''.

    Args:
        name: What the user typed.
        choices: The valid names.

    Returns:
        A sentence fragment to append to an error message.
    """
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
