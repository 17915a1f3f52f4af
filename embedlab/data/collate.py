"""Examples to model-ready batches: tokenisation (in DataLoader workers) and text hashes.

A batch is a dict:
- `query`: features of the B queries; `documents`: features of the B positives, then the B*k hard
  negatives grouped by query; features are `input_ids`, `attention_mask`, `pool_mask`, each [N, T];
- `query_keys` [B] and `document_keys` [B*(1+k)]: int64 hashes of the texts, for masking duplicates;
- `sources`: the source name of each example.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from embedlab.models.tokenization import TextTokenizer


@dataclass
class Example:
    """One training example: a query, its positive, and its hard negatives."""

    query: str
    positive: str
    negatives: list[str] = field(default_factory=list)
    source: str = "default"
    instruction: str | None = None


@functools.lru_cache(maxsize=1 << 16)
def text_key(text: str) -> int:
    """A stable signed 64-bit hash of a text (Python's `hash` differs between processes); recent ones cached
    (the same texts are hashed by the composer, the miner and the collator)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


class PairCollator:
    """Callable collate_fn turning a list of `Example`s into a batch dict.

    Args:
        tokenizer: the backbone's TextTokenizer (or a `FastTokenizer` around it: same tensors, less work).
        num_negatives: hard negatives per query (each example must have at least this many).
        query_max_length: token limit of queries.
        document_max_length: token limit of positives and negatives.
    """

    def __init__(
        self,
        tokenizer: TextTokenizer,
        num_negatives: int = 0,
        query_max_length: int | None = None,
        document_max_length: int | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.num_negatives = num_negatives
        self.query_max_length = query_max_length
        self.document_max_length = document_max_length

    def __call__(self, examples: Sequence[Example]) -> dict[str, Any]:
        k = self.num_negatives
        for example in examples:
            if len(example.negatives) < k:
                raise ValueError(
                    f"example from {example.source!r} has {len(example.negatives)} hard negatives, {k} needed: "
                    f"{example.query[:60]!r}"
                )
        queries = [e.query for e in examples]
        instructions = [e.instruction or "" for e in examples]
        documents = [e.positive for e in examples] + [n for e in examples for n in e.negatives[:k]]
        return {
            "query": self.tokenizer(queries, instructions, self.query_max_length),
            "documents": self.tokenizer(documents, None, self.document_max_length),
            "query_keys": _keys(queries),
            "document_keys": _keys(documents),
            "sources": [e.source for e in examples],
        }


def padding_stats(batch: dict[str, Any]) -> tuple[int, int]:
    """(padding tokens, all tokens) over the batch's query and document tensors."""
    total = padding = 0
    for name in ("query", "documents"):
        mask = batch[name]["attention_mask"]  # [N, T]
        total += mask.numel()
        padding += mask.numel() - int(mask.sum())
    return padding, total


def one_storage(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch with every tensor (also in nested dicts) made a view of one buffer, in place.

    A DataLoader worker hands each tensor storage to the main process through its own file
    descriptor (a socket handshake each); one storage per batch instead of eight makes that
    inter-process work about three times cheaper. The views are ordinary contiguous tensors.
    """
    found: list[tuple[dict, str, Tensor]] = []
    for owner in (batch, *(v for v in batch.values() if isinstance(v, dict))):
        found += [(owner, k, v) for k, v in owner.items() if isinstance(v, Tensor)]
    offsets, total = [], 0
    for _, _, tensor in found:
        total = -(-total // 8) * 8  # aligned for any dtype
        offsets.append(total)
        total += tensor.numel() * tensor.element_size()
    buffer = torch.empty(total, dtype=torch.uint8)
    for (owner, key, tensor), offset in zip(found, offsets, strict=True):
        view = buffer[offset : offset + tensor.numel() * tensor.element_size()].view(tensor.dtype).view(tensor.shape)
        view.copy_(tensor)
        owner[key] = view
    return batch


def _keys(texts: Sequence[str]) -> Tensor:
    return torch.tensor([text_key(t) for t in texts], dtype=torch.long)  # [N]
