"""Tests for the plot helpers of genlab.plots that chapters on code space use."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from genlab import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _codes(n: int = 300, d: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def test_class_shares_draws_each_sources_shares_side_by_side():
    ax = plots.class_shares({"real": np.array([30, 10]), "sampled": np.array([0.5, 0.5])},
                            ["zero", "one"])
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, [0.75, 0.25, 0.5, 0.5])  # counts become shares
    assert [t.get_text() for t in ax.get_xticklabels()] == ["zero", "one"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["real", "sampled"]
    with pytest.raises(ValueError, match=r"histograms\['real'\]: expected 3 shares, one per "
                                         r"class, got shape \(2,\)"):
        plots.class_shares({"real": np.ones(2)}, ["a", "b", "c"])


def test_correlation_matrix_draws_the_correlations():
    codes = _codes()
    codes[:, 1] = codes[:, 0]    # perfectly correlated pair
    ax = plots.correlation_matrix(codes)
    drawn = ax.collections[0].get_array().reshape(4, 4)
    np.testing.assert_allclose(drawn, np.corrcoef(codes, rowvar=False), atol=1e-6)
    assert drawn[0, 1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="codes: expected a 2-D array"):
        plots.correlation_matrix(codes[:, 0])


def test_marginals_one_panel_per_dimension_with_the_uniform_density():
    codes = _codes()
    axes = plots.marginals(codes, [0, 3])
    assert len(axes) == 2 and axes[1].get_title() == "dimension 3"
    segments = axes[0].collections[0].get_segments()[0]
    np.testing.assert_allclose(segments[:, 1], 1 / np.ptp(codes[:, 0]), rtol=1e-5)
    with pytest.raises(ValueError, match="dims: expected column numbers"):
        plots.marginals(codes, [4])


def test_codes_by_class_one_series_per_class_and_pca_above_two_dimensions():
    codes, labels = _codes(), np.arange(300) % 3
    ax = plots.codes_by_class(codes, labels, ["a", "b", "c"], max_points=90)
    assert len(ax.collections) == 3 and ax.get_xlabel() == "principal component 1"
    assert sum(len(c.get_offsets()) for c in ax.collections) == 90
    ax = plots.codes_by_class(codes[:, :2], labels, ["a", "b", "c"])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), codes[labels == 0, :2])
    ax = plots.codes_by_class(codes, labels, ["a", "b", "c"], dims=(3, 1))
    np.testing.assert_allclose(ax.collections[1].get_offsets(), codes[labels == 1][:, [3, 1]])
    assert ax.get_ylabel() == "code dimension 1"
    assert ax.get_legend() is not None
    assert plots.codes_by_class(codes, labels, ["a", "b", "c"], legend=False).get_legend() is None
    with pytest.raises(ValueError, match="dims: expected two column numbers"):
        plots.codes_by_class(codes, labels, ["a", "b", "c"], dims=(0, 4))
    with pytest.raises(ValueError, match="one label per code"):
        plots.codes_by_class(codes, labels[:10], ["a", "b", "c"])


def test_decoded_plane_tiles_each_code_at_its_place():
    seen = []

    def decode(codes):    # an image whose brightness is the first code number
        seen.append(codes)
        return np.broadcast_to(codes[:, :1, None, None], (len(codes), 2, 3, 1)).copy()

    ax = plots.decoded_plane(decode, [0.0, 0.0], [1.0, 2.0], steps=3)
    assert seen[0].shape == (9, 2) and seen[0].dtype == np.float32
    picture = ax.images[0].get_array()
    assert picture.shape == (6, 9)
    np.testing.assert_allclose(picture[0], np.repeat([0.0, 0.5, 1.0], 3))
    assert ax.images[0].get_extent() == pytest.approx([-0.25, 1.25, -0.5, 2.5])
    assert seen[0][0, 1] == 2.0 and seen[0][-1, 1] == 0.0    # top row: the largest 2nd number
    with pytest.raises(ValueError, match="low, high: expected two corners"):
        plots.decoded_plane(decode, [0.0, 0.0], [1.0, 0.0])


def test_prior_grid_decodes_the_normal_quantiles_evenly_tiled():
    from scipy import stats
    seen = []

    def decode(codes):
        seen.append(codes)
        return np.zeros((len(codes), 2, 2, 1))

    ax = plots.prior_grid(decode, steps=3)
    levels = stats.norm.ppf([0.05, 0.5, 0.95])
    assert seen[0].shape == (9, 2)
    np.testing.assert_allclose(seen[0][:3, 0], levels, atol=1e-6)     # top row: x increasing,
    np.testing.assert_allclose(seen[0][:3, 1], levels[2], rtol=1e-6)  # at the largest y
    np.testing.assert_allclose(seen[0][-1], [levels[2], levels[0]], rtol=1e-6)
    assert ax.images[0].get_array().shape == (6, 6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1.6", "1.6"]
    with pytest.raises(ValueError, match="steps: expected an int >= 2"):
        plots.prior_grid(decode, steps=1)


def test_metric_lines_one_panel_per_column_one_line_per_group():
    import pandas as pd

    table = pd.DataFrame({"size": [4, 1, 2, 1, 2, 4], "mse": [1, 3, 2, 6, 5, 4],
                          "fid": [9, 7, 8, 1, 2, 3], "model": list("aaabbb")})
    axes = plots.metric_lines(table, "size", ["mse", "fid"], hue="model", logx=True)
    assert len(axes) == 2 and [len(ax.lines) for ax in axes] == [2, 2]
    first = axes[0].lines[0]
    assert first.get_label() == "a" and list(first.get_xdata()) == [1, 2, 4]
    assert list(first.get_ydata()) == [3, 2, 1] and axes[1].get_xscale() == "log"
    with pytest.raises(ValueError, match="\\['loss'\\] are not columns"):
        plots.metric_lines(table, "size", ["loss"])


def test_along_path_one_mean_line_per_method_from_a_to_b():
    values = {"flat": np.full((3, 5), 0.5), "dip": np.array([[1, 0.5, 0.0, 0.5, 1]] * 2)}
    ax = plots.along_path(values, ylabel="confidence")
    assert [line.get_label() for line in ax.lines] == ["flat", "dip"]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1, 0.5, 0.0, 0.5, 1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "1", "2", "3", "B"]
    with pytest.raises(ValueError, match=r"values\['flat'\]: expected an array \(pairs, steps\)"):
        plots.along_path({"flat": np.ones(5)})


def _gif_frames(gif: bytes) -> tuple[list[np.ndarray], list[int]]:
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(gif))
    frames, durations = [], []
    for i in range(picture.n_frames):
        picture.seek(i)
        frames.append(np.asarray(picture.convert("L"), dtype=np.float64))
        durations.append(picture.info["duration"])
    return frames, durations


def test_walk_animation_plays_each_walk_in_its_panel_and_repeats_exactly():
    steps = 4
    fade = np.linspace(0.0, 1.0, steps)[:, None, None, None] * np.ones((1, 6, 6, 1))
    walks = {"fade in": fade, "fade out": fade[::-1]}
    gif = plots.walk_animation(walks, scale=2, frame_ms=100, pause_ms=700, levels=5)
    again = plots.walk_animation(walks, scale=2, frame_ms=100, pause_ms=700, levels=5)
    assert gif[:6] == b"GIF89a" and gif == again  # the same walks, the same bytes
    frames, durations = _gif_frames(gif)
    assert len(frames) == steps and durations == [700, 100, 100, 700]
    width = frames[0].shape[1]
    for t, frame in enumerate(frames):
        # The middle pixel row of the tiles: the left panel fades to ink, the right one to paper.
        row = frame[16 + 6]
        left, right = row[: width // 2], row[width // 2:]
        expected = 255 * np.round((1 - t / (steps - 1)) * 4) / 4
        assert np.isclose(left, expected, atol=1).sum() >= 12
        assert np.isclose(right, 255 - expected, atol=1).sum() >= 12
    # The progress bar under the panels fills from left to right.
    assert (frames[0][-3] < 128).sum() < (frames[-1][-3] < 128).sum()
    assert len(plots.walk_animation({"fade in": fade}, ncols=1)) < len(gif)
    colour, _ = _gif_frames(plots.walk_animation({"red": fade * np.array([1.0, 0.0, 0.0])}))
    assert len(colour) == steps


def test_walk_animation_rejects_walks_of_different_lengths():
    a, b = np.zeros((4, 5, 5, 1)), np.zeros((3, 5, 5, 1))
    with pytest.raises(ValueError, match="walks: expected frames of one shape"):
        plots.walk_animation({"a": a, "b": b})
    with pytest.raises(ValueError, match="walks: expected a non-empty dict"):
        plots.walk_animation({})
    with pytest.raises(ValueError, match=r"levels: expected an int in \[2, 256\]"):
        plots.walk_animation({"a": a}, levels=1)


def test_scoreboard_draws_intervals_and_greys_out_copiers():
    import pandas as pd

    table = pd.DataFrame({"fid": [1.0, 10.0, 0.5], "fid_low": [0.8, 9.0, 0.4],
                          "fid_high": [1.5, 12.0, 0.6], "recall": [0.9, 0.5, 0.95],
                          "copying": [False, False, True]}, index=["real", "sampler", "copier"])
    fid_ax, recall_ax = plots.scoreboard(table, ["fid", "recall"])
    assert [bar.get_width() for bar in fid_ax.patches] == [1.0, 10.0, 0.5]
    assert fid_ax.get_title() == "fid (lower is better)" and fid_ax.get_xscale() == "log"
    # The FID panel has the 95 % intervals as error bars; recall has no interval columns.
    from matplotlib.container import BarContainer, ErrorbarContainer

    (bars,) = [c for c in fid_ax.containers if isinstance(c, BarContainer)]
    (error,) = [c for c in fid_ax.containers if isinstance(c, ErrorbarContainer)]
    segments = error.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 0] for s in segments], [[0.8, 1.5], [9.0, 12.0], [0.4, 0.6]])
    assert not [c for c in recall_ax.containers if isinstance(c, ErrorbarContainer)]
    grey = matplotlib.colors.to_rgba((0.7, 0.7, 0.7))
    assert [bar.get_facecolor() == grey for bar in fid_ax.patches] == [False, False, True]
    with pytest.raises(ValueError, match=r"columns: \['kid'\] are not in the table"):
        plots.scoreboard(table, ["kid"])
    # copy_z is two-sided (copies far below 0, images far from the data far above): no "better"
    # side, and the flagging threshold drawn in.
    table["copy_z"] = [-0.5, 18.0, -20.0]
    (ax,) = plots.scoreboard(table, ["copy_z"])
    assert ax.get_title() == "copy_z (about 0 for new images)"
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [-3.0]
