"""JsonlPairs: a simple DataModule over `{query, positive, negative?}` JSON-lines files.

The streaming shared mix (`TrainingMix`) is the DataModule for studies; this one exists so that
`embedlab fit` runs end to end on any small local file. Every row is validated when the file is
read: a bad row stops the run with its file and line, never silently dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from embedlab.data.collate import Example, PairCollator
from embedlab.errors import EmbedlabError

SAMPLE_PAIRS = Path(__file__).parent / "samples" / "pairs.jsonl"


def read_pairs(path: str | Path, num_negatives: int = 0, source: str | None = None) -> list[Example]:
    """Read and validate a JSONL file of `{query, positive, negative | negatives}` rows.

    Raises:
        EmbedlabError: naming the file, line and field of the first bad row.
    """
    path = Path(path)
    if not path.is_file():
        raise EmbedlabError(f"{path}: no such file")
    examples = []
    with open(path, encoding="utf-8", errors="strict") as handle:
        try:
            lines = list(handle)
        except UnicodeDecodeError as error:
            raise EmbedlabError(f"{path}: not valid UTF-8 ({error})") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise EmbedlabError(f"{where}: not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise EmbedlabError(f"{where}: expected a JSON object with query and positive, got {type(row).__name__}")
        negatives = row.get("negatives", [row["negative"]] if "negative" in row else [])
        for name, value in (("query", row.get("query")), ("positive", row.get("positive"))):
            if not isinstance(value, str) or not value.strip():
                raise EmbedlabError(f"{where}: field {name!r} must be a non-empty string, got {value!r}")
        if not isinstance(negatives, list) or not all(isinstance(n, str) and n.strip() for n in negatives):
            raise EmbedlabError(f"{where}: hard negatives must be non-empty strings, got {negatives!r}")
        if len(negatives) < num_negatives:
            raise EmbedlabError(f"{where}: {len(negatives)} hard negatives, but num_negatives is {num_negatives}")
        examples.append(Example(row["query"], row["positive"], negatives, source or path.stem))
    if not examples:
        raise EmbedlabError(f"{path}: no rows")
    return examples


class JsonlPairs(L.LightningDataModule):
    """Training pairs from JSON-lines files.

    Args:
        train_file: JSONL with `query`, `positive` and optionally `negative` (or a `negatives` list);
            default: a small sample bundled with embedlab.
        val_file: JSONL for validation loss; default: none.
        batch_size: queries per batch (the in-batch-negative pool).
        num_negatives: hard negatives per query taken from the file (0: in-batch negatives only).
        query_instruction: prepended to every query (e.g. "Instruct: Retrieve a passage\\nQuery: ").
        query_max_length: token limit of queries (default: the backbone's).
        document_max_length: token limit of documents (default: the backbone's).
        num_workers: DataLoader worker processes (tokenisation happens there).
        seed: seed of the shuffle; the same seed gives the same order for every variant.
    """

    def __init__(
        self,
        train_file: str | None = None,
        val_file: str | None = None,
        batch_size: int = 8,
        num_negatives: int = 0,
        query_instruction: str | None = None,
        query_max_length: int | None = None,
        document_max_length: int | None = None,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.collator: PairCollator | None = None
        self.train_examples: list[Example] = []
        self.val_examples: list[Example] = []

    def connect(self, tokenizer) -> None:
        """Bind the backbone's tokenizer (done automatically in `setup` when run by a Trainer)."""
        hp = self.hparams
        self.collator = PairCollator(tokenizer, hp.num_negatives, hp.query_max_length, hp.document_max_length)

    def setup(self, stage: str) -> None:
        if self.collator is None:
            self.connect(self.trainer.lightning_module.backbone.tokenizer)
        hp = self.hparams
        self.train_examples = read_pairs(hp.train_file or SAMPLE_PAIRS, hp.num_negatives)
        self.val_examples = read_pairs(hp.val_file, hp.num_negatives) if hp.val_file else []
        for example in self.train_examples + self.val_examples:
            example.instruction = hp.query_instruction

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.hparams.seed)
        return self._loader(self.train_examples, shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val_examples, shuffle=False) if self.val_examples else []

    def _loader(self, examples, shuffle: bool, generator=None) -> DataLoader:
        return DataLoader(
            examples,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            generator=generator,
            collate_fn=self.collator,
            num_workers=self.hparams.num_workers,
            drop_last=shuffle,
            persistent_workers=self.hparams.num_workers > 0,
        )
