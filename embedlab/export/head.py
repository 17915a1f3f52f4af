"""A pooling head as data: class path and init arguments in JSON, weights in safetensors.

The head is rebuilt as `cls(hidden_size, **init_args)`, bound to the backbone's layer count with
`connect`, and filled strictly from the weights, so no pickle is involved and a head whose shapes
do not match its description fails loudly. Only subclasses of `PoolingHead` are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embedlab.errors import EmbedlabError
from embedlab.export.layout import HEAD_CONFIG, HEAD_WEIGHTS, check_head_files, read_json, write_json
from embedlab.models.pooling import LastToken, PoolingHead


def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def head_spec(head: PoolingHead, hparam: Any, num_layers: int, is_causal: bool) -> dict[str, Any]:
    """Describe a live head with the init arguments its module was configured with.

    Args:
        head: the module's pooling head.
        hparam: the module's `pooling` hyperparameter: None (LastToken), a class path, a class, a
            functools.partial of a class, or a `{"class_path", "init_args"}` mapping.
        num_layers: the backbone's layer count (bound with `connect` on load).
        is_causal: the attention policy the head was trained under (heads may read it).
    """
    from embedlab.hparams import as_config
    from embedlab.registry import resolve

    try:
        hparam = as_config(hparam)  # a class or functools.partial once the checkpoint is loaded
    except TypeError as error:
        raise EmbedlabError(f"Cannot describe the pooling hyperparameter {hparam!r}: {error}") from error
    if hparam is None:
        class_path, init_args = _class_path(LastToken), {}
    elif isinstance(hparam, str):
        class_path, init_args = hparam, {}
    elif isinstance(hparam, Mapping) or hasattr(hparam, "as_dict"):
        data = dict(hparam.as_dict() if hasattr(hparam, "as_dict") else hparam)
        class_path, init_args = data.get("class_path", ""), dict(data.get("init_args") or {})
    else:
        raise EmbedlabError(f"Cannot describe the pooling hyperparameter {hparam!r}: expected a class_path mapping.")
    configured = resolve(PoolingHead, class_path, "pooling head")
    if configured is not type(head):
        raise EmbedlabError(
            f"The checkpoint's pooling hyperparameter names {configured.__name__}, but its head is a "
            f"{type(head).__name__}; the checkpoint is inconsistent."
        )
    init_args.pop("hidden_size", None)
    return {
        "class_path": _class_path(type(head)),
        "init_args": init_args,
        "hidden_size": head.hidden_size,
        "num_layers": num_layers,
        "is_causal": is_causal,
        "output_size": head.output_size,
    }


def build_head(spec: dict[str, Any], source: str = "head.json") -> PoolingHead:
    """A head with fresh weights, built and connected from its description.

    Args:
        spec: what `head_spec` returned.
        source: where the spec came from, for error messages.
    """
    from embedlab.registry import resolve

    try:
        cls = resolve(PoolingHead, spec["class_path"], "pooling head")
        head = cls(spec["hidden_size"], **spec.get("init_args", {}))
        head.connect(spec["num_layers"])
    except KeyError as error:
        raise EmbedlabError(f"{source} lacks the key {error}; run `embedlab export` again.") from error
    except (TypeError, ValueError) as error:
        raise EmbedlabError(f"{source} does not describe a buildable head: {error}") from error
    return head


def save_head(head: PoolingHead, spec: dict[str, Any], folder: Path) -> None:
    """Write `head.json` and `model.safetensors` into `folder`.

    Args:
        head: the head whose weights to write.
        spec: its description (`head_spec`).
        folder: the pooling module's folder (created if needed).
    """
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / HEAD_CONFIG, spec)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in head.state_dict().items()}
    save_file(state, str(folder / HEAD_WEIGHTS), metadata={"format": "pt"})


def load_head(folder: Path) -> tuple[PoolingHead, dict[str, Any]]:
    """Rebuild the head saved in `folder` and fill its weights (strictly).

    Args:
        folder: the pooling module's folder.

    Returns:
        The head (eval mode) and its description.
    """
    from safetensors.torch import load_file

    check_head_files(folder)
    spec = read_json(folder / HEAD_CONFIG)
    head = build_head(spec, str(folder / HEAD_CONFIG))
    weights = load_file(str(folder / HEAD_WEIGHTS))
    try:
        head.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise EmbedlabError(f"{folder / HEAD_WEIGHTS} does not fit the head in {HEAD_CONFIG}: {error}") from error
    return head.eval(), spec
