"""Embedder: inference on an exported model folder, without Lightning, configs or checkpoints.

    from embedlab import Embedder
    embedder = Embedder.from_pretrained("exports/m5")
    vectors = embedder.encode(["a text"], instruction="Instruct: find the answer\\nQuery: ")  # [1, D]

It runs the same modules as `SentenceTransformer(OUT, trust_remote_code=True)` (see
`embedlab.export.st_modules`) and batches like `EmbeddingModule.encode`: texts sorted by length,
L2-normalised float32 vectors returned in input order, in the weights' dtype unless `precision` asks for autocast.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from embedlab.precision import autocast, resolve_precision


class Embedder(nn.Module):
    """An exported embedlab model: tokenizer, decoder and pooling head.

    Args:
        input_module: the tokenizer and decoder (`EmbedlabInput`).
        pooling: the pooling head (`EmbedlabPooling`).
    """

    def __init__(self, input_module, pooling) -> None:
        super().__init__()
        self.input_module = input_module
        self.pooling = pooling

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype = torch.float32,
        attn_implementation: str = "sdpa",
    ) -> Embedder:
        """Load a folder written by `embedlab export`; the attention policy is proved on load.

        Args:
            path: the exported folder.
            device: where to run (default: cuda when available, else cpu).
            dtype: weight dtype: float32 (default), bfloat16 or float16.
            attn_implementation: the backbone's attention kernels (sdpa, eager, flash_attention_2 on GPU).

        Raises:
            EmbedlabError: naming a missing or corrupt file of the folder.
            AttentionPolicyError: when the loaded model does not honour its attention policy.
        """
        from embedlab.export.layout import check_export
        from embedlab.export.st_modules import EmbedlabInput, EmbedlabPooling

        folder = str(check_export(path))
        model_kwargs = {"dtype": dtype, "attn_implementation": attn_implementation}
        embedder = cls(EmbedlabInput.load(folder, model_kwargs=model_kwargs), EmbedlabPooling.load(folder))
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return embedder.to(device).eval()

    @property
    def device(self) -> torch.device:
        return next(self.input_module.parameters()).device

    @property
    def dimension(self) -> int:
        """Length D of the embeddings."""
        return self.pooling.get_embedding_dimension()

    @property
    def is_causal(self) -> bool:
        return self.input_module.is_causal

    def embed(self, features: dict[str, Tensor]) -> Tensor:
        """Token features (`input_ids`, `attention_mask`, `pool_mask`, each [B, T]) to unit vectors [B, D]."""
        features = self.pooling(self.input_module(dict(features)))
        return F.normalize(features["sentence_embedding"].float(), dim=-1)  # [B, D]

    @torch.no_grad()
    def encode(
        self,
        texts: Sequence[str],
        instruction: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        show_progress: bool = False,
        precision: str | None = None,
    ) -> Tensor:
        """Embed texts: L2-normalised float32 vectors [N, D] on the CPU, in input order.

        Args:
            texts: the texts.
            instruction: prepended to every text as is (its tokens are not pooled when the model masks them);
                write it as in training: `embedlab.instruction_template.instruction_prefix(task, template)`.
            batch_size: texts per forward pass; batches are formed from length-sorted texts.
            max_length: token limit (default: the exported one).
            show_progress: show a progress bar.
            precision: autocast of the forward pass: auto, bf16, fp16 or fp32 (see `embedlab.precision`);
                None (default): no autocast, the weights' dtype (`from_pretrained(dtype=...)`) or the caller's.
        """
        self.eval()
        device = self.device
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = torch.empty((len(texts), self.dimension), dtype=torch.float32)  # [N, D]
        context = nullcontext() if precision is None else autocast(resolve_precision(precision, device), device)
        for start in tqdm(range(0, len(order), batch_size), disable=not show_progress, desc="encode"):
            index = order[start : start + batch_size]
            features = self.input_module.preprocess([texts[i] for i in index], instruction, max_length)
            with context:
                vectors = self.embed({k: v.to(device) for k, v in features.items()})  # [b, D]
            out[index] = vectors.float().cpu()
        return out
