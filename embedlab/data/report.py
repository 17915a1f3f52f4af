"""Measurements of a mix's batches: token lengths, truncation, padded fraction, and a printable summary.

Used by `embedlab data inspect` and `benchmarks/data_throughput.py`. Everything is measured on
batches the mix really produces (with its tokenizer, limits and composition), in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from embedlab.data.collate import padding_stats
from embedlab.data.mix import TrainingMix
from embedlab.data.rows import format_bad_rows
from embedlab.data.stream import META, mine_batch

PERCENTILES = (5, 50, 95, 99, 100)


@dataclass
class BatchStats:
    """What `count` batches of a mix look like once tokenised."""

    batches: int = 0
    padding: int = 0
    tokens: int = 0
    lengths: dict[str, list[int]] = field(default_factory=lambda: {"query": [], "positive": [], "negative": []})
    truncated: dict[str, int] = field(default_factory=lambda: {"query": 0, "document": 0})
    bad_rows: dict = field(default_factory=dict)

    @property
    def padded_fraction(self) -> float:
        return self.padding / max(self.tokens, 1)


def measure(mix: TrainingMix, count: int) -> BatchStats:
    """Stats of the next `count` training batches of `mix` (consumed as a fit would)."""
    if mix.train_stream is None:
        mix.prepare_streams()
    stats = BatchStats()
    limits = {"query": mix.hparams.query_max_length, "document": mix.hparams.document_max_length}
    default = mix.collator.tokenizer.max_length
    loader = mix.train_dataloader()
    while stats.batches < count:
        for batch in loader:
            meta = batch[META]
            mix.on_before_batch_transfer(batch, 0)
            padding, tokens = padding_stats(batch)
            stats.padding += padding
            stats.tokens += tokens
            queries = batch["query"]["attention_mask"].sum(-1).tolist()  # [B]
            documents = batch["documents"]["attention_mask"].sum(-1).tolist()  # [B * (1 + k)]
            b = len(queries)
            stats.lengths["query"] += queries
            stats.lengths["positive"] += documents[:b]
            stats.lengths["negative"] += documents[b:]
            stats.truncated["query"] += sum(n >= (limits["query"] or default) for n in queries)
            stats.truncated["document"] += sum(n >= (limits["document"] or default) for n in documents)
            stats.bad_rows = meta["bad_rows"]
            stats.batches += 1
            if stats.batches == count:
                break
    return stats


def length_table(stats: BatchStats) -> list[str]:
    header = "  " + "".ljust(10) + "".join(f"p{p}".rjust(8) if p < 100 else "max".rjust(8) for p in PERCENTILES)
    lines = [header]
    for name, values in stats.lengths.items():
        if values:
            row = np.percentile(np.asarray(values), PERCENTILES)
            lines.append("  " + name.ljust(10) + "".join(f"{v:8.0f}" for v in row))
    n_q = len(stats.lengths["query"])
    n_d = len(stats.lengths["positive"]) + len(stats.lengths["negative"])
    lines.append(
        f"  cut at the limit: {stats.truncated['query'] / max(n_q, 1):.1%} of queries, "
        f"{stats.truncated['document'] / max(n_d, 1):.1%} of documents"
    )
    return lines


def describe(mix: TrainingMix) -> list[str]:
    """The mix's settings and sources, one line each."""
    hp = mix.hparams
    total = sum(s.weight for s in mix.sources)
    tokenizer = mix.collator.tokenizer if mix.collator is not None else None
    lines = [
        f"TrainingMix: {len(mix.sources)} source(s), batch_size {hp.batch_size}, {hp.num_negatives} hard negative(s), "
        f"seed {hp.seed}",
        f"  single-source batches: {_on(hp.single_source_batches)}, unique texts: {_on(hp.unique_texts)}, "
        f"length bucketing: {_on(hp.length_bucketing)} (window {hp.bucket_window}), bad rows: {hp.bad_rows}",
        f"  length-matched mined negatives: {_on(hp.length_matched_negatives)}, mining depth {hp.mining_depth}",
        f"  max tokens: queries {hp.query_max_length or 'backbone'}, documents {hp.document_max_length or 'backbone'}"
        + (f" (backbone {tokenizer.max_length})" if tokenizer is not None else ""),
        f"  epoch: {mix.epoch_steps or 'endless'} steps; validation slice: {len(mix.val_batches)} batches "
        f"(val_fraction {hp.val_fraction})",
        "",
        f"  {'source':<18}{'weight':>8}{'share':>8}  {'negatives':<10}{'train':>9}{'val':>7}  data",
    ]
    for source in mix.sources:
        sizes = mix.sizes.get(source.name, {})
        lines.append(
            f"  {source.name:<18}{source.weight:>8g}{source.weight / total:>8.0%}  {source.negatives:<10}"
            f"{_n(sizes.get('train')):>9}{_n(sizes.get('validation')):>7}  {source.describe()}"
        )
        if source.instruction_prefix:
            lines.append(f"  {'':<18}instruction: {source.instruction_prefix!r}")
    return lines


def sample_rows(mix: TrainingMix, count: int) -> list[str]:
    """The first `count` examples of the stream, one source after another, texts shortened."""
    lines = []
    for composed in mix.recipe.composer():
        mine_batch(
            composed, mix.train_stream.miners, mix.hparams.num_negatives, mix.hparams.seed, mix.hparams.unique_texts
        )
        for item in composed.items[:2]:
            e = item.example
            lines.append(f"  [{e.source}] query:    {_short(e.query)}")
            lines.append(f"  {'':<{len(e.source) + 2}} positive: {_short(e.positive)}")
            for negative in e.negatives:
                lines.append(f"  {'':<{len(e.source) + 2}} negative: {_short(negative)}")
            if len(lines) >= count * (2 + mix.hparams.num_negatives):
                return lines
    return lines


def bad_row_lines(stats: BatchStats) -> list[str]:
    return ["  " + line for line in format_bad_rows(stats.bad_rows).splitlines()]


def _short(text: str, width: int = 110) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _n(value) -> str:
    return "?" if value is None else f"{value:,}"
