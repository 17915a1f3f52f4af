"""TrainingMix: the LightningDataModule that streams the shared training mix of a study.

Every variant of a comparison trains on exactly the same batches in the same order: the order is a
function of the sources and the data settings only (see `recipe.py`), never of the model, the
number of workers or the machine (with several devices, of their number too: the batches of one
step share a source). The tokenizer is bound late (`connect`), as in `JsonlPairs`.

Exact resume: the DataModule counts the training batches that reach the model (it pops the stream
state each batch carries in `on_before_batch_transfer`, after the workers' prefetching), and
`state_dict` / `load_state_dict` (kept by Lightning in every checkpoint) hold that count, the
positions and RNG state of the last consumed batch, and the bad-row counts. A resumed fit replays
the composition from the seed (no mining, no tokenising) to exactly the next batch, checks that it
reaches the checkpointed batch (a hash chain over every batch so far) at the checkpointed positions,
and goes on: nothing repeated, nothing skipped. Between epochs, persistent workers continue their
stream without a replay. Checked with lightning 2.6.6 and torch 2.13.

Token store (`token_store.py`): `prepare_data` (once per node, before any worker starts) tokenises
every text of the sources once into memory-mapped stores under the embedlab cache, keyed by the
tokenizer and its settings; every later run of the study, and every epoch, reads ids from them
instead of tokenising again. The tensors are the same with the store, without it, or in part.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from embedlab.data.collate import PairCollator
from embedlab.data.composer import Composed, Composition
from embedlab.data.fast_tokenize import CHARS_PER_TOKEN, FastTokenizer
from embedlab.data.mix_config import MixConfig
from embedlab.data.passes import TRAIN, VALIDATION
from embedlab.data.recipe import MixRecipe
from embedlab.data.rows import BadRowPolicy, format_bad_rows
from embedlab.data.sources.base import Source
from embedlab.data.stream import META, BatchList, MixCollator, MixStream, mine_batch
from embedlab.data.token_store import TokenStore, build_stores, default_store_dir, stored_texts, tokenizer_fingerprint
from embedlab.errors import EmbedlabError
from embedlab.instruction_template import DEFAULT_TEMPLATE

log = logging.getLogger("embedlab.data")
STATE_FORMAT = 1
VALIDATION_SEED = 0  # the held-out batches are the same for every training seed


class TrainingMix(MixConfig, L.LightningDataModule):
    """The shared training mix: weighted sources, streamed, deterministic and exactly resumable.

    Args:
        sources: the sources (`JsonlSource`, `CsvSource`, `ParquetSource`, `HubSource`,
            `NewsArticlesSource`, `LeeBackgroundSource`), each with its weight and instruction.
        batch_size: examples per batch on each device (the in-batch-negative pool).
        num_negatives: hard negatives per query (from the data or mined, per source).
        single_source_batches: draw every batch from one source (chosen by weight), so in-batch
            negatives are not trivially easy; on several devices, one source per step for all of
            them (the pool the loss gathers is single-source); False mixes sources within batches.
        unique_texts: no text twice in a batch, nor two examples of one group (the spans of one document:
            one span's positive holds the other's query); an example that would break this waits for a later batch.
        length_bucketing: sort examples by length within a window of batches (less padding).
        bucket_window: batches per bucketing window.
        query_max_length: token limit of queries (default: the backbone's); also caps bucketing lengths.
        document_max_length: token limit of documents (default: the backbone's); likewise.
        instruction_template: how a source's `instruction` prefixes its queries: `e5` (the default,
            `Instruct: {instruction}\\nQuery: `), `paper` (no separator) or a string holding `{instruction}`;
            evaluation writes its instructions with the same template (`embedlab/instruction_template.py`).
        bad_rows: `error` (stop at the first bad row, naming file and line) or `skip` (count and report).
        max_text_chars: longer texts are bad rows (`too_long`).
        shuffle_buffer: items per source shuffled together (streaming shuffle).
        mining_depth: mined BM25 negatives are drawn among this many best-scoring documents.
        mining_pool: most documents per source indexed for mining.
        length_matched_negatives: mine negatives among the best-scoring documents closest in length to
            the positive (capped at the document limit): length bucketing then pays with mined negatives
            too, and length is no shortcut between positive and negative.
        mining_score_cap: mined BM25 negatives scoring above this fraction of the query's score against
            its positive are dropped as likely false negatives (near-duplicates of the positive; the
            positive-aware rule of NV-Retriever, Moreira et al. 2024); null: no cut-off.
        val_fraction: share of each source's documents held out for validation (0: no validation).
        val_batches: validation batches in all (fewer when the held-out slice is smaller).
        batches_per_epoch: training steps per epoch; default: one pass over the mix's examples when
            every source's size is known, else one endless epoch (stop with `trainer.max_steps`).
        pretruncate: cut long texts at a space before tokenising (identical tensors, faster).
        token_cache: tokenised texts kept per worker (a text seen again is not re-tokenised); 0: none.
        token_store: tokenise the sources' texts once per tokenizer setting (in `prepare_data`) into a
            memory-mapped store that every run of the study reads; texts not in it (streamed hub sources)
            are tokenised in the workers. Same tensors either way.
        token_store_dir: the stores' folder; default: `tokens/` in the embedlab cache (`$EMBEDLAB_CACHE`).
        num_workers: DataLoader worker processes (mining and tokenisation happen there).
        seed: the order's seed; the same seed gives the same batches for every variant.
    """

    def __init__(
        self,
        sources: list[Source],
        batch_size: int = 32,
        num_negatives: int = 1,
        single_source_batches: bool = True,
        unique_texts: bool = True,
        length_bucketing: bool = True,
        bucket_window: int = 16,
        query_max_length: int | None = None,
        document_max_length: int | None = None,
        instruction_template: str = DEFAULT_TEMPLATE,
        bad_rows: BadRowPolicy = "error",
        max_text_chars: int = 100_000,
        shuffle_buffer: int = 10_000,
        mining_depth: int = 20,
        mining_pool: int = 100_000,
        length_matched_negatives: bool = False,
        mining_score_cap: float | None = 0.95,
        val_fraction: float = 0.02,
        val_batches: int = 8,
        batches_per_epoch: int | None = None,
        pretruncate: bool = True,
        token_cache: int = 50_000,
        token_store: bool = True,
        token_store_dir: str | None = None,
        num_workers: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["sources"])
        self.hparams["sources"] = self.check_sources(sources)
        self.sources = sources
        self.collator: PairCollator | None = None
        self.recipe = self.make_recipe(sources)
        self.rank, self.world_size = 0, 1
        self.train_stream: MixStream | None = None
        self.val_batches: list[Composed] = []
        self.sizes: dict[str, dict[str, int | None]] = {}  # items per source and split, where known
        self.epoch_steps: int | None = None
        self.consumed = 0
        self.last: dict | None = None
        self._reported: dict = {}

    def connect(self, tokenizer) -> None:
        """Bind the backbone's tokenizer (done automatically in `setup` when run by a Trainer)."""
        hp = self.hparams
        stores = self.token_stores(tokenizer) if hp.token_store else {}
        fast = FastTokenizer(tokenizer, pretruncate=hp.pretruncate, cache_size=hp.token_cache, stores=stores)
        self.collator = PairCollator(fast, hp.num_negatives, hp.query_max_length, hp.document_max_length)

    def token_limits(self, tokenizer) -> tuple[int, int]:
        """The token limits of queries and documents."""
        hp = self.hparams
        return hp.query_max_length or tokenizer.max_length, hp.document_max_length or tokenizer.max_length

    def token_stores(self, tokenizer) -> dict[int, TokenStore]:
        """The token stores of this mix and tokenizer, by token limit (none for a tokenizer without a fast backend)."""
        base = tokenizer_fingerprint(tokenizer)
        if base is None:
            log.warning("TrainingMix: %s has no fast backend; no token store", type(tokenizer.tokenizer).__name__)
            return {}
        folder = (
            Path(self.hparams.token_store_dir).expanduser() if self.hparams.token_store_dir else default_store_dir()
        )
        mix = hashlib.sha256(json.dumps(self.hparams["sources"], sort_keys=True, default=str).encode())
        mix.update(json.dumps([s.instruction_prefix for s in self.sources]).encode())
        return {
            limit: TokenStore.at(folder, {**base, "max_length": limit, "mix": mix.hexdigest()[:16]})
            for limit in dict.fromkeys(self.token_limits(tokenizer))
        }

    def make_recipe(self, sources: list[Source]) -> MixRecipe:
        hp = self.hparams
        composition = Composition(
            batch_size=hp.batch_size,
            single_source=hp.single_source_batches,
            unique_texts=hp.unique_texts,
            length_bucketing=hp.length_bucketing,
            bucket_window=hp.bucket_window,
            query_chars=hp.query_max_length * CHARS_PER_TOKEN if hp.query_max_length else None,
            document_chars=hp.document_max_length * CHARS_PER_TOKEN if hp.document_max_length else None,
        )
        self.bind_sources(sources)
        return MixRecipe(
            sources, composition, hp.seed, hp.shuffle_buffer, hp.val_fraction, hp.bad_rows,
            hp.num_negatives, hp.mining_depth, hp.mining_pool, hp.length_matched_negatives, hp.mining_score_cap,
        )  # fmt: skip

    # ---------------------------------------------------------------- Lightning hooks

    def prepare_data(self) -> None:
        """Build the token stores that are missing or fail their check (once per node; see `token_store.py`)."""
        if not self.hparams.token_store:
            return
        if self.collator is None and self.trainer is not None:
            self.connect(self.trainer.lightning_module.backbone.tokenizer)
        fast: FastTokenizer = self._collator().tokenizer
        stale = {limit: store for limit, store in fast.stores.items() if not store.open(full=True)}
        if not stale:
            return
        started = time.perf_counter()
        query_limit, document_limit = self.token_limits(fast.tokenizer)
        rows = build_stores(stale, fast.encode, stored_texts(self.sources, query_limit, document_limit))
        log.info(
            "TrainingMix: token store built in %.1f s (%d rows): %s",
            time.perf_counter() - started, rows, ", ".join(str(s.path) for s in stale.values()),
        )  # fmt: skip
        for store in stale.values():
            store.open(full=True)

    def setup(self, stage: str) -> None:
        if self.collator is None:
            self.connect(self.trainer.lightning_module.backbone.tokenizer)
        if self.hparams.token_store:
            self.collator.tokenizer.open_stores()  # fully checked here, once; the workers only map them
        if self.trainer is not None:
            self.rank, self.world_size = self.trainer.global_rank, self.trainer.world_size
        if self.train_stream is None:
            self.prepare_streams()

    def prepare_streams(self) -> None:
        """Build the miners, the validation slice and the training stream (once, in the main process)."""
        hp = self.hparams
        # Rank r takes global batch step * world_size + r: one source per step keeps the gathered pool single-source.
        self.recipe.composition = dataclasses.replace(self.recipe.composition, step_batches=self.world_size)
        miners, counts = self.recipe.miners()
        self.sizes = counts
        for source in self.sources:
            if counts[source.name][TRAIN] is None:
                counts[source.name][TRAIN] = _size_hint(source, hp.val_fraction)
        sizes = [counts[s.name][TRAIN] for s in self.sources]
        epoch = hp.batches_per_epoch
        if epoch is None and all(n is not None for n in sizes):
            epoch = max(1, sum(sizes) // (hp.batch_size * self.world_size))
        self.epoch_steps = epoch
        self.train_stream = MixStream(
            self.recipe.composer, miners, hp.num_negatives, hp.seed, hp.unique_texts,
            self.rank, self.world_size, epoch, expect=self.last, match_chars=self.match_chars(),
        )  # fmt: skip
        self.train_stream.consumed[0] = self.consumed
        self.val_batches = self.validation_slice() if hp.val_fraction > 0 and hp.val_batches > 0 else []

    def validation_slice(self) -> list[Composed]:
        """The held-out batches of this rank (deterministic, equal per rank): their queries and positives
        are never trained on; mined negatives come from the training documents."""
        hp = self.hparams
        composer = self.recipe.composer(VALIDATION, passes=1, seed=VALIDATION_SEED)
        wanted = max(self.world_size, hp.val_batches - hp.val_batches % self.world_size)
        batches = []
        for composed in composer:
            batches.append(composed)
            if len(batches) == wanted:
                break
        batches = batches[: len(batches) - len(batches) % self.world_size]
        if len(batches) < wanted:
            log.warning("TrainingMix: the validation slice holds %d batches (val_batches: %d)", len(batches), wanted)
        for composed in batches:  # negatives from the training pools (the slice itself may be small)
            mine_batch(
                composed,
                self.train_stream.miners,
                hp.num_negatives,
                VALIDATION_SEED,
                hp.unique_texts,
                self.match_chars(),
            )
        return batches[self.rank :: self.world_size]

    def match_chars(self) -> int | None:
        """The length cap mined negatives are matched under, or None when they are not length-matched."""
        if not self.hparams.length_matched_negatives:
            return None
        return self.recipe.composition.document_chars or 1 << 30

    def train_dataloader(self) -> DataLoader:
        if self.train_stream is None:
            self.prepare_streams()
        workers = self.hparams.num_workers
        return DataLoader(
            self.train_stream,
            batch_size=None,
            collate_fn=MixCollator(self._collator(), TRAIN, self.world_size),
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            pin_memory=torch.cuda.is_available(),
        )

    def val_dataloader(self) -> DataLoader | list:
        if not self.val_batches:
            return []
        collate = MixCollator(self._collator(), VALIDATION, self.world_size)
        return DataLoader(BatchList(self.val_batches), batch_size=None, collate_fn=collate, num_workers=0)

    def _collator(self) -> PairCollator:
        if self.collator is None:
            raise EmbedlabError("TrainingMix has no tokenizer: call connect(tokenizer) or run it under a Trainer")
        return self.collator

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        meta = batch.pop(META, None) if isinstance(batch, dict) else None
        if meta is not None and meta["split"] == TRAIN:
            self.record_consumed(meta)
        return batch

    def record_consumed(self, meta: dict) -> None:
        """Account for a training batch that reaches the model (its `mix` state)."""
        if meta["step"] != self.consumed:
            raise EmbedlabError(
                f"TrainingMix: training received step {meta['step']} of the stream, expected {self.consumed}; "
                "batches were skipped or repeated (was the train dataloader iterated outside the fit loop?)"
            )
        self.consumed += 1
        if self.train_stream is not None:
            self.train_stream.consumed[0] = self.consumed
        keep = ("index", "step", "chain", "window", "positions", "waiting", "rng", "bad_rows", "bad_row_examples")
        self.last = {k: meta[k] for k in keep}
        if meta["bad_rows"] != self._reported.get("counts"):
            self._report_new_sources(meta)
        if self.epoch_steps and self.consumed % self.epoch_steps == 0:
            self.report_bad_rows(f"end of epoch {self.consumed // self.epoch_steps - 1}")

    # ---------------------------------------------------------------- checkpoints

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "recipe": self.recipe.config(),
            "world_size": self.world_size,
            "consumed": self.consumed,
            "last": self.last,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.check_resumable(state_dict)
        self.consumed = int(state_dict["consumed"])
        self.last = state_dict["last"]
        self._reported = {"counts": (self.last or {}).get("bad_rows")}
        if self.train_stream is not None:
            self.train_stream.consumed[0] = self.consumed
            self.train_stream.expect = self.last

    # ---------------------------------------------------------------- reports

    def _report_new_sources(self, meta: dict) -> None:
        before = self._reported.get("counts") or {}
        for source in meta["bad_rows"]:
            if source not in before:
                first = (meta.get("bad_row_examples") or {}).get(source, ["?"])[0]
                self._warn(f"TrainingMix: skipping bad rows in source {source!r} (bad_rows: skip), first: {first}")
        self._reported["counts"] = meta["bad_rows"]

    def report_bad_rows(self, when: str) -> None:
        """Log the bad-row counts of the consumed stream (warning + logger metrics); nothing if none."""
        counts = (self.last or {}).get("bad_rows") or {}
        if not counts:
            return
        self._warn(f"TrainingMix bad rows skipped, {when} (each counted once):\n{format_bad_rows(counts)}")
        trainer = self.trainer
        if trainer is not None and trainer.logger is not None and trainer.is_global_zero:
            metrics = {f"data/bad_rows/{source}": float(sum(k.values())) for source, k in counts.items()}
            trainer.logger.log_metrics(metrics, step=trainer.global_step)

    def _warn(self, message: str) -> None:
        if self.trainer is None or self.trainer.is_global_zero:
            log.warning(message)

    def teardown(self, stage: str) -> None:
        if stage == "fit":
            self.report_bad_rows("end of fit")


def _size_hint(source: Source, val_fraction: float) -> int | None:
    size = source.size_hint()
    return None if size is None else math.floor(size * (1 - val_fraction))
