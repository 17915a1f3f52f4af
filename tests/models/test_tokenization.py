"""TextTokenizer: EOS on every text (also when truncated), both padding sides, instruction masks, BOS never pooled."""

from __future__ import annotations

import pytest
import torch
from tokenizers import processors

from embedlab.models.byte_tokenizer import byte_level_tokenizer
from embedlab.models.tokenization import TextTokenizer, special_prefix_length

EOS, BOS = 1, 2  # byte-level tokenizer: <pad> 0, <eos> 1, <bos> 2


def make(**kwargs) -> TextTokenizer:
    return TextTokenizer(byte_level_tokenizer(), **kwargs)


def bos_tokenizer(template: str = "<bos> $A"):
    """The byte-level tokenizer with a post-processor that prepends BOS, as Mistral's and Llama's do."""
    tokenizer = byte_level_tokenizer()
    specials = [(name, tokenizer.convert_tokens_to_ids(name)) for name in ("<bos>", "<eos>") if name in template]
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(single=template, special_tokens=specials)
    return tokenizer


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


def test_special_prefix_length_counts_the_template_prefix():
    assert special_prefix_length(byte_level_tokenizer()) == 0
    assert special_prefix_length(bos_tokenizer()) == 1
    assert special_prefix_length(bos_tokenizer("<bos> <bos> $A <eos>")) == 2  # a suffix is not a prefix
    assert make().special_prefix == 0 and TextTokenizer(bos_tokenizer()).special_prefix == 1


@pytest.mark.parametrize("side", ["left", "right"])
def test_bos_is_never_pooled_with_or_without_an_instruction(side):
    tokenizer = TextTokenizer(bos_tokenizer(), padding_side=side)
    instruction = "Q: "
    plain = tokenizer(["xy", "abcd"])
    instructed = tokenizer(["xy", "abcd"], instructions=instruction)
    n = len(instruction)  # one byte-level token per character
    for row, length in enumerate((4, 6)):  # BOS + text + EOS
        ids = plain["input_ids"][row][plain["attention_mask"][row].bool()]
        pool = plain["pool_mask"][row][plain["attention_mask"][row].bool()]
        assert ids[0] == BOS and ids[-1] == EOS and len(ids) == length
        assert pool.tolist() == [False] + [True] * (length - 1)
        # With the instruction: the same mask once its tokens (after BOS) are taken out.
        real = instructed["attention_mask"][row].bool()
        ids_i, pool_i = instructed["input_ids"][row][real], instructed["pool_mask"][row][real]
        assert ids_i[0] == BOS and not pool_i[: 1 + n].any()
        assert torch.equal(torch.cat([pool_i[:1], pool_i[1 + n :]]), pool)
        assert torch.equal(torch.cat([ids_i[:1], ids_i[1 + n :]]), ids)
    assert not plain["pool_mask"][~plain["attention_mask"].bool()].any()  # padding is never pooled


def test_bos_is_not_pooled_without_instruction_masking_or_after_truncation():
    unmasked = TextTokenizer(bos_tokenizer(), mask_instruction=False)(["xy"], instructions="Q: ")
    assert unmasked["pool_mask"].tolist() == [[False] + [True] * 6]  # instruction pooled, BOS still not
    cut = TextTokenizer(bos_tokenizer(), max_length=4)(["abcdefgh"])
    ab = byte_level_tokenizer()("ab")["input_ids"]
    assert cut["input_ids"][0].tolist() == [BOS, *ab, EOS]
    assert cut["pool_mask"].tolist() == [[False, True, True, True]]
    twice = TextTokenizer(bos_tokenizer("<bos> <bos> $A"))(["xy"], instructions=["Q: "])
    assert twice["pool_mask"].tolist() == [[False] * 5 + [True] * 3]


def test_an_instruction_that_fills_the_limit_is_reported():
    """A text cut to nothing after its instruction would silently pool EOS only."""
    tok = TextTokenizer(byte_level_tokenizer(), max_length=12)
    with pytest.warns(UserWarning, match="2 of 3 texts kept no token of their own: the instruction fills the 12-token"):
        batch = tok(["alpha", "beta", ""], instructions="Instruct: find\nQuery: ")
    assert batch["pool_mask"].sum(dim=1).tolist() == [1, 1, 1]  # EOS only
