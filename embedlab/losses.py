"""InfoNCE over cosine similarities with in-batch and hard negatives.

Each query's candidates are every document of the (gathered) batch: all positives, then all hard
negatives. The pure function `info_nce` does the arithmetic on already-gathered tensors; the
`InfoNCE` module adds the temperature (fixed or learnable) and the cross-device gather, taking
local queries against all gathered documents (the local-loss form of OpenCLIP and GradCache).
Texts that occur twice in a batch would count as negatives of themselves; `*_keys` (one int64
hash per text) mask such false negatives out of the softmax: a copy of a query's positive, and the
positive of another copy of the query (the same query text paired with a different positive, on
any device). The similarities and the cross-entropy are computed in float32 with autocast off:
in bf16, cosine x 20 moves in steps of about 0.08.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from embedlab.hparams import record_init_args

Gather = Callable[[Tensor, bool], Tensor]  # (local tensor [B, ...], differentiable) -> [W*B, ...]


def _mask_duplicates(logits: Tensor, row_keys: Tensor, col_keys: Tensor, labels: Tensor) -> Tensor:
    """-inf wherever one of the first C columns has the row's key but is not the row's target.

    Args:
        logits: [B, N] similarities.
        row_keys: [B] a key per row.
        col_keys: [C] keys of columns 0..C-1 (C <= N); later columns are never masked.
        labels: [B] each row's target column.
    """
    same = torch.zeros(logits.shape, dtype=torch.bool, device=logits.device)  # [B, N]
    same[:, : len(col_keys)] = row_keys[:, None] == col_keys[None, :]  # [B, C]
    same[torch.arange(len(labels), device=labels.device), labels] = False
    return logits.masked_fill(same, float("-inf"))


def info_nce(
    queries: Tensor,
    documents: Tensor,
    labels: Tensor,
    scale: Tensor | float,
    *,
    all_queries: Tensor | None = None,
    target_keys: Tensor | None = None,
    document_keys: Tensor | None = None,
    query_keys: Tensor | None = None,
    all_query_keys: Tensor | None = None,
    positives: Tensor | None = None,
    symmetric: bool = False,
    query_query: bool = False,
) -> Tensor:
    """Contrastive loss of local queries against a pool of documents.

    Args:
        queries: [B, D] L2-normalised local query embeddings.
        documents: [N, D] L2-normalised candidates (gathered positives, then gathered hard negatives).
        labels: [B] index in `documents` of each query's positive.
        scale: inverse temperature (1 / tau).
        all_queries: [M, D] gathered queries (needed by `symmetric` and `query_query`); labels index it too.
        target_keys: [B] text hash of each query's positive; with `document_keys` masks copies of it.
        document_keys: [N] text hash of each document.
        query_keys: [B] text hash of each local query; with `all_query_keys` masks the positives of
            other copies of the query (`documents` must then start with the M gathered positives).
        all_query_keys: [M] text hash of each gathered query.
        positives: [B, D] local positives (needed by `symmetric`).
        symmetric: add the document-to-query direction (positives against all queries).
        query_query: add the other queries as extra negatives of each query.

    Returns:
        The mean loss, a float32 scalar (also under autocast).
    """
    queries, documents = queries.float(), documents.float()  # [B, D], [N, D]
    all_queries = None if all_queries is None else all_queries.float()  # [M, D]
    positives = None if positives is None else positives.float()  # [B, D]
    same_queries = query_keys is not None and all_query_keys is not None
    with torch.autocast(queries.device.type, enabled=False):  # in bf16, logits at scale 20 move in steps of ~0.08
        logits = scale * queries @ documents.T  # [B, N]
        if target_keys is not None and document_keys is not None:
            logits = _mask_duplicates(logits, target_keys, document_keys, labels)  # [B, N]
        if same_queries:  # the positive of another copy of this query (columns 0..M-1 are the gathered positives)
            logits = _mask_duplicates(logits, query_keys, all_query_keys, labels)  # [B, N]
        if query_query:
            qq = scale * queries @ all_queries.T  # [B, M]
            qq[torch.arange(len(labels), device=labels.device), labels] = float("-inf")  # not its own negative
            if same_queries:
                qq = qq.masked_fill(query_keys[:, None] == all_query_keys[None, :], float("-inf"))  # [B, M]
            logits = torch.cat([logits, qq], dim=1)  # [B, N + M]
        loss = F.cross_entropy(logits, labels)
        if symmetric:
            reverse = scale * positives @ all_queries.T  # [B, M]
            if same_queries:  # another copy of this positive's query
                reverse = _mask_duplicates(reverse, query_keys, all_query_keys, labels)  # [B, M]
            if target_keys is not None and document_keys is not None:  # the query of another copy of this positive
                reverse = _mask_duplicates(reverse, target_keys, document_keys[: reverse.shape[1]], labels)  # [B, M]
            loss = (loss + F.cross_entropy(reverse, labels)) / 2
    return loss


class InfoNCE(nn.Module):
    """InfoNCE with in-batch negatives, hard negatives and optional cross-device documents.

    Args:
        temperature: softmax temperature tau (the paper: 0.05, i.e. scale 20).
        learnable_temperature: learn tau (as log 1/tau, clamped to [1, 100]) starting from `temperature`.
        symmetric: add the document-to-query term.
        query_query: add other queries as negatives (GTE's improved contrastive loss).
        mask_duplicates: mask texts repeated in the batch out of each other's negatives.
    """

    def __init__(
        self,
        temperature: float = 0.05,
        learnable_temperature: bool = False,
        symmetric: bool = False,
        query_query: bool = False,
        mask_duplicates: bool = True,
    ) -> None:
        record_init_args(self, locals())
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        log_scale = torch.tensor(math.log(1.0 / temperature))
        if learnable_temperature:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale, persistent=False)
        self.symmetric = symmetric
        self.query_query = query_query
        self.mask_duplicates = mask_duplicates

    @property
    def scale(self) -> Tensor:
        return self.log_scale.clamp(0.0, math.log(100.0)).exp()

    @property
    def temperature(self) -> float:
        return float(1.0 / self.scale.detach())

    def forward(
        self,
        queries: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        *,
        query_keys: Tensor | None = None,
        document_keys: Tensor | None = None,
        gather: Gather | None = None,
        rank: int = 0,
    ) -> Tensor:
        """Args:
        queries: [B, D] local queries, L2-normalised.
        positives: [B, D] their positives.
        negatives: [B*k, D] hard negatives (k per query, grouped by query) or None.
        query_keys: [B] int64 text hashes of the queries.
        document_keys: [B + B*k] int64 text hashes of positives then negatives.
        gather: all-gather across devices (None: single device).
        rank: this device's index; its queries' positives sit at rank*B + i after the gather.
        """
        gather = gather or (lambda t, differentiable: t)
        b = queries.shape[0]
        negatives = negatives if negatives is not None else positives.new_zeros((0, positives.shape[1]))
        all_positives = gather(positives, True)  # [W*B, D]
        all_negatives = gather(negatives, True)  # [W*B*k, D]
        documents = torch.cat([all_positives, all_negatives])  # [W*B*(1+k), D]
        labels = torch.arange(b, device=queries.device) + rank * b  # [B]
        need_queries = self.symmetric or self.query_query
        all_queries = gather(queries, True) if need_queries else None  # [W*B, D]
        keys: dict[str, Tensor] = {}
        if self.mask_duplicates and document_keys is not None:
            all_doc_keys = torch.cat([gather(document_keys[:b], False), gather(document_keys[b:], False)])  # [N]
            keys.update(target_keys=document_keys[:b], document_keys=all_doc_keys)
        if self.mask_duplicates and query_keys is not None:
            keys.update(query_keys=query_keys, all_query_keys=gather(query_keys, False))
        return info_nce(
            queries,
            documents,
            labels,
            self.scale,
            all_queries=all_queries,
            positives=positives,
            symmetric=self.symmetric,
            query_query=self.query_query,
            **keys,
        )
