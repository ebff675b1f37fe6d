"""The book's own choices: the settings of its models, the samplers its pipeline fits, and the
one-line loaders its chapters call. The rest of genlab is generic; these presets are the book's.

Each loader trains a model once and caches it (genlab ships the weights of ``shipped_models()``),
and prints one line, the same whether the model was trained or loaded.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import clone

from genlab import interpolation, metrics, pretrained, samplers, training
from genlab.data import Dataset, as_dataset
from genlab.samplers import (
    ClassConditional,
    Flow,
    Gaussian,
    GaussianMixture,
    IndependentMarginals,
    KernelDensity,
    StandardNormal,
    UniformBox,
)

__all__ = ["AUTOENCODERS", "VARIATIONAL", "CODE_SIZES", "CODE_SIZE_SWEEP", "CIFAR10_AUTOENCODERS",
           "CLASSIFIER_EPOCHS", "LINEUP", "MIXTURE_COMPONENTS", "BETAS", "CONV_VARIATIONAL",
           "SAMPLES_GRAPH", "ladder", "mixtures", "chosen_mixture", "samples_graph", "autoencoders",
           "vae", "conv_vae", "beta_sweep",
           "two_number_codes", "code_size_sweep", "evaluator", "shipped_models", "shipped_samplers"]

# The book's two autoencoders as the training chapter trains them; later chapters load these.
AUTOENCODERS = {
    "fully connected": dict(kind="dense", epochs=15, code_size=32),
    "convolutional": dict(kind="conv", epochs=5, code_size=32),
}
# The variational autoencoder: the fully connected one's shape, epochs and code size, so the two
# compare; its codes are pushed towards N(0, I), so it is sampled from that prior.
VARIATIONAL = dict(kind="vae", epochs=15, code_size=32)
# The variational chapter's KL weights: the book's VAE (beta 1) retrained from well below to well
# above it, to show what the weight trades.
BETAS = (0.1, 0.3, 1.0, 3.0, 10.0)
# The convolutional autoencoder made variational, with the fully connected VAE's code size; twice
# the plain one's epochs, as its noisy codes learn more slowly.
CONV_VARIATIONAL = dict(kind="conv_vae", epochs=10, code_size=32)
# The code-size sweep of the hypotheses chapter: the fully connected autoencoder at six code sizes,
# 5 epochs each (comparable with each other, not with the 15-epoch model above).
CODE_SIZES = (2, 4, 8, 16, 32, 64)
CODE_SIZE_SWEEP = dict(kind="dense", epochs=5)
# CIFAR-10's 32 x 32 colour photos hold far more than a digit: its autoencoder is convolutional
# only, one stride-2 layer deeper (a 4 x 4 grid of 128 filters) and with a code of 256 numbers.
CIFAR10_AUTOENCODERS = {
    "convolutional": dict(kind="conv", epochs=10, code_size=256, filters=(32, 64, 128)),
}
# Enough for the evaluation classifier to pass the book's bar on each dataset (MNIST >= 98.5 %,
# Fashion-MNIST >= 90 % test accuracy) within a few seconds per epoch.
CLASSIFIER_EPOCHS = {"mnist": 4, "fashion_mnist": 8, "cifar10": 10}
# Which samplers pipeline.run fits on which autoencoder's codes. The uniform box on both plain
# autoencoders; the better samplers on the convolutional one, the better decoder (on both, a run
# would take twice as long); the variational autoencoder is sampled from its prior.
LINEUP: dict[str, dict[str, Any]] = {
    "fully connected": {"uniform box": UniformBox()},
    "convolutional": {"uniform box": UniformBox(), "Gaussian mixture": GaussianMixture(),
                      "flow": Flow()},
    "variational": {"prior": StandardNormal()},
}


# The mixture sizes the better-codes chapter compares on validation codes, each fitted on all
# training codes (genlab ships the fits: the largest takes minutes on two cores).
MIXTURE_COMPONENTS = (25, 50, 100, 200)


# The variational chapter's exercise: the convolutional VAE's second stage, of a size fixed (not
# chosen on validation codes) to keep the exercise quick.
CONV_VAE_MIXTURE = 25


# The interpolation chapter's walk through new codes: a graph over codes drawn from the chosen
# mixture, many short hops through dense regions (power 2).
SAMPLES_GRAPH = dict(n_neighbors=10, power=2, draws=20_000)


def mixtures(random_state: int = 0) -> dict[str, GaussianMixture]:
    """Gaussian mixtures of each of ``MIXTURE_COMPONENTS`` components, unfitted, by name."""
    return {f"Gaussian mixture ({k})": GaussianMixture(n_components=k, random_state=random_state)
            for k in MIXTURE_COMPONENTS}


def chosen_mixture(model: training.TrainedModel, dataset: str | Dataset = "mnist"
                   ) -> tuple[GaussianMixture, pd.Series]:
    """Of ``mixtures`` fitted on the model's training codes (genlab ships the fits on the book's
    models), the one that gives its validation codes the highest average log-likelihood, and
    each one's log-likelihood."""
    data = as_dataset(dataset)
    candidates = mixtures()
    pretrained.fit_samplers(model, candidates, data)
    heldout = samplers.heldout_log_likelihood(candidates, model.encode(data.x_val))
    return candidates[heldout.idxmax()], heldout


def samples_graph(model: training.TrainedModel, dataset: str | Dataset = "mnist", *,
                  seed: int = 0) -> interpolation.NeighbourGraph:
    """`interpolation.NeighbourGraph` with the ``SAMPLES_GRAPH`` settings over codes drawn from the
    model's `chosen_mixture`: walk with ``.path(a, b, steps, decode=model.decode)``."""
    settings = dict(SAMPLES_GRAPH)
    draws = settings.pop("draws")
    mixture, _ = chosen_mixture(model, dataset)
    return interpolation.NeighbourGraph(**settings).fit(mixture.sample(draws, seed=seed))


def ladder(copy_safe_bandwidth: float | None = None, random_state: int = 0, *,
           mixture_components: int | None = None) -> dict[str, Any]:
    """The better-codes chapter's samplers, unfitted, from the simplest to the most flexible: the
    kernel density three times (cross-validated, `copy_safe_bandwidth` unless None, and a
    copier's 0.05), and, unless None, a mixture of `mixture_components` after the BIC's."""
    larger = {} if mixture_components is None else {
        f"Gaussian mixture ({mixture_components})": GaussianMixture(
            n_components=mixture_components, random_state=random_state)}
    kernel_densities = {
        "kernel density (CV bandwidth)": KernelDensity(cv_sample_size=2000,
                                                       random_state=random_state),
        "kernel density (1 % rule)": None if copy_safe_bandwidth is None else KernelDensity(
            bandwidth=copy_safe_bandwidth, random_state=random_state),
        "kernel density (bandwidth 0.05)": KernelDensity(bandwidth=0.05,
                                                         random_state=random_state),
    }
    return {
        "uniform box": UniformBox(random_state=random_state),
        "independent marginals": IndependentMarginals(random_state=random_state),
        "Gaussian (diagonal)": Gaussian("diag", random_state=random_state),
        "Gaussian (full)": Gaussian("full", random_state=random_state),
        "Gaussian mixture (BIC)": GaussianMixture(max_components=20, bic_sample_size=5000,
                                                  random_state=random_state),
        **larger,
        "class-conditional Gaussian": ClassConditional(Gaussian("full"),
                                                       random_state=random_state),
        "flow": Flow(random_state=random_state),
        **{name: sampler for name, sampler in kernel_densities.items() if sampler is not None},
    }


def autoencoders(dataset: str | Dataset = "mnist", *, settings: dict[str, dict] | None = None,
                 verbose: bool = False) -> dict[str, training.TrainedModel]:
    """The book's autoencoders for a dataset (cached): ``AUTOENCODERS``, on CIFAR-10
    ``CIFAR10_AUTOENCODERS``, or those of ``settings`` ({name: ``train`` arguments with kind}).

    Quiet by default: one line per model, the same whether it was trained or loaded.
    """
    data = as_dataset(dataset)
    if settings is None:
        settings = CIFAR10_AUTOENCODERS if data.name == "cifar10" else AUTOENCODERS
    if not isinstance(settings, dict) or not settings or not all(
            isinstance(s, dict) and "kind" in s for s in settings.values()):
        raise ValueError(
            f"settings: expected a non-empty dict {{name: dict(kind=..., epochs=..., ...)}}, got "
            f"{settings!r}; pass e.g. {{'convolutional': dict(kind='conv', epochs=5, "
            "code_size=32)}, or None for the book's autoencoders.")
    return {name: _trained(f"{name} autoencoder", model_settings, data, verbose)
            for name, model_settings in settings.items()}


def vae(dataset: str | Dataset = "mnist", *, verbose: bool = False) -> training.TrainedModel:
    """The book's variational autoencoder for a dataset (cached), with the ``VARIATIONAL`` settings.

    Quiet by default: one line, the same whether it was trained or loaded.
    """
    return _trained("variational autoencoder", VARIATIONAL, as_dataset(dataset), verbose)


def conv_vae(dataset: str | Dataset = "mnist", *, verbose: bool = False) -> training.TrainedModel:
    """The book's convolutional variational autoencoder (``CONV_VARIATIONAL``, cached); quiet by
    default: one line, the same whether it was trained or loaded."""
    return _trained("convolutional variational autoencoder", CONV_VARIATIONAL,
                    as_dataset(dataset), verbose)


def beta_sweep(dataset: str | Dataset = "mnist") -> dict[float, training.TrainedModel]:
    """The book's VAE at each KL weight of ``BETAS`` (cached; beta 1 is ``vae``'s), by beta;
    quiet."""
    settings = dict(VARIATIONAL)
    kind = settings.pop("kind")
    # beta=1 is left out of the options: it is the book's VAE, with its shipped weights.
    return {beta: training.train(kind, dataset, verbose=False, **settings,
                                 **({} if beta == 1 else {"beta": beta}))
            for beta in BETAS}


def two_number_codes(dataset: str | Dataset = "mnist") -> dict[str, training.TrainedModel]:
    """A plain and a variational autoencoder with codes of two numbers, trained alike (the
    code-size sweep's settings, cached), by name; quiet."""
    settings = {**CODE_SIZE_SWEEP, "code_size": 2}
    settings.pop("kind")
    return {"autoencoder": training.train("dense", dataset, verbose=False, **settings),
            "variational autoencoder": training.train("vae", dataset, verbose=False, **settings)}


def code_size_sweep(dataset: str | Dataset = "mnist") -> dict[int, training.TrainedModel]:
    """The fully connected autoencoder at each of ``CODE_SIZES`` (cached), by code size; quiet."""
    settings = dict(CODE_SIZE_SWEEP)
    kind = settings.pop("kind")
    return {size: training.train(kind, dataset, code_size=size, verbose=False, **settings)
            for size in CODE_SIZES}


def evaluator(dataset: str | Dataset = "mnist", *, epochs: int | None = None,
              verbose: bool = False, cache: bool = True) -> metrics.Evaluator:
    """The book's evaluator for a dataset: its classifier (trained once, cached), fitted with the
    test images as the reference, which no model or sampler saw, and the training images as those
    a copier would copy. Score real validation images of a batch's size as its floor.

    ``epochs``: None for ``CLASSIFIER_EPOCHS``; ``cache`` as in `metrics.Evaluator`. Quiet by
    default: one line, the same whether the classifier was trained or loaded.
    """
    data = as_dataset(dataset)
    # Only None means the default: train refuses epochs=0 instead of it meaning 4 epochs.
    classifier = training.train("classifier", data, verbose=verbose,
                                epochs=CLASSIFIER_EPOCHS[data.name] if epochs is None else epochs)
    fitted = metrics.Evaluator(classifier.model, cache=cache).fit(data.x_test, data.y_test,
                                                                  data.x_train)
    if not verbose:
        print(f"evaluation classifier on {data.name}: {len(classifier.history['loss'])} epochs, "
              f"test accuracy {fitted.reference_accuracy_:.4f}")
    return fitted


def shipped_models() -> dict[str, tuple[str, dict]]:
    """The models the book's chapters load, whose weights genlab ships (see `genlab.pretrained`),
    by file stem: (dataset, ``train`` arguments with kind)."""
    models: dict[str, tuple[str, dict]] = {}
    for dataset in ("mnist", "fashion_mnist"):
        presets = {**AUTOENCODERS, "variational": VARIATIONAL,
                   "classifier": dict(kind="classifier", epochs=CLASSIFIER_EPOCHS[dataset])}
        for name, settings in presets.items():
            models[_stem(dataset, name)] = (dataset, settings)
    # The training chapter's exercise: the fully connected autoencoder trained with an MSE loss.
    models["mnist-fully-connected-mse-loss"] = (
        "mnist", {**AUTOENCODERS["fully connected"], "loss": "mse"})
    for size in CODE_SIZES:
        models[f"mnist-code-size-{size}"] = ("mnist", {**CODE_SIZE_SWEEP, "code_size": size})
    # The variational chapter's: the KL weights, the convolutional VAE, the VAE of two numbers.
    for beta in BETAS:
        if beta != 1:
            models[f"mnist-variational-beta-{beta:g}"] = ("mnist", {**VARIATIONAL, "beta": beta})
    models["mnist-convolutional-variational"] = ("mnist", CONV_VARIATIONAL)
    models["mnist-variational-code-size-2"] = (
        "mnist", {**CODE_SIZE_SWEEP, "kind": "vae", "code_size": 2})
    return models


def shipped_samplers() -> dict[str, tuple[str, Any]]:
    """The samplers that genlab ships fitted (see `genlab.pretrained`), by file stem: (the shipped
    model, by stem, on whose training codes it is fitted; the unfitted sampler): the flows of
    ``LINEUP`` and of ``ladder``, and the ``mixtures``.

    The slowest fits only (a flow's training another machine would also move), so that every
    chapter runs in minutes.
    """
    models = shipped_models()
    shipped = {_stem(stem, name): (stem, clone(sampler))
               for dataset in ("mnist", "fashion_mnist")
               for model, lineup in LINEUP.items() if (stem := _stem(dataset, model)) in models
               for name, sampler in lineup.items() if isinstance(sampler, Flow)}
    # The better-codes chapter's flow, on the fully connected autoencoder's codes: the one fit of
    # its ladder that another machine would move (its bandwidth does not change the flow).
    shipped[_stem("mnist", "fully connected", "flow")] = (
        _stem("mnist", "fully connected"), clone(ladder()["flow"]))
    # The mixtures it compares on validation codes, and the variational chapter's second stage
    # on the VAE's codes: minutes of fitting for the largest.
    for model in ("fully connected", "variational"):
        for k, sampler in zip(MIXTURE_COMPONENTS, mixtures().values()):
            shipped[_stem("mnist", model, f"mixture-{k}")] = (_stem("mnist", model), sampler)
    # Its exercise's second stage on the convolutional VAE's codes, its size fixed.
    shipped[_stem("mnist", "convolutional variational", f"mixture-{CONV_VAE_MIXTURE}")] = (
        _stem("mnist", "convolutional variational"),
        GaussianMixture(n_components=CONV_VAE_MIXTURE, random_state=0))
    return shipped


def _stem(*parts: str) -> str:
    """A shipped file's stem, e.g. "mnist-fully-connected"."""
    return "-".join(parts).replace(" ", "-")


def _trained(title: str, settings: dict, data: Dataset, verbose: bool) -> training.TrainedModel:
    """Train or load one of the book's autoencoders; unless verbose, print its one summary line."""
    settings = dict(settings)
    trained = training.train(settings.pop("kind"), data, verbose=verbose, **settings)
    if not verbose:
        print(f"{title} on {data.name}: code size {trained.code_size}, "
              f"{len(trained.history['loss'])} epochs, validation MSE "
              f"{trained.history['val_mse'][-1]:.4f}")
    return trained
