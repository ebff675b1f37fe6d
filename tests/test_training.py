import dataclasses
import json
import warnings

import numpy as np
import pytest

from genlab import data, models, training


@pytest.fixture
def tiny(data_dir):
    return data.load_dataset("mnist", validation_size=50)


def weights(trained):
    return [np.asarray(w) for w in trained.model.get_weights()]


def run(tiny, **kw):
    args = dict(epochs=2, code_size=4, batch_size=50)
    args.update(kw)
    return training.train("dense", tiny, **args)


def test_miss_then_hit_prints_the_same_and_loads_the_same(tiny, capsys, private_cache):
    first = run(tiny)
    printed_cold = capsys.readouterr().out
    second = run(tiny)
    printed_warm = capsys.readouterr().out
    assert first.source == "trained" and second.source == "cache"
    assert printed_cold == printed_warm
    assert printed_cold.splitlines()[0].startswith("dense/mnist epoch 1/2  loss ")
    assert len(printed_cold.splitlines()) == 2
    assert first.history == second.history and first.seconds == second.seconds
    for a, b in zip(weights(first), weights(second)):
        np.testing.assert_array_equal(a, b)
    assert first.path == second.path and first.path.parent == private_cache
    assert sorted(p.name for p in first.path.iterdir()) == ["meta.json", "weights.npz"]


def test_two_cold_runs_are_identical(tiny, monkeypatch, tmp_path):
    first = run(tiny)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "other"))
    second = run(tiny)
    assert not second.from_cache
    assert first.history == second.history
    for a, b in zip(weights(first), weights(second)):
        np.testing.assert_array_equal(a, b)


def test_key_follows_what_changes_the_result(tiny):
    base = run(tiny).path.name
    assert run(tiny, epochs=1).path.name != base
    assert run(tiny, code_size=3).path.name != base
    assert run(tiny, seed=1).path.name != base
    assert run(tiny, loss="mse").path.name != base
    other_split = data.load_dataset("mnist", validation_size=60)
    assert run(other_split).path.name != base
    assert run(tiny).path.name == base


def test_corrupt_weights_are_reported_kept_aside_and_retrained(tiny):
    first = run(tiny)
    (first.path / "weights.npz").write_bytes(b"not an hdf5 file")
    with pytest.warns(UserWarning, match="is corrupt.*moved to .*\\.bad.*trained again"):
        again = run(tiny)
    assert not again.from_cache
    assert (first.path.parent / (first.path.name + ".bad") / "weights.npz").exists()
    for a, b in zip(weights(first), weights(again)):
        np.testing.assert_array_equal(a, b)
    assert run(tiny).from_cache


def test_stale_or_unreadable_metadata_is_not_used(tiny):
    first = run(tiny)
    meta = first.path / "meta.json"
    stored = json.loads(meta.read_text())
    meta.write_text(json.dumps({**stored, "key": "something else"}))
    with pytest.warns(UserWarning, match="is stale"):
        assert not run(tiny).from_cache
    meta.write_text(json.dumps({k: v for k, v in stored.items() if k != "payload"}))
    with pytest.warns(UserWarning, match="is stale"):  # an entry of an older genlab
        assert not run(tiny).from_cache
    meta.write_text("{ truncated")
    with pytest.warns(UserWarning, match="is unreadable"):
        assert not run(tiny).from_cache


def test_an_interrupted_write_is_a_miss_not_a_crash(tiny):
    first = run(tiny)
    (first.path / "meta.json").unlink()  # weights written, metadata never was
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not run(tiny).from_cache


def test_encode_decode_check_their_inputs(tiny):
    trained = run(tiny)
    codes = trained.encode(tiny.x_test[:5])
    assert codes.shape == (5, 4) and trained.code_size == 4
    images = trained.decode(codes)
    assert images.shape == (5, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    assert trained.reconstruction_errors(tiny.x_test[:5]).shape == (5,)
    with pytest.raises(ValueError, match=r"codes: expected shape \(n, 4\).*got \(5, 3\)"):
        trained.decode(codes[:, :3])
    with pytest.raises(ValueError, match="codes: expected finite"):
        trained.decode(np.full((1, 4), np.nan))
    with pytest.raises(ValueError, match=r"images: expected shape \(n, 28, 28, 1\), got "
                                         r"\(5, 28, 28\); add the channel axis"):
        trained.encode(tiny.x_test[:5, ..., 0])


def test_images_are_checked_wherever_they_come_in(tiny):
    trained = run(tiny)
    uint8 = (tiny.x_test[:5] * 255).astype(np.uint8)
    nan = tiny.x_test[:5].copy()
    nan[0, 3, 3, 0] = np.nan
    for method in (trained.encode, trained.reconstruct, trained.reconstruction_errors):
        with pytest.raises(ValueError, match=r"images: expected pixel values in \[0, 1\], got "
                                             r"range \[\d+, 255\]; divide uint8 images by 255"):
            method(uint8)
        with pytest.raises(ValueError, match="images: expected finite numbers"):  # not "codes"
            method(nan)
        with pytest.raises(ValueError, match="images: expected at least 1 image, got 0"):
            method(tiny.x_test[:0])
    with pytest.raises(ValueError, match=r"codes: expected at least one code, got shape \(0, 4\)"):
        trained.decode(np.zeros((0, 4)))


@pytest.mark.parametrize("split, damage, message", [
    ("x_train", lambda x: (x * 255).astype(np.uint8),
     r"dataset.x_train: expected pixel values in \[0, 1\]"),
    ("x_val", lambda x: np.where(x > 0.5, np.nan, x), "dataset.x_val: expected finite numbers"),
])
def test_a_dataset_of_bad_images_is_refused_before_training(tiny, private_cache, capsys, split,
                                                            damage, message):
    bad = dataclasses.replace(tiny, **{split: damage(getattr(tiny, split))})
    with pytest.raises(ValueError, match=message):
        run(bad)
    assert capsys.readouterr().out == "" and not private_cache.exists()


def test_classifier_trains_on_labels(tiny):
    clf = training.train("classifier", tiny, epochs=1, batch_size=50)
    assert "accuracy" in clf.history and "val_accuracy" in clf.history
    with pytest.raises(AttributeError, match="only autoencoders"):
        clf.encoder  # noqa: B018  (reading the attribute is what raises)


def test_compare_table(tiny):
    table = training.compare({"a": run(tiny)}, tiny.x_test)
    assert list(table.columns) == ["encoder parameters", "decoder parameters", "epochs",
                                   "validation MSE", "test MSE"]
    assert table.loc["a", "epochs"] == 2 and 0 < table.loc["a", "test MSE"] < 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="gan"), "kind: expected one of"),
    (dict(epochs=0), "epochs: expected a positive int"),
    (dict(batch_size=1.5), "batch_size: expected a positive int"),
    (dict(epochs=True), "epochs: expected a positive int"),
    (dict(epochs=2.0), "epochs: expected a positive int"),
    (dict(learning_rate=float("nan")), "learning_rate: expected a positive number.*got nan"),
    (dict(learning_rate=float("inf")), "learning_rate: expected a positive number"),
    (dict(learning_rate=-1e-3), "learning_rate: expected a positive number"),
    (dict(learning_rate=0), "learning_rate: expected a positive number"),
    (dict(learning_rate="1e-3"), "learning_rate: expected a positive number.*got '1e-3'"),
])
def test_bad_arguments(tiny, kwargs, message):
    args = dict(kind="dense", epochs=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        training.train(args.pop("kind"), tiny, **args)


def test_vae_trains_caches_and_repeats(tiny, monkeypatch, tmp_path):
    args = dict(epochs=1, code_size=3, batch_size=50, hidden=(16,))
    first = training.train("vae", tiny, verbose=False, **args)
    assert "val_mse" in first.history and first.code_size == 3
    codes = first.encode(tiny.x_test[:5])
    np.testing.assert_array_equal(codes, first.encode(tiny.x_test[:5]))  # means, no noise
    assert first.reconstruct(tiny.x_test[:5]).shape == (5, 28, 28, 1)
    hit = training.train("vae", tiny, verbose=False, **args)
    assert hit.from_cache
    np.testing.assert_array_equal(hit.encode(tiny.x_test[:5]), codes)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "other"))
    cold = training.train("vae", tiny, verbose=False, **args)
    assert not cold.from_cache and cold.history == first.history
    for a, b in zip(weights(first), weights(cold)):
        np.testing.assert_array_equal(a, b)


def test_conv_vae_trains_and_tracks_its_kl_and_reconstruction_terms(tiny):
    trained = training.train("conv_vae", tiny, epochs=1, code_size=3, filters=(4, 8),
                             batch_size=50, verbose=False)
    history = trained.history
    assert {"kl", "val_kl", "reconstruction", "val_reconstruction", "val_mse"} <= set(history)
    assert all(np.isfinite(history[name][0]) and history[name][0] > 0
               for name in ("kl", "val_kl"))
    # beta = 1: the per-pixel loss is the negative ELBO per image, reconstruction + kl, per pixel.
    np.testing.assert_allclose(history["val_loss"][0] * 784,
                               history["val_reconstruction"][0] + history["val_kl"][0], rtol=1e-4)
    assert trained.encode(tiny.x_test[:5]).shape == (5, 3)


def test_code_distribution_gives_encodes_means_and_the_kl_of_training(tiny, monkeypatch):
    from genlab.metrics import kl_per_dimension

    trained = training.train("vae", tiny, epochs=1, code_size=3, hidden=(16,), batch_size=50,
                             verbose=False)
    mean, log_var = trained.code_distribution(tiny.x_test[:7])
    assert mean.shape == log_var.shape == (7, 3)
    assert mean.dtype == log_var.dtype == np.float32
    np.testing.assert_array_equal(mean, trained.encode(tiny.x_test[:7]))
    # The validation images' average KL, summed over the dimensions, is the history's val_kl.
    kl = kl_per_dimension(*trained.code_distribution(tiny.x_val))
    np.testing.assert_allclose(kl.sum(), trained.history["val_kl"][-1], rtol=1e-4)
    monkeypatch.setattr(training, "CACHED_CODES", 5)  # the cached path, written then read
    first = trained.code_distribution(tiny.x_test[:7])
    assert len(list(training.cache.directory().glob("codes-vae-*"))) == 1
    for a, b, c in zip(first, trained.code_distribution(tiny.x_test[:7]), (mean, log_var)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(trained.encode(tiny.x_test[:7]), mean)


def test_a_plain_autoencoder_has_no_code_distribution(tiny):
    trained = run(tiny, epochs=1)
    with pytest.raises(AttributeError, match=r"a dense model has no code distribution.*\('vae', "
                                             r"'conv_vae'\).*use encode"):
        trained.code_distribution(tiny.x_test[:3])


def test_a_registered_model_trains_caches_and_loads_like_the_books(tiny, capsys, registry):
    import keras

    def tiny_autoencoder(image_shape, code_size=2):
        image = keras.Input(image_shape)
        code = keras.layers.Dense(code_size)(keras.layers.Flatten()(image))
        pixels = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid")(code)
        return keras.Model(image, keras.layers.Reshape(image_shape)(pixels))

    models.register("tiny", tiny_autoencoder, target="images", loss="mse", metrics=("mae",))
    args = dict(epochs=2, batch_size=50, code_size=3)
    first = training.train("tiny", tiny, **args)
    printed = capsys.readouterr().out
    keras.layers.Dense(1)  # Keras numbers unnamed layers on: the rebuilt model's must not move
    second = training.train("tiny", tiny, **args)
    assert first.source == "trained" and second.source == "cache"
    assert printed == capsys.readouterr().out
    assert printed.startswith("tiny/mnist epoch 1/2  loss ") and "val_mae" in printed
    assert first.path.name.startswith("tiny-mnist-") and first.path == second.path
    assert second.settings["loss"] == "mse" and second.settings["options"] == {"code_size": 3}
    for a, b in zip(weights(first), weights(second)):
        np.testing.assert_array_equal(a, b)


def test_the_seed_offset_shifts_every_draw_and_the_cache_key(tiny, monkeypatch):
    from genlab import samplers

    codes = np.random.default_rng(0).normal(size=(50, 3))
    box = samplers.UniformBox().fit(codes)
    base, first = box.sample(5, seed=1), run(tiny)
    monkeypatch.setenv("GENLAB_SEED_OFFSET", "1")
    np.testing.assert_array_equal(box.sample(5, seed=0), base)  # seed 0 + 1 draws as seed 1
    shifted = run(tiny)
    assert shifted.source == "trained" and shifted.path != first.path
    assert shifted.settings["fit"]["seed"] == 1
    monkeypatch.setenv("GENLAB_SEED_OFFSET", "one")
    with pytest.raises(ValueError, match="GENLAB_SEED_OFFSET: expected an integer, got 'one'"):
        box.sample(5)


def test_dataset_must_be_a_name_or_a_dataset():
    with pytest.raises(ValueError, match="dataset: expected a dataset name .* or a "
                                         "genlab.data.Dataset, got int 42"):
        training.train("dense", 42, epochs=1)


def test_numpy_ints_train_as_plain_ints(tiny):
    first = run(tiny)
    again = run(tiny, epochs=np.int64(2), batch_size=np.int32(50))
    assert again.from_cache and again.path == first.path and again.settings == first.settings


def test_an_unusable_cache_is_reported_before_training_and_the_model_returned(
        tiny, tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    monkeypatch.setenv("GENLAB_CACHE", str(a_file))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="cannot write into the cache folder .*a file, not a "
                                              "folder.*GENLAB_CACHE at a writable folder"):
            run(tiny)
    assert capsys.readouterr().out == ""  # warned before the first epoch
    other = tmp_path / "other-file"
    other.write_text("")
    monkeypatch.setenv("GENLAB_CACHE", str(other))
    with pytest.warns(UserWarning, match="cannot write into the cache folder"):
        trained = run(tiny)
    assert trained.source == "trained" and np.isfinite(trained.history["loss"]).all()
    assert trained.encode(tiny.x_test[:3]).shape == (3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once
        assert run(tiny).source == "trained"
    assert other.read_text() == ""


def test_a_read_only_cache_still_loads_and_reports_what_it_cannot_keep(tiny, private_cache,
                                                                       read_only):
    first = run(tiny)
    read_only(private_cache)
    read_only(first.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run(tiny).from_cache
    with pytest.warns(UserWarning, match="cannot write into the cache folder .*Permission"):
        other = run(tiny, epochs=1)
    assert other.source == "trained" and not other.path.exists()
    assert list(private_cache.iterdir()) == [first.path]


def test_a_changed_dataset_is_not_loaded_from_the_clean_datasets_entry(tiny):
    clean = run(tiny)
    replaced = run(dataclasses.replace(tiny, x_train=tiny.x_train * np.float32(0.5)))
    assert replaced.source == "trained" and replaced.path != clean.path
    # A dataset of the student's own, writable (a loaded one is read-only), changed in place.
    own = dataclasses.replace(tiny, x_train=tiny.x_train.copy())
    assert run(own).from_cache and run(own).path == clean.path
    pixel = own.x_train[0, 0, 0, 0]
    own.x_train[0, 0, 0, 0] = 0.5 if pixel != 0.5 else 0.25  # the same object, changed in place
    changed = run(own)
    assert changed.source == "trained" and changed.path not in (clean.path, replaced.path)
    own.x_train[0, 0, 0, 0] = pixel
    assert run(own).from_cache and run(own).path == clean.path


def test_an_edit_of_the_training_code_is_a_cache_miss(tiny, monkeypatch):
    from genlab import cache

    first = run(tiny)
    assert run(tiny).source == "cache"
    digest = cache.code_digest
    monkeypatch.setattr(cache, "code_digest", lambda *modules: "edited " + digest(*modules))
    again = run(tiny)
    assert again.source == "trained" and again.path != first.path
