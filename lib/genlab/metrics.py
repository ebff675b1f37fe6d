"""Sample-quality metrics: one scale for reconstructions, samplers and interpolations.

Pure functions work on 2-D feature arrays (float64 inside); `Evaluator` turns images into
features with an evaluation classifier whose penultimate Dense layer is named "features", computes
the reference statistics once in ``fit`` (a scikit-learn-style estimator), and scores a batch as
one tidy DataFrame row, with bootstrap intervals (over images, or over groups of them such as the
frames of one walk) and a data-copying test; `rank` orders such rows, calling a difference inside
the intervals a tie and never ranking a copier; `bootstrap_interval` gives the same interval for
any per-unit numbers.

Seeds follow genlab.samplers' rule: `Evaluator` takes ``random_state`` (its fixed-seed subsamples
and bootstrap resamples); functions take ``seed``.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.stats
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances_argmin, pairwise_distances_chunked
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

import genlab
from genlab.data import check_images, check_number

FEATURES_LAYER = "features"
# A generated image is a "near copy" when it lies closer to its nearest training image than
# all but COPY_PERCENTILE % of real held-out images do; a batch is flagged as copying when
# the share of near copies exceeds COPY_FLAG_SHARE (5x what real held-out images give).
COPY_PERCENTILE = 1.0
COPY_FLAG_SHARE = 0.05
MIN_IMAGES = 10
# The data-copying test of Meehan, Chaudhuri and Dasgupta (2020), its settings fixed before any
# sampler was scored. The classifier's feature space is cut into COPY_CELLS k-means cells of the
# training images; in each cell holding at least COPY_MIN_PER_CELL generated images, a Mann-Whitney
# test asks whether they lie closer to their nearest training image than real held-out images do
# (a Z-score); the cells' Z-scores are averaged with the held-out images' shares. New images score
# about 0, copies far below. COPY_Z_THRESHOLD = -3: three standard errors below what new images
# give, so a sampler of truly new images is flagged about once in 700 tests, by chance alone.
COPY_CELLS = 20
COPY_MIN_PER_CELL = 20
COPY_Z_THRESHOLD = -3.0
# Score columns where lower is better; every other one is higher-is-better or a share.
LOWER_IS_BETTER = frozenset({"fid", "kid", "class_tv"})
# Nearest-neighbour searches this large (images × reference images) are cached: 5 000 codes
# against 50 000 take about a second, and chapters 5 and 6 run a dozen such searches.
CACHED_NEIGHBOUR_PAIRS = 10_000_000
# Intervals: the central INTERVAL share of BOOTSTRAP resamples (percentile bootstrap).
INTERVAL = 0.95

SCORE_COLUMNS = [
    "n", "fid", "fid_low", "fid_high", "kid", "kid_std", "precision", "precision_low",
    "precision_high", "recall", "recall_low", "recall_high", "density", "coverage",
    "class_tv", "confidence", "copy_z", "nn_ratio", "copying",
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


def _prdc(real: np.ndarray, real_radii: np.ndarray, fake: np.ndarray, fake_radii: np.ndarray,
          k: int) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Precision, recall, density, coverage from one chunked pass over real x fake distances, and
    the per-row flags behind precision (per fake row) and recall (per real row)."""
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
    }, fake_in_real_ball, real_in_fake_manifold


def _prdc_from_arrays(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    real, fake = _check_pair(real, fake, "real", "fake")
    _check_k(k, len(real), "real")
    _check_k(k, len(fake), "fake")
    return _prdc(real, _real_radii(real, k), fake, _fake_radii(fake, k), k)[0]


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
    index already fitted on flattened images. Searches of ``CACHED_NEIGHBOUR_PAIRS`` (images ×
    reference images) or more are kept in genlab's cache.
    """
    x = _flatten_pixels(images, "images")
    if isinstance(reference_images, NearestNeighbors):
        return _nearest_distances(x, reference_images)
    reference = _flatten_pixels(reference_images, "reference_images")
    search = lambda: _nearest_distances(  # noqa: E731
        x, NearestNeighbors(n_neighbors=1, algorithm="brute").fit(reference))
    if len(x) * len(reference) < CACHED_NEIGHBOUR_PAIRS or x.shape[1] != reference.shape[1]:
        return search()
    from genlab import cache

    key = cache.key({"images": cache.array_digest(x), "reference": cache.array_digest(reference),
                     "versions": genlab.versions(),
                     "genlab": cache.code_digest(sys.modules[__name__])})
    distances, _ = cache.fetch(
        cache.directory() / f"neighbours-{key[:16]}", key, "distances.npy",
        lambda: (search(), {}), lambda value, f: np.save(f, value), np.load,
        redo="the distances are computed again")
    return distances


def _nearest_distances(x: np.ndarray, index: NearestNeighbors) -> np.ndarray:
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


# ----------------------------------------------------------------------------- copying test
def copying_z(distances: np.ndarray, cells: np.ndarray, reference_distances: np.ndarray,
              reference_cells: np.ndarray, *, min_per_cell: int = COPY_MIN_PER_CELL) -> float:
    """Meehan et al.'s (2020) data-copying statistic C_T: ≈0 for new samples, ≪0 for copies.

    Per cell: the Z-scored Mann-Whitney U of the samples' distances to their nearest training
    point against real held-out ones' (both within the cell), averaged with the held-out points'
    cell shares over cells holding at least `min_per_cell` samples; NaN if none does.
    """
    d = _check_distances(distances, "distances")
    h = _check_distances(reference_distances, "reference_distances")
    cells, reference_cells = np.asarray(cells), np.asarray(reference_cells)
    if cells.shape != d.shape or reference_cells.shape != h.shape:
        raise ValueError(f"cells: expected one cell label per distance, got {cells.shape} labels "
                         f"for {d.shape} distances and {reference_cells.shape} for {h.shape}")
    z, weights = [], []
    for cell in np.unique(reference_cells):
        mine, theirs = d[cells == cell], h[reference_cells == cell]
        m, n = len(mine), len(theirs)
        if m < min_per_cell:
            continue
        u = scipy.stats.mannwhitneyu(mine, theirs, alternative="less").statistic
        z.append((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))
        weights.append(n)
    return float(np.average(z, weights=weights)) if z else float("nan")


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    tail = 50.0 * (1.0 - INTERVAL)
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def _resample_counts(n: int, resamples: int, rng: np.random.Generator,
                     groups: np.ndarray | None = None) -> np.ndarray:
    """How often each of n items is drawn in each resample, (resamples, n). With `groups` (a group
    index 0..g-1 per item), whole groups are drawn and every item counts as often as its group."""
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)
    g = int(groups.max()) + 1
    return rng.multinomial(g, np.full(g, 1.0 / g), size=resamples)[:, groups]


def _bootstrap_mean(flags: np.ndarray, resamples: int, rng: np.random.Generator,
                    groups: np.ndarray | None = None) -> tuple[float, float]:
    """Percentile interval of a share, resampling its per-item flags (or whole groups of them)."""
    counts = _resample_counts(len(flags), resamples, rng, groups)
    return _percentile_interval(counts @ flags.astype(np.float64) / counts.sum(axis=1))


def _check_resamples(resamples: object) -> int:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) \
            or resamples < 10:
        raise ValueError(f"resamples: expected an int >= 10, got {resamples!r}; "
                         "use e.g. resamples=200")
    return int(resamples)


def bootstrap_interval(values: np.ndarray, *,
                       reduce: Callable[[np.ndarray], float] | None = None, resamples: int = 200,
                       seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of the mean of `values`' rows, resampling whole rows (one row per
    independent unit, e.g. a walk); with ``reduce``, of ``reduce(mean row)``, e.g. np.min."""
    resamples = _check_resamples(resamples)
    x = _finite_rows(values, "values")
    if reduce is None and x.ndim > 1:
        raise ValueError(f"values: expected one value per row (n,), got shape {x.shape}; "
                         "pass reduce=... (e.g. np.min) to summarise the columns of a mean row")
    counts = _resample_counts(len(x), resamples, np.random.default_rng(genlab.seed(seed)))
    means = counts @ x.reshape(len(x), -1) / len(x)
    if reduce is None:
        return _percentile_interval(means[:, 0])
    return _percentile_interval(np.asarray([reduce(m) for m in means], dtype=np.float64))


def _finite_rows(values: object, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers, got {type(values).__name__}; "
                         "pass one row per independent unit") from err
    if x.ndim == 0 or len(x) < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: expected at least 2 rows of finite numbers, got shape "
                         f"{x.shape}; pass one row per independent unit (e.g. per walk)")
    return x


def _resampled_fid(centred: np.ndarray, mean: np.ndarray, w: np.ndarray, mu: np.ndarray,
                   cov: np.ndarray, cov_sqrt: np.ndarray) -> float:
    """The Fréchet distance of a batch whose rows are counted `w` times (a bootstrap resample)."""
    n = float(w.sum())
    shift = w @ centred / n
    weighted = centred * np.sqrt(w, dtype=np.float32)[:, None]
    # np.cov's n - 1 normalisation, with each image counted as often as it was drawn.
    c = ((weighted.T @ weighted).astype(np.float64) - n * np.outer(shift, shift)) / (n - 1)
    m = cov_sqrt @ c @ cov_sqrt
    root = np.sqrt(np.clip(scipy.linalg.eigvalsh((m + m.T) / 2.0), 0.0, None)).sum()
    diff = mean + shift - mu
    return float(diff @ diff + np.trace(c) + np.trace(cov) - 2.0 * root)


def _bootstrap_fid(feats: np.ndarray, fid: float, mu: np.ndarray, cov: np.ndarray,
                   cov_sqrt: np.ndarray, resamples: int, rng: np.random.Generator,
                   groups: np.ndarray | None = None) -> tuple[float, float]:
    """Interval of the Fréchet distance, resampling the batch's images (or whole groups of them):
    the percentile interval moved by the resamples' median excess over `fid`, because a resample
    repeats images and that alone raises the distance."""
    counts = _resample_counts(len(feats), resamples, rng, groups).astype(np.float64)
    # Centred once, in float32 (the classifier's own precision): 3x faster products.
    mean = feats.mean(axis=0)
    centred = (feats - mean).astype(np.float32)
    values = np.empty(resamples)
    # One BLAS thread: on 128 x 128 products, two threads spend more time meeting than working
    # (measured 5 s against 0.7 s for 200 resamples on two cores).
    with threadpool_limits(1):
        for i, w in enumerate(counts):
            values[i] = _resampled_fid(centred, mean, w, mu, cov, cov_sqrt)
    low, high = _percentile_interval(values)
    shift = float(np.median(values)) - fid
    return max(low - shift, 0.0), max(high - shift, 0.0)


# ----------------------------------------------------------------------------- ranking
def rank(table: pd.DataFrame, column: str = "fid", *, lower: bool | None = None
         ) -> pd.DataFrame:
    """Rank the rows of a scores table on `column`, copiers left out; overlapping intervals tie.

    A row's rank is 1 + the number of rows whose whole interval is better than its own, so rows
    whose intervals overlap the best one's all rank 1. Copiers (``copying``) get no rank. Lower is
    better for the columns of LOWER_IS_BETTER unless `lower` says otherwise.
    """
    if lower is None:
        lower = column in LOWER_IS_BETTER
    bounds = [f"{column}_low", f"{column}_high"]
    missing = [c for c in [column, *bounds, "copying"] if c not in table.columns]
    if missing:
        raise ValueError(f"table: expected the columns {missing} of Evaluator.score rows, got "
                         f"{list(table.columns)}; rank a table of Evaluator.score rows on fid, "
                         "precision or recall")
    honest = table.loc[~table["copying"].astype(bool), [column, *bounds]].astype(float)
    low, high = honest[bounds[0]].to_numpy(), honest[bounds[1]].to_numpy()
    if lower:
        better = (high[None, :] < low[:, None]).sum(axis=1)
    else:
        better = (low[None, :] > high[:, None]).sum(axis=1)
    ranks = pd.Series(1 + better, index=honest.index, dtype="Int64").reindex(table.index)
    out = table[[column, *bounds, "copying"]].copy()
    out["rank"] = ranks
    return out.sort_values(["rank", column], ascending=[True, lower], na_position="last")


def ranks(table: pd.DataFrame, columns: tuple[str, ...] = ("fid", "precision", "recall"),
          *, lower: tuple[str, ...] | None = None) -> pd.DataFrame:
    """`rank` on each of `columns`, one column of ranks each, rows in the table's order; the
    columns named in `lower` (by default LOWER_IS_BETTER) rank lower values first."""
    lower = LOWER_IS_BETTER if lower is None else lower
    return pd.DataFrame({c: rank(table, c, lower=c in lower)["rank"] for c in columns}
                        ).reindex(table.index)


def with_intervals(table: pd.DataFrame, columns: tuple[str, ...] = ("fid", "precision", "recall"),
                   digits: int = 3) -> pd.DataFrame:
    """The given score columns as text "value [low, high]" (95 % intervals), for display."""
    missing = [c for c in columns for part in (c, f"{c}_low", f"{c}_high")
               if part not in table.columns]
    if missing:
        raise ValueError(f"columns: {sorted(set(missing))} have no interval columns in the table "
                         "(column, column_low, column_high); pass some of fid, precision, recall")
    return pd.DataFrame({c: [f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
                             for v, lo, hi in table[[c, f"{c}_low", f"{c}_high"]].to_numpy(float)]
                         for c in columns}, index=table.index)


# ----------------------------------------------------------------------------- Evaluator
class Evaluator(BaseEstimator):
    """Scores batches of images against real held-out reference images with an evaluation
    classifier, and tests each batch for copying the training images.

    ``fit(reference_images, reference_labels, training_images)``: the reference is real images no
    model or sampler saw (the test set); the training images are those they were fitted on. The
    Fréchet distance, KID, precision/recall/density/coverage and the class balance compare a batch
    with the reference; the copying test (see `copying_z`) compares its distances to the training
    images with the reference's. Every score depends on the batch size, so compare batches of one
    size, with real held-out images of that size as the floor. ``bootstrap`` resamples give the
    intervals of FID, precision (over the batch) and recall (over the reference). With `cache`,
    the reference statistics are computed once, and each batch's row once, in ``GENLAB_CACHE``.
    ``reference_accuracy_`` is the classifier's accuracy on the reference images (the test set).
    """

    def __init__(self, model, *, k: int = 5, kid_subsets: int = 20, kid_subset_size: int = 1000,
                 prdc_reference: int = 10_000, copy_cells: int = COPY_CELLS,
                 bootstrap: int = 200, batch_size: int = 1_000, random_state: int = 0,
                 cache: bool = True) -> None:
        self.model = model
        self.k = k
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.prdc_reference = prdc_reference
        self.copy_cells = copy_cells
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.random_state = random_state
        self.cache = cache

    def fit(self, reference_images: np.ndarray, reference_labels: np.ndarray,
            training_images: np.ndarray) -> Evaluator:
        """Check the model, the settings and the images, then compute the reference statistics.
        Returns self."""
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
                          ("prdc_reference", None), ("copy_cells", 1), ("bootstrap", 10),
                          ("batch_size", 1)):
            value, low = getattr(self, name), self.k + 1 if low is None else low
            if (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                    or value < low):
                raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
        reference_images = check_images(reference_images, "reference_images",
                                         min_images=MIN_IMAGES)
        image_shape = tuple(reference_images.shape[1:])
        training_images = check_images(training_images, "training_images", image_shape,
                                       max(MIN_IMAGES, self.copy_cells))
        labels = np.asarray(reference_labels)
        if (labels.shape != (len(reference_images),)
                or not np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(f"reference_labels: expected {len(reference_images)} integer labels "
                             f"of shape ({len(reference_images)},), got shape {labels.shape}, "
                             f"dtype {labels.dtype}; pass class indices, not one-hot vectors")
        n_classes = int(self.model.output.shape[-1])
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(f"reference_labels: expected labels in [0, {n_classes}) (the model's "
                             f"classes), got [{labels.min()}, {labels.max()}]")
        _check_k(self.k, min(self.prdc_reference, len(reference_images)), "reference_images")

        extractor = keras.Model(self.model.inputs, [features_layer.output, self.model.output])
        compute = functools.partial(self._reference, extractor, reference_images, labels,
                                    training_images)
        key = (self._cache_key(reference_images, labels, training_images) if self.cache
               else None)
        reference = compute() if key is None else self._cached_reference(key, compute)
        cells = reference["training_cells"]
        training = reference["training_features"].astype(np.float64)
        # Fitted only now: a fit that fails leaves the evaluator as it was.
        self.image_shape_ = image_shape
        self.reference_labels_ = labels
        self.extractor_ = extractor
        self.cache_key_ = key
        self.reference_features_ = reference["reference_features"].astype(np.float64)
        self.reference_accuracy_ = float(np.mean(reference["reference_predicted"] == labels))
        self.mu_, self.cov_ = _gaussian_fit(self.reference_features_)
        self.cov_sqrt_ = _sqrtm_psd(self.cov_)
        self.prdc_features_ = self.reference_features_[reference["prdc_rows"]]
        self.prdc_radii_ = reference["prdc_radii"]
        self.cell_centres_ = reference["cell_centres"]
        self.cell_indexes_ = _cell_indexes(training, cells)
        self.reference_distances_ = reference["reference_distances"]
        self.reference_cells_ = reference["reference_cells"]
        return self

    def _reference(self, extractor, reference_images: np.ndarray, labels: np.ndarray,
                   training_images: np.ndarray) -> dict[str, np.ndarray]:
        """What every score compares with: the reference images' features and the k-NN radii of
        a subsample of them; the training images' features and k-means cells; and each reference
        image's distance to its nearest training image in its cell."""
        from sklearn.cluster import KMeans

        features, probabilities = self._predict(extractor, reference_images)
        try:
            class_balance(probabilities, labels)
        except ValueError as err:
            raise ValueError(f"model: expected softmax probabilities as output; {err}") from err
        training, _ = self._predict(extractor, training_images)
        rng = np.random.default_rng(genlab.seed(self.random_state))
        n_reference = len(reference_images)
        prdc_rows = np.sort(rng.choice(n_reference, min(self.prdc_reference, n_reference),
                                       replace=False))
        kmeans = KMeans(self.copy_cells, n_init=3, random_state=genlab.seed(self.random_state))
        training_cells = kmeans.fit_predict(training)
        reference_cells = kmeans.predict(features)
        distances = _cell_distances(features, reference_cells,
                                    _cell_indexes(training, training_cells))
        return {
            # float32 is what the classifier gives: stored so, the features reload bit for bit.
            "reference_features": features.astype(np.float32),
            "reference_predicted": probabilities.argmax(axis=1),
            "prdc_rows": prdc_rows,
            "prdc_radii": _real_radii(features[prdc_rows], self.k),
            "training_features": training.astype(np.float32),
            "training_cells": training_cells,
            "cell_centres": kmeans.cluster_centers_,
            "reference_distances": distances,
            "reference_cells": reference_cells,
        }

    def _cache_key(self, reference_images: np.ndarray, labels: np.ndarray,
                   training_images: np.ndarray) -> str:
        """A digest of the classifier, the reference and training images and the settings."""
        from genlab import cache

        return cache.key({
            "model": self.model.get_config(),
            "weights": cache.array_digest(*self.model.get_weights()),
            "images": cache.array_digest(reference_images, labels, training_images),
            "settings": [self.k, self.kid_subsets, self.kid_subset_size, self.prdc_reference,
                         self.copy_cells, self.bootstrap, self.batch_size,
                         genlab.seed(self.random_state)],
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
        if not hasattr(self, "reference_distances_"):
            raise NotFittedError("Evaluator is not fitted yet: call fit(reference_images, "
                                 "reference_labels, training_images) first, with real held-out "
                                 "images, their labels and the images the models were trained on")

    def _predict(self, extractor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from genlab.models import predict  # TensorFlow, loaded only once a classifier runs

        feats, probs = predict(extractor, images, self.batch_size)
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

    def score(self, images: np.ndarray, name: str, *, groups: np.ndarray | None = None,
              timings: dict | None = None) -> pd.DataFrame:
        """One tidy row (index = name) of all metrics for a batch of images; see SCORE_COLUMNS.

        `groups` (one label per image, e.g. the walk a frame belongs to) makes the FID and
        precision intervals resample whole groups: images of one group are not independent.
        With the evaluator's ``cache``, a batch scored before (the very same pixels) is not scored
        again: its row comes from ``GENLAB_CACHE``. If a dict is passed as `timings`, the batch is
        scored, and the dict receives the seconds spent in each part.
        """
        self._check_fitted()
        images = check_images(images, "images", self.image_shape_, max(MIN_IMAGES, self.k + 2))
        groups = _check_groups(groups, len(images))
        if self.cache_key_ is None or timings is not None:
            row = self._score(images, timings, groups)
        else:
            row = self._cached_score(images, groups)
        return pd.DataFrame([row], index=pd.Index([name], name="name"))[SCORE_COLUMNS]

    def _score(self, images: np.ndarray, timings: dict | None,
               groups: np.ndarray | None = None) -> dict[str, float | int | bool]:
        clock = {"t": time.perf_counter()}

        def lap(part: str) -> None:
            now = time.perf_counter()
            if timings is not None:
                timings[part] = now - clock["t"]
            clock["t"] = now

        feats, probs = self.features(images)
        lap("features")
        rng = np.random.default_rng(genlab.seed(self.random_state))
        row: dict[str, float | int | bool] = {"n": len(images)}
        row["fid"] = frechet_distance_gaussians(*_gaussian_fit(feats), self.mu_, self.cov_)
        row["fid_low"], row["fid_high"] = _bootstrap_fid(feats, row["fid"], self.mu_, self.cov_,
                                                         self.cov_sqrt_, self.bootstrap, rng,
                                                         groups)
        lap("fid")
        row["kid"], row["kid_std"] = kernel_distance(
            self.reference_features_, feats, subsets=self.kid_subsets,
            subset_size=self.kid_subset_size, seed=self.random_state)
        lap("kid")
        prdc, in_real, real_in_fake = _prdc(self.prdc_features_, self.prdc_radii_, feats,
                                            _fake_radii(feats, self.k), self.k)
        row.update(prdc)
        row["precision_low"], row["precision_high"] = _bootstrap_mean(in_real, self.bootstrap, rng,
                                                                       groups)
        row["recall_low"], row["recall_high"] = _bootstrap_mean(real_in_fake, self.bootstrap, rng)
        lap("prdc")
        balance = class_balance(probs, self.reference_labels_)
        row["class_tv"], row["confidence"] = balance["class_tv"], balance["confidence"]
        lap("class_balance")
        row.update(self._copying(feats))
        lap("copying")
        return row

    def _copying(self, feats: np.ndarray) -> dict[str, float | bool]:
        """The copying test's Z-score, the median distance ratio, and the verdict."""
        cells = _nearest_centre(feats, self.cell_centres_)
        distances = _cell_distances(feats, cells, self.cell_indexes_)
        z = copying_z(distances, cells, self.reference_distances_, self.reference_cells_)
        median = float(np.median(self.reference_distances_))
        return {"copy_z": z,
                "nn_ratio": float(np.median(distances) / median) if median > 0 else float("nan"),
                "copying": bool(z < COPY_Z_THRESHOLD)}

    def _cached_score(self, images: np.ndarray, groups: np.ndarray | None = None
                      ) -> dict[str, float | int | bool]:
        """``_score`` of a batch, kept in ``GENLAB_CACHE`` under a digest of its pixels."""
        from genlab import cache

        what = {"evaluator": self.cache_key_, "images": cache.array_digest(images)}
        if groups is not None:
            what["groups"] = cache.array_digest(groups)
        key = cache.key(what)
        row, _ = cache.fetch(
            cache.directory() / f"score-{key[:16]}", key, "score.json",
            lambda: (self._score(images, None, groups), {}),
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


def _check_groups(groups: object, n: int) -> np.ndarray | None:
    """Group labels as indexes 0..g-1, or None; at least two groups, one label per image."""
    if groups is None:
        return None
    labels = np.asarray(groups)
    if labels.shape != (n,):
        raise ValueError(f"groups: expected one label per image, shape ({n},), got shape "
                         f"{labels.shape}; pass e.g. np.repeat(np.arange(pairs), frames_per_walk)")
    _, index = np.unique(labels, return_inverse=True)
    if index.max() < 1:
        raise ValueError("groups: expected at least 2 different groups to resample, got 1; "
                         "pass groups=None to resample single images")
    return index.reshape(n)


def _nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centre (its k-means cell)."""
    return pairwise_distances_argmin(x, centres)


def _cell_indexes(training: np.ndarray, cells: np.ndarray) -> dict[int, NearestNeighbors]:
    """A nearest-neighbour index of the training rows of each cell, by cell."""
    return {int(c): NearestNeighbors(n_neighbors=1).fit(training[cells == c])
            for c in np.unique(cells)}


def _cell_distances(x: np.ndarray, cells: np.ndarray,
                    indexes: dict[int, NearestNeighbors]) -> np.ndarray:
    """Each row's distance to its nearest training row in the same cell."""
    out = np.empty(len(x))
    for cell in np.unique(cells):
        mine = cells == cell
        out[mine] = indexes[int(cell)].kneighbors(x[mine])[0][:, 0]
    return out


# ----------------------------------------------------------------------------- VAE codes
def kl_per_dimension(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """Each code dimension's KL divergence from N(0, 1) in nats, averaged over images, shape
    (code_size,), from a VAE encoder's means and log-variances; its sum is training's ``kl``."""
    mean = _check_features(mean, "mean", min_rows=1)
    log_var = _check_features(log_var, "log_var", min_rows=1)
    if log_var.shape != mean.shape:
        raise ValueError(f"log_var: expected the shape of mean, {mean.shape}, got {log_var.shape}; "
                         "pass both outputs of the encoder for the same images")
    return (0.5 * (np.square(mean) + np.exp(log_var) - 1.0 - log_var)).mean(axis=0)


def active_dimensions(kl: np.ndarray, threshold: float = 0.01) -> int:
    """The "active units": code dimensions whose average KL (``kl_per_dimension``) exceeds
    ``threshold`` nats. Burda et al. (2016) use a variance of the mean code above 0.01 instead."""
    kl = np.asarray(kl)
    if kl.ndim != 1 or not np.issubdtype(kl.dtype, np.number) or not np.all(np.isfinite(kl)):
        raise ValueError(f"kl: expected a 1-D array of finite numbers, one per code dimension, got "
                         f"shape {kl.shape}, dtype {kl.dtype}; pass kl_per_dimension's result")
    threshold = check_number(threshold, "threshold", zero_allowed=True, hint=" (nats), e.g. 0.01")
    return int(np.count_nonzero(kl > threshold))
