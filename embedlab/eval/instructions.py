"""Which instruction goes in front of which text, per task and per side (query or document).

The data is `instructions.yaml` beside this file: the paper's table for its 47 MTEB tasks, the
offline suite's, and fallbacks per task type. The rule follows the paper's released evaluation
(`run_mteb.py`, `run_mteb_retrieval.py`): retrieval tasks put the instruction on queries only (the
corpus goes without); every other task, reranking included, puts it on every text it encodes. mteb
tells the encoder which side it is encoding through `prompt_type` (query, document, or None for
symmetric tasks); mteb 2 runs reranking as retrieval over each query's candidates, so reranking
documents arrive as `document` and get the instruction too. The template that wraps an instruction
is the training mix's (`embedlab/instruction_template.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from embedlab.errors import EmbedlabError
from embedlab.instruction_template import DEFAULT_TEMPLATE, instruction_prefix, resolve_template

DEFAULT_FILE = Path(__file__).with_name("instructions.yaml")
RESERVED_KEYS = ("template", "types")
Entry = str | Mapping[str, str]


def queries_only(task_type: str) -> bool:
    """Whether a one-string instruction goes on queries only: retrieval types (`Retrieval`, `InstructionRetrieval`,
    `Any2AnyRetrieval`, ...), whose corpus the paper encodes without instruction. Reranking is not one of them."""
    return task_type.endswith("Retrieval")


def _side(entry: Entry | None, prompt_type: str | None, task_type: str) -> str | None:
    """The instruction an entry gives to one side: a string goes on every text, except retrieval documents."""
    if entry is None:
        return None
    if isinstance(entry, str):
        return None if prompt_type == "document" and queries_only(task_type) else entry
    return entry.get(prompt_type or "query")


@dataclass(frozen=True)
class Instructions:
    """A lookup table of instructions.

    Args:
        tasks: task name -> instruction (a string, or a mapping with `query` / `document`).
        types: mteb task type -> instruction, for tasks not in `tasks` and without an mteb prompt.
        template: wraps each instruction: `e5` (the default, as in training), `paper` (no separator) or a
            string holding `{instruction}` (write the separator into it); stored resolved.
        use_task_prompts: fall back on the mteb task's own `prompt` before the type default.
        source: where the table came from, for run.json.
    """

    tasks: Mapping[str, Entry] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    template: str = DEFAULT_TEMPLATE
    use_task_prompts: bool = True
    source: str = "inline"

    def __post_init__(self) -> None:
        object.__setattr__(self, "template", resolve_template(self.template))  # a name becomes its string

    @classmethod
    def load(cls, source: str | Path = "default", template: str | None = None) -> Instructions:
        """Read a table: `default` (the packaged file) or a YAML file of the same schema.

        Args:
            source: `default` or a path.
            template: overrides the file's `template` (default: the shared one, `e5`).
        """
        path = DEFAULT_FILE if str(source) == "default" else Path(source)
        if not path.is_file():
            raise EmbedlabError(f"instructions file {path} does not exist (use 'default', 'none' or a YAML path)")
        try:
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise EmbedlabError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(data, dict):
            raise EmbedlabError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
        tasks: dict[str, Entry] = {}
        for section, entries in data.items():
            if section in RESERVED_KEYS:
                continue
            if not isinstance(entries, dict):
                raise EmbedlabError(f"{path}: section {section!r} must map task names to instructions")
            for name, entry in entries.items():
                if not isinstance(entry, (str, dict)) or (
                    isinstance(entry, dict) and set(entry) - {"query", "document"}
                ):
                    raise EmbedlabError(
                        f"{path}: {section}.{name}: an instruction is a string or a mapping with keys query/document"
                    )
                tasks[str(name)] = entry
        return cls(
            tasks=tasks,
            types=dict(data.get("types") or {}),
            template=template if template is not None else data.get("template", DEFAULT_TEMPLATE),
            source=str(source),
        )

    def raw(self, task_name: str, task_type: str, task_prompt: Entry | None, prompt_type: str | None) -> str | None:
        """The unwrapped instruction for one side of one task, or None."""
        if task_name in self.tasks:
            return _side(self.tasks[task_name], prompt_type, task_type)
        if self.use_task_prompts and task_prompt:
            return _side(task_prompt, prompt_type, task_type)
        return _side(self.types.get(task_type), prompt_type, task_type)

    def for_task(self, metadata, prompt_type=None) -> str | None:
        """The instruction to prepend, template applied, for an mteb `TaskMetadata` and `PromptType`."""
        side = getattr(prompt_type, "value", prompt_type)
        return instruction_prefix(self.raw(metadata.name, metadata.type, metadata.prompt, side), self.template)


def load_instructions(spec: str | Path | Instructions | None, template: str | None = None) -> Instructions | None:
    """`none` or None -> no instructions; `default` or a path -> that table; an Instructions -> itself."""
    if isinstance(spec, Instructions):
        return spec
    if spec is None or str(spec).lower() == "none":
        return None
    return Instructions.load(spec, template)
