"""Checkpoint to exported folder: load, merge LoRA, write through sentence-transformers, prove parity.

The folder is written beside OUT under a temporary name and moved into place only once it is
complete and (by default) verified: an interrupted or failed export never leaves a half-written
OUT, and `--overwrite` replaces an old export only with a good one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from embedlab.errors import EmbedlabError
from embedlab.export.backbone import ExportedBackbone
from embedlab.export.head import head_spec

PROBE_TEXTS = ["An exported model must embed like the trained one.", "short", "Zwei Wörter, und noch ein paar mehr."]
PROBE_INSTRUCTION = "Instruct: check the export\nQuery: "
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 5e-3}


def load_module(checkpoint: str | Path):
    """The EmbeddingModule of a Lightning checkpoint (CPU, eval mode) and the checkpoint's plain hyperparameters.

    The plain hyperparameters are read from the file because a reloaded module's `hparams` hold
    live callables (jsonargparse partials) in place of the `pooling` class_path config.

    Args:
        checkpoint: path of the `.ckpt` file.

    Raises:
        EmbedlabError: when the file is missing or is not a readable EmbeddingModule checkpoint.
    """
    from embedlab.module import EmbeddingModule

    path = Path(checkpoint)
    if not path.is_file():
        raise EmbedlabError(f"Checkpoint {path} does not exist (or is not a file).")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        hyper_parameters = dict(raw["hyper_parameters"])
        del raw
        module = EmbeddingModule.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    except EmbedlabError:
        raise
    except Exception as error:  # torch / pickle / zip / Lightning errors: all mean "not a usable checkpoint"
        raise EmbedlabError(
            f"Could not load checkpoint {path} as an EmbeddingModule: {type(error).__name__}: {error}"
        ) from error
    return module.eval(), hyper_parameters


def _prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise EmbedlabError(f"{out} exists and is not a folder; choose another OUT.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise EmbedlabError(f"{out} exists and is not empty; pass --overwrite to replace it, or choose another OUT.")
    out.parent.mkdir(parents=True, exist_ok=True)


def build_modules(module, pooling_hparam=None):
    """The sentence-transformers modules of a trained EmbeddingModule, LoRA merged into the base weights.

    Merging changes `module`'s backbone in place; use the module for nothing else afterwards.

    Args:
        module: the trained EmbeddingModule (CPU, eval mode).
        pooling_hparam: the plain `pooling` hyperparameter of its checkpoint (default: `module.hparams`).
    """
    from sentence_transformers.base.modules import Normalize

    from embedlab.export.st_modules import EmbedlabInput, EmbedlabPooling

    backbone = module.backbone
    model = backbone.model.merge_and_unload() if backbone.lora is not None else backbone.model
    tokenizer = backbone.tokenizer
    is_causal = module.attention.is_causal
    spec = head_spec(module.pooling, pooling_hparam or module.hparams.get("pooling"), backbone.num_layers, is_causal)
    first = EmbedlabInput(
        ExportedBackbone(model, backbone.name_or_path),
        tokenizer.tokenizer,
        attention=type(module.attention).__name__,
        is_causal=is_causal,
        max_length=tokenizer.max_length,
        padding_side=tokenizer.padding_side,
        append_eos=tokenizer.append_eos,
        mask_instruction=tokenizer.mask_instruction,
        output_hidden_states=module.pooling.needs_all_layers,
        pad_to_multiple_of=tokenizer.pad_to_multiple_of,
    )
    return [first, EmbedlabPooling(module.pooling, spec), Normalize()]


def _verify(folder: Path, expected: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
    from embedlab.embedder import Embedder

    embedder = Embedder.from_pretrained(folder, device="cpu", dtype=dtype)
    tolerance = TOLERANCE.get(dtype, 1e-2)
    for instruction, reference in expected.items():
        got = embedder.encode(PROBE_TEXTS, instruction=instruction or None)  # [N, D]
        worst = (got - reference).abs().max().item()
        if worst > tolerance:
            raise EmbedlabError(
                f"The export in {folder} does not reproduce the checkpoint: embeddings differ by {worst:.3g} "
                f"(tolerance {tolerance:g}, instruction {instruction!r}); nothing was written to OUT."
            )


def export_checkpoint(checkpoint: str | Path, out: str | Path, overwrite: bool = False, verify: bool = True) -> Path:
    """Export a trained EmbeddingModule checkpoint as a safetensors-only model folder.

    Args:
        checkpoint: the Lightning `.ckpt` of an EmbeddingModule (LoRA or full fine-tune).
        out: the folder to write; it must not exist or be empty, unless `overwrite`.
        overwrite: replace a non-empty `out`.
        verify: reload the written folder with `Embedder` and check that it embeds probe texts (with
            and without an instruction) like the checkpoint did, before moving it into place.

    Returns:
        The exported folder.

    Raises:
        EmbedlabError: a missing or unreadable checkpoint, a non-empty OUT without `overwrite`,
            or an export that fails verification.
    """
    from sentence_transformers import SentenceTransformer

    out = Path(out)
    _prepare_out(out, overwrite)
    module, hyper_parameters = load_module(checkpoint)
    dtype = next(module.backbone.parameters()).dtype
    expected = {}
    if verify:
        expected = {i: module.encode(PROBE_TEXTS, instruction=i or None) for i in ("", PROBE_INSTRUCTION)}
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        with torch.no_grad():
            model = SentenceTransformer(
                modules=build_modules(module, hyper_parameters.get("pooling")),
                device="cpu",
                similarity_fn_name="cosine",
            )
            model.save(str(staging), create_model_card=False)
        del model, module
        if verify:
            _verify(staging, expected, dtype)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out
