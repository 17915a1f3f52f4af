"""The mteb 2.x encoder adapter: any embedlab model (or the reference encoder) as an mteb `AbsEncoder`.

mteb hands `encode` a DataLoader of one task's texts and tells it the task and the side
(`prompt_type`: query, document, or None for symmetric tasks). The adapter picks the instruction
from the table (`instructions.py`), encodes each distinct (instruction, text) once (mteb's STS
evaluator, for one, encodes both columns in full), batches texts sorted by length in tokens so a
batch pads to its own longest text (by characters for an encoder that cannot count tokens),
autocasts to bf16 where the device supports it, and returns float32 unit vectors. Checked with
mteb 2.26.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mteb.models import ModelMeta
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ScoringFunction
from tqdm.auto import tqdm

from embedlab.errors import EmbedlabError
from embedlab.eval.encoders import ModuleEncoder, TextEncoder
from embedlab.eval.instructions import Instructions, load_instructions
from embedlab.precision import PRECISIONS, autocast, resolve_precision

__all__ = ["PRECISIONS", "MTEBAdapter", "autocast", "resolve_precision"]  # the precision helpers, re-exported


class MTEBAdapter(AbsEncoder):
    """An embedlab model as an mteb encoder.

    Args:
        encoder: an `EmbeddingModule`, or a `TextEncoder` (e.g. `load_reference()`).
        instructions: `default` (the packaged table), `none`, a YAML path, or an `Instructions`.
        instruction_template: overrides the table's template: `e5` (the default, the training mix's too),
            `paper` (the paper's no-separator concatenation) or a string holding `{instruction}`.
        batch_size: texts per forward pass (mteb's `encode_kwargs["batch_size"]` wins when given).
        precision: auto, bf16, fp16 or fp32 (autocast); Lightning precision strings are accepted.
        sort_by_length: batch texts longest first (False only to measure what sorting saves).
        cache: reuse the vector of an (instruction, text) seen before; call `clear_cache()` when the
            weights change.
        max_length: token limit per text for an EmbeddingModule (default: the backbone's).
        show_progress: show a progress bar per encode call.
    """

    def __init__(
        self,
        encoder: Any,
        instructions: str | Instructions | None = "default",
        instruction_template: str | None = None,
        batch_size: int = 32,
        precision: str = "auto",
        sort_by_length: bool = True,
        cache: bool = True,
        max_length: int | None = None,
        show_progress: bool = False,
    ) -> None:
        if isinstance(encoder, torch.nn.Module) and hasattr(encoder, "backbone"):  # an EmbeddingModule
            encoder = ModuleEncoder(encoder, max_length)
        if not isinstance(encoder, TextEncoder):
            raise EmbedlabError(f"MTEBAdapter wraps an EmbeddingModule or a TextEncoder, not {type(encoder).__name__}")
        self.encoder: TextEncoder = encoder
        self.model = self.encoder  # AbsEncoder convention
        self.instructions = load_instructions(instructions, instruction_template)
        self.batch_size = batch_size
        self.precision = resolve_precision(precision, self.encoder.device)
        self.sort_by_length = sort_by_length
        self.use_cache = cache
        self.show_progress = show_progress
        self._cache: dict[tuple[str | None, str], np.ndarray] = {}
        self.stats = {"texts": 0, "encoded": 0, "batches": 0, "encode_seconds": 0.0}
        self.mteb_model_meta = ModelMeta.create_empty(
            overwrites={
                "name": self.encoder.name,
                "revision": "local",
                "similarity_fn_name": ScoringFunction.COSINE,
                "use_instructions": self.instructions is not None,
                "modalities": ["text"],
                "framework": ["PyTorch"],
            }
        )

    def clear_cache(self) -> None:
        """Forget cached vectors (after a training step changed the weights)."""
        self._cache.clear()

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str, prompt_type=None, **kwargs) -> np.ndarray:
        """mteb's entry point: every text of `inputs` to a float32 unit vector, [N, D], in input order."""
        texts: list[str] = []
        for batch in inputs:
            if "text" not in batch:
                raise EmbedlabError(f"{task_metadata.name}: the adapter encodes text only, got columns {sorted(batch)}")
            texts.extend(batch["text"])
        instruction = self.instructions.for_task(task_metadata, prompt_type) if self.instructions else None
        side = getattr(prompt_type, "value", None) or "all"
        return self.encode_texts(
            texts,
            instruction,
            batch_size=kwargs.get("batch_size") or self.batch_size,
            description=f"{task_metadata.name} ({side})",
        )

    @torch.no_grad()
    def encode_texts(
        self,
        texts: Sequence[str],
        instruction: str | None = None,
        batch_size: int | None = None,
        description: str = "encode",
    ) -> np.ndarray:
        """Texts to float32 vectors [N, D] in input order, each distinct text encoded once.

        Args:
            texts: the texts.
            instruction: prepended to every text (already templated).
            batch_size: texts per forward pass (default: the adapter's).
            description: progress bar label.
        """
        batch_size = batch_size or self.batch_size
        todo = [t for t in dict.fromkeys(texts) if (instruction, t) not in self._cache]
        if self.sort_by_length and todo:
            measure = getattr(self.encoder, "lengths", None)
            lengths = measure(todo, instruction) if measure else [len(t) for t in todo]
            order = sorted(range(len(todo)), key=lambda i: -lengths[i])  # longest first, stable among equals
            todo = [todo[i] for i in order]  # each batch pads to its own longest text
        found: dict[str, np.ndarray] = {t: self._cache[(instruction, t)] for t in set(texts) - set(todo)}
        device = self.encoder.device
        start = time.perf_counter()
        steps = range(0, len(todo), batch_size)
        for i in tqdm(steps, desc=description, disable=not self.show_progress or not todo, leave=False):
            chunk = todo[i : i + batch_size]
            with autocast(self.precision, device):
                vectors = self.encoder.embed(chunk, instruction)  # [B, D]
            vectors = vectors.detach().float().cpu().numpy()
            found.update(zip(chunk, vectors, strict=True))
            self.stats["batches"] += 1
        self.stats["encode_seconds"] += time.perf_counter() - start
        self.stats["texts"] += len(texts)
        self.stats["encoded"] += len(todo)
        if self.use_cache:
            self._cache.update({(instruction, t): found[t] for t in todo})
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)  # [N, D]
