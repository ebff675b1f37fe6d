"""The book's models: dense and convolutional autoencoders, plain and variational, and an
evaluation CNN.

Each autoencoder is a model named ``autoencoder`` made of two sub-models, ``encoder`` (image to
code) and ``decoder`` (code to image), so either half can be used alone. A variational one's
``encoder`` gives two outputs, the mean code and its log-variance, from one pass.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

import genlab

# In Jupyter, TensorFlow's logger otherwise switches itself to INFO on stdout at first use, and
# its retracing notes would land in the stored outputs.
tf.get_logger().setLevel("ERROR")

__all__ = ["MODELS", "ModelKind", "register", "dense_autoencoder", "variational_autoencoder",
           "Sampling", "reconstruction", "conv_autoencoder", "conv_variational_autoencoder",
           "classifier", "predict"]


def dense_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    hidden: tuple[int, ...] = (512, 256),
) -> keras.Model:
    """Fully connected autoencoder: image -> hidden layers -> code -> mirrored layers -> image."""
    _check_code_size(code_size)
    return _autoencoder(_dense_trunk(image_shape, hidden), code_size,
                        lambda: _dense_decoder(image_shape, code_size, hidden))


@keras.saving.register_keras_serializable(package="genlab")
class Sampling(layers.Layer):
    """Draws z = mean + exp(log_var / 2) * noise and adds the KL divergence to N(0, I) as a loss.

    ``kl_weight`` scales the per-image KL (summed over code dimensions, averaged over the batch);
    the metric ``kl`` tracks it unweighted, in nats per image. Outside training it returns the
    mean, so evaluation and reconstructions are deterministic.
    """

    def __init__(self, kl_weight: float = 1.0, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kl_weight = float(kl_weight)
        self.seed = int(seed)
        # A layer-owned seed generator: the draws repeat run to run, and the layer serialises.
        self.seed_generator = keras.random.SeedGenerator(genlab.seed(self.seed))
        # A metric the layer owns: Keras 3's Model.metrics gathers its sublayers' metrics, so
        # fit's history gets ``kl`` and ``val_kl`` (add_metric, which did this in Keras 2, is
        # gone). Its variables are not weights: the architecture and the weights stay the same.
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, inputs, training=None):
        mean, log_var = inputs
        kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
        self.add_loss(self.kl_weight * ops.mean(kl))
        self.kl_tracker.update_state(kl)
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * noise

    def get_config(self) -> dict:
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed}


def variational_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    hidden: tuple[int, ...] = (512, 256),
    beta: float = 1.0,
    seed: int = 0,
) -> keras.Model:
    """The fully connected autoencoder made variational: codes are pushed towards N(0, I).

    ``encoder`` maps images to ``[mean, log_var]`` (two heads on the same hidden layers, computed
    once per step); ``decoder`` is the dense autoencoder's. The KL term is divided by the number
    of pixels because the compiled loss is a per-pixel mean: with ``beta=1`` the total is the
    negative ELBO per pixel.
    """
    _check_code_size(code_size)
    _check_beta(beta)
    return _autoencoder(_dense_trunk(image_shape, hidden), code_size,
                        lambda: _dense_decoder(image_shape, code_size, hidden), beta=beta,
                        seed=seed)


def conv_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    filters: tuple[int, ...] = (32, 64),
) -> keras.Model:
    """Convolutional autoencoder: stride-2 convolutions down to a code, transposed ones back up."""
    _check_code_size(code_size)
    _check_halvable(image_shape, filters)
    return _autoencoder(_conv_trunk(image_shape, filters), code_size,
                        lambda: _conv_decoder(image_shape, code_size, filters))


def conv_variational_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    filters: tuple[int, ...] = (32, 64),
    beta: float = 1.0,
    seed: int = 0,
) -> keras.Model:
    """The convolutional autoencoder made variational, as ``variational_autoencoder`` makes the
    fully connected one: ``encoder`` gives ``[mean, log_var]``, the KL term is per pixel."""
    _check_code_size(code_size)
    _check_beta(beta)
    _check_halvable(image_shape, filters)
    return _autoencoder(_conv_trunk(image_shape, filters), code_size,
                        lambda: _conv_decoder(image_shape, code_size, filters), beta=beta,
                        seed=seed)


def reconstruction(images, decoded):
    """A VAE's reconstruction term: binary cross-entropy summed over each image's pixels, in nats
    (with ``beta=1``, ``reconstruction + kl`` is the negative ELBO per image)."""
    per_pixel = ops.binary_crossentropy(images, decoded)
    return ops.sum(ops.reshape(per_pixel, (ops.shape(per_pixel)[0], -1)), axis=-1)


def classifier(image_shape: tuple[int, int, int] = (28, 28, 1),
               num_classes: int = 10) -> keras.Model:
    """Small CNN that scores generated images; its penultimate layer is named ``features``."""
    # The convolutional encoder's stride-2 layers rather than full-resolution ones and pooling: on
    # two CPU cores this trains about seven times faster for a few tenths of a percent of accuracy.
    image, x = _conv_trunk(image_shape, (32, 64))
    x = layers.Dropout(0.3, name="dropout")(x)
    features = layers.Dense(128, activation="relu", name="features")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(features)
    return keras.Model(image, probabilities, name="classifier")


def predict(model: keras.Model, inputs: np.ndarray, batch_size: int = 1024) -> np.ndarray | list:
    """``model.predict(inputs, batch_size=batch_size)``'s numbers (a list for several outputs),
    batch by batch through one compiled function per model, without predict's per-call set-up."""
    if len(inputs) == 0:
        raise ValueError(f"inputs: expected at least one row, got shape {np.shape(inputs)}; pass "
                         "a non-empty batch")
    call = _compiled.get(model)
    if call is None:
        # predict's own compiled step costs 0.1 s per call (a tf.data pipeline, retracing):
        # more than the model itself for the book's batches. A weak reference, so that the
        # function does not keep its model alive.
        ref = weakref.ref(model)
        call = _compiled[model] = tf.function(lambda batch: ref()(batch, training=False),
                                              reduce_retracing=True)
    batches = [call(tf.convert_to_tensor(inputs[i:i + batch_size]))
               for i in range(0, len(inputs), batch_size)]
    if isinstance(batches[0], (list, tuple)):
        return [np.concatenate([np.asarray(b[k]) for b in batches])
                for k in range(len(batches[0]))]
    return np.concatenate([np.asarray(b) for b in batches])


_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ModelKind:
    """How the training entry point builds, compiles and feeds one kind of model."""

    build: Callable[..., keras.Model]
    target: str
    """What the model learns to output: ``"images"`` (its input) or ``"labels"``."""
    loss: str
    metrics: tuple[str | Callable, ...]
    """Keras metric names, or metric functions (y_true, y_pred) -> one value per image."""


MODELS: dict[str, ModelKind] = {
    "dense": ModelKind(dense_autoencoder, "images", "binary_crossentropy", ("mse",)),
    "vae": ModelKind(variational_autoencoder, "images", "binary_crossentropy",
                     ("mse", reconstruction)),
    "conv": ModelKind(conv_autoencoder, "images", "binary_crossentropy", ("mse",)),
    "conv_vae": ModelKind(conv_variational_autoencoder, "images", "binary_crossentropy",
                          ("mse", reconstruction)),
    "classifier": ModelKind(classifier, "labels", "sparse_categorical_crossentropy", ("accuracy",)),
}


def register(name: str, build: Callable[..., keras.Model], *, target: str, loss: str,
             metrics: Sequence[str] = ()) -> ModelKind:
    """Add a kind of model to ``MODELS``: ``training.train(name, ...)`` then builds, trains and
    caches it like the book's. ``build(image_shape, **options)`` returns an uncompiled model that
    outputs images, or, for ``target="labels"``, class probabilities (it also gets num_classes)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}; pass e.g. 'my model'.")
    if not callable(build):
        raise ValueError(f"build: expected a function (image_shape, **options) -> keras.Model, got "
                         f"{type(build).__name__}; pass the function itself, not a model it built.")
    if target not in ("images", "labels"):
        raise ValueError(f"target: expected 'images' (an autoencoder) or 'labels' (a classifier), "
                         f"got {target!r}.")
    if not isinstance(loss, str) or not loss:
        raise ValueError(f"loss: expected the name of a Keras loss, got {loss!r}; pass e.g. "
                         "'binary_crossentropy'.")
    if not (isinstance(metrics, (list, tuple)) and all(isinstance(m, str) and m for m in metrics)):
        raise ValueError(f"metrics: expected a sequence of Keras metric names, got {metrics!r}; "
                         "pass e.g. ('mse',).")
    known = MODELS.get(name)
    # A notebook cell run again defines its build function anew: the same name, the same build.
    if known is not None and not _same_function(known.build, build):
        built_by = getattr(known.build, "__qualname__", repr(known.build))
        raise ValueError(f"name: expected a new name, got {name!r}, which is already built by "
                         f"{built_by}; pick another name for your model.")
    MODELS[name] = ModelKind(build, target, loss, tuple(metrics))
    return MODELS[name]


def _same_function(a: Callable, b: Callable) -> bool:
    """Whether ``b`` is ``a``, or ``a``'s definition run again (same module, same name)."""
    def where(f: Callable) -> tuple:
        return getattr(f, "__module__", None), getattr(f, "__qualname__", None)

    return a is b or (where(a) == where(b) and None not in where(a))


def _dense_trunk(image_shape, hidden) -> tuple:
    """The encoder's input and its hidden layers' output (flatten, then ReLU Dense layers)."""
    image = keras.Input(image_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    return image, x


def _conv_trunk(image_shape, filters) -> tuple:
    """The input and its features: ReLU stride-2 convolutions, each halving the size, flattened."""
    image = keras.Input(image_shape, name="image")
    x = image
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}")(x)
    return image, layers.Flatten(name="flatten")(x)


def _dense_decoder(image_shape, code_size: int, hidden) -> keras.Model:
    """Code -> the hidden layers mirrored -> pixels, as a model named ``decoder``."""
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    code_in = keras.Input((code_size,), name="code")
    x = code_in
    for i, units in enumerate(reversed(hidden)):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    # Sigmoid keeps every pixel in [0, 1], the range of the data, and pairs with cross-entropy.
    x = layers.Dense(pixels, activation="sigmoid", name="pixels")(x)
    return keras.Model(code_in, layers.Reshape(image_shape, name="image")(x), name="decoder")


def _conv_decoder(image_shape, code_size: int, filters) -> keras.Model:
    """Code -> a Dense layer onto the encoder's last grid -> transposed convolutions, each
    doubling the size -> pixels, as a model named ``decoder``."""
    height, width, channels = image_shape
    scale = 2 ** len(filters)
    code_in = keras.Input((code_size,), name="code")
    grid = (height // scale, width // scale, filters[-1])
    x = layers.Dense(grid[0] * grid[1] * grid[2], activation="relu", name="dense")(code_in)
    x = layers.Reshape(grid, name="grid")(x)
    # The encoder mirrored, its last transposed convolution giving the pixels: a further
    # full-resolution convolution after it would cost four times the rest of the model on a CPU.
    for i, n in enumerate(reversed(filters[:-1])):
        x = layers.Conv2DTranspose(n, 3, strides=2, padding="same", activation="relu",
                                   name=f"deconv_{i}")(x)
    decoded = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="sigmoid",
                                     name="pixels")(x)
    return keras.Model(code_in, decoded, name="decoder")


def _autoencoder(trunk: tuple, code_size: int, build_decoder: Callable[[], keras.Model], *,
                 beta: float | None = None, seed: int = 0) -> keras.Model:
    """An autoencoder on ``trunk`` (the encoder's input and features): one ``code`` head, or,
    given ``beta``, a VAE's ``code_mean`` and ``code_log_var`` heads with ``Sampling`` after."""
    image, x = trunk
    if beta is None:
        # A linear code: nothing bounds or squashes it, which is what makes "sampling" it hard.
        heads = layers.Dense(code_size, name="code")(x)
    else:
        heads = [layers.Dense(code_size, name="code_mean")(x),
                 layers.Dense(code_size, name="code_log_var")(x)]
    encoder = keras.Model(image, heads, name="encoder")
    # Built only now: each layer draws its initial weights when it is made, so the decoder made
    # after the heads keeps the weights (and the shipped ones' settings) of the models as they were.
    decoder = build_decoder()
    image_in = keras.Input(image.shape[1:], name="image")
    code = encoder(image_in)
    if beta is not None:
        # The KL per pixel, as the compiled loss is a per-pixel mean.
        code = Sampling(kl_weight=beta / math.prod(image.shape[1:]), seed=seed,
                        name="sampling")(code)
    return keras.Model(image_in, decoder(code), name="autoencoder")


def _check_beta(beta: float) -> None:
    if not (isinstance(beta, (int, float)) and not isinstance(beta, bool) and beta >= 0):
        raise ValueError(f"beta: expected a number >= 0 (the weight of the KL term), got "
                         f"{beta!r}; pass beta=1.0 for the standard VAE.")


def _check_halvable(image_shape, filters) -> None:
    scale = 2 ** len(filters)
    if image_shape[0] % scale or image_shape[1] % scale:
        raise ValueError(
            f"image_shape: expected height and width divisible by {scale} for {len(filters)} "
            f"stride-2 layers, got {image_shape}; use fewer filters or pad the images."
        )


def _check_code_size(code_size: int) -> None:
    if not isinstance(code_size, int) or isinstance(code_size, bool) or code_size < 1:
        raise ValueError(
            f"code_size: expected a positive int (the number of code dimensions), got "
            f"{code_size!r}; pass for example code_size=32."
        )
