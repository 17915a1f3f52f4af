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


def test_similarities_and_cross_entropy_run_in_float32_under_bf16_autocast():
    # Cosine x 20 in bf16 moves in steps of ~0.08: the loss under autocast must be the float32 loss.
    torch.manual_seed(0)
    q, p, n = (F.normalize(torch.randn(8, 16), dim=-1) for _ in range(3))
    for loss_fn in (InfoNCE(), InfoNCE(symmetric=True, query_query=True)):
        reference = loss_fn(q, p, n)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = loss_fn(q, p, n)
            pure = info_nce(q, torch.cat([p, n]), torch.arange(8), 20.0)
        assert autocast.dtype == torch.float32 and pure.dtype == torch.float32
        assert abs(autocast.item() - reference.item()) < 1e-6
    assert abs(pure.item() - InfoNCE()(q, p, n).item()) < 1e-6


def test_bf16_embeddings_are_scored_in_float32():
    torch.manual_seed(0)
    q, p = (F.normalize(torch.randn(8, 16), dim=-1).bfloat16() for _ in range(2))
    expected = F.cross_entropy(20 * q.float() @ p.float().T, torch.arange(8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert abs(InfoNCE()(q, p).item() - expected.item()) < 1e-6


def masked_reference(q, docs, labels, query_keys, all_query_keys, scale=20.0):
    """Cross-entropy with the positive of every other copy of a query set to -inf, by explicit loops."""
    logits = scale * q @ docs.T  # [B, N]
    for i in range(len(q)):
        for j in range(len(all_query_keys)):
            if j != labels[i] and query_keys[i] == all_query_keys[j]:
                logits[i, j] = -math.inf
    return F.cross_entropy(logits, labels)


def test_identical_queries_with_different_positives_are_not_negatives():
    # Queries 0 and 1 are one text (key 5) with two different positives; query 2 is another text.
    q = unit([1, 0], [1, 0], [0, 1])
    p = unit([1, 0], [0, 1], [1, 1])
    qkeys = torch.tensor([5, 5, 9])
    dkeys = torch.tensor([10, 11, 12])
    masked = InfoNCE()(q, p, query_keys=qkeys, document_keys=dkeys)
    s = 1 / math.sqrt(2)
    # logits, target first: row 0 [20, -inf (query 1's positive), 20 s]; row 1 [0; -inf, 20 s]; row 2 [20 s; 0, 20]
    row0 = -math.log(math.exp(20) / (math.exp(20) + math.exp(20 * s)))
    row1 = -math.log(1 / (1 + math.exp(20 * s)))
    row2 = -math.log(math.exp(20 * s) / (1 + math.exp(20) + math.exp(20 * s)))
    assert masked.item() == pytest.approx((row0 + row1 + row2) / 3, rel=1e-5)
    unmasked = InfoNCE(mask_duplicates=False)(q, p, query_keys=qkeys, document_keys=dkeys)
    assert unmasked.item() > masked.item() + 1


def test_identical_queries_on_two_devices_are_not_negatives():
    # World size 2, two queries per rank; rank 0's query 0 and rank 1's query 1 are the same text (key 5)
    # with different positives. Each rank's gather returns both ranks' tensors; the hard negatives stay
    # negatives of every query.
    torch.manual_seed(0)
    ranks = []
    for r in range(2):
        ranks.append(
            {
                "q": F.normalize(torch.randn(2, 8), dim=-1),
                "p": F.normalize(torch.randn(2, 8), dim=-1),
                "n": F.normalize(torch.randn(2, 8), dim=-1),
                "qk": torch.tensor([5, 6]) if r == 0 else torch.tensor([7, 5]),
                "pk": torch.tensor([100 + 2 * r, 101 + 2 * r]),
                "nk": torch.tensor([200 + 2 * r, 201 + 2 * r]),
            }
        )
    ranks[1]["q"][1] = ranks[0]["q"][0]  # the same text embeds the same
    for r in range(2):  # each positive close to its query, as after some training
        ranks[r]["p"] = F.normalize(ranks[r]["q"] + 0.3 * ranks[r]["p"], dim=-1)

    def gather_for(rank):
        def gather(tensor, differentiable):
            field = next(f for f, v in ranks[rank].items() if v.shape == tensor.shape and torch.equal(v, tensor))
            return torch.cat([ranks[r][field] for r in range(2)])

        return gather

    losses = [
        InfoNCE()(
            ranks[r]["q"],
            ranks[r]["p"],
            ranks[r]["n"],
            query_keys=ranks[r]["qk"],
            document_keys=torch.cat([ranks[r]["pk"], ranks[r]["nk"]]),
            gather=gather_for(r),
            rank=r,
        )
        for r in range(2)
    ]
    every = {f: torch.cat([ranks[r][f] for r in range(2)]) for f in ranks[0]}
    docs = torch.cat([every["p"], every["n"]])  # [8, D]: gathered positives, then gathered negatives
    expected = masked_reference(every["q"], docs, torch.arange(4), every["qk"], every["qk"])
    assert ((losses[0] + losses[1]) / 2).item() == pytest.approx(expected.item(), rel=1e-5)
    unmasked = F.cross_entropy(20 * every["q"] @ docs.T, torch.arange(4))
    assert unmasked.item() > expected.item() + 0.1  # the masked pairs matter


def test_symmetric_term_masks_the_query_of_a_copied_positive():
    # Two different queries share one positive text: in the document-to-query direction, positive 0's
    # candidates are the queries, and query 1 (whose positive is the same text) is not its negative.
    q = unit([1, 0], [0, 1])
    p = unit([1, 1], [1, 1])
    loss = InfoNCE(symmetric=True)(q, p, query_keys=torch.tensor([1, 2]), document_keys=torch.tensor([7, 7]))
    # forward rows: the other positive is a copy of the target, masked -> 0; reverse rows likewise -> 0
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
