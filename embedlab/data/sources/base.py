"""Source: where a stream of `(query, positive, negatives)` examples comes from.

A source reads its rows once per pass, always in the same (file) order, and yields an `Item` for
every usable row and a `BadRow` for every other one; the mix shuffles, splits, samples and batches
them. Sources are configured in YAML by class name (`class_path: JsonlSource`), each with a
sampling weight, an optional query instruction and where its hard negatives come from.

Subclasses implement `rows()` and, when cheap, `size_hint()`. They are pickled into DataLoader
workers: keep file handles and heavy objects out of `__init__` and open them in `rows()`.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

from embedlab.data.rows import BadRow, Item, RowRules, make_item
from embedlab.errors import EmbedlabError, closest_names
from embedlab.hparams import record_init_args

NegativesFrom = Literal["data", "bm25", "random"]
NEGATIVE_CHOICES = ("data", "bm25", "random")
DEFAULT_COLUMNS = {"query": "query", "positive": "positive", "negatives": "negative"}


class Source:
    """Base class of every source of training examples.

    Args:
        weight: sampling proportion relative to the other sources of the mix (> 0).
        instruction: the task described to the model, written before this source's queries with the
            mix's instruction template (by default `Instruct: {instruction}\\nQuery: `, as at evaluation);
            None: queries as is.
        negatives: where hard negatives come from: `data` (the rows' own), `bm25` (mined by BM25
            among this source's documents) or `random` (random documents of this source).
        name: the source's name in batches, logs and reports; default: derived from the data.
    """

    def __init__(
        self,
        weight: float = 1.0,
        instruction: str | None = None,
        negatives: NegativesFrom = "data",
        name: str | None = None,
    ) -> None:
        if not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise EmbedlabError(f"{type(self).__name__}: weight must be a positive number, got {weight!r}")
        if negatives not in NEGATIVE_CHOICES:
            raise EmbedlabError(
                f"{type(self).__name__}: negatives {negatives!r} is not one of: {', '.join(NEGATIVE_CHOICES)}"
            )
        self.weight = float(weight)
        self.instruction = instruction
        self.negatives = negatives
        self._name = name
        if not hasattr(self, "_init_args"):
            self.record_args(locals())
        self.rules = RowRules()
        self.instruction_prefix: str | None = None

    def record_args(self, frame_locals: dict) -> None:
        """Remember the constructor's arguments (call with `locals()` first thing in a subclass `__init__`),
        so the mix can store its sources as plain `class_path` configs (hyper-parameters, checkpoints)."""
        record_init_args(self, frame_locals)
        self._init_args.update(self._init_args.pop("kwargs", None) or {})

    # ---------------------------------------------------------------- what subclasses provide

    @property
    def name(self) -> str:
        return self._name or self.default_name()

    def default_name(self) -> str:
        return type(self).__name__

    def rows(self) -> Iterator[Item | BadRow]:
        """One pass over the data in its stored order: an Item per usable row, a BadRow per other row."""
        raise NotImplementedError

    def shuffled_rows(self, seed: int, buffer_size: int) -> Iterator[Item | BadRow] | None:
        """One pass in a shuffled order, for sources that shuffle better themselves (a hub dataset's
        shard order, a memory-mapped permutation); None: the mix shuffles `rows()` through a buffer."""
        return None

    def size_hint(self) -> int | None:
        """The number of items one pass yields, if known without reading the data; else None."""
        return None

    def describe(self) -> str:
        """Where the data comes from, for `embedlab data inspect`."""
        return type(self).__name__

    # ---------------------------------------------------------------- used by the mix

    def bind(self, rules: RowRules, instruction_prefix: str | None) -> None:
        """Set the mix's row rules and this source's instruction prefix (done by TrainingMix)."""
        self.rules = rules
        self.instruction_prefix = instruction_prefix

    def item(self, row: Mapping, columns: Mapping[str, str], where: str, group: str | None = None) -> Item | BadRow:
        """Validate `row` under the bound rules (helper for subclasses)."""
        return make_item(row, columns, where, self.rules, self.name, self.instruction_prefix, group)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, weight={self.weight:g}, negatives={self.negatives!r})"


def resolve_columns(columns: Mapping[str, str] | None, owner: str) -> dict[str, str]:
    """The column mapping with defaults filled in; unknown roles are an error naming the valid ones."""
    merged = dict(DEFAULT_COLUMNS)
    for role, column in (columns or {}).items():
        if role not in DEFAULT_COLUMNS:
            raise EmbedlabError(
                f"{owner}: unknown column role {role!r}; valid roles: {', '.join(closest_names(role, DEFAULT_COLUMNS))}"
            )
        merged[role] = column
    return merged


def check_has_columns(available: list[str], columns: Mapping[str, str], needed: list[str], where: str) -> None:
    """Raise (a config error, not a bad row) when the data lacks a column the mapping names."""
    for role in needed:
        column = columns[role]
        if column not in available:
            raise EmbedlabError(
                f"{where}: no column {column!r} for the {role}; columns there: {', '.join(available)}. "
                f"Map it with `columns: {{{role}: <column>}}` (closest: {closest_names(column, available, 3)})"
            )


def expand_paths(path: str | list[str], owner: str) -> list[Path]:
    """Files named by a path, a glob pattern, or a list of them, in sorted order."""
    patterns = [path] if isinstance(path, str) else list(path)
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))
        if not matches:
            raise EmbedlabError(f"{owner}: no file matches {pattern!r}")
        folders = [m for m in matches if Path(m).is_dir()]
        if folders and folders == matches:
            raise EmbedlabError(
                f"{owner}: {pattern!r} names only folders ({', '.join(folders[:3])}); name the files, e.g. "
                f"{str(Path(folders[0]) / '*.jsonl')!r}"
            )
        found.extend(Path(m) for m in matches if not Path(m).is_dir())  # `data/**` also matches folders
    return found
