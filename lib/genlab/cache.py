"""genlab's disk cache: what takes long to compute (trained weights, fitted samplers, an
evaluator's reference statistics, scored batches) is kept under ``GENLAB_CACHE`` and reused while
its key matches.

An entry is a folder holding one payload file and ``meta.json``. Each is written by an atomic
rename, the metadata last, so an interrupted write never looks complete. A stale, corrupt or
unreadable entry is moved aside with a warning and the result is computed again: nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import IO, Any, Callable, TypeVar

import numpy as np

__all__ = ["directory", "key", "array_digest", "fetch", "load", "save"]

T = TypeVar("T")


def directory() -> Path:
    """Where genlab keeps its cache: ``GENLAB_CACHE``, else ``~/.cache/genlab``."""
    value = os.environ.get("GENLAB_CACHE", "").strip()
    if value:
        return Path(value).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "genlab"


def key(described: Any) -> str:
    """A sha256 digest of a JSON-able description of everything that changes the result."""
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def array_digest(*arrays: Any) -> str:
    """A sha256 digest of arrays' dtypes, shapes and bytes (None hashes as itself)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"None")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def fetch(entry: Path, key: str, payload: str, compute: Callable[[], tuple[T, dict]],
          write: Callable[[T, IO[bytes]], None], read: Callable[[Path], T],
          redo: str) -> tuple[T, dict]:
    """The value and metadata kept in ``entry`` for ``key``; on a miss, ``compute()``'s value and
    metadata, first saved there (the value by ``write`` into the file named ``payload``)."""
    found = load(entry, key, read, redo)
    if found is not None:
        return found
    value, meta = compute()
    meta = {**meta, "key": key}
    save(entry, payload, lambda f: write(value, f), meta)
    return value, meta


def load(entry: Path, key: str, read: Callable[[Path], T], redo: str) -> tuple[T, dict] | None:
    """``read(payload path)`` and the metadata of a complete entry made for ``key``; None on a miss.

    ``redo`` ends the warning given for an unusable entry, e.g. "the model is trained again".
    """
    meta_path = entry / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key or "payload" not in meta:
            raise _Unusable("stale (it was made for other settings or by another genlab)")
        payload = entry / str(meta.get("payload"))
        if not payload.is_file() or _sha256(payload) != meta.get("payload_sha256"):
            raise _Unusable("corrupt (its payload file is missing or altered)")
        return read(payload), meta
    except Exception as error:  # noqa: BLE001 - whatever broke, the entry is not to be trusted
        reason = str(error) if isinstance(error, _Unusable) else f"unreadable ({error})"
        aside = entry.with_name(entry.name + ".bad")
        shutil.rmtree(aside, ignore_errors=True)
        entry.rename(aside)
        warnings.warn(f"genlab cache: the entry {entry.name} is {reason}; it was moved to "
                      f"{aside.name} and {redo}.", stacklevel=3)
        return None


def save(entry: Path, payload: str, write: Callable[[IO[bytes]], None], meta: dict) -> None:
    """Write the payload file (by ``write``) and then ``meta`` (with ``key``) into ``entry``."""
    entry.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    payload_tmp = entry / f".tmp-{token}-{payload}"
    with open(payload_tmp, "wb") as f:
        write(f)
    meta = {**meta, "payload": payload, "payload_sha256": _sha256(payload_tmp)}
    os.replace(payload_tmp, entry / payload)
    meta_tmp = entry / f".tmp-{token}.json"
    meta_tmp.write_text(json.dumps(meta, indent=1))
    os.replace(meta_tmp, entry / "meta.json")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Unusable(Exception):
    pass
