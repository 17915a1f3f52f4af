"""A byte-level tokenizer that needs no files: every UTF-8 byte is one token.

Random-init test backbones need a tokenizer that exists offline, loads instantly and is the same
on every machine. 256 byte tokens plus `<pad>`, `<eos>`, `<bos>` (ids 0, 1, 2) gives exactly that;
offsets are exact, so instruction masking works as with a real tokenizer.
"""

from __future__ import annotations

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

BYTE_LEVEL = "byte-level"
BYTE_LEVEL_VOCAB_SIZE = 259


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2}
    for symbol in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>")
