"""Sample-quality metrics: one scale for reconstructions, samplers and interpolations.

Pure functions work on 2-D feature arrays (float64 inside); `Evaluator` turns images into
features with an evaluation classifier whose penultimate Dense layer is named "features", computes
the reference statistics once in ``fit`` (a scikit-learn-style estimator), and scores a batch as
one tidy DataFrame row.

Seeds follow genlab.samplers' rule: `Evaluator` takes ``random_state`` (its fixed-seed subsamples)
and its ``floor(n, seed=None)`` draws with it unless given a seed; functions take ``seed``.
"""

from __future__ import annotations

import functools
import json
import sys
import time

import numpy as np
import pandas as pd
import scipy.linalg
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances_chunked
from sklearn.neighbors import NearestNeighbors

import genlab
from genlab.data import check_images

FEATURES_LAYER = "features"
# A generated image is a "near copy" when it lies closer to its nearest training image than
# all but COPY_PERCENTILE % of real held-out images do; a batch is flagged as copying when
# the share of near copies exceeds COPY_FLAG_SHARE (5x what real held-out images give).
COPY_PERCENTILE = 1.0
COPY_FLAG_SHARE = 0.05
MIN_IMAGES = 10

SCORE_COLUMNS = [
    "n", "fid", "kid", "kid_std", "precision", "recall", "density", "coverage",
    "class_tv", "confidence", "copy_share", "copy_share_p5", "nn_ratio", "copying",
]


# ----------------------------------------------------------------------------- validation
def _check_features(x: np.ndarray, name: str, min_rows: int = 2) -> np.ndarray:
    """Return x as a float64 (n, d) array of finite numbers, or raise a ValueError naming it."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] < min_rows or x.shape[1] < 1:
        raise ValueError(
            f"{name}: expected a 2-D array (n, d) with n >= {min_rows} rows, got shape {x.shape}; "
            "pass one feature vector per row")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected finite numbers, got NaN/inf or non-numeric values "
                         f"(dtype {x.dtype}); check the model or sampler that produced them")
    return x.astype(np.float64, copy=False)


def _check_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str,
                min_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    a = _check_features(a, name_a, min_rows)
    b = _check_features(b, name_b, min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{name_b}: expected {a.shape[1]} features per row like {name_a}, got "
                         f"{b.shape[1]}; compute both with the same feature extractor")
    return a, b


def _check_k(k: int, n: int, name: str) -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected a positive integer, got {k!r}")
    if n <= k:
        raise ValueError(f"{name}: expected more than k={k} rows for k-NN radii, got {n}; "
                         "pass more samples or a smaller k")


# ----------------------------------------------------------------------------- Fréchet distance
def _sqrtm_psd(c: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (tiny negative eigenvalues clipped)."""
    w, v = scipy.linalg.eigh((c + c.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_gaussians(mu1: np.ndarray, cov1: np.ndarray,
                               mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein²) distance between N(mu1, cov1) and N(mu2, cov2)."""
    mu1 = np.asarray(mu1, dtype=np.float64)
    mu2 = np.asarray(mu2, dtype=np.float64)
    cov1 = np.asarray(cov1, dtype=np.float64)
    cov2 = np.asarray(cov2, dtype=np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    for name, x, shape in (("mu1", mu1, (d,)), ("mu2", mu2, (d,)),
                           ("cov1", cov1, (d, d)), ("cov2", cov2, (d, d))):
        if d < 1 or x.shape != shape or not np.all(np.isfinite(x)):
            raise ValueError(f"{name}: expected finite values of shape {shape} (mu1 is "
                             f"{mu1.shape}), got shape {x.shape}; pass means (d,) and "
                             "covariances (d, d)")
    # tr sqrt(cov1 cov2) = tr sqrt(s1 cov2 s1) with s1 = sqrt(cov1): a symmetric PSD matrix,
    # so eigh gives real eigenvalues and the result can never be complex.
    s1 = _sqrtm_psd(cov1)
    m = s1 @ cov2 @ s1
    eig = scipy.linalg.eigvalsh((m + m.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def _gaussian_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID-style Fréchet distance between Gaussians fitted to feature arrays a and b (n, d)."""
    a, b = _check_pair(a, b, "a", "b")
    return frechet_distance_gaussians(*_gaussian_fit(a), *_gaussian_fit(b))


# ----------------------------------------------------------------------------- KID
def _cubic_kernel(x: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
    k = x @ y.T
    k /= d
    k += 1.0
    return k * k * k  # cheaper than ** 3, which goes through pow()


def kernel_distance(a: np.ndarray, b: np.ndarray, *, subsets: int = 20,
                    subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: unbiased MMD² with kernel (x·y/d + 1)³; (mean, population std) over random subsets."""
    a, b = _check_pair(a, b, "a", "b")
    if not isinstance(subsets, (int, np.integer)) or subsets < 1:
        raise ValueError(f"subsets: expected a positive integer, got {subsets!r}")
    if not isinstance(subset_size, (int, np.integer)) or subset_size < 2:
        raise ValueError(f"subset_size: expected an integer >= 2, got {subset_size!r}")
    d = a.shape[1]
    m = min(subset_size, a.shape[0], b.shape[0])
    rng = np.random.default_rng(genlab.seed(seed))
    values = np.empty(subsets)
    for i in range(subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]
        y = b[rng.choice(b.shape[0], m, replace=False)]
        kxx, kyy, kxy = (_cubic_kernel(x, x, d), _cubic_kernel(y, y, d),
                         _cubic_kernel(x, y, d))
        # Unbiased: drop the diagonal (self-similarity) of the within-set kernels.
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values[i] = within - 2.0 * kxy.mean()
    return float(values.mean()), float(values.std())


# ----------------------------------------------------------------------------- PRDC
# The real side's k-NN radii and the ball checks use one distance routine (sklearn's chunked
# pairwise distances) in one orientation (real points as rows): a copy of a real point then
# lands on ball boundaries with bit-identical distances. NearestNeighbors rounds differently,
# which flipped those ties (identical sets gave density 1.13 instead of (k+1)/k = 1.2).
_WORKING_MEMORY_MB = 64


def _real_radii(real: np.ndarray, k: int) -> np.ndarray:
    """Distance of every real row to its k-th nearest other row, rounded exactly as in _prdc."""
    # sklearn zeroes each point's distance to itself, so after partitioning column 0 is the
    # point and column k its k-th neighbour.
    return np.concatenate(list(pairwise_distances_chunked(
        real, reduce_func=lambda dist, start: np.partition(dist, k, axis=1)[:, k],
        working_memory=_WORKING_MEMORY_MB)))


def _fake_radii(fake: np.ndarray, k: int) -> np.ndarray:
    """Distance of every fake row to its k-th nearest other row (fast index; ties are harmless
    here)."""
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(fake).kneighbors(fake)
    return dist[:, k]  # column 0 is the point itself


def _prdc(real: np.ndarray, real_radii: np.ndarray, fake: np.ndarray,
          fake_radii: np.ndarray, k: int) -> dict[str, float]:
    """Precision, recall, density, coverage from one chunked pass over real x fake distances."""
    fake_in_real_ball = np.zeros(len(fake), dtype=bool)   # precision
    real_balls_per_fake = np.zeros(len(fake))             # density
    real_covered = np.zeros(len(real), dtype=bool)        # coverage
    real_in_fake_manifold = np.zeros(len(real), dtype=bool)  # recall
    start = 0
    for dist in pairwise_distances_chunked(real, fake, working_memory=_WORKING_MEMORY_MB):
        stop = start + len(dist)
        inside = dist <= real_radii[start:stop, None]
        fake_in_real_ball |= inside.any(axis=0)
        real_balls_per_fake += inside.sum(axis=0)
        real_covered[start:stop] = inside.any(axis=1)
        real_in_fake_manifold[start:stop] = (dist <= fake_radii[None, :]).any(axis=1)
        start = stop
    return {
        "precision": float(fake_in_real_ball.mean()),
        "recall": float(real_in_fake_manifold.mean()),
        "density": float(real_balls_per_fake.sum() / (k * len(fake))),
        "coverage": float(real_covered.mean()),
    }


def _prdc_from_arrays(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    real, fake = _check_pair(real, fake, "real", "fake")
    _check_k(k, len(real), "real")
    _check_k(k, len(fake), "fake")
    return _prdc(real, _real_radii(real, k), fake, _fake_radii(fake, k), k)


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> tuple[float, float]:
    """k-NN manifold precision and recall (Kynkäänniemi et al. 2019), both in [0, 1]."""
    r = _prdc_from_arrays(real, fake, k)
    return r["precision"], r["recall"]


def density_coverage(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> tuple[float, float]:
    """Density (≈1 for same distribution; (k+1)/k for identical sets) and coverage (Naeem et al.
    2020)."""
    r = _prdc_from_arrays(real, fake, k)
    return r["density"], r["coverage"]


def _inside_real_balls(real: np.ndarray, real_radii: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Whether each fake row lies in some real row's k-NN ball: the per-row flags behind
    precision."""
    inside = np.zeros(len(fake), dtype=bool)
    start = 0
    for dist in pairwise_distances_chunked(real, fake, working_memory=_WORKING_MEMORY_MB):
        inside |= (dist <= real_radii[start:start + len(dist), None]).any(axis=0)
        start += len(dist)
    return inside


def inside_real_manifold(real: np.ndarray, fake: np.ndarray, *, k: int = 5) -> np.ndarray:
    """Per fake row: does it fall inside the real k-NN manifold? Boolean (n_fake,); its mean is
    precision."""
    real, fake = _check_pair(real, fake, "real", "fake", min_rows=1)
    _check_k(k, len(real), "real")
    return _inside_real_balls(real, _real_radii(real, k), fake)


# ----------------------------------------------------------------------------- class balance
def class_balance(probabilities: np.ndarray, reference_labels: np.ndarray) -> dict:
    """Predicted-class histogram, its total variation from the reference labels' balance, mean
    confidence."""
    p = _check_features(probabilities, "probabilities", min_rows=1)
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities: expected rows of non-negative numbers summing to 1, got "
                         f"row sums in [{p.sum(axis=1).min():.3g}, {p.sum(axis=1).max():.3g}]; "
                         "pass the classifier's softmax output, not logits")
    n_classes = p.shape[1]
    labels = np.asarray(reference_labels)
    if (labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer)
            or labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"reference_labels: expected a 1-D array of integer labels in "
                         f"[0, {n_classes}), got shape {labels.shape}, dtype {labels.dtype}; "
                         "pass the real images' class labels (not one-hot)")
    histogram = np.bincount(p.argmax(axis=1), minlength=n_classes) / len(p)
    reference = np.bincount(labels, minlength=n_classes) / len(labels)
    return {
        "histogram": histogram,
        "reference_histogram": reference,
        "class_tv": float(0.5 * np.abs(histogram - reference).sum()),
        "confidence": float(p.max(axis=1).mean()),
    }


# ----------------------------------------------------------------------------- copying check
def _flatten_pixels(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[0] < 1:
        raise ValueError(f"{name}: expected an array of images (n, ...), got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.number) or not np.all(np.isfinite(images)):
        raise ValueError(f"{name}: expected finite numbers, got NaN/inf or non-numeric values")
    return images.reshape(len(images), -1).astype(np.float32, copy=False)


def nearest_neighbour_distances(images: np.ndarray, reference_images: np.ndarray | NearestNeighbors
                                ) -> np.ndarray:
    """Euclidean pixel distance from each image to its nearest reference image, shape (n,).

    Works as well on codes (n, code_size). reference_images may also be a NearestNeighbors
    index already fitted on flattened images.
    """
    x = _flatten_pixels(images, "images")
    if isinstance(reference_images, NearestNeighbors):
        index = reference_images
    else:
        index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(
            _flatten_pixels(reference_images, "reference_images"))
    if x.shape[1] != index.n_features_in_:
        raise ValueError(f"images: expected {index.n_features_in_} pixels per image like "
                         f"reference_images, got {x.shape[1]}; pass images of the same size")
    dist, _ = index.kneighbors(x, n_neighbors=1)
    return dist[:, 0]


def _check_distances(x: np.ndarray, name: str) -> np.ndarray:
    """Nearest-neighbour distances as a float64 1-D array, or a ValueError naming the argument."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)) or x.min() < 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of finite distances >= 0, "
                         f"got shape {x.shape}; pass nearest_neighbour_distances(...) output")
    return x


def copying_summary(distances: np.ndarray, heldout_distances: np.ndarray) -> dict:
    """Compare nearest-training distances of a batch with those of real held-out images.

    copy_share: share closer than the held-out 1st percentile (≈0.01 for real data);
    copy_share_p5: same at the 5th percentile; nn_ratio: median ratio (≈1 for real data,
    ≪1 for copies); copying: copy_share > COPY_FLAG_SHARE.
    """
    d = _check_distances(distances, "distances")
    h = _check_distances(heldout_distances, "heldout_distances")
    p1, p5 = np.percentile(h, [COPY_PERCENTILE, 5.0])
    share = float(np.mean(d < p1))
    median_h = float(np.median(h))
    return {
        "copy_share": share,
        "copy_share_p5": float(np.mean(d < p5)),
        "nn_ratio": float(np.median(d) / median_h) if median_h > 0 else float("nan"),
        "copying": bool(share > COPY_FLAG_SHARE),
    }


# ----------------------------------------------------------------------------- code space
def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins: expected an integer >= 2 (grid cells per dimension), got {bins!r}")
    return int(bins)


def pair_occupancy(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Share of the cells of a bins x bins grid over each pair of dimensions' [min, max] box that
    hold at least one code, shape (d, d) with a NaN diagonal; 1 means the codes fill that 2-D
    box."""
    x = _check_features(codes, "codes")
    bins = _check_bins(bins)
    low, span = x.min(axis=0), np.ptp(x, axis=0)
    span[span == 0] = 1.0  # a constant dimension: every code falls in its first cell
    cells = np.clip(((x - low) / span * bins).astype(np.int64), 0, bins - 1)
    d = x.shape[1]
    shares = np.full((d, d), np.nan)
    for i in range(d):
        for j in range(i + 1, d):
            # bincount over cell numbers is ~10x faster than np.unique or histogram2d here.
            filled = np.count_nonzero(np.bincount(cells[:, i] * bins + cells[:, j],
                                                  minlength=bins * bins))
            shares[i, j] = shares[j, i] = filled / bins ** 2
    return shares


def central_width(codes: np.ndarray, mass: float = 0.9) -> np.ndarray:
    """Width of the middle `mass` of each dimension's values as a share of its [min, max] range,
    shape (code_size,): `mass` for uniform values, less when they crowd the middle of the box."""
    x = _check_features(codes, "codes")
    if not 0 < mass < 1:
        raise ValueError(f"mass: expected a share strictly between 0 and 1, got {mass!r}; "
                         "pass e.g. 0.9 for the middle 90 %")
    tail = 50.0 * (1.0 - mass)
    low, high = np.percentile(x, [tail, 100.0 - tail], axis=0)
    span = np.ptp(x, axis=0)
    # A constant dimension has no spread at all: width 0 of a zero range counts as 0.
    return np.divide(high - low, span, out=np.zeros_like(span), where=span > 0)


def share_near_data(distances: np.ndarray, reference_distances: np.ndarray,
                    percentile: float = 99.0) -> float:
    """Share of `distances` (to the nearest training code) no larger than the given percentile of
    `reference_distances` (those of real held-out codes): ≈ percentile/100 for real codes."""
    d = _check_distances(distances, "distances")
    h = _check_distances(reference_distances, "reference_distances")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile: expected a number in (0, 100], got {percentile!r}")
    return float(np.mean(d <= np.percentile(h, percentile)))


def nearest_class_shares(codes: np.ndarray, reference_codes: np.ndarray,
                         reference_labels: np.ndarray) -> np.ndarray:
    """Share of codes whose nearest reference code has each label, shape (n_classes,).

    For uniform samples of a box this is each class's share of the box's volume.
    """
    codes, reference = _check_pair(codes, reference_codes, "codes", "reference_codes", min_rows=1)
    labels = np.asarray(reference_labels)
    if (labels.shape != (len(reference),) or not np.issubdtype(labels.dtype, np.integer)
            or labels.min() < 0):
        raise ValueError(f"reference_labels: expected {len(reference)} integer labels >= 0, one "
                         f"per reference code, got shape {labels.shape}, dtype {labels.dtype}; "
                         "pass class indices, not one-hot vectors")
    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference)
    nearest = index.kneighbors(codes, return_distance=False)[:, 0]
    return np.bincount(labels[nearest], minlength=labels.max() + 1) / len(codes)


# ----------------------------------------------------------------------------- Evaluator
class Evaluator(BaseEstimator):
    """Scores batches of images against reference (training) images with an evaluation classifier.

    ``fit(train_images, train_labels, heldout_images)`` computes the reference statistics; then
    ``score`` gives a batch's row. The copying check compares a fixed-seed subsample of at most
    `copy_sample` images per batch (and of the held-out images, once) with all training images, to
    stay fast. Precision, recall, density and coverage use a fixed-seed subsample of at most
    `prdc_reference` training features as the real manifold; these depend on sample size, so
    always compare a batch with `floor(n)` at the same n. With `cache`, the reference statistics
    are computed once per classifier and images, and each batch's scores once per batch, and are
    kept in ``GENLAB_CACHE``. ``random_state`` seeds the subsamples and KID's subsets.
    """

    def __init__(self, model, *, k: int = 5, kid_subsets: int = 20, kid_subset_size: int = 1000,
                 prdc_reference: int = 10_000, copy_sample: int = 2_000, batch_size: int = 1_000,
                 random_state: int = 0, cache: bool = True) -> None:
        self.model = model
        self.k = k
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.prdc_reference = prdc_reference
        self.copy_sample = copy_sample
        self.batch_size = batch_size
        self.random_state = random_state
        self.cache = cache

    def fit(self, train_images: np.ndarray, train_labels: np.ndarray,
            heldout_images: np.ndarray) -> Evaluator:
        """Check the model, the settings and the images, then compute the reference statistics:
        the training images' features and the held-out images' distances to them. Returns self."""
        import keras  # here, so that the pure functions import without TensorFlow

        try:
            features_layer = self.model.get_layer(FEATURES_LAYER)
        except (ValueError, AttributeError) as err:
            raise ValueError(f"model: expected a keras.Model with a Dense layer named "
                             f"'{FEATURES_LAYER}' before the softmax, got "
                             f"{type(self.model).__name__} without one; name the penultimate "
                             "layer 'features'") from err
        # In this order: prdc_reference needs more than k rows (None), so k is checked first.
        for name, low in (("k", 1), ("kid_subsets", 1), ("kid_subset_size", 2),
                          ("prdc_reference", None), ("copy_sample", 1), ("batch_size", 1)):
            value, low = getattr(self, name), self.k + 1 if low is None else low
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        train_images = check_images(train_images, "train_images", min_images=MIN_IMAGES)
        image_shape = tuple(train_images.shape[1:])
        heldout_images = check_images(heldout_images, "heldout_images", image_shape, MIN_IMAGES)
        labels = np.asarray(train_labels)
        if labels.shape != (len(train_images),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"train_labels: expected {len(train_images)} integer labels of shape "
                             f"({len(train_images)},), got shape {labels.shape}, dtype "
                             f"{labels.dtype}; pass class indices, not one-hot vectors")
        n_classes = int(self.model.output.shape[-1])
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(f"train_labels: expected labels in [0, {n_classes}) (the model's "
                             f"classes), got [{labels.min()}, {labels.max()}]")
        _check_k(self.k, min(self.prdc_reference, len(train_images)), "train_images")

        extractor = keras.Model(self.model.inputs, [features_layer.output, self.model.output])
        pixel_index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(
            train_images.reshape(len(train_images), -1))
        compute = functools.partial(self._reference, extractor, pixel_index, train_images, labels,
                                    heldout_images)
        key = self._cache_key(train_images, labels, heldout_images) if self.cache else None
        reference = compute() if key is None else self._cached_reference(key, compute)
        # Fitted only now: a fit that fails leaves the evaluator as it was.
        self.image_shape_ = image_shape
        self.heldout_images_ = heldout_images
        self.train_labels_ = labels
        self.extractor_ = extractor
        self.pixel_index_ = pixel_index
        self.cache_key_ = key
        self.train_features_ = reference["train_features"].astype(np.float64)
        self.mu_, self.cov_ = _gaussian_fit(self.train_features_)
        self.prdc_features_ = self.train_features_[reference["prdc_rows"]]
        self.prdc_radii_ = reference["prdc_radii"]
        self.heldout_distances_ = reference["heldout_distances"]
        return self

    def _reference(self, extractor, pixel_index: NearestNeighbors, train_images: np.ndarray,
                   labels: np.ndarray, heldout_images: np.ndarray) -> dict[str, np.ndarray]:
        """What every score compares with: the training images' features, the k-NN radii of a
        subsample of them, and held-out images' distances to their nearest training image."""
        features, probabilities = self._predict(extractor, train_images)
        try:
            class_balance(probabilities, labels)
        except ValueError as err:
            raise ValueError(f"model: expected softmax probabilities as output; {err}") from err
        rng = np.random.default_rng(genlab.seed(self.random_state))
        n_train = len(train_images)
        prdc_rows = np.sort(rng.choice(n_train, min(self.prdc_reference, n_train), replace=False))
        copy_rows = rng.choice(len(heldout_images), min(self.copy_sample, len(heldout_images)),
                               replace=False)
        return {
            # float32 is what the classifier gives: stored so, the features reload bit for bit.
            "train_features": features.astype(np.float32),
            "prdc_rows": prdc_rows,
            "prdc_radii": _real_radii(features[prdc_rows], self.k),
            "heldout_distances": nearest_neighbour_distances(heldout_images[copy_rows],
                                                             pixel_index),
        }

    def _cache_key(self, train_images: np.ndarray, labels: np.ndarray,
                   heldout_images: np.ndarray) -> str:
        """A digest of the classifier, the reference images and the settings."""
        from genlab import cache

        return cache.key({
            "model": self.model.get_config(),
            "weights": cache.array_digest(*self.model.get_weights()),
            "images": cache.array_digest(train_images, labels, heldout_images),
            "settings": [self.k, self.kid_subsets, self.kid_subset_size, self.prdc_reference,
                         self.copy_sample, self.batch_size, genlab.seed(self.random_state)],
            "versions": {**genlab.versions(), "genlab": cache.code_digest(sys.modules[__name__])},
        })

    def _cached_reference(self, key: str, compute) -> dict[str, np.ndarray]:
        """``compute()``'s reference statistics, computed once per key and kept in
        ``GENLAB_CACHE``."""
        from genlab import cache

        def read(path):
            with np.load(path) as stored:
                return {name: stored[name] for name in stored.files}

        reference, _ = cache.fetch(
            cache.directory() / f"evaluator-{key[:16]}", key, "reference.npz",
            lambda: (compute(), {}), lambda value, f: np.savez(f, **value), read,
            redo="the reference statistics are computed again")
        return reference

    def _check_fitted(self) -> None:
        if not hasattr(self, "heldout_distances_"):
            raise NotFittedError("Evaluator is not fitted yet: call fit(train_images, "
                                 "train_labels, heldout_images) first, with the reference "
                                 "(training) images, their labels and real held-out images")

    def _predict(self, extractor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats, probs = extractor.predict(images, batch_size=self.batch_size, verbose=0)
        return np.asarray(feats, dtype=np.float64), np.asarray(probs, dtype=np.float64)

    def features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classifier features (n, d) and class probabilities (n, n_classes), both float64."""
        self._check_fitted()
        return self._predict(self.extractor_, check_images(images, "images", self.image_shape_))

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        """Share of images the evaluation classifier assigns to their true label."""
        _, probabilities = self.features(images)
        labels = np.asarray(labels)
        if labels.shape != (len(probabilities),):
            raise ValueError(f"labels: expected shape ({len(probabilities)},), one per image, got "
                             f"{labels.shape}; pass class indices, not one-hot vectors")
        return float(np.mean(probabilities.argmax(axis=1) == labels))

    def score(self, images: np.ndarray, name: str, *, timings: dict | None = None) -> pd.DataFrame:
        """One tidy row (index = name) of all metrics for a batch of images; see SCORE_COLUMNS.

        With the evaluator's ``cache``, a batch scored before (the very same pixels) is not scored
        again: its row comes from ``GENLAB_CACHE``. If a dict is passed as `timings`, the batch is
        scored, and the dict receives the seconds spent in each part.
        """
        self._check_fitted()
        images = check_images(images, "images", self.image_shape_, max(MIN_IMAGES, self.k + 2))
        if self.cache_key_ is None or timings is not None:
            row = self._score(images, timings)
        else:
            row = self._cached_score(images)
        return pd.DataFrame([row], index=pd.Index([name], name="name"))[SCORE_COLUMNS]

    def _score(self, images: np.ndarray, timings: dict | None) -> dict[str, float | int | bool]:
        clock = {"t": time.perf_counter()}

        def lap(part: str) -> None:
            now = time.perf_counter()
            if timings is not None:
                timings[part] = now - clock["t"]
            clock["t"] = now

        feats, probs = self.features(images)
        lap("features")
        row: dict[str, float | int | bool] = {"n": len(images)}
        row["fid"] = frechet_distance_gaussians(*_gaussian_fit(feats), self.mu_, self.cov_)
        lap("fid")
        row["kid"], row["kid_std"] = kernel_distance(
            self.train_features_, feats, subsets=self.kid_subsets,
            subset_size=self.kid_subset_size, seed=self.random_state)
        lap("kid")
        fake_radii = _fake_radii(feats, self.k)
        row.update(_prdc(self.prdc_features_, self.prdc_radii_, feats, fake_radii, self.k))
        lap("prdc")
        balance = class_balance(probs, self.train_labels_)
        row["class_tv"], row["confidence"] = balance["class_tv"], balance["confidence"]
        lap("class_balance")
        rng = np.random.default_rng(genlab.seed(self.random_state))
        rows = rng.choice(len(images), min(self.copy_sample, len(images)), replace=False)
        row.update(copying_summary(nearest_neighbour_distances(images[rows], self.pixel_index_),
                                   self.heldout_distances_))
        lap("copying")
        return row

    def _cached_score(self, images: np.ndarray) -> dict[str, float | int | bool]:
        """``_score`` of a batch, kept in ``GENLAB_CACHE`` under a digest of its pixels."""
        from genlab import cache

        key = cache.key({"evaluator": self.cache_key_, "images": cache.array_digest(images)})
        row, _ = cache.fetch(
            cache.directory() / f"score-{key[:16]}", key, "score.json",
            lambda: (self._score(images, None), {}),
            lambda value, f: f.write(json.dumps(value).encode()),
            lambda path: json.loads(path.read_text()), redo="the batch is scored again")
        return row

    def per_image(self, images: np.ndarray) -> pd.DataFrame:
        """One row per image: predicted class, classifier confidence, and whether the image lies
        inside the real k-NN manifold (the flag whose mean is `score`'s precision)."""
        feats, probs = self.features(images)
        return pd.DataFrame({
            "predicted": probs.argmax(axis=1),
            "confidence": probs.max(axis=1),
            "inside_real_manifold": _inside_real_balls(self.prdc_features_, self.prdc_radii_,
                                                       feats),
        })

    def floor(self, n: int, seed: int | None = None, name: str = "real held-out") -> pd.DataFrame:
        """Score n real held-out images drawn with ``seed`` (None: ``random_state``): the best a
        generator can hope for at this n."""
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= len(self.heldout_images_):
            raise ValueError(f"n: expected an integer in [1, {len(self.heldout_images_)}] (the "
                             f"number of held-out images), got {n!r}; pass more held-out images "
                             "or score the batch at a smaller n")
        seed = self.random_state if seed is None else seed
        rows = np.random.default_rng(genlab.seed(seed)).choice(len(self.heldout_images_), n,
                                                               replace=False)
        return self.score(self.heldout_images_[rows], name)
