"""The held-out validation slice: deterministic, the same for every seed, disjoint from training."""

from __future__ import annotations

from embedlab.data.passes import in_validation
from tests.data.conftest import small_mix, take


def keys(batches) -> set[int]:
    """Queries and positives (mined negatives of validation batches come from the training documents)."""
    return {k for b in batches for k in b["query_keys"].tolist() + b["document_keys"][: len(b["query_keys"])].tolist()}


def test_validation_slice_is_fixed_and_disjoint_from_training(two_sources, tokenizer):
    mix = small_mix(two_sources, tokenizer, val_fraction=0.2, val_batches=4)
    mix.prepare_streams()
    validation = list(mix.val_dataloader())
    assert len(validation) == 4 and all("mix" in b and b["mix"]["split"] == "validation" for b in validation)
    training = [b["batch"] for b in take(mix, 60)]  # several passes over the training split
    assert not keys(validation) & keys(training)
    other_seed = small_mix(two_sources, tokenizer, val_fraction=0.2, val_batches=4, seed=7)
    other_seed.prepare_streams()
    assert [b["query_keys"].tolist() for b in other_seed.val_dataloader()] == [
        b["query_keys"].tolist() for b in validation
    ]


def test_split_is_a_stable_share_of_groups():
    share = sum(in_validation("news", f"group {i}", 0.1) for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11
    assert not any(in_validation("news", f"group {i}", 0.0) for i in range(100))


def test_validation_batches_are_split_evenly_across_ranks(two_sources, tokenizer):
    mix = small_mix(two_sources, tokenizer, val_fraction=0.3, val_batches=5)
    mix.world_size, mix.rank = 2, 1
    mix.prepare_streams()
    assert len(mix.val_batches) == 2  # 5 rounded down to 4, two per rank
