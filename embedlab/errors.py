"""Errors meant for people: each names the file, key or class at fault and the valid choices."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EmbedlabError(Exception):
    """Base class of every error embedlab raises on purpose; the CLI prints these without a traceback."""


class AssetError(EmbedlabError):
    """An offline asset is missing from the cache, or fails verification."""


class UnknownNameError(EmbedlabError, KeyError):
    """A class or task name that does not exist; the message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class AttentionPolicyError(EmbedlabError):
    """An attention policy is not supported by, or does not hold on, the loaded backbone."""


class NonFiniteError(EmbedlabError):
    """Training produced a NaN or infinite loss or gradient; the run stops before the weights are touched."""


def closest_names(name: str, choices: Iterable[str], limit: int = 50) -> list[str]:
    """All of `choices`, the ones closest to `name` first (difflib ratio, then alphabetical)."""
    lowered = name.lower()
    return sorted(choices, key=lambda c: (-difflib.SequenceMatcher(None, lowered, c.lower()).ratio(), c))[:limit]
