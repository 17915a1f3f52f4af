"""Properties of the evaluation-side readers: task files and predictions files round-trip valid content exactly,
and any bytes at all give either that or an error of embedlab's own (never a bare exception)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from embedlab.analysis.errors import AnalysisError
from embedlab.analysis.examples import read_predictions
from embedlab.eval.file_task.reader import TaskFileError, read_table

SETTINGS = settings(max_examples=50, deadline=None, database=None)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"), min_size=1, max_size=30)
SCORE = st.floats(min_value=0, max_value=5, allow_nan=False)


@SETTINGS
@given(st.lists(st.tuples(TEXT.filter(str.strip), TEXT.filter(str.strip), SCORE), min_size=1, max_size=15))
def test_task_csv_round_trips(rows):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["sentence1", "sentence2", "score"])
    writer.writerows([a, b, repr(s)] for a, b, s in rows)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        path.write_bytes(buffer.getvalue().encode("utf-8"))
        table = read_table(path, "splits.test")
        spec = Path(folder) / "task.yaml"
        assert table.texts("sentence1", "text1", spec) == [a for a, _, _ in rows]
        assert table.texts("sentence2", "text2", spec) == [b for _, b, _ in rows]
        assert table.numbers("score", "score", spec) == [s for _, _, s in rows]
        assert table.lines[0] == 2 and table.lines == sorted(table.lines)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_task_file_never_crashes(data, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        try:
            table = read_table(path, "splits.test")
        except TaskFileError:
            return
        for column in table.columns:
            for method in (table.texts, table.numbers, table.labels):
                try:
                    method(column, "text", Path(folder) / "task.yaml")
                except TaskFileError:
                    pass


RECORD = st.builds(lambda g, s: {"gold": g, "score": s}, SCORE, st.floats(-1, 1, allow_nan=False))


@SETTINGS
@given(st.lists(RECORD, min_size=1, max_size=30))
def test_predictions_round_trip(records):
    header = {"task_name": "T", "task_type": "STS", "main_score_name": "cosine_spearman", "split": "test"}
    lines = [header] + [{"id": f"e{i}", **r} for i, r in enumerate(records)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "T.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        predictions = read_predictions(path)
    assert predictions.ids.tolist() == [f"e{i}" for i in range(len(records))]
    assert predictions.outputs.tolist() == [r["score"] for r in records]
    assert predictions.reference.tolist() == [r["gold"] for r in records]


@SETTINGS
@given(st.lists(st.binary(max_size=40), max_size=6))
def test_predictions_reader_never_crashes(lines):
    header = json.dumps({"task_name": "T", "task_type": "STS"}).encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "T.jsonl"
        path.write_bytes(b"\n".join([header, *(line.replace(b"\n", b" ") for line in lines)]))
        try:
            read_predictions(path)
        except AnalysisError:
            pass
