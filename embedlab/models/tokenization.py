"""Texts (with optional instructions) to padded tensors: EOS appended, instruction tokens maskable.

Every text ends in the tokenizer's EOS token, also after truncation, so last-token pooling always
reads the same kind of position. Padding may go left or right: pooling heads locate real tokens
through `attention_mask`, never through the pad id (SmolLM2, for one, pads with its EOS id).
`pool_mask` marks the tokens a head may pool: real tokens, minus the special tokens the tokenizer
puts before the text (BOS for Mistral and Llama, none for Qwen2 or SmolLM2), minus the instruction's
when `mask_instruction` is on (found through character offsets, so no second tokenisation is needed).
One rule whether or not a text has an instruction: BOS, the attention sink with very large
activations, would otherwise enter the mean of training texts and documents but not of queries.
Heads that reproduce the released code (`paper_faithful`) do not read `pool_mask`: BOS is in their input.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

PaddingSide = Literal["left", "right"]


class TextTokenizer:
    """Callable that batches texts for the backbone.

    Args:
        tokenizer: a Hugging Face fast tokenizer.
        max_length: most tokens per text, EOS included; longer texts are truncated before the EOS.
        padding_side: "right" or "left"; results are the same either way.
        append_eos: append the EOS token to every text (after any special tokens the tokenizer adds).
        mask_instruction: exclude the instruction's tokens from `pool_mask` (BOS is always excluded).
        pad_to_multiple_of: round the padded length up to a multiple of this (tensor-core friendly).
    """

    def __init__(
        self,
        tokenizer,
        max_length: int = 512,
        padding_side: PaddingSide = "right",
        append_eos: bool = True,
        mask_instruction: bool = True,
        pad_to_multiple_of: int | None = None,
    ) -> None:
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
        if append_eos and tokenizer.eos_token_id is None:
            raise ValueError(f"{type(tokenizer).__name__} has no EOS token; set append_eos: false")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.padding_side = padding_side
        self.append_eos = append_eos
        self.mask_instruction = mask_instruction
        self.pad_to_multiple_of = pad_to_multiple_of
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_token_id = 0 if pad is None else pad
        self.special_prefix = special_prefix_length(tokenizer)  # leading tokens never pooled (BOS)

    def __call__(
        self, texts: Sequence[str], instructions: str | Sequence[str] | None = None, max_length: int | None = None
    ) -> dict[str, Tensor]:
        """Tokenise a batch.

        Args:
            texts: the texts.
            instructions: one instruction for all texts, one per text, or None. It is prepended as is
                (write its separator into it, e.g. "Instruct: ...\\nQuery: ").
            max_length: overrides the constructor's for this call (e.g. shorter queries).

        Returns:
            `input_ids`, `attention_mask` (1 = real token) and `pool_mask` (1 = may be pooled: neither
            a special prefix token such as BOS nor, with `mask_instruction`, an instruction token), each [B, T].
        """
        limit = max_length or self.max_length
        if isinstance(instructions, str) or instructions is None:
            prefixes = [instructions or ""] * len(texts)
        else:
            prefixes = list(instructions)
            if len(prefixes) != len(texts):
                raise ValueError(f"{len(prefixes)} instructions for {len(texts)} texts")
        joined = [prefix + text for prefix, text in zip(prefixes, texts, strict=True)]
        want_offsets = self.mask_instruction and any(prefixes)
        encoded = self.tokenizer(
            joined,
            add_special_tokens=True,
            truncation=True,
            max_length=limit - int(self.append_eos),
            return_offsets_mapping=want_offsets,
            return_attention_mask=False,
        )
        rows: list[list[int]] = encoded["input_ids"]
        poolable: list[list[bool]] = []
        crowded_out = 0  # texts of which the instruction left no token within the limit
        for i, ids in enumerate(rows):
            if want_offsets and prefixes[i]:
                start = len(prefixes[i])
                # A token belongs to the text once it ends past the instruction.
                flags = [end > start for _, end in encoded["offset_mapping"][i]]
                crowded_out += bool(texts[i]) and not any(flags)
            else:
                flags = [True] * len(ids)
            flags[: self.special_prefix] = [False] * min(self.special_prefix, len(flags))
            if self.append_eos:
                ids.append(self.tokenizer.eos_token_id)
                flags.append(True)
            poolable.append(flags)
        if crowded_out:
            # Such a text pools EOS only: every one of them gets the same embedding.
            warnings.warn(
                f"{crowded_out} of {len(texts)} texts kept no token of their own: the instruction fills the "
                f"{limit}-token limit; raise max_length or shorten the instruction",
                stacklevel=2,
            )
        return self._pad(rows, poolable)

    def _pad(self, rows: Sequence[Sequence[int]], poolable: Sequence[Sequence[bool]]) -> dict[str, Tensor]:
        """Rows (lists or numpy arrays) to padded tensors, in a few vectorised numpy operations."""
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))  # [B]
        width = int(lengths.max()) if len(rows) else 0
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        columns = np.arange(width)  # [T]
        if self.padding_side == "left":
            real = columns[None, :] >= (width - lengths)[:, None]  # [B, T]
        else:
            real = columns[None, :] < lengths[:, None]  # [B, T]
        input_ids = np.full((len(rows), width), self.pad_token_id, dtype=np.int64)  # [B, T]
        pool_mask = np.zeros((len(rows), width), dtype=bool)  # [B, T]
        if len(rows):  # boolean-mask assignment fills row by row, left to right: the rows' order
            input_ids[real] = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
            pool_mask[real] = np.concatenate([np.asarray(f, dtype=bool) for f in poolable])
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(real.astype(np.int64)),
            "pool_mask": torch.from_numpy(pool_mask),
        }


def special_prefix_length(tokenizer) -> int:
    """How many special tokens `tokenizer` puts before every text: 1 (BOS) for Mistral and Llama 2/3, 0 for Qwen2.

    Found by tokenising a probe with and without special tokens: the template's prefix is where the
    bare tokens start (truncation never removes it, so it is the same for every row).
    """
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return start
    raise ValueError(
        f"{type(tokenizer).__name__}: the tokens of 'a' with special tokens {full} do not contain those without "
        f"{bare}; cannot tell which special tokens precede a text"
    )
