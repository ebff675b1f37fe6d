"""The book's models: a fully connected and a convolutional autoencoder, and an evaluation CNN.

Each autoencoder is a model named ``autoencoder`` made of two sub-models, ``encoder`` (image to
code) and ``decoder`` (code to image), so either half can be used alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

__all__ = ["MODELS", "ModelKind", "dense_autoencoder", "conv_autoencoder", "classifier"]


def dense_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    hidden: tuple[int, ...] = (512, 256),
) -> keras.Model:
    """Fully connected autoencoder: image -> hidden layers -> code -> mirrored layers -> image."""
    _check_code_size(code_size)
    pixels = image_shape[0] * image_shape[1] * image_shape[2]

    image = keras.Input(image_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    # A linear code: nothing bounds or squashes it, which is what makes "sampling" it hard.
    code = layers.Dense(code_size, name="code")(x)
    encoder = keras.Model(image, code, name="encoder")

    code_in = keras.Input((code_size,), name="code")
    x = code_in
    for i, units in enumerate(reversed(hidden)):
        x = layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    # Sigmoid keeps every pixel in [0, 1], the range of the data, and pairs with cross-entropy.
    x = layers.Dense(pixels, activation="sigmoid", name="pixels")(x)
    decoded = layers.Reshape(image_shape, name="image")(x)
    decoder = keras.Model(code_in, decoded, name="decoder")

    return _join(encoder, decoder, image_shape)


def conv_autoencoder(
    image_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 32,
    filters: tuple[int, ...] = (32, 64),
) -> keras.Model:
    """Convolutional autoencoder: stride-2 convolutions down to a code, transposed ones back up."""
    _check_code_size(code_size)
    height, width, channels = image_shape
    scale = 2 ** len(filters)
    if height % scale or width % scale:
        raise ValueError(
            f"image_shape: expected height and width divisible by {scale} for {len(filters)} "
            f"stride-2 layers, got {image_shape}; use fewer filters or pad the images."
        )

    image = keras.Input(image_shape, name="image")
    x = image
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    code = layers.Dense(code_size, name="code")(x)
    encoder = keras.Model(image, code, name="encoder")

    code_in = keras.Input((code_size,), name="code")
    grid = (height // scale, width // scale, filters[-1])
    x = layers.Dense(grid[0] * grid[1] * grid[2], activation="relu", name="dense")(code_in)
    x = layers.Reshape(grid, name="grid")(x)
    for i, n in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(n, 3, strides=2, padding="same", activation="relu",
                                   name=f"deconv_{i}")(x)
    decoded = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="pixels")(x)
    decoder = keras.Model(code_in, decoded, name="decoder")

    return _join(encoder, decoder, image_shape)


def classifier(image_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> keras.Model:
    """Small CNN that scores generated images; its penultimate layer is named ``features``."""
    image = keras.Input(image_shape, name="image")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_0")(image)
    x = layers.MaxPooling2D(name="pool_0")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_1")(x)
    x = layers.MaxPooling2D(name="pool_1")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    features = layers.Dense(128, activation="relu", name="features")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(features)
    return keras.Model(image, probabilities, name="classifier")


@dataclass(frozen=True)
class ModelKind:
    """How the training entry point builds, compiles and feeds one kind of model."""

    build: Callable[..., keras.Model]
    target: str
    """What the model learns to output: ``"images"`` (its input) or ``"labels"``."""
    loss: str
    metrics: tuple[str, ...]


MODELS: dict[str, ModelKind] = {
    "dense": ModelKind(dense_autoencoder, "images", "binary_crossentropy", ("mse",)),
    "conv": ModelKind(conv_autoencoder, "images", "binary_crossentropy", ("mse",)),
    "classifier": ModelKind(classifier, "labels", "sparse_categorical_crossentropy", ("accuracy",)),
}


def _join(encoder: keras.Model, decoder: keras.Model, image_shape) -> keras.Model:
    image = keras.Input(image_shape, name="image")
    return keras.Model(image, decoder(encoder(image)), name="autoencoder")


def _check_code_size(code_size: int) -> None:
    if not isinstance(code_size, int) or isinstance(code_size, bool) or code_size < 1:
        raise ValueError(
            f"code_size: expected a positive int (the number of code dimensions), got "
            f"{code_size!r}; pass for example code_size=32."
        )
