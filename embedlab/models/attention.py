"""Attention policies: causal or bidirectional, through transformers' own `is_causal` switch.

Checked with transformers 5.2 to 5.24. Setting `config.is_causal = False` makes both the mask
builder (`masking_utils`) and the eager / sdpa / flash kernels bidirectional. Peers that patch
private mask code (LLM2Vec, GritLM, NV-Embed) break on every transformers upgrade; this does not
patch anything. Because a config flag can be silently ignored (remote code, a future refactor),
the policy is *proved* on the loaded model before use: change a later token and watch token 0
(`verify_attention`), and, for Bidirectional, compare every layer's states with a run under an
explicit full-attention mask (`verify_full_attention`), so that a model bidirectional in some
layers only, or within a sliding window, fails. Bidirectional is allowed only on model types whose
implementation was tested.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import ClassVar

import torch

from embedlab.errors import AttentionPolicyError

# Model types whose transformers implementation honours `config.is_causal` (tested in tests/models).
BIDIRECTIONAL_MODEL_TYPES = ("llama", "mistral", "qwen2", "qwen3")


class AttentionPolicy:
    """How tokens may attend to each other inside the backbone."""

    is_causal: ClassVar[bool]

    def apply(self, backbone) -> None:
        """Switch the loaded backbone to this policy (before any forward pass)."""
        self._check_supported(backbone)
        for config in _configs_of(backbone.base_model):
            config.is_causal = self.is_causal

    def verify(self, backbone, atol: float = 1e-4) -> None:
        """Prove the policy on the model: raises AttentionPolicyError when it does not hold."""
        verify_attention(backbone, self.is_causal, atol=atol)
        if not self.is_causal:
            verify_full_attention(backbone)

    def _check_supported(self, backbone) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class Causal(AttentionPolicy):
    """Each token attends to itself and earlier tokens: the decoder as pretrained."""

    is_causal = True


class Bidirectional(AttentionPolicy):
    """Each real token attends to every real token of its text (no MNTP adaptation, as in the paper)."""

    is_causal = False

    def _check_supported(self, backbone) -> None:
        model_type = backbone.model_type
        if model_type not in BIDIRECTIONAL_MODEL_TYPES:
            raise AttentionPolicyError(
                f"Bidirectional attention is not supported for model type {model_type!r} "
                f"({backbone.name_or_path}); tested types: {', '.join(BIDIRECTIONAL_MODEL_TYPES)}. "
                "Use `attention: Causal`, or add the type to BIDIRECTIONAL_MODEL_TYPES once "
                "tests/models/test_attention.py passes for it."
            )
        if backbone.trust_remote_code:
            raise AttentionPolicyError(
                f"{backbone.name_or_path} runs remote code, which ignores `is_causal`; Bidirectional needs the "
                "transformers implementation (set trust_remote_code: false)."
            )


def _configs_of(model) -> list:
    """The model's config and its text sub-config, where they differ."""
    configs = [model.config]
    if hasattr(model.config, "get_text_config"):
        text = model.config.get_text_config()
        if text is not model.config:
            configs.append(text)
    return configs


@torch.no_grad()
def verify_attention(backbone, expect_causal: bool, atol: float = 1e-4) -> None:
    """Behavioural check of the attention policy on a loaded backbone.

    Changing the last token of a text must leave token 0's state unchanged under causal attention
    and must move it under bidirectional attention; both with the text alone and left/right-padded
    inside a batch. Changing pad tokens must never move a real token's state.

    Raises:
        AttentionPolicyError: naming which property failed and by how much.
    """
    model = backbone
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        vocab = backbone.config.vocab_size
        generator = torch.Generator().manual_seed(0)
        ids = torch.randint(3, min(vocab, 1000), (1, 8), generator=generator).to(device)  # [1, 8]
        changed = ids.clone()
        changed[0, -1] = (ids[0, -1] + 1 - 3) % (min(vocab, 1000) - 3) + 3
        for pad_side in (None, "left", "right"):
            first, _ = _token0_states(model, ids, pad_side, pad_id=0)
            moved, _ = _token0_states(model, changed, pad_side, pad_id=0)
            delta = (first - moved).abs().max().item()
            where = "unpadded" if pad_side is None else f"{pad_side}-padded"
            if expect_causal and delta > atol:
                raise AttentionPolicyError(
                    f"Causal attention does not hold on {backbone.name_or_path} ({where}): token 0 moved by "
                    f"{delta:.3g} when a later token changed."
                )
            if not expect_causal and delta <= atol:
                raise AttentionPolicyError(
                    f"Bidirectional attention does not hold on {backbone.name_or_path} ({where}): token 0 did not "
                    "move when a later token changed; the model ignores `is_causal` (remote code or an "
                    "unsupported transformers version)."
                )
            if pad_side is not None:
                _, real_a = _token0_states(model, ids, pad_side, pad_id=0)
                _, real_b = _token0_states(model, ids, pad_side, pad_id=min(vocab, 1000) - 1)
                leak = (real_a - real_b).abs().max().item()
                if leak > atol:
                    raise AttentionPolicyError(
                        f"Padding leaks into real tokens on {backbone.name_or_path} ({where}): changing pad ids moved "
                        f"real token states by {leak:.3g}."
                    )
    finally:
        model.train(was_training)


def _token0_states(model, ids, pad_side, pad_id):
    """Token 0's final state and all real tokens' states of `ids`, optionally padded by 4 in a batch of 2."""
    if pad_side is None:
        mask = torch.ones_like(ids)
        states = model(ids, mask).last_hidden_state.float()  # [1, T, D]
        return states[0, 0], states[0]
    n = ids.shape[1]
    pad = torch.full((1, 4), pad_id, dtype=ids.dtype, device=ids.device)
    padded = torch.cat([pad, ids], 1) if pad_side == "left" else torch.cat([ids, pad], 1)  # [1, T + 4]
    real = torch.zeros_like(padded)
    span = slice(4, 4 + n) if pad_side == "left" else slice(0, n)
    real[0, span] = 1
    full = torch.cat([ids, ids[:, :4]], 1)  # a second, unpadded row makes the batch realistic
    batch = torch.cat([padded, full], 0)  # [2, T + 4]
    mask = torch.cat([real, torch.ones_like(full)], 0)  # [2, T + 4]
    states = model(batch, mask).last_hidden_state.float()[0, span]  # [T, D]
    return states[0], states


# Largest relative difference per token, ||policy - full|| / ||full||, accepted between the policy's run
# and the explicit full-attention run: kernels and mask paths differ only by rounding. One causal layer
# moves token 0 by O(1) in that layer.
FULL_ATTENTION_RTOL = {torch.float32: 1e-3, torch.float64: 1e-6}
HALF_PRECISION_RTOL = 5e-2  # bf16 / fp16: rounding of different kernels accumulates over the layers


@torch.no_grad()
def verify_full_attention(backbone, length: int = 32, rtol: float | None = None) -> None:
    """Check that every layer attends over every real token: the bidirectional run equals an explicit mask run.

    Runs one text alone and a batch of two (one right-padded) through the backbone as configured, then
    again with an explicit 4-D additive mask (0 between real tokens, the dtype's minimum towards padding)
    under eager or sdpa attention, which no `is_causal` flag or sliding window can change; the hidden
    states of every layer must agree on the real tokens. A layer that stays causal, or attends within a
    window shorter than `length`, differs.

    Args:
        backbone: the loaded backbone, with the bidirectional policy applied.
        length: tokens of the longer probe text (a sliding window shorter than this is detected).
        rtol: tolerance of the per-token relative difference; default by the weights' dtype.

    Raises:
        AttentionPolicyError: naming the first layer whose states differ, and by how much.
    """
    model = backbone.base_model if hasattr(backbone, "base_model") else backbone.model  # Backbone, ExportedBackbone
    was_training = model.training
    model.eval()
    parameter = next(model.parameters())
    dtype = parameter.dtype
    tolerance = rtol if rtol is not None else FULL_ATTENTION_RTOL.get(dtype, HALF_PRECISION_RTOL)
    vocab = min(backbone.config.vocab_size, 1000)
    length = min(length, getattr(backbone.config, "max_position_embeddings", None) or length)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, vocab, (2, length), generator=generator).to(parameter.device)  # [2, T]
    mask = torch.ones_like(ids)  # [2, T]
    mask[1, length - length // 4 :] = 0  # the second text is right-padded
    ids = ids.masked_fill(mask == 0, 0)
    try:
        for where, rows in (("unpadded", slice(0, 1)), ("right-padded", slice(0, 2))):
            policy, full = _policy_and_full_states(backbone, model, ids[rows], mask[rows])
            real = mask[rows].bool()  # [B, T]
            for index, (a, b) in enumerate(zip(policy, full, strict=True)):
                a, b = a.float()[real], b.float()[real]  # [N, D], real tokens only
                worst = ((a - b).norm(dim=-1) / b.norm(dim=-1).clamp(min=1e-6)).max().item()
                if worst > tolerance:
                    layer = "the embeddings" if index == 0 else f"layer {index - 1} (of 0..{len(policy) - 2})"
                    window = getattr(backbone.config, "sliding_window", None)
                    raise AttentionPolicyError(
                        f"Bidirectional attention does not hold in every layer of {backbone.name_or_path} ({where}): "
                        f"the states after {layer} differ from a run with an explicit full-attention mask by "
                        f"{worst:.3g} (relative; tolerance {tolerance:g}). That layer attends causally or within a "
                        f"sliding window (config sliding_window={window}); use `attention: Causal`, or a model "
                        "whose layers all honour `is_causal`."
                    )
    finally:
        model.train(was_training)


def _policy_and_full_states(backbone, model, ids, mask):
    """Every layer's states [B, T, D] as the backbone runs, and under an explicit full-attention mask."""
    dtype = next(model.parameters()).dtype
    policy = backbone(ids, mask, output_hidden_states=True).hidden_states  # L + 1 of [B, T, D]
    n, t = ids.shape
    additive = torch.zeros((n, 1, t, t), dtype=dtype, device=ids.device)  # [B, 1, T, T]
    additive = additive.masked_fill(~mask.bool()[:, None, None, :], torch.finfo(dtype).min)
    kernels = getattr(backbone, "kernels", nullcontext)  # Backbone's compiled islands; none on an exported one
    with kernels(), _reference_attention(model):
        full = model(
            input_ids=ids,
            attention_mask=additive,
            position_ids=(mask.long().cumsum(-1) - 1).clamp(min=0),  # [B, T], as Backbone.forward
            output_hidden_states=True,
            use_cache=False,
        ).hidden_states  # L + 1 of [B, T, D]
    return policy, full


@contextmanager
def _reference_attention(model):
    """Eager or sdpa attention for the explicit-mask run (flash kernels take no 4-D mask); restored after."""
    current = model.config._attn_implementation
    if current in ("eager", "sdpa"):
        yield
        return
    model.set_attn_implementation("sdpa")
    try:
        yield
    finally:
        model.set_attn_implementation(current)
