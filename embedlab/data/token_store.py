"""TokenStore: a mix's texts tokenised once, memory-mapped and shared by every run of a study.

A study trains 6+ variants and several seeds on exactly the same stream; without a store every run
(and every epoch) tokenises the same texts again, and tokenising is most of the loader's work. The
store holds the rows of one tokenizer setting at one token limit, keyed by a 128-bit hash of
(instruction, text): a text found there is read, a text not found (a streamed hub source, a file
changed since the build) is tokenised by the worker as before. The rows are exactly the plain
`TextTokenizer`'s (EOS included, BOS and instruction tokens flagged unpoolable, no padding).

`TrainingMix.prepare_data` (Lightning's once-per-node hook) builds the missing stores, reading every
source except streamed `HubSource`s once and tokenising with the tokenizer's parallel batch
encoding; `setup` verifies them in the main process; each DataLoader worker maps them.

One file per store, `<cache>/tokens/<name>.tokens`, `<name>` a hash of the fingerprint::

    magic (8 bytes) | header length (uint64) | header (JSON) | arrays, 64-byte aligned | blake2b-256 of all before

The header holds the fingerprint (a hash of the tokenizer's JSON with truncation and padding
removed, its class, vocabulary size, EOS id, truncation side, the token limit, `append_eos`,
`mask_instruction`, the mix's sources) and where each array lies: `key_hi`, `key_lo` (uint64 [N],
sorted by `key_hi`, unique), `start` (int64 [N]), `length` (int32 [N]), `ids` (int32 [T]),
`poolable` (uint8 [T]); row `j` is `ids[start[j] : start[j] + length[j]]`.

A store is written to a temporary file in the same folder and moved into place with `os.replace`:
concurrent runs see no store or a whole one, never half of one. Opening checks the magic, the
format, the fingerprint and every array's bounds; a full check (the main process's, or a worker's
when the file is not the one its main process checked) also re-hashes the file and checks key order,
row bounds and token ids. A store that fails is not used (a warning says why) and `prepare_data`
rebuilds it. Checked with tokenizers 0.23 and transformers 5.24.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from embedlab.data.rows import BadRow

log = logging.getLogger("embedlab.data")
FORMAT = 2  # 2: BOS never poolable (format 1 stores flagged it poolable in texts without an instruction)
MAGIC = b"EMBTOK01"
DIGEST = 32  # bytes of the trailing blake2b
ALIGN = 64
ARRAYS = (("key_hi", np.uint64), ("key_lo", np.uint64), ("start", np.int64), ("length", np.int32))
TOKENS = (("ids", np.int32), ("poolable", np.uint8))
PARALLELISM = "TOKENIZERS_PARALLELISM"

Row = tuple[np.ndarray, np.ndarray]  # token ids, poolable flags (EOS included, no padding)


class StoreError(Exception):
    """A store file that must not be used (corrupt, truncated, or of another setting)."""


def default_store_dir() -> Path:
    """`<embedlab cache>/tokens` (the cache is `$EMBEDLAB_CACHE` or the user cache folder)."""
    from embedlab.assets.store import cache_dir

    return cache_dir() / "tokens"


def row_keys(prefixes: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """128-bit keys [N, 2] (uint64) of (instruction, text) pairs: stable across processes and machines."""
    digests = []
    for prefix, text in zip(prefixes, texts, strict=True):
        head = prefix.encode("utf-8", "surrogatepass")
        message = len(head).to_bytes(4, "little") + head + text.encode("utf-8", "surrogatepass")
        digests.append(hashlib.blake2b(message, digest_size=16).digest())
    return np.frombuffer(b"".join(digests), dtype="<u8").reshape(-1, 2).astype(np.uint64)  # [N, 2]


def tokenizer_fingerprint(text_tokenizer) -> dict[str, Any] | None:
    """What decides the rows of a `TextTokenizer`, except the limit; None when it has no fast backend."""
    hf = text_tokenizer.tokenizer
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    spec.pop("truncation", None)  # set per call by transformers
    spec.pop("padding", None)
    return {
        "format": FORMAT,
        "tokenizer": hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest(),
        "tokenizer_class": type(hf).__name__,
        "vocab_size": len(hf),
        "eos_token_id": hf.eos_token_id,
        "truncation_side": getattr(hf, "truncation_side", "right"),
        "split_special_tokens": bool(getattr(hf, "split_special_tokens", False)),
        "append_eos": text_tokenizer.append_eos,
        "mask_instruction": text_tokenizer.mask_instruction,
    }


class TokenStore:
    """One store file: rows of one tokenizer setting at one token limit, read memory-mapped.

    Args:
        path: the store's file.
        fingerprint: the setting it must have been built for (see `tokenizer_fingerprint`, plus `max_length`).
    """

    def __init__(self, path: Path, fingerprint: dict[str, Any]) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.checked: tuple[int, int, int] | None = None  # (inode, size, mtime) of the file fully checked
        self.state = "closed"  # closed | open | missing | bad
        self._arrays: dict[str, np.ndarray] | None = None

    @classmethod
    def at(cls, folder: Path, fingerprint: dict[str, Any]) -> TokenStore:
        """The store for `fingerprint` in `folder` (its file name is a hash of the fingerprint)."""
        name = hashlib.sha256(_canonical(fingerprint).encode()).hexdigest()[:20]
        return cls(Path(folder) / f"{name}.tokens", fingerprint)

    def __getstate__(self) -> dict:  # workers map the file themselves
        state = dict(self.__dict__)
        state["_arrays"] = None
        state["state"] = "closed"
        return state

    # ---------------------------------------------------------------- opening

    def open(self, full: bool | None = None) -> bool:
        """Map the file and check it; True when usable. `full`: re-hash it (default: unless this very file was)."""
        self._arrays, self.state = None, "missing"
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        try:
            self._arrays = read_store(
                self.path, self.fingerprint, full=identity != self.checked if full is None else full
            )
        except StoreError as error:
            self.state = "bad"
            log.warning("token store %s is not used: %s (TrainingMix.prepare_data rebuilds it)", self.path, error)
            return False
        self.checked, self.state = identity, "open"
        return True

    def usable(self) -> bool:
        if self.state == "closed":
            self.open()
        return self.state == "open"

    @property
    def rows(self) -> int:
        return 0 if self._arrays is None else len(self._arrays["key_hi"])

    # ---------------------------------------------------------------- reading

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Row index of every key [N, 2] in the store, -1 where absent."""
        a = self._arrays
        if a is None or not len(a["key_hi"]) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int64)
        hi, lo = keys[:, 0], keys[:, 1]
        at = np.minimum(np.searchsorted(a["key_hi"], hi), len(a["key_hi"]) - 1)  # [N]
        hit = (a["key_hi"][at] == hi) & (a["key_lo"][at] == lo)  # [N]
        return np.where(hit, at, -1)

    def row(self, j: int) -> Row:
        a = self._arrays
        start = int(a["start"][j])
        end = start + int(a["length"][j])
        return a["ids"][start:end], a["poolable"][start:end].view(bool)


def read_store(path: Path, fingerprint: dict[str, Any], full: bool = True) -> dict[str, np.ndarray]:
    """The arrays of a store file (memory-mapped), after checking it; raises StoreError."""
    size = path.stat().st_size
    if size < len(MAGIC) + 8 + DIGEST:
        raise StoreError(f"truncated ({size} bytes)")
    data = np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)  # plain views: slicing a memmap is slow
    if bytes(data[: len(MAGIC)]) != MAGIC:
        raise StoreError("not a token store (wrong magic)")
    length = int.from_bytes(bytes(data[8:16]), "little")
    if 16 + length > size - DIGEST:
        raise StoreError("truncated header")
    try:
        header = json.loads(bytes(data[16 : 16 + length]).decode())
        layout = header["arrays"]
    except (ValueError, KeyError, TypeError) as error:
        raise StoreError(f"unreadable header ({error})") from None
    if header.get("format") != FORMAT:
        raise StoreError(f"format {header.get('format')!r}, this version reads {FORMAT}")
    if _canonical(header.get("fingerprint")) != _canonical(fingerprint):
        raise StoreError("built for another tokenizer or setting (fingerprint mismatch)")
    arrays: dict[str, np.ndarray] = {}
    end = 16 + length
    for name, dtype in (*ARRAYS, *TOKENS):
        try:
            offset, count = int(layout[name][0]), int(layout[name][1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise StoreError(f"array {name!r} missing from the header") from None
        nbytes = count * np.dtype(dtype).itemsize
        if offset < end or offset % ALIGN or count < 0 or offset + nbytes > size - DIGEST:
            raise StoreError(f"array {name!r} out of bounds")
        arrays[name] = data[offset : offset + nbytes].view(dtype)
        end = offset + nbytes
    if end != size - DIGEST:
        raise StoreError(f"{size - DIGEST - end} unexpected bytes")
    n = len(arrays["key_hi"])
    if any(len(arrays[k]) != n for k, _ in ARRAYS) or len(arrays["poolable"]) != len(arrays["ids"]):
        raise StoreError("array lengths disagree")
    if full:
        if hashlib.blake2b(data[: size - DIGEST], digest_size=DIGEST).digest() != bytes(data[size - DIGEST :]):
            raise StoreError("checksum mismatch (the file was modified or damaged)")
        start, count, tokens = arrays["start"], arrays["length"].astype(np.int64), len(arrays["ids"])
        if n and (np.any(np.diff(arrays["key_hi"]) == 0) or np.any(arrays["key_hi"][1:] < arrays["key_hi"][:-1])):
            raise StoreError("keys not sorted")
        if n and (start.min() < 0 or count.min() < 0 or (start + count).max() > tokens):
            raise StoreError("rows out of bounds")
        ids = arrays["ids"]
        if tokens and (ids.min() < 0 or ids.max() >= fingerprint.get("vocab_size", 1 << 31)):
            raise StoreError("token ids outside the vocabulary")
    return arrays


# ---------------------------------------------------------------- writing


class StoreWriter:
    """Collects rows (token data spilled to temporary files) and writes the store atomically.

    Args:
        store: the store to write.
    """

    def __init__(self, store: TokenStore) -> None:
        self.store = store
        store.path.parent.mkdir(parents=True, exist_ok=True)
        self._ids = tempfile.TemporaryFile(dir=store.path.parent)
        self._flags = tempfile.TemporaryFile(dir=store.path.parent)
        self._keys: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []
        self.seen: set[int] = set()  # key_hi of the rows added

    def add(self, keys: np.ndarray, rows: list[Row]) -> None:
        """Add rows under their keys [N, 2] (keys already added are the caller's to skip)."""
        if not rows:
            return
        self._ids.write(np.concatenate([r[0] for r in rows]).astype(np.int32).tobytes())
        self._flags.write(np.concatenate([r[1] for r in rows]).astype(np.uint8).tobytes())
        self._keys.append(keys)
        self._lengths.append(np.fromiter(map(len, (r[0] for r in rows)), dtype=np.int32, count=len(rows)))
        self.seen.update(keys[:, 0].tolist())

    def commit(self) -> int:
        """Write the file (temporary name, then `os.replace`); return its row count."""
        keys = np.concatenate(self._keys) if self._keys else np.zeros((0, 2), dtype=np.uint64)  # [N, 2]
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int32)  # [N]
        starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)[:-1]]).astype(np.int64)  # [N]
        order = np.argsort(keys[:, 0], kind="stable")
        small = {"key_hi": keys[order, 0], "key_lo": keys[order, 1], "start": starts[order], "length": lengths[order]}
        tokens = int(lengths.sum())
        sizes = {name: (len(small[name]) if name in small else tokens) for name, _ in (*ARRAYS, *TOKENS)}
        layout, header = self._layout(sizes)
        partial = self.store.path.with_name(f".{self.store.path.name}.{os.getpid()}.{time.monotonic_ns()}.partial")
        try:
            with open(partial, "wb") as out:
                sink = _Hashing(out)
                sink.write(header)
                for name, _ in (*ARRAYS, *TOKENS):
                    sink.write(b"\0" * (layout[name][0] - sink.written))
                    if name in small:
                        sink.write(np.ascontiguousarray(small[name]).tobytes())
                    else:
                        spill = self._ids if name == "ids" else self._flags
                        spill.seek(0)
                        shutil.copyfileobj(spill, sink, 1 << 20)
                out.write(sink.digest.digest())
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, self.store.path)
        finally:
            partial.unlink(missing_ok=True)
            self._ids.close()
            self._flags.close()
        return len(keys)

    def _layout(self, sizes: dict[str, int]) -> tuple[dict[str, tuple[int, int]], bytes]:
        def place(header_length: int) -> dict[str, tuple[int, int]]:
            layout, offset = {}, 16 + header_length
            for name, dtype in (*ARRAYS, *TOKENS):
                offset = -(-offset // ALIGN) * ALIGN
                layout[name] = (offset, sizes[name])
                offset += sizes[name] * np.dtype(dtype).itemsize
            return layout

        length = 0
        while True:  # the header holds the offsets, which depend on its length
            body = json.dumps({"format": FORMAT, "fingerprint": self.store.fingerprint, "arrays": place(length)})
            encoded = body.encode()
            if len(encoded) == length:
                return place(length), MAGIC + length.to_bytes(8, "little") + encoded
            length = len(encoded)


class _Hashing:
    """A write-only file wrapper that hashes what passes through."""

    def __init__(self, out) -> None:
        self.out = out
        self.digest = hashlib.blake2b(digest_size=DIGEST)
        self.written = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.written += len(data)
        return self.out.write(data)


# ---------------------------------------------------------------- building from a mix's sources


def stored_texts(sources, query_limit: int, document_limit: int) -> Iterator[tuple[int, str, str]]:
    """(limit, instruction, text) of every text the mix's sources can put in a batch, streamed hub sources excepted.

    Queries carry their source's instruction; positives and the rows' own negatives none (mined
    negatives are other rows' positives, so they are in as well). Validation rows are included.
    """
    for source in sources:
        if getattr(source, "streaming", False):
            log.info("token store: %s is streamed; its texts are tokenised in the workers", source.name)
            continue
        for entry in source.rows():
            if isinstance(entry, BadRow):
                continue
            e = entry.example
            yield query_limit, e.instruction or "", e.query
            yield document_limit, "", e.positive
            for negative in e.negatives:
                yield document_limit, "", negative


def build_stores(
    stores: dict[int, TokenStore], encode, texts: Iterable[tuple[int, str, str]], chunk: int = 2048
) -> int:
    """Tokenise `texts` (limit, instruction, text) once each into the stores of their limits; return the rows.

    Args:
        stores: the stores to build, by token limit (texts of other limits are skipped).
        encode: `(texts, instructions, limit) -> rows`, e.g. `FastTokenizer.encode`.
        texts: what to store.
        chunk: texts tokenised per call (the tokenizer spreads a call over its threads).
    """
    writers = {limit: StoreWriter(store) for limit, store in stores.items()}
    pending: dict[int, dict[tuple[str, str], None]] = {limit: {} for limit in stores}

    def flush(limit: int) -> None:
        pairs = list(pending[limit])
        pending[limit].clear()
        prefixes, bodies = [p for p, _ in pairs], [t for _, t in pairs]
        keys = row_keys(prefixes, bodies)
        new = [i for i, hi in enumerate(keys[:, 0].tolist()) if hi not in writers[limit].seen]
        new = list({int(keys[i, 0]): i for i in new}.values())  # a 64-bit collision keeps one (the other misses)
        rows = encode([bodies[i] for i in new], [prefixes[i] for i in new], limit)
        writers[limit].add(keys[new], rows)

    with tokenizer_threads():
        for limit, prefix, text in texts:
            if limit in pending:
                pending[limit][prefix, text] = None
                if len(pending[limit]) >= chunk:
                    flush(limit)
        for limit in stores:
            flush(limit)
    return sum(writer.commit() for writer in writers.values())


@contextmanager
def tokenizer_threads():
    """Let the Rust tokenizer use its thread pool inside; afterwards `TOKENIZERS_PARALLELISM` is what it
    was, or `false` if it was unset (DataLoader workers forked after parallel use would each warn and fall
    back to one thread anyway; `false` says so up front and silences the warning)."""
    before = os.environ.get(PARALLELISM)
    os.environ[PARALLELISM] = "true"
    try:
        yield
    finally:
        os.environ[PARALLELISM] = before if before is not None else "false"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
