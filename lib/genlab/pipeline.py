"""The book's whole experiment on one dataset, as one call: autoencoders, reconstructions,
samplers fitted on codes, scores and interpolation walks.

``run("fashion_mnist")`` does for Fashion-MNIST what the chapters before do step by step for
MNIST; the dataset is the only argument that changes. ``side_by_side`` lines up two or more runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

import genlab
from genlab import book, interpolation, metrics, pretrained
from genlab.data import Dataset, as_dataset

__all__ = ["Results", "run", "side_by_side"]

FLOOR = "real validation images"


@dataclass(frozen=True, eq=False)
class Results:
    """What `run` measured on one dataset: tables, a few images of every batch, the walks."""

    dataset: str
    class_names: tuple[str, ...]
    n: int
    """How many images every scored batch holds (the floor too)."""
    classifier_accuracy: float
    """Accuracy of the evaluation classifier on the test images."""
    reconstruction: pd.DataFrame
    """Per autoencoder, on the first n validation images (the floor's): mean MSE per pixel of
    their reconstructions, and the classifier's accuracy on those."""
    scores: pd.DataFrame
    """`Evaluator.score` rows against the test images: the floor (n real validation images), each
    model's reconstructions of those same images, each "model: sampler"."""
    images: dict[str, np.ndarray]
    """The first images of each scored batch, by its row name (the floor: the first validation
    images, the ones reconstructed)."""
    walks: dict[str, interpolation.PathScores]
    """Per autoencoder: straight-line walks in code space between pairs of test images."""
    walk_pairs: np.ndarray
    """The walked pairs: test-image indices (pairs, 2), the same for every autoencoder."""
    walk_labels: np.ndarray
    """The classes of those test images (pairs, 2)."""

    @property
    def models(self) -> list[str]:
        return list(self.reconstruction.index)

    def fid_over_floor(self) -> pd.Series:
        """Each row's FID divided by the floor's: 1 is as good as real images at this n."""
        return self.scores["fid"] / self.scores.loc[FLOOR, "fid"]

    def sampled(self, model: str) -> list[str]:
        """Names of the samplers run on ``model``'s codes, in the order they were run."""
        prefix = f"{model}: "
        return [name.removeprefix(prefix) for name in self.scores.index
                if name.startswith(prefix) and name != f"{model}: reconstructions"]

    def reconstruction_rows(self) -> dict[str, np.ndarray]:
        """{"validation images": originals, model: their reconstructions, ...}, for
        plots.compare_rows."""
        return {"validation images": self.images[FLOOR],
                **{model: self.images[f"{model}: reconstructions"] for model in self.models}}

    def sample_rows(self) -> dict[str, np.ndarray]:
        """{"model: sampler": decoded samples} for every sampler run, for plots.compare_rows."""
        return {f"{model}: {s}": self.images[f"{model}: {s}"]
                for model in self.models for s in self.sampled(model)}

    def walk_rows(self, pair: int = 0) -> dict[str, np.ndarray]:
        """{model: frames of one walk}, the same pair of test images for every model."""
        self._check_pair(pair)
        return {model: walks.frames[pair] for model, walks in self.walks.items()}

    def walk_title(self, pair: int = 0) -> str:
        """Which classes a walk joins, e.g. "Sandal → Coat"."""
        self._check_pair(pair)
        return " → ".join(self.class_names[k] for k in self.walk_labels[pair])

    def _check_pair(self, pair: int) -> None:
        if (isinstance(pair, bool) or not isinstance(pair, (int, np.integer))
                or not 0 <= pair < len(self.walk_pairs)):
            raise ValueError(f"pair: expected an int in [0, {len(self.walk_pairs)}), got "
                             f"{pair!r}; pick one of the walked pairs")

    def walk_table(self) -> pd.DataFrame:
        """One row per autoencoder: `interpolation.PathScores.summary` of its walks."""
        return interpolation.path_table(self.walks)

    def summary(self) -> pd.Series:
        """The key numbers, step by step, indexed by (model, measure); full precision."""
        ratio = self.fid_over_floor()
        rows: dict[tuple[str, str], float] = {
            ("evaluation classifier", "accuracy on the test images"): self.classifier_accuracy,
            (FLOOR, "FID (the floor)"): float(self.scores.loc[FLOOR, "fid"]),
        }
        walks = self.walk_table()
        for model in self.models:
            rows[model, "reconstruction MSE"] = float(
                self.reconstruction.loc[model, "validation MSE"])
            rows[model, "reconstruction accuracy"] = float(
                self.reconstruction.loc[model, "classifier accuracy"])
            rows[model, "reconstructions: FID ÷ floor"] = float(ratio[f"{model}: reconstructions"])
            for s in self.sampled(model):
                rows[model, f"{s}: FID ÷ floor"] = float(ratio[f"{model}: {s}"])
            rows[model, "walk: classifier confidence"] = float(walks.loc[model, "confidence"])
            rows[model, "walk: third class"] = float(walks.loc[model, "third class"])
        series = pd.Series(rows, name=self.dataset)
        series.index.names = ["model", "measure"]
        return series


def run(
    dataset: str | Dataset,
    *,
    n: int = 5_000,
    autoencoders: dict[str, dict] | None = None,
    samplers: dict[str, dict[str, Any]] | None = None,
    classifier_epochs: int | None = None,
    pairs: int = 10,
    steps: int = 10,
    examples: int = 10,
    seed: int = 0,
) -> Results:
    """Train or load the autoencoders and the evaluation classifier of ``dataset``, then score
    n real validation images (the floor), their reconstructions and the samplers' decoded codes
    at ``n`` images each against the test images, and walk between ``pairs`` pairs of test
    images.

    ``autoencoders``: {name: ``training.train`` arguments}; None for the book's (see
    ``book.autoencoders``) and its variational autoencoder. ``samplers``: {model name:
    {sampler name: unfitted sampler}}; None for ``book.LINEUP`` (restricted to the models run).
    """
    data = as_dataset(dataset)
    for name, value, low in (("n", n, metrics.MIN_IMAGES), ("pairs", pairs, 1),
                             ("steps", steps, 2), ("examples", examples, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    if n > len(data.x_val):
        raise ValueError(f"n: expected at most {len(data.x_val)} (the {data.name} validation "
                         f"images the floor and the reconstructions are scored on), got {n}; "
                         "pass a smaller n")
    if examples > n:
        raise ValueError(f"examples: expected at most n={n} images to keep per batch, got "
                         f"{examples}; pass a smaller examples")

    first, second = _pairs(data.y_test, pairs, seed)

    if autoencoders is None:
        models = book.autoencoders(data)
        models["variational"] = book.vae(data)
    else:
        models = book.autoencoders(data, settings=autoencoders)
    plan = _sampler_plan(samplers, models)
    evaluator = book.evaluator(data, epochs=classifier_epochs)

    # The floor and the reconstructions see the same n real images, which no model saw; every
    # batch holds n images, and all are compared with the test images.
    originals, labels = data.x_val[:n], data.y_val[:n]
    scores = [evaluator.score(originals, FLOOR)]
    images = {FLOOR: originals[:examples]}
    reconstruction = {}
    for model_name, model in models.items():
        rebuilt = model.reconstruct(originals)
        reconstruction[model_name] = {
            "validation MSE": float(((rebuilt - originals) ** 2).mean()),
            "classifier accuracy": evaluator.accuracy(rebuilt, labels),
        }
        row = f"{model_name}: reconstructions"
        scores.append(evaluator.score(rebuilt, row))
        images[row] = rebuilt[:examples]
    for model_name, chosen in plan.items():
        fitted = {name: clone(sampler) for name, sampler in chosen.items()}
        # genlab ships the book's flows fitted on its shipped models' codes: loaded, not refitted.
        pretrained.fit_samplers(models[model_name], fitted, data)
        for sampler_name, sampler in fitted.items():
            decoded = models[model_name].decode(sampler.sample(n, seed=seed))
            row = f"{model_name}: {sampler_name}"
            scores.append(evaluator.score(decoded, row))
            images[row] = decoded[:examples]

    classify = lambda batch: evaluator.features(batch)[1]  # noqa: E731
    walks = {model_name: interpolation.evaluate_paths(
                 data.x_test[first], data.x_test[second], interpolation.linear,
                 classify=classify, steps=steps, encode=model.encode, decode=model.decode)
             for model_name, model in models.items()}

    table = pd.DataFrame(reconstruction).T
    table.index.name = "model"
    return Results(
        dataset=data.name, class_names=data.class_names, n=n,
        classifier_accuracy=evaluator.reference_accuracy_,
        reconstruction=table, scores=pd.concat(scores), images=images, walks=walks,
        walk_pairs=np.stack([first, second], axis=1),
        walk_labels=np.stack([data.y_test[first], data.y_test[second]], axis=1),
    )


def side_by_side(results: Sequence[Results]) -> pd.DataFrame:
    """The runs' `Results.summary` as columns, and each later run's values divided by the first's.

    Only measures that every run has are kept (e.g. a model trained for one dataset only drops out).
    """
    if (isinstance(results, Results) or len(results) < 2
            or not all(isinstance(r, Results) for r in results)):
        raise ValueError("results: expected a list of two or more Results (from pipeline.run), got "
                         f"{type(results).__name__}; pass e.g. "
                         "[run('mnist'), run('fashion_mnist')]")
    names = [r.dataset for r in results]
    if len(set(names)) != len(names):
        raise ValueError(f"results: expected runs on different datasets, got {names}; one run "
                         "per dataset")
    table = pd.concat([r.summary() for r in results], axis=1, join="inner")
    base = names[0]
    for other in names[1:]:
        table[f"{other} ÷ {base}"] = table[other] / table[base]
    return table


def _sampler_plan(chosen: dict | None, models: dict) -> dict[str, dict[str, Any]]:
    if chosen is None:
        return {name: plan for name, plan in book.LINEUP.items() if name in models}
    if not isinstance(chosen, dict) or not all(isinstance(p, dict) for p in chosen.values()):
        raise ValueError(f"samplers: expected {{model name: {{sampler name: sampler}}}}, got "
                         f"{chosen!r}; pass e.g. {{'convolutional': {{'uniform box': "
                         "samplers.UniformBox()}}")
    unknown = sorted(set(chosen) - set(models))
    if unknown:
        raise ValueError(f"samplers: expected names of the models run, {list(models)}, got "
                         f"{unknown}; name the autoencoders whose codes to sample")
    return chosen


def _pairs(labels: np.ndarray, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``pairs`` pairs of test images of different classes, fixed by the seed."""
    order = np.random.default_rng(genlab.seed(seed)).permutation(len(labels))
    half = len(order) // 2
    first, second = order[:half], order[half:2 * half]
    differ = labels[first] != labels[second]
    if differ.sum() < pairs:
        raise ValueError(f"pairs: expected at most {int(differ.sum())} pairs of test images of "
                         f"different classes here, got {pairs}; pass a smaller pairs")
    return first[differ][:pairs], second[differ][:pairs]
