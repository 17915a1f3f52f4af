"""Local text files: JSON lines and CSV/TSV, read as streams with every bad row located by file and line.

Both read bytes and decode them strictly (JSONL per line; CSV through `surrogateescape`, so invalid
bytes surface as `invalid_utf8` on the field that holds them), and neither ever holds a whole file
in memory. A column that the mapping names but the file lacks is a configuration error raised
before the first row; a field missing from one row is a bad row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from embedlab.data.rows import BadRow, Item
from embedlab.data.sources.base import Source, check_has_columns, expand_paths, resolve_columns
from embedlab.errors import EmbedlabError

_CSV_FIELD_LIMIT = 1 << 30
_BOM = b"\xef\xbb\xbf"


class JsonlSource(Source):
    """JSON-lines files, one object per line, e.g. `{"query": ..., "positive": ..., "negative": ...}`.

    Args:
        path: a file, a glob pattern (`data/*.jsonl`) or a list of them; read in sorted order.
        columns: which key holds the `query`, `positive` and `negatives` (a string or a list of
            strings); default `{query: query, positive: positive, negatives: negative}`.
        max_line_bytes: longer lines are bad rows (`too_long`), skipped without being parsed.
        **kwargs: `weight`, `instruction`, `negatives`, `name` (see `Source`).
    """

    def __init__(
        self, path: str | list[str], columns: dict[str, str] | None = None, max_line_bytes: int = 1 << 24, **kwargs
    ) -> None:
        self.record_args(locals())
        super().__init__(**kwargs)
        self.path = path
        self.columns = resolve_columns(columns, type(self).__name__)
        self.max_line_bytes = max_line_bytes

    def default_name(self) -> str:
        return expand_paths(self.path, type(self).__name__)[0].stem

    def describe(self) -> str:
        return f"JSONL {self.path}"

    def size_hint(self) -> int | None:
        count = 0
        for path in expand_paths(self.path, type(self).__name__):
            with open(path, "rb") as handle:
                count += sum(1 for line in handle if line.strip())
        return count

    def rows(self) -> Iterator[Item | BadRow]:
        for path in expand_paths(self.path, type(self).__name__):
            for number, line in _lines(path, self.max_line_bytes):
                where = f"{path}:{number}"
                if line is None:
                    yield BadRow("too_long", where, f"line longer than max_line_bytes ({self.max_line_bytes:,})")
                    continue
                if number == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]  # a byte-order mark (Windows editors) is not part of the row
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    yield BadRow("invalid_utf8", where, f"not valid UTF-8 ({error.reason} at byte {error.start})")
                    continue
                if not text.strip():
                    continue  # blank lines separate nothing and hold no row
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as error:
                    yield BadRow("malformed", where, f"not valid JSON ({error.msg}, column {error.colno})")
                    continue
                except (ValueError, RecursionError) as error:  # nested too deep, an integer of 5,000 digits
                    yield BadRow("malformed", where, f"not usable JSON ({type(error).__name__}: {error})")
                    continue
                if not isinstance(row, dict):
                    yield BadRow("malformed", where, f"expected a JSON object, got {type(row).__name__}")
                    continue
                yield self.item(row, self.columns, where)


def _lines(path: Path, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for every line; None in place of a line longer than `max_bytes`."""
    with open(path, "rb") as handle:
        number = 0
        while line := handle.readline(max_bytes + 1):
            number += 1
            if len(line) > max_bytes and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):  # skip the rest of the overlong line
                    line = handle.readline(1 << 20)
                yield number, None
                continue
            yield number, line


class CsvSource(Source):
    """CSV or TSV files with a header row and a column mapping.

    Args:
        path: a file, a glob pattern or a list of them; read in sorted order.
        columns: which column holds the `query`, `positive` and `negatives` (one negative per
            row); e.g. `{query: title, positive: body}`.
        delimiter: the field separator; default: tab for `.tsv` files, else comma.
        **kwargs: `weight`, `instruction`, `negatives`, `name` (see `Source`).
    """

    def __init__(
        self, path: str | list[str], columns: dict[str, str] | None = None, delimiter: str | None = None, **kwargs
    ) -> None:
        self.record_args(locals())
        super().__init__(**kwargs)
        self.path = path
        self.columns = resolve_columns(columns, type(self).__name__)
        self.delimiter = delimiter

    def default_name(self) -> str:
        return expand_paths(self.path, type(self).__name__)[0].stem

    def describe(self) -> str:
        return f"CSV {self.path}"

    def rows(self) -> Iterator[Item | BadRow]:
        needed = ["query", "positive"] + (["negatives"] if self.rules.negatives_needed else [])
        for path in expand_paths(self.path, type(self).__name__):
            delimiter = self.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
            with open(path, "rb") as raw:
                for entry in csv_records(raw, str(path), {r: self.columns[r] for r in needed}, delimiter):
                    yield entry if isinstance(entry, BadRow) else self.item(entry[0], self.columns, entry[1])


def csv_records(
    raw: io.BufferedIOBase, name: str, required: dict[str, str], delimiter: str = ","
) -> Iterator[tuple[dict[str, str | None], str] | BadRow]:
    """(row, `file:line`) per CSV record, or a BadRow for a broken one; empty cells read as None.

    Args:
        raw: the byte stream; decoded as UTF-8, invalid bytes kept as lone surrogates (caught per field).
        name: the file's name for messages.
        required: role -> column the header must hold (a configuration error otherwise).
        delimiter: the field separator.
    """
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))  # long texts are checked per field
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise EmbedlabError(f"{name}:1: the header is not a readable CSV record ({error})") from None
    if header is None:
        return
    if header and header[0].startswith("\ufeff"):  # a byte-order mark (Excel's "CSV UTF-8") is not a column name
        header[0] = header[0][1:]
    check_has_columns(header, required, list(required), name)
    repeated = sorted({c for c in required.values() if header.count(c) > 1})
    if repeated:
        raise EmbedlabError(
            f"{name}:1: the header names column(s) {', '.join(map(repr, repeated))} more than once; "
            "which one holds the text is ambiguous: rename the copies"
        )
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield BadRow("malformed", f"{name}:{start}", f"broken CSV record ({error})")
            start = reader.line_num + 1
            continue
        where, start = f"{name}:{start}", reader.line_num + 1
        if not values:
            continue  # a blank line holds no row
        if len(values) != len(header):
            yield BadRow("malformed", where, f"{len(values)} fields, the header has {len(header)}")
            continue
        yield {key: (value if value != "" else None) for key, value in zip(header, values, strict=True)}, where
