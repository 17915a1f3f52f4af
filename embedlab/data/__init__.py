"""Training data: DataModules, examples and batch collation."""

from embedlab.data.collate import Example, PairCollator, text_key
from embedlab.data.jsonl import JsonlPairs, read_pairs

__all__ = ["Example", "JsonlPairs", "PairCollator", "read_pairs", "text_key"]
