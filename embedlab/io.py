"""Atomic writes: a file is either its old version or its complete new one, never half-written.

A study runs dozens of unattended jobs; a job killed while writing `results/<Task>.json`, a
predictions file, `run.json` or a report would otherwise leave a truncated file that the analysis
later reads as data. Every writer here writes a temporary file in the destination's own folder
(same filesystem, so the rename is atomic), flushes and fsyncs it, then `os.replace`s it over the
destination and fsyncs the folder (POSIX; skipped where a folder cannot be opened, e.g. Windows).
On any error the temporary file is removed and the previous version of the destination is left
as it was.

`atomic_path` is for writers that insist on a path of their own (mteb's `TaskResult.to_disk`,
matplotlib's `savefig`, pandas' `to_csv`): they write to the temporary path it yields, and the
rename happens only when the block finishes without an error.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_lines", "atomic_write_text"]

TEMP_MARK = ".tmp-"  # temporary names are `.<name>.tmp-<random><suffix>`: hidden, and never a `*.json` etc.


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without folder file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _temporary(path: Path) -> Path:
    """A new, empty, uniquely named file beside `path` (kept out of `*.json` / `*.jsonl` globs).

    Created with `open(..., "x")` rather than `tempfile.mkstemp`, so it gets the usual permissions
    (0666 less the umask), not mkstemp's 0600, once it becomes the destination.
    """
    for _ in range(100):
        candidate = path.with_name(f".{path.name}{TEMP_MARK}{secrets.token_hex(6)}.part")
        try:
            with open(candidate, "xb"):
                return candidate
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")  # pragma: no cover


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends without an error, it replaces `path`.

    Args:
        path: the destination; its folder must exist.

    The writer must write (and close) the yielded file inside the block. If the block raises, the
    temporary file is removed and `path` keeps its previous content (or stays absent).
    """
    path = Path(path)
    temporary = _temporary(path)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:  # the writer closed it; make its bytes durable
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns `path`."""
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; returns `path`."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | Path, data: Any, *, indent: int | None = 2, **dumps_kwargs: Any) -> Path:
    """Write `data` as JSON (with a final newline) to `path` atomically; returns `path`.

    The JSON is serialised before the file is touched, so data that cannot be serialised leaves the
    old file in place. `dumps_kwargs` go to `json.dumps` (e.g. `default=str`, `sort_keys=True`).
    """
    return atomic_write_text(path, json.dumps(data, indent=indent, **dumps_kwargs) + "\n")


def atomic_write_lines(path: str | Path, lines: Iterator[str] | list[str]) -> Path:
    """Write text lines (each given without its newline) to `path` atomically, streaming them."""
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
    return path
