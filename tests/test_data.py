import hashlib
import tarfile
from pathlib import Path

import numpy as np
import pytest

from genlab import cache, data

from conftest import tiny_images, write_cifar_archive

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_mnist_from_folder_is_float_nhwc_in_unit_range(data_dir):
    d = data.load_dataset("mnist", validation_size=50)
    assert d.x_train.shape == (250, 28, 28, 1) and d.x_val.shape == (50, 28, 28, 1)
    assert d.x_test.shape == (100, 28, 28, 1)
    for x in (d.x_train, d.x_val, d.x_test):
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() == 1.0
    assert d.y_train.dtype == np.int64 and set(d.y_test) == set(range(10))
    assert d.num_classes == 10 and d.image_shape == (28, 28, 1)


def test_validation_split_is_fixed_disjoint_and_complete(data_dir):
    a = data.load_dataset("mnist", validation_size=50, seed=3)
    b = data.load_dataset("mnist", validation_size=50, seed=3)
    c = data.load_dataset("mnist", validation_size=50, seed=4)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert cache.array_digest(a.x_train) == cache.array_digest(b.x_train)
    assert cache.array_digest(a.x_train) != cache.array_digest(
        data.load_dataset("mnist", validation_size=60, seed=3).x_train)
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)
    # Together the two parts are exactly the original training set.
    original = np.load(data_dir / "mnist.npz")["x_train"].astype(np.float32) / 255
    together = np.concatenate([a.x_train, a.x_val])[..., 0]
    assert sorted(map(bytes, together)) == sorted(map(bytes, original))


def test_fashion_mnist_idx_files(data_dir):
    d = data.load_dataset("fashion_mnist", validation_size=10)
    assert d.x_train.shape == (290, 28, 28, 1) and d.x_test.shape == (100, 28, 28, 1)
    expected = tiny_images(100, seed=2).astype(np.float32) / 255
    np.testing.assert_array_equal(d.x_test[..., 0], expected)
    assert d.class_names[9] == "Ankle boot"


@pytest.mark.parametrize("form", ["archive", "folder"])
def test_cifar10_python_batches(tmp_path, monkeypatch, form):
    folder = tmp_path / "cifar-data"
    folder.mkdir()
    archive = folder / "cifar-10-python.tar.gz"
    train_images = write_cifar_archive(archive, per_batch=12)
    if form == "folder":
        with tarfile.open(archive) as t:
            t.extractall(folder, filter="data")
        archive.unlink()
    monkeypatch.setenv("GENLAB_DATA", str(folder))
    d = data.load_dataset("cifar10", validation_size=6)
    assert d.x_train.shape == (54, 32, 32, 3) and d.x_test.shape == (12, 32, 32, 3)
    assert d.image_shape == (32, 32, 3) and d.class_names[0] == "airplane"
    # Channels land last and pixel for pixel where the dataset puts them.
    together = np.concatenate([d.x_train, d.x_val])
    expected = train_images.astype(np.float32) / 255
    assert sorted(map(bytes, together)) == sorted(map(bytes, expected))


def test_unknown_dataset_names_the_choices(data_dir):
    with pytest.raises(ValueError, match=r"name: expected one of .*'mnist'.*got 'mnsit'"):
        data.load_dataset("mnsit")


def test_missing_data_folder_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="GENLAB_DATA.*not a folder.*unset it"):
        data.load_dataset("mnist")


def test_missing_files_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no fashion_mnist.*'fashion-mnist'"):
        data.load_dataset("fashion_mnist")


def test_checksum_mismatch_is_reported(data_dir):
    (data_dir / "SHA256SUMS").write_text("0" * 64 + "  mnist.npz\n")
    with pytest.raises(ValueError, match="mnist.npz: checksum .* corrupt"):
        data.load_dataset("mnist")
    digest = hashlib.sha256((data_dir / "mnist.npz").read_bytes()).hexdigest()
    (data_dir / "SHA256SUMS").write_text(f"{digest}  mnist.npz\n")
    assert len(data.load_dataset("mnist", validation_size=50).x_test) == 100


def test_wrong_image_shape_is_reported(data_dir):
    np.savez(data_dir / "mnist.npz", x_train=np.zeros((10, 27, 27), np.uint8),
             y_train=np.zeros(10, np.uint8), x_test=np.zeros((5, 27, 27), np.uint8),
             y_test=np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"mnist \(train split\): images of shape \(27, 27, 1\)"):
        data.load_dataset("mnist")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [_truncate, lambda path: path.write_bytes(b""),
                                    lambda path: np.savez(path, x_train=np.zeros((2, 28, 28)))],
                         ids=["truncated", "empty", "missing arrays"])
def test_a_damaged_mnist_file_is_named_with_what_to_do(data_dir, damage):
    damage(data_dir / "mnist.npz")
    with pytest.raises(ValueError,
                       match=r"mnist.npz: cannot be read .*replace it with the original"):
        data.load_dataset("mnist")


def test_a_damaged_fashion_mnist_file_is_named_with_what_to_do(data_dir):
    damaged = data_dir / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    _truncate(damaged)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: cannot be read .*"
                                         "replace it with the original"):
        data.load_dataset("fashion_mnist")
    damaged.write_bytes(b"")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: cannot be read"):
        data.load_dataset("fashion_mnist")


def test_check_images_returns_float32_or_says_what_is_wrong():
    images = np.full((3, 28, 28, 1), 0.5)
    checked = data.check_images(images, image_shape=(28, 28, 1))
    assert checked.dtype == np.float32 and checked.shape == (3, 28, 28, 1)
    uint8 = np.full((3, 28, 28, 1), 255, np.uint8)
    for bad, message in [
        (uint8, r"images: expected pixel values in \[0, 1\], got range \[255, 255\]; divide "
                "uint8 images by 255"),
        (np.where(images > 0, np.nan, images), "images: expected finite numbers"),
        *[(np.where(np.arange(images.size).reshape(images.shape) == 7, value, images),
           "images: expected finite numbers") for value in (np.nan, np.inf, -np.inf)],
        (images.astype(str), "images: expected finite numbers.*non-numeric"),
        (images[:0], "images: expected at least 1 image, got 0; pass a non-empty batch"),
        (images[0], r"images: expected shape \(n, 28, 28, 1\), got \(28, 28, 1\); add the batch "
                    r"axis with images\[None\]"),
        (images[..., 0], r"add the channel axis with images\[..., None\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            data.check_images(bad, image_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="batch: expected at least 5 images, got 3"):
        data.check_images(images, "batch", min_images=5)


def test_a_dataset_is_a_name_or_a_dataset(data_dir):
    loaded = data.load_dataset("mnist", validation_size=50)
    assert data.as_dataset(loaded) is loaded
    with pytest.raises(ValueError, match="dataset: expected a dataset name .* or a "
                                         "genlab.data.Dataset, got int 42"):
        data.as_dataset(42)
    with pytest.raises(ValueError, match=r"name: expected one of .*got \['mnist'\]"):
        data.load_dataset(["mnist"])


def test_bad_validation_size(data_dir):
    with pytest.raises(ValueError, match="validation_size: expected an int between 1 and 299"):
        data.load_dataset("mnist", validation_size=300)


def test_keras_download_used_without_data_folder(monkeypatch):
    import keras

    monkeypatch.delenv("GENLAB_DATA", raising=False)
    split = lambda n: (tiny_images(n), np.arange(n) % 10)  # noqa: E731
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (split(40), split(20)))
    d = data.load_dataset("mnist", validation_size=10)
    assert d.x_train.shape == (30, 28, 28, 1)

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(RuntimeError, match="could not download.*set GENLAB_DATA"):
        data.load_dataset("mnist")


def test_tables(data_dir):
    d = data.load_dataset("mnist", validation_size=50)
    counts = data.class_counts(d)
    assert list(counts.columns) == ["train", "validation", "test"]
    assert counts["train"].sum() == 250 and (counts["test"] == 10).all()
    stats = data.pixel_statistics(d)
    assert ((stats["share == 0"] >= 0) & (stats["share == 1"] <= 1)).all()
    assert stats.loc["test", "mean"] == pytest.approx(d.x_test.mean())


@pytest.mark.skipif(not SHARED.is_dir(), reason="the project's shared data folder is not beside it")
def test_real_mnist_matches_its_readme(monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(SHARED))
    d = data.load_dataset("mnist")
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (55000, 5000, 10000)
    assert data.class_counts(d)["test"].tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                      1028, 974, 1009]


def test_is_available_follows_the_data_folder(data_dir, tmp_path, monkeypatch):
    assert data.is_available("mnist") and data.is_available("fashion_mnist")
    assert not data.is_available("cifar10")
    write_cifar_archive(data_dir / "cifar-10-python.tar.gz", per_batch=2)
    assert data.is_available("cifar10")
    # Without a data folder Keras downloads the data: available (given internet).
    monkeypatch.delenv("GENLAB_DATA")
    assert data.is_available("cifar10")
    with pytest.raises(ValueError, match="name: expected one of .*got 'cifar'"):
        data.is_available("cifar")
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="GENLAB_DATA.*not a folder"):
        data.is_available("mnist")


def test_loaded_arrays_are_read_only_so_an_edit_fails_instead_of_changing_results(data_dir):
    d = data.load_dataset("mnist", validation_size=50)
    for x in (d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, d.y_test):
        assert cache.frozen(x)
    with pytest.raises(ValueError, match="read-only"):
        d.x_train[0, 0, 0, 0] = 0.5
    copy = d.x_train.copy()
    copy[0, 0, 0, 0] = 0.5  # a copy is the student's own to change
    assert cache.array_digest(copy) != cache.array_digest(d.x_train)
    # Pixels are exactly k / 255 in float32, as Keras' own x / 255 gives them.
    original = np.load(data_dir / "mnist.npz")["x_test"]
    np.testing.assert_array_equal(d.x_test[..., 0], original.astype(np.float32) / np.float32(255))
