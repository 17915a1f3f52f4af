"""Names of the components a config may choose, derived from the classes themselves.

LightningCLI's class_path mechanism is the registry; this module only answers "which names are
valid?" and turns a typo into a helpful error (the closest names first, as mteb's get_task does).
"""

from __future__ import annotations

import importlib

from embedlab.errors import UnknownNameError, closest_names


def _all_subclasses(base: type) -> list[type]:
    found, stack = [], [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def components(base: type) -> dict[str, type]:
    """Concrete subclasses of `base` by class name (`embedlab.models` must be imported)."""
    import embedlab.models  # noqa: F401  (importing defines the subclasses)

    return {cls.__name__: cls for cls in _all_subclasses(base) if not cls.__name__.startswith("_")}


def resolve(base: type, name: str, what: str) -> type:
    """The class a config names: a short class name, or a dotted import path to a subclass of `base`.

    Raises:
        UnknownNameError: listing the valid names, closest first.
    """
    known = components(base)
    if name in known:
        return known[name]
    if "." in name:
        module_name, _, class_name = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            cls = None
        if isinstance(cls, type) and issubclass(cls, base):
            return cls
    suggestions = closest_names(name.rpartition(".")[2], known)
    raise UnknownNameError(f"Unknown {what} {name!r}. Valid {what} names, closest first: {', '.join(suggestions)}.")


def pooling_heads() -> dict[str, type]:
    from embedlab.models.pooling import PoolingHead

    return components(PoolingHead)


def attention_policies() -> dict[str, type]:
    from embedlab.models.attention import AttentionPolicy

    return components(AttentionPolicy)
