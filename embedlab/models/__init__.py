"""The model zoo: every attention policy and pooling head, imported so that LightningCLI resolves
short class names (`attention: Bidirectional`, `pooling: MultiLayerTrainable`)."""

from embedlab.models.attention import AttentionPolicy, Bidirectional, Causal
from embedlab.models.backbone import Backbone, LoRA
from embedlab.models.pooling import (
    FirstToken,
    LastToken,
    LatentAttention,
    Mean,
    MultiLayerTrainable,
    PoolingHead,
    PoolingInputs,
    ScalarMix,
    TrainableLastLayer,
    WeightedMean,
)

__all__ = [
    "AttentionPolicy",
    "Backbone",
    "Bidirectional",
    "Causal",
    "FirstToken",
    "LastToken",
    "LatentAttention",
    "LoRA",
    "Mean",
    "MultiLayerTrainable",
    "PoolingHead",
    "PoolingInputs",
    "ScalarMix",
    "TrainableLastLayer",
    "WeightedMean",
]
