"""The instruction template: how an instruction is written in front of a text, in training and in evaluation.

One template serves both sides, so that a model is evaluated with its instructions written exactly as
it was trained with them: the training mix (`TrainingMix(instruction_template=...)`, a source's
`instruction`) and the evaluation table (`instructions.yaml`, `--evaluation.instruction_template`)
both build their prefix with `instruction_prefix`, and the tokenizer prepends that prefix to the text
(`TextTokenizer`: `prefix + text`, the prefix's tokens kept out of pooling when the model masks them).

A template holds `{instruction}` once and carries its own separator (the text follows it directly):

- `e5` (the default): `"Instruct: {instruction}\\nQuery: "`, the format of E5-mistral and NV-Embed,
  whose instruction wording `instructions.yaml` follows;
- `paper`: `"{instruction}"`, the paper's evaluation (`run_mteb.py` concatenates prompt and text with
  no separator, Tang & Yang 2024; the paper trains without instructions);
- any other string containing `{instruction}`, e.g. `"{instruction} "`.

Evaluating a trained model (`embedlab test`, `embedlab evaluate --checkpoint`, `MTEBCallback`), the
template defaults to the one its training mix used (`trained_template`); run.json records it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embedlab.errors import EmbedlabError

INSTRUCTION_SLOT = "{instruction}"
TEMPLATES = {
    "e5": "Instruct: {instruction}\nQuery: ",
    "paper": "{instruction}",
}
DEFAULT_TEMPLATE = "e5"
_LEGACY_SLOTS = ("{task}", "{query}", "{text}")


def resolve_template(template: str | None = None) -> str:
    """The template string for a name (`e5`, `paper`) or a literal template; None: the default (`e5`).

    Raises:
        EmbedlabError: when the template lacks `{instruction}`, holds it more than once, or uses the old
            `{task}` / `{query}` slots.
    """
    text = TEMPLATES.get(template if template is not None else DEFAULT_TEMPLATE, template)
    if not isinstance(text, str):
        raise EmbedlabError(f"instruction template must be a string, got {type(text).__name__}")
    old = [slot for slot in _LEGACY_SLOTS if slot in text]
    if old:
        raise EmbedlabError(
            f"instruction template {text!r} uses {', '.join(old)}: a template holds only {INSTRUCTION_SLOT} and the "
            f"text follows it, e.g. {TEMPLATES['e5']!r}; or name one of: {', '.join(TEMPLATES)}"
        )
    if text.count(INSTRUCTION_SLOT) != 1:
        raise EmbedlabError(
            f"instruction template {text!r} must contain {INSTRUCTION_SLOT} exactly once (write the separator "
            f"into it, e.g. {TEMPLATES['e5']!r}), or name one of: {', '.join(TEMPLATES)}"
        )
    return text


def instruction_prefix(instruction: str | None, template: str | None = None) -> str | None:
    """The text put before a text for `instruction` under `template` (name or literal); None without an instruction.

    Args:
        instruction: the task described to the model, e.g. "Retrieve semantically similar text.".
        template: `e5` (default), `paper`, or a literal template holding `{instruction}`.
    """
    text = resolve_template(template)
    if not instruction:
        return None
    return text.replace(INSTRUCTION_SLOT, instruction)  # not str.format: an instruction may hold braces


def trained_template(data_config: Mapping[str, Any] | None) -> str | None:
    """The template a training mix wrote its instructions with, so that evaluation can write them the same way.

    Args:
        data_config: a checkpoint's `datamodule_hyper_parameters` (flat) or a `class_path` / `init_args` data
            config; anything else (None, a data module without `instruction_template`) gives None.

    Returns:
        The resolved template; a checkpoint's older `Instruct: {task}\\nQuery: {query}` form is read as the
        same prefix (`{task}` -> `{instruction}`, the final `{query}` dropped).
    """
    if not isinstance(data_config, Mapping):
        return None
    args = data_config.get("init_args", data_config)
    value = args.get("instruction_template") if isinstance(args, Mapping) else None
    if not isinstance(value, str):
        return None
    if value.endswith("{query}") and value.count("{query}") == 1:  # written before one template served both
        value = value[: -len("{query}")].replace("{task}", INSTRUCTION_SLOT)
    return resolve_template(value)
