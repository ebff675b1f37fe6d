"""Tests for genlab.interpolation on small synthetic codes."""

import genlab  # noqa: F401  (sets the TF environment first, as everywhere)
import numpy as np
import pytest

from genlab.interpolation import (
    NeighbourGraph,
    Whitener,
    crossfade,
    density_path,
    graph_path,
    linear,
    slerp,
    smoothness,
    step_sizes,
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
    "whitened_slerp": lambda a, b, steps, **kw: whitened_slerp(a, b, steps, whitener=kw["whitener"]),
    "graph_path": lambda a, b, steps, **kw: graph_path(a, b, kw["codes"], steps, n_neighbors=8),
    "density_path": lambda a, b, steps, **kw: density_path(
        a, b, steps, log_prob=lambda x: -0.5 * np.sum(x**2, axis=1), iterations=20
    ),
}


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
    np.testing.assert_allclose(np.linalg.norm(slerp(a, b, 5), axis=1), np.linspace(3, 1, 5), rtol=1e-6)
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


def test_graph_path_repeats_nodes_when_the_path_is_short():
    arc = _half_circle(20)
    path = NeighbourGraph(n_neighbors=3).fit(arc).path(arc[0] + 0.01, arc[3] + 0.01, steps=10)
    inner = path[1:-1]
    assert all(np.any(np.all(arc == step, axis=1)) for step in inner)
    assert len(np.unique(inner, axis=0)) < len(inner)
    assert np.all(np.diff(np.arctan2(inner[:, 1], inner[:, 0])) >= 0)


def test_graph_path_disconnected_graph_raises():
    rng = np.random.default_rng(5)
    codes = np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 100.0]).astype(np.float32)
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


def test_smoothness_is_worse_for_an_uneven_path():
    even = np.linspace(0.0, 1.0, 5)[:, None] * np.ones((1, 3))
    uneven = np.array([0.0, 0.1, 0.2, 0.3, 1.0])[:, None] * np.ones((1, 3))
    assert smoothness(even) == pytest.approx(1.0)
    assert smoothness(uneven) == pytest.approx(0.7 / 0.25)
    assert smoothness(np.zeros((4, 3))) == 1.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: linear(np.zeros(3), np.zeros(4)), r"code_b: expected a code of size 3.*got size 4"),
        (lambda: slerp(np.array([1.0, np.nan]), np.ones(2)), r"code_a: expected finite numbers, got 1 NaN"),
        (lambda: linear(np.zeros(3), np.ones(3), steps=1), r"steps: expected an int >= 2.*got 1"),
        (lambda: linear(np.zeros(3), np.ones(3), steps=2.5), r"steps: expected an int >= 2"),
        (lambda: slerp(np.zeros((2, 3)), np.ones(3)), r"code_a: expected a 1-D code vector.*got shape \(2, 3\)"),
        (lambda: crossfade(np.zeros((28, 28, 1)), np.zeros((28, 28))), r"image_b: expected the shape of image_a"),
        (lambda: graph_path(np.zeros(2), np.ones(2), np.zeros((10, 3))), r"codes: expected 2 columns"),
        (lambda: graph_path(np.zeros(2), np.ones(2), np.zeros(10)), r"codes: expected a 2-D array"),
        (lambda: NeighbourGraph().path(np.zeros(2), np.ones(2)), r"NeighbourGraph: not fitted yet"),
        (lambda: whitened_slerp(np.zeros(2), np.ones(2), whitener=Whitener()), r"whitener: expected a fitted"),
        (lambda: Whitener().transform(np.zeros((2, 2))), r"Whitener: not fitted yet"),
        (lambda: smoothness(np.zeros(3)), r"frames: expected an array \(steps, \.\.\.\)"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_whitened_slerp_checks_code_size(whitener):
    with pytest.raises(ValueError, match=rf"code_a: expected a code of size {CODE_SIZE}"):
        whitened_slerp(np.zeros(3), np.zeros(3), whitener=whitener)
