"""One source as an endless, shuffled, split-filtered stream of items, pass after pass.

Each pass reads the source in its stored order and shuffles it through a buffer of `buffer_size`
items (as `datasets` streaming does), seeded by (seed, source position in the mix, pass number):
the order depends on nothing else, so every variant, worker and rank sees the same one. A source
smaller than the buffer is shuffled completely. The stream's position is (pass, items yielded in
the pass).

The validation split is a fixed hash of (source name, item group): it does not depend on the seed,
so runs with different seeds are validated on the same held-out slice, and it needs no index.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np

from embedlab.data.rows import BadRow, BadRowLog, Item
from embedlab.data.sources.base import Source
from embedlab.errors import EmbedlabError

TRAIN, VALIDATION = "train", "validation"


def in_validation(source: str, group: str, fraction: float) -> bool:
    """Whether items of `group` in `source` belong to the held-out validation slice."""
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"{source}\0{group}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64 < fraction


def split_items(
    source: Source,
    split: str,
    val_fraction: float,
    bad_rows: BadRowLog,
    entries: Iterator[Item | BadRow] | None = None,
    count: bool = True,
) -> Iterator[Item]:
    """One pass of `source` (stored order, or `entries`) restricted to `split`.

    Bad rows go to `bad_rows`; `count=False` on later passes, so each is counted once.
    """
    for entry in source.rows() if entries is None else entries:
        if isinstance(entry, BadRow):
            bad_rows.record(source.name, entry, count)
        elif in_validation(source.name, entry.group, val_fraction) == (split == VALIDATION):
            yield entry


class SourceStream:
    """Items of one source for one split: shuffled passes, endless or limited.

    Args:
        source: the source.
        slot: the source's position in the mix (part of the shuffle seed).
        split: `train` or `validation`.
        seed: the mix's seed.
        buffer_size: items shuffled together.
        val_fraction: share of groups held out for validation.
        bad_rows: where bad rows are recorded (it raises under the `error` policy).
        passes: stop after this many passes; None: endless.
    """

    def __init__(
        self,
        source: Source,
        slot: int,
        split: str,
        seed: int,
        buffer_size: int,
        val_fraction: float,
        bad_rows: BadRowLog,
        passes: int | None = None,
    ) -> None:
        self.source = source
        self.slot = slot
        self.split = split
        self.seed = seed
        self.buffer_size = max(1, buffer_size)
        self.val_fraction = val_fraction
        self.bad_rows = bad_rows
        self.passes = passes
        self.pass_index = 0
        self.offset = 0
        self.exhausted = False
        self._current: Iterator[Item] | None = None

    @property
    def position(self) -> list[int]:
        """[pass, items yielded in that pass]."""
        return [self.pass_index, self.offset]

    def __iter__(self) -> SourceStream:
        return self

    def __next__(self) -> Item:
        while True:
            if self.exhausted:
                raise StopIteration
            if self._current is None:
                self._current = self._shuffled_pass()
            try:
                item = next(self._current)
            except StopIteration:
                if self.offset == 0 and self.passes is None:  # an endless stream of nothing
                    raise EmbedlabError(
                        f"source {self.source.name!r} has no usable {self.split} examples "
                        f"({self.bad_rows.total()} bad rows so far; val_fraction {self.val_fraction})"
                    ) from None
                self._current = None
                self.pass_index += 1
                self.offset = 0
                self.exhausted = self.passes is not None and self.pass_index >= self.passes
                continue
            self.offset += 1
            return item

    def _shuffled_pass(self) -> Iterator[Item]:
        sequence = np.random.SeedSequence([self.seed, self.slot, self.pass_index, 0x5EED])
        first = self.pass_index == 0  # bad rows are counted in the first pass only
        own = self.source.shuffled_rows(int(sequence.generate_state(1)[0]), self.buffer_size)
        if own is not None:
            yield from split_items(self.source, self.split, self.val_fraction, self.bad_rows, own, first)
            return
        rng = np.random.default_rng(sequence)
        buffer: list[Item] = []
        for item in split_items(self.source, self.split, self.val_fraction, self.bad_rows, None, first):
            if len(buffer) < self.buffer_size:
                buffer.append(item)
                continue
            j = int(rng.integers(self.buffer_size))
            buffer[j], item = item, buffer[j]
            yield item
        for j in rng.permutation(len(buffer)):
            yield buffer[j]
