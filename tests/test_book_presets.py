"""genlab.book: the book's presets, and its loaders' one line each, on tiny data."""

import numpy as np
import pytest

from genlab import book, data, metrics, samplers, training

SMALL = dict(epochs=1, code_size=3, batch_size=50)


@pytest.fixture
def tiny(data_dir):
    return data.load_dataset("mnist", validation_size=50)


def test_book_models_print_one_line_each(tiny, monkeypatch, capsys):
    monkeypatch.setattr(book, "AUTOENCODERS", {"fully connected": dict(kind="dense", **SMALL)})
    monkeypatch.setattr(book, "VARIATIONAL", dict(kind="vae", **SMALL))
    dense = book.autoencoders(tiny)["fully connected"]
    vae = book.vae(tiny)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"fully connected autoencoder on mnist: code size 3, 1 epochs, validation MSE "
        f"{dense.history['val_mse'][-1]:.4f}",
        f"variational autoencoder on mnist: code size 3, 1 epochs, validation MSE "
        f"{vae.history['val_mse'][-1]:.4f}",
    ]
    assert isinstance(vae, training.TrainedModel) and vae.kind == "vae"


def test_autoencoders_takes_other_settings_and_checks_them(tiny, capsys):
    models = book.autoencoders(
        tiny, settings={"small": dict(kind="conv", epochs=1, code_size=3, filters=(4,))})
    assert list(models) == ["small"] and models["small"].code_size == 3
    assert capsys.readouterr().out.startswith("small autoencoder on mnist: code size 3, 1 epochs")
    with pytest.raises(ValueError, match=r"settings: expected a non-empty dict .*kind"):
        book.autoencoders(tiny, settings={"small": dict(epochs=1)})

def test_cifar10s_autoencoders_build_for_colour_photos_with_a_larger_code():
    from genlab import models

    for settings in book.CIFAR10_AUTOENCODERS.values():
        options = {k: v for k, v in settings.items() if k not in ("kind", "epochs")}
        model = models.MODELS[settings["kind"]].build((32, 32, 3), **options)
        assert tuple(model.output.shape[1:]) == (32, 32, 3)
        assert options["code_size"] > max(s["code_size"] for s in book.AUTOENCODERS.values())


def test_code_size_sweep_trains_one_quiet_model_per_size(tiny, monkeypatch, capsys):
    monkeypatch.setattr(book, "CODE_SIZES", (2, 3))
    monkeypatch.setattr(book, "CODE_SIZE_SWEEP", dict(kind="dense", epochs=1, batch_size=50,
                                                      hidden=(16,)))
    sweep = book.code_size_sweep(tiny)
    assert list(sweep) == [2, 3] and [m.code_size for m in sweep.values()] == [2, 3]
    assert capsys.readouterr().out == ""


def test_evaluator_prints_one_line_and_returns_it_fitted(tiny, capsys):
    evaluator = book.evaluator(tiny, epochs=1)
    accuracy = evaluator.accuracy(tiny.x_test, tiny.y_test)
    assert capsys.readouterr().out == (f"evaluation classifier on mnist: 1 epochs, test accuracy "
                                       f"{accuracy:.4f}\n")
    assert isinstance(evaluator, metrics.Evaluator) and evaluator.cache_key_ is not None
    # The reference is the test set, which nothing was fitted on; the training images are what
    # a copier copies: their in-cell distances are the copying test's yardstick.
    test_features, _ = evaluator.features(tiny.x_test)
    np.testing.assert_allclose(evaluator.mu_, test_features.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert evaluator.reference_distances_.shape == (len(tiny.x_test),)
    assert sum(len(index._fit_X) for index in evaluator.cell_indexes_.values()) == len(
        tiny.x_train)
    assert book.evaluator(tiny, epochs=1, cache=False).cache_key_ is None


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_evaluator_takes_none_as_the_default_epochs_and_nothing_else(tiny, epochs):
    with pytest.raises(ValueError, match="epochs: expected a positive int"):
        book.evaluator(tiny, epochs=epochs)


def test_the_lineup_holds_unfitted_samplers_for_the_books_models():
    assert set(book.LINEUP) == {*book.AUTOENCODERS, "variational"}
    for plan in book.LINEUP.values():
        for sampler in plan.values():
            assert isinstance(sampler, samplers._CodeSampler) and not hasattr(sampler, "code_size_")


def test_shipped_models_are_the_presets():
    shipped = book.shipped_models()
    assert shipped["mnist-fully-connected"] == ("mnist", book.AUTOENCODERS["fully connected"])
    assert shipped["fashion_mnist-variational"] == ("fashion_mnist", book.VARIATIONAL)
    assert shipped["fashion_mnist-classifier"] == (
        "fashion_mnist", dict(kind="classifier", epochs=book.CLASSIFIER_EPOCHS["fashion_mnist"]))
    assert [shipped[f"mnist-code-size-{size}"][1]["code_size"] for size in book.CODE_SIZES] == \
        list(book.CODE_SIZES)


def test_mixtures_and_the_variational_chapters_models_are_shipped():
    mixtures = book.mixtures(random_state=3)
    assert [m.n_components for m in mixtures.values()] == list(book.MIXTURE_COMPONENTS)
    assert list(mixtures) == [f"Gaussian mixture ({k})" for k in book.MIXTURE_COMPONENTS]
    assert {m.random_state for m in mixtures.values()} == {3}
    chosen = book.ladder(0.19, mixture_components=200)
    assert list(chosen)[4:7] == ["Gaussian mixture (BIC)", "Gaussian mixture (200)",
                                 "class-conditional Gaussian"]
    assert samplers.describe(chosen["Gaussian mixture (200)"]) == samplers.describe(
        book.mixtures()["Gaussian mixture (200)"])  # the shipped fit's parameters
    shipped = book.shipped_samplers()
    for model in ("fully-connected", "variational"):
        for k in book.MIXTURE_COMPONENTS:
            assert shipped[f"mnist-{model}-mixture-{k}"][0] == f"mnist-{model}"
    conv_model, conv_mixture = shipped[
        f"mnist-convolutional-variational-mixture-{book.CONV_VAE_MIXTURE}"]
    assert conv_model == "mnist-convolutional-variational"
    assert (conv_mixture.n_components, conv_mixture.random_state) == (book.CONV_VAE_MIXTURE, 0)
    models = book.shipped_models()
    assert [models[f"mnist-variational-beta-{b:g}"][1]["beta"] for b in book.BETAS if b != 1] == \
        [b for b in book.BETAS if b != 1]
    assert models["mnist-convolutional-variational"] == ("mnist", book.CONV_VARIATIONAL)
    assert models["mnist-variational-code-size-2"][1] == {**book.CODE_SIZE_SWEEP, "kind": "vae",
                                                          "code_size": 2}
    assert min(book.BETAS) < 1 < max(book.BETAS) and len(book.BETAS) >= 4


def test_ladder_is_the_better_codes_line_up_and_its_flow_is_shipped():
    full, without = book.ladder(0.19, random_state=2), book.ladder()
    assert list(full)[0] == "uniform box" and len(full) == 10
    assert list(without) == [name for name in full if name != "kernel density (1 % rule)"]
    assert full["kernel density (1 % rule)"].bandwidth == 0.19
    assert full["kernel density (bandwidth 0.05)"].bandwidth == 0.05
    assert {s.random_state for s in full.values()} == {2}
    assert all(not [k for k in vars(s) if k.endswith("_")] for s in full.values())  # unfitted
    model, flow = book.shipped_samplers()["mnist-fully-connected-flow"]
    assert model == "mnist-fully-connected" and samplers.describe(flow) == samplers.describe(
        without["flow"])


def test_chosen_mixture_is_the_one_new_codes_like_best(tiny, monkeypatch):
    monkeypatch.setattr(book, "MIXTURE_COMPONENTS", (1, 2, 4))
    model = training.train("dense", tiny, verbose=False, **SMALL)
    chosen, heldout = book.chosen_mixture(model, tiny)
    assert list(heldout.index) == [f"Gaussian mixture ({k})" for k in (1, 2, 4)]
    assert heldout.idxmax() == f"Gaussian mixture ({chosen.n_components_})"
    assert chosen.code_size_ == 3 and np.isfinite(heldout).all()
    codes = model.encode(tiny.x_val)
    assert heldout.max() == pytest.approx(chosen.score_samples(codes).mean())


def test_samples_graph_is_built_on_the_chosen_mixtures_draws(tiny, monkeypatch):
    monkeypatch.setattr(book, "MIXTURE_COMPONENTS", (1, 2))
    monkeypatch.setattr(book, "SAMPLES_GRAPH", dict(n_neighbors=8, power=2, draws=400))
    model = training.train("dense", tiny, verbose=False, **SMALL)
    graph = book.samples_graph(model, tiny, seed=3)
    chosen, _ = book.chosen_mixture(model, tiny)
    assert (graph.n_neighbors, graph.power) == (8, 2)
    np.testing.assert_array_equal(graph.codes_, chosen.sample(400, seed=3).astype(np.float32))
    a, b = model.encode(tiny.x_val[:2])
    walk = graph.path(a, b, 6, decode=model.decode)
    assert walk.shape == (6, 3) and np.allclose(walk[[0, -1]], [a, b], atol=1e-6)


def test_the_variational_chapters_loaders_print_nothing_and_load_their_settings(tiny, monkeypatch,
                                                                                 capsys):
    monkeypatch.setattr(book, "VARIATIONAL", dict(kind="vae", **SMALL))
    monkeypatch.setattr(book, "BETAS", (0.5, 1.0))
    monkeypatch.setattr(book, "CONV_VARIATIONAL", dict(kind="conv_vae", **SMALL))
    monkeypatch.setattr(book, "CODE_SIZE_SWEEP", dict(kind="dense", epochs=1, batch_size=50))
    sweep = book.beta_sweep(tiny)
    two = book.two_number_codes(tiny)
    conv = book.conv_vae(tiny)
    out = capsys.readouterr().out.splitlines()
    assert out == [f"convolutional variational autoencoder on mnist: code size 3, 1 epochs, "
                   f"validation MSE {conv.history['val_mse'][-1]:.4f}"]
    assert list(sweep) == [0.5, 1.0] and sweep[0.5].settings["options"]["beta"] == 0.5
    assert "beta" not in sweep[1.0].settings["options"]  # the book's VAE, as shipped
    assert [m.kind for m in two.values()] == ["dense", "vae"]
    assert {m.code_size for m in two.values()} == {2} and conv.kind == "conv_vae"
