"""InfoNCE: hand-written cross-entropy, permutation invariance, hard negatives, gathering,
duplicate masking, the symmetric and query-query terms, learnable temperature."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from embedlab.losses import InfoNCE, info_nce


def unit(*rows) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def test_matches_hand_written_cross_entropy():
    q = unit([1, 0], [0, 1])
    d = unit([1, 0], [1, 1])
    # similarities: q0 . d = [1, 1/sqrt2], q1 . d = [0, 1/sqrt2]; scale 20; targets 0 and 1
    s = 1 / math.sqrt(2)
    loss0 = -math.log(math.exp(20) / (math.exp(20) + math.exp(20 * s)))
    loss1 = -math.log(math.exp(20 * s) / (math.exp(0) + math.exp(20 * s)))
    loss = InfoNCE(temperature=0.05)(q, d)
    assert loss.item() == pytest.approx((loss0 + loss1) / 2, rel=1e-5)


def test_invariant_to_a_joint_permutation():
    torch.manual_seed(0)
    q, p, n = (F.normalize(torch.randn(6, 8), dim=-1) for _ in range(3))
    loss = InfoNCE()(q, p, n)
    perm = torch.randperm(6)
    assert InfoNCE()(q[perm], p[perm], n[perm]).item() == pytest.approx(loss.item(), rel=1e-5)


def test_hard_negatives_add_columns():
    torch.manual_seed(0)
    q, p, n = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(3))
    logits = 20 * q @ torch.cat([p, n]).T  # [4, 8]
    expected = F.cross_entropy(logits, torch.arange(4))
    assert InfoNCE()(q, p, n).item() == pytest.approx(expected.item(), rel=1e-5)
    assert InfoNCE()(q, p, n).item() > InfoNCE()(q, p).item()  # more negatives, higher loss


def test_gathered_path_with_world_size_one_equals_plain_path():
    torch.manual_seed(0)
    q, p, n = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(3))
    keys = torch.arange(12)
    for loss in (InfoNCE(), InfoNCE(symmetric=True, query_query=True)):
        plain = loss(q, p, n, query_keys=keys[:4], document_keys=keys[4:])
        gathered = loss(q, p, n, query_keys=keys[:4], document_keys=keys[4:], gather=lambda t, d: t, rank=0)
        assert gathered.item() == plain.item()


def test_simulated_two_rank_gather_matches_the_concatenated_batch():
    # Each rank holds half the batch; its gather returns every rank's positives. The mean of the two
    # local losses is the loss of the whole batch on one device.
    torch.manual_seed(0)
    q, p = (F.normalize(torch.randn(6, 8), dim=-1) for _ in range(2))
    full = InfoNCE()(q, p)

    def gather(tensor, differentiable):
        return p if tensor.shape[0] == 3 else tensor  # positives: all of them; empty negatives stay empty

    halves = [InfoNCE()(q[3 * r : 3 * r + 3], p[3 * r : 3 * r + 3], gather=gather, rank=r) for r in (0, 1)]
    assert ((halves[0] + halves[1]) / 2).item() == pytest.approx(full.item(), rel=1e-5)


def test_duplicate_texts_are_not_negatives():
    q = unit([1, 0], [0, 1])
    p = unit([1, 0], [1, 0])  # both queries have the same positive text
    keys_docs = torch.tensor([7, 7])
    masked = InfoNCE()(q, p, document_keys=keys_docs)
    # query 0's only other candidate is its own positive's duplicate: masked, so its loss is 0
    logits1 = torch.tensor([[-math.inf, 0.0]])
    expected = (0 + F.cross_entropy(logits1, torch.tensor([1])).item()) / 2
    assert masked.item() == pytest.approx(expected, abs=1e-6)
    unmasked = InfoNCE(mask_duplicates=False)(q, p, document_keys=keys_docs)
    assert unmasked.item() > masked.item()


def test_symmetric_and_query_query_terms():
    torch.manual_seed(0)
    q, p = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2))
    labels = torch.arange(4)
    forward = F.cross_entropy(20 * q @ p.T, labels)
    backward = F.cross_entropy(20 * p @ q.T, labels)
    assert InfoNCE(symmetric=True)(q, p).item() == pytest.approx(((forward + backward) / 2).item(), rel=1e-5)
    qq = 20 * q @ q.T
    qq.fill_diagonal_(-math.inf)
    expected = F.cross_entropy(torch.cat([20 * q @ p.T, qq], 1), labels)
    assert InfoNCE(query_query=True)(q, p).item() == pytest.approx(expected.item(), rel=1e-5)


def test_learnable_temperature_gets_gradients_and_is_clamped():
    loss_fn = InfoNCE(temperature=0.05, learnable_temperature=True)
    assert loss_fn.temperature == pytest.approx(0.05)
    torch.manual_seed(0)
    q, p = (F.normalize(torch.randn(4, 8), dim=-1) for _ in range(2))
    loss_fn(q, p).backward()
    assert loss_fn.log_scale.grad is not None
    with torch.no_grad():
        loss_fn.log_scale.fill_(10.0)
    assert loss_fn.temperature == pytest.approx(0.01)
    with pytest.raises(ValueError, match="positive"):
        InfoNCE(temperature=0.0)


def test_pure_function_matches_module():
    torch.manual_seed(0)
    q, p = (F.normalize(torch.randn(3, 4), dim=-1) for _ in range(2))
    assert info_nce(q, p, torch.arange(3), 20.0).item() == pytest.approx(InfoNCE()(q, p).item(), rel=1e-6)
