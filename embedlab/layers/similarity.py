"""How alike two layers' embeddings of the same texts are: linear CKA (default) and mean cosine.

Linear CKA (Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited") compares
the two layers' centred Gram matrices over N texts: CKA(X, Y) = <HKH, HLH>_F / (||HKH||_F ||HLH||_F)
with K = X X^T, L = Y Y^T and H the centring matrix. It is 1 for identical representations, invariant
to orthogonal transforms and isotropic scaling of either layer (so it compares what the layers say
about the texts, not the basis they say it in), and needs no shared dimension. This is the measure
to defend in a paper: it asks "do the two layers arrange the texts the same way?", which is what an
embedding is for.

Mean cosine, (1/N) sum_i cos(x_i, y_i), is the naive reading of "does text i's vector change from layer
to layer?" (per-layer embedding plots often show it). It needs the same basis in both layers (true of a
decoder's residual stream, apart from the final norm's per-dimension gain) and is inflated by
anisotropy: a decoder's vectors share a large common direction, so unrelated layers can score near 1.
It is offered for comparison; read it with that caveat.

Both run on the unit vectors the tasks see. Linear CKA is biased upwards when N is not much larger
than the dimension; keep N (the sampled texts) in the hundreds or more.
"""

from __future__ import annotations

import torch
from torch import Tensor

from embedlab.errors import UnknownNameError, closest_names

MEASURES = ("cka", "cosine")


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of two representations of the same N items, in feature space (float64).

    Args:
        x: [N, D1] one representation.
        y: [N, D2] the other (same rows, any width).

    Returns:
        A number in [0, 1]; 1 when y is an orthogonal transform or rescaling of x.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"linear_cka needs the same items in both: {x.shape[0]} vs {y.shape[0]} rows")
    x = x.double() - x.double().mean(dim=0)  # [N, D1], centred
    y = y.double() - y.double().mean(dim=0)  # [N, D2], centred
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2  # ||Y^T X||_F^2 = <HKH, HLH>_F
    norm_x = torch.linalg.matrix_norm(x.T @ x)  # ||X^T X||_F = ||HKH||_F
    norm_y = torch.linalg.matrix_norm(y.T @ y)  # [] ||HLH||_F
    denominator = norm_x * norm_y
    return float(cross / denominator) if denominator > 0 else 0.0


def cka_matrix(layers: Tensor, chunk: int = 1 << 18) -> Tensor:
    """Linear CKA between every pair of layers, through centred Gram matrices.

    Costs K N^2 D for the Gram matrices plus K^2 N^2 for their inner products (cheaper than K^2 N D^2 in
    feature space up to N ~ K D / 2); the Grams are computed and kept in float32 ([K, N^2]: 124 MB for 31 layers and
    1,000 texts) and their inner products accumulated in float64.

    Args:
        layers: [K, N, D] the K layers' vectors for the same N texts.
        chunk: Gram entries per float64 block of the inner products.

    Returns:
        [K, K] float64, symmetric, ones on the diagonal (zero for a constant layer).
    """
    x = layers.double()
    x = (x - x.mean(dim=1, keepdim=True)).float()  # [K, N, D], each layer centred over texts (in float64)
    grams = (x @ x.transpose(1, 2)).flatten(1)  # [K, N*N], centred Gram matrices HKH
    inner = torch.zeros((x.shape[0], x.shape[0]), dtype=torch.float64)  # [K, K]
    for start in range(0, grams.shape[1], chunk):
        block = grams[:, start : start + chunk].double()  # [K, C]
        inner += block @ block.T  # [K, K], <HK_kH, HK_jH>_F accumulated
    norms = inner.diagonal().sqrt()  # [K]
    scale = norms[:, None] * norms[None, :]  # [K, K]
    return torch.where(scale > 0, inner / scale.clamp(min=1e-300), torch.zeros_like(inner))  # [K, K]


def cosine_matrix(layers: Tensor) -> Tensor:
    """Mean over texts of the cosine between a text's vectors in two layers.

    Args:
        layers: [K, N, D] the K layers' vectors for the same N texts.

    Returns:
        [K, K] float64, symmetric, ones on the diagonal (for non-zero vectors).
    """
    unit = torch.nn.functional.normalize(layers.double(), dim=-1)  # [K, N, D]
    return torch.einsum("knd,jnd->kj", unit, unit) / max(1, layers.shape[1])  # [K, K]


def similarity_matrix(layers: Tensor, measure: str = "cka") -> Tensor:
    """Layer-by-layer similarity, [K, K] float64.

    Args:
        layers: [K, N, D] the K layers' vectors for the same N texts.
        measure: `cka` (linear CKA) or `cosine` (mean cosine per text).

    Raises:
        UnknownNameError: for another measure, with the valid ones.
    """
    if measure == "cka":
        return cka_matrix(layers)
    if measure == "cosine":
        return cosine_matrix(layers)
    choices = ", ".join(closest_names(measure, MEASURES))
    raise UnknownNameError(f"Unknown similarity {measure!r}; choose one of {choices}")
