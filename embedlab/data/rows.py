"""Raw rows to validated examples, and the accounting of rows that cannot be used.

Every source reads rows (a JSON object, a CSV record, a Parquet or hub row) and hands them to
`make_item`, which returns either an `Item` or a `BadRow` saying what is wrong and where
(`file:line`). The policy decides what happens next (`BadRowLog.record`): `error` stops the run
with that message, `skip` counts the row per source and kind. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from embedlab.data.collate import Example, text_key
from embedlab.errors import EmbedlabError

BadRowPolicy = Literal["error", "skip"]
POLICIES = ("error", "skip")
KINDS = (
    "missing_field",  # a required field is absent or null, or too few hard negatives
    "empty_text",  # a text is empty or whitespace only
    "wrong_type",  # a text is not a string (a number, a list, bytes, ...)
    "invalid_utf8",  # the bytes are not UTF-8, or a text holds lone surrogates
    "too_long",  # a line or a text longer than the limits (`max_line_bytes`, `max_text_chars`)
    "too_short",  # a text shorter than its source's minimum (a fragment of a broken record)
    "malformed",  # not parseable: invalid JSON, a broken CSV record, not a JSON object
    "self_duplicate",  # the positive equals the query or one of the row's own hard negatives
)
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRow(NamedTuple):
    """A row that cannot become an example: its kind (one of KINDS), location and explanation."""

    kind: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.kind}]"


@dataclass
class Item:
    """An example on its way into a batch.

    `group` decides the train/validation split: items of one group (e.g. the spans of one document)
    always land on the same side, mined negatives never come from the item's own group, and with
    `unique_texts` no batch holds two items of one group (one span's positive holds the other's query).
    """

    example: Example
    group: str
    _keys: frozenset[int] | None = field(default=None, repr=False)

    @property
    def keys(self) -> frozenset[int]:
        """Hashes of every text the example holds (query, positive, negatives), for de-duplication."""
        if self._keys is None:
            e = self.example
            self._keys = frozenset(text_key(t) for t in (e.query, e.positive, *e.negatives))
        return self._keys

    def set_negatives(self, negatives: list[str]) -> None:
        self.example.negatives = negatives
        self._keys = None


@dataclass(frozen=True)
class RowRules:
    """What a row must satisfy, set by the mix: hard negatives needed from the data and size limits."""

    negatives_needed: int = 0
    max_text_chars: int = 100_000


def check_text(value: Any, name: str, where: str, rules: RowRules) -> str | BadRow:
    """`value` if it is a usable text, else the BadRow that says why not."""
    if value is None:
        return BadRow("missing_field", where, f"field {name!r} is missing")
    if isinstance(value, bytes):  # binary columns (Parquet) and raw reads
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as error:
            return BadRow(
                "invalid_utf8", where, f"field {name!r} is not valid UTF-8 ({error.reason} at byte {error.start})"
            )
    if not isinstance(value, str):
        return BadRow(
            "wrong_type", where, f"field {name!r} must be a string, got {type(value).__name__}: {value!r:.60}"
        )
    if not value.strip():
        return BadRow("empty_text", where, f"field {name!r} is empty or whitespace: {value!r:.60}")
    if len(value) > rules.max_text_chars:
        return BadRow(
            "too_long",
            where,
            f"field {name!r} has {len(value):,} characters (max_text_chars: {rules.max_text_chars:,})",
        )
    if _SURROGATE.search(value):
        return BadRow("invalid_utf8", where, f"field {name!r} is not valid UTF-8 (lone surrogates)")
    return value


def make_item(
    row: Mapping[str, Any],
    columns: Mapping[str, str],
    where: str,
    rules: RowRules,
    source: str,
    instruction: str | None,
    group: str | None = None,
) -> Item | BadRow:
    """Validate one raw row and build its Item.

    Args:
        row: the raw row.
        columns: which row key holds the `query`, the `positive` and (optionally) the `negatives`
            (a string or a list of strings).
        where: `file:line` (or `dataset row n`) for messages.
        rules: the mix's requirements.
        source: the source's name, stored on the example.
        instruction: the query instruction prefix, or None.
        group: the split group; default: the positive text.
    """
    query = check_text(row.get(columns["query"]), columns["query"], where, rules)
    if isinstance(query, BadRow):
        return query
    positive = check_text(row.get(columns["positive"]), columns["positive"], where, rules)
    if isinstance(positive, BadRow):
        return positive
    negatives: list[str] = []
    if rules.negatives_needed:
        name = columns.get("negatives", "negatives")
        raw = row.get(name)
        if raw is None:
            return BadRow("missing_field", where, f"field {name!r} (hard negatives) is missing")
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, (list, tuple)):
            return BadRow(
                "wrong_type", where, f"field {name!r} must be a string or a list of strings, got {type(raw).__name__}"
            )
        for i, value in enumerate(values[: rules.negatives_needed]):
            checked = check_text(value, f"{name}[{i}]", where, rules)
            if isinstance(checked, BadRow):
                return checked
            negatives.append(checked)
        if len(negatives) < rules.negatives_needed:
            return BadRow(
                "missing_field",
                where,
                f"field {name!r} has {len(negatives)} hard negatives, {rules.negatives_needed} needed",
            )
    if positive == query or positive in negatives:
        return BadRow("self_duplicate", where, "the positive repeats the query or one of the row's hard negatives")
    example = Example(query, positive, negatives, source, instruction)
    return Item(example, group if group is not None else positive)


class BadRowLog:
    """Bad rows met while reading, per source and kind, under a policy.

    Args:
        policy: `error` raises at the first bad row (naming file and line); `skip` counts and goes on.
        keep: how many examples (locations and messages) to keep per source for reports.
    """

    def __init__(self, policy: BadRowPolicy = "error", keep: int = 3) -> None:
        if policy not in POLICIES:
            raise EmbedlabError(f"bad_rows policy {policy!r} is not one of: {', '.join(POLICIES)}")
        self.policy = policy
        self.keep = keep
        self.counts: dict[str, dict[str, int]] = {}
        self.examples: dict[str, list[str]] = {}

    def record(self, source: str, bad: BadRow, count: bool = True) -> None:
        """Raise (policy `error`) or count the bad row; `count=False` for rows already counted in an earlier pass."""
        if self.policy == "error":
            raise EmbedlabError(
                f"bad row in source {source!r}: {bad}. Fix the data, or set the mix's `bad_rows: skip` to count and "
                "skip such rows (they are reported per source)."
            )
        if not count:
            return
        kinds = self.counts.setdefault(source, {})
        kinds[bad.kind] = kinds.get(bad.kind, 0) + 1
        seen = self.examples.setdefault(source, [])
        if len(seen) < self.keep:
            seen.append(str(bad))

    def total(self) -> int:
        return sum(n for kinds in self.counts.values() for n in kinds.values())

    def snapshot(self) -> dict[str, dict[str, int]]:
        """A copy of the counts: {source: {kind: n}} (plain data, safe in checkpoints)."""
        return {source: dict(kinds) for source, kinds in self.counts.items()}


def format_bad_rows(counts: Mapping[str, Mapping[str, int]], examples: Mapping[str, list[str]] | None = None) -> str:
    """A human-readable report of bad-row counts, one line per source."""
    if not any(sum(k.values()) for k in counts.values()):
        return "no bad rows"
    lines = []
    for source, kinds in sorted(counts.items()):
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        lines.append(f"{source}: {sum(kinds.values())} skipped ({detail})")
        for example in (examples or {}).get(source, [])[:1]:
            lines.append(f"    e.g. {example}")
    return "\n".join(lines)
