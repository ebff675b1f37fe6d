"""Weights shipped with genlab for the book's models and flows: every machine loads the same.

Training repeats exactly only on one machine with one thread count: another CPU changes the last
digits of every sum, and training amplifies them. So the book trains its models
(``genlab.book.shipped_models()``) once, here, and ships the weights (float16, in
``genlab/weights``) with a manifest of the settings and data they were trained on and a SHA-256
checksum per file. ``genlab.training.train`` loads them when asked
for exactly those settings on exactly that data; anything else is trained (and cached) as usual.
The same holds for the slowest samplers fitted on those models' codes, the normalizing flows and
the large Gaussian mixtures (``genlab.book.shipped_samplers()``): ``load_sampler`` gives one its
shipped fit (float64, as fitted) only on the very model weights it was fitted with.

Retrain and ship them all again after changing a model, a sampler or their training (about 50
minutes on two CPU cores; name some to ship only those)::

    python -m genlab.pretrained
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

    from genlab.training import TrainedModel

__all__ = ["FOLDER", "entries", "sampler_entries", "load", "load_sampler", "fit_samplers",
           "ship"]

FOLDER = Path(__file__).resolve().parent / "weights"
MANIFEST = "manifest.json"


def entries() -> list[dict]:
    """The manifest's model entries: file, sha256, settings, history and seconds of each model."""
    return _manifest().get("models", [])


def sampler_entries() -> list[dict]:
    """The manifest's sampler entries: file, sha256, the model file and sha256 it was fitted on,
    the sampler's parameters, its fitted state's non-array part, and its fit's seconds."""
    return _manifest().get("samplers", [])


def _manifest() -> dict:
    path = FOLDER / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
            raise ValueError("no list of models")
        return manifest
    except ValueError as error:
        raise RuntimeError(f"{path}: unreadable ({error!r}); reinstall genlab, or re-create the "
                           "weights with `python -m genlab.pretrained`") from error


def _verified(entry: dict, what: str) -> Path | None:
    """The entry's file if it matches its checksum; else warn (``what`` is done instead), None."""
    path = FOLDER / entry["file"]
    problem = None
    if not path.is_file():
        problem = "is missing"
    elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        problem = "does not match its checksum in the manifest (corrupt or altered)"
    if problem:
        warnings.warn(f"genlab's shipped weights {path.name} {problem}: the {what} instead. "
                      "Reinstall genlab, or re-create them with `python -m genlab.pretrained`.",
                      stacklevel=4)
        return None
    return path


def load(settings: dict, model: keras.Model) -> tuple[Path, str, dict] | None:
    """Load the shipped weights made with exactly ``settings`` into ``model``; return (file,
    "shipped", their manifest entry), or None where genlab ships none for these settings."""
    entry = next((e for e in entries() if e["settings"] == settings), None)
    path = None if entry is None else _verified(entry, "model is trained")
    if path is None:
        return None
    with np.load(path) as stored:
        model.set_weights([stored[f"w{i}"].astype(np.float32) for i in range(len(stored.files))])
    return path, "shipped", entry


def load_sampler(model: TrainedModel, sampler: Any) -> bool:
    """Give the unfitted ``sampler`` the fit genlab ships for exactly its parameters on ``model``'s
    training codes; return whether it did (never for a model not loaded from shipped weights)."""
    return _load_sampler(model, sampler) is not None


def fit_samplers(model: TrainedModel, samplers: dict[str, Any], dataset: Any
                 ) -> dict[str, float]:
    """Fit each sampler on ``model``'s codes of the dataset's training images (and their labels),
    giving those genlab ships fitted their shipped fit instead; return each fit's seconds (a
    shipped fit's are those of the fit that made it). See `genlab.samplers.fit_each`."""
    from genlab.data import as_dataset
    from genlab.samplers import fit_each

    data = as_dataset(dataset)
    seconds = {}
    for name, sampler in samplers.items():
        entry = _load_sampler(model, sampler)
        if entry is not None:
            seconds[name] = float(entry["seconds"])
    rest = {name: sampler for name, sampler in samplers.items() if name not in seconds}
    if rest:
        seconds.update(fit_each(rest, model.encode(data.x_train), data.y_train))
    return {name: seconds[name] for name in samplers}


def _load_sampler(model: TrainedModel, sampler: Any) -> dict | None:
    """`load_sampler`, returning the shipped fit's manifest entry, or None."""
    from genlab.samplers import describe  # here: genlab.samplers is not needed to train

    if model.source != "shipped":
        return None
    manifest = _manifest()
    weights = next((e for e in manifest["models"] if FOLDER / e["file"] == model.path), None)
    entry = weights and next((e for e in manifest.get("samplers", [])
                              if e["model"] == weights["file"]
                              and e["model_sha256"] == weights["sha256"]
                              and e["sampler"] == describe(sampler)), None)
    path = entry and _verified(entry, "sampler is fitted")
    if not path:
        return None
    with np.load(path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    state = {**entry["state"], **{k: v for k, v in arrays.items() if "/" not in k}}
    state.update({name: [arrays[f"{name}/{i}"] for i in range(count)]
                  for name, count in entry["lists"].items()})
    sampler.__setstate__({**vars(sampler), **state})
    return entry


def ship(names: list[str] | None = None) -> list[Path]:
    """Train the book's models from scratch and fit its shipped samplers on them (``names``: some
    of ``genlab.book.shipped_models()`` and ``shipped_samplers()``, default all; a reshipped model's
    samplers are refitted too), and write them and the manifest into ``FOLDER``; return the files
    written."""
    # Here, not at the top: genlab.book imports genlab.training, which imports this module.
    from genlab import book
    from genlab.data import as_dataset
    from genlab.samplers import describe
    from genlab.training import train

    chosen, chosen_samplers = book.shipped_models(), book.shipped_samplers()
    unknown = sorted(set(names or []) - set(chosen) - set(chosen_samplers))
    if unknown:
        raise ValueError(f"names: expected some of {sorted({*chosen, *chosen_samplers})}, got "
                         f"{unknown}")
    manifest = _manifest()
    kept = {e["file"]: e for e in manifest.get("models", [])}
    kept_samplers = {e["file"]: e for e in manifest.get("samplers", [])}
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
    _write_manifest(kept, kept_samplers)  # the samplers below load these models

    for name, (model_name, sampler) in chosen_samplers.items():
        if names and name not in names and FOLDER / f"{model_name}.npz" not in written:
            continue
        dataset, settings = chosen[model_name]
        settings = dict(settings)
        model = train(settings.pop("kind"), dataset, verbose=False, **settings)
        if model.source != "shipped":
            raise RuntimeError(f"{model_name}: its shipped weights did not load; ship it first")
        start = time.perf_counter()
        sampler.fit(model.encode(as_dataset(dataset).x_train))
        seconds = time.perf_counter() - start
        written.append(_write_sampler(f"{name}.npz", sampler))
        kept_samplers[written[-1].name] = {
            "file": written[-1].name,
            "sha256": hashlib.sha256(written[-1].read_bytes()).hexdigest(),
            "model": f"{model_name}.npz", "model_sha256": kept[f"{model_name}.npz"]["sha256"],
            "sampler": describe(sampler), "seconds": seconds, **_split_state(sampler)[1]}
        _write_manifest(kept, kept_samplers)
    return written


def _write_manifest(models: dict, samplers: dict) -> None:
    _atomic_write(FOLDER / MANIFEST, json.dumps(
        {"models": sorted(models.values(), key=lambda e: e["file"]),
         "samplers": sorted(samplers.values(), key=lambda e: e["file"])}, indent=1).encode())


def _split_state(sampler: Any) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """A fitted sampler's state (its attributes ending in ``_``) as arrays for the npz file, and
    the rest for the manifest: {"state": numbers and lists, "lists": lengths of array lists}."""
    arrays, state, lists = {}, {}, {}
    for name, value in sampler.__getstate__().items():
        if not name.endswith("_") or name.startswith("_"):
            continue  # parameters and scikit-learn's bookkeeping: not fitted state
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
            lists[name] = len(value)
            arrays.update({f"{name}/{i}": v for i, v in enumerate(value)})
        else:
            json.dumps(value)  # a TypeError here: a state genlab cannot ship
            state[name] = value
    return arrays, {"state": state, "lists": lists}


def _write_sampler(filename: str, sampler: Any) -> Path:
    # As fitted (a flow in float64): a few hundred kB, and rounding would move its samples.
    buffer = io.BytesIO()
    np.savez(buffer, **_split_state(sampler)[0])
    path = FOLDER / filename
    _atomic_write(path, buffer.getvalue())
    return path


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

    parser = argparse.ArgumentParser(description="Retrain the book's models and flows and ship "
                                                 "them with genlab (genlab/weights).")
    names = sorted({*book.shipped_models(), *book.shipped_samplers()})
    parser.add_argument("names", nargs="*", help=f"some of {names} (default: all)")
    args = parser.parse_args(argv)
    for path in ship(args.names or None):
        print(path)


if __name__ == "__main__":
    main()
