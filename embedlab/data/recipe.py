"""MixRecipe: everything that decides the order of the mix, as one picklable object.

A DataLoader worker receives the recipe and builds its own composer from it; a checkpoint stores
`recipe.config()` so that a resume with different data settings is refused with the key that
changed. What does not change the order (workers, pre-truncation, epoch length, the bad-row
policy) is not part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from embedlab.data.composer import BatchComposer, Composition
from embedlab.data.mining import NegativeMiner, build_pool, check_score_ratio
from embedlab.data.passes import TRAIN, VALIDATION, SourceStream, in_validation
from embedlab.data.rows import BadRow, BadRowLog, BadRowPolicy
from embedlab.data.sources.base import Source
from embedlab.errors import EmbedlabError
from embedlab.hparams import as_config


@dataclass
class MixRecipe:
    """The sources and settings of a mix.

    Args:
        sources: the sources, bound to the mix's rules.
        composition: batch size and batch-composition switches.
        seed: the order's seed.
        shuffle_buffer: items shuffled together per source.
        val_fraction: share of each source's groups held out for validation.
        policy: the bad-row policy.
        num_negatives: hard negatives per query.
        mining_depth: BM25 negatives are drawn among this many best documents.
        mining_pool: most documents per source indexed for mining.
        length_matched: mined negatives are matched in length to their positives.
        mining_score_cap: mined BM25 negatives scoring above this fraction of the positive's score are
            dropped (NV-Retriever's positive-aware rule); None: no cut-off.
    """

    sources: list[Source]
    composition: Composition
    seed: int
    shuffle_buffer: int
    val_fraction: float
    policy: BadRowPolicy
    num_negatives: int
    mining_depth: int
    mining_pool: int
    length_matched: bool = False
    mining_score_cap: float | None = 0.95

    def __post_init__(self) -> None:
        check_score_ratio(self.mining_score_cap)

    def composer(self, split: str = TRAIN, passes: int | None = None, seed: int | None = None) -> BatchComposer:
        """A fresh composer over `split` (endless unless `passes` is given)."""
        seed = self.seed if seed is None else seed
        log = BadRowLog(self.policy)
        streams = [
            SourceStream(s, slot, split, seed, self.shuffle_buffer, self.val_fraction, log, passes)
            for slot, s in enumerate(self.sources)
        ]
        return BatchComposer(streams, [s.weight for s in self.sources], self.composition, seed, log)

    def miners(self) -> tuple[dict[str, NegativeMiner], dict[str, dict[str, int | None]]]:
        """Negative miners over each mining source's training documents, and the items per source and split.

        Validation batches mine from the same training pool: their queries and positives stay held
        out, and their negatives are as hard as in training however small the held-out slice is.
        The counts are exact for a source read to its end while building its pool, else None.
        """
        miners: dict[str, NegativeMiner] = {}
        counts: dict[str, dict[str, int | None]] = {}
        for source in self.sources:
            counts[source.name] = {TRAIN: None, VALIDATION: None}
            if source.negatives == "data" or self.num_negatives == 0:
                continue
            held_out = [0]
            items = _train_items(source, self.val_fraction, BadRowLog(self.policy), held_out)
            documents, groups, read = build_pool(items, self.mining_pool)
            if read is not None:
                counts[source.name] = {TRAIN: read, VALIDATION: held_out[0]}
            if len(documents) <= self.num_negatives:
                raise EmbedlabError(
                    f"source {source.name!r} has {len(documents)} training documents: too few to mine "
                    f"{self.num_negatives} negatives from (lower val_fraction or num_negatives)"
                )
            miners[source.name] = NegativeMiner(
                source.negatives, documents, groups, self.mining_depth, self.mining_score_cap
            )
        return miners, counts

    def config(self) -> dict:
        """Plain data that identifies the order (stored in checkpoints)."""
        c = self.composition
        return {
            "sources": [as_config(s) for s in self.sources],
            "weights": [s.weight for s in self.sources],
            "batch_size": c.batch_size,
            "single_source_batches": c.single_source,
            "unique_texts": c.unique_texts,
            "length_bucketing": c.length_bucketing,
            "bucket_window": c.bucket_window,
            "query_chars": c.query_chars,
            "document_chars": c.document_chars,
            "seed": self.seed,
            "shuffle_buffer": self.shuffle_buffer,
            "val_fraction": self.val_fraction,
            "num_negatives": self.num_negatives,
            "mining_depth": self.mining_depth,
            "mining_pool": self.mining_pool,
            "length_matched_negatives": self.length_matched,
            "mining_score_cap": self.mining_score_cap,
            "instructions": [s.instruction_prefix for s in self.sources],
        }


def _train_items(source: Source, val_fraction: float, bad_rows: BadRowLog, held_out: list[int]):
    """The training items of one pass of `source`, counting the held-out ones in `held_out[0]`."""
    for entry in source.rows():
        if isinstance(entry, BadRow):
            bad_rows.record(source.name, entry)
        elif in_validation(source.name, entry.group, val_fraction):
            held_out[0] += 1
        else:
            yield entry
