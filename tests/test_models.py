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
