"""The composed stream as a PyTorch IterableDataset: sharded, resumable, tokenised in the workers.

Global batch `g` is step `g // world_size` of rank `g % world_size`; on a rank, the DataLoader's
worker `w` of `W` takes the steps `start + w, start + w + W, ...`. The DataLoader returns worker
outputs round robin, so training sees the rank's steps in order. Every worker composes the whole
global stream (cheap) and mines and tokenises only its own batches (the expensive part).

`start` (the number of steps training has consumed) lives in a shared-memory tensor that the
DataModule updates after every consumed batch. At each `__iter__` a worker reads it and continues
its cached composer when that is not past `start` (persistent workers, next epoch), or replays the
stream from the seed up to `start` (a resumed fit: composing only, nothing mined or tokenised).
Each batch carries its step and the stream's state under the key `mix`, which the DataModule pops
before the batch reaches the model, so what is checkpointed describes consumed batches, not the
ones the workers produced ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from embedlab.data.collate import PairCollator, one_storage
from embedlab.data.composer import BatchComposer, Composed
from embedlab.data.mining import NegativeMiner
from embedlab.errors import EmbedlabError

META = "mix"


def mine_batch(
    composed: Composed,
    miners: dict[str, NegativeMiner],
    count: int,
    seed: int,
    unique: bool,
    match_chars: int | None = None,
) -> None:
    """Mine hard negatives for the items of a batch whose sources mine them (in place, deterministic)."""
    if not miners or count == 0:
        return
    rng = np.random.default_rng([seed, composed.index, 0x4E47])
    avoid = set().union(*(item.keys for item in composed.items)) if unique else None
    by_source: dict[str, list] = {}
    for item in composed.items:
        if item.example.source in miners:
            by_source.setdefault(item.example.source, []).append(item)
    for source, items in by_source.items():
        miners[source].mine(items, count, rng, avoid, match_chars)  # adds the chosen negatives to `avoid`


class MixStream(IterableDataset):
    """One rank's share of the composed stream.

    Args:
        composer: builds a fresh BatchComposer (called in each worker).
        miners: negative miners by source name.
        num_negatives: hard negatives per query.
        seed: the mix's seed (seeds mining, per batch).
        unique_texts: keep mined negatives out of the batch's other texts.
        rank: this process's global rank; world_size: the number of ranks.
        batches_per_epoch: steps per epoch on each rank; None: one endless epoch.
        expect: the state of the last consumed batch, from a checkpoint, to verify the replay against.
        match_chars: mined negatives as long as their positives, capped at this many characters; None: any length.
    """

    def __init__(
        self,
        composer: Callable[[], BatchComposer],
        miners: dict[str, NegativeMiner],
        num_negatives: int,
        seed: int,
        unique_texts: bool,
        rank: int = 0,
        world_size: int = 1,
        batches_per_epoch: int | None = None,
        expect: dict | None = None,
        match_chars: int | None = None,
    ) -> None:
        super().__init__()
        self.match_chars = match_chars
        self.composer = composer
        self.miners = miners
        self.num_negatives = num_negatives
        self.seed = seed
        self.unique_texts = unique_texts
        self.rank = rank
        self.world_size = world_size
        self.batches_per_epoch = batches_per_epoch
        self.expect = expect
        self.consumed = torch.zeros(1, dtype=torch.long).share_memory_()  # steps consumed, written by the DataModule
        self._cache: tuple[Iterator[Composed], Composed | None] | None = None

    def __iter__(self) -> Iterator[Composed]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        start = int(self.consumed.item())
        end = None
        if self.batches_per_epoch:
            end = (start // self.batches_per_epoch + 1) * self.batches_per_epoch
        stream, ahead = self._continue_from(start)
        while True:
            composed = ahead if ahead is not None else next(stream, None)
            ahead = None
            if composed is None:
                return
            step, owner = divmod(composed.index, self.world_size)
            if self.expect is not None and composed.index == self.expect["index"]:
                self._verify(composed)
            if step < start or owner != self.rank:
                continue
            if end is not None and step >= end:
                self._cache = (stream, composed)  # the next epoch continues here
                return
            if (step - start) % workers == worker:
                mine_batch(composed, self.miners, self.num_negatives, self.seed, self.unique_texts, self.match_chars)
                yield composed

    def _continue_from(self, start: int) -> tuple[Iterator[Composed], Composed | None]:
        if self._cache is not None:
            stream, ahead = self._cache
            self._cache = None
            if ahead is not None and ahead.index // self.world_size <= start:
                return stream, ahead
        return iter(self.composer()), None  # replay from the seed

    def _verify(self, composed: Composed) -> None:
        expected = self.expect
        found = {"chain": composed.chain, "positions": composed.state["positions"]}
        wanted = {"chain": expected.get("chain"), "positions": expected.get("positions")}
        if found != wanted:
            raise EmbedlabError(
                f"the training mix does not replay to the checkpointed batch {expected['index']}: expected {wanted}, "
                f"got {found}. The data files, the sources or their order changed since the checkpoint was written; "
                "exact resume is impossible (start a new run, or restore the data)."
            )


class MixCollator:
    """collate_fn for composed batches: the PairCollator batch plus the stream state under `mix`.

    Args:
        collator: tokenises the examples (in the worker).
        split: `train` or `validation`, recorded in the state.
        world_size: ranks, to turn the global index into a step.
    """

    def __init__(self, collator: PairCollator, split: str, world_size: int = 1) -> None:
        self.collator = collator
        self.split = split
        self.world_size = world_size

    def __call__(self, composed: Composed) -> dict[str, Any]:
        batch = self.collator([item.example for item in composed.items])
        batch[META] = {
            "split": self.split,
            "index": composed.index,
            "step": composed.index // self.world_size,
            "chain": composed.chain,
            **composed.state,
        }
        if get_worker_info() is not None:  # sent to the main process: one storage, not one per tensor
            one_storage(batch)
        return batch


class BatchList(IterableDataset):
    """A fixed list of composed batches (the validation slice), iterated in order.

    Args:
        batches: the batches; with several workers, worker `w` takes every `w`-th.
    """

    def __init__(self, batches: list[Composed]) -> None:
        super().__init__()
        self.batches = batches

    def __iter__(self) -> Iterator[Composed]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return iter(self.batches[worker::workers])
