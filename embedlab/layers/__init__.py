"""Layer analysis of a base model: per-layer embedding similarity and per-layer MTEB scores (`embedlab layers`).

The paper's motivation (Figures 1-2) is that a decoder's layers embed a text differently, so pooling
across layers may help. This package measures both halves on any backbone: how alike the layers'
embeddings are (linear CKA, or mean cosine), and how well each layer's embedding scores on a suite,
encoding every text once (all hidden states) and scoring each layer from that cache.

    from embedlab.layers import run_layer_analysis
    report = run_layer_analysis("smollm2-135m", "offline-v1", "report/layers",
                                task_names=["WordSim353STS"], layers="every:3", max_length=64)
"""

from embedlab.layers.encoding import LayerView, LayerwiseEncoder
from embedlab.layers.report import LayerReport
from embedlab.layers.run import run_layer_analysis, write_outputs
from embedlab.layers.scoring import LayerScore, score_layers
from embedlab.layers.selection import LayerSelectionError, parse_layers, resolve_pooling, select_tasks
from embedlab.layers.similarity import cka_matrix, cosine_matrix, linear_cka, similarity_matrix

__all__ = [
    "LayerReport",
    "LayerScore",
    "LayerSelectionError",
    "LayerView",
    "LayerwiseEncoder",
    "cka_matrix",
    "cosine_matrix",
    "linear_cka",
    "parse_layers",
    "resolve_pooling",
    "run_layer_analysis",
    "score_layers",
    "select_tasks",
    "similarity_matrix",
    "write_outputs",
]
