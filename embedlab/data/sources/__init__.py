"""Sources of training examples: local files, Hugging Face datasets, and the bundled offline corpora."""

from embedlab.data.sources.base import Source
from embedlab.data.sources.columnar import HubSource, ParquetSource
from embedlab.data.sources.files import CsvSource, JsonlSource
from embedlab.data.sources.offline import LeeBackgroundSource, NewsArticlesSource

__all__ = [
    "CsvSource",
    "HubSource",
    "JsonlSource",
    "LeeBackgroundSource",
    "NewsArticlesSource",
    "ParquetSource",
    "Source",
]
