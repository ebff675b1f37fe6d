"""Every estimator-like class of genlab follows scikit-learn's conventions and one seed rule."""

import inspect

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from genlab import interpolation, metrics, samplers

# Cloning an Evaluator deep-copies its Keras model, whose variables warn about NumPy 2's copy
# keyword (Keras' own code, harmless).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

LABELS = np.repeat(np.arange(3), [150, 100, 50])
CODES = (np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])[LABELS]
         + np.random.default_rng(0).standard_normal((LABELS.size, 2))).astype(np.float32)
# The Evaluator learns from images: a tiny classifier of 8 x 8 images into 3 classes.
IMAGES = np.random.default_rng(1).random((30, 8, 8, 1), dtype=np.float32)
IMAGE_LABELS = np.arange(30) % 3


def tiny_classifier() -> keras.Model:
    image = keras.Input((8, 8, 1))
    features = keras.layers.Dense(4, activation="relu", name="features")(
        keras.layers.Flatten()(image))
    return keras.Model(image, keras.layers.Dense(3, activation="softmax")(features))


# Every class with a fit, each with arguments other than its defaults, so that storing them
# unchanged shows; the lists and the nested sampler are passed as objects whose identity is kept.
ARGUMENTS = {
    samplers.UniformBox: dict(random_state=3),
    samplers.IndependentMarginals: dict(random_state=3),
    samplers.StandardNormal: dict(random_state=3),
    samplers.Gaussian: dict(covariance="diag", random_state=3),
    samplers.GaussianMixture: dict(max_components=3, covariance_type="diag", bic_sample_size=200,
                                   reg_covar=1e-5, max_iter=50, random_state=3),
    samplers.KernelDensity: dict(bandwidths=[0.2, 0.5], cv=2, cv_sample_size=200, random_state=3),
    samplers.Flow: dict(n_layers=2, hidden_units=8, epochs=1, batch_size=64, learning_rate=1e-3,
                        l2=1e-4, random_state=3),
    samplers.ClassConditional: dict(base=samplers.Gaussian("diag"), random_state=3),
    interpolation.Whitener: dict(rtol=1e-5),
    interpolation.NeighbourGraph: dict(n_neighbors=4, n_jobs=1, power=2.0),
    metrics.Evaluator: dict(model=tiny_classifier(), k=3, kid_subsets=2, kid_subset_size=10,
                            prdc_reference=20, copy_cells=2, bootstrap=10, batch_size=16,
                            random_state=3,
                            cache=False),
}
SAMPLERS = [cls for cls in ARGUMENTS if issubclass(cls, samplers._CodeSampler)]
# What each class does before fit that must raise NotFittedError.
UNFITTED_USE = {
    interpolation.Whitener: lambda w: w.transform(CODES),
    interpolation.NeighbourGraph: lambda g: g.path(CODES[0], CODES[1]),
    metrics.Evaluator: lambda e: e.score(IMAGES, "unfitted"),
}


def estimator_like_classes() -> set[type]:
    """The public classes with a ``fit`` defined in genlab's modules that hold estimators."""
    return {obj for module in (samplers, interpolation, metrics)
            for name, obj in vars(module).items()
            if inspect.isclass(obj) and not name.startswith("_") and hasattr(obj, "fit")
            and obj.__module__ == module.__name__}


def fit(estimator):
    # Samplers learn from codes and labels (most ignore the labels); the Evaluator from images,
    # their labels and the training images; the others from codes.
    if isinstance(estimator, metrics.Evaluator):
        return estimator.fit(IMAGES, IMAGE_LABELS, IMAGES[::-1])
    if "labels" in inspect.signature(estimator.fit).parameters:
        return estimator.fit(CODES, LABELS)
    return estimator.fit(CODES)


def public_fitted_state(estimator) -> list[str]:
    return [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]


@pytest.fixture(scope="module")
def fitted() -> dict:
    """One estimator of each class, fitted once (the flow trains, briefly)."""
    return {cls: fit(cls(**arguments)) for cls, arguments in ARGUMENTS.items()}


def test_every_estimator_like_class_is_checked():
    assert estimator_like_classes() == set(ARGUMENTS)


@pytest.mark.parametrize("cls", ARGUMENTS, ids=lambda cls: cls.__name__)
def test_constructor_stores_its_arguments_unchanged_and_clones(cls):
    arguments = ARGUMENTS[cls]
    estimator = cls(**arguments)
    params = estimator.get_params(deep=False)
    assert list(params) == sorted(inspect.signature(cls).parameters)
    for name, value in arguments.items():
        assert params[name] is value, name
    copy = clone(estimator)
    assert copy is not estimator and type(copy) is cls
    assert list(copy.get_params(deep=False)) == list(params)
    for name, value in copy.get_params(deep=False).items():
        if hasattr(value, "get_params"):
            assert type(value) is type(params[name])
            assert value.get_params() == params[name].get_params()
        elif isinstance(value, keras.Model):  # deep-copied, like any other object
            assert type(value) is type(params[name]) and value is not params[name]
            for a, b in zip(value.get_weights(), params[name].get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            assert value == params[name], name


@pytest.mark.parametrize("cls", ARGUMENTS, ids=lambda cls: cls.__name__)
def test_nothing_fitted_before_fit_and_unfitted_use_raises_not_fitted_error(cls):
    estimator = cls(**ARGUMENTS[cls])
    assert public_fitted_state(estimator) == []
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    use = UNFITTED_USE.get(cls, lambda sampler: sampler.sample(5))
    with pytest.raises(NotFittedError, match=rf"{cls.__name__} is not fitted yet: call fit"):
        use(estimator)


@pytest.mark.parametrize("cls", ARGUMENTS, ids=lambda cls: cls.__name__)
def test_fit_returns_self_with_the_fitted_state_and_the_arguments_untouched(cls, fitted):
    estimator = fitted[cls]
    assert type(estimator) is cls and public_fitted_state(estimator)
    check_is_fitted(estimator)
    for name, value in ARGUMENTS[cls].items():
        assert estimator.get_params(deep=False)[name] is value, name
    if cls is samplers.ClassConditional:
        assert public_fitted_state(ARGUMENTS[cls]["base"]) == []  # a clone was fitted
    again = clone(estimator)
    assert fit(again) is again


@pytest.mark.parametrize("cls", SAMPLERS, ids=lambda cls: cls.__name__)
def test_random_state_is_an_int_defaulting_to_zero(cls):
    parameter = inspect.signature(cls).parameters["random_state"]
    assert parameter.default == 0 and parameter.annotation in (int, "int")
    assert "seed" not in inspect.signature(cls).parameters


def test_the_evaluator_takes_random_state_too():
    parameters = inspect.signature(metrics.Evaluator).parameters
    assert parameters["random_state"].default == 0 and "seed" not in parameters


@pytest.mark.parametrize("cls", SAMPLERS, ids=lambda cls: cls.__name__)
def test_sample_repeats_with_random_state_and_a_seed_overrides_it(cls, fitted):
    sampler = fitted[cls]
    first = sampler.sample(40)
    assert first.shape == (40, CODES.shape[1]) and first.dtype == np.float32
    np.testing.assert_array_equal(sampler.sample(40), first)
    np.testing.assert_array_equal(sampler.sample(40, seed=sampler.random_state), first)
    other = sampler.sample(40, seed=1)
    assert other.shape == (40, CODES.shape[1]) and other.dtype == np.float32
    assert not np.array_equal(other, first)


@pytest.mark.parametrize("cls", SAMPLERS, ids=lambda cls: cls.__name__)
def test_a_seed_that_is_not_an_int_is_refused_by_name(cls, fitted):
    with pytest.raises(ValueError, match=r"seed: expected an int seed, got 1\.5"):
        fitted[cls].sample(5, seed=1.5)
    broken = clone(fitted[cls])
    vars(broken).update(vars(fitted[cls]), random_state="0")
    with pytest.raises(ValueError, match=r"random_state: expected an int seed, got '0'"):
        broken.sample(5)
