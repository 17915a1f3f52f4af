"""Parameter-free heads: last (EOS) token, mean, position-weighted mean, first token."""

from __future__ import annotations

from torch import Tensor

from embedlab.models.pooling.base import PoolingHead, PoolingInputs, first_token, last_token, masked_mean


class LastToken(PoolingHead):
    """The last real token's final state (the EOS, since every text ends in one): the paper's Model 1.

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        return last_token(inputs.last, inputs.attention_mask)  # [B, D]


class Mean(PoolingHead):
    """Mean of the final states of the poolable tokens (LLM2Vec's choice).

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        return masked_mean(inputs.last, inputs.pool_mask)  # [B, D]


class WeightedMean(PoolingHead):
    """Position-weighted mean (SGPT): weight k for the k-th real token, so later tokens, which have
    seen more of the text under causal attention, count more.

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        positions = inputs.attention_mask.long().cumsum(dim=1)  # [B, T], 1-based among real tokens
        return masked_mean(inputs.last, inputs.pool_mask, weights=positions)  # [B, D]


class FirstToken(PoolingHead):
    """The first poolable token's final state (a control: under causal attention it sees only itself).

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        return first_token(inputs.last, inputs.pool_mask)  # [B, D]
