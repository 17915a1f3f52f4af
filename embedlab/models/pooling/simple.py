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
    """Position-weighted mean (SGPT): weight k for the k-th pooled token, so later tokens, which have
    seen more of the text under causal attention, count more. The weights start at 1 on the first
    pooled token, not on BOS or the instruction, so an instruction does not shift a text's weights.

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        positions = inputs.pool_mask.long().cumsum(dim=1)  # [B, T], 1-based among pooled tokens
        return masked_mean(inputs.last, inputs.pool_mask, weights=positions)  # [B, D]


class FirstToken(PoolingHead):
    """The final state of the first poolable token: the text's first token, after BOS and (when the
    tokenizer masks instructions) after the instruction, whatever the padding side. A control: under
    causal attention that token has seen the prefix (BOS, instruction) and itself, none of the rest
    of the text; under bidirectional attention it has seen everything.

    Args:
        hidden_size: the backbone's hidden size.
    """

    def forward(self, inputs: PoolingInputs) -> Tensor:
        return first_token(inputs.last, inputs.pool_mask)  # [B, D]
