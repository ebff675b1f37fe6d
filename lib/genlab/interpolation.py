"""Walks between two codes (or two images), and scores for walks over many pairs of images.

`evaluate_paths` walks many pairs and has a classifier read every frame; `path_table` sums the
walks up per method, with intervals that resample whole walks (a walk's frames are not
independent), and `by_step` scores every step on its own against real images (the per-frame floor).

Every path function returns a float32 array whose first axis is the step, of length `steps`,
with ``result[0]`` and ``result[-1]`` equal to the two inputs (cast to float32) bit for bit.
Encoders, decoders and classifiers come in as callables (`walks`, `evaluate_paths`), so this
module sees only arrays and never imports Keras. `Whitener` and `NeighbourGraph` are scikit-learn
estimators (``fit`` returns self, fitted state ends in ``_``, ``NotFittedError`` before ``fit``);
both are deterministic, so unlike the samplers they take no ``random_state``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import ThreadpoolController

import genlab
from genlab import metrics
from genlab.data import check_images

__all__ = [
    "crossfade",
    "linear",
    "slerp",
    "Whitener",
    "whitened_slerp",
    "NeighbourGraph",
    "graph_path",
    "density_path",
    "even_in_pixels",
    "step_sizes",
    "smoothness",
    "walks",
    "random_pairs",
    "PathScores",
    "evaluate_paths",
    "path_table",
    "by_step",
]


# ---------------------------------------------------------------------------- validation


def _check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(
            f"steps: expected an int >= 2 (the number of frames, both ends included), "
            f"got {steps!r}; pass e.g. steps=10"
        )
    return int(steps)


def _finite_array(x: object, name: str, hint: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name}: expected an array of numbers, got {type(x).__name__}; {hint}"
        ) from err
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name}: expected finite numbers, got {int(np.sum(~np.isfinite(arr)))} NaN/inf "
            f"value(s); {hint}"
        )
    return arr


def _check_code(x: object, name: str, size: int | None = None) -> np.ndarray:
    """One code as a 1-D float64 vector (float64 so that the maths loses nothing)."""
    hint = "pass one code vector, e.g. codes[0], not a batch"
    if np.ndim(x) != 1 or np.size(x) == 0:
        raise ValueError(
            f"{name}: expected a 1-D code vector (code_size,) of finite numbers, "
            f"got shape {np.shape(x)}; {hint}"
        )
    arr = _finite_array(x, name, "check the encoder's output for NaNs")
    if size is not None and arr.shape[0] != size:
        raise ValueError(
            f"{name}: expected a code of size {size} (the size of the other code / fitted codes), "
            f"got size {arr.shape[0]}; encode both images with the same encoder"
        )
    return arr


def _check_codes(
    codes: object,
    name: str = "codes",
    size: int | None = None,
    size_is: str = "the size of the codes to interpolate",
) -> np.ndarray:
    if np.ndim(codes) != 2 or np.size(codes) == 0:
        raise ValueError(
            f"{name}: expected a 2-D array (n, code_size) of finite numbers, "
            f"got shape {np.shape(codes)}; pass the encoder's output for a batch of images"
        )
    arr = _finite_array(codes, name, "check the encoder's output for NaNs")
    if size is not None and arr.shape[1] != size:
        raise ValueError(
            f"{name}: expected {size} columns ({size_is}), "
            f"got {arr.shape[1]}; encode everything with the same encoder"
        )
    return arr


def _pin_ends(path: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cast to float32 and put the exact endpoints back (arithmetic may be off by an ulp)."""
    out = np.asarray(path, dtype=np.float32)
    out[0] = a.astype(np.float32)
    out[-1] = b.astype(np.float32)
    return out


def _lerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps).reshape((steps,) + (1,) * a.ndim)
    return (1.0 - t) * a + t * b


# ---------------------------------------------------------------------------- simple paths


def crossfade(image_a: np.ndarray, image_b: np.ndarray, steps: int = 10) -> np.ndarray:
    """Pixel-space cross-fade: the baseline that any walk in code space must beat.

    Returns float32 of shape (steps, *image_a.shape).
    """
    steps = _check_steps(steps)
    hint = "pass two images of the same shape, e.g. x[0] and x[1]"
    a = _finite_array(image_a, "image_a", hint)
    b = _finite_array(image_b, "image_b", hint)
    if a.shape != b.shape:
        raise ValueError(f"image_b: expected the shape of image_a {a.shape}, got {b.shape}; {hint}")
    return _pin_ends(_lerp(a, b, steps), a, b)


def linear(code_a: np.ndarray, code_b: np.ndarray, steps: int = 10) -> np.ndarray:
    """Straight line in code space; float32 (steps, code_size)."""
    steps = _check_steps(steps)
    a = _check_code(code_a, "code_a")
    b = _check_code(code_b, "code_b", a.shape[0])
    return _pin_ends(_lerp(a, b, steps), a, b)


def _slerp64(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return _lerp(a, b, steps)  # a zero code has no direction to rotate
    ua, ub = a / na, b / nb
    omega = np.arccos(np.clip(ua @ ub, -1.0, 1.0))
    # Parallel: the arc is the line. Antiparallel: no unique great circle; linear is the
    # honest answer (it passes through the origin), rather than an arbitrary plane.
    if np.sin(omega) < 1e-6:
        return _lerp(a, b, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
    return ((1.0 - t) * na + t * nb) * direction


def slerp(code_a: np.ndarray, code_b: np.ndarray, steps: int = 10) -> np.ndarray:
    """Spherical walk: the angle moves evenly along the great circle, the norm linearly.

    Falls back to `linear` for (anti)parallel codes or a zero code. float32 (steps, code_size).
    """
    steps = _check_steps(steps)
    a = _check_code(code_a, "code_a")
    b = _check_code(code_b, "code_b", a.shape[0])
    return _pin_ends(_slerp64(a, b, steps), a, b)


# ---------------------------------------------------------------------------- whitened slerp


class Whitener(BaseEstimator):
    """Maps codes to a space with zero mean and identity covariance (PCA whitening), and back.

    Directions in which the fitted codes have (almost) no variance, below `rtol` times the
    largest, are dropped (e.g. dead code units); transform then projects them out, so the
    round trip is exact only for codes in the span of the data (all codes when none is dropped).
    """

    def __init__(self, rtol: float = 1e-6) -> None:
        self.rtol = rtol

    def fit(self, codes: np.ndarray) -> Whitener:
        """Estimate the codes' mean and covariance; returns self."""
        if not (isinstance(self.rtol, (int, float)) and 0.0 <= self.rtol < 1.0):
            raise ValueError(f"rtol: expected a number in [0, 1), got {self.rtol!r}; use e.g. 1e-6")
        x = _check_codes(codes)
        if x.shape[0] < 2:
            raise ValueError(
                f"codes: expected at least 2 codes to estimate a covariance, got {x.shape[0]}; "
                "fit on the encoded training set"
            )
        if np.ptp(x, axis=0).max() == 0.0:
            raise ValueError(
                "codes: expected codes that vary, got identical codes; fit on many different codes"
            )
        pca = PCA(whiten=True, svd_solver="full").fit(x)
        keep = int(np.sum(pca.explained_variance_ > self.rtol * pca.explained_variance_[0]))
        if keep < pca.n_components_:
            pca = PCA(n_components=keep, whiten=True, svd_solver="full").fit(x)
        self.pca_ = pca
        self.mean_ = pca.mean_
        self.n_features_in_ = x.shape[1]
        self.n_components_ = keep
        return self

    def _check_fitted(self, x: object, name: str) -> np.ndarray:
        if not hasattr(self, "pca_"):
            raise NotFittedError("Whitener is not fitted yet: call fit(codes) first, with the "
                                 "training codes")
        if name == "codes":
            return _check_codes(x, name, self.n_features_in_, "the code_size seen in fit")
        return _check_codes(x, name, self.n_components_, "n_components_ of the fitted Whitener")

    def transform(self, codes: np.ndarray) -> np.ndarray:
        """Codes (n, code_size) -> whitened coordinates (n, n_components_), float64."""
        x = self._check_fitted(codes, "codes")
        return self.pca_.transform(x)

    def inverse_transform(self, whitened: np.ndarray) -> np.ndarray:
        """Whitened coordinates (n, n_components_) -> codes (n, code_size), float64."""
        z = self._check_fitted(whitened, "whitened")
        return self.pca_.inverse_transform(z)


def whitened_slerp(
    code_a: np.ndarray, code_b: np.ndarray, steps: int = 10, *, whitener: Whitener
) -> np.ndarray:
    """`slerp` around the codes' own mean, in the space where their covariance is the identity.

    `whitener` is a `Whitener` fitted on training codes. float32 (steps, code_size).
    """
    steps = _check_steps(steps)
    if not isinstance(whitener, Whitener) or not hasattr(whitener, "pca_"):
        got = "an unfitted Whitener" if isinstance(whitener, Whitener) else type(whitener).__name__
        raise ValueError(
            f"whitener: expected a fitted Whitener, got {got}; "
            "pass whitener=Whitener().fit(train_codes)"
        )
    a = _check_code(code_a, "code_a", whitener.n_features_in_)
    b = _check_code(code_b, "code_b", whitener.n_features_in_)
    za, zb = whitener.pca_.transform(np.stack([a, b]))
    path = whitener.pca_.inverse_transform(_slerp64(za, zb, steps))
    return _pin_ends(path, a, b)


# ---------------------------------------------------------------------------- graph path


@functools.cache
def _openmp() -> ThreadpoolController:
    """threadpoolctl's controller, made once: its scan of the loaded libraries took 3 to 4 ms,
    half as long as a path search, when `threadpool_limits` repeated it on every call."""
    return ThreadpoolController()


# NeighbourGraph.path_indices' searches first reach this far from each end, in units of the
# straight a-to-b cost (|a - b| ** power), and give up their limit at the last of these.
_FIRST_REACH = 0.6
_SEARCHES = 8


def _meeting(graph: scipy.sparse.csr_matrix, dist_a: np.ndarray, dist_b: np.ndarray,
             idx_ab: np.ndarray, dist_ab: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The cheapest a-to-b path that two searches' distances (inf where they did not reach) give,
    and where they meet: the hop (u, w), u on a's side and w on b's (-1 for a or b itself)."""
    reached = np.flatnonzero(np.isfinite(dist_a))
    hops = graph[reached]  # the edges out of the codes a's search reached
    tails, heads = np.repeat(reached, np.diff(hops.indptr)), hops.indices
    no_code = np.full(idx_ab.shape[1], -1)
    costs = np.concatenate([
        dist_a[tails] + hops.data + dist_b[heads],  # a ... u - w ... b
        dist_ab[0] + dist_b[idx_ab[0]],  # a - w ... b
        dist_a[idx_ab[1]] + dist_ab[1],  # a ... u - b
    ])
    best = int(np.argmin(costs))
    u = np.concatenate([tails, no_code, idx_ab[1]])[best]
    w = np.concatenate([heads, idx_ab[0], no_code])[best]
    return float(costs[best]), (int(u), int(w))


class NeighbourGraph(BaseEstimator):
    """k-nearest-neighbour graph over codes (training codes, or a sampler's), for shortest paths
    through them: visiting only those codes, or, with `path`'s `decode`, passing between them.

    Edges join each code to its `n_neighbors` nearest codes (either direction), weighted by
    Euclidean distance raised to `power`. With power=1 the shortest path is the shortest in
    length and takes a few long hops; power=2 makes a long hop cost more than two hops of half
    its length, so the path prefers many short hops through densely populated regions.
    Fit once (the expensive part), then call `path` for many pairs.
    """

    def __init__(
        self, n_neighbors: int = 10, n_jobs: int | None = None, power: float = 1.0
    ) -> None:
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs
        self.power = power

    def fit(self, codes: np.ndarray) -> NeighbourGraph:
        """Build the symmetrised, distance-weighted kNN graph over `codes`; returns self."""
        k = self.n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(
                f"n_neighbors: expected an int >= 1, got {k!r}; use e.g. n_neighbors=10"
            )
        p = self.power
        if (
            isinstance(p, bool)
            or not isinstance(p, (int, float, np.integer, np.floating))
            or not 1 <= p <= 4
        ):
            raise ValueError(
                f"power: expected a number in [1, 4] (edge weight = distance ** power), got {p!r}; "
                "use power=1 (shortest length) or power=2 (many short hops)"
            )
        x = _check_codes(codes).astype(np.float32)
        if x.shape[0] <= k:
            raise ValueError(
                f"codes: expected more than n_neighbors={k} codes, got {x.shape[0]}; "
                "pass more codes or a smaller n_neighbors"
            )
        self.codes_ = x
        self.nn_ = NearestNeighbors(n_neighbors=k, n_jobs=self.n_jobs).fit(x)
        self.power_ = float(p)
        if len(x) ** 2 < metrics.CACHED_NEIGHBOUR_PAIRS:
            self.graph_ = self._graph()
            return self
        from genlab import cache

        key = cache.key({"codes": cache.array_digest(x), "n_neighbors": int(k),
                         "power": self.power_, "versions": genlab.versions(),
                         "genlab": cache.code_digest(sys.modules[__name__])})
        self.graph_, _ = cache.fetch(
            cache.directory() / f"graph-{key[:16]}", key, "graph.npz", lambda: (self._graph(), {}),
            lambda value, f: scipy.sparse.save_npz(f, value, compressed=False),
            scipy.sparse.load_npz, redo="the graph is built again")
        return self

    def _graph(self) -> scipy.sparse.csr_matrix:
        """The symmetrised graph of the fitted codes: a second per 20 000 codes, hence cached."""
        graph = self.nn_.kneighbors_graph(mode="distance").tocsr()
        graph.data = graph.data.astype(np.float64) ** self.power_
        # Duplicate codes are at distance 0, and sparse arithmetic drops zeros, which would
        # delete those edges; a tiny positive weight keeps them without changing any path length.
        graph.data = np.maximum(graph.data, np.finfo(np.float64).tiny)
        graph = graph.maximum(graph.T).tocsr().astype(np.float64)
        graph.sort_indices()
        return graph

    def path_indices(self, code_a: np.ndarray, code_b: np.ndarray) -> np.ndarray:
        """Row indices into the fitted codes of the shortest path's nodes, from a's side to b's.

        a and b are joined to their `n_neighbors` nearest codes; never to each other, so the
        path always visits at least one code.
        """
        if not hasattr(self, "graph_"):
            raise NotFittedError("NeighbourGraph is not fitted yet: call fit(codes) first, with "
                                 "the training codes")
        size = self.codes_.shape[1]
        a = _check_code(code_a, "code_a", size)
        b = _check_code(code_b, "code_b", size)
        # Two query points: OpenMP threads only add their start-up, which on a busy machine
        # cost 80 ms per call (30 times the search itself).
        with _openmp().limit(limits=1, user_api="openmp"):
            dist_ab, idx_ab = self.nn_.kneighbors(np.stack([a, b]).astype(np.float32))
        dist_ab = np.maximum(dist_ab.astype(np.float64) ** self.power_, np.finfo(np.float64).tiny)
        n, g, k = self.codes_.shape[0], self.graph_, idx_ab.shape[1]
        # a and b become nodes n and n + 1, with edges out to their nearest codes and none in:
        # no path passes through them, and as the graph's own edges go both ways, a search
        # from b finds each code's distance to b.
        both = scipy.sparse.csr_matrix(
            (np.concatenate([g.data, dist_ab[0], dist_ab[1]]),
             np.concatenate([g.indices, idx_ab.ravel().astype(g.indices.dtype)]),
             np.append(g.indptr, [g.indptr[-1] + k, g.indptr[-1] + 2 * k]).astype(g.indptr.dtype)),
            shape=(n + 2, n + 2),
        )
        # Two searches, from a and from b, each only as far as `reach`, meet near the middle
        # of the path, and visit far fewer codes than one search from a to the farthest (the
        # book's paths: 30 % less time, the same paths). Too short a reach is found out and
        # doubled; a path found bounds the shortest, so half its cost will do.
        reach = _FIRST_REACH * float(np.linalg.norm(a - b)) ** self.power_
        for attempt in range(_SEARCHES):
            limit = reach if attempt < _SEARCHES - 1 and reach > 0 else np.inf
            dist_a, pred_a = dijkstra(both, directed=True, indices=n, return_predecessors=True,
                                      limit=limit)
            dist_b, pred_b = dijkstra(both, directed=True, indices=n + 1,
                                      return_predecessors=True, limit=limit)
            cost, (u, w) = _meeting(g, dist_a[:n], dist_b[:n], idx_ab, dist_ab)
            # The shortest path's midpoint lies on a hop whose ends the searches reached if
            # it costs at most 2 * limit; so then the cheapest meeting is the shortest path.
            if cost <= 2 * limit:
                break
            # (a hair over half: summed in another order, the same path may cost 1 ulp more)
            reach = cost / 2 * (1 + 1e-9) if np.isfinite(cost) else 2 * reach
        if not np.isfinite(cost):
            n_parts = connected_components(self.graph_, directed=False)[0]
            raise ValueError(
                f"code_b: not reachable from code_a in the {self.n_neighbors}-nearest-neighbour "
                f"graph (the codes fall into {n_parts} disconnected groups); "
                "use a larger n_neighbors, e.g. NeighbourGraph(n_neighbors=2 * n_neighbors)"
            )
        nodes = []
        while 0 <= u < n:  # back from the meeting to a (a's own node, n, ends it)
            nodes.append(u)
            u = int(pred_a[u])
        nodes.reverse()
        while 0 <= w < n:  # on from the meeting to b
            nodes.append(w)
            w = int(pred_b[w])
        return np.array(nodes, dtype=np.intp)

    def path(
        self,
        code_a: np.ndarray,
        code_b: np.ndarray,
        steps: int = 10,
        *,
        decode: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """`steps` codes along the shortest graph path from a to b. float32 (steps, code_size).

        Without `decode`, each inner step is the path node whose arc-length position is nearest
        to an even split, and nodes repeat when the path has fewer of them than inner steps (no
        new points are made). With `decode` (e.g. ``model.decode``), the steps are new points on
        the polyline a, nodes, b, placed by `even_in_pixels`: every step changes the image equally.
        """
        steps = _check_steps(steps)
        nodes = self.path_indices(code_a, code_b)
        a = _check_code(code_a, "code_a")
        b = _check_code(code_b, "code_b")
        points = np.vstack([a, self.codes_[nodes].astype(np.float64), b])
        if decode is not None:
            return even_in_pixels(points, steps, decode)
        arc = _arc_length(points)
        targets = np.linspace(0.0, arc[-1], steps)[1:-1]
        inner_arc = arc[1:-1]
        pick = np.abs(targets[:, None] - inner_arc[None, :]).argmin(axis=1)
        out = np.empty((steps, points.shape[1]), dtype=np.float32)
        out[1:-1] = self.codes_[nodes[pick]]
        return _pin_ends(out, a, b)


def graph_path(
    code_a: np.ndarray,
    code_b: np.ndarray,
    codes: np.ndarray,
    steps: int = 10,
    *,
    n_neighbors: int = 10,
    power: float = 1.0,
    decode: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """One-off ``NeighbourGraph(n_neighbors, power=power).fit(codes).path(code_a, code_b, steps,
    decode=decode)``.

    Building the graph dominates; for many pairs fit a `NeighbourGraph` once and reuse it.
    """
    steps = _check_steps(steps)
    size = _check_code(code_a, "code_a").shape[0]
    _check_code(code_b, "code_b", size)
    _check_codes(codes, "codes", size)
    graph = NeighbourGraph(n_neighbors=n_neighbors, power=power).fit(codes)
    return graph.path(code_a, code_b, steps, decode=decode)


# ---------------------------------------------------------------------------- density path


def _arc_length(points: np.ndarray) -> np.ndarray:
    """Cumulative length of the polyline through `points` (flattened), from 0 at the first."""
    flat = points.reshape(len(points), -1)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(flat, axis=0), axis=1))])


def _along(points: np.ndarray, arc: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The points at lengths `targets` along the polyline through `points` (lengths `arc`)."""
    seg = np.clip(np.searchsorted(arc, targets, side="right") - 1, 0, len(points) - 2)
    length = arc[seg + 1] - arc[seg]
    frac = np.divide(targets - arc[seg], length, out=np.zeros_like(targets), where=length > 0)
    return points[seg] + frac[:, None] * (points[seg + 1] - points[seg])


def _even_by_arc_length(path: np.ndarray) -> np.ndarray:
    """Resample a polyline at evenly spaced arc lengths (same number of points, same ends)."""
    arc = _arc_length(path)
    return _along(path, arc, np.linspace(0.0, arc[-1], len(path)))


def even_in_pixels(
    points: np.ndarray,
    steps: int,
    decode: Callable[[np.ndarray], np.ndarray],
    *,
    resolution: int = 64,
) -> np.ndarray:
    """`steps` codes along the polyline through `points` (its first and last are the ends),
    placed so that every step changes the decoded image by the same pixel distance.

    The polyline is decoded at `resolution` evenly spaced codes in one call to `decode`, and the
    image is taken to change linearly between them. float32 (steps, code_size).
    """
    steps = _check_steps(steps)
    pts = _check_codes(points, "points")
    if len(pts) < 2:
        raise ValueError(
            f"points: expected at least 2 codes (the two ends), got {len(pts)}; "
            "pass e.g. np.stack([code_a, code_b])"
        )
    if not callable(decode):
        raise ValueError(
            f"decode: expected a callable codes (n, code_size) -> images (n, ...), got "
            f"{type(decode).__name__}; pass e.g. decode=model.decode"
        )
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or resolution < steps
    ):
        raise ValueError(
            f"resolution: expected an int >= steps ({steps}), got {resolution!r}; "
            "use e.g. resolution=64"
        )
    arc = _arc_length(pts)
    dense = _along(pts, arc, np.linspace(0.0, arc[-1], resolution))
    images = np.asarray(decode(dense.astype(np.float32)))
    if images.shape[:1] != (resolution,):
        raise ValueError(
            f"decode: expected one image per code, {resolution} images, got shape {images.shape}; "
            "pass the decoder of the model whose codes these are"
        )
    pixel_arc = _arc_length(_finite_array(images, "decode", "check the decoder's output"))
    # Images that never change: even steps in code space are as even as anything.
    if pixel_arc[-1] == 0.0:
        pixel_arc = np.linspace(0.0, 1.0, resolution)
    path = _along(dense, pixel_arc, np.linspace(0.0, pixel_arc[-1], steps))
    return _pin_ends(path, pts[0], pts[-1])


def density_path(
    code_a: np.ndarray,
    code_b: np.ndarray,
    steps: int = 10,
    *,
    log_prob: Callable[[np.ndarray], np.ndarray],
    iterations: int = 100,
    step_size: float = 0.1,
) -> np.ndarray:
    """Bend the straight line toward higher `log_prob`, keeping the steps evenly spaced.

    A simple string method: each iteration moves every inner point a shrinking distance
    (`step_size` times the straight-line step, decaying to 0) along the part of the
    finite-difference gradient of `log_prob` across the path, then re-spaces the points evenly
    by arc length. `log_prob` maps (n, code_size) float64 to (n,) log-densities, e.g. a fitted
    GaussianMixture's `score_samples`. Inner points are new codes, not data. float32.
    """
    steps = _check_steps(steps)
    a = _check_code(code_a, "code_a")
    b = _check_code(code_b, "code_b", a.shape[0])
    if not callable(log_prob):
        raise ValueError(
            f"log_prob: expected a callable (n, code_size) -> (n,), got {type(log_prob).__name__}; "
            "pass e.g. log_prob=mixture.score_samples"
        )
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, (int, np.integer))
        or iterations < 0
    ):
        raise ValueError(
            f"iterations: expected an int >= 0, got {iterations!r}; use e.g. iterations=100"
        )
    if not (isinstance(step_size, (int, float)) and step_size > 0):
        raise ValueError(
            f"step_size: expected a number > 0, got {step_size!r}; use e.g. step_size=0.1"
        )
    path = _lerp(a, b, steps)
    stride = np.linalg.norm(b - a) / (steps - 1)
    if stride == 0.0 or steps == 2:
        return _pin_ends(path, a, b)
    d = a.shape[0]
    h = 1e-3 * stride  # finite-difference step, relative to the path's own scale
    offsets = np.concatenate([np.eye(d), -np.eye(d)]) * h
    for it in range(iterations):
        inner = path[1:-1]
        # Central differences in one batched call: densities are cheap per point, costly per call.
        probes = (inner[:, None, :] + offsets[None, :, :]).reshape(-1, d)
        lp = np.asarray(log_prob(probes), dtype=np.float64)
        if lp.shape != (probes.shape[0],) or not np.all(np.isfinite(lp)):
            raise ValueError(
                f"log_prob: expected finite log-densities of shape ({probes.shape[0]},) for "
                f"{probes.shape[0]} codes, got shape {lp.shape} with "
                f"{int(np.sum(~np.isfinite(lp))) if lp.size else 0} non-finite; "
                "pass e.g. mixture.score_samples"
            )
        lp = lp.reshape(len(inner), 2, d)
        grad = (lp[:, 0] - lp[:, 1]) / (2.0 * h)
        # Only the part across the path: sliding along it is undone by the re-spacing anyway.
        tangent = path[2:] - path[:-2]
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), np.finfo(float).tiny)
        grad -= np.sum(grad * tangent, axis=1, keepdims=True) * tangent
        norm = np.linalg.norm(grad, axis=1, keepdims=True)
        # Normalised steps make the scheme indifferent to the density's scale; the decay
        # lets points settle instead of hopping around a ridge.
        move = np.divide(grad, norm, out=np.zeros_like(grad), where=norm > 0)
        path[1:-1] += step_size * stride * (1.0 - it / iterations) * move
        path = _even_by_arc_length(path)
    return _pin_ends(path, a, b)


# ---------------------------------------------------------------------------- scores


def step_sizes(frames: np.ndarray) -> np.ndarray:
    """L2 distance between consecutive frames (flattened), float64 of shape (steps - 1,)."""
    if np.ndim(frames) < 2 or np.shape(frames)[0] < 2:
        raise ValueError(
            f"frames: expected an array (steps, ...) with steps >= 2, "
            f"got shape {np.shape(frames)}; "
            "pass the decoded images of a path, e.g. shape (10, 28, 28, 1)"
        )
    x = _finite_array(frames, "frames", "check the decoder's output")
    x = x.reshape(np.shape(frames)[0], -1)
    return np.linalg.norm(np.diff(x, axis=0), axis=1)


def smoothness(frames: np.ndarray) -> float:
    """Largest step over mean step: 1.0 means every step changes the images equally, 3.0 means
    one step carries three times its share (a jump). Frames that never change score 1.0."""
    sizes = step_sizes(frames)
    mean = sizes.mean()
    return 1.0 if mean == 0.0 else float(sizes.max() / mean)


# ---------------------------------------------------------------------------- many pairs


def walks(
    images_a: np.ndarray,
    images_b: np.ndarray,
    path: Callable[..., np.ndarray],
    steps: int = 10,
    *,
    encode: Callable[[np.ndarray], np.ndarray] | None = None,
    decode: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Frames of the walk from each ``images_a[i]`` to ``images_b[i]``:
    (pairs, steps, *image shape).

    ``path(a, b, steps)`` walks between two codes, e.g. `linear`; ``encode`` and ``decode`` map
    batches of images to codes and back (an autoencoder's), each called once for all pairs.
    Without them the path walks between the images themselves (`crossfade`). float32.
    """
    steps = _check_steps(steps)
    a_img = check_images(images_a, "images_a")
    b_img = check_images(images_b, "images_b")
    if a_img.shape != b_img.shape:
        raise ValueError(
            f"images_b: expected the shape of images_a {a_img.shape}, got {b_img.shape}; "
            "pass one image B per image A"
        )
    if not callable(path):
        raise ValueError(
            f"path: expected a callable (a, b, steps) -> (steps, ...), "
            f"got {type(path).__name__}; pass e.g. linear"
        )
    if (encode is None) != (decode is None):
        raise ValueError(
            "encode, decode: expected both (to walk in code space) or neither "
            "(to walk in pixel space), got one; pass e.g. encode=model.encode, decode=model.decode"
        )
    n = len(a_img)
    ends = np.concatenate([a_img, b_img])
    if encode is not None:
        ends = np.asarray(encode(ends))
    points = np.stack(
        [np.asarray(path(ends[i], ends[n + i], steps), dtype=np.float32) for i in range(n)]
    )
    if points.shape[:2] != (n, steps):
        raise ValueError(
            f"path: expected (steps, ...) = ({steps}, ...) per pair, got {points.shape[1:]}; "
            "check the path function"
        )
    if decode is None:
        return points
    frames = np.asarray(decode(points.reshape(n * steps, *points.shape[2:])), dtype=np.float32)
    return frames.reshape(n, steps, *frames.shape[1:])


def random_pairs(n_images: int, pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indexes (a, b) of `pairs` random pairs among `n_images` images, no image used twice."""
    for name, value, least in (("n_images", n_images, 2 * pairs), ("pairs", pairs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name}: expected an int >= {least}, got {value!r}; draw at most "
                             "n_images // 2 pairs, e.g. random_pairs(len(x_val), 100)")
    rng = np.random.default_rng(genlab.seed(seed))
    a, b = rng.choice(n_images, size=(2, pairs), replace=False)
    return a, b


@dataclass(frozen=True)
class PathScores:
    """What `evaluate_paths` measured on the walks of one method, pair by pair."""

    frames: np.ndarray
    """Decoded walks, (pairs, steps, height, width, channels); frames[:, 0] is A's end,
    frames[:, -1] B's."""
    probabilities: np.ndarray
    """The classifier's class probabilities for every frame, (pairs, steps, classes)."""
    classes_a: np.ndarray
    """The classifier's class of each image A (pairs,), and of each image B below."""
    classes_b: np.ndarray
    endpoint_mse: np.ndarray
    """Pixel MSE of the first frame against A and of the last against B, (pairs, 2)."""

    @property
    def inner_frames(self) -> np.ndarray:
        """The frames strictly between the ends, as one batch (pairs * (steps - 2), H, W, C)."""
        return self.frames[:, 1:-1].reshape(-1, *self.frames.shape[2:])

    @property
    def confidence(self) -> np.ndarray:
        """Top class probability of every frame, (pairs, steps)."""
        return self.probabilities.max(axis=2)

    def per_walk(self) -> pd.DataFrame:
        """One row per pair, one column per criterion of `summary` (inner frames where it says)."""
        inner = self.probabilities[:, 1:-1]
        predicted = inner.argmax(axis=2)
        elsewhere = (predicted != self.classes_a[:, None]) & (predicted != self.classes_b[:, None])
        sizes = np.stack([step_sizes(f) for f in self.frames])
        jump = (self.frames[:, -1] - self.frames[:, 0]).reshape(len(sizes), -1)
        span = np.linalg.norm(jump, axis=1)
        return pd.DataFrame({
            "confidence": inner.max(axis=2).mean(axis=1),
            "lowest confidence": inner.max(axis=2).min(axis=1),
            "third class": elsewhere.mean(axis=1),
            "smoothness": [smoothness(f) for f in self.frames],
            "detour": sizes.sum(axis=1) / np.maximum(span, np.finfo(float).tiny),
            "endpoint MSE": self.endpoint_mse.mean(axis=1),
        }, index=pd.RangeIndex(len(self.frames), name="pair"))

    def summary(self) -> dict[str, float]:
        """One number per criterion, averaged over pairs (inner frames only where it says so)."""
        return {name: float(column.mean()) for name, column in self.per_walk().items()}


def evaluate_paths(
    images_a: np.ndarray,
    images_b: np.ndarray,
    path: Callable[..., np.ndarray],
    *,
    classify: Callable[[np.ndarray], np.ndarray],
    steps: int = 10,
    encode: Callable[[np.ndarray], np.ndarray] | None = None,
    decode: Callable[[np.ndarray], np.ndarray] | None = None,
) -> PathScores:
    """Walk every pair (see `walks`) and score the walks: class probabilities of each frame,
    the classes of A and B, and how well the ends reproduce A and B.

    ``classify`` maps a batch of images to class probabilities (n, classes), e.g. an
    evaluation classifier's ``predict``; it is called once on all frames and once on A and B.
    """
    if not callable(classify):
        raise ValueError(
            "classify: expected a callable images -> probabilities (n, classes), "
            f"got {type(classify).__name__}; pass e.g. lambda x: evaluator.features(x)[1]"
        )
    frames = walks(images_a, images_b, path, steps, encode=encode, decode=decode)
    n, steps = frames.shape[:2]
    a_img = np.asarray(images_a, dtype=np.float32)
    b_img = np.asarray(images_b, dtype=np.float32)
    probabilities = np.asarray(
        classify(frames.reshape(n * steps, *frames.shape[2:])), dtype=np.float64
    )
    ends = np.asarray(classify(np.concatenate([a_img, b_img])), dtype=np.float64)
    if (
        probabilities.ndim != 2
        or probabilities.shape[0] != n * steps
        or ends.shape != (2 * n, probabilities.shape[1])
    ):
        raise ValueError(
            "classify: expected probabilities (n, classes) with one row per image, "
            f"got {probabilities.shape} for {n * steps} images; "
            "pass the classifier's softmax output"
        )
    mse = lambda x, y: ((x - y) ** 2).reshape(n, -1).mean(axis=1)  # noqa: E731
    errors = np.stack([mse(frames[:, 0], a_img), mse(frames[:, -1], b_img)], axis=1)
    return PathScores(
        frames=frames,
        probabilities=probabilities.reshape(n, steps, -1),
        classes_a=ends[:n].argmax(axis=1),
        classes_b=ends[n:].argmax(axis=1),
        endpoint_mse=errors.astype(np.float64),
    )


def path_table(
    scores: dict[str, PathScores],
    *,
    realism: Callable[..., pd.DataFrame] | None = None,
    bootstrap: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per method: `PathScores.summary`, and, if given, the ``realism(images, name,
    groups=walk)`` row (e.g. an Evaluator's ``score``) of the method's inner frames.

    The walk of every frame goes to `realism` as ``groups``, so its intervals resample whole walks
    (the frames of one walk are not independent). With `bootstrap` resamples of the walks, each
    summary column gets a 95 % interval too (``column_low``, ``column_high``).
    """
    _check_scores(scores)
    per_walk = {name: s.per_walk() for name, s in scores.items()}
    table = pd.DataFrame({name: walks.mean() for name, walks in per_walk.items()}).T
    table.index.name = "method"
    if bootstrap is not None:
        for column in list(table.columns):
            bounds = [metrics.bootstrap_interval(walks[column], resamples=bootstrap,
                                                 seed=seed)
                      for walks in per_walk.values()]
            table[f"{column}_low"], table[f"{column}_high"] = np.asarray(bounds).T
    if realism is not None:
        rows = pd.concat([realism(s.inner_frames, name, groups=_walk_of_frame(s))
                          for name, s in scores.items()])
        # Columns both measure (the classifier's confidence) are the same numbers: keep one.
        table = table.join(rows.drop(columns=table.columns.intersection(rows.columns)))
    return table


def _check_scores(scores: object) -> None:
    if (
        not isinstance(scores, dict)
        or not scores
        or not all(isinstance(s, PathScores) for s in scores.values())
    ):
        raise ValueError(
            "scores: expected a non-empty dict {method name: PathScores}; "
            "pass {name: evaluate_paths(...)} for each method"
        )


def _walk_of_frame(scores: PathScores) -> np.ndarray:
    """The pair each of `inner_frames` comes from."""
    pairs, steps = scores.frames.shape[:2]
    return np.repeat(np.arange(pairs), steps - 2)


def by_step(
    scores: dict[str, PathScores],
    measure: Callable[[np.ndarray], np.ndarray],
    *,
    floor: np.ndarray | None = None,
    floor_name: str = "real images",
    bootstrap: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """A per-frame `measure` (images -> one value each, higher is better, e.g. the share of frames
    among real images) averaged over the walks at every inner step, and each method's worst step
    with a 95 % interval resampling whole walks.

    `floor`, real images as many as the walks' inner frames, gets the same numbers in a last row,
    its images dealt out to the steps as (pairs, steps) without repeats: what real images score on
    batches of one step's size. Steps are columns 1 .. steps - 2.
    """
    _check_scores(scores)
    if not callable(measure):
        raise ValueError(
            f"measure: expected a callable images -> one value per image, got "
            f"{type(measure).__name__}; pass e.g. "
            "lambda x: evaluator.per_image(x)['inside_real_manifold']"
        )
    shapes = {s.frames.shape for s in scores.values()}
    if len(shapes) != 1:
        raise ValueError(f"scores: expected walks of one shape (pairs, steps, ...), got {shapes}; "
                         "walk the same pairs with the same steps for every method")
    pairs, steps = next(iter(shapes))[:2]
    if steps < 3:
        raise ValueError(f"scores: expected walks with inner frames (steps >= 3), got {steps}; "
                         "walk with e.g. steps=10")
    grids = {name: s.inner_frames for name, s in scores.items()}
    if floor is not None:
        real = check_images(floor, "floor", next(iter(grids.values())).shape[1:])
        if len(real) != pairs * (steps - 2):
            raise ValueError(
                f"floor: expected {pairs * (steps - 2)} real images (one per inner frame: "
                f"{pairs} walks x {steps - 2} steps), got {len(real)}; pass e.g. "
                f"x_val[:{pairs * (steps - 2)}]"
            )
        grids[floor_name] = real
    rows = {}
    for name, images in grids.items():
        values = np.asarray(measure(images), dtype=np.float64).reshape(-1)
        if values.shape != (len(images),) or not np.all(np.isfinite(values)):
            raise ValueError(
                f"measure: expected {len(images)} finite values (one per image), got shape "
                f"{values.shape}; pass a callable returning one number per image"
            )
        per_walk = values.reshape(pairs, steps - 2)
        low, high = metrics.bootstrap_interval(per_walk, reduce=np.min, resamples=bootstrap,
                                               seed=seed)
        rows[name] = [*per_walk.mean(axis=0), per_walk.mean(axis=0).min(), low, high]
    columns = [*range(1, steps - 1), "worst step", "worst step_low", "worst step_high"]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name = "method"
    return table
