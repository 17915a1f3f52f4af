"""Every kind of bad row, under both policies: `error` names file and line, `skip` counts and reports."""

from __future__ import annotations

import json
import logging

import pytest

from embedlab.data import CsvSource, JsonlSource, ParquetSource, TrainingMix
from embedlab.errors import EmbedlabError
from tests.data.conftest import synthetic_rows, take

GOOD = synthetic_rows(20, seed=3)
BAD_LINES = {
    "missing_field": json.dumps({"query": "a query without positive", "negative": "n"}),
    "empty_text": json.dumps({"query": "   \t", "positive": "p", "negative": "n"}),
    "wrong_type": json.dumps({"query": 42, "positive": "p", "negative": "n"}),
    "invalid_utf8": b'{"query": "caf\xe9", "positive": "p", "negative": "n"}',
    "too_long": json.dumps({"query": "q", "positive": "x " * 3000, "negative": "n"}),  # a line over 4,000 bytes
    "too_long_text": json.dumps({"query": "q", "positive": "y" * 1500, "negative": "n"}),  # a text over 1,000 chars
    "malformed": '{"query": "unclosed',
    "self_duplicate": json.dumps({"query": "same text", "positive": "same text", "negative": "n"}),
    "missing_negative": json.dumps({"query": "q", "positive": "p"}),
}
KIND = {"too_long_text": "too_long", "missing_negative": "missing_field"}


def write_with_bad_line(path, bad, line: int = 5):
    lines = [json.dumps(r).encode() for r in GOOD]
    lines.insert(line - 1, bad if isinstance(bad, bytes) else bad.encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def mix_over(source, tokenizer, policy: str) -> TrainingMix:
    mix = TrainingMix(
        [source],
        batch_size=4,
        num_negatives=1,
        bad_rows=policy,
        max_text_chars=1000,
        val_fraction=0.0,
        length_bucketing=False,  # batches in stream order: the first five are exactly the first pass
        num_workers=0,
    )
    mix.connect(tokenizer)
    return mix


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_error_policy_names_file_and_line(case, tmp_path, tokenizer):
    path = write_with_bad_line(tmp_path / "rows.jsonl", BAD_LINES[case])
    mix = mix_over(JsonlSource(str(path), max_line_bytes=4000), tokenizer, "error")
    with pytest.raises(EmbedlabError, match=rf"rows.jsonl:5: .*\[{KIND.get(case, case)}\]"):
        take(mix, 5)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_skip_policy_counts_and_keeps_every_good_row(case, tmp_path, tokenizer):
    path = write_with_bad_line(tmp_path / "rows.jsonl", BAD_LINES[case])
    mix = mix_over(JsonlSource(str(path), max_line_bytes=4000), tokenizer, "skip")
    batches = take(mix, 5)  # exactly one pass: 20 good rows in batches of 4
    assert batches[-1]["meta"]["bad_rows"] == {"rows": {KIND.get(case, case): 1}}
    assert "rows.jsonl:5" in batches[-1]["meta"]["bad_row_examples"]["rows"][0]
    texts = {q for b in batches for q in b["batch"]["query_keys"].tolist()}
    assert len(texts) == 20  # every good row once; nothing else lost


def test_csv_bad_rows_are_located(tmp_path, tokenizer):
    path = tmp_path / "pairs.csv"
    rows = [b"title,body,neg"] + [f"t{i} title,b{i} body,n{i} neg".encode() for i in range(12)]
    rows[3] = b"t2 title,caf\xe9 body,n2"  # invalid UTF-8 in a used column
    rows[6] = b"t5 title,,n5"  # an empty cell: missing
    rows[9] = b"t8 title,only two fields"
    path.write_bytes(b"\n".join(rows) + b"\n")
    source = CsvSource(str(path), columns={"query": "title", "positive": "body", "negatives": "neg"})
    mix = mix_over(source, tokenizer, "skip")
    batches = take(mix, 2)
    assert batches[-1]["meta"]["bad_rows"] == {"pairs": {"invalid_utf8": 1, "missing_field": 1, "malformed": 1}}
    with pytest.raises(EmbedlabError, match=r"pairs.csv:4: field 'body' is not valid UTF-8"):
        take(mix_over(CsvSource(str(path), columns=source.columns), tokenizer, "error"), 1)


def test_parquet_wrong_types_and_nulls(tmp_path, tokenizer):
    import pyarrow as pa
    import pyarrow.parquet as pq

    queries = [f"q{i}" for i in range(10)] + [None]
    table = pa.table({"q": queries, "p": [f"p{i}" for i in range(11)], "n": [[f"n{i}", "x"] for i in range(11)]})
    pq.write_table(table, tmp_path / "pairs.parquet")
    source = ParquetSource(str(tmp_path / "pairs.parquet"), columns={"query": "q", "positive": "p", "negatives": "n"})
    batches = take(mix_over(source, tokenizer, "skip"), 2)
    assert batches[-1]["meta"]["bad_rows"] == {"pairs": {"missing_field": 1}}
    with pytest.raises(EmbedlabError, match=r"pairs.parquet:row 11: field 'q' is missing"):
        take(mix_over(ParquetSource(str(tmp_path / "pairs.parquet"), columns=source.columns), tokenizer, "error"), 3)


def test_counts_are_reported_at_epoch_end(tmp_path, tokenizer, caplog):
    path = write_with_bad_line(tmp_path / "rows.jsonl", BAD_LINES["empty_text"])
    mix = mix_over(JsonlSource(str(path)), tokenizer, "skip")
    mix.hparams.batches_per_epoch = 3
    with caplog.at_level(logging.WARNING, logger="embedlab.data"):
        take(mix, 6)
    reports = [r.getMessage() for r in caplog.records if "end of epoch" in r.getMessage()]
    assert len(reports) == 2 and "rows: 1 skipped (empty_text 1)" in reports[0]
    assert any("skipping bad rows in source 'rows'" in r.getMessage() for r in caplog.records)
