import numpy as np
import pytest

from genlab import models


@pytest.mark.parametrize("build", [models.dense_autoencoder, models.conv_autoencoder])
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_autoencoder_halves_have_the_right_shapes(build, shape):
    ae = build(shape, code_size=7)
    encoder, decoder = ae.get_layer("encoder"), ae.get_layer("decoder")
    images = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    codes = encoder(images)
    assert tuple(codes.shape) == (3, 7)
    decoded = np.asarray(decoder(codes))
    assert decoded.shape == (3, *shape)
    assert decoded.min() >= 0 and decoded.max() <= 1  # sigmoid output: pixels in range
    assert tuple(ae(images).shape) == (3, *shape)


def test_conv_is_smaller_than_dense():
    assert models.conv_autoencoder(code_size=32).count_params() < \
        models.dense_autoencoder(code_size=32).count_params() / 3


@pytest.mark.parametrize("code_size", [0, -3, 2.5, "32", True])
def test_bad_code_size(code_size):
    with pytest.raises(ValueError, match="code_size: expected a positive int"):
        models.dense_autoencoder(code_size=code_size)


def test_conv_needs_divisible_image_size():
    with pytest.raises(ValueError, match=r"image_shape: expected height and width divisible by 4"):
        models.conv_autoencoder((30, 30, 1))


def test_classifier_exposes_features_and_probabilities():
    model = models.classifier((28, 28, 1), num_classes=10)
    assert model.get_layer("features").units == 128
    p = np.asarray(model(np.zeros((2, 28, 28, 1), np.float32)))
    assert p.shape == (2, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-5)


def test_every_kind_says_what_it_learns():
    assert {k.target for k in models.MODELS.values()} <= {"images", "labels"}
    assert models.MODELS["dense"].target == "images"
    assert models.MODELS["classifier"].target == "labels"


def test_vae_encoder_gives_means_and_log_variances_in_one_pass():
    vae = models.variational_autoencoder((28, 28, 1), code_size=5, hidden=(16,))
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    encoder, decoder = vae.get_layer("encoder"), vae.get_layer("decoder")
    means, log_var = (np.asarray(x) for x in encoder(images))
    assert means.shape == log_var.shape == (4, 5)
    np.testing.assert_array_equal(means, np.asarray(encoder(images)[0]))  # no noise in the encoder
    # One encoder call per step: the hidden layers are not computed twice.
    assert [type(layer).__name__ for layer in vae.layers].count("Functional") == 2
    decoded = np.asarray(decoder(means))
    assert decoded.shape == (4, 28, 28, 1) and decoded.min() >= 0 and decoded.max() <= 1
    # Outside training the model decodes the mean; in training it decodes a noisy draw.
    np.testing.assert_allclose(np.asarray(vae(images)), decoded, atol=1e-6)
    assert not np.allclose(np.asarray(vae(images, training=True)), decoded, atol=1e-4)


def test_vae_adds_the_kl_divergence_per_pixel():
    vae = models.variational_autoencoder((28, 28, 1), code_size=3, hidden=(8,), beta=2.0)
    images = np.random.default_rng(1).random((6, 28, 28, 1), dtype=np.float32)
    vae(images)
    assert len(vae.losses) == 1
    mean, log_var = (np.asarray(x, dtype=np.float64) for x in vae.get_layer("encoder")(images))
    kl = -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)
    assert kl.min() >= 0
    np.testing.assert_allclose(float(vae.losses[0]), 2.0 * kl.mean() / 784, rtol=1e-4)


def test_sampling_layer_serialises():
    layer = models.Sampling(kl_weight=0.5, seed=3, name="sampling")
    again = models.Sampling.from_config(layer.get_config())
    assert (again.kl_weight, again.seed, again.name) == (0.5, 3, "sampling")
    import keras
    assert keras.saving.get_registered_object("genlab>Sampling") is models.Sampling


@pytest.mark.parametrize("beta", [-1.0, "1", None])
def test_vae_bad_beta(beta):
    with pytest.raises(ValueError, match="beta: expected a number >= 0"):
        models.variational_autoencoder(beta=beta)


def test_vae_is_registered():
    kind = models.MODELS["vae"]
    assert kind.build is models.variational_autoencoder and kind.target == "images"
    assert kind.loss == "binary_crossentropy" and kind.metrics == ("mse", models.reconstruction)


def test_the_sampling_layer_tracks_the_unweighted_kl_per_image():
    vae = models.variational_autoencoder((28, 28, 1), code_size=3, hidden=(8,), beta=2.0)
    images = np.random.default_rng(1).random((6, 28, 28, 1), dtype=np.float32)
    vae(images)
    mean, log_var = (np.asarray(x, dtype=np.float64) for x in vae.get_layer("encoder")(images))
    kl = -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)
    (tracker,) = vae.get_layer("sampling").metrics
    assert tracker.name == "kl" and not vae.get_layer("sampling").weights  # a metric, not weights
    np.testing.assert_allclose(float(tracker.result()), kl.mean(), rtol=1e-4)


def test_reconstruction_sums_the_cross_entropy_over_each_images_pixels():
    rng = np.random.default_rng(2)
    images = rng.random((3, 4, 4, 2), dtype=np.float32)
    decoded = rng.uniform(0.1, 0.9, (3, 4, 4, 2)).astype(np.float32)
    expected = -(images * np.log(decoded) + (1 - images) * np.log(1 - decoded)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(models.reconstruction(images, decoded)), expected,
                               rtol=1e-5)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_conv_vae_halves_have_the_right_shapes(shape):
    vae = models.conv_variational_autoencoder(shape, code_size=5, filters=(4, 8))
    encoder, decoder = vae.get_layer("encoder"), vae.get_layer("decoder")
    images = np.random.default_rng(0).random((3, *shape), dtype=np.float32)
    means, log_var = (np.asarray(x) for x in encoder(images))
    assert means.shape == log_var.shape == (3, 5)
    decoded = np.asarray(decoder(means))
    assert decoded.shape == (3, *shape) and decoded.min() >= 0 and decoded.max() <= 1
    np.testing.assert_allclose(np.asarray(vae(images)), decoded, atol=1e-6)  # the mean, no noise
    names = [w.path for w in vae.weights]
    assert {"code_mean/kernel", "code_log_var/kernel", "pixels/kernel"} <= set(names)
    assert vae.get_layer("sampling").kl_weight == pytest.approx(1.0 / np.prod(shape))


@pytest.mark.parametrize("beta", [-1.0, "1", None, True])
def test_conv_vae_bad_beta(beta):
    with pytest.raises(ValueError, match=r"beta: expected a number >= 0 .*got .*; pass beta=1.0"):
        models.conv_variational_autoencoder(beta=beta)


def test_conv_vae_checks_code_size_and_image_size_like_the_conv_autoencoder():
    with pytest.raises(ValueError, match="code_size: expected a positive int"):
        models.conv_variational_autoencoder(code_size=0)
    with pytest.raises(ValueError, match=r"image_shape: expected height and width divisible by 4"):
        models.conv_variational_autoencoder((30, 30, 1))


def test_conv_vae_is_registered_like_the_vae():
    kind, vae = models.MODELS["conv_vae"], models.MODELS["vae"]
    assert kind.build is models.conv_variational_autoencoder and kind.target == "images"
    assert (kind.loss, kind.metrics) == (vae.loss, vae.metrics)


def test_the_builders_still_build_the_shipped_weights_architectures(data_dir):
    """genlab's shipped weights load only for their exact settings: a refactor of the builders
    must not move, rename or reshape a layer of the book's models."""
    from genlab import data, pretrained, training

    tiny = data.load_dataset("mnist", validation_size=50)
    for entry in pretrained.entries():
        shipped = entry["settings"]
        model = models.MODELS[shipped["kind"]].build(tiny.image_shape, **shipped["options"])
        built = training._settings(shipped["kind"], model, tiny, shipped["options"],
                                   shipped["loss"], shipped["fit"])
        assert built["architecture"] == shipped["architecture"], entry["file"]


def test_register_adds_a_kind_and_takes_the_same_build_again(registry):
    def build(image_shape, num_classes=10):
        return models.classifier(image_shape, num_classes)

    kind = models.register("mine", build, target="labels", loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
    assert registry["mine"] is kind and kind == models.ModelKind(
        build, "labels", "sparse_categorical_crossentropy", ("accuracy",))

    def build(image_shape, num_classes=10):  # noqa: F811 - a notebook cell run again
        return models.classifier(image_shape, num_classes)

    assert models.register("mine", build, target="labels", loss="mse").build is build
    assert models.register("dense", models.dense_autoencoder, target="images",
                           loss="binary_crossentropy", metrics=("mse",)) == registry["dense"]


@pytest.mark.parametrize("arguments, message", [
    (dict(name=""), "name: expected a non-empty str, got ''"),
    (dict(name=3), "name: expected a non-empty str, got 3"),
    (dict(name="dense"), "name: expected a new name, got 'dense', which is already built by "
                         "dense_autoencoder; pick another name"),
    (dict(build="conv"), "build: expected a function .*, got str; pass the function itself"),
    (dict(target="codes"), "target: expected 'images' .* or 'labels' .*, got 'codes'"),
    (dict(loss=None), "loss: expected the name of a Keras loss, got None"),
    (dict(metrics="mse"), r"metrics: expected a sequence of Keras metric names, got 'mse'"),
])
def test_register_refuses_bad_arguments_by_name(registry, arguments, message):
    given = {**dict(name="mine", build=models.conv_autoencoder, target="images", loss="mse"),
             **arguments}
    with pytest.raises(ValueError, match=message):
        models.register(given.pop("name"), given.pop("build"), **given)
    assert "mine" not in registry


def test_predict_gives_keras_predicts_numbers_batch_by_batch():
    rng = np.random.default_rng(0)
    images = rng.random((23, 28, 28, 1), dtype=np.float32)
    vae = models.variational_autoencoder((28, 28, 1), code_size=5, hidden=(16,))
    encoder, decoder = vae.get_layer("encoder"), vae.get_layer("decoder")
    # Batches of 10 over 23 images: two full ones and a shorter last one, as predict splits them.
    means, log_var = models.predict(encoder, images, batch_size=10)
    expected = encoder.predict(images, batch_size=10, verbose=0)
    np.testing.assert_array_equal(means, expected[0])
    np.testing.assert_array_equal(log_var, expected[1])
    decoded = models.predict(decoder, means, batch_size=10)
    assert decoded.shape == (23, 28, 28, 1)
    np.testing.assert_array_equal(decoded, decoder.predict(means, batch_size=10, verbose=0))
    # The compiled function follows the weights as they are now, not as they were.
    decoder.set_weights([w * 0.5 for w in decoder.get_weights()])
    np.testing.assert_array_equal(models.predict(decoder, means, batch_size=10),
                                  decoder.predict(means, batch_size=10, verbose=0))
    with pytest.raises(ValueError, match="inputs: expected at least one row"):
        models.predict(decoder, means[:0])
