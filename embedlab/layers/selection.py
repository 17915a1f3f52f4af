"""Which layers to analyse and how to pool each: the `--layers` and `--pooling` mini-languages.

Layer indices follow transformers' `hidden_states` tuple: 0 is the embedding output, 1..L-1 the
residual stream after each decoder layer, and L the final-norm output (`last_hidden_state`, what every
pooling head reads). A model with L decoder layers so has L + 1 analysable layers, 0..L.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from embedlab.errors import EmbedlabError, UnknownNameError, closest_names

POOLINGS = ("mean", "last_token")
# Head names of `embedlab.models.pooling` accepted as aliases, so `--pooling Mean` works as in `evaluate`.
POOLING_ALIASES = {"mean": "mean", "last_token": "last_token", "lasttoken": "last_token", "eos": "last_token"}


class LayerSelectionError(EmbedlabError):
    """A layer index or layer spec that does not fit the backbone; the message names the valid range."""


def resolve_pooling(name: str) -> str:
    """`mean` (masked mean over the poolable tokens) or `last_token` (the EOS); head names are accepted.

    Raises:
        UnknownNameError: with the valid names, closest first.
    """
    key = name.strip().lower().replace("-", "_")
    if key in POOLING_ALIASES:
        return POOLING_ALIASES[key]
    raise UnknownNameError(
        f"Unknown per-layer pooling {name!r}; choose one of {', '.join(closest_names(name, POOLINGS))}"
    )


def parse_layers(spec: str | int | Sequence[int] | None, num_layers: int) -> list[int]:
    """The sorted, distinct layer indices a spec selects, each in 0..num_layers.

    Args:
        spec: `all` (or None); `every:K` (0, K, 2K, ... and always the last layer, so the plot can mark
            it); or a comma-separated list of indices and inclusive ranges (`0,4,8`, `10-20`, `-1` for the
            last layer); or a sequence of ints.
        num_layers: L, the backbone's decoder layer count (valid indices are 0..L).

    Raises:
        LayerSelectionError: naming the valid range 0..L.
    """
    last = num_layers
    valid = f"valid layers are 0..{last} (0 = embeddings, {last} = final-norm output)"
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "all")):
        return list(range(last + 1))
    if isinstance(spec, int):
        picked = [spec]
    elif isinstance(spec, str):
        picked = _parse_text(spec.strip(), last, valid)
    else:
        picked = [int(i) for i in spec]
    out = []
    for index in picked:
        resolved = index + last + 1 if index < 0 else index
        if not 0 <= resolved <= last:
            raise LayerSelectionError(f"Layer {index} is out of range: {valid}.")
        out.append(resolved)
    if not out:
        raise LayerSelectionError(f"The layer spec {spec!r} selects no layer; {valid}.")
    return sorted(set(out))


def _parse_text(spec: str, last: int, valid: str) -> list[int]:
    every = re.fullmatch(r"every:?\s*(\d+)", spec.lower())
    if every:
        step = int(every.group(1))
        if step < 1:
            raise LayerSelectionError(f"every:K needs K >= 1, got {spec!r}; {valid}.")
        return [*range(0, last + 1, step), last]
    picked: list[int] = []
    for part in (p.strip() for p in spec.split(",")):
        if re.fullmatch(r"-?\d+", part):
            picked.append(int(part))
        elif span := re.fullmatch(r"(\d+)\s*-\s*(\d+)", part):
            low, high = int(span.group(1)), int(span.group(2))
            if low > high:
                raise LayerSelectionError(f"Layer range {part!r} is empty (write low-high); {valid}.")
            picked.extend(range(low, high + 1))
        else:
            raise LayerSelectionError(
                f"Cannot read layer spec {part!r} in {spec!r}: use `all`, `every:K`, or indices and ranges "
                f"like `0,4,10-12,-1`; {valid}."
            )
    return picked


def select_tasks(suite: str | Sequence = "offline-v1", names: str | Sequence[str] | None = None) -> list:
    """mteb task instances of a suite, or of the named subset of it.

    Args:
        suite: anything `embedlab.eval.suites.resolve_tasks` accepts (suite name, task names, task files).
        names: task names (a list or a comma-separated string) that must belong to the suite; None keeps all.

    Raises:
        UnknownNameError: for a name not in the suite, with the suite's closest task names.
    """
    from embedlab.eval.suites import resolve_tasks

    tasks = resolve_tasks(suite)
    if names is None:
        return tasks
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    by_name = {task.metadata.name: task for task in tasks}
    by_lower = {name.lower(): name for name in by_name}
    picked = []
    for name in filter(None, wanted):
        found = by_name.get(name) or by_name.get(by_lower.get(name.lower(), ""))
        if found is None:
            raise UnknownNameError(
                f"Unknown task {name!r} in {suite if isinstance(suite, str) else 'the given tasks'}. "
                f"Closest task names: {', '.join(closest_names(name, by_name, 5))}."
            )
        if found not in picked:
            picked.append(found)
    if not picked:
        raise UnknownNameError(f"--tasks selects no task; the suite has: {', '.join(by_name)}")
    return picked
