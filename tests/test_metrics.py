"""Tests for genlab.metrics on small synthetic data."""

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from genlab.metrics import (
    SCORE_COLUMNS,
    Evaluator,
    active_dimensions,
    bootstrap_interval,
    central_width,
    class_balance,
    copying_summary,
    copying_z,
    density_coverage,
    frechet_distance,
    frechet_distance_gaussians,
    inside_real_manifold,
    kernel_distance,
    kl_per_dimension,
    nearest_class_shares,
    nearest_neighbour_distances,
    pair_occupancy,
    precision_recall,
    rank,
    ranks,
    share_near_data,
    with_intervals,
)


def _normal(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


# ----------------------------------------------------------------------------- Fréchet
def test_frechet_gaussians_matches_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = frechet_distance_gaussians(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_gaussians_matches_sqrtm_formula_for_full_covariances():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    reference = (np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2)
                 - 2 * np.trace(scipy.linalg.sqrtm(cov1 @ cov2)).real)
    assert frechet_distance_gaussians(mu1, cov1, mu2, cov2) == pytest.approx(reference, rel=1e-8)


def test_frechet_distance_of_samples_approaches_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.array([0.0, 0.0, 0.0]), np.array([1.0, -0.5, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([0.5, 2.0, 2.0])
    a = mu1 + np.sqrt(s1) * rng.standard_normal((40_000, 3))
    b = mu2 + np.sqrt(s2) * rng.standard_normal((40_000, 3))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(a, b) == pytest.approx(expected, abs=0.05)


def test_frechet_distance_identical_sets_is_zero_and_rank_deficient_is_finite():
    a = _normal(500, 16, seed=2) * 10
    assert abs(frechet_distance(a, a)) <= 1e-6 * np.trace(np.cov(a, rowvar=False))
    # fewer samples than dimensions: singular covariances must not give NaN or complex
    small = frechet_distance(_normal(5, 20, seed=3), _normal(7, 20, seed=4))
    assert isinstance(small, float) and np.isfinite(small) and small >= 0


def test_shift_worsens_fid_kid_and_precision():
    real, same, shifted = _normal(1000, 8, 5), _normal(1000, 8, 6), _normal(1000, 8, 7, shift=1.0)
    assert frechet_distance(real, shifted) > frechet_distance(real, same) + 5
    kid_same, kid_same_std = kernel_distance(real, same, subsets=10, subset_size=500)
    kid_shifted, _ = kernel_distance(real, shifted, subsets=10, subset_size=500)
    assert abs(kid_same) < 0.02 and kid_same_std >= 0
    assert kid_shifted > 0.2 and kid_shifted > 10 * abs(kid_same)
    assert precision_recall(real, shifted)[0] < precision_recall(real, same)[0] - 0.2


def test_kernel_distance_is_reproducible_and_caps_subset_size():
    a, b = _normal(50, 4, 8), _normal(80, 4, 9)
    assert kernel_distance(a, b, subset_size=1000, seed=3) == kernel_distance(a, b, seed=3)
    assert kernel_distance(a, b, seed=3) != kernel_distance(a, b, seed=4)


# ----------------------------------------------------------------------------- PRDC
def test_prdc_identical_sets():
    a = _normal(400, 5, 10)
    assert precision_recall(a, a, k=5) == (1.0, 1.0)
    density, coverage = density_coverage(a, a, k=5)
    # each real ball holds its centre plus its k neighbours: density (k+1)/k exactly
    assert density == pytest.approx(6 / 5) and coverage == 1.0


def test_prdc_same_distribution_is_high_and_density_near_one():
    real, fake = _normal(2000, 4, 11), _normal(2000, 4, 12)
    precision, recall = precision_recall(real, fake)
    density, coverage = density_coverage(real, fake)
    assert precision > 0.85 and recall > 0.85 and coverage > 0.85
    assert density == pytest.approx(1.0, abs=0.1)
    # a collapsed generator (one tight cluster) keeps precision but loses recall and coverage
    collapsed = 0.05 * _normal(2000, 4, 13)
    p_c, r_c = precision_recall(real, collapsed)
    assert p_c > 0.9 and r_c < 0.2 and density_coverage(real, collapsed)[1] < 0.2


# ----------------------------------------------------------------------------- class balance
def test_class_balance_known_values():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    result = class_balance(probs, np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(result["histogram"], [0.5, 0.5])
    np.testing.assert_allclose(result["reference_histogram"], [0.75, 0.25])
    assert result["class_tv"] == pytest.approx(0.25)
    assert result["confidence"] == pytest.approx(0.75)


# ----------------------------------------------------------------------------- copying
def test_noisy_training_copies_are_flagged_and_independent_sample_is_not():
    rng = np.random.default_rng(14)
    train = rng.random((1500, 8, 8, 1), dtype=np.float32)
    heldout = rng.random((600, 8, 8, 1), dtype=np.float32)
    fresh = rng.random((600, 8, 8, 1), dtype=np.float32)
    copies = np.clip(train[:600] + rng.normal(0, 0.03, train[:600].shape), 0, 1)
    baseline = nearest_neighbour_distances(heldout, train)
    assert baseline.shape == (600,) and np.all(baseline > 0)
    np.testing.assert_allclose(nearest_neighbour_distances(train[:3], train), 0, atol=1e-3)
    copied = copying_summary(nearest_neighbour_distances(copies, train), baseline)
    assert copied["copying"] and copied["copy_share"] == 1.0 and copied["nn_ratio"] < 0.2
    honest = copying_summary(nearest_neighbour_distances(fresh, train), baseline)
    assert not honest["copying"] and honest["copy_share"] < 0.05
    assert honest["nn_ratio"] == pytest.approx(1.0, abs=0.05)


def test_large_nearest_neighbour_searches_are_cached_by_both_arrays(monkeypatch, private_cache):
    from sklearn.neighbors import NearestNeighbors

    from genlab import metrics

    codes, reference = _normal(40, 3, 16), _normal(500, 3, 17)
    exact = np.sqrt(((codes[:, None] - reference[None]) ** 2).sum(axis=2)).min(axis=1)
    nearest_neighbour_distances(codes[:39], reference)  # below the size that is cached
    assert not list(private_cache.glob("neighbours-*"))
    monkeypatch.setattr(metrics, "CACHED_NEIGHBOUR_PAIRS", 40 * 500)
    first = nearest_neighbour_distances(codes, reference)
    np.testing.assert_allclose(first, exact, rtol=1e-5)
    assert len(list(private_cache.glob("neighbours-*"))) == 1

    def searched(*args, **kwargs):
        raise AssertionError("searched again")

    monkeypatch.setattr(NearestNeighbors, "kneighbors", searched)
    np.testing.assert_array_equal(nearest_neighbour_distances(codes, reference), first)
    with pytest.raises(AssertionError, match="searched again"):  # other references: a new key
        nearest_neighbour_distances(codes, reference + 1)
    with pytest.raises(AssertionError, match="searched again"):  # other images: a new key
        nearest_neighbour_distances(codes + 1, reference)


def test_copying_z_is_near_zero_for_new_samples_and_far_below_for_copies():
    rng = np.random.default_rng(15)
    heldout = rng.exponential(1.0, 3000)
    cells, heldout_cells = rng.integers(0, 3, 2000), rng.integers(0, 3, 3000)
    fresh = copying_z(rng.exponential(1.0, 2000), cells, heldout, heldout_cells)
    assert abs(fresh) < 3
    copies = copying_z(rng.exponential(0.5, 2000), cells, heldout, heldout_cells)
    far = copying_z(rng.exponential(2.0, 2000), cells, heldout, heldout_cells)
    assert copies < -10 and far > 10
    # Identical distances in every cell: U is exactly m*n/2 in each, so Z is 0.
    same = np.repeat([0.5, 1.0], 50)
    assert copying_z(same, np.zeros(100, int), same, np.zeros(100, int)) == pytest.approx(0.0)
    # Cells with fewer than min_per_cell samples are left out; none left gives NaN.
    assert np.isnan(copying_z(same[:5], np.zeros(5, int), same, np.zeros(100, int)))
    with pytest.raises(ValueError, match="cells: expected one cell label per distance"):
        copying_z(same, np.zeros(3, int), same, np.zeros(100, int))


def test_rank_ties_overlapping_intervals_and_leaves_copiers_out():
    table = pd.DataFrame({
        "fid": [1.0, 10.0, 11.0, 30.0, 0.5],
        "fid_low": [0.8, 9.0, 10.5, 28.0, 0.4],
        "fid_high": [1.2, 10.8, 12.0, 33.0, 0.6],
        "copying": [False, False, False, False, True],
    }, index=["real", "a", "b", "c", "copier"])
    ranked = rank(table, "fid")
    assert list(ranked.index) == ["real", "a", "b", "c", "copier"]
    # a and b overlap (9.0-10.8 and 10.5-12.0): both have one row wholly better, so both rank 2.
    assert ranked["rank"].tolist()[:4] == [1, 2, 2, 4] and pd.isna(ranked.loc["copier", "rank"])
    table["recall"], table["recall_low"], table["recall_high"] = (
        [0.9, 0.5, 0.52, 0.2, 0.95], [0.88, 0.45, 0.5, 0.1, 0.9], [0.92, 0.51, 0.6, 0.3, 0.99])
    assert rank(table, "recall")["rank"].tolist()[:4] == [1, 2, 2, 4]
    with pytest.raises(ValueError, match="table: expected the columns \\['kid', 'kid_low'"):
        rank(table, "kid")
    shown = with_intervals(table, ("fid", "recall"), digits=1)
    assert shown.loc["a", "fid"] == "10.0 [9.0, 10.8]"
    assert shown.loc["c", "recall"] == "0.2 [0.1, 0.3]"
    with pytest.raises(ValueError, match="columns: \\['precision'\\] have no interval columns"):
        with_intervals(table, ("precision",))


def test_ranks_one_column_per_score_and_lower_on_request():
    table = pd.DataFrame({
        "fid": [5.0, 1.0], "fid_low": [4.0, 0.5], "fid_high": [6.0, 1.5],
        "smoothness": [1.0, 3.0], "smoothness_low": [0.9, 2.0], "smoothness_high": [1.1, 4.0],
        "copying": [False, False]}, index=["even", "jumpy"])
    # Without `lower`, a column other than fid/kid ranks higher values first.
    assert rank(table, "smoothness")["rank"].to_dict() == {"jumpy": 1, "even": 2}
    assert rank(table, "smoothness", lower=True)["rank"].to_dict() == {"even": 1, "jumpy": 2}
    both = ranks(table, ("fid", "smoothness"), lower=("fid", "smoothness"))
    assert ranks(table, ("fid",))["fid"].tolist() == [2, 1]  # fid: lower first by default
    assert list(both.index) == ["even", "jumpy"] and list(both.columns) == ["fid", "smoothness"]
    assert both["fid"].tolist() == [2, 1] and both["smoothness"].tolist() == [1, 2]


def test_bootstrap_interval_of_a_mean_and_of_a_reduced_mean_row():
    values = np.r_[np.zeros(50), np.ones(50)]
    low, high = bootstrap_interval(values, resamples=400)
    # A share of 0.5 over 100 units: the standard error is 0.05, the 95 % interval about +-0.1.
    assert 0.38 < low < 0.45 and 0.55 < high < 0.62
    assert bootstrap_interval(np.full(10, 3.0)) == (3.0, 3.0)
    # Rows resampled as units: a row's columns move together. Worst column of the mean row.
    rows = np.stack([values, values + 1], axis=1)
    assert bootstrap_interval(rows, reduce=np.min, resamples=400) == (low, high)
    with pytest.raises(ValueError, match=r"values: expected one value per row"):
        bootstrap_interval(rows)
    with pytest.raises(ValueError, match=r"values: expected at least 2 rows of finite numbers"):
        bootstrap_interval([1.0, np.nan])
    with pytest.raises(ValueError, match=r"resamples: expected an int >= 10"):
        bootstrap_interval(values, resamples=3)


# ----------------------------------------------------------------------------- code space
def test_inside_real_manifold_flags_average_to_precision():
    real, fake = _normal(400, 5, 20), _normal(300, 5, 21, shift=0.7)
    flags = inside_real_manifold(real, fake, k=5)
    assert flags.shape == (300,) and flags.dtype == bool
    assert flags.mean() == precision_recall(real, fake, k=5)[0]
    assert inside_real_manifold(real, real[:10], k=5).all()   # a real point is in its own ball
    assert not inside_real_manifold(real, np.full((3, 5), 50.0), k=5).any()


def test_pair_occupancy_full_for_uniform_and_known_for_a_diagonal_line():
    rng = np.random.default_rng(22)
    uniform = rng.random((20_000, 3))
    shares = pair_occupancy(uniform, bins=10)
    assert shares.shape == (3, 3) and np.isnan(np.diag(shares)).all()
    np.testing.assert_allclose(shares[~np.eye(3, dtype=bool)], 1.0)
    t = rng.random(5000)
    line = np.stack([t, t, 1 - t], axis=1)    # points on a diagonal fill only the diagonal cells
    np.testing.assert_allclose(pair_occupancy(line, bins=10)[~np.eye(3, dtype=bool)], 0.1)
    constant = np.stack([t, np.zeros_like(t)], axis=1)
    assert pair_occupancy(constant, bins=10)[0, 1] == pytest.approx(0.1)


def test_central_width_is_the_mass_for_uniform_and_smaller_for_peaked_values():
    rng = np.random.default_rng(24)
    widths = central_width(np.stack([rng.random(50_000), rng.standard_normal(50_000),
                                     np.zeros(50_000)], axis=1), mass=0.9)
    assert widths.shape == (3,)
    assert widths[0] == pytest.approx(0.9, abs=0.01)
    assert widths[1] < 0.5 and widths[2] == 0.0   # a normal's 5-95 % span is 3.3 of ~8.5 sd
    with pytest.raises(ValueError, match="mass: expected a share strictly between 0 and 1"):
        central_width(rng.random((10, 2)), mass=90)


def test_share_near_data_is_the_percentile_for_the_reference_itself():
    reference = np.arange(1, 101, dtype=float)
    assert share_near_data(reference, reference, percentile=50) == pytest.approx(0.5, abs=0.01)
    assert share_near_data(reference + 1000, reference) == 0.0
    assert share_near_data(np.zeros(4), reference) == 1.0


def test_nearest_class_shares_are_the_volume_shares_of_each_class():
    reference = np.array([[0.0], [0.1], [1.0]])
    labels = np.array([0, 0, 2])
    codes = np.linspace(0, 1, 1001)[:, None]    # midpoint between 0.1 and 1.0 is 0.55
    shares = nearest_class_shares(codes, reference, labels)
    assert shares.shape == (3,) and shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares, [0.55, 0.0, 0.45], atol=0.002)


def test_code_space_functions_reject_bad_inputs():
    good = _normal(50, 4, 23)
    with pytest.raises(ValueError, match="bins: expected an integer >= 2"):
        pair_occupancy(good, bins=1)
    with pytest.raises(ValueError, match="codes: expected finite"):
        pair_occupancy(np.where(good > 1, np.inf, good))
    with pytest.raises(ValueError, match="reference_distances: expected a non-empty 1-D"):
        share_near_data(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match="percentile: expected a number in"):
        share_near_data(np.ones(3), np.ones(3), percentile=0)
    with pytest.raises(ValueError, match="reference_labels: expected 50 integer labels"):
        nearest_class_shares(good, good, np.zeros(50) + 0.5)
    with pytest.raises(ValueError, match="reference_codes: expected 4 features"):
        nearest_class_shares(good, good[:, :3], np.zeros(50, dtype=int))
    with pytest.raises(ValueError, match="real: expected more than k=5"):
        inside_real_manifold(good[:5], good)


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_errors_naming_the_argument():
    good = _normal(50, 4, 15)
    with pytest.raises(ValueError, match="a: expected a 2-D array"):
        frechet_distance(good[:, 0], good)
    with pytest.raises(ValueError, match="b: expected finite"):
        frechet_distance(good, np.where(good > 1, np.nan, good))
    with pytest.raises(ValueError, match="b: expected 4 features"):
        kernel_distance(good, good[:, :3])
    with pytest.raises(ValueError, match="fake: expected more than k=5"):
        precision_recall(good, good[:4])
    with pytest.raises(ValueError, match="mu2"):
        frechet_distance_gaussians(np.zeros(3), np.eye(3), np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="probabilities: .*not logits"):
        class_balance(np.array([[2.0, -1.0], [0.5, 0.5]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="reference_labels"):
        class_balance(np.array([[0.5, 0.5]]), np.array([0, 2]))
    with pytest.raises(ValueError, match="images: expected 64 pixels"):
        nearest_neighbour_distances(np.zeros((2, 7, 7, 1)), np.zeros((3, 8, 8, 1)))


# ----------------------------------------------------------------------------- Evaluator
@pytest.fixture(scope="module")
def evaluator_and_data():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(16, activation="relu", name="features")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    rng = np.random.default_rng(16)
    train = rng.random((300, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, 300)
    heldout = rng.random((200, 28, 28, 1), dtype=np.float32)
    fresh = rng.random((200, 28, 28, 1), dtype=np.float32)
    # Reference: the 200 held-out images; the 300 training images are those a copier copies.
    evaluator = Evaluator(model, kid_subsets=5, copy_cells=3).fit(heldout, labels[:200], train)
    return evaluator, model, train, labels, heldout, fresh


def test_evaluator_row_has_all_columns_in_range(evaluator_and_data):
    evaluator, _, train, _, _, fresh = evaluator_and_data
    feats, probs = evaluator.features(fresh[:7])
    assert feats.shape == (7, 16) and probs.shape == (7, 10)
    row = evaluator.score(fresh, "fresh")
    assert isinstance(row, pd.DataFrame) and list(row.index) == ["fresh"]
    assert list(row.columns) == SCORE_COLUMNS
    r = row.iloc[0]
    assert r["n"] == 200 and r["fid"] >= 0 and r["kid_std"] >= 0
    for column in ["precision", "recall", "coverage", "class_tv"]:
        assert 0.0 <= r[column] <= 1.0, column
    for column in ["fid", "precision", "recall"]:
        assert r[f"{column}_low"] <= r[column] <= r[f"{column}_high"], column
        assert r[f"{column}_low"] < r[f"{column}_high"], column
    assert 0.1 <= r["confidence"] <= 1.0 and r["density"] >= 0
    assert not r["copying"] and abs(r["copy_z"]) < 3
    assert r["nn_ratio"] == pytest.approx(1.0, abs=0.1)
    pd.testing.assert_frame_equal(row, evaluator.score(fresh, "fresh"))


def test_evaluator_flags_training_images_as_copies(evaluator_and_data):
    evaluator, _, train, _, _, _ = evaluator_and_data
    copied = evaluator.score(train[:150], "copies").iloc[0]
    assert copied["copying"] and copied["copy_z"] < -3
    assert copied["nn_ratio"] == pytest.approx(0.0, abs=1e-4)
    per_image = evaluator.per_image(train[:150])
    assert list(per_image.columns) == ["predicted", "confidence", "inside_real_manifold"]
    assert len(per_image) == 150 and per_image["confidence"].between(0.1, 1.0).all()
    assert per_image["inside_real_manifold"].mean() == copied["precision"]


def test_evaluator_groups_resample_whole_groups(evaluator_and_data):
    evaluator, _, _, _, _, fresh = evaluator_and_data
    alone = evaluator.score(fresh, "images").iloc[0]
    # 20 groups of 10 near-identical images: 20 independent draws, not 200, so wider intervals.
    clumped = np.repeat(fresh[:20], 10, axis=0)
    clumped = np.clip(clumped + 0.01 * np.random.default_rng(1).random(clumped.shape), 0, 1)
    as_images = evaluator.score(clumped, "as images").iloc[0]
    as_groups = evaluator.score(clumped, "as groups", groups=np.repeat(np.arange(20), 10)).iloc[0]
    for column in ("fid", "precision"):
        assert as_images[column] == as_groups[column]  # the same estimate
        widths = [r[f"{column}_high"] - r[f"{column}_low"] for r in (as_images, as_groups)]
        assert widths[1] > 1.5 * widths[0], column
    assert alone["fid_low"] <= alone["fid"] <= alone["fid_high"]
    with pytest.raises(ValueError, match=r"groups: expected one label per image, shape \(200,\)"):
        evaluator.score(fresh, "bad", groups=np.zeros(5))
    with pytest.raises(ValueError, match=r"groups: expected at least 2 different groups"):
        evaluator.score(fresh, "bad", groups=np.zeros(200))


def test_evaluator_compares_with_the_reference_images(evaluator_and_data):
    evaluator, _, _, _, reference, _ = evaluator_and_data
    # The reference itself: inside its own k-NN balls everywhere, FID about 0.
    itself = evaluator.score(reference, "reference").iloc[0]
    assert itself["precision"] == 1.0 and itself["fid"] == pytest.approx(0.0, abs=1e-6)
    assert evaluator.mu_ == pytest.approx(evaluator.features(reference)[0].mean(axis=0))
    # Its accuracy on the reference, kept from fit: what accuracy() computes again.
    labels = evaluator.reference_labels_
    assert evaluator.reference_accuracy_ == evaluator.accuracy(reference, labels)
    assert evaluator.reference_accuracy_ != evaluator.accuracy(reference, (labels + 1) % 10)


def test_evaluator_rejects_bad_images_and_models(evaluator_and_data):
    import keras

    evaluator, model, train, labels, heldout, fresh = evaluator_and_data
    with pytest.raises(ValueError, match="images: .*images\\[..., None\\]"):
        evaluator.score(fresh[..., 0], "no channel")
    with pytest.raises(ValueError, match="images: expected shape \\(n, 28, 28, 1\\)"):
        evaluator.score(fresh[:, :14, :14], "too small")
    with pytest.raises(ValueError, match="images: expected pixel values in \\[0, 1\\]"):
        evaluator.score(fresh * 255, "uint8 scale")
    with pytest.raises(ValueError, match="images: expected finite"):
        evaluator.score(np.where(fresh > 0.99, np.nan, fresh), "nan")
    with pytest.raises(ValueError, match="images: expected at least"):
        evaluator.score(fresh[:5], "too few")
    with pytest.raises(ValueError, match="reference_labels"):
        Evaluator(model).fit(heldout, labels[:10], train)
    with pytest.raises(ValueError, match="training_images"):
        Evaluator(model).fit(heldout, labels[:200], train[:, :20])
    inputs = keras.Input((28, 28, 1))
    no_features = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="model: .*'features'"):
        Evaluator(no_features).fit(heldout, labels[:200], train)
    h = keras.layers.Dense(16, name="features")(keras.layers.Flatten()(inputs))
    logits = keras.Model(inputs, keras.layers.Dense(10)(h))  # no softmax
    with pytest.raises(ValueError, match="model: expected softmax"):
        Evaluator(logits).fit(heldout, labels[:200], train)


def test_an_evaluator_is_built_unfitted_and_says_to_call_fit(evaluator_and_data):
    from sklearn.exceptions import NotFittedError

    _, model, train, labels, heldout, fresh = evaluator_and_data
    unfitted = Evaluator(model, k=3, random_state=2)
    assert unfitted.get_params() == {**Evaluator(model).get_params(), "k": 3, "random_state": 2}
    assert not [name for name in vars(unfitted) if name.endswith("_")]
    for use in (lambda e: e.score(fresh, "x"), lambda e: e.features(fresh),
                lambda e: e.accuracy(fresh, labels[:200]), lambda e: e.per_image(fresh)):
        with pytest.raises(NotFittedError, match=r"Evaluator is not fitted yet: call fit\("
                                                 r"reference_images, reference_labels, "
                                                 r"training_images\)"):
            use(unfitted)
    assert unfitted.fit(heldout, labels[:200], train) is unfitted
    assert unfitted.features(fresh[:3])[1].shape == (3, 10)


@pytest.mark.parametrize("settings, message", [
    (dict(k=0), "k: expected an integer >= 1, got 0"),
    (dict(k="5"), "k: expected an integer >= 1, got '5'"),
    (dict(prdc_reference=5), "prdc_reference: expected an integer >= 6, got 5"),
    (dict(kid_subset_size=1), "kid_subset_size: expected an integer >= 2"),
    (dict(batch_size=0.5), "batch_size: expected an integer >= 1"),
    (dict(bootstrap=5), "bootstrap: expected an integer >= 10, got 5"),
    (dict(copy_cells=True), "copy_cells: expected an integer >= 1, got True"),
])
def test_fit_checks_the_settings_and_a_failed_fit_leaves_nothing_fitted(evaluator_and_data,
                                                                       settings, message):
    _, model, train, labels, heldout, _ = evaluator_and_data
    evaluator = Evaluator(model, **settings)  # stored as given: checked by fit
    with pytest.raises(ValueError, match=message):
        evaluator.fit(heldout, labels[:200], train)
    assert not [name for name in vars(evaluator) if name.endswith("_")]


def test_evaluator_reference_is_cached_and_reloads_bit_for_bit(evaluator_and_data, private_cache):
    evaluator, model, train, labels, heldout, fresh = evaluator_and_data
    fit = lambda **settings: Evaluator(model, kid_subsets=5, copy_cells=3,  # noqa: E731
                                       **settings).fit(heldout, labels[:200], train)
    made = fit()
    (entry,) = private_cache.glob("evaluator-*")
    loaded = fit()
    direct = fit(cache=False)
    for name in ("reference_features_", "reference_accuracy_", "mu_", "cov_", "prdc_features_",
                 "prdc_radii_", "cell_centres_", "reference_distances_", "reference_cells_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(made, name), err_msg=name)
        np.testing.assert_array_equal(getattr(direct, name), getattr(made, name), err_msg=name)
    pd.testing.assert_frame_equal(loaded.score(fresh, "x"), direct.score(fresh, "x"))
    # A scored batch is kept under a digest of its pixels: the same pixels load the same row.
    assert len(list(private_cache.glob("score-*"))) == 1
    pd.testing.assert_frame_equal(made.score(fresh, "y"), direct.score(fresh, "y"))
    nudged = fresh.copy()
    nudged[0, 0, 0, 0] = 0.5 if nudged[0, 0, 0, 0] != 0.5 else 0.25
    pd.testing.assert_frame_equal(made.score(nudged, "z"), direct.score(nudged, "z"))
    timings = {}
    made.score(fresh, "timed", timings=timings)  # timed: scored, not loaded
    assert set(timings) == {"features", "fid", "kid", "prdc", "class_balance", "copying"}
    assert len(list(private_cache.glob("score-*"))) == 2 and not list(private_cache.glob("*.bad"))
    # Other reference images or another subsample size make another entry.
    Evaluator(model, kid_subsets=5, copy_cells=3).fit(heldout, labels[:200], train[:250])
    fit(bootstrap=50)
    assert len(list(private_cache.glob("evaluator-*"))) == 3
    (entry / "meta.json").write_text("{ truncated")
    with pytest.warns(UserWarning, match="is unreadable.*computed again"):
        again = fit()
    np.testing.assert_array_equal(again.prdc_radii_, made.prdc_radii_)


def test_evaluator_scores_with_an_unusable_cache(evaluator_and_data, tmp_path, monkeypatch):
    evaluator, model, train, labels, heldout, fresh = evaluator_and_data
    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    monkeypatch.setenv("GENLAB_CACHE", str(a_file))
    with pytest.warns(UserWarning, match="cannot write into the cache folder .*GENLAB_CACHE at a "
                                         "writable folder"):
        unkept = Evaluator(model, kid_subsets=5, copy_cells=3).fit(heldout, labels[:200], train)
    pd.testing.assert_frame_equal(unkept.score(fresh, "x"), evaluator.score(fresh, "x"))
    assert a_file.read_text() == ""


# ----------------------------------------------------------------------------- VAE codes
def test_kl_per_dimension_known_values():
    mean = np.array([[0.0, 1.0, 0.0, 0.5], [0.0, 1.0, 0.0, -0.5]])
    log_var = np.array([[0.0, 0.0, np.log(4.0), -1.0], [0.0, 0.0, np.log(4.0), -1.0]])
    kl = kl_per_dimension(mean, log_var)
    assert kl.shape == (4,) and kl.dtype == np.float64
    assert kl[0] == 0.0  # N(0, 1) itself
    assert kl[1] == 0.5  # a unit shift: mean^2 / 2
    # Variance 4: (4 - 1 - log 4) / 2; variance 1/e, mean +-0.5: (0.25 + 1/e - 1 + 1) / 2.
    np.testing.assert_allclose(kl[2:], [1.5 - np.log(2.0), 0.125 + 0.5 / np.e], rtol=1e-12)
    np.testing.assert_allclose(kl_per_dimension(mean[:1], log_var[:1]), kl)  # one image is enough


@pytest.mark.parametrize("mean, log_var, message", [
    (np.zeros((3, 2)), np.zeros((3, 4)), r"log_var: expected the shape of mean, \(3, 2\), got "
                                         r"\(3, 4\); pass both outputs of the encoder"),
    (np.zeros(3), np.zeros(3), r"mean: expected a 2-D array \(n, d\)"),
    (np.zeros((3, 2)), np.zeros((3, 2, 1)), r"log_var: expected a 2-D array"),
    (np.zeros((3, 2)), np.full((3, 2), np.nan), "log_var: expected finite numbers"),
    (np.full((3, 2), np.inf), np.zeros((3, 2)), "mean: expected finite numbers"),
])
def test_kl_per_dimension_checks_its_inputs(mean, log_var, message):
    with pytest.raises(ValueError, match=message):
        kl_per_dimension(mean, log_var)


def test_active_dimensions_counts_the_kl_above_the_threshold():
    kl = np.array([0.0, 0.005, 0.01, 0.02, 1.5])
    assert active_dimensions(kl) == 2  # "exceeds": 0.01 itself is not active
    assert active_dimensions(kl, threshold=0) == 4
    assert active_dimensions(kl, threshold=2.0) == 0
    assert isinstance(active_dimensions(kl), int)


@pytest.mark.parametrize("kl, threshold, message", [
    (np.zeros((2, 3)), 0.01, r"kl: expected a 1-D array of finite numbers.*got shape \(2, 3\)"),
    (np.array([0.1, np.nan]), 0.01, "kl: expected a 1-D array of finite numbers"),
    (np.zeros(3), -0.1, r"threshold: expected a number >= 0 \(nats\), e.g. 0.01, got -0.1"),
    (np.zeros(3), float("nan"), "threshold: expected a number >= 0"),
])
def test_active_dimensions_checks_its_inputs(kl, threshold, message):
    with pytest.raises(ValueError, match=message):
        active_dimensions(kl, threshold)
