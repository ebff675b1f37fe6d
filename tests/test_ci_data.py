"""The datasets command (.ci/data) that GitHub's runners use: what it fetches, where, its check."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
_spec = importlib.util.spec_from_file_location("ci_data", ROOT / ".ci" / "data.py")
ci_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ci_data)


def test_it_fetches_mnist_and_fashion_mnist_but_never_cifar10():
    # Chapter 8 is stored saying CIFAR-10 is skipped, which nbval checks word for word: a data
    # folder with CIFAR-10 in it (from a CI machine's internet) would switch its part on.
    assert sorted(ci_data.FILES) == ["fashion-mnist/t10k-images-idx3-ubyte.gz",
                                     "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                                     "fashion-mnist/train-images-idx3-ubyte.gz",
                                     "fashion-mnist/train-labels-idx1-ubyte.gz", "mnist.npz"]


def test_it_fetches_what_is_missing_in_the_projects_layout_and_keeps_the_rest(tmp_path,
                                                                              monkeypatch):
    source = tmp_path / "source"
    source.mkdir()
    urls = {}
    for name in ci_data.FILES:
        (source / Path(name).name).write_bytes(name.encode())
        urls[name] = (source / Path(name).name).as_uri()
    monkeypatch.setattr(ci_data, "FILES", urls)
    folder = tmp_path / "shared" / "data"
    (folder / "fashion-mnist").mkdir(parents=True)
    (folder / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"kept")
    fetched = ci_data.fetch(folder)
    assert sorted(fetched) == sorted(set(urls) - {"fashion-mnist/t10k-labels-idx1-ubyte.gz"})
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*")) == sorted(urls)
    assert (folder / "mnist.npz").read_bytes() == b"mnist.npz"
    assert (folder / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == b"kept"
    assert ci_data.fetch(folder) == []


def test_a_failed_download_names_the_url_and_leaves_no_partial_file(tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere.npz").as_uri()
    monkeypatch.setattr(ci_data, "FILES", {"mnist.npz": missing})
    with pytest.raises(SystemExit, match=f"{missing}: the download failed"):
        ci_data.fetch(tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []


def test_the_default_folder_is_genlab_data_else_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    assert ci_data.default_folder() == tmp_path
    monkeypatch.delenv("GENLAB_DATA")
    assert ci_data.default_folder() == SHARED


@pytest.mark.skipif(not SHARED.is_dir(), reason="the project's shared data folder is not beside it")
def test_the_projects_copy_passes_the_check_and_other_arrays_do_not(monkeypatch):
    monkeypatch.setenv("GENLAB_DATA", str(SHARED))  # check() sets it: restored after the test
    assert ci_data.check(SHARED) == {}
    monkeypatch.setitem(ci_data.TEST_DIGESTS, "mnist", "0" * 64)
    assert ci_data.check(SHARED) == {"mnist": "its test arrays are not those of the project's copy"}
