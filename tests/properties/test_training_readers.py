"""Properties of the training-file readers: under `skip`, valid rows in = rows out (same order), bad rows counted
exactly, and no input at all makes a reader crash."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from embedlab.data import CsvSource, JsonlSource
from embedlab.data.rows import BadRow, BadRowLog, RowRules
from embedlab.errors import EmbedlabError

SETTINGS = settings(max_examples=60, deadline=None, database=None)
# Any text a person could write (no lone surrogates), non-blank.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(str.strip)
VALID = st.builds(lambda q, p: {"query": "q:" + q, "positive": "p:" + p}, TEXT, TEXT)
# Lines that can never be a valid row: `#` is not JSON; the rest is arbitrary bytes (invalid UTF-8 included).
GARBAGE = st.binary(max_size=60).map(lambda b: b"#" + b.replace(b"\n", b" "))
# JSON that parses but is not a usable row.
UNUSABLE = st.one_of(
    st.builds(lambda q: {"query": q}, TEXT),  # missing positive
    st.builds(lambda x: {"query": x, "positive": "p"}, st.one_of(st.integers(), st.floats(), st.lists(st.integers()))),
    st.builds(lambda q: {"query": q + "\ud800", "positive": "p"}, TEXT),  # a lone surrogate (escaped in the JSON)
    st.just({"query": "  ", "positive": "p"}),
    st.just([1, 2]),
)
ENTRY = st.one_of(
    VALID.map(lambda r: ("valid", json.dumps(r, ensure_ascii=False).encode())),
    GARBAGE.map(lambda b: ("bad", b)),
    UNUSABLE.map(lambda r: ("bad", json.dumps(r).encode())),
    st.sampled_from([b"", b"   ", b"\t"]).map(lambda b: ("blank", b)),
)


def read(source) -> tuple[list[tuple[str, str]], BadRowLog]:
    source.bind(RowRules(), None)
    log, pairs = BadRowLog("skip"), []
    for entry in source.rows():
        if isinstance(entry, BadRow):
            log.record(source.name, entry)
        else:
            pairs.append((entry.example.query, entry.example.positive))
    return pairs, log


@SETTINGS
@given(st.lists(ENTRY, max_size=25), st.booleans(), st.booleans())
def test_jsonl_keeps_every_valid_row_and_counts_every_bad_one(entries, bom, crlf):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        end = b"\r\n" if crlf else b"\n"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"".join(line + end for _, line in entries))
        pairs, log = read(JsonlSource(str(path)))
    expected = [json.loads(line) for kind, line in entries if kind == "valid"]
    assert pairs == [(r["query"], r["positive"]) for r in expected]
    assert log.total() == sum(kind == "bad" for kind, _ in entries)


@SETTINGS
@given(st.binary(max_size=400))
def test_jsonl_never_crashes_on_arbitrary_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        path.write_bytes(data)
        pairs, log = read(JsonlSource(str(path), max_line_bytes=200))
    lines = [line for line in data.split(b"\n") if line.strip()]
    assert len(pairs) + log.total() <= len(lines)  # at most one outcome per non-blank line


CSV_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)
CSV_VALID = st.builds(lambda q, p: ["q:" + q, "p:" + p], CSV_TEXT.filter(str.strip), CSV_TEXT.filter(str.strip))
# A record with the wrong number of fields and no quote character (so it cannot swallow the next lines).
CSV_SHORT = st.lists(st.text("abc xyz", max_size=5), min_size=3, max_size=5).map(lambda v: ",".join(v))


@SETTINGS
@given(st.lists(st.one_of(CSV_VALID.map(lambda r: ("valid", r)), CSV_SHORT.map(lambda r: ("bad", r))), max_size=20))
def test_csv_keeps_every_valid_row_and_counts_every_bad_one(entries):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["query", "positive"])
    for kind, row in entries:
        if kind == "valid":
            writer.writerow(row)
        else:
            buffer.write(row + "\r\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        pairs, log = read(CsvSource(str(path)))
    assert pairs == [tuple(row) for kind, row in entries if kind == "valid"]
    assert log.total() == sum(kind == "bad" for kind, _ in entries)


@SETTINGS
@given(st.binary(max_size=300))
def test_csv_never_crashes_on_arbitrary_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        path.write_bytes(b"query,positive\n" + data)
        try:
            read(CsvSource(str(path)))
        except EmbedlabError as error:  # only a configuration error (the header) may stop a read
            assert "header" in str(error) or "no column" in str(error)
