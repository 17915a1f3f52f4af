"""sentence-transformers modules that run an exported model exactly as `EmbeddingModule.encode` does.

`EmbedlabInput` tokenises with embedlab's own `TextTokenizer` (instruction prepended and, when the
backbone masks it, kept out of `pool_mask` through character offsets; EOS appended; same
max_length and padding side) and runs the decoder with mask-derived position ids.
`EmbedlabPooling` rebuilds any `PoolingHead` from JSON + safetensors, so every head, trainable or
not, pools exactly as in training. sentence-transformers' own `Normalize` follows.

Why custom modules for every head: ST's stock `Transformer` + `Pooling` count prompt tokens by
tokenising the prompt alone (a BPE token spanning the prompt's trailing space is then masked,
where embedlab keeps it), append no EOS, and cannot express the trainable heads.

Loading needs embedlab importable (`pip install embedlab`). sentence-transformers 6.0 and later
refuse to import any module class outside the `sentence_transformers` namespace unless the
caller passes `trust_remote_code=True`; for an exported folder that flag only lets ST import the
installed embedlab classes named in `modules.json` (the folder holds no code files, and the
backbone is still loaded with transformers' `trust_remote_code=False`). Callers who will not
pass the flag use `load_sentence_transformer(OUT)`, which hands ST the module instances.
Checked with sentence-transformers 6.2 and transformers 5.24.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from sentence_transformers.base.modules import InputModule, Module
from torch import Tensor

from embedlab.errors import EmbedlabError
from embedlab.export.backbone import ExportedBackbone
from embedlab.export.head import load_head, save_head
from embedlab.export.layout import FORMAT_VERSION, INPUT_CONFIG, POOLING_DIR, TOKENIZER_CONFIG, read_json
from embedlab.models.pooling import PoolingHead, PoolingInputs
from embedlab.models.tokenization import TextTokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _dtype(model_kwargs: dict[str, Any] | None) -> torch.dtype:
    value = (model_kwargs or {}).get("dtype", (model_kwargs or {}).get("torch_dtype", torch.float32))
    if isinstance(value, torch.dtype):
        return value
    if value not in DTYPES:
        raise EmbedlabError(f"dtype {value!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[value]


def _local_folder(model_name_or_path: str, subfolder: str) -> Path:
    folder = Path(model_name_or_path) / subfolder
    if not folder.is_dir():
        raise EmbedlabError(f"{folder} is not a folder: embedlab exports load from a local folder only.")
    return folder


class EmbedlabInput(InputModule):
    """Tokeniser and decoder of an exported model (the first sentence-transformers module).

    Args:
        backbone: the decoder.
        tokenizer: its Hugging Face fast tokenizer.
        attention: name of the attention policy trained under (Causal or Bidirectional).
        is_causal: whether the decoder runs with causal attention.
        max_length: most tokens per text, EOS included.
        padding_side: left or right.
        append_eos: end every text with the EOS token.
        mask_instruction: keep instruction (prompt) tokens out of pooling.
        output_hidden_states: hand every layer's states to the pooling head.
        pad_to_multiple_of: round padded lengths up to a multiple of this.
        format_version: version of the export layout.
    """

    config_file_name = INPUT_CONFIG
    config_keys = [
        "format_version",
        "attention",
        "is_causal",
        "max_length",
        "padding_side",
        "append_eos",
        "mask_instruction",
        "output_hidden_states",
        "pad_to_multiple_of",
    ]
    save_in_root = True

    def __init__(
        self,
        backbone: ExportedBackbone,
        tokenizer,
        attention: str,
        is_causal: bool,
        max_length: int,
        padding_side: str = "right",
        append_eos: bool = True,
        mask_instruction: bool = True,
        output_hidden_states: bool = False,
        pad_to_multiple_of: int | None = None,
        format_version: int = FORMAT_VERSION,
    ) -> None:
        super().__init__()
        if format_version != FORMAT_VERSION:
            raise EmbedlabError(
                f"{INPUT_CONFIG} has format_version {format_version}; this embedlab reads version {FORMAT_VERSION}."
            )
        self.backbone = backbone
        self.hf_tokenizer = tokenizer
        self.attention = attention
        self.is_causal = is_causal
        self.output_hidden_states = output_hidden_states
        self.format_version = format_version
        self.text_tokenizer = TextTokenizer(
            tokenizer,
            max_length=max_length,
            padding_side=padding_side,
            append_eos=append_eos,
            mask_instruction=mask_instruction,
            pad_to_multiple_of=pad_to_multiple_of,
        )

    # The settings live on the TextTokenizer; ST's get_config_dict reads them as attributes.
    max_length = property(lambda self: self.text_tokenizer.max_length)
    padding_side = property(lambda self: self.text_tokenizer.padding_side)
    append_eos = property(lambda self: self.text_tokenizer.append_eos)
    mask_instruction = property(lambda self: self.text_tokenizer.mask_instruction)
    pad_to_multiple_of = property(lambda self: self.text_tokenizer.pad_to_multiple_of)

    @property
    def tokenizer(self):
        """The Hugging Face tokenizer (sentence-transformers reads it, e.g. for `model.tokenizer`)."""
        return self.hf_tokenizer

    @property
    def max_seq_length(self) -> int:
        return self.text_tokenizer.max_length

    def preprocess(
        self, inputs: Sequence[str], prompt: str | None = None, max_length: int | None = None, **kwargs
    ) -> dict[str, Tensor]:
        """Tokenise texts as in training: `input_ids`, `attention_mask`, `pool_mask`, each [B, T].

        Args:
            inputs: the texts.
            prompt: an instruction prepended to every text (sentence-transformers' `prompt`).
            max_length: token limit for this call (default: the exported one).
            **kwargs: other sentence-transformers options, ignored.
        """
        if not all(isinstance(text, str) for text in inputs):
            raise EmbedlabError("an embedlab export embeds text only: pass a list of strings")
        return self.text_tokenizer(list(inputs), prompt or None, max_length)

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        """Add `token_embeddings` [B, T, D] (and `all_layer_embeddings`, L + 1 of them, when the head needs them)."""
        output = self.backbone(
            features["input_ids"], features["attention_mask"], output_hidden_states=self.output_hidden_states
        )
        features["token_embeddings"] = output.last_hidden_state  # [B, T, D]
        if self.output_hidden_states:
            features["all_layer_embeddings"] = tuple(output.hidden_states)  # (L + 1) x [B, T, D]
        return features

    def get_embedding_dimension(self) -> int:
        return self.backbone.config.hidden_size

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        """Write the backbone (safetensors), the tokenizer and `embedlab.json` into `output_path`."""
        self.backbone.model.save_pretrained(output_path, safe_serialization=True)
        self.hf_tokenizer.save_pretrained(output_path)
        self.save_config(output_path)

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        model_kwargs: dict[str, Any] | None = None,
        **kwargs,
    ) -> EmbedlabInput:
        """Load from an exported folder (local only). `trust_remote_code` and hub options are ignored.

        Args:
            model_name_or_path: the exported folder.
            subfolder: this module's folder inside it (the root).
            model_kwargs: `dtype` (float32 default, bfloat16, float16) and `attn_implementation` (sdpa default).
            **kwargs: other sentence-transformers load options, ignored.
        """
        from transformers import AutoTokenizer

        folder = _local_folder(model_name_or_path, subfolder)
        config = read_json(folder / INPUT_CONFIG)
        missing = [key for key in ("attention", "is_causal", "max_length") if key not in config]
        if missing:
            raise EmbedlabError(f"{folder / INPUT_CONFIG} lacks {', '.join(missing)}; run `embedlab export` again.")
        implementation = (model_kwargs or {}).get("attn_implementation", "sdpa")
        backbone = ExportedBackbone.load(
            folder,
            is_causal=bool(config["is_causal"]),
            dtype=_dtype(model_kwargs),
            attn_implementation=implementation,
            verify=implementation != "flash_attention_2",  # flash kernels run on the GPU only
        )
        read_json(folder / TOKENIZER_CONFIG)
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        except (OSError, ValueError, TypeError) as error:
            raise EmbedlabError(f"Could not load the tokenizer files in {folder}: {error}") from error
        known = {key: config[key] for key in cls.config_keys if key in config}
        return cls(backbone, tokenizer, **known)


class EmbedlabPooling(Module):
    """Any embedlab pooling head as a sentence-transformers module: adds `sentence_embedding` [B, D].

    Args:
        head: the pooling head, weights loaded.
        spec: its description (class path, init args, sizes, `is_causal`), as in `head.json`.
    """

    def __init__(self, head: PoolingHead, spec: dict[str, Any]) -> None:
        super().__init__()
        self.head = head
        self.spec = dict(spec)
        self.is_causal = bool(spec["is_causal"])

    def forward(self, features: dict[str, Any], **kwargs) -> dict[str, Any]:
        if self.head.needs_all_layers:
            states = tuple(features["all_layer_embeddings"])  # (L + 1) x [B, T, D]
        else:
            states = (features["token_embeddings"],)  # [B, T, D]
        inputs = PoolingInputs(states, features["attention_mask"], features["pool_mask"], self.is_causal)
        features["sentence_embedding"] = self.head(inputs).float()  # [B, D], normalised by the next module
        return features

    def get_embedding_dimension(self) -> int:
        return self.head.output_size

    def get_config_dict(self) -> dict[str, Any]:
        return dict(self.spec)

    def save(self, output_path: str, *args, safe_serialization: bool = True, **kwargs) -> None:
        """Write `head.json` and the head's `model.safetensors` into `output_path`."""
        save_head(self.head, self.spec, Path(output_path))

    @classmethod
    def load(
        cls, model_name_or_path: str, subfolder: str = POOLING_DIR, model_kwargs: dict[str, Any] | None = None, **kwargs
    ) -> EmbedlabPooling:
        """Load from an exported folder's pooling subfolder (local only).

        Args:
            model_name_or_path: the exported folder.
            subfolder: this module's folder inside it.
            model_kwargs: `dtype` of the head's weights (float32 default).
            **kwargs: other sentence-transformers load options, ignored.
        """
        head, spec = load_head(_local_folder(model_name_or_path, subfolder))
        return cls(head.to(_dtype(model_kwargs)), spec)


def load_sentence_transformer(
    path: str | Path, device: str | None = None, dtype: str | torch.dtype = "float32", attn_implementation: str = "sdpa"
):
    """The exported model as a `SentenceTransformer`, without `trust_remote_code`.

    Equivalent to `SentenceTransformer(path, trust_remote_code=True)`: the module instances are
    built here, so sentence-transformers has no class to import.

    Args:
        path: the folder `embedlab export` wrote.
        device: where to run (default: sentence-transformers' choice).
        dtype: float32, bfloat16 or float16.
        attn_implementation: sdpa, eager, ... for the backbone.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize

    from embedlab.export.layout import check_export

    folder = str(check_export(path))
    model_kwargs = {"dtype": dtype, "attn_implementation": attn_implementation}
    modules = [
        EmbedlabInput.load(folder, model_kwargs=model_kwargs),
        EmbedlabPooling.load(folder, model_kwargs=model_kwargs),
        Normalize(),
    ]
    return SentenceTransformer(modules=modules, device=device, similarity_fn_name="cosine")
