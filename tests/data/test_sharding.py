"""Sharding: DDP ranks and DataLoader workers get disjoint batches that together are the single-process stream."""

from __future__ import annotations

from collections import Counter

import pytest
from torch.utils.data import DataLoader

from embedlab.data.stream import MixCollator, MixStream
from tests.data.conftest import small_mix, take


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


def rank_batches(paths, tokenizer, rank: int, world: int, steps: int, **overrides) -> list[dict]:
    """The validation batches, then the first `steps` training batches, of `rank` in a `world`-rank run
    (rank and world size as `setup` sets them under DDP)."""
    mix = small_mix(paths, tokenizer, batches_per_epoch=None, val_fraction=0.3, val_batches=world, **overrides)
    mix.rank, mix.world_size = rank, world
    train = [b["batch"] for b in take(mix, steps)]
    return [mix.collator([it.example for it in v.items]) for v in mix.val_batches] + train


@pytest.mark.parametrize("length_bucketing", [True, False])
def test_the_ranks_of_one_step_share_its_source(two_sources, tokenizer, length_bucketing):
    world, steps = 3, 24  # 3 ranks: a bucket window of 16 batches is not a whole number of steps
    ranks = [rank_batches(two_sources, tokenizer, r, world, steps, length_bucketing=length_bucketing) for r in range(3)]
    assert all(len(batches) == 1 + steps for batches in ranks)  # one validation step, then the training steps
    per_step = [{s for rank in ranks for s in rank[step]["sources"]} for step in range(1 + steps)]
    assert all(len(sources) == 1 for sources in per_step)  # the gathered pool of every step is single-source
    assert Counter(next(iter(s)) for s in per_step).keys() == {"alpha", "bravo"}  # still drawn by weight
    single = rank_batches(two_sources, tokenizer, 0, 1, 8, length_bucketing=length_bucketing)
    assert len({s for b in single for s in b["sources"]}) == 2  # one device: a source per batch, as before
