"""Datasets as float32 images in [0, 1] (NHWC) with labels, and a fixed validation split.

Reads the local folder named by ``GENLAB_DATA`` (Keras' own cache layout) when it is set, and
falls back to Keras' download otherwise (Colab).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import numbers
import os
import pickle
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genlab import cache

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DATASETS", "Dataset", "DatasetInfo", "load_dataset", "data_dir", "is_available",
           "as_dataset", "check_images", "check_number", "class_counts", "pixel_statistics"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is: image shape, class names and where Keras keeps it."""

    name: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    files: tuple[str, ...]
    """Relative paths under ``GENLAB_DATA`` that hold it (any one of them is enough)."""


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", (28, 28, 1), tuple(str(d) for d in range(10)), ("mnist.npz",)
    ),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist",
        (28, 28, 1),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        ("fashion-mnist",),
    ),
    "cifar10": DatasetInfo(
        "cifar10",
        (32, 32, 3),
        ("airplane", "automobile", "bird", "cat", "deer",
         "dog", "frog", "horse", "ship", "truck"),
        ("cifar-10-batches-py", "cifar-10-python.tar.gz"),
    ),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train, validation and test images (float32, [0, 1], NHWC) with integer labels.

    ``load_dataset``'s arrays are read-only: change a copy, e.g. ``x = mnist.x_train.copy()``.
    """

    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.info.image_shape

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def num_classes(self) -> int:
        return len(self.info.class_names)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
                f"test={len(self.x_test)}, image_shape={self.image_shape})")


def data_dir() -> Path | None:
    """The local data folder named by ``GENLAB_DATA``, or None where it is unset."""
    value = os.environ.get("GENLAB_DATA", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(
            f"GENLAB_DATA: expected a folder holding the datasets, got {str(path)!r}, which "
            "is not a folder; point GENLAB_DATA at the data folder (the project's "
            "../shared/data), or unset it to let Keras download the data."
        )
    return path


def is_available(name: str) -> bool:
    """Whether ``load_dataset(name)`` can get the data: it is in ``GENLAB_DATA``, or that is unset
    (Keras will download it, which needs internet)."""
    info = _info(name)
    folder = data_dir()
    return folder is None or any((folder / f).exists() for f in info.files)


def _info(name: str) -> DatasetInfo:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(
            f"name: expected one of {sorted(DATASETS)}, got {name!r}; pick a dataset from "
            "genlab.data.DATASETS."
        )
    return DATASETS[name]


def load_dataset(name: str, *, validation_size: int = 5000, seed: int = 0) -> Dataset:
    """Load a dataset by name (see ``DATASETS``) with a validation split carved from train; its
    arrays are read-only (copy one to change it)."""
    info = _info(name)
    folder = data_dir()
    raw = _read_local(info, folder) if folder is not None else _download(info)
    (x_train, y_train), (x_test, y_test) = (_checked(info, split, *arrays)
                                            for split, arrays in zip(("train", "test"), raw))
    if not isinstance(validation_size, (int, np.integer)) or not 0 < validation_size < len(x_train):
        raise ValueError(
            f"validation_size: expected an int between 1 and {len(x_train) - 1}, got "
            f"{validation_size!r}; pass how many training images to hold out."
        )
    # A fixed permutation: the same images are held out on every machine and in every chapter.
    held_out = np.zeros(len(x_train), dtype=bool)
    held_out[np.random.default_rng(seed).permutation(len(x_train))[:validation_size]] = True
    arrays = (_to_float(x_train[~held_out]), y_train[~held_out],
              _to_float(x_train[held_out]), y_train[held_out], _to_float(x_test), y_test)
    # Read-only, so genlab hashes each once for its caches' keys (see cache.frozen), and an
    # in-place edit fails loudly instead of changing every later result.
    for array in arrays:
        array.flags.writeable = False
    return Dataset(info, *arrays)


def as_dataset(dataset: str | Dataset) -> Dataset:
    """The dataset named (loaded with the default split), or a ``Dataset`` as it is."""
    if isinstance(dataset, str):
        return load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise ValueError(
            f"dataset: expected a dataset name (one of {sorted(DATASETS)}) or a "
            f"genlab.data.Dataset, got {type(dataset).__name__} {dataset!r}; pass e.g. 'mnist' "
            "or genlab.data.load_dataset('mnist')."
        )
    return dataset


def check_images(images: np.ndarray, name: str = "images",
                 image_shape: tuple[int, ...] | None = None, min_images: int = 1) -> np.ndarray:
    """Return images as float32 NHWC in [0, 1], or raise a ValueError naming the argument."""
    images = np.asarray(images)
    expected = f"(n, {', '.join(map(str, image_shape))})" if image_shape else "(n, H, W, C)"
    if image_shape is not None and images.shape[1:] != tuple(image_shape):
        if images.shape == tuple(image_shape):
            hint = "add the batch axis with images[None]"
        elif images.shape[1:] == tuple(image_shape[:-1]) and image_shape[-1] == 1:
            hint = "add the channel axis with images[..., None]"
        else:
            hint = "pass images of the same size as the reference images"
        raise ValueError(f"{name}: expected shape {expected}, got {images.shape}; {hint}")
    if images.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D array {expected} (NHWC), got shape "
                         f"{images.shape}; add the channel axis with images[..., None]")
    if images.shape[0] < min_images:
        raise ValueError(f"{name}: expected at least {min_images} image"
                         f"{'s' if min_images > 1 else ''}, got {images.shape[0]}; pass a "
                         f"{'larger' if min_images > 1 else 'non-empty'} batch")
    if not np.issubdtype(images.dtype, np.number):
        lo = hi = float("nan")
    else:
        # min and max carry a NaN through, and an inf is out of range: no pass for finiteness.
        lo, hi = cache.once("range", (images,), lambda: (float(images.min()), float(images.max())))
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name}: expected finite numbers, got NaN/inf or non-numeric values "
                         f"(dtype {images.dtype}); check the data, decoder or sampler they came "
                         "from")
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name}: expected pixel values in [0, 1], got range [{lo:.3g}, "
                         f"{hi:.3g}]; divide uint8 images by 255 or clip the decoder output")
    return images.astype(np.float32, copy=False)


def check_number(value: Any, name: str, *, zero_allowed: bool = False, hint: str = "") -> float:
    """``value`` as a float if it is a finite number > 0 (>= 0 if ``zero_allowed``), else a
    ValueError naming it; ``hint`` follows what was expected (e.g. ", e.g. 1e-3")."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0 or (value == 0 and not zero_allowed)):
        expected = "a number >= 0" if zero_allowed else "a positive number"
        raise ValueError(f"{name}: expected {expected}{hint}, got {value!r}")
    return float(value)


def _to_float(images: np.ndarray) -> np.ndarray:
    images = images.astype(np.float32)
    images /= np.float32(255.0)  # in place: a second 170 MB array took 0.5 s to allocate
    return images


def _checked(info: DatasetInfo, split: str, images: np.ndarray, labels: np.ndarray):
    """Bring images to NHWC uint8 and labels to int64, or say clearly what is wrong."""
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if images.ndim == 3 and info.image_shape[2] == 1:
        images = images[..., None]
    problem = None
    if images.dtype != np.uint8:
        problem = f"pixels of type {images.dtype}, expected uint8"
    elif images.shape[1:] != info.image_shape:
        problem = f"images of shape {images.shape[1:]}, expected {info.image_shape}"
    elif len(images) != len(labels):
        problem = f"{len(images)} images but {len(labels)} labels"
    elif len(labels) and (labels.min() < 0 or labels.max() >= len(info.class_names)):
        problem = f"labels outside 0..{len(info.class_names) - 1}"
    if problem:
        raise ValueError(
            f"{info.name} ({split} split): {problem}; the files are not the dataset genlab "
            "expects: replace them with the original ones (see the data folder's README)."
        )
    return images, labels


def _read_local(info: DatasetInfo, folder: Path):
    present = [folder / f for f in info.files if (folder / f).exists()]
    if not present:
        raise FileNotFoundError(
            f"GENLAB_DATA={str(folder)!r} has no {info.name}: expected "
            f"{' or '.join(repr(f) for f in info.files)} in it (Keras' cache layout). Put the "
            "dataset there, or unset GENLAB_DATA to let Keras download it (needs internet)."
        )
    _verify_checksums(folder, present[0])
    reader = {"mnist": _read_npz, "fashion_mnist": _read_idx, "cifar10": _read_cifar}
    return reader[info.name](present[0])


def _verify_checksums(folder: Path, target: Path) -> None:
    """Check every file of ``target`` listed in the folder's SHA256SUMS, if it has one."""
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        expected, rel = parts[0], parts[1].lstrip("*")
        path = folder / rel
        if path != target and target not in path.parents:
            continue
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: listed in {sums} but missing; restore the data folder from its source."
            )
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise ValueError(
                f"{path}: checksum {actual[:12]}… does not match {expected[:12]}… in {sums}; "
                "the file is corrupt or was replaced: restore it from the data folder's source."
            )


# What a truncated, empty or foreign data file raises while it is read.
_UNREADABLE = (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error,
               tarfile.TarError, pickle.UnpicklingError)


@contextlib.contextmanager
def _reading(path: Path):
    """Turn what a damaged data file raises while it is read into a ValueError naming it."""
    try:
        yield
    except (FileNotFoundError, PermissionError):
        raise  # missing or locked, not damaged: their own message names the file
    except _UNREADABLE as error:
        raise ValueError(
            f"{path}: cannot be read ({type(error).__name__}: {error}); the file is truncated, "
            "empty or not the original: replace it with the original one (see the data "
            "folder's README)."
        ) from error


def _read_npz(path: Path):
    with _reading(path), np.load(path) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx(folder: Path):
    def idx(stem: str, offset: int, shape: tuple[int, ...]) -> np.ndarray:
        path = folder / f"{stem}.gz"
        with _reading(path), gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset).reshape(shape)

    return tuple(
        (idx(f"{prefix}-images-idx3-ubyte", 16, (-1, 28, 28)),
         idx(f"{prefix}-labels-idx1-ubyte", 8, (-1,)))
        for prefix in ("train", "t10k")
    )


def _read_cifar(path: Path):
    """CIFAR-10's python batches, from the extracted folder or straight from the archive."""
    names = [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]
    with _reading(path):
        if path.is_dir():
            load = lambda member: (path / member).read_bytes()  # noqa: E731
            return _cifar_splits(names, load)
        with tarfile.open(path, "r:gz") as archive:
            load = lambda member: archive.extractfile(f"cifar-10-batches-py/{member}").read()  # noqa: E731
            return _cifar_splits(names, load)


def _cifar_splits(names, load):
    splits = []
    for members in names:
        batches = [pickle.loads(load(m), encoding="bytes") for m in members]
        images = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([b[b"labels"] for b in batches])
        splits.append((images.transpose(0, 2, 3, 1), labels))
    return tuple(splits)


def _download(info: DatasetInfo):
    import keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist,
              "cifar10": keras.datasets.cifar10}[info.name]
    try:
        return loader.load_data()
    except Exception as error:  # noqa: BLE001 - any download failure gets the same advice
        raise RuntimeError(
            f"{info.name}: GENLAB_DATA is unset and Keras could not download the data "
            f"({type(error).__name__}: {error}). Offline, set GENLAB_DATA to a folder that "
            f"holds {' or '.join(info.files)} (Keras' cache layout)."
        ) from error


def class_counts(dataset: Dataset) -> pd.DataFrame:
    """Images per class in each split, with the class names as the index."""
    import pandas as pd

    return pd.DataFrame(
        {split: np.bincount(labels, minlength=dataset.num_classes)
         for split, labels in (("train", dataset.y_train), ("validation", dataset.y_val),
                               ("test", dataset.y_test))},
        index=pd.Index(dataset.class_names, name="class"),
    )


def pixel_statistics(dataset: Dataset) -> pd.DataFrame:
    """Mean, spread and share of blank (0) and saturated (1) pixels in each split."""
    import pandas as pd

    rows = {}
    for split, images in (("train", dataset.x_train), ("validation", dataset.x_val),
                          ("test", dataset.x_test)):
        rows[split] = {"mean": images.mean(), "std": images.std(),
                       "share == 0": (images == 0).mean(), "share == 1": (images == 1).mean()}
    return pd.DataFrame(rows).T.astype(float)
