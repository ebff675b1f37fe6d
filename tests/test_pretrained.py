import dataclasses
import hashlib
import json

import numpy as np
import pytest

from genlab import book, data, pretrained, training
from genlab.samplers import Flow, describe

TINY = dict(kind="dense", epochs=1, code_size=3, batch_size=50, hidden=(16,))
TINY_FLOW = dict(n_layers=2, hidden_units=8, epochs=1, batch_size=1024)


@pytest.fixture
def tiny(data_dir):
    return data.load_dataset("mnist", validation_size=50)


@pytest.fixture
def shipped(tiny, tmp_path, monkeypatch):
    """genlab's shipped weights replaced by one tiny model, shipped by `pretrained.ship`."""
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "weights")
    monkeypatch.setattr(book, "shipped_models", lambda: {"tiny": (tiny, dict(TINY))})
    monkeypatch.setattr(book, "shipped_samplers",
                        lambda: {"tiny-flow": ("tiny", Flow(**TINY_FLOW))})
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
    loaded = data.load_dataset("mnist", validation_size=50)
    changed = dataclasses.replace(loaded, x_train=loaded.x_train.copy())  # loaded is read-only
    changed.x_train[0, 0, 0, 0] = 1 - changed.x_train[0, 0, 0, 0]  # one pixel
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
    with pytest.raises(ValueError, match=r"names: expected some of \['tiny', 'tiny-flow'\], got "
                                         r"\['vae'\]"):
        pretrained.ship(["vae"])


def test_ship_fits_the_flow_on_the_shipped_models_codes_and_keeps_it_float64(shipped, tiny):
    manifest = json.loads((shipped / "manifest.json").read_text())
    [model], [entry] = manifest["models"], manifest["samplers"]
    path = shipped / entry["file"]
    assert entry["file"] == "tiny-flow.npz" and entry["model"] == "tiny.npz"
    assert entry["model_sha256"] == model["sha256"]
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["sampler"] == describe(Flow(**TINY_FLOW)) and entry["seconds"] > 0
    assert len(entry["state"]["loss_history_"]) == 1 and entry["state"]["code_size_"] == 3
    with np.load(path) as stored:
        assert {stored[k].dtype for k in stored.files} == {np.dtype(np.float64)}
        assert len([k for k in stored.files if k.startswith("model_/")]) == entry["lists"]["model_"]

    loaded = Flow(**TINY_FLOW)
    assert pretrained.load_sampler(train(tiny), loaded)
    fitted = Flow(**TINY_FLOW).fit(train(tiny).encode(tiny.x_train))  # the same fit, here
    np.testing.assert_array_equal(loaded.sample(50, seed=3), fitted.sample(50, seed=3))
    np.testing.assert_array_equal(loaded.mean_, fitted.mean_)
    assert loaded.loss_history_ == fitted.loss_history_


def test_fit_samplers_loads_shipped_fits_and_fits_the_rest_on_the_training_codes(shipped, tiny):
    from genlab.samplers import ClassConditional, Gaussian

    model = train(tiny)
    lineup = {"flow": Flow(**TINY_FLOW), "other flow": Flow(**TINY_FLOW, l2=1e-3),
              "per class": ClassConditional(Gaussian("diag"))}
    seconds = pretrained.fit_samplers(model, lineup, tiny)
    assert list(seconds) == list(lineup) and all(v >= 0 for v in seconds.values())
    [entry] = json.loads((shipped / "manifest.json").read_text())["samplers"]
    assert seconds["flow"] == entry["seconds"]  # loaded: the seconds of the fit that made it
    shipped_fit = Flow(**TINY_FLOW)
    assert pretrained.load_sampler(model, shipped_fit)
    np.testing.assert_array_equal(lineup["flow"].sample(20, seed=1), shipped_fit.sample(20, seed=1))
    # The others are fitted on the model's codes of the training images, with their labels.
    codes = model.encode(tiny.x_train)
    np.testing.assert_allclose(lineup["other flow"].mean_, Flow(**TINY_FLOW, l2=1e-3).fit(
        codes).mean_)
    assert sorted(lineup["per class"].classes_) == sorted(set(tiny.y_train))


def test_a_shipped_fit_loads_only_for_its_parameters_on_its_shipped_model(shipped, tiny):
    cached = train(tiny, pretrained=False)  # the same settings, but not the shipped weights
    for model, sampler in [(cached, Flow(**TINY_FLOW)), (train(tiny), Flow(**TINY_FLOW, l2=1e-3)),
                           (train(tiny, epochs=2), Flow(**TINY_FLOW))]:
        assert not pretrained.load_sampler(model, sampler)
        assert not hasattr(sampler, "model_")  # left unfitted
    manifest = json.loads((shipped / "manifest.json").read_text())
    manifest["samplers"][0]["model_sha256"] = "0" * 64  # fitted on other weights: stale
    (shipped / "manifest.json").write_text(json.dumps(manifest))
    assert not pretrained.load_sampler(train(tiny), Flow(**TINY_FLOW))


def test_a_corrupt_shipped_fit_warns_and_is_fitted_instead(shipped, tiny):
    (shipped / "tiny-flow.npz").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=r"tiny-flow.npz does not match its checksum.*sampler is "
                                         r"fitted instead.*python -m genlab.pretrained"):
        assert not pretrained.load_sampler(train(tiny), Flow(**TINY_FLOW))


def test_reshipping_a_model_refits_its_flow(shipped, tiny, monkeypatch):
    before = json.loads((shipped / "manifest.json").read_text())
    monkeypatch.setattr(book, "shipped_models", lambda: {"tiny": (tiny, dict(TINY, seed=1))})
    written = pretrained.ship(["tiny"])
    assert [p.name for p in written] == ["tiny.npz", "tiny-flow.npz"]
    after = json.loads((shipped / "manifest.json").read_text())
    assert after["models"][0]["sha256"] != before["models"][0]["sha256"]
    assert after["samplers"][0]["model_sha256"] == after["models"][0]["sha256"]
    assert pretrained.load_sampler(train(tiny, seed=1), Flow(**TINY_FLOW))


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
    models = entries
    samplers = {e["file"]: e for e in pretrained.sampler_entries()}
    assert sorted(samplers) == sorted(f"{name}.npz" for name in book.shipped_samplers())
    for name, (model, sampler) in book.shipped_samplers().items():  # fitted on today's weights
        entry = samplers[f"{name}.npz"]
        assert entry["model"] == f"{model}.npz", name
        assert entry["model_sha256"] == models[f"{model}.npz"]["sha256"], name
        assert entry["sampler"] == describe(sampler), name
    total = 0
    for name, entry in {**models, **samplers}.items():
        payload = (pretrained.FOLDER / name).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == entry["sha256"], name
        total += len(payload)
    assert total < 50e6  # small enough to ship to every Colab session
