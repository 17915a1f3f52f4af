"""Columnar and hub data: local Parquet files and Hugging Face `datasets`, both streamed.

`ParquetSource` reads record batches with pyarrow (a few thousand rows at a time), so a file of any
size streams in bounded memory. `HubSource` calls `datasets.load_dataset(..., streaming=True)` by
default: rows arrive as the shards download and nothing is materialised (e.g. the paper's
`yixuantt/ir_data`, `{query, positive, negative}`). It needs network access, or a local dataset
folder as `path`: the same code path then runs offline (that is how it is tested).

A streamed dataset is read through `IterableDataset.iter`, not `for row in dataset`: inside a
PyTorch DataLoader worker, `datasets` (checked with 5.2: `IterableDataset.__iter__` ->
`_iter_pytorch`, keyed on `torch.utils.data.get_worker_info()`) gives each worker every W-th shard
and shifts its shuffle seed by the worker id. The mix needs every worker to read the whole stream
(each composes the global order and keeps its own batches, see `stream.py`); otherwise the order
would depend on `num_workers`, a resume would fail its replay check, and a dataset with fewer shards
than workers would leave workers without data. `iter` reads the same rows in the same order with no
split by worker.
"""

from __future__ import annotations

from collections.abc import Iterator

from embedlab.data.rows import BadRow, Item
from embedlab.data.sources.base import Source, check_has_columns, expand_paths, resolve_columns
from embedlab.errors import EmbedlabError


class ParquetSource(Source):
    """Parquet files, read in record batches.

    Args:
        path: a file, a glob pattern (`data/train-*.parquet`) or a list of them; read in sorted order.
        columns: which column holds the `query`, `positive` and `negatives` (a string or a list of
            strings); default `{query: query, positive: positive, negatives: negative}`.
        read_batch_rows: rows per record batch read at a time.
        **kwargs: `weight`, `instruction`, `negatives`, `name` (see `Source`).
    """

    def __init__(
        self, path: str | list[str], columns: dict[str, str] | None = None, read_batch_rows: int = 4096, **kwargs
    ) -> None:
        self.record_args(locals())
        super().__init__(**kwargs)
        self.path = path
        self.columns = resolve_columns(columns, type(self).__name__)
        self.read_batch_rows = read_batch_rows

    def default_name(self) -> str:
        return expand_paths(self.path, type(self).__name__)[0].stem

    def describe(self) -> str:
        return f"Parquet {self.path}"

    def size_hint(self) -> int | None:

        return sum(_open_parquet(p).metadata.num_rows for p in expand_paths(self.path, type(self).__name__))

    def _wanted(self) -> list[str]:
        return ["query", "positive"] + (["negatives"] if self.rules.negatives_needed else [])

    def rows(self) -> Iterator[Item | BadRow]:

        for path in expand_paths(self.path, type(self).__name__):
            handle = _open_parquet(path)
            check_has_columns(handle.schema_arrow.names, self.columns, self._wanted(), str(path))
            names = [self.columns[role] for role in self._wanted()]
            number = 0
            batches = handle.iter_batches(batch_size=self.read_batch_rows, columns=names)
            while True:
                try:
                    batch = next(batches, None)
                except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid / ArrowIOError: a damaged row group
                    raise EmbedlabError(
                        f"{path}: damaged after row {number} ({type(error).__name__}: {error}); the rows before it "
                        "were read. Rewrite the file (a Parquet file cannot be read past a broken row group)."
                    ) from None
                if batch is None:
                    break
                for row in batch.to_pylist():
                    number += 1
                    yield self.item(row, self.columns, f"{path}:row {number}")


def _open_parquet(path):
    """`pq.ParquetFile(path)`, or an error naming the file when it is not a (complete) Parquet file."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as error:  # ArrowInvalid (a ValueError): truncated, empty or not Parquet
        raise EmbedlabError(
            f"{path}: not a readable Parquet file ({type(error).__name__}: {error}). A truncated file "
            "(an interrupted copy or download) looks like this: copy it again."
        ) from None


class HubSource(Source):
    """A Hugging Face dataset, streamed by default (`datasets.load_dataset`).

    Args:
        path: a hub id (`yixuantt/ir_data`) or a local dataset folder or file pattern.
        config_name: the dataset's configuration (subset), if it has several.
        split: the split to read.
        revision: a branch, tag or commit to pin (recommended for studies).
        data_files: restrict to these files of the dataset (e.g. one shard for a quick run).
        columns: which column holds the `query`, `positive` and `negatives`.
        streaming: stream rows as they download; False downloads and caches the dataset on disk first
            (read memory-mapped: still never held in memory as a whole).
        **kwargs: `weight`, `instruction`, `negatives`, `name` (see `Source`).
    """

    def __init__(
        self,
        path: str,
        config_name: str | None = None,
        split: str = "train",
        revision: str | None = None,
        data_files: str | list[str] | None = None,
        columns: dict[str, str] | None = None,
        streaming: bool = True,
        **kwargs,
    ) -> None:
        self.record_args(locals())
        super().__init__(**kwargs)
        self.path = path
        self.config_name = config_name
        self.split = split
        self.revision = revision
        self.data_files = data_files
        self.columns = resolve_columns(columns, type(self).__name__)
        self.streaming = streaming

    def default_name(self) -> str:
        return self.path.rstrip("/").rpartition("/")[2] or self.path

    def describe(self) -> str:
        revision = f"@{self.revision}" if self.revision else ""
        return f"hub {self.path}{revision} [{self.split}]{' streaming' if self.streaming else ''}"

    def load(self):
        """The `datasets` dataset (an IterableDataset when streaming)."""
        try:
            import datasets
        except ImportError as error:  # a declared dependency, but say what is missing
            raise EmbedlabError(f"HubSource {self.path!r} needs the `datasets` package: {error}") from error
        try:
            return datasets.load_dataset(
                self.path,
                self.config_name,
                split=self.split,
                revision=self.revision,
                data_files=self.data_files,
                streaming=self.streaming,
            )
        except Exception as error:  # offline, unknown id, unknown split: say which source and how to fix it
            raise EmbedlabError(
                f"HubSource {self.path!r} (split {self.split!r}) could not be loaded: {type(error).__name__}: {error}. "
                "It needs network access to the Hugging Face hub, or a local dataset folder as `path`."
            ) from error

    def size_hint(self) -> int | None:
        dataset = self.load()
        if not self.streaming:
            return len(dataset)
        info = getattr(dataset, "info", None)
        splits = getattr(info, "splits", None) or {}
        split = splits.get(self.split) if hasattr(splits, "get") else None
        return getattr(split, "num_examples", None) or None

    def _checked(self):
        dataset = self.load()
        features = getattr(dataset, "features", None)
        wanted = ["query", "positive"] + (["negatives"] if self.rules.negatives_needed else [])
        if features is not None:
            check_has_columns(list(features), self.columns, wanted, f"{self.path} [{self.split}]")
        return dataset

    def rows(self) -> Iterator[Item | BadRow]:
        dataset = self._checked()
        for number, row in enumerate(whole_stream(dataset) if self.streaming else dataset, start=1):
            yield self.item(row, self.columns, f"{self.path} [{self.split}]:row {number}")

    def shuffled_rows(self, seed: int, buffer_size: int) -> Iterator[Item | BadRow]:
        """Streaming: shards in a seeded order through a buffer (`IterableDataset.shuffle`); downloaded:
        a full seeded permutation of the memory-mapped rows (what `DataLoader(shuffle=True)` gives)."""
        dataset = self._checked()
        where = f"{self.path} [{self.split}]"
        if self.streaming:
            shuffled = dataset.shuffle(seed=seed, buffer_size=buffer_size)
            for number, row in enumerate(whole_stream(shuffled), start=1):
                yield self.item(row, self.columns, f"{where}:row {number} of the pass shuffled with seed {seed}")
            return
        import numpy as np

        for index in np.random.default_rng(seed).permutation(len(dataset)):
            yield self.item(dataset[int(index)], self.columns, f"{where}:row {int(index) + 1}")


def whole_stream(dataset) -> Iterator[dict]:
    """Every row of a streamed (`datasets.IterableDataset`) dataset in its order, also in a DataLoader worker
    (where plain iteration would read only that worker's shards; see the module docstring)."""
    for batch in dataset.iter(batch_size=1):  # {column: [value]}
        yield {column: values[0] for column, values in batch.items()}
