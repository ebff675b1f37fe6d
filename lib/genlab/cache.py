"""genlab's disk cache: what takes long to compute (trained weights, fitted samplers, an
evaluator's reference statistics, scored batches, large nearest-neighbour searches) is kept under
``GENLAB_CACHE`` and reused while its key matches.

An entry is a folder holding one payload file and ``meta.json``. Each is written by an atomic
rename, the metadata last, so an interrupted write never looks complete. A stale, corrupt or
unreadable entry is moved aside with a warning and the result is computed again: nothing is lost.
A cache folder that cannot be written is reported once, and results are then computed but not kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO, Any, TypeVar

import numpy as np

__all__ = ["directory", "usable", "key", "array_digest", "code_digest", "fetch", "load", "save"]

T = TypeVar("T")

# A temporary file this old in an entry is left from an interrupted write, not one in progress.
STALE_TEMPORARY_SECONDS = 3600
# Cache folders reported as unusable: a notebook that trains ten models hears it once, not ten
# times.
_reported: set[str] = set()


def directory() -> Path:
    """Where genlab keeps its cache: ``GENLAB_CACHE``, else ``~/.cache/genlab``."""
    value = os.environ.get("GENLAB_CACHE", "").strip()
    if value:
        return Path(value).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "genlab"


def usable() -> bool:
    """Whether the cache folder can be created and written into; if not, warn (once per folder)
    that results will be computed but not kept."""
    folder = directory()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # An unnamed file: nothing is left behind, even if the process dies here.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        _report_unusable(folder, error)
        return False
    return True


def _report_unusable(folder: Path, error: OSError) -> None:
    if str(folder) in _reported:
        return
    _reported.add(str(folder))
    reason = ("it is a file, not a folder" if folder.exists() and not folder.is_dir()
              else f"{type(error).__name__}: {error}")
    warnings.warn(f"genlab cache: cannot write into the cache folder {folder} ({reason}); results "
                  "are computed but not kept, so each run computes them again. Point "
                  "GENLAB_CACHE at a writable folder to keep them.", stacklevel=4)


def key(described: Any) -> str:
    """A sha256 digest of a JSON-able description of everything that changes the result."""
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_digest(*modules: ModuleType) -> str:
    """A sha256 digest of the source files of modules: keys follow the code that computes an
    entry, so after an edit or a `git pull` nothing computed by the old code is reused."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(inspect.getsourcefile(module)).read_bytes())
    return digest.hexdigest()


def array_digest(*arrays: Any) -> str:
    """A sha256 digest of arrays' dtypes, shapes and bytes (None hashes as itself); computed once
    for arrays no one can write to, such as a loaded dataset's (see `frozen`)."""
    return once("digest", arrays, lambda: _array_digest(arrays))


def frozen(array: Any) -> bool:
    """Whether ``array`` is a NumPy array whose bytes no one can change: it, and every array it
    is a view of, are read-only, down to one that owns its memory."""
    if not isinstance(array, np.ndarray):
        return False
    while isinstance(array, np.ndarray):
        if array.flags.writeable:
            return False
        array = array.base
    return array is None


def once(what: str, arrays: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """``compute()``, a result of ``arrays`` alone called ``what``; kept in memory while they live
    if all are `frozen` (a dataset's 170 MB took 0.1 s to hash or check, 70 times a chapter)."""
    if not arrays or not all(frozen(array) for array in arrays):
        return compute()
    ids = (what, *map(id, arrays))
    known = _once.get(ids)
    if known is not None and all(ref() is array for ref, array in zip(known[0], arrays)):
        return known[1]
    value = compute()
    # Forgotten when one of the arrays is freed: its id may then be another array's.
    forget = lambda _: _once.pop(ids, None)  # noqa: E731
    _once[ids] = ([weakref.ref(array, forget) for array in arrays], value)
    return value


_once: dict[tuple, tuple[list[weakref.ref], Any]] = {}


def _array_digest(arrays: tuple[Any, ...]) -> str:
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
        try:
            entry.rename(aside)
        except OSError as rename_error:  # a read-only cache: the entry stays, but is not used
            warnings.warn(f"genlab cache: the entry {entry.name} is {reason}; it could not be "
                          f"moved aside ({rename_error}), so it stays in place unused, and "
                          f"{redo}. Point GENLAB_CACHE at a writable folder.", stacklevel=3)
            return None
        warnings.warn(f"genlab cache: the entry {entry.name} is {reason}; it was moved to "
                      f"{aside.name} and {redo}.", stacklevel=3)
        return None


def save(entry: Path, payload: str, write: Callable[[IO[bytes]], None], meta: dict) -> bool:
    """Write the payload file (by ``write``) and then ``meta`` (with ``key``) into ``entry``.

    Returns False, keeping nothing, where the cache folder cannot be written (warned once).
    """
    token = uuid.uuid4().hex
    payload_tmp = entry / f".tmp-{token}-{payload}"
    meta_tmp = entry / f".tmp-{token}.json"
    try:
        entry.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(entry)
        with open(payload_tmp, "wb") as f:
            write(f)
        meta = {**meta, "payload": payload, "payload_sha256": _sha256(payload_tmp)}
        os.replace(payload_tmp, entry / payload)
        meta_tmp.write_text(json.dumps(meta, indent=1))
        os.replace(meta_tmp, entry / "meta.json")
    except OSError as error:
        for tmp in (payload_tmp, meta_tmp):
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        _report_unusable(entry.parent, error)
        return False
    return True


def _remove_stale_temporaries(entry: Path) -> None:
    """Delete temporary files that interrupted writes left in ``entry`` (never a fresh one: another
    process may be writing it)."""
    for tmp in entry.glob(".tmp-*"):
        with contextlib.suppress(OSError):  # another process may delete it first
            if time.time() - tmp.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                tmp.unlink()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Unusable(Exception):
    pass
