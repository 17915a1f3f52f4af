"""The exported decoder: loaded with its attention policy restored and proved, run as in training.

`config.json` already records `is_causal` (transformers 5.2+ serialises it), but the policy in
`embedlab.json` is authoritative: it is set on the config before the weights load, exactly as
`AttentionPolicy.apply` does in training, and then `verify_attention` proves it on the loaded
weights. Remote code is never trusted. Position ids are derived from the attention mask, as in
`embedlab.models.backbone.Backbone.forward`, so left and right padding give the same states.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from embedlab.errors import EmbedlabError
from embedlab.export.layout import BACKBONE_CONFIG, check_backbone_files
from embedlab.models.attention import verify_attention, verify_full_attention


class ExportedBackbone(nn.Module):
    """A transformers decoder (no LM head) with embedlab's forward.

    Args:
        model: the transformers model.
        name_or_path: where it came from, for messages.
    """

    def __init__(self, model: nn.Module, name_or_path: str) -> None:
        super().__init__()
        self.model = model
        self.name_or_path = name_or_path

    @property
    def config(self):
        """The text config of the model."""
        config = self.model.config
        return config.get_text_config() if hasattr(config, "get_text_config") else config

    def forward(self, input_ids: Tensor, attention_mask: Tensor, output_hidden_states: bool = False):
        """Run the decoder.

        Args:
            input_ids: [B, T] token ids.
            attention_mask: [B, T], 1 for real tokens.
            output_hidden_states: also return the states of every layer (L + 1 tensors).
        """
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)  # [B, T], padding-side invariant
        return self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            output_hidden_states=output_hidden_states,
            use_cache=False,
        )

    @classmethod
    def load(
        cls,
        folder: Path,
        is_causal: bool,
        dtype: torch.dtype = torch.float32,
        attn_implementation: str = "sdpa",
        verify: bool = True,
    ) -> ExportedBackbone:
        """Load the backbone of an exported folder on the CPU.

        Args:
            folder: the exported folder.
            is_causal: the attention policy to restore.
            dtype: weight dtype.
            attn_implementation: eager, sdpa, ... (flash kernels need a GPU; verify after moving there).
            verify: prove the attention policy on the loaded weights (raises AttentionPolicyError).
        """
        from transformers import AutoConfig, AutoModel

        check_backbone_files(folder)
        try:
            config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
        except (OSError, ValueError, KeyError) as error:
            raise EmbedlabError(f"{folder / BACKBONE_CONFIG} is not a valid transformers config: {error}") from error
        if getattr(config, "auto_map", None):
            raise EmbedlabError(f"{folder / BACKBONE_CONFIG} asks for remote code (auto_map); embedlab never runs it.")
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        for sub in {id(config): config, id(text_config): text_config}.values():
            sub.is_causal = is_causal  # as AttentionPolicy.apply does in training
        try:
            model = AutoModel.from_pretrained(
                folder, config=config, dtype=dtype, attn_implementation=attn_implementation, trust_remote_code=False
            )
        except (OSError, ValueError, RuntimeError) as error:
            raise EmbedlabError(f"Could not load the backbone weights in {folder}: {error}") from error
        backbone = cls(model, str(folder)).eval()
        if verify:
            verify_attention(backbone, expect_causal=is_causal)
            if not is_causal:
                verify_full_attention(backbone)  # every layer, not only token 0 at the top
        return backbone
