"""Encode each text once with every hidden state, and serve any layer's embedding from the cache.

Scoring 31 layers by running the model 31 times would cost 31 forward passes per text. Here a text
goes through the backbone once (`output_hidden_states=True`); the selected layers' states are pooled
right away and kept, per (instruction, text), as a [K, D] float32 block. `LayerView(encoder, layer)`
is then a `TextEncoder` for one layer that reads from that cache, so mteb's scoring runs once per
layer on vectors that already exist; a text not yet seen is encoded (all layers) on first request.

The pooling is the one the heads use (`embedlab.models.pooling.base`): `mean` is `Mean`'s masked mean
over `pool_mask` (instruction tokens left out when the backbone masks them), `last_token` is
`LastToken`'s last real position. Vectors are L2-normalised when served, as `EmbeddingModule.encode`
returns them, so layer L with `mean` is exactly the untrained `Mean` model's embedding.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from embedlab.eval.adapter import autocast, resolve_precision
from embedlab.layers.selection import LayerSelectionError, parse_layers, resolve_pooling
from embedlab.models.attention import AttentionPolicy, Causal
from embedlab.models.backbone import Backbone
from embedlab.models.pooling.base import last_token, masked_mean

Key = tuple[str | None, str]


class LayerwiseEncoder:
    """A backbone that pools the selected layers of each text in one forward pass, and caches them.

    Applies the attention policy to the backbone (it changes the backbone's config in place) and proves
    it on the loaded weights, as `EmbeddingModule` does.

    Args:
        backbone: the decoder and its tokenizer.
        layers: layer spec or indices (see `selection.parse_layers`); default every layer 0..L.
        pooling: `mean` (over poolable tokens) or `last_token`.
        attention: the attention policy; default Causal.
        max_length: token limit per text (default: the backbone's).
        batch_size: texts per forward pass.
        precision: auto, bf16, fp16 or fp32 autocast of the forward pass.
        verify_attention: prove the attention policy on the weights before the first pass.
        show_progress: a progress bar over the batches of each `ensure` call.
    """

    def __init__(
        self,
        backbone: Backbone,
        layers: str | Sequence[int] | None = None,
        pooling: str = "mean",
        attention: AttentionPolicy | None = None,
        max_length: int | None = None,
        batch_size: int = 32,
        precision: str = "auto",
        verify_attention: bool = True,
        show_progress: bool = False,
    ) -> None:
        self.backbone = backbone.eval()
        self.attention = attention or Causal()
        self.attention.apply(backbone)
        if verify_attention and backbone.attn_implementation != "flash_attention_2":
            self.attention.verify(backbone)
        self.layers = parse_layers(layers, backbone.num_layers)
        self.pooling = resolve_pooling(pooling)
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = resolve_precision(precision, self.device)
        self.show_progress = show_progress
        self._position = {layer: i for i, layer in enumerate(self.layers)}
        self.cache: dict[Key, Tensor] = {}  # (instruction, text) -> [K, D] float32, K = len(self.layers)
        self.stats = {"texts": 0, "forward_passes": 0, "tokens": 0, "seconds": 0.0}

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    @property
    def num_layers(self) -> int:
        """L, the backbone's decoder layer count (valid layer indices are 0..L)."""
        return self.backbone.num_layers

    def lengths(self, texts: Sequence[str], instruction: str | None) -> list[int]:
        """Tokens per text as the backbone sees them (instruction and EOS included, truncated)."""
        features = self.backbone.tokenizer(list(texts), instruction, self.max_length)
        return features["attention_mask"].sum(dim=1).tolist()  # [N]

    @torch.no_grad()
    def pool_batch(self, texts: Sequence[str], instruction: str | None) -> Tensor:
        """One forward pass over a batch: the pooled states of every selected layer, [B, K, D] float32 (not normalised).

        Args:
            texts: the texts of one batch.
            instruction: prepended to every text.
        """
        features = self.backbone.tokenizer(list(texts), instruction, self.max_length)
        ids = features["input_ids"].to(self.device)  # [B, T]
        mask = features["attention_mask"].to(self.device)  # [B, T]
        pool = features["pool_mask"].to(self.device)  # [B, T]
        with autocast(self.precision, self.device):
            states = self.backbone(ids, mask, output_hidden_states=True).hidden_states  # L + 1 of [B, T, D]
        pooled = [
            masked_mean(states[k], pool) if self.pooling == "mean" else last_token(states[k], mask)  # [B, D]
            for k in self.layers
        ]
        self.stats["forward_passes"] += 1
        self.stats["tokens"] += int(mask.sum())
        return torch.stack(pooled, dim=1).float().cpu()  # [B, K, D]

    def ensure(self, texts: Sequence[str], instruction: str | None, description: str = "encode layers") -> None:
        """Encode (all selected layers) every text not cached yet; batches are formed longest first.

        Args:
            texts: the texts.
            instruction: prepended to every text.
            description: progress bar label.
        """
        todo = [t for t in dict.fromkeys(texts) if (instruction, t) not in self.cache]
        if not todo:
            return
        start = time.perf_counter()
        lengths = self.lengths(todo, instruction)
        todo = [todo[i] for i in sorted(range(len(todo)), key=lambda i: -lengths[i])]  # each batch pads to its longest
        steps = range(0, len(todo), self.batch_size)
        for i in tqdm(steps, desc=description, disable=not self.show_progress or len(steps) < 2, leave=False):
            chunk = todo[i : i + self.batch_size]
            for text, block in zip(chunk, self.pool_batch(chunk, instruction), strict=True):
                self.cache[(instruction, text)] = block.clone()  # [K, D], its own storage
        self.stats["texts"] += len(todo)
        self.stats["seconds"] += time.perf_counter() - start

    def vectors(self, texts: Sequence[str], instruction: str | None, layer: int) -> Tensor:
        """One layer's L2-normalised embeddings of `texts`, [N, D] float32 (encoding the texts not cached).

        Args:
            texts: the texts.
            instruction: prepended to every text.
            layer: a selected layer index (0..L).
        """
        position = self.position(layer)
        self.ensure(texts, instruction)
        if not texts:
            return torch.zeros((0, self.backbone.hidden_size))
        rows = torch.stack([self.cache[(instruction, t)][position] for t in texts])  # [N, D]
        return F.normalize(rows, dim=-1)  # [N, D]

    def position(self, layer: int) -> int:
        """Where `layer` sits among the selected layers (negative indices count from L)."""
        resolved = parse_layers([layer], self.num_layers)[0]
        if resolved not in self._position:
            raise LayerSelectionError(f"Layer {layer} was not selected for encoding; selected: {self.layers}.")
        return self._position[resolved]

    def stacked(self, keys: Sequence[Key] | None = None) -> Tensor:
        """Cached pooled states of `keys` (default: all), layer-major and L2-normalised: [K, N, D] float32."""
        keys = list(self.cache) if keys is None else list(keys)
        if not keys:
            return torch.zeros((len(self.layers), 0, self.backbone.hidden_size))
        blocks = torch.stack([self.cache[k] for k in keys], dim=1)  # [K, N, D]
        return F.normalize(blocks, dim=-1)  # [K, N, D]

    def view(self, layer: int) -> LayerView:
        """A `TextEncoder` serving one layer from this encoder's cache."""
        return LayerView(self, layer)


class LayerView:
    """One layer of a `LayerwiseEncoder` as a `TextEncoder` (what `MTEBAdapter` wraps).

    Args:
        encoder: the shared per-layer encoder and its cache.
        layer: the layer index served (0..L; negative counts from L).
    """

    def __init__(self, encoder: LayerwiseEncoder, layer: int) -> None:
        self.encoder = encoder
        self.layer = encoder.layers[encoder.position(layer)]
        self.name = f"{encoder.backbone.name_or_path}/layer-{self.layer}"

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def embed(self, texts: Sequence[str], instruction: str | None) -> Tensor:
        return self.encoder.vectors(texts, instruction, self.layer)  # [B, D]

    def lengths(self, texts: Sequence[str], instruction: str | None) -> list[int]:
        """Token lengths where a text still needs encoding (so first-pass batches pad little); 0 once cached."""
        cache = self.encoder.cache
        if all((instruction, t) in cache for t in texts):
            return [0] * len(texts)
        return self.encoder.lengths(texts, instruction)
