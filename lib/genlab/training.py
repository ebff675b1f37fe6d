"""The one training entry point: deterministic, cached on disk, and equally quiet either way.

``train`` trains a model once and keeps its weights and history under ``GENLAB_CACHE``; the next
call with the same arguments loads them and prints the very same epoch lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import genlab
from genlab import cache
from genlab.data import Dataset, load_dataset
from genlab.models import MODELS

import keras  # noqa: E402  (after genlab, which quiets TensorFlow before it loads)
import tensorflow as tf  # noqa: E402

__all__ = ["TrainedModel", "train", "autoencoders", "variational_autoencoder",
           "set_determinism", "compare", "AUTOENCODERS", "VARIATIONAL", "CIFAR10_AUTOENCODERS"]

# The book's two autoencoders as the training chapter trains them; later chapters load these.
AUTOENCODERS = {
    "fully connected": dict(kind="dense", epochs=15, code_size=32),
    "convolutional": dict(kind="conv", epochs=5, code_size=32),
}
# The variational autoencoder: the fully connected one's shape, epochs and code size, so the two
# compare; its codes are pushed towards N(0, I), so it is sampled from that prior.
VARIATIONAL = dict(kind="vae", epochs=15, code_size=32)
# CIFAR-10's 32 x 32 colour photos hold far more than a digit: its autoencoder is convolutional
# only, one stride-2 layer deeper (a 4 x 4 grid of 128 filters) and with a code of 256 numbers.
CIFAR10_AUTOENCODERS = {
    "convolutional": dict(kind="conv", epochs=10, code_size=256, filters=(32, 64, 128)),
}


@dataclass(eq=False)
class TrainedModel:
    """A trained model with its training history, and where it is cached."""

    kind: str
    dataset: str
    model: keras.Model
    history: dict[str, list[float]]
    seconds: float
    """Wall time of the training run that produced these weights (not of loading them)."""
    path: Path
    from_cache: bool

    @property
    def encoder(self) -> keras.Model:
        return self._part("encoder")

    @property
    def decoder(self) -> keras.Model:
        return self._part("decoder")

    @property
    def code_size(self) -> int:
        return int(self.encoder.output.shape[-1])

    def encode(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Codes (n, code_size) of images shaped like the training images."""
        expected = tuple(self.model.input.shape[1:])
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(
                f"images: expected a batch of shape (n, {', '.join(map(str, expected))}), got "
                f"{images.shape}; add the batch axis (images[None]) or the channel axis "
                "(images[..., None]) as needed."
            )
        return self.encoder.predict(images, batch_size=batch_size, verbose=0)

    def decode(self, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Images decoded from codes of shape (n, code_size)."""
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            raise ValueError(
                f"codes: expected shape (n, {self.code_size}) for this {self.kind} model, got "
                f"{codes.shape}; sample codes of size {self.code_size} (a single code needs "
                "code[None])."
            )
        if not np.isfinite(codes).all():
            raise ValueError("codes: expected finite numbers, got NaN or inf; check the sampler.")
        return self.decoder.predict(codes, batch_size=batch_size, verbose=0)

    def reconstruct(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Images passed through encoder and decoder."""
        return self.decode(self.encode(images, batch_size), batch_size)

    def reconstruction_errors(self, images: np.ndarray) -> np.ndarray:
        """Mean squared pixel error of each image's reconstruction, shape (n,)."""
        images = np.asarray(images, dtype=np.float32)
        return ((self.reconstruct(images) - images) ** 2).mean(axis=(1, 2, 3))

    def _part(self, name: str) -> keras.Model:
        if MODELS[self.kind].target != "images":
            raise AttributeError(f"a {self.kind} model has no {name}: only autoencoders do.")
        return self.model.get_layer(name)


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(
    kind: str,
    dataset: str | Dataset = "mnist",
    *,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    loss: str | None = None,
    verbose: bool = True,
    **options,
) -> TrainedModel:
    """Train a model of ``kind`` (see ``genlab.models.MODELS``) on a dataset, or load it from cache.

    ``options`` go to the model's builder (``code_size=32`` for the autoencoders); ``loss``
    replaces the kind's usual loss.
    """
    if kind not in MODELS:
        raise ValueError(f"kind: expected one of {sorted(MODELS)}, got {kind!r}.")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}.")
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    spec = MODELS[kind]
    if spec.target == "labels":
        options.setdefault("num_classes", data.num_classes)

    set_determinism(seed)
    model = spec.build(data.image_shape, **options)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss or spec.loss,
                  metrics=list(spec.metrics))
    key = _cache_key(kind, model, data, options,
                     dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                          seed=seed))
    label = f"{kind}/{data.name}"
    entry = cache.directory() / f"{kind}-{data.name}-{key[:16]}"

    meta = _load_entry(entry, key, model)
    if meta is not None:
        if verbose:
            for epoch in range(epochs):
                print(_epoch_line(label, epoch, epochs, meta["history"]), flush=True)
        return TrainedModel(kind, data.name, model, meta["history"], meta["seconds"], entry, True)

    target = (lambda split: split[0]) if spec.target == "images" else (lambda split: split[1])
    start = time.perf_counter()
    fit = model.fit(
        data.x_train, target((data.x_train, data.y_train)),
        validation_data=(data.x_val, target((data.x_val, data.y_val))),
        epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
        callbacks=[_EpochLines(label, epochs)] if verbose else [],
    )
    seconds = time.perf_counter() - start
    history = {name: [float(v) for v in values] for name, values in fit.history.items()}
    _save_entry(entry, model, {"key": key, "history": history, "seconds": seconds,
                               "kind": kind, "dataset": data.name, "epochs": epochs,
                               "options": options, "loss": loss, "genlab": genlab.__version__})
    return TrainedModel(kind, data.name, model, history, seconds, entry, False)


def autoencoders(dataset: str | Dataset = "mnist", *, settings: dict[str, dict] | None = None,
                 verbose: bool = False) -> dict[str, TrainedModel]:
    """The book's autoencoders for a dataset (cached): ``AUTOENCODERS``, on CIFAR-10
    ``CIFAR10_AUTOENCODERS``, or those of ``settings`` ({name: ``train`` arguments with kind}).

    Quiet by default: one line per model, the same whether it was trained or loaded.
    """
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    if settings is None:
        settings = CIFAR10_AUTOENCODERS if data.name == "cifar10" else AUTOENCODERS
    if not isinstance(settings, dict) or not settings or not all(
            isinstance(s, dict) and "kind" in s for s in settings.values()):
        raise ValueError(
            f"settings: expected a non-empty dict {{name: dict(kind=..., epochs=..., ...)}}, got "
            f"{settings!r}; pass e.g. {{'convolutional': dict(kind='conv', epochs=5, "
            "code_size=32)}, or None for the book's autoencoders.")
    return {name: _book_model(f"{name} autoencoder", model_settings, data, verbose)
            for name, model_settings in settings.items()}


def variational_autoencoder(dataset: str | Dataset = "mnist", *,
                            verbose: bool = False) -> TrainedModel:
    """The book's variational autoencoder for a dataset (cached), with the ``VARIATIONAL`` settings.

    Quiet by default: one line, the same whether it was trained or loaded.
    """
    data = load_dataset(dataset) if isinstance(dataset, str) else dataset
    return _book_model("variational autoencoder", VARIATIONAL, data, verbose)


def _book_model(title: str, settings: dict, data: Dataset, verbose: bool) -> TrainedModel:
    """Train or load one of the book's autoencoders; unless verbose, print its one summary line."""
    settings = dict(settings)
    trained = train(settings.pop("kind"), data, verbose=verbose, **settings)
    if not verbose:
        print(f"{title} on {data.name}: code size {trained.code_size}, "
              f"{len(trained.history['loss'])} epochs, validation MSE "
              f"{trained.history['val_mse'][-1]:.4f}")
    return trained


def compare(models: dict[str, TrainedModel], test_images: np.ndarray) -> pd.DataFrame:
    """Size, training length and test-set reconstruction error of autoencoders, side by side."""
    rows = {}
    for name, trained in models.items():
        rows[name] = {
            "encoder parameters": trained.encoder.count_params(),
            "decoder parameters": trained.decoder.count_params(),
            "epochs": len(trained.history["loss"]),
            "validation MSE": trained.history["val_mse"][-1],
            "test MSE": float(trained.reconstruction_errors(test_images).mean()),
        }
    return pd.DataFrame(rows).T.astype({"encoder parameters": int, "decoder parameters": int,
                                        "epochs": int})


def _cache_key(kind: str, model: keras.Model, data: Dataset, options: dict, fit: dict) -> str:
    """A digest of everything that changes the trained weights."""
    architecture = [
        (layer.__class__.__name__,
         {k: v for k, v in layer.get_config().items() if k != "name"})
        for layer in model._flatten_layers(include_self=False, recursive=True)
    ]
    return cache.key({
        "kind": kind, "options": options, "fit": fit, "data": data.fingerprint,
        "architecture": architecture, "loss": str(model.loss),
        "genlab": genlab.__version__, "keras": keras.__version__,
    })


def _load_entry(entry: Path, key: str, model: keras.Model) -> dict | None:
    """The stored metadata after loading the weights into ``model``; None on a miss."""
    def read(path: Path) -> None:
        with np.load(path) as stored:
            model.set_weights([stored[f"w{i}"] for i in range(len(stored.files))])

    found = cache.load(entry, key, read, redo="the model is trained again")
    return None if found is None else found[1]


def _save_entry(entry: Path, model: keras.Model, meta: dict) -> None:
    # The model's weights alone, no optimizer state: the architecture comes from genlab's code, so
    # weights of another architecture fail to load instead of loading wrongly.
    weights = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    cache.save(entry, "weights.npz", lambda f: np.savez(f, **weights), meta)


def _epoch_line(label: str, epoch: int, epochs: int, history: dict[str, list[float]]) -> str:
    values = "  ".join(f"{name} {values[epoch]:.4f}" for name, values in history.items())
    return f"{label} epoch {epoch + 1:>{len(str(epochs))}}/{epochs}  {values}"


class _EpochLines(keras.callbacks.Callback):
    """One compact line per epoch, the same line a cached run replays from the history."""

    def __init__(self, label: str, epochs: int):
        super().__init__()
        self.label, self.epochs = label, epochs
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        print(_epoch_line(self.label, epoch, self.epochs, self.history), flush=True)
