"""Checks of a TrainingMix's settings: sources, instruction template, and whether a checkpoint can resume.

Kept apart from `mix.py` (the Lightning hooks) so that each error says exactly which key is wrong
and what the valid choices are, before anything is read.
"""

from __future__ import annotations

from typing import Any

from embedlab.data.rows import POLICIES, RowRules
from embedlab.data.sources.base import Source
from embedlab.errors import EmbedlabError
from embedlab.hparams import as_config
from embedlab.instruction_template import instruction_prefix, resolve_template


class MixConfig:
    """Validation helpers mixed into TrainingMix (they read `self.hparams`)."""

    hparams: Any

    def check_sources(self, sources: list[Source]) -> list[dict]:
        """Validate the settings and sources; return the sources as plain `class_path` configs."""
        hp = self.hparams
        if not sources:
            raise EmbedlabError("TrainingMix needs at least one source (data.init_args.sources)")
        for i, source in enumerate(sources):
            if not isinstance(source, Source):
                raise EmbedlabError(f"sources[{i}] is a {type(source).__name__}, not a Source (e.g. JsonlSource)")
        names = [s.name for s in sources]
        for name in names:
            if names.count(name) > 1:
                raise EmbedlabError(f"two sources are named {name!r}: give each a distinct `name`")
        if hp.bad_rows not in POLICIES:
            raise EmbedlabError(f"bad_rows {hp.bad_rows!r} is not one of: {', '.join(POLICIES)}")
        for key in ("batch_size", "bucket_window", "shuffle_buffer", "mining_depth", "mining_pool", "max_text_chars"):
            if int(hp[key]) < 1:
                raise EmbedlabError(f"{key} must be at least 1, got {hp[key]}")
        if hp.num_negatives < 0:
            raise EmbedlabError(f"num_negatives must be at least 0, got {hp.num_negatives}")
        if not 0 <= hp.val_fraction < 1:
            raise EmbedlabError(f"val_fraction must be in [0, 1), got {hp.val_fraction}")
        try:
            resolve_template(hp.instruction_template)
        except EmbedlabError as error:
            raise EmbedlabError(f"TrainingMix instruction_template: {error}") from None
        return [as_config(s) for s in sources]

    def bind_sources(self, sources: list[Source]) -> None:
        """Give every source the mix's row rules and its instruction prefix."""
        hp = self.hparams
        for source in sources:
            needed = hp.num_negatives if source.negatives == "data" else 0
            rules = RowRules(negatives_needed=needed, max_text_chars=hp.max_text_chars)
            source.bind(rules, instruction_prefix(source.instruction, hp.instruction_template))

    def check_resumable(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint whose mix differs from this one (naming what changed)."""
        if state.get("format") != 1:
            raise EmbedlabError(
                f"TrainingMix checkpoint state has format {state.get('format')!r}; this version reads 1"
            )
        ours, theirs = self.recipe.config(), state["recipe"]
        changed = [k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]
        if changed:
            detail = "; ".join(f"{k}: {theirs.get(k)!r} -> {ours.get(k)!r}" for k in changed)
            raise EmbedlabError(
                f"cannot resume exactly: the training mix changed since the checkpoint ({detail}). "
                "Restore those data settings, or start a new run."
            )
        if state["world_size"] != self.world_size:
            raise EmbedlabError(
                f"cannot resume exactly: the checkpoint was written with {state['world_size']} device(s), this run has "
                f"{self.world_size}; the stream is sharded by device. Resume on {state['world_size']} device(s)."
            )
