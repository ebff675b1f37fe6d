import json
import warnings

import numpy as np
import pytest

from genlab import data, training


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
    assert not first.from_cache and second.from_cache
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
    with pytest.raises(ValueError, match=r"images: expected a batch of shape \(n, 28, 28, 1\)"):
        trained.encode(tiny.x_test[:5, ..., 0])


def test_classifier_trains_on_labels(tiny):
    clf = training.train("classifier", tiny, epochs=1, batch_size=50)
    assert "accuracy" in clf.history and "val_accuracy" in clf.history
    with pytest.raises(AttributeError, match="only autoencoders"):
        clf.encoder


def test_compare_table(tiny):
    table = training.compare({"a": run(tiny)}, tiny.x_test)
    assert list(table.columns) == ["encoder parameters", "decoder parameters", "epochs",
                                   "validation MSE", "test MSE"]
    assert table.loc["a", "epochs"] == 2 and 0 < table.loc["a", "test MSE"] < 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="gan"), "kind: expected one of"),
    (dict(epochs=0), "epochs: expected a positive int"),
    (dict(batch_size=1.5), "batch_size: expected a positive int"),
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


def test_book_models_print_one_line_each(tiny, monkeypatch, capsys):
    small = dict(epochs=1, code_size=3, batch_size=50)
    monkeypatch.setattr(training, "AUTOENCODERS", {"fully connected": dict(kind="dense", **small)})
    monkeypatch.setattr(training, "VARIATIONAL", dict(kind="vae", **small))
    dense = training.autoencoders(tiny)["fully connected"]
    vae = training.variational_autoencoder(tiny)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"fully connected autoencoder on mnist: code size 3, 1 epochs, validation MSE "
        f"{dense.history['val_mse'][-1]:.4f}",
        f"variational autoencoder on mnist: code size 3, 1 epochs, validation MSE "
        f"{vae.history['val_mse'][-1]:.4f}",
    ]


def test_autoencoders_takes_other_settings_and_checks_them(tiny, capsys):
    models = training.autoencoders(
        tiny, settings={"small": dict(kind="conv", epochs=1, code_size=3, filters=(4,))})
    assert list(models) == ["small"] and models["small"].code_size == 3
    assert capsys.readouterr().out.startswith("small autoencoder on mnist: code size 3, 1 epochs")
    with pytest.raises(ValueError, match=r"settings: expected a non-empty dict .*kind"):
        training.autoencoders(tiny, settings={"small": dict(epochs=1)})
    # CIFAR-10's book autoencoder is sized for 32 x 32 colour images.
    assert list(training.CIFAR10_AUTOENCODERS) == ["convolutional"]
    assert training.CIFAR10_AUTOENCODERS["convolutional"]["code_size"] == 256
