"""Weights shipped with genlab for the book's models, so that every machine loads the same models.

Training repeats exactly only on one machine with one thread count: another CPU changes the last
digits of every sum, and training amplifies them. So the book trains its models
(``genlab.book.shipped_models()``) once, here, and ships the weights (float16, in
``genlab/weights``) with a manifest of the settings and data they were trained on and a SHA-256
checksum per file. ``genlab.training.train`` loads them when asked
for exactly those settings on exactly that data; anything else is trained (and cached) as usual.

Retrain and ship them all again after changing a model or its training (about 15 minutes on two
CPU cores)::

    python -m genlab.pretrained
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

    from genlab.training import TrainedModel

__all__ = ["FOLDER", "entries", "load", "ship"]

FOLDER = Path(__file__).resolve().parent / "weights"
MANIFEST = "manifest.json"


def entries() -> list[dict]:
    """The manifest's entries: file, sha256, settings, history and seconds of each model."""
    path = FOLDER / MANIFEST
    if not path.exists():
        return []
    try:
        return json.loads(path.read_text())["models"]
    except (ValueError, KeyError) as error:
        raise RuntimeError(f"{path}: unreadable ({error!r}); reinstall genlab, or re-create the "
                           "weights with `python -m genlab.pretrained`") from error


def load(settings: dict, model: keras.Model) -> tuple[Path, str, dict] | None:
    """Load the shipped weights made with exactly ``settings`` into ``model``; return (file,
    "shipped", their manifest entry), or None where genlab ships none for these settings."""
    entry = next((e for e in entries() if e["settings"] == settings), None)
    if entry is None:
        return None
    path = FOLDER / entry["file"]
    problem = None
    if not path.is_file():
        problem = "is missing"
    elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        problem = "does not match its checksum in the manifest (corrupt or altered)"
    if problem:
        warnings.warn(f"genlab's shipped weights {path.name} {problem}: the model is trained "
                      "instead. Reinstall genlab, or re-create them with "
                      "`python -m genlab.pretrained`.", stacklevel=3)
        return None
    with np.load(path) as stored:
        model.set_weights([stored[f"w{i}"].astype(np.float32) for i in range(len(stored.files))])
    return path, "shipped", entry


def ship(names: list[str] | None = None) -> list[Path]:
    """Train the book's models from scratch (``names``: some of ``genlab.book.shipped_models()``,
    default all) and write their weights and the manifest into ``FOLDER``; return the files
    written."""
    # Here, not at the top: genlab.book imports genlab.training, which imports this module.
    from genlab import book
    from genlab.training import train

    chosen = book.shipped_models()
    unknown = sorted(set(names or []) - set(chosen))
    if unknown:
        raise ValueError(f"names: expected some of {sorted(chosen)}, got {unknown}")
    kept = {e["file"]: e for e in entries()}
    written = []
    for name, (dataset, settings) in chosen.items():
        if names and name not in names:
            continue
        settings = dict(settings)
        trained = train(settings.pop("kind"), dataset, pretrained=False, verbose=True, **settings)
        written.append(_write_weights(f"{name}.npz", trained))
        kept[written[-1].name] = {"file": written[-1].name,
                                  "sha256": hashlib.sha256(written[-1].read_bytes()).hexdigest(),
                                  "settings": trained.settings, "history": trained.history,
                                  "seconds": trained.seconds}
    _atomic_write(FOLDER / MANIFEST,
                  json.dumps({"models": sorted(kept.values(), key=lambda e: e["file"])},
                             indent=1).encode())
    return written


def _write_weights(filename: str, trained: TrainedModel) -> Path:
    # float16 halves the download; its rounding (3 significant digits) moves test errors by
    # far less than their last printed digit, and every machine loads the same rounded weights.
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w.astype(np.float16)
                        for i, w in enumerate(trained.model.get_weights())})
    path = FOLDER / filename
    _atomic_write(path, buffer.getvalue())
    return path


def _atomic_write(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    from genlab import book

    parser = argparse.ArgumentParser(description="Retrain the book's models and ship their weights "
                                                 "with genlab (genlab/weights).")
    parser.add_argument("names", nargs="*",
                        help=f"some of {sorted(book.shipped_models())} (default: all)")
    args = parser.parse_args(argv)
    for path in ship(args.names or None):
        print(path)


if __name__ == "__main__":
    main()
