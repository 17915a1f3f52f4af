"""Tasks from files: a YAML spec plus CSV / TSV / JSONL data becomes an mteb task, usable wherever a task
name is (`--evaluation.suite my_task.yaml`, `MTEBCallback(tasks=[...])`). Schema: `schema.py` and
`configs/eval/README.md`."""

from __future__ import annotations

from pathlib import Path

from embedlab.eval.file_task.build import build_task
from embedlab.eval.file_task.reader import TaskFileError
from embedlab.eval.file_task.schema import TaskFileSpec, parse_spec


def load_task_file(path: str | Path):
    """The mteb task a YAML spec describes; errors name the file, line and column at fault."""
    return build_task(parse_spec(path))


__all__ = ["TaskFileError", "TaskFileSpec", "load_task_file", "parse_spec"]
