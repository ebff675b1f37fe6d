import hashlib
import json

import numpy as np
import pytest

from genlab import book, data, pretrained, training

TINY = dict(kind="dense", epochs=1, code_size=3, batch_size=50, hidden=(16,))


@pytest.fixture
def tiny(data_dir):
    return data.load_dataset("mnist", validation_size=50)


@pytest.fixture
def shipped(tiny, tmp_path, monkeypatch):
    """genlab's shipped weights replaced by one tiny model, shipped by `pretrained.ship`."""
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "weights")
    monkeypatch.setattr(book, "shipped_models", lambda: {"tiny": (tiny, dict(TINY))})
    pretrained.ship()
    return tmp_path / "weights"


def train(tiny, **kw):
    settings = dict(TINY, **kw)
    return training.train(settings.pop("kind"), tiny, **settings)


def test_ship_writes_float16_weights_and_a_manifest_with_checksums(shipped, tiny):
    [entry] = json.loads((shipped / "manifest.json").read_text())["models"]
    path = shipped / entry["file"]
    assert entry["file"] == "tiny.npz"
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with np.load(path) as stored:
        assert {stored[k].dtype for k in stored.files} == {np.dtype(np.float16)}
    assert entry["settings"]["options"] == {"code_size": 3, "hidden": [16]}
    assert len(entry["history"]["loss"]) == 1 and entry["seconds"] > 0
    assert not list(shipped.glob(".tmp-*"))


def test_exactly_the_shipped_settings_load_the_shipped_weights(shipped, tiny, capsys):
    capsys.readouterr()
    loaded = train(tiny)
    assert loaded.source == "shipped" and loaded.path == shipped / "tiny.npz"
    cached = train(tiny, pretrained=False)  # the cache entry that ship() trained
    assert cached.source == "cache"
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == printed[1] and printed[0].startswith("dense/mnist epoch 1/1  loss ")
    for a, b in zip(loaded.model.get_weights(), cached.model.get_weights()):
        np.testing.assert_array_equal(a, b.astype(np.float16).astype(np.float32))
    assert loaded.history == cached.history and loaded.settings == cached.settings
    assert train(tiny, epochs=2).source == "trained"  # other settings: not shipped


def test_other_data_or_another_seed_never_loads_shipped_weights(shipped, tiny, monkeypatch):
    changed = data.load_dataset("mnist", validation_size=50)
    changed.x_train[0, 0, 0, 0] = 1 - changed.x_train[0, 0, 0, 0]  # one pixel, in place
    assert train(changed).source == "trained"
    monkeypatch.setenv("GENLAB_SEED_OFFSET", "1")
    assert train(tiny).source == "trained"


def test_corrupt_shipped_weights_warn_and_train_instead(shipped, tiny):
    (shipped / "tiny.npz").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=r"tiny.npz does not match its checksum.*trained instead"
                                         r".*python -m genlab.pretrained"):
        assert train(tiny).source == "cache"
    (shipped / "tiny.npz").unlink()
    with pytest.warns(UserWarning, match="tiny.npz is missing"):
        train(tiny)


def test_an_unreadable_manifest_says_what_to_do(shipped, tiny):
    (shipped / "manifest.json").write_text("{ truncated")
    with pytest.raises(RuntimeError, match="manifest.json: unreadable.*reinstall genlab"):
        train(tiny)


def test_ship_refuses_unknown_names(shipped):
    with pytest.raises(ValueError, match=r"names: expected some of \['tiny'\], got \['vae'\]"):
        pretrained.ship(["vae"])


def test_genlab_ships_every_book_model_small_and_intact():
    """The repository's own weights: one file per book model, each matching its checksum."""
    entries = {e["file"]: e for e in pretrained.entries()}
    assert sorted(entries) == sorted(f"{name}.npz" for name in book.shipped_models())
    for name, (_, preset) in book.shipped_models().items():  # trained with the book's presets
        settings, preset = entries[f"{name}.npz"]["settings"], dict(preset)
        assert settings["kind"] == preset.pop("kind"), name
        assert settings["fit"]["epochs"] == preset.pop("epochs"), name
        assert settings["loss"] == preset.pop("loss", settings["loss"]), name
        assert preset.items() <= settings["options"].items(), name
    total = 0
    for name, entry in entries.items():
        payload = (pretrained.FOLDER / name).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == entry["sha256"], name
        total += len(payload)
    assert total < 40e6  # small enough to ship to every Colab session
