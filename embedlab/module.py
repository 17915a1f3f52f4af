"""EmbeddingModule: backbone + attention policy + pooling head + contrastive loss.

The three design factors of a study are injected components, so a variant is a few lines of YAML
(`configs/variants/`), and everything else (data, steps, optimiser) stays identical across the
variants compared. Batches come from any DataModule that yields `query` / `documents` feature
dicts (see `embedlab.data.collate`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint
from tqdm.auto import tqdm

from embedlab.errors import EmbedlabError, NonFiniteError
from embedlab.hparams import INSTANTIATOR, as_config
from embedlab.losses import InfoNCE
from embedlab.models.attention import AttentionPolicy, Causal
from embedlab.models.backbone import Backbone
from embedlab.models.pooling import LastToken, PoolingHead, PoolingInputs, TrainableLastLayer
from embedlab.precision import autocast, resolve_precision


class EmbeddingModule(L.LightningModule):
    """A text-embedding model made of a decoder LLM, trained with in-batch-negatives InfoNCE.

    Args:
        backbone: the decoder and its tokenizer (weights, LoRA, dtype, max length).
        attention: attention policy, Causal or Bidirectional; default Causal.
        pooling: pooling head, built with the backbone's hidden size (a class or `class_path` in YAML);
            default LastToken.
        loss: the contrastive loss; default InfoNCE(temperature=0.05).
        learning_rate: peak learning rate of AdamW.
        weight_decay: AdamW weight decay (not applied to biases, norms and other 1-d parameters).
        warmup_steps: linear warmup from 0, then linear decay to 0 at the last step.
        betas: AdamW betas.
        verify_attention: prove the attention policy on the loaded weights before use.
        embedding_chunk_size: embed at most this many texts at a time in training, recomputing activations
            in backward (GradCache's memory profile): the contrastive batch no longer bounds memory, and loss
            and gradients are unchanged. None embeds each side of the batch in one pass.
    """

    def __init__(
        self,
        backbone: Backbone,
        attention: AttentionPolicy | None = None,
        pooling: Callable[[int], PoolingHead] | None = None,
        loss: InfoNCE | None = None,
        learning_rate: float = 1e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        betas: tuple[float, float] = (0.9, 0.999),
        verify_attention: bool = True,
        embedding_chunk_size: int | None = None,
    ) -> None:
        super().__init__()
        with warnings.catch_warnings():  # replaced by plain configs just below when built in Python
            warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
            self.save_hyperparameters()
        if isinstance(self.hparams.get("backbone"), torch.nn.Module):  # built in Python, not by LightningCLI
            for key in ("backbone", "attention", "pooling", "loss"):
                self.hparams[key] = as_config(self.hparams[key])
            self.hparams["_instantiator"] = INSTANTIATOR
        self.backbone = backbone
        self.attention = attention or Causal()
        self.attention.apply(backbone)
        self._attention_verified = not verify_attention
        if backbone.attn_implementation != "flash_attention_2":  # flash kernels run on the GPU only
            self.verify_attention_policy()
        self.pooling = (pooling or LastToken)(backbone.hidden_size)
        self.pooling.connect(backbone.num_layers)
        self.loss = loss or InfoNCE()

    def verify_attention_policy(self) -> None:
        """Prove the attention policy on the weights as loaded, on their current device (once)."""
        if not self._attention_verified:
            self.attention.verify(self.backbone)
            self._attention_verified = True

    def on_fit_start(self) -> None:
        self.verify_attention_policy()
        if self.logger is not None:
            self.logger.log_hyperparams({f"parameters/{k}": v for k, v in self.parameter_counts.items()})

    def on_validation_start(self) -> None:
        self.verify_attention_policy()

    def on_test_start(self) -> None:
        self.verify_attention_policy()

    # ---------------------------------------------------------------- embedding

    def embed(self, features: dict[str, Tensor]) -> Tensor:
        """Token features (`input_ids`, `attention_mask`, `pool_mask`, each [B, T]) to unit vectors [B, D].

        With `embedding_chunk_size` set and gradients on, the texts are embedded a chunk at a time under
        activation checkpointing: only each chunk's inputs and embeddings are kept, and backward
        recomputes one chunk at a time with the forward's RNG state replayed (so dropout matches).
        This is GradCache's memory profile (memory independent of the contrastive batch) with one
        ordinary backward pass, so automatic optimisation, DDP and gradient clipping work unchanged.
        """
        ids, mask, pool = features["input_ids"], features["attention_mask"], features["pool_mask"]
        size = self.hparams.get("embedding_chunk_size")
        if not size or ids.shape[0] <= size or not torch.is_grad_enabled():
            return self._embed(ids, mask, pool)
        chunks = []
        trim = not self._pooling_reads_padding
        for start in range(0, ids.shape[0], size):
            rows = slice(start, start + size)
            real = mask[rows].any(dim=0).nonzero().squeeze(-1)  # columns holding a real token of this chunk
            cols = slice(int(real.min()), int(real.max()) + 1) if trim and real.numel() else slice(None)
            args = (ids[rows, cols], mask[rows, cols], pool[rows, cols])  # [C, T'] each
            chunks.append(checkpoint(self._embed, *args, use_reentrant=False, preserve_rng_state=True))
        return torch.cat(chunks)  # [B, D]

    @property
    def _pooling_reads_padding(self) -> bool:
        """Whether the head's output depends on pad positions, so a chunk must keep the batch's padding.

        Only the released bidirectional Perceiver pooler does: it attends over every position, pads
        included, unmasked (`TrainableLastLayer(paper_faithful=True)`); every other head reads masked tokens.
        """
        faithful = isinstance(self.pooling, TrainableLastLayer) and self.pooling.paper_faithful
        return faithful and not self.attention.is_causal

    def _embed(self, input_ids: Tensor, attention_mask: Tensor, pool_mask: Tensor) -> Tensor:
        output = self.backbone(input_ids, attention_mask, output_hidden_states=self.pooling.needs_all_layers)
        states = tuple(output.hidden_states) if self.pooling.needs_all_layers else (output.last_hidden_state,)
        inputs = PoolingInputs(states, attention_mask, pool_mask, self.attention.is_causal)
        return F.normalize(self.pooling(inputs).float(), dim=-1)  # [B, D]

    @torch.no_grad()
    def encode(
        self,
        texts: Sequence[str],
        instruction: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        show_progress: bool = False,
        precision: str | None = None,
    ) -> Tensor:
        """Embed texts for inference: L2-normalised float32 vectors [N, D], in input order.

        Args:
            texts: the texts.
            instruction: prepended to every text (its tokens are not pooled when the backbone masks them).
            batch_size: texts per forward pass; batches are formed from length-sorted texts.
            max_length: token limit (default: the backbone's).
            show_progress: show a progress bar.
            precision: autocast of the forward pass: auto (bf16 where the device has it), bf16, fp16 or fp32
                (see `embedlab.precision`); None (default) opens no context of its own: the weights' dtype,
                or the caller's autocast (the MTEB adapter's `precision`).
        """
        self.verify_attention_policy()
        was_training = self.training
        self.eval()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = torch.empty((len(texts), self.pooling.output_size), dtype=torch.float32)
        device = self.device
        context = nullcontext() if precision is None else autocast(resolve_precision(precision, device), device)
        try:
            for start in tqdm(range(0, len(order), batch_size), disable=not show_progress, desc="encode"):
                index = order[start : start + batch_size]
                features = self.backbone.tokenizer([texts[i] for i in index], instruction, max_length)
                with context:
                    vectors = self.embed({k: v.to(device) for k, v in features.items()})
                out[index] = vectors.float().cpu()
        finally:
            self.train(was_training)
        return out

    # ---------------------------------------------------------------- training

    def _gather(self, tensor: Tensor, differentiable: bool) -> Tensor:
        if self.trainer is None or self.trainer.world_size == 1:
            return tensor
        return self.all_gather(tensor, sync_grads=differentiable).flatten(0, 1)

    def _loss(self, batch: dict[str, Any]) -> Tensor:
        queries = self.embed(batch["query"])  # [B, D]
        documents = self.embed(batch["documents"])  # [B*(1+k), D]
        b = queries.shape[0]
        world = self._trainer.world_size if self._trainer is not None else 1
        return self.loss(
            queries,
            documents[:b],
            documents[b:],
            query_keys=batch.get("query_keys"),
            document_keys=batch.get("document_keys"),
            gather=self._gather if world > 1 else None,
            rank=self.global_rank,
        )

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self._sources = sorted(set(batch.get("sources", [])))
        if not torch.isfinite(loss):
            raise NonFiniteError(f"The loss is {loss.item()} at step {self.global_step} {self._where()}.")
        size = batch["query"]["input_ids"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/temperature", self.loss.temperature, batch_size=size)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], batch_size=size)
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=batch["query"]["input_ids"].shape[0])
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # One foreach reduction over every gradient: Lightning's grad_norm also logs a norm per parameter,
        # hundreds of small ops per step (two per LoRA matrix) that nothing here reads.
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        total = torch.nn.utils.get_total_norm(grads, norm_type=2.0) if grads else None
        if total is not None:
            if not torch.isfinite(total):
                bad = [
                    name for name, p in self.named_parameters() if p.grad is not None and not p.grad.isfinite().all()
                ]
                raise NonFiniteError(
                    f"Non-finite gradients at step {self.global_step} {self._where()}, in {len(bad)} parameters "
                    f"(first: {', '.join(bad[:3])}). No optimiser step was taken."
                )
            self.log("train/grad_norm", total)

    def _where(self) -> str:
        sources = ", ".join(getattr(self, "_sources", [])) or "unknown"
        return f"on a batch from source(s) {sources}; the last good checkpoint is left as it was"

    def configure_optimizers(self):
        decay, no_decay = [], []
        for parameter in self.parameters():
            if parameter.requires_grad:
                (decay if parameter.ndim >= 2 else no_decay).append(parameter)
        groups = [
            {"params": decay, "weight_decay": self.hparams.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        fused = self.device.type == "cuda"
        optimizer = torch.optim.AdamW(groups, lr=self.hparams.learning_rate, betas=self.hparams.betas, fused=fused)
        estimated = self.trainer.estimated_stepping_batches
        if not math.isfinite(estimated):
            raise EmbedlabError("Set trainer.max_steps: the linear learning-rate decay needs a known number of steps.")
        total = max(1, int(estimated))
        warmup = min(self.hparams.warmup_steps, total)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / (warmup + 1)
            return max(0.0, (total - step) / max(1, total - warmup))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---------------------------------------------------------------- bookkeeping

    @property
    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters by part: backbone (LoRA adapters or all weights), pooling head, loss."""
        backbone = sum(p.numel() for p in self.backbone.parameters() if p.requires_grad)
        return {
            "backbone_trainable": backbone,
            "backbone_total": sum(p.numel() for p in self.backbone.parameters()),
            "lora": backbone if self.backbone.lora is not None else 0,
            "pooling": sum(p.numel() for p in self.pooling.parameters() if p.requires_grad),
            "loss": sum(p.numel() for p in self.loss.parameters() if p.requires_grad),
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["embedlab"] = {"parameter_counts": self.parameter_counts, "variant": self.variant_name}
        if self.backbone.lora is not None:
            trainable = {name for name, p in self.named_parameters() if p.requires_grad}
            frozen_backbone = {n for n, _ in self.backbone.named_parameters(prefix="backbone")} - trainable
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k not in frozen_backbone}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # LoRA checkpoints omit the frozen base weights (see on_save_checkpoint): take them from the
        # backbone as loaded; anything else missing is still an error under strict loading.
        if self.backbone.lora is not None:
            state_dict = dict(state_dict)
            for name, parameter in self.backbone.named_parameters(prefix="backbone"):
                if not parameter.requires_grad:
                    state_dict.setdefault(name, parameter.detach())
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        # Proved again on the weights just loaded (checkpoint, resume) at their next use: encode, fit, test.
        self._attention_verified = not self.hparams.get("verify_attention", True)
        return result

    @property
    def variant_name(self) -> str:
        return f"{type(self.pooling).__name__}+{type(self.attention).__name__}"
