"""Items of several sources to batches: weighted sampling, single-source batches, unique texts, length buckets.

The composer is a deterministic generator of global batches: given the same sources, settings and
seed it yields the same batches, whatever the model, the number of workers or the machine (for a
given number of devices: see `step_batches`). Every DataLoader worker and DDP rank runs its own
copy and keeps only its share (see `stream.py`); composing is cheap (no tokenising, no mining), so
that costs little.

A window of `bucket_window` batches is composed at a time: its sources are drawn by weight (one per
step when `single_source`, one per example otherwise; a step is `step_batches` consecutive batches,
one per DDP rank, whose embeddings the loss gathers into one pool), its examples are sorted by
length when `length_bucketing` (documents first, in bins of 16 characters, then queries, each
capped at the length the tokenizer will keep: all documents cut to the limit tie, and sort by their
queries), cut into batches, and the steps of the window are shuffled. With `unique_texts`, an
example whose text is already in the batch, or whose group is (another span of the same document:
its positive holds this example's query), waits for the next one; it is never dropped.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from embedlab.data.passes import SourceStream
from embedlab.data.rows import BadRowLog, Item
from embedlab.errors import EmbedlabError


@dataclass(frozen=True)
class Composition:
    """How batches are formed (the parts of the mix's settings that decide the order).

    Args:
        batch_size: examples per batch.
        single_source: every batch from one source.
        unique_texts: no text twice in a batch, and at most one example of a group (a document) per batch.
        length_bucketing: sort by length within a window of batches.
        bucket_window: batches per window.
        query_chars: query lengths are capped at this many characters when sorting (None: no cap).
        document_chars: likewise for documents.
        step_batches: consecutive batches that make one step (the world size: rank `r` takes batch
            `step * step_batches + r`); with `single_source`, all batches of a step share a source, so the
            pool gathered across ranks is single-source too.
    """

    batch_size: int
    single_source: bool = True
    unique_texts: bool = True
    length_bucketing: bool = True
    bucket_window: int = 16
    query_chars: int | None = None
    document_chars: int | None = None
    step_batches: int = 1


@dataclass
class Composed:
    """One global batch: its index in the stream, its items, and the stream's state when its window began."""

    index: int
    items: list[Item]
    state: dict
    chain: str = ""  # a hash of every batch's queries and positives up to this one (verifies a replay)


def chained(previous: str, items: list[Item]) -> str:
    """The hash chain extended by a batch's queries and positives, in order."""
    h = hashlib.blake2b(previous.encode(), digest_size=8)
    for item in items:
        h.update(item.example.query.encode("utf-8", "surrogatepass") + b"\0")
        h.update(item.example.positive.encode("utf-8", "surrogatepass") + b"\1")
    return h.hexdigest()


class BatchComposer:
    """Deterministic global batches from the streams of a mix.

    Args:
        streams: one stream per source, in the mix's order.
        weights: the sources' sampling weights.
        composition: batch size and the switches.
        seed: the mix's seed.
        bad_rows: the log the streams record into (its counts travel with every batch).
    """

    def __init__(
        self,
        streams: list[SourceStream],
        weights: list[float],
        composition: Composition,
        seed: int,
        bad_rows: BadRowLog,
    ) -> None:
        self.streams = streams
        self.weights = np.asarray(weights, dtype=np.float64)
        self.c = composition
        self.bad_rows = bad_rows
        self.rng = np.random.default_rng([seed, 0xC0])
        self.pending: list[deque[Item]] = [deque() for _ in streams]
        self.slot_of = {s.source.name: i for i, s in enumerate(streams)}
        self.window = 0
        self.leftover = 0  # items left when finite streams ran out (validation)

    # ---------------------------------------------------------------- drawing

    def _choose(self) -> int | None:
        live = [i for i, s in enumerate(self.streams) if not s.exhausted or self.pending[i]]
        r = self.rng.random()
        if not live:
            return None
        cumulative = np.cumsum(self.weights[live])
        return live[min(int(np.searchsorted(cumulative, r * cumulative[-1], side="right")), len(live) - 1)]

    def _take(self, slot: int | None) -> Item | None:
        while True:
            chosen = self._choose() if slot is None else slot
            if chosen is None:
                return None
            if self.pending[chosen]:
                return self.pending[chosen].popleft()
            item = next(self.streams[chosen], None)
            if item is not None or slot is not None:
                return item

    def _give_back(self, items: list[Item]) -> None:
        for item in reversed(items):
            self.pending[self.slot_of[item.example.source]].appendleft(item)
        limit = 8 * self.c.batch_size * max(1, self.c.bucket_window)
        for slot, queue in enumerate(self.pending):
            if len(queue) > limit:
                raise EmbedlabError(
                    f"source {self.streams[slot].source.name!r} repeats texts (or groups) too often for "
                    f"unique_texts: {len(queue)} examples wait for a batch without their texts and without another "
                    "example of their group. De-duplicate the source, split its groups, or set `unique_texts: false`."
                )

    # ---------------------------------------------------------------- composing

    def _length(self, item: Item) -> tuple[int, int]:
        e = item.example
        document = max([len(e.positive), *map(len, e.negatives)])
        query = len(e.query)
        if self.c.document_chars:
            document = min(document, self.c.document_chars)
        if self.c.query_chars:
            query = min(query, self.c.query_chars)
        return document // 16, query  # documents in 16-character bins (~3 tokens), then queries

    def _conflicts(self, item: Item, keys: set[int], groups: set[str]) -> bool:
        """Whether `unique_texts` keeps `item` out of a batch holding these text keys and groups: a text
        already there, or another item of its group (the spans of one document: a span's positive holds
        the other spans' queries, so they would be false in-batch negatives of each other)."""
        return self.c.unique_texts and (item.group in groups or not keys.isdisjoint(item.keys))

    def _batches(self, slot: int | None, count: int) -> list[list[Item]]:
        """`count` batches from one source (`slot`) or from all by weight (None)."""
        size = self.c.batch_size
        items = [it for _ in range(count * size) if (it := self._take(slot)) is not None]
        if self.c.length_bucketing:
            items.sort(key=self._length)
        batches: list[list[Item]] = []
        for _ in range(count):
            batch, keys, groups, rest = [], set(), set(), []
            for item in items:
                if len(batch) < size and not self._conflicts(item, keys, groups):
                    batch.append(item)
                    keys |= item.keys
                    groups.add(item.group)
                else:
                    rest.append(item)
            items = rest
            while len(batch) < size and (item := self._take(slot)) is not None:  # top up after conflicts
                if self._conflicts(item, keys, groups):
                    items.append(item)
                    continue
                batch.append(item)
                keys |= item.keys
                groups.add(item.group)
            if len(batch) < size:  # finite streams ran out
                self.leftover += len(batch)
                break
            batches.append(batch)
        self._give_back(items)
        return batches

    def _window(self) -> list[list[Item]]:
        """The batches of one window, whole steps of `step_batches` each (a source drawn per step)."""
        per_step = max(1, self.c.step_batches)
        steps = -(-self.c.bucket_window // per_step) if self.c.length_bucketing else 1  # ceil
        if not self.c.single_source:
            made = {None: self._batches(None, steps * per_step)}
            slots: list[int | None] = [None] * steps
        else:
            slots = [self._choose() for _ in range(steps)]
            made = {s: self._batches(s, slots.count(s) * per_step) for s in dict.fromkeys(slots) if s is not None}
        grouped = []
        for slot in slots:
            if slot in made and len(made[slot]) >= per_step:
                grouped.append(made[slot][:per_step])
                del made[slot][:per_step]
        self.leftover += sum(len(b) for rest in made.values() for b in rest)  # finite streams ended inside a step
        if self.c.length_bucketing and len(grouped) > 1:
            grouped = [grouped[i] for i in self.rng.permutation(len(grouped))]
        return [batch for step in grouped for batch in step]

    def state(self) -> dict:
        """Plain-data state at a window boundary: per-source positions, waiting items, the RNG."""
        return {
            "window": self.window,
            "positions": {s.source.name: s.position for s in self.streams},
            "waiting": {s.source.name: len(q) for s, q in zip(self.streams, self.pending, strict=True)},
            "rng": self.rng.bit_generator.state,
        }

    def __iter__(self) -> Iterator[Composed]:
        """Global batches in order; each carries the state at its window's start and the bad rows read by its end."""
        index, chain = 0, ""
        while True:
            state = self.state()
            batches = self._window()
            if not batches:
                return
            state["bad_rows"] = self.bad_rows.snapshot()
            state["bad_row_examples"] = {k: list(v) for k, v in self.bad_rows.examples.items()}
            self.window += 1
            for items in batches:
                chain = chained(chain, items)
                yield Composed(index, items, state, chain)
                index += 1
