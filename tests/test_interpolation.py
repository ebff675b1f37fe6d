"""Tests for genlab.interpolation on small synthetic codes."""

import numpy as np
import pandas as pd
import pytest

from genlab.interpolation import (
    NeighbourGraph,
    PathScores,
    Whitener,
    by_step,
    crossfade,
    density_path,
    evaluate_paths,
    even_in_pixels,
    graph_path,
    linear,
    path_table,
    slerp,
    smoothness,
    step_sizes,
    walks,
    whitened_slerp,
)

CODE_SIZE = 6


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(CODE_SIZE, CODE_SIZE))
    return (rng.normal(size=(300, CODE_SIZE)) @ mix + 2.0).astype(np.float32)


@pytest.fixture(scope="module")
def whitener(codes) -> Whitener:
    return Whitener().fit(codes)


@pytest.fixture(scope="module")
def pair(codes) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return tuple(codes[:2] + rng.normal(scale=0.1, size=(2, CODE_SIZE)).astype(np.float32))


def _half_circle(n: int = 200) -> np.ndarray:
    angle = np.linspace(0.0, np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)


METHODS = {
    "linear": lambda a, b, steps, **kw: linear(a, b, steps),
    "slerp": lambda a, b, steps, **kw: slerp(a, b, steps),
    "whitened_slerp": lambda a, b, steps, **kw: whitened_slerp(
        a, b, steps, whitener=kw["whitener"]
    ),
    "graph_path": lambda a, b, steps, **kw: graph_path(a, b, kw["codes"], steps, n_neighbors=8),
    "density_path": lambda a, b, steps, **kw: density_path(
        a, b, steps, log_prob=lambda x: -0.5 * np.sum(x**2, axis=1), iterations=20
    ),
    "graph_path, even in pixels": lambda a, b, steps, **kw: graph_path(
        a, b, kw["codes"], steps, n_neighbors=8, decode=_cubed
    ),
}


def _cubed(codes: np.ndarray) -> np.ndarray:
    """A toy decoder whose image changes unevenly along a straight line in code space."""
    return (np.asarray(codes, dtype=np.float64) ** 3).reshape(len(codes), -1, 1, 1)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("steps", [2, 7])
def test_every_method_has_exact_endpoints_and_steps(method, steps, pair, codes, whitener):
    a, b = pair
    path = METHODS[method](a, b, steps, codes=codes, whitener=whitener)
    assert path.shape == (steps, CODE_SIZE) and path.dtype == np.float32
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    assert np.all(np.isfinite(path))


def test_crossfade_endpoints_shape_and_even_steps():
    rng = np.random.default_rng(2)
    img_a, img_b = rng.random((2, 28, 28, 1)).astype(np.float32)
    frames = crossfade(img_a, img_b, steps=10)
    assert frames.shape == (10, 28, 28, 1) and frames.dtype == np.float32
    assert np.array_equal(frames[0], img_a) and np.array_equal(frames[-1], img_b)
    assert smoothness(frames) == pytest.approx(1.0, abs=1e-5)
    sizes = step_sizes(frames)
    assert sizes.shape == (9,)
    np.testing.assert_allclose(sizes, np.linalg.norm(img_b - img_a) / 9, rtol=1e-4)


def test_linear_midpoint_is_mean(pair):
    a, b = pair
    np.testing.assert_allclose(linear(a, b, steps=5)[2], (a + b) / 2, rtol=1e-6)


def test_slerp_keeps_unit_norm_and_even_angles():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, CODE_SIZE))
    a, b = (a / np.linalg.norm(a)).astype(np.float32), (b / np.linalg.norm(b)).astype(np.float32)
    path = slerp(a, b, steps=9).astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-6)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    angles = np.arccos(np.clip(np.sum(unit[:-1] * unit[1:], axis=1), -1, 1))
    np.testing.assert_allclose(angles, np.arccos(np.clip(a @ b, -1, 1)) / 8, rtol=1e-4)
    # On the great circle: every step lies in the plane spanned by a and b.
    basis, _ = np.linalg.qr(np.stack([a, b], axis=1).astype(np.float64))
    np.testing.assert_allclose(path - path @ basis @ basis.T, 0.0, atol=1e-6)


def test_slerp_interpolates_norm_linearly_and_falls_back_for_parallel():
    a = np.array([3.0, 0.0, 0.0], dtype=np.float32)
    b = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    np.testing.assert_allclose(
        np.linalg.norm(slerp(a, b, 5), axis=1), np.linspace(3, 1, 5), rtol=1e-6
    )
    np.testing.assert_allclose(slerp(a, 2 * a, 5), linear(a, 2 * a, 5), rtol=1e-6)
    np.testing.assert_allclose(slerp(a, -a, 5), linear(a, -a, 5), atol=1e-6)


def test_whitener_whitens_and_round_trips(codes, whitener):
    z = whitener.transform(codes)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.cov(z.T), np.eye(CODE_SIZE), atol=1e-6)
    np.testing.assert_allclose(whitener.mean_, codes.astype(np.float64).mean(axis=0), rtol=1e-6)
    back = whitener.inverse_transform(z)
    np.testing.assert_allclose(back, codes, rtol=1e-6, atol=1e-6)


def test_whitened_slerp_goes_around_the_mean(codes, whitener):
    # Two codes on opposite sides of the mean: the linear midpoint is the mean itself, while
    # whitened slerp keeps the Mahalanobis norm, so its midpoint stays away from the mean.
    z = np.array([[2.0] + [0.0] * (CODE_SIZE - 1), [0.0, 2.0] + [0.0] * (CODE_SIZE - 2)])
    a, b = whitener.inverse_transform(z).astype(np.float32)
    path = whitened_slerp(a, b, 5, whitener=whitener)
    radius = np.linalg.norm(whitener.transform(path), axis=1)
    np.testing.assert_allclose(radius, 2.0, rtol=1e-4)
    assert np.linalg.norm(whitener.transform(linear(a, b, 5))[2]) < 1.5


def test_whitener_drops_dead_units():
    rng = np.random.default_rng(4)
    codes = np.hstack([rng.normal(size=(100, 3)), np.zeros((100, 1))]).astype(np.float32)
    w = Whitener().fit(codes)
    assert w.n_components_ == 3
    path = whitened_slerp(codes[0], codes[1], 6, whitener=w)
    assert np.all(np.isfinite(path)) and np.all(path[:, 3] == 0.0)


def test_graph_path_visits_only_given_codes(codes, pair):
    a, b = pair
    path = graph_path(a, b, codes, steps=8, n_neighbors=8)
    for step in path[1:-1]:
        assert np.any(np.all(codes == step, axis=1))


def test_graph_path_follows_a_half_circle_where_linear_cuts_across():
    arc = _half_circle()
    a, b = np.array([1.0, 0.02], np.float32), np.array([-1.0, 0.02], np.float32)
    graph = NeighbourGraph(n_neighbors=6).fit(arc)
    path = graph.path(a, b, steps=10)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=0.03)
    angle = np.arctan2(path[:, 1], path[:, 0])
    assert np.all(np.diff(angle) > 0)
    # Inner steps are evenly spread by arc length (the arc is 199 evenly spaced codes).
    np.testing.assert_allclose(np.diff(angle), np.pi / 9, atol=0.03)
    assert np.linalg.norm(linear(a, b, 10)[5]) < 0.2
    # Reusing the fitted graph gives the same answer as the one-off wrapper.
    np.testing.assert_array_equal(path, graph_path(a, b, arc, 10, n_neighbors=6))


def test_a_large_graph_is_kept_in_the_cache_and_gives_the_same_paths(private_cache, monkeypatch):
    from genlab import metrics

    arc = _half_circle()
    a, b = np.array([1.0, 0.02], np.float32), np.array([-1.0, 0.02], np.float32)
    built = NeighbourGraph(n_neighbors=6, power=2).fit(arc)  # small: not cached
    assert not private_cache.exists() or not any(private_cache.glob("graph-*"))
    monkeypatch.setattr(metrics, "CACHED_NEIGHBOUR_PAIRS", len(arc) ** 2)
    first = NeighbourGraph(n_neighbors=6, power=2).fit(arc)
    assert len(list(private_cache.glob("graph-*"))) == 1
    again = NeighbourGraph(n_neighbors=6, power=2).fit(arc)
    for graph in (first, again):
        assert (graph.graph_ != built.graph_).nnz == 0
        for name in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(graph.graph_, name), getattr(built.graph_, name))
        np.testing.assert_array_equal(graph.path(a, b, 10), built.path(a, b, 10))
    # Other settings or other codes are other entries, never the first one's graph.
    NeighbourGraph(n_neighbors=6, power=1).fit(arc)
    NeighbourGraph(n_neighbors=6, power=2).fit(arc[::-1].copy())
    assert len(list(private_cache.glob("graph-*"))) == 3


@pytest.mark.parametrize("power", [1, 2])
def test_path_indices_finds_the_shortest_path_that_one_full_search_finds(power):
    """The two searches that meet in the middle (their reach doubled when too short) give the
    path one unlimited Dijkstra search from a gives, including ends that coincide."""
    import scipy.sparse
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(power)
    # The arc jittered: evenly spaced codes make paths of exactly equal length, told apart by
    # rounding alone.
    arc = _half_circle(150) + rng.normal(0, 1e-3, (150, 2))
    codes = np.concatenate([arc, rng.normal(0, 0.3, (150, 2))]).astype(np.float32)
    graph = NeighbourGraph(n_neighbors=5, power=power).fit(codes)
    n, g = len(codes), graph.graph_
    ends = [(codes[0] + 0.01, codes[148] - 0.01), (codes[3], codes[3])]
    ends += [tuple(rng.normal(0, 0.5, (2, 2)).astype(np.float32)) for _ in range(30)]
    for a, b in ends:
        dist_ab, idx_ab = graph.nn_.kneighbors(np.stack([a, b]))
        dist_ab = np.maximum(dist_ab.astype(np.float64) ** power, np.finfo(np.float64).tiny)
        one_way = scipy.sparse.csr_matrix(
            (np.concatenate([g.data, dist_ab[0]]), np.concatenate([g.indices, idx_ab[0]]),
             np.append(g.indptr, g.indptr[-1] + 5)), shape=(n + 1, n + 1))
        dist, pred = dijkstra(one_way, directed=True, indices=n, return_predecessors=True)
        node = int(idx_ab[1][np.argmin(dist[idx_ab[1]] + dist_ab[1])])
        expected = []
        while node != n:
            expected.append(node)
            node = int(pred[node])
        np.testing.assert_array_equal(graph.path_indices(a, b), expected[::-1])


def test_graph_path_repeats_nodes_when_the_path_is_short():
    arc = _half_circle(20)
    path = NeighbourGraph(n_neighbors=3).fit(arc).path(arc[0] + 0.01, arc[3] + 0.01, steps=10)
    inner = path[1:-1]
    assert all(np.any(np.all(arc == step, axis=1)) for step in inner)
    assert len(np.unique(inner, axis=0)) < len(inner)
    assert np.all(np.diff(np.arctan2(inner[:, 1], inner[:, 0])) >= 0)


def test_graph_path_disconnected_graph_raises():
    rng = np.random.default_rng(5)
    codes = np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 100.0])
    codes = codes.astype(np.float32)
    with pytest.raises(ValueError, match="not reachable.*larger n_neighbors"):
        graph_path(codes[0], codes[-1], codes, steps=5, n_neighbors=3)


def test_density_path_bends_toward_density_and_stays_even():
    a, b = np.array([-1.0, 0.0], np.float32), np.array([1.0, 0.0], np.float32)

    def log_prob(x):  # a bump above the straight line
        return -np.sum((x - np.array([0.0, 1.0])) ** 2, axis=1) / (2 * 0.5**2)

    path = density_path(a, b, 9, log_prob=log_prob)
    straight = linear(a, b, 9)
    assert path[4, 1] > 0.3
    assert log_prob(path[1:-1]).mean() > log_prob(straight[1:-1]).mean() + 1.0
    assert smoothness(path) < 1.1
    with pytest.raises(ValueError, match="log_prob: expected finite log-densities of shape"):
        density_path(a, b, 5, log_prob=lambda x: np.zeros((len(x), 2)))


def test_even_in_pixels_evens_out_the_decoded_steps():
    a, b = np.array([-1.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32)
    path = even_in_pixels(np.stack([a, b]), 9, _cubed, resolution=400)
    assert path.shape == (9, 2) and path.dtype == np.float32
    np.testing.assert_array_equal(path[[0, -1]], np.stack([a, b]))
    # Even steps in code space give uneven images (x**3), re-timed steps give even ones.
    assert smoothness(_cubed(linear(a, b, 9))) > 1.5
    assert smoothness(_cubed(path)) < 1.02
    # The steps stay on the straight line between the ends.
    off_line = (path - a) @ np.array([-(b - a)[1], (b - a)[0]])
    np.testing.assert_allclose(off_line, 0.0, atol=1e-5)


def test_even_in_pixels_follows_the_polyline_and_tolerates_a_constant_decoder():
    corner = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    # Images that never change: steps fall back to even lengths along the polyline (whose
    # corner is one of the 65 decoded points, so no step cuts it).
    path = even_in_pixels(corner, 5, lambda z: np.ones((len(z), 3)), resolution=65)
    np.testing.assert_allclose(path, [[0, 0], [0.5, 0], [1, 0], [1, 0.5], [1, 1]], atol=1e-6)


def test_graph_path_in_pixels_makes_new_even_frames_between_the_nodes():
    arc = _half_circle(20)
    a, b = np.array([1.0, 0.02], np.float32), np.array([-1.0, 0.02], np.float32)
    graph = NeighbourGraph(n_neighbors=3).fit(arc)
    path = graph.path(a, b, steps=30, decode=_cubed)
    inner = path[1:-1]
    # More steps than nodes: new points, none repeated, none a fitted code.
    assert len(np.unique(inner, axis=0)) == len(inner)
    assert not any(np.any(np.all(arc == step, axis=1)) for step in inner)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=0.02)
    assert smoothness(_cubed(path)) < 1.1 < smoothness(_cubed(graph.path(a, b, steps=30)))


def test_smoothness_is_worse_for_an_uneven_path():
    even = np.linspace(0.0, 1.0, 5)[:, None] * np.ones((1, 3))
    uneven = np.array([0.0, 0.1, 0.2, 0.3, 1.0])[:, None] * np.ones((1, 3))
    assert smoothness(even) == pytest.approx(1.0)
    assert smoothness(uneven) == pytest.approx(0.7 / 0.25)
    assert smoothness(np.zeros((4, 3))) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: linear(np.zeros(3), np.zeros(4)),
            r"code_b: expected a code of size 3.*got size 4",
        ),
        (
            lambda: slerp(np.array([1.0, np.nan]), np.ones(2)),
            r"code_a: expected finite numbers, got 1 NaN",
        ),
        (lambda: linear(np.zeros(3), np.ones(3), steps=1), r"steps: expected an int >= 2.*got 1"),
        (lambda: linear(np.zeros(3), np.ones(3), steps=2.5), r"steps: expected an int >= 2"),
        (
            lambda: slerp(np.zeros((2, 3)), np.ones(3)),
            r"code_a: expected a 1-D code vector.*got shape \(2, 3\)",
        ),
        (
            lambda: crossfade(np.zeros((28, 28, 1)), np.zeros((28, 28))),
            r"image_b: expected the shape of image_a",
        ),
        (
            lambda: graph_path(np.zeros(2), np.ones(2), np.zeros((10, 3))),
            r"codes: expected 2 columns",
        ),
        (lambda: graph_path(np.zeros(2), np.ones(2), np.zeros(10)), r"codes: expected a 2-D array"),
        (
            lambda: NeighbourGraph().path(np.zeros(2), np.ones(2)),
            r"NeighbourGraph is not fitted yet",
        ),
        (
            lambda: whitened_slerp(np.zeros(2), np.ones(2), whitener=Whitener()),
            r"whitener: expected a fitted",
        ),
        (lambda: Whitener().transform(np.zeros((2, 2))), r"Whitener is not fitted yet"),
        (lambda: smoothness(np.zeros(3)), r"frames: expected an array \(steps, \.\.\.\)"),
        (lambda: even_in_pixels(np.zeros((1, 2)), 5, _cubed), r"points: expected at least 2"),
        (lambda: even_in_pixels(np.eye(2), 5, "decoder"), r"decode: expected a callable"),
        (
            lambda: even_in_pixels(np.eye(2), 5, _cubed, resolution=4),
            r"resolution: expected an int >= steps \(5\), got 4",
        ),
        (
            lambda: even_in_pixels(np.eye(2), 5, lambda z: z[:3]),
            r"decode: expected one image per code, 64 images, got shape \(3, 2\)",
        ),
        (
            lambda: even_in_pixels(np.eye(2), 5, lambda z: z * np.nan),
            r"decode: expected finite numbers",
        ),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_whitened_slerp_checks_code_size(whitener):
    with pytest.raises(ValueError, match=rf"code_a: expected a code of size {CODE_SIZE}"):
        whitened_slerp(np.zeros(3), np.zeros(3), whitener=whitener)


# ---------------------------------------------------------------------------- squared edges


def test_squared_edges_take_many_short_hops_where_lengths_take_long_chords():
    arc = _half_circle()
    a, b = arc[0] + np.float32(0.001), arc[-1] + np.float32(0.001)
    plain = NeighbourGraph(n_neighbors=6).fit(arc).path_indices(a, b)
    squared = NeighbourGraph(n_neighbors=6, power=2).fit(arc).path_indices(a, b)
    # Distance weights: chords to the farthest neighbour (3 along the arc) are shortest in total.
    # Squared weights: a hop of length 2s costs 4s², two hops of s cost 2s², so every node is used.
    assert len(plain) < len(arc) / 2
    assert np.all(np.diff(squared) == 1) and len(squared) >= len(arc) - 2
    hops = lambda nodes: np.linalg.norm(np.diff(arc[nodes], axis=0), axis=1).max()  # noqa: E731
    assert hops(squared) < hops(plain) / 2
    np.testing.assert_array_equal(
        graph_path(a, b, arc, 10, n_neighbors=6, power=2),
        NeighbourGraph(6, power=2).fit(arc).path(a, b, 10),
    )


@pytest.mark.parametrize("power", [0.5, 5, "2", True])
def test_neighbour_graph_rejects_bad_power(power, codes):
    with pytest.raises(ValueError, match=r"power: expected a number in \[1, 4\]"):
        NeighbourGraph(power=power).fit(codes)


# ---------------------------------------------------------------------------- many pairs


def _three_class_brightness(images: np.ndarray) -> np.ndarray:
    """A stand-in classifier: dark images are class 0, bright ones class 2, mid-grey class 1."""
    m = images.reshape(len(images), -1).mean(axis=1)
    return np.stack([(1 - m) ** 2, 2 * m * (1 - m), m**2], axis=1)


def test_walks_in_code_space_and_pixel_space_agree_for_identity_codes():
    rng = np.random.default_rng(6)
    a_img, b_img = rng.random((2, 3, 4, 5, 1)).astype(np.float32)
    pixels = walks(a_img, b_img, crossfade, steps=6)
    seen = []

    def encode(x):
        seen.append(len(x))
        return x.reshape(len(x), -1)

    codes = walks(
        a_img, b_img, linear, steps=6, encode=encode, decode=lambda z: z.reshape(-1, 4, 5, 1)
    )
    assert pixels.shape == codes.shape == (3, 6, 4, 5, 1) and seen == [6]  # encoded once, A and B
    np.testing.assert_allclose(codes, pixels, atol=1e-6)
    np.testing.assert_array_equal(pixels[:, 0], a_img)
    np.testing.assert_array_equal(pixels[:, -1], b_img)


def test_evaluate_paths_measures_confidence_third_class_smoothness_and_ends():
    dark, bright = np.zeros((2, 4, 4, 1), np.float32), np.full((2, 4, 4, 1), 0.5, np.float32)
    bright[1] = 0.0  # the second pair goes nowhere: dark to dark
    scores = evaluate_paths(dark, bright, crossfade, classify=_three_class_brightness, steps=8)
    assert scores.frames.shape == (2, 8, 4, 4, 1) and scores.probabilities.shape == (2, 8, 3)
    assert scores.inner_frames.shape == (12, 4, 4, 1)
    m = np.linspace(0, 0.5, 8)
    np.testing.assert_allclose(
        scores.confidence[0], _three_class_brightness(m[:, None]).max(axis=1), rtol=1e-6
    )
    assert scores.classes_a.tolist() == [0, 0] and scores.classes_b.tolist() == [1, 0]
    summary = scores.summary()
    # Pair 1 (brightness 0 -> 0.5): class 0 up to 1/3, then class 1 = B's class: no third class.
    # Pair 2 never leaves class 0. The cross-fade reproduces its ends exactly.
    assert summary["third class"] == 0.0 and summary["endpoint MSE"] == 0.0
    assert summary["smoothness"] == pytest.approx(1.0) and summary["detour"] == pytest.approx(0.5)
    # Brightness 0 -> 1: the middle frames are class 1, neither A's (0) nor B's (2).
    white = np.ones((1, 4, 4, 1), np.float32)
    across = evaluate_paths(
        dark[:1], white, crossfade, classify=_three_class_brightness, steps=8
    ).summary()
    assert across["third class"] == pytest.approx(2 / 6)
    np.testing.assert_allclose(across["lowest confidence"], 24 / 49, rtol=1e-6)


def test_evaluate_paths_endpoint_error_of_a_lossy_decoder():
    rng = np.random.default_rng(7)
    a_img, b_img = (0.5 * rng.random((2, 5, 3, 3, 1))).astype(np.float32)
    scores = evaluate_paths(
        a_img, b_img, linear, classify=_three_class_brightness, steps=4,
        encode=lambda x: x.reshape(len(x), -1), decode=lambda z: z.reshape(-1, 3, 3, 1) + 0.1,
    )
    np.testing.assert_allclose(scores.endpoint_mse, 0.01, rtol=1e-4)


def test_path_table_one_row_per_method_with_realism_columns():
    rng = np.random.default_rng(8)
    a_img, b_img = rng.random((2, 4, 4, 4, 1)).astype(np.float32)
    scores = {
        "fade": evaluate_paths(a_img, b_img, crossfade, classify=_three_class_brightness, steps=5),
        "jumpy": evaluate_paths(
            a_img,
            b_img,
            lambda a, b, s: np.stack([a] * (s - 1) + [b]),
            classify=_three_class_brightness,
            steps=5,
        ),
    }
    calls = []

    def realism(images, name, groups):
        calls.append((images.shape, groups.tolist()))
        return pd.DataFrame({"fid": [float(images.mean())], "confidence": [-1.0]}, index=[name])

    table = path_table(scores, realism=realism)
    # Every inner frame arrives with its walk, so that intervals can resample whole walks.
    walk_of_frame = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert list(table.index) == ["fade", "jumpy"]
    assert calls == [((12, 4, 4, 1), walk_of_frame)] * 2
    # The confidence is the walks' own, not the stub's.
    assert "fid" in table.columns and (table["confidence"] > 0).all()
    # All the change in one step: the largest step is 4x the mean step.
    assert table.loc["fade", "smoothness"] == pytest.approx(1.0)
    assert table.loc["jumpy", "smoothness"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: walks(x, x[:1], crossfade), r"images_b: expected the shape of images_a"),
        (lambda x: walks(x[0], x[0], crossfade), r"images_a: expected a 4-D array"),
        (lambda x: walks(x + 255, x + 255, crossfade),
         r"images_a: expected pixel values in \[0, 1\]"),
        (lambda x: walks(x, x, linear, encode=lambda i: i), r"encode, decode: expected both"),
        (lambda x: walks(x, x, "linear"), r"path: expected a callable"),
        (
            lambda x: evaluate_paths(x, x, crossfade, classify=None),
            r"classify: expected a callable",
        ),
        (
            lambda x: evaluate_paths(x, x, crossfade, classify=lambda i: np.ones(len(i))),
            r"classify: expected probabilities",
        ),
        (lambda x: path_table({}), r"scores: expected a non-empty dict"),
    ],
)
def test_many_pair_functions_reject_bad_inputs(call, match):
    x = np.zeros((2, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match=match):
        call(x)


def _walks_with_known_realism():
    """Two methods of 4 walks, 3 inner frames each; a frame's brightness is its 'realism'."""
    frames = np.zeros((4, 5, 2, 2, 1), np.float32)
    frames[:, 1:-1] = np.array([0.9, 0.5, 0.8], np.float32)[None, :, None, None, None]
    frames[3, 1:-1] = 0.1  # one bad walk
    frames[:, -1] = 1.0
    probabilities = np.full((4, 5, 2), 0.5)
    make = lambda f: PathScores(frames=f, probabilities=probabilities,  # noqa: E731
                                classes_a=np.zeros(4, int), classes_b=np.ones(4, int),
                                endpoint_mse=np.zeros((4, 2)))
    return {"uneven": make(frames), "flat": make(np.where(frames > 0, 0.7, frames))}


def test_by_step_averages_a_per_frame_measure_and_finds_the_worst_step():
    scores = _walks_with_known_realism()
    brightness = lambda x: x.reshape(len(x), -1).mean(axis=1)  # noqa: E731
    floor = np.full((12, 2, 2, 1), 0.95, np.float32)
    table = by_step(scores, brightness, floor=floor, floor_name="real")
    assert list(table.index) == ["uneven", "flat", "real"]
    assert list(table.columns[:3]) == [1, 2, 3]
    # Steps 1-3 of "uneven": (3 * 0.9 + 0.1) / 4, (3 * 0.5 + 0.1) / 4, (3 * 0.8 + 0.1) / 4.
    np.testing.assert_allclose(table.loc["uneven", [1, 2, 3]], [0.7, 0.4, 0.625], rtol=1e-6)
    assert table.loc["uneven", "worst step"] == pytest.approx(0.4)
    assert table.loc["real", "worst step"] == pytest.approx(0.95)
    # Resampling whole walks: the interval holds the worst step and stays within what any
    # resample can give (all walks bad at step 2: 0.1; none: 0.5).
    low, high = table.loc["uneven", ["worst step_low", "worst step_high"]]
    assert 0.1 <= low < 0.4 < high <= 0.5
    assert table.loc["real", "worst step_low"] == pytest.approx(0.95)


def test_by_step_rejects_bad_inputs():
    scores = _walks_with_known_realism()
    mean = lambda x: x.reshape(len(x), -1).mean(axis=1)  # noqa: E731
    with pytest.raises(ValueError, match=r"floor: expected 12 real images \(one per inner frame"):
        by_step(scores, mean, floor=np.zeros((11, 2, 2, 1), np.float32))
    with pytest.raises(ValueError, match=r"measure: expected 12 finite values"):
        by_step(scores, lambda x: np.ones(3))
    with pytest.raises(ValueError, match=r"measure: expected a callable"):
        by_step(scores, "realism")
    with pytest.raises(ValueError, match=r"scores: expected a non-empty dict"):
        by_step({}, mean)


def test_path_table_intervals_resample_whole_walks():
    scores = _walks_with_known_realism()
    per_walk = scores["uneven"].per_walk()
    assert per_walk.shape == (4, 6) and per_walk.index.name == "pair"
    table = path_table(scores, bootstrap=200)
    for column in ("confidence", "third class", "smoothness"):
        assert (table[f"{column}_low"] <= table[column]).all()
        assert (table[column] <= table[f"{column}_high"]).all()
    # Every walk has the same confidence (0.5): nothing to resample.
    assert table.loc["uneven", "confidence_low"] == table.loc["uneven", "confidence_high"] == 0.5
    # The smoothness of the walks differs (the bad walk is the most uneven): a real interval.
    assert table.loc["uneven", "smoothness_low"] < table.loc["uneven", "smoothness_high"]
    assert "smoothness_low" not in path_table(scores).columns
