"""Score every selected layer on mteb tasks: task outer, layer inner, one shared embedding cache.

Each task's data is loaded once and scored K times, once per layer, by the project's own evaluator
(`MTEBEvaluator`, so main scores are computed exactly as `embedlab evaluate` computes them) around a
`LayerView`. The first layer of a task encodes its texts (every layer at once); the other K - 1 runs
read the cache and cost only mteb's scoring (logistic regression, k-means, ranking). The adapter's own
cache is off: the per-layer cache is the only copy of the vectors.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from embedlab.eval.adapter import MTEBAdapter
from embedlab.eval.evaluator import MTEBEvaluator
from embedlab.eval.instructions import Instructions, load_instructions
from embedlab.layers.encoding import LayerwiseEncoder


@dataclass
class LayerScore:
    """One task's main score on one layer's embeddings."""

    layer: int
    task: str
    task_type: str
    category: str
    metric: str
    score: float
    seconds: float


def score_layers(
    encoder: LayerwiseEncoder,
    tasks: Sequence[Any],
    instructions: str | Instructions | None = "default",
    instruction_template: str | None = None,
    show_progress: bool = True,
) -> list[LayerScore]:
    """Main score of each task on each of the encoder's layers, task by task.

    Args:
        encoder: the per-layer encoder (its layers, pooling, precision and cache).
        tasks: mteb task instances (see `embedlab.eval.suites.resolve_tasks`).
        instructions: `default`, `none`, a YAML path or an `Instructions` table, as for `embedlab evaluate`.
        instruction_template: overrides the table's template.
        show_progress: a progress bar over (task, layer) runs.

    Returns:
        One `LayerScore` per (task, layer), tasks in the given order, layers ascending.
    """
    table = load_instructions(instructions, instruction_template)  # read once, shared by every run
    scores: list[LayerScore] = []
    total = len(tasks) * len(encoder.layers)
    with tqdm(total=total, desc="score layers", disable=not show_progress, unit="run") as bar:
        for task in tasks:
            evaluator = MTEBEvaluator([task], batch_size=encoder.batch_size, keep_data=True)
            try:
                for layer in encoder.layers:
                    bar.set_postfix_str(f"{task.metadata.name} layer {layer}")
                    adapter = MTEBAdapter(
                        encoder.view(layer),
                        instructions=table if table is not None else "none",
                        batch_size=encoder.batch_size,
                        precision="fp32",  # the encoder autocasts its own forward pass; cache reads need none
                        cache=False,
                    )
                    began = time.perf_counter()
                    result = evaluator.run(adapter).scores[0]
                    scores.append(
                        LayerScore(
                            layer,
                            result.task,
                            result.task_type,
                            result.category,
                            result.metric,
                            result.score,
                            time.perf_counter() - began,
                        )
                    )
                    bar.update()
            finally:
                task.unload_data()
    return scores
