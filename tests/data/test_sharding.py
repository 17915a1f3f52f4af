"""Sharding: DDP ranks and DataLoader workers get disjoint batches that together are the single-process stream."""

from __future__ import annotations

import pytest
from torch.utils.data import DataLoader

from embedlab.data.stream import MixCollator, MixStream
from tests.data.conftest import small_mix


def shard(mix, rank: int, world: int, workers: int, steps: int) -> list[dict]:
    stream = mix.train_stream
    ranked = MixStream(stream.composer, stream.miners, 1, 0, True, rank, world, stream.batches_per_epoch)
    loader = DataLoader(
        ranked, batch_size=None, num_workers=workers, collate_fn=MixCollator(mix.collator, "train", world)
    )
    out = []
    for batch in loader:
        out.append(batch)
        if len(out) == steps:
            break
    return out


@pytest.mark.parametrize("workers", [0, 2])
def test_ranks_and_workers_split_the_stream(two_sources, tokenizer, workers):
    mix = small_mix(two_sources, tokenizer, batches_per_epoch=None)
    mix.prepare_streams()
    single = shard(mix, 0, 1, 0, 12)
    ranks = [shard(mix, rank, 2, workers, 6) for rank in (0, 1)]
    for rank, batches in enumerate(ranks):
        assert [b["mix"]["step"] for b in batches] == list(range(6))  # in order, whatever the workers
        assert [b["mix"]["index"] for b in batches] == [2 * s + rank for s in range(6)]
    merged = sorted(ranks[0] + ranks[1], key=lambda b: b["mix"]["index"])
    assert [b["query_keys"].tolist() for b in merged] == [b["query_keys"].tolist() for b in single]
    assert [b["document_keys"].tolist() for b in merged] == [b["document_keys"].tolist() for b in single]
