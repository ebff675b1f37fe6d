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


def test_vae_encoder_gives_means_and_decoder_images():
    vae = models.variational_autoencoder((28, 28, 1), code_size=5, hidden=(16,))
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    encoder, decoder = vae.get_layer("encoder"), vae.get_layer("decoder")
    means = np.asarray(encoder(images))
    assert means.shape == (4, 5)
    np.testing.assert_array_equal(means, np.asarray(encoder(images)))  # no noise in the encoder
    assert np.asarray(vae.get_layer("encoder_log_var")(images)).shape == (4, 5)
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
    mean = np.asarray(vae.get_layer("encoder")(images), dtype=np.float64)
    log_var = np.asarray(vae.get_layer("encoder_log_var")(images), dtype=np.float64)
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
    assert kind.loss == "binary_crossentropy" and kind.metrics == ("mse",)
