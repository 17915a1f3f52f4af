"""`run_layer_analysis`: per-layer similarity and per-layer MTEB scores of a base model, in one pass.

The order of work: resolve the tasks and the layers (so a typo fails before the model loads), load
the backbone, score each task on each layer (the first layer of a task encodes its texts once, all
layers at once; see `encoding.py`), then compute the similarity on a sample of the cached texts and
write the figures and tables. Total cost: one forward pass per distinct (instruction, text), plus
mteb's scoring K times per task.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embedlab.errors import UnknownNameError, closest_names
from embedlab.layers.encoding import LayerwiseEncoder
from embedlab.layers.loading import load_backbone
from embedlab.layers.report import LayerReport
from embedlab.layers.scoring import score_layers
from embedlab.layers.selection import parse_layers, resolve_pooling, select_tasks
from embedlab.layers.similarity import MEASURES, similarity_matrix
from embedlab.models.attention import AttentionPolicy
from embedlab.models.backbone import Backbone
from embedlab.registry import resolve


def run_layer_analysis(
    backbone: str | Path | Backbone,
    tasks: str | Sequence[Any] = "offline-v1",
    out: str | Path | None = None,
    *,
    task_names: str | Sequence[str] | None = None,
    attention: str | AttentionPolicy = "Causal",
    pooling: str = "mean",
    layers: str | Sequence[int] | None = None,
    similarity: str = "cka",
    similarity_texts: int = 1000,
    max_length: int | None = None,
    batch_size: int = 32,
    precision: str = "auto",
    instructions: str | None = "default",
    instruction_template: str | None = None,
    dtype: str | None = None,
    device: str | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> LayerReport:
    """Score and compare the embeddings of every (selected) layer of an untrained backbone.

    Args:
        backbone: an alias (`smollm2-135m`), a folder or hub id, a backbone YAML config, or a Backbone
            (whose config the attention policy changes in place).
        tasks: a suite (`offline-v1`), task names, task files, or mteb task instances.
        out: folder for layer_similarity.png, layer_scores.png, layers.json, layer_scores.csv,
            layer_similarity.csv and layers.md; None writes nothing.
        task_names: the subset of `tasks` to run (names, or a comma-separated string).
        attention: `Causal` or `Bidirectional` (or a policy instance).
        pooling: `mean` over the text's tokens, or `last_token` (the EOS).
        layers: `all`, `every:K` (keeps the last layer), or indices and ranges (`0,10-12,-1`).
        similarity: the measure the heatmap shows: `cka`, `cosine` or `both` (both are always computed).
        similarity_texts: how many cached texts (sampled with `seed`) the similarity is computed on.
        max_length: token limit per text (default: the backbone's).
        batch_size: texts per forward pass.
        precision: auto (bf16 where the device computes it natively), bf16, fp16 or fp32.
        instructions: `default`, `none` or an instructions YAML, as for `embedlab evaluate`.
        instruction_template: overrides the table's template.
        dtype: weight dtype override for a backbone loaded here.
        device: cpu, cuda, ... (default: cuda when available).
        seed: seed of the similarity sample (and of a random-init backbone).
        show_progress: progress bars.

    Returns:
        The report (also written under `out`, with the figures, when `out` is given).
    """
    if similarity not in (*MEASURES, "both"):
        choices = closest_names(similarity, (*MEASURES, "both"))
        raise UnknownNameError(f"Unknown similarity {similarity!r}; choose one of {', '.join(choices)}")
    pooling = resolve_pooling(pooling)
    if not isinstance(attention, AttentionPolicy):
        attention = resolve(AttentionPolicy, attention, "attention policy")()
    task_list = select_tasks(tasks, task_names)
    began = time.perf_counter()
    model = load_backbone(backbone, max_length=max_length, dtype=dtype, seed=seed)
    parse_layers(layers, model.num_layers)  # a bad spec fails before any work
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    encoder = LayerwiseEncoder(
        model,
        layers=layers,
        pooling=pooling,
        attention=attention,
        max_length=max_length,
        batch_size=batch_size,
        precision=precision,
        show_progress=show_progress,
    )
    loaded = time.perf_counter()  # model loaded and its attention policy proved
    scores = score_layers(encoder, task_list, instructions, instruction_template, show_progress=show_progress)
    scored = time.perf_counter()
    keys = _sample(list(encoder.cache), similarity_texts, seed)
    stacked = encoder.stacked(keys)  # [K, N, D]
    matrices = {m: similarity_matrix(stacked, m).tolist() for m in MEASURES}
    done = time.perf_counter()
    report = LayerReport(
        backbone=str(model.name_or_path),
        attention=type(attention).__name__,
        pooling=pooling,
        num_layers=model.num_layers,
        layers=list(encoder.layers),
        similarity=matrices,
        similarity_measure=similarity,
        similarity_texts=len(keys),
        scores=scores,
        settings={
            "tasks": [t.metadata.name for t in task_list],
            "max_length": max_length or model.tokenizer.max_length,
            "batch_size": batch_size,
            "precision": encoder.precision,
            "instructions": instructions,
            "device": str(encoder.device),
            "seed": seed,
        },
        timings={
            "load_seconds": loaded - began,
            "encode_seconds": encoder.stats["seconds"],
            "scoring_seconds": scored - loaded - encoder.stats["seconds"],
            "similarity_seconds": done - scored,
            "total_seconds": done - began,
            "texts_encoded": encoder.stats["texts"],
            "forward_passes": encoder.stats["forward_passes"],
            "tokens": encoder.stats["tokens"],
        },
    )
    if out is not None:
        write_outputs(report, out)
    return report


def write_outputs(report: LayerReport, out: str | Path) -> dict[str, Path]:
    """The tables (`LayerReport.write`) and both figures under `out`; returns every path written."""
    from embedlab.layers.figures import score_plot, similarity_heatmap

    out = Path(out)
    paths = report.write(out)
    paths["similarity_png"] = out / "layer_similarity.png"
    paths["scores_png"] = out / "layer_scores.png"
    similarity_heatmap(report, path=paths["similarity_png"])
    score_plot(report, path=paths["scores_png"])
    return paths


def _sample(keys: list, limit: int, seed: int) -> list:
    """At most `limit` keys, drawn without replacement with `seed`, in cache order."""
    if len(keys) <= limit:
        return keys
    picked = np.random.default_rng(seed).choice(len(keys), size=limit, replace=False)
    return [keys[i] for i in sorted(picked)]
