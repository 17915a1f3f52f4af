"""Read a task's CSV / TSV / JSONL file into rows, and check columns and values with errors naming file, line
and column."""

from __future__ import annotations

import csv
import io
import json
import math
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
                number = float(value)
            except (TypeError, ValueError):
                raise TaskFileError(f"{self.path}:{line}: column {name!r} must be a number, got {value!r}") from None
            if not math.isfinite(number):
                raise TaskFileError(f"{self.path}:{line}: column {name!r} must be a finite number, got {value!r}")
            values.append(number)
        return values

    def texts(self, name: str, key: str, spec: Path) -> list[str]:
        """Column `name` as texts: strings (numbers are accepted as their text); lists, objects and booleans
        are an error naming file, line and column."""
        values = []
        for value, line in zip(self.column(name, key, spec), self.lines, strict=True):
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TaskFileError(
                    f"{self.path}:{line}: column {name!r} must hold a text, got {type(value).__name__} {value!r:.60}"
                )
            values.append(str(value))
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
    text = _decode(path)
    if FORMATS[suffix] is not None:
        rows, lines, columns = _read_csv(path, text, FORMATS[suffix])
    else:
        rows, lines, columns = _read_jsonl(path, text)
    if not rows:
        raise TaskFileError(f"{path}: {what} has no rows")
    return Table(path, rows, lines, columns)


def _decode(path: Path) -> str:
    """The file as text (a leading byte-order mark dropped); invalid UTF-8 is an error naming the line."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TaskFileError(
            f"{path}:{line}: not valid UTF-8 ({error.reason} at byte {error.start}); save the file as UTF-8"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _read_csv(path: Path, text: str, delimiter: str) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Rows of a CSV / TSV text, each with the line it starts on (quoted fields may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return [], [], []
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise TaskFileError(f"{path}:1: the header names column(s) {', '.join(map(repr, repeated))} twice")
        rows, lines, start = [], [], reader.line_num + 1
        for values in reader:
            line, start = start, reader.line_num + 1
            if not values:
                continue  # a blank line
            if len(values) != len(header):
                raise TaskFileError(
                    f"{path}:{line}: {len(values)} fields, the header has {len(header)} (a stray delimiter or quote?)"
                )
            rows.append(dict(zip(header, values, strict=True)))
            lines.append(line)
    except csv.Error as error:
        raise TaskFileError(f"{path}:{reader.line_num}: not a readable CSV record ({error})") from None
    return rows, lines, header


def _read_jsonl(path: Path, text: str) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    rows, lines, columns = [], [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskFileError(f"{path}:{number}: not valid JSON ({error.msg}, column {error.colno})") from None
        except (ValueError, RecursionError) as error:  # nested too deep, an integer of 5,000 digits
            raise TaskFileError(f"{path}:{number}: not usable JSON ({type(error).__name__})") from None
        if not isinstance(row, dict):
            raise TaskFileError(f"{path}:{number}: each line must be a JSON object, got {type(row).__name__}")
        rows.append(row)
        lines.append(number)
        columns.extend(k for k in row if k not in columns)
    return rows, lines, columns
