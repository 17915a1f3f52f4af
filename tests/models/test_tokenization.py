"""TextTokenizer: EOS on every text (also when truncated), both padding sides, instruction masks."""

from __future__ import annotations

import pytest
import torch

from embedlab.models.byte_tokenizer import byte_level_tokenizer
from embedlab.models.tokenization import TextTokenizer

EOS = 1  # byte-level tokenizer: <pad> 0, <eos> 1, <bos> 2


def make(**kwargs) -> TextTokenizer:
    return TextTokenizer(byte_level_tokenizer(), **kwargs)


def test_eos_appended_and_right_padding():
    out = make(max_length=16)(["ab", "abcd"])
    ids, mask = out["input_ids"], out["attention_mask"]
    assert ids.shape == (2, 5)
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert ids[0, 2] == EOS and ids[1, 4] == EOS
    assert ids[0, 3:].tolist() == [0, 0]


def test_left_padding_mirrors_right_padding():
    right = make(padding_side="right")(["ab", "abcd"])
    left = make(padding_side="left")(["ab", "abcd"])
    assert left["attention_mask"].tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert left["input_ids"][0, 2:].tolist() == right["input_ids"][0, :3].tolist()


def test_truncation_keeps_the_eos():
    out = make(max_length=4)(["abcdefgh"])
    assert out["input_ids"].shape == (1, 4)
    assert out["input_ids"][0, -1] == EOS


def test_instruction_tokens_are_masked_from_pooling_only():
    out = make()(["xy"], instructions="Q: ")
    assert out["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1]]
    assert out["pool_mask"].tolist() == [[False, False, False, True, True, True]]
    unmasked = make(mask_instruction=False)(["xy"], instructions="Q: ")
    assert unmasked["pool_mask"].all()


def test_per_text_instructions_and_max_length_override():
    out = make(max_length=32)(["xy", "xy"], instructions=["A: ", ""], max_length=4)
    assert out["input_ids"].shape[1] == 4
    assert out["pool_mask"][1].tolist() == [True, True, True, False]


def test_pad_to_multiple_of():
    out = make(pad_to_multiple_of=8)(["abc"])
    assert out["input_ids"].shape == (1, 8)


def test_mismatched_instructions_are_an_error():
    with pytest.raises(ValueError, match="2 instructions for 1 texts"):
        make()(["a"], instructions=["x", "y"])


def test_bad_padding_side():
    with pytest.raises(ValueError, match="'left' or 'right'"):
        make(padding_side="middle")


def test_multibyte_text_offsets():
    out = make()(["héllo"], instructions="é: ")
    # "é: " is 4 bytes -> 4 instruction tokens; "héllo" 6 bytes + EOS
    assert out["pool_mask"][0].tolist() == [False] * 4 + [True] * 7
    assert torch.equal(out["attention_mask"], torch.ones(1, 11, dtype=torch.long))
