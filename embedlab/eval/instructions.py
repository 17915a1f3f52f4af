"""Which instruction goes in front of which text, per task and per side (query or document).

The data is `instructions.yaml` beside this file: the paper's table for its 47 MTEB tasks, the
offline suite's, and fallbacks per task type. The rule follows the paper (§4.3): symmetric tasks
put the instruction on every text; retrieval and reranking put it on queries only. mteb tells the
encoder which side it is encoding through `prompt_type` (query, document, or None for symmetric).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from embedlab.errors import EmbedlabError

DEFAULT_FILE = Path(__file__).with_name("instructions.yaml")
RESERVED_KEYS = ("template", "types")
Entry = str | Mapping[str, str]


def _side(entry: Entry | None, prompt_type: str | None) -> str | None:
    """The instruction an entry gives to one side: strings go to queries and symmetric inputs only."""
    if entry is None:
        return None
    if isinstance(entry, str):
        return None if prompt_type == "document" else entry
    return entry.get(prompt_type or "query")


@dataclass(frozen=True)
class Instructions:
    """A lookup table of instructions.

    Args:
        tasks: task name -> instruction (a string, or a mapping with `query` / `document`).
        types: mteb task type -> instruction, for tasks not in `tasks` and without an mteb prompt.
        template: wraps each instruction; must contain `{instruction}` (write the separator into it).
        use_task_prompts: fall back on the mteb task's own `prompt` before the type default.
        source: where the table came from, for run.json.
    """

    tasks: Mapping[str, Entry] = field(default_factory=dict)
    types: Mapping[str, str] = field(default_factory=dict)
    template: str = "{instruction} "
    use_task_prompts: bool = True
    source: str = "inline"

    def __post_init__(self) -> None:
        if "{instruction}" not in self.template:
            raise EmbedlabError(f"instruction template {self.template!r} must contain '{{instruction}}'")

    @classmethod
    def load(cls, source: str | Path = "default", template: str | None = None) -> Instructions:
        """Read a table: `default` (the packaged file) or a YAML file of the same schema.

        Args:
            source: `default` or a path.
            template: overrides the file's template.
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
            template=template if template is not None else data.get("template", "{instruction} "),
            source=str(source),
        )

    def raw(self, task_name: str, task_type: str, task_prompt: Entry | None, prompt_type: str | None) -> str | None:
        """The unwrapped instruction for one side of one task, or None."""
        if task_name in self.tasks:
            return _side(self.tasks[task_name], prompt_type)
        if self.use_task_prompts and task_prompt:
            return _side(task_prompt, prompt_type)
        return _side(self.types.get(task_type), prompt_type)

    def for_task(self, metadata, prompt_type=None) -> str | None:
        """The instruction to prepend, template applied, for an mteb `TaskMetadata` and `PromptType`."""
        side = getattr(prompt_type, "value", prompt_type)
        text = self.raw(metadata.name, metadata.type, metadata.prompt, side)
        return self.template.format(instruction=text) if text else None


def load_instructions(spec: str | Path | Instructions | None, template: str | None = None) -> Instructions | None:
    """`none` or None -> no instructions; `default` or a path -> that table; an Instructions -> itself."""
    if isinstance(spec, Instructions):
        return spec
    if spec is None or str(spec).lower() == "none":
        return None
    return Instructions.load(spec, template)
