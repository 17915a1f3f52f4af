"""Known answers of the similarity measures on hand-written tensors."""

from __future__ import annotations

import math

import pytest
import torch

from embedlab.errors import UnknownNameError
from embedlab.layers.similarity import cka_matrix, cosine_matrix, linear_cka, similarity_matrix


def random_layer(n: int = 40, d: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)  # [N, D]


def test_one_dimensional_cka_is_squared_pearson_correlation():
    x = torch.tensor([[1.0], [2.0], [3.0]])  # centred: (-1, 0, 1)
    y = torch.tensor([[1.0], [3.0], [2.0]])  # centred: (-1, 1, 0); r = 1 / 2
    assert linear_cka(x, y) == pytest.approx(0.25, abs=1e-12)
    assert cka_matrix(torch.stack([x, y]))[0, 1].item() == pytest.approx(0.25, abs=1e-7)


def test_identical_layers_give_one():
    x = random_layer()
    layers = torch.stack([x, x, x])  # [3, N, D]
    for measure in ("cka", "cosine"):
        assert torch.allclose(similarity_matrix(layers, measure), torch.ones(3, 3, dtype=torch.float64), atol=1e-6)


def test_cka_is_invariant_to_orthogonal_transforms_isotropic_scaling_and_translation():
    x = random_layer()
    rotation, _ = torch.linalg.qr(random_layer(8, 8, seed=1))  # [D, D] orthogonal
    y = 3.5 * x @ rotation + 2.0  # rotated, scaled, shifted
    assert linear_cka(x, y) == pytest.approx(1.0, abs=1e-12)
    assert cka_matrix(torch.stack([x, y]))[0, 1].item() == pytest.approx(1.0, abs=1e-6)
    # ... but not to an anisotropic scaling
    assert linear_cka(x, x * torch.linspace(0.1, 10.0, 8)) < 0.9


def test_cka_of_unrelated_layers_is_low_and_matrix_matches_pairwise():
    layers = torch.stack([random_layer(200, 8, seed=s) for s in range(4)])  # [4, N, D]
    matrix = cka_matrix(layers)
    assert torch.allclose(matrix, matrix.T) and torch.allclose(matrix.diagonal(), torch.ones(4, dtype=torch.float64))
    for i in range(4):
        for j in range(4):
            assert matrix[i, j].item() == pytest.approx(linear_cka(layers[i], layers[j]), abs=1e-6)
    assert matrix[0, 1].item() < 0.15  # independent Gaussian features: CKA ~ D / N


def test_cka_accepts_different_widths_and_chunking_does_not_change_it():
    x = random_layer(30, 6)
    y = torch.cat([x @ torch.linalg.qr(random_layer(6, 6, seed=2))[0], torch.zeros(30, 4)], dim=1)  # [N, 10]
    assert linear_cka(x, y) == pytest.approx(1.0, abs=1e-12)
    layers = torch.stack([random_layer(30, 6, seed=s) for s in range(3)])
    assert torch.allclose(cka_matrix(layers, chunk=7), cka_matrix(layers), atol=1e-12)


def test_constant_layer_gives_zero_not_nan():
    layers = torch.stack([random_layer(10, 4), torch.ones(10, 4, dtype=torch.float64)])
    matrix = cka_matrix(layers)
    assert not matrix.isnan().any() and matrix[0, 1].item() == 0.0 and matrix[1, 1].item() == 0.0


def test_mean_cosine_known_answers():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # [N=2, D=2]
    b = torch.tensor([[1.0, 1.0], [0.0, -1.0]])  # cosines: 1/sqrt(2), -1
    matrix = cosine_matrix(torch.stack([a, b]))
    assert matrix[0, 1].item() == pytest.approx((1 / math.sqrt(2) - 1) / 2, abs=1e-12)
    assert matrix[1, 0].item() == matrix[0, 1].item() and matrix[0, 0].item() == pytest.approx(1.0)


def test_mean_cosine_is_fooled_by_a_shared_offset_where_cka_is_not():
    x, y = random_layer(100, 8, seed=3), random_layer(100, 8, seed=4)
    offset = torch.full((8,), 20.0, dtype=torch.float64)  # a large common direction (anisotropy)
    layers = torch.stack([x + offset, y + offset])
    assert cosine_matrix(layers)[0, 1].item() > 0.9
    assert cka_matrix(layers)[0, 1].item() < 0.2


def test_unknown_measure_suggests():
    with pytest.raises(UnknownNameError, match=r"Unknown similarity 'ckaa'; choose one of cka"):
        similarity_matrix(torch.zeros(2, 3, 4), "ckaa")
