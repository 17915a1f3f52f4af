"""Read a task's CSV / TSV / JSONL file into rows, and check columns and values with errors naming file, line
and column."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.errors import EmbedlabError

FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None, ".ndjson": None}


class TaskFileError(EmbedlabError):
    """A task file (YAML spec or data file) that cannot be turned into a task; the message says where."""


@dataclass
class Table:
    """The rows of one data file, with the line number of each row for messages.

    Args:
        path: the file.
        rows: one dict per row.
        lines: the line number of each row.
        columns: the column names (CSV header, or every key seen in JSONL).
    """

    path: Path
    rows: list[dict[str, Any]]
    lines: list[int]
    columns: list[str]

    def column(self, name: str, key: str, spec: Path) -> list[Any]:
        """The values of column `name` (configured as `columns.<key>` in `spec`), each present and non-empty."""
        if name not in self.columns:
            raise TaskFileError(
                f"{self.path}: no column {name!r} (columns: {', '.join(self.columns) or 'none'}); "
                f"name the right one with `columns.{key}` in {spec}"
            )
        values = []
        for row, line in zip(self.rows, self.lines, strict=True):
            value = row.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise TaskFileError(f"{self.path}:{line}: column {name!r} is empty")
            values.append(value)
        return values

    def numbers(self, name: str, key: str, spec: Path) -> list[float]:
        """Column `name` as floats; a non-number is an error naming file, line and column."""
        values = []
        for value, line in zip(self.column(name, key, spec), self.lines, strict=True):
            try:
                if isinstance(value, bool):
                    raise ValueError
                values.append(float(value))
            except (TypeError, ValueError):
                raise TaskFileError(f"{self.path}:{line}: column {name!r} must be a number, got {value!r}") from None
        return values

    def labels(self, name: str, key: str, spec: Path) -> list[str]:
        """Column `name` as labels: all strings or all integers (not lists, floats or a mix), as strings."""
        values = self.column(name, key, spec)
        kinds: dict[str, int] = {}
        for value, line in zip(values, self.lines, strict=True):
            kind = "integer" if isinstance(value, int) and not isinstance(value, bool) else type(value).__name__
            if kind not in ("integer", "str"):
                raise TaskFileError(
                    f"{self.path}:{line}: column {name!r} must hold a string or an integer label, got {kind} {value!r}"
                )
            kinds.setdefault(kind, line)
        if len(kinds) > 1:
            where = " and ".join(f"{kind} at line {line}" for kind, line in kinds.items())
            raise TaskFileError(f"{self.path}: column {name!r} mixes label types ({where}); use one type")
        return [str(v) for v in values]


def read_table(path: Path, what: str) -> Table:
    """Read a data file; `what` (e.g. `splits.test`) says where the spec names it."""
    if not path.is_file():
        raise TaskFileError(f"{what}: file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise TaskFileError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(FORMATS)}")
    text = path.read_text(encoding="utf-8")
    if FORMATS[suffix] is not None:
        reader = csv.DictReader(text.splitlines(), delimiter=FORMATS[suffix])
        rows = list(reader)
        columns = list(reader.fieldnames or [])
        lines = list(range(2, len(rows) + 2))
    else:
        rows, lines, columns = [], [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise TaskFileError(f"{path}:{number}: not valid JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise TaskFileError(f"{path}:{number}: each line must be a JSON object, got {type(row).__name__}")
            rows.append(row)
            lines.append(number)
            columns.extend(k for k in row if k not in columns)
    if not rows:
        raise TaskFileError(f"{path}: {what} has no rows")
    return Table(path, rows, lines, columns)
