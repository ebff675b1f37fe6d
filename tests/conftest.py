"""Shared fixtures: small datasets written in the real on-disk layouts, a private cache, and
the book's HTML site built once per test session."""

import builtins
import errno
import gzip
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pytest

# Imported here, before any test module: importing genlab quiets TensorFlow before that loads.
from genlab import cache as genlab_cache

# The cache this run was started with (GENLAB_CACHE, else ~/.cache/genlab), which no test of the
# library may touch; and the scratch cache they all use instead.
USER_CACHE = pytest.StashKey[Path]()
SCRATCH_CACHE = pytest.StashKey[Path]()
TESTS = Path(__file__).resolve().parent


def pytest_configure(config):
    config.stash[USER_CACHE] = genlab_cache.directory()
    config.stash[SCRATCH_CACHE] = Path(tempfile.mkdtemp(prefix="genlab-test-cache-"))


def pytest_unconfigure(config):
    shutil.rmtree(config.stash[SCRATCH_CACHE], ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Each test of tests/ runs, from its fixtures' setup to their teardown (module- and
    session-scoped ones included), on the scratch cache; `private_cache` then gives the test its
    own. The chapters (nbval) keep the cache the run was given: their kernels start in here."""
    if not item.path.is_relative_to(TESTS):
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENLAB_CACHE", str(item.config.stash[SCRATCH_CACHE]))
        return (yield)


def tiny_images(n: int, shape=(28, 28), seed: int = 0) -> np.ndarray:
    """uint8 images with a bright square in a label-dependent corner, so models can learn them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 30, size=(n, *shape), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i % 4, 2)
        images[i, r * 14: r * 14 + 10, c * 14: c * 14 + 10] = 255
    return images


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Every test gets its own model cache; the user's cache is never touched."""
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def registry():
    """genlab.models.MODELS as it was before the test, whatever the test registers."""
    from genlab import models

    before = dict(models.MODELS)
    yield models.MODELS
    models.MODELS.clear()
    models.MODELS.update(before)


@pytest.fixture(scope="session")
def user_cache(pytestconfig) -> Path:
    """The cache the run was started with: tests check that they never see it."""
    return pytestconfig.stash[USER_CACHE]


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)`` makes an existing folder read-only for the test. Its mode does that,
    except for root, whom modes do not stop: then writes into it fail as they would otherwise."""
    folders = []

    def inside(path) -> bool:
        if isinstance(path, int):  # a file descriptor
            return False
        target = Path(os.fsdecode(path)).absolute()
        return any(target == f or f in target.parents for f in folders)

    def guard(real, writes=lambda *args, **kwargs: True):
        def guarded(path, *args, **kwargs):
            if inside(path) and writes(*args, **kwargs):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return real(path, *args, **kwargs)
        return guarded

    if os.geteuid() == 0:
        for name in ("mkdir", "rename", "replace", "unlink", "rmdir"):
            monkeypatch.setattr(os, name, guard(getattr(os, name)))
        monkeypatch.setattr(os, "open", guard(
            os.open, lambda flags, *args, **kwargs: flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)))
        write_mode = lambda mode="r", *args, **kwargs: any(c in mode for c in "wax+")  # noqa: E731
        monkeypatch.setattr(builtins, "open", guard(builtins.open, write_mode))
        monkeypatch.setattr(io, "open", guard(io.open, write_mode))

    def make(folder: Path) -> Path:
        folder.chmod(0o555)
        folders.append(folder.absolute())
        return folder

    yield make
    for folder in folders:
        folder.chmod(0o755)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A GENLAB_DATA folder with a tiny MNIST (300 train, 100 test) and Fashion-MNIST."""
    folder = tmp_path / "data"
    folder.mkdir()
    labels = lambda n: (np.arange(n) % 10).astype(np.uint8)  # noqa: E731
    np.savez(folder / "mnist.npz", x_train=tiny_images(300), y_train=labels(300),
             x_test=tiny_images(100, seed=1), y_test=labels(100))
    fashion = folder / "fashion-mnist"
    fashion.mkdir()
    for prefix, n in (("train", 300), ("t10k", 100)):
        header = np.array([2051, n, 28, 28], dtype=">i4").tobytes()
        (fashion / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(header + tiny_images(n, seed=2).tobytes()))
        header = np.array([2049, n], dtype=">i4").tobytes()
        (fashion / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(header + labels(n).tobytes()))
    monkeypatch.setenv("GENLAB_DATA", str(folder))
    return folder


def write_cifar_archive(path, per_batch: int = 12, seed: int = 0) -> np.ndarray:
    """A CIFAR-10 python-format archive with five small training batches and a test batch.

    Returns the training images as the dataset defines them, (n, 32, 32, 3) uint8, for checks.
    """
    rng = np.random.default_rng(seed)
    members, train_images = {}, []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        if name != "test_batch":
            train_images.append(images)
        # The python batches store each image as 3072 bytes: the red plane, then green, then blue.
        rows = images.transpose(0, 3, 1, 2).reshape(per_batch, 3072)
        labels = list(rng.integers(0, 10, per_batch))
        members[name] = pickle.dumps({b"data": rows, b"labels": labels})
    members["batches.meta"] = pickle.dumps({b"label_names": [b"airplane"] * 10})
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return np.concatenate(train_images)


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    """The README's HTML build (warnings as errors) into a scratch folder, once per session.

    Returns the folder holding index.html; every test that needs the site shares this build.
    """
    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root),
         "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        pytest.fail("the HTML build failed:\n" + result.stdout[-4000:] + result.stderr[-4000:])
    return out / "_build" / "html"
