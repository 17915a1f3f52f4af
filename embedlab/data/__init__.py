"""Training data: the shared mix (`TrainingMix`) and its sources, examples and batch collation."""

from embedlab.data.collate import Example, PairCollator, padding_stats, text_key
from embedlab.data.jsonl import JsonlPairs, read_pairs
from embedlab.data.mix import TrainingMix
from embedlab.data.sources import (
    CsvSource,
    HubSource,
    JsonlSource,
    LeeBackgroundSource,
    NewsArticlesSource,
    ParquetSource,
    Source,
)

__all__ = [
    "CsvSource",
    "Example",
    "HubSource",
    "JsonlPairs",
    "JsonlSource",
    "LeeBackgroundSource",
    "NewsArticlesSource",
    "PairCollator",
    "ParquetSource",
    "Source",
    "TrainingMix",
    "padding_stats",
    "read_pairs",
    "text_key",
]
