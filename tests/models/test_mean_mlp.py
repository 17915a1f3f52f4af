"""MeanMLP: starts as mean pooling, matches the trainable last-layer pooler's size, and learns."""

from __future__ import annotations

import torch

from embedlab.models.pooling import Mean, MeanMLP, PoolingInputs, TrainableLastLayer


def _inputs() -> PoolingInputs:
    states = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))  # [B, T, D]
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    return PoolingInputs((states,), mask, mask.bool(), is_causal=False)


def test_untrained_head_is_mean_pooling_exactly():
    inputs = _inputs()
    assert torch.equal(MeanMLP(8, width=16)(inputs), Mean(8)(inputs))


def test_default_width_matches_the_trainable_pooler_within_a_tenth_of_a_percent():
    head, perceiver = MeanMLP(576), TrainableLastLayer(576)
    assert head.width == 4626
    assert abs(head.num_parameters - perceiver.num_parameters) / perceiver.num_parameters < 1e-3
    assert MeanMLP(8, width=16).num_parameters == 2 * 8 + (8 * 16 + 16) + (16 * 8 + 8)


def test_two_steps_move_both_layers():
    head = MeanMLP(8, width=16)
    up, down = head.up.weight.detach().clone(), head.down.weight.detach().clone()
    optimiser = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(2):  # step 1 moves `down` (zero at init), step 2 then moves `up` too
        head(_inputs()).pow(2).sum().backward()
        optimiser.step()
        optimiser.zero_grad()
    assert not torch.equal(head.down.weight, down)
    assert not torch.equal(head.up.weight, up)
