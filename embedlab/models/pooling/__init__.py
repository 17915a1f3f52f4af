"""Pooling heads, selectable by class name from YAML (`pooling: Mean`)."""

from embedlab.models.pooling.base import PoolingHead, PoolingInputs
from embedlab.models.pooling.latent_attention import LatentAttention
from embedlab.models.pooling.mean_mlp import MeanMLP
from embedlab.models.pooling.scalar_mix import ScalarMix
from embedlab.models.pooling.simple import FirstToken, LastToken, Mean, WeightedMean
from embedlab.models.pooling.trainable import MultiLayerTrainable, TrainableLastLayer

__all__ = [
    "FirstToken",
    "LastToken",
    "LatentAttention",
    "Mean",
    "MeanMLP",
    "MultiLayerTrainable",
    "PoolingHead",
    "PoolingInputs",
    "ScalarMix",
    "TrainableLastLayer",
    "WeightedMean",
]
