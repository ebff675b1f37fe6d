"""The one training entry point: deterministic, cached on disk, and equally quiet either way.

``train`` trains a model once and keeps its weights and history under ``GENLAB_CACHE``; the next
call with the same arguments loads them and prints the very same epoch lines.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import genlab
import genlab.models
from genlab import cache
from genlab import pretrained as pretrained_weights
from genlab.data import Dataset, as_dataset, check_images, check_number
from genlab.models import MODELS

__all__ = ["TrainedModel", "train", "compare", "set_determinism", "CACHED_CODES"]

# Encoding this many images at once is cached: a dataset split takes seconds in float64 (see
# encode), and even 3 000 images took 0.2 s, mostly making the float64 encoder; a hit, 10 ms.
CACHED_CODES = 1000


@dataclass(eq=False)
class TrainedModel:
    """A trained model with its training history, and where its weights came from."""

    kind: str
    dataset: str
    model: keras.Model
    history: dict[str, list[float]]
    seconds: float
    """Wall time of the training run that produced these weights (not of loading them)."""
    path: Path
    """The cache entry (not written if the cache folder is unusable), or the shipped weights
    file (``source == "shipped"``)."""
    source: str
    """``"trained"`` just now, loaded from the ``"cache"``, or ``"shipped"`` with genlab."""
    settings: dict
    """What the weights follow from: kind, options, fit arguments, loss, data, architecture."""

    @property
    def from_cache(self) -> bool:
        """Whether the weights were loaded (from the cache or genlab's shipped weights)."""
        return self.source != "trained"

    @property
    def encoder(self) -> keras.Model:
        return self._part("encoder")

    @property
    def decoder(self) -> keras.Model:
        return self._part("decoder")

    @property
    def code_size(self) -> int:
        return int(self.decoder.input.shape[-1])

    def encode(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Codes (n, code_size), float32, of images shaped like the training images (a VAE's:
        the means); the same on every machine, and cached for batches of ``CACHED_CODES`` or more.

        The encoder runs in float64 and its codes are rounded to float32: another processor or
        thread count adds in another order, which moves only float64's last digits, so the codes
        and what is fitted on them (a flow's training amplifies the smallest difference) repeat.
        """
        return self._encoder_outputs(images, batch_size)[0]

    def code_distribution(self, images: np.ndarray,
                          batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """A variational model's means and log-variances (n, code_size) of images' codes, float32,
        computed and cached as ``encode`` computes and caches its codes (the means)."""
        if len(self.encoder.outputs) != 2:
            raise AttributeError(
                f"a {self.kind} model has no code distribution: its encoder gives one code per "
                "image, and only variational autoencoders ('vae', 'conv_vae') give a mean and a "
                "log-variance; use encode for this model's codes.")
        mean, log_var = self._encoder_outputs(images, batch_size)
        return mean, log_var

    def _encoder_outputs(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        """The encoder's outputs stacked, (outputs, n, code_size): ``encode``'s way, cached."""
        images = check_images(images, image_shape=tuple(self.model.input.shape[1:]))
        if len(images) < CACHED_CODES:
            return self._encode(images, batch_size)
        key = cache.key({"weights": cache.array_digest(*self.encoder.get_weights()),
                         "architecture": self.settings["architecture"],
                         "images": cache.array_digest(images),
                         "genlab": cache.code_digest(genlab.models, sys.modules[__name__])})
        codes, _ = cache.fetch(cache.directory() / f"codes-{self.kind}-{key[:16]}", key,
                               "codes.npy", lambda: (self._encode(images, batch_size), {}),
                               lambda value, f: np.save(f, value), np.load,
                               redo="the images are encoded again")
        return codes

    def _encode(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        outputs = genlab.models.predict(self._encoder64, images.astype(np.float64), batch_size)
        # A variational encoder gives [mean, log-variance]; a plain one, its codes alone.
        return np.stack(outputs if isinstance(outputs, (list, tuple)) else [outputs]
                        ).astype(np.float32)

    @functools.cached_property
    def _encoder64(self) -> keras.Model:
        """The encoder with float64 layers and weights (its weights as they are now)."""
        double = keras.models.clone_model(self.encoder, clone_function=lambda layer: (
            type(layer).from_config({**layer.get_config(), "dtype": "float64"})))
        double.set_weights([w.astype(np.float64) for w in self.encoder.get_weights()])
        return double

    def decode(self, codes: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Images decoded from codes of shape (n, code_size)."""
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            raise ValueError(
                f"codes: expected shape (n, {self.code_size}) for this {self.kind} model, got "
                f"{codes.shape}; sample codes of size {self.code_size} (a single code needs "
                "code[None])."
            )
        if len(codes) == 0:
            raise ValueError(f"codes: expected at least one code, got shape {codes.shape}; pass "
                             "a non-empty batch.")
        if not np.isfinite(codes).all():
            raise ValueError("codes: expected finite numbers, got NaN or inf; check the sampler.")
        return genlab.models.predict(self.decoder, codes, batch_size)

    def reconstruct(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Images passed through encoder and decoder."""
        return self.decode(self.encode(images, batch_size), batch_size)

    def reconstruction_errors(self, images: np.ndarray) -> np.ndarray:
        """Mean squared pixel error of each image's reconstruction, shape (n,)."""
        images = check_images(images, image_shape=tuple(self.model.input.shape[1:]))
        return ((self.reconstruct(images) - images) ** 2).mean(axis=(1, 2, 3))

    def _part(self, name: str) -> keras.Model:
        if MODELS[self.kind].target != "images":
            raise AttributeError(f"a {self.kind} model has no {name}: only autoencoders do.")
        return self.model.get_layer(name)


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow globally (with ``genlab.seed``) and make TensorFlow's
    kernels deterministic: a training repeats exactly on one machine with one thread count."""
    keras.utils.set_random_seed(genlab.seed(seed))
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
    pretrained: bool = True,
    **options,
) -> TrainedModel:
    """Train a model of ``kind`` (one of ``genlab.models.MODELS``, where ``genlab.models.register``
    adds your own) on a dataset, or load it.

    Loads, in this order: the weights shipped with genlab for exactly these settings and data
    (``pretrained``; see ``genlab.pretrained``), the cache, else trains and caches. ``options`` go
    to the model's builder (``code_size=32`` for the autoencoders); ``loss`` replaces the kind's
    usual loss. Loaded or trained, it prints the same epoch lines.
    """
    if kind not in MODELS:
        raise ValueError(f"kind: expected one of {sorted(MODELS)}, got {kind!r}; register a model "
                         "of your own with genlab.models.register first.")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}.")
    # Plain ints: a numpy int would enter the settings (and the cache key) as a string.
    epochs, batch_size = int(epochs), int(batch_size)
    check_number(learning_rate, "learning_rate", hint=", e.g. 1e-3")
    data = as_dataset(dataset)
    spec = MODELS[kind]
    if spec.target == "labels":
        options.setdefault("num_classes", data.num_classes)

    set_determinism(seed)
    model = spec.build(data.image_shape, **options)
    # 32 steps per call into TensorFlow: the same weights bit for bit (measured), and 10 % (fully
    # connected) to 20 % (convolutional) faster on two CPU cores, with fewer Python round trips.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss or spec.loss,
                  metrics=list(spec.metrics), steps_per_execution=32)
    settings = _settings(kind, model, data, options, loss or spec.loss,
                         dict(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                              seed=genlab.seed(seed)))
    label = f"{kind}/{data.name}"

    found = pretrained_weights.load(settings, model) if pretrained else None
    if found is None:
        key = _cache_key(settings, model)
        entry = cache.directory() / f"{kind}-{data.name}-{key[:16]}"
        meta = _load_entry(entry, key, model)
        found = None if meta is None else (entry, "cache", meta)
    if found is not None:
        path, source, meta = found
        if verbose:
            for epoch in range(epochs):
                print(_epoch_line(label, epoch, epochs, meta["history"]), flush=True)
        return TrainedModel(kind, data.name, model, meta["history"], meta["seconds"], path,
                            source, settings)

    for name in ("x_train", "x_val"):
        check_images(getattr(data, name), f"dataset.{name}", data.image_shape)
    # Warned before the long training, which then runs and returns its model all the same.
    cacheable = cache.usable()
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
    if cacheable:
        _save_entry(entry, model, {"key": key, "history": history, "seconds": seconds,
                                   "kind": kind, "dataset": data.name, "epochs": epochs,
                                   "options": options, "loss": loss,
                                   "genlab": genlab.__version__})
    return TrainedModel(kind, data.name, model, history, seconds, entry, "trained", settings)


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


# The layer settings that decide what a model computes, named alike in every Keras 3 release.
_FORWARD_CONFIG = ("units", "activation", "filters", "kernel_size", "strides", "padding",
                   "target_shape", "rate", "kl_weight", "use_bias")


def _layers(model: keras.Model):
    """The model's own layers, sub-models opened up (public API only)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _settings(kind: str, model: keras.Model, data: Dataset, options: dict, loss: Any,
              fit: dict) -> dict:
    """Everything the trained weights follow from, as JSON: the key of genlab's shipped weights,
    and (with the full layer configs and versions) of the cache."""
    architecture = []
    for layer in _layers(model):
        config = layer.get_config()
        # Not the layer's name: Keras numbers unnamed layers on through a session (dense_1, ...).
        architecture.append([type(layer).__name__,
                             {k: config[k] for k in _FORWARD_CONFIG if k in config},
                             [list(w.shape) for w in layer.weights]])
    described = {
        "kind": kind, "options": options, "fit": fit,
        "loss": loss if isinstance(loss, str) else repr(loss),
        # The arrays themselves, not the dataset's name: a changed image changes the key.
        "data": cache.array_digest(data.x_train, data.y_train, data.x_val, data.y_val),
        "architecture": architecture,
    }
    return json.loads(json.dumps(described, default=str))


def _cache_key(settings: dict, model: keras.Model) -> str:
    """A digest of everything that changes the trained weights, for the cache."""
    return cache.key({
        **settings,
        "configs": [{k: v for k, v in layer.get_config().items() if k != "name"}
                    for layer in _layers(model)],
        "genlab": cache.code_digest(genlab.models, sys.modules[__name__]),
        "keras": keras.__version__,
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
