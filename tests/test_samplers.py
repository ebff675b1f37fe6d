"""Tests for genlab.samplers on small synthetic codes with known distributions."""

import numpy as np
import pytest
from scipy import stats
from sklearn import mixture as sk_mixture
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors

import genlab
from genlab.samplers import (
    SAMPLERS,
    ClassConditional,
    Flow,
    Gaussian,
    GaussianMixture,
    IndependentMarginals,
    KernelDensity,
    UniformBox,
    heldout_log_likelihood,
)

MEAN = np.array([1.0, -2.0, 0.5])
COV = np.array([[4.0, 0.8, 0.0],
                [0.8, 1.0, -0.3],
                [0.0, -0.3, 0.5]])
CENTRES = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
COUNTS = (600, 200, 100)
# Small, fast flow settings for tests; the defaults are sized for 55 000 codes.
FAST_FLOW = dict(n_layers=4, hidden_units=32, epochs=3, batch_size=128, learning_rate=5e-3)


def _gaussian_codes(n: int = 4000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(MEAN, COV, size=n).astype(np.float32)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated round blobs of unequal size, with their labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), COUNTS)
    codes = CENTRES[labels] + 0.5 * rng.standard_normal((labels.size, 2))
    return codes.astype(np.float32), labels


def _nearest_centre(codes: np.ndarray) -> np.ndarray:
    return np.argmin(((codes[:, None, :] - CENTRES[None]) ** 2).sum(-1), axis=1)


# ----------------------------------------------------------------------------- every sampler
FACTORIES = {
    "UniformBox": UniformBox,
    "IndependentMarginals": IndependentMarginals,
    "Gaussian full": lambda: Gaussian("full"),
    "Gaussian diag": lambda: Gaussian("diag"),
    "GaussianMixture": lambda: GaussianMixture(max_components=3),
    "KernelDensity": lambda: KernelDensity(bandwidths=[0.1, 0.3, 1.0]),
    "ClassConditional": lambda: ClassConditional(Gaussian()),
    "Flow": lambda: Flow(**FAST_FLOW),
}
DENSITIES = ["Gaussian full", "Gaussian diag", "GaussianMixture", "KernelDensity",
             "ClassConditional", "Flow"]


@pytest.fixture(scope="module")
def fitted() -> dict:
    """Each sampler fitted once on 900 blob codes (labels used by ClassConditional only)."""
    codes, labels = _blobs()
    return {name: make().fit(codes, labels) for name, make in FACTORIES.items()}


@pytest.mark.parametrize("name", FACTORIES)
def test_sample_shape_dtype_and_seed(fitted, name):
    sampler = fitted[name]
    a = sampler.sample(50, seed=3)
    assert a.shape == (50, 2) and a.dtype == np.float32
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, sampler.sample(50, seed=3))
    assert not np.allclose(a, sampler.sample(50, seed=4))
    assert sampler.sample(np.int64(7)).shape == (7, 2)


@pytest.mark.parametrize("name", FACTORIES)
def test_bad_inputs_raise_errors_naming_the_argument(fitted, name):
    codes, labels = _blobs()
    with pytest.raises(ValueError, match=r"fit\(codes\)"):
        FACTORIES[name]().sample(5)
    with pytest.raises(ValueError, match=r"codes: expected a 2-D array.*shape \(900,\)"):
        FACTORIES[name]().fit(codes[:, 0], labels)
    nan_codes = codes.copy()
    nan_codes[3, 1] = np.nan
    with pytest.raises(ValueError, match="codes: .*1 NaN or infinite"):
        FACTORIES[name]().fit(nan_codes, labels)
    for bad_n in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n: expected a positive int"):
            fitted[name].sample(bad_n)


@pytest.mark.parametrize("name", DENSITIES)
def test_score_samples_is_higher_on_data_and_checks_code_size(fitted, name):
    codes, _ = _blobs()
    sampler = fitted[name]
    near, far = sampler.score_samples(codes[:20]), sampler.score_samples(codes[:20] + 100.0)
    assert near.shape == (20,) and np.all(near > far)
    with pytest.raises(ValueError, match=r"codes: expected code_size 2.*shape \(4, 3\)"):
        sampler.score_samples(np.zeros((4, 3)))


@pytest.mark.parametrize("name", [n for n in FACTORIES if n != "Flow"])
def test_refit_with_another_code_size_replaces_the_state(name):
    codes, labels = _blobs()
    sampler = FACTORIES[name]().fit(codes, labels)
    wider = np.hstack([codes, codes[:, :1] * 2.0])
    assert sampler.fit(wider, labels) is sampler
    assert sampler.sample(10).shape == (10, 3)


def test_samplers_are_clonable_and_listed_in_book_order():
    sampler = Gaussian("diag")
    copy = clone(sampler)
    assert copy is not sampler and copy.get_params() == {"covariance": "diag", "random_state": 0}
    assert list(SAMPLERS.values()) == [UniformBox, IndependentMarginals, Gaussian,
                                       GaussianMixture, KernelDensity, Flow]


# ----------------------------------------------------------------------------- baselines
def test_uniform_box_stays_in_and_covers_the_box():
    codes = _gaussian_codes()
    box = UniformBox().fit(codes)
    np.testing.assert_allclose(box.low_, codes.min(0), rtol=1e-6)
    np.testing.assert_allclose(box.high_, codes.max(0), rtol=1e-6)
    s = box.sample(20_000, seed=1)
    assert np.all(s >= codes.min(0)) and np.all(s <= codes.max(0))
    width = codes.max(0) - codes.min(0)
    # Uniform: each tenth of the range holds about a tenth of the samples, edges included.
    for j in range(3):
        counts, _ = np.histogram(s[:, j], bins=10, range=(codes[:, j].min(), codes[:, j].max()))
        assert np.all(np.abs(counts / s.shape[0] - 0.1) < 0.015)
    np.testing.assert_allclose(s.min(0), codes.min(0), atol=0.01 * width.max())
    np.testing.assert_allclose(s.max(0), codes.max(0), atol=0.01 * width.max())


def test_independent_marginals_keep_marginals_but_kill_correlation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000)
    codes = np.column_stack([x, 0.95 * x + 0.3 * rng.standard_normal(5000), np.exp(x)])
    assert np.corrcoef(codes[:, 0], codes[:, 1])[0, 1] > 0.9
    s = IndependentMarginals().fit(codes).sample(20_000, seed=2)
    for j in range(3):
        assert stats.ks_2samp(s[:, j], codes[:, j]).statistic < 0.02
        assert np.all(np.isin(s[:, j], codes[:, j].astype(np.float32)))  # only training values
    assert abs(np.corrcoef(s[:, 0], s[:, 1])[0, 1]) < 0.03
    assert abs(np.corrcoef(s[:, 0], s[:, 2])[0, 1]) < 0.03


# ----------------------------------------------------------------------------- Gaussians
def test_full_gaussian_recovers_mean_covariance_and_its_log_likelihood():
    codes = _gaussian_codes(20_000)
    g = Gaussian("full").fit(codes)
    np.testing.assert_allclose(g.mean_, MEAN, atol=0.05)
    np.testing.assert_allclose(g.covariance_, COV, atol=0.06)
    # For the maximum-likelihood Gaussian the mean log-likelihood of its own data is closed-form.
    d = codes.shape[1]
    expected = -0.5 * (d * (1 + np.log(2 * np.pi)) + np.linalg.slogdet(g.covariance_)[1])
    assert g.score_samples(codes).mean() == pytest.approx(expected, abs=1e-3)
    s = g.sample(20_000, seed=1)
    np.testing.assert_allclose(np.cov(s.T), COV, atol=0.1)


def test_diag_gaussian_keeps_variances_and_drops_correlations():
    codes = _gaussian_codes(20_000)
    g = Gaussian("diag").fit(codes)
    np.testing.assert_allclose(g.mean_, MEAN, atol=0.05)
    np.testing.assert_allclose(np.diag(g.covariance_), np.diag(COV), atol=0.06)
    assert np.count_nonzero(g.covariance_ - np.diag(np.diag(g.covariance_))) == 0
    s = g.sample(20_000, seed=1)
    assert abs(np.corrcoef(s[:, 0], s[:, 1])[0, 1]) < 0.03
    with pytest.raises(ValueError, match="covariance: expected 'full' or 'diag'"):
        Gaussian("spherical").fit(codes)


@pytest.mark.parametrize("bic_sample_size", [None, 450])
def test_mixture_finds_the_blobs_by_bic(bic_sample_size):
    codes, _ = _blobs()
    gm = GaussianMixture(max_components=6, bic_sample_size=bic_sample_size).fit(codes)
    assert gm.n_components_ == 3 and gm.converged_
    assert sorted(gm.bic_) == [1, 2, 3, 4, 5, 6] and min(gm.bic_, key=gm.bic_.get) == 3
    means = gm.mixture_.means_[np.argsort(_nearest_centre(gm.mixture_.means_))]
    np.testing.assert_allclose(means, CENTRES, atol=0.15)
    np.testing.assert_allclose(np.sort(gm.mixture_.weights_), np.sort(COUNTS) / 900, atol=0.01)
    s = gm.sample(9000, seed=0)
    # Samples come in a random order (not grouped by component) at the mixture's weights.
    assert len(set(_nearest_centre(s[:30]))) == 3
    np.testing.assert_allclose(np.bincount(_nearest_centre(s)) / 9000, np.array(COUNTS) / 900,
                               atol=0.02)


def test_mixture_of_one_gaussian_samples_its_covariance():
    codes = _gaussian_codes(4000)
    gm = GaussianMixture(max_components=3).fit(codes)
    assert gm.n_components_ == 1
    np.testing.assert_allclose(gm.mixture_.covariances_[0], COV, atol=0.2)
    np.testing.assert_allclose(np.cov(gm.sample(20_000, seed=1).T), gm.mixture_.covariances_[0],
                               atol=0.1)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_mixture_of_a_fixed_size_is_scikit_learns_fit(covariance_type):
    codes, _ = _blobs()
    gm = GaussianMixture(n_components=4, covariance_type=covariance_type).fit(codes)
    assert gm.n_components_ == 4 and gm.bic_ == {} and gm.converged_
    assert gm.weights_.shape == (4,) and gm.weights_.sum() == pytest.approx(1.0)
    assert gm.means_.shape == (4, 2) and gm.covariances_.shape == (4, 2, 2)
    # The same EM fit as scikit-learn's own, and its densities from the stored arrays alone.
    own = sk_mixture.GaussianMixture(4, covariance_type=covariance_type,
                                     random_state=genlab.seed(0)).fit(codes.astype(np.float64))
    np.testing.assert_allclose(gm.means_, own.means_, rtol=1e-12)
    np.testing.assert_allclose(gm.score_samples(codes[:50]),
                               own.score_samples(codes[:50].astype(float)), rtol=1e-10)
    rebuilt = GaussianMixture(n_components=4)
    rebuilt.__setstate__({**vars(rebuilt), **{k: v for k, v in vars(gm).items()
                                              if k.endswith("_")}})
    np.testing.assert_array_equal(rebuilt.sample(100, seed=3), gm.sample(100, seed=3))


@pytest.mark.parametrize("n_components, message", [
    (0, "n_components: expected an int >= 1"),
    (901, "n_components: expected at most one per code \\(900\\), got 901"),
])
def test_mixture_of_a_bad_size_says_what_to_pass(n_components, message):
    codes, _ = _blobs()
    with pytest.raises(ValueError, match=message):
        GaussianMixture(n_components=n_components).fit(codes)


def test_heldout_log_likelihood_prefers_the_density_that_fits_new_codes():
    fitted = {"full": Gaussian("full").fit(_gaussian_codes(4000)),
              "diag": Gaussian("diag").fit(_gaussian_codes(4000))}
    heldout = _gaussian_codes(2000, seed=1)
    table = heldout_log_likelihood(fitted, heldout)
    assert list(table.index) == ["full", "diag"] and table.idxmax() == "full"
    assert table["diag"] == pytest.approx(fitted["diag"].score_samples(heldout).mean())
    with pytest.raises(ValueError, match="samplers\\['box'\\]: expected a sampler with a density"):
        heldout_log_likelihood({"box": UniformBox().fit(heldout)}, heldout)
    with pytest.raises(ValueError, match="samplers: expected a non-empty dict"):
        heldout_log_likelihood({}, heldout)
    with pytest.raises(ValueError, match="heldout_codes: expected code_size 3"):
        heldout_log_likelihood(fitted, heldout[:, :1])


# ----------------------------------------------------------------------------- KDE
def test_kde_picks_its_bandwidth_from_the_grid_by_cross_validation():
    codes, _ = _blobs()
    grid = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
    kde = KernelDensity(bandwidths=grid, cv=3).fit(codes)
    assert kde.bandwidth_ in grid
    assert kde.bandwidth_ == max(kde.cv_scores_, key=kde.cv_scores_.get)
    assert kde.bandwidth_ not in (grid[0], grid[-1])  # neither extreme fits held-out codes best
    with pytest.raises(ValueError, match="bandwidths: expected a 1-D list of positive"):
        KernelDensity(bandwidths=[0.1, -1.0]).fit(codes)
    with pytest.raises(ValueError, match="bandwidth: expected a positive number"):
        KernelDensity(bandwidth=0.0).fit(codes)


def test_kde_density_is_in_code_units():
    codes, _ = _blobs()
    kde = KernelDensity(bandwidth=0.2).fit(codes)
    scaled = KernelDensity(bandwidth=0.2).fit(3.0 * codes)
    # Same shape of density on a 3x wider scale: log density lower by d * log 3.
    np.testing.assert_allclose(scaled.score_samples(3.0 * codes[:50]),
                               kde.score_samples(codes[:50]) - 2 * np.log(3.0), atol=1e-5)


def test_kde_leaf_size_changes_neither_its_samples_nor_its_density():
    codes, _ = _blobs()
    tree = KernelDensity(bandwidth=0.3).fit(codes)
    one_leaf = KernelDensity(bandwidth=0.3, leaf_size=len(codes)).fit(codes)
    assert one_leaf.kde_.leaf_size == len(codes)
    np.testing.assert_array_equal(one_leaf.sample(200, seed=4), tree.sample(200, seed=4))
    np.testing.assert_allclose(one_leaf.score_samples(codes[:30]), tree.score_samples(codes[:30]),
                               rtol=1e-10)


def test_tiny_fixed_bandwidth_copies_training_codes():
    codes, _ = _blobs()
    scale = codes.std(0)
    train = NearestNeighbors(n_neighbors=1).fit(codes / scale)
    tiny = KernelDensity(bandwidth=1e-3).fit(codes)
    assert tiny.bandwidth_ == 1e-3 and tiny.cv_scores_ == {}
    d_tiny = train.kneighbors(tiny.sample(500, seed=0) / scale)[0]
    d_cv = train.kneighbors(KernelDensity().fit(codes).sample(500, seed=0) / scale)[0]
    assert np.median(d_tiny) < 0.005 < np.median(d_cv)


# ----------------------------------------------------------------------------- per class
def test_class_conditional_samples_a_class_or_all_at_their_frequencies():
    codes, labels = _blobs()
    base = Gaussian()
    cc = ClassConditional(base).fit(codes, labels)
    assert not hasattr(base, "mean_")  # the base is cloned, never fitted itself
    np.testing.assert_array_equal(cc.classes_, [0, 1, 2])
    np.testing.assert_allclose(cc.class_prior_, np.array(COUNTS) / 900)
    for label in cc.classes_:
        s = cc.sample(200, seed=1, label=label)
        assert s.shape == (200, 2) and np.all(_nearest_centre(s) == label)
        np.testing.assert_allclose(s.mean(0), CENTRES[label], atol=0.15)
    s = cc.sample(9000, seed=0)
    np.testing.assert_allclose(np.bincount(_nearest_centre(s)) / 9000, cc.class_prior_, atol=0.02)
    codes2, labels2 = cc.sample_with_labels(300, seed=5)
    np.testing.assert_array_equal(_nearest_centre(codes2), labels2)
    assert len(set(labels2[:30])) == 3  # mixed order, not grouped by class


def test_class_conditional_checks_labels():
    codes, labels = _blobs()
    with pytest.raises(ValueError, match=r"labels: expected a 1-D array of length 900.*\(899,\)"):
        ClassConditional(Gaussian()).fit(codes, labels[:-1])
    with pytest.raises(ValueError, match="labels: expected one label per code, got None"):
        ClassConditional(Gaussian()).fit(codes)
    cc = ClassConditional(Gaussian()).fit(codes, labels)
    with pytest.raises(ValueError, match=r"label: expected one of the training classes \[0, 1,"):
        cc.sample(5, label=7)
    with pytest.raises(TypeError, match="base: UniformBox has no density"):
        ClassConditional(UniformBox()).fit(codes, labels).score_samples(codes)


# ----------------------------------------------------------------------------- flow
def test_flow_learns_the_density_and_repeats_exactly():
    codes = _gaussian_codes(2000)
    flow = Flow(**FAST_FLOW).fit(codes)
    assert len(flow.loss_history_) == 3 and flow.loss_history_[-1] < flow.loss_history_[0]
    far = codes + 6 * np.sqrt(np.diag(COV))
    assert flow.log_prob(codes).mean() > flow.log_prob(far).mean() + 10
    # Close to the true Gaussian's mean log-likelihood (the flow cannot do much better).
    best = Gaussian().fit(codes).score_samples(codes).mean()
    assert best - 0.15 < flow.score_samples(codes).mean() < best + 0.15
    s = flow.sample(4000, seed=0)
    assert np.all(np.abs(s.mean(0) - codes.mean(0)) < 0.1 * codes.std(0))
    np.testing.assert_allclose(s.std(0), codes.std(0), rtol=0.1)
    # The same fit twice gives the same weights (checked on a shorter fit, for speed).
    once, twice = (Flow(**dict(FAST_FLOW, epochs=1)).fit(codes[:500]) for _ in range(2))
    assert once.loss_history_ == twice.loss_history_
    np.testing.assert_array_equal(once.sample(20, seed=1), twice.sample(20, seed=1))


# ----------------------------------------------------------------------------- StandardNormal
def test_standard_normal_is_the_prior_whatever_the_codes():
    from genlab.samplers import StandardNormal

    sampler = StandardNormal().fit(_gaussian_codes(50))  # only the code size is kept
    assert sampler.code_size_ == 3
    codes = sampler.sample(20_000, seed=1)
    assert codes.shape == (20_000, 3) and codes.dtype == np.float32
    np.testing.assert_array_equal(codes, sampler.sample(20_000, seed=1))
    np.testing.assert_allclose(codes.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(codes, rowvar=False), np.eye(3), atol=0.03)
    with pytest.raises(ValueError, match=r"codes: expected a 2-D array"):
        StandardNormal().fit(np.zeros(4))
    with pytest.raises(Exception, match="not fitted yet"):
        StandardNormal().sample(3)


def test_fit_each_fits_all_and_times_them():
    from genlab.samplers import fit_each

    codes, labels = _blobs()
    lineup = {"box": UniformBox(), "by class": ClassConditional(Gaussian())}
    seconds = fit_each(lineup, codes, labels)
    assert list(seconds) == ["box", "by class"] and all(s >= 0 for s in seconds.values())
    assert lineup["box"].code_size_ == 2 and set(lineup["by class"].classes_) == {0, 1, 2}
    with pytest.raises(ValueError, match="samplers: expected a non-empty dict"):
        fit_each({}, codes)
    with pytest.raises(ValueError, match=r"samplers\['x'\]: expected a sampler"):
        fit_each({"x": 3}, codes)
    with pytest.raises(ValueError, match="codes: expected a 2-D array"):
        fit_each(lineup, codes[:, 0])


def test_copy_safe_bandwidth_is_the_smallest_that_does_not_copy():
    from genlab.samplers import copy_safe_bandwidth

    codes = _gaussian_codes(3000)
    heldout = _gaussian_codes(1000, seed=1)
    grid = [0.001, 0.01, 0.3, 1.0]
    chosen, shares = copy_safe_bandwidth(codes, heldout, grid, sample_size=500)
    assert list(shares) == grid
    assert shares[0.001] > 0.5  # a needle-thin kernel returns the training codes
    assert chosen == min(b for b in grid if shares[b] <= 0.01) and chosen >= 0.3
    again = copy_safe_bandwidth(codes, heldout, grid, sample_size=500)
    assert again == (chosen, shares)
    with pytest.raises(ValueError, match="bandwidths: every bandwidth"):
        copy_safe_bandwidth(codes, heldout, [0.001], sample_size=500)
    with pytest.raises(ValueError, match="heldout_codes: expected code_size 3"):
        copy_safe_bandwidth(codes, heldout[:, :2])


# ----------------------------------------------------------------------------- cached fits
def test_fit_each_caches_fits_and_reloads_them_identically(private_cache):
    from genlab.samplers import fit_each

    codes, labels = _blobs()
    first = {"mixture": GaussianMixture(max_components=3), "by class": ClassConditional(Gaussian()),
             "flow": Flow(**dict(FAST_FLOW, epochs=1))}
    made = fit_each(first, codes, labels)
    assert len(list(private_cache.glob("sampler-*"))) == 3
    again = {name: clone(s) for name, s in first.items()}
    loaded = fit_each(again, codes, labels)
    assert loaded == made  # the seconds of the fit that made them, not of loading
    assert again["mixture"].n_components_ == first["mixture"].n_components_ == 3
    for name in first:
        np.testing.assert_array_equal(again[name].sample(50, seed=3),
                                      first[name].sample(50, seed=3))
    np.testing.assert_array_equal(again["flow"].log_prob(codes[:20]),
                                  first["flow"].log_prob(codes[:20]))
    assert len(list(private_cache.glob("sampler-*"))) == 3


def test_fit_cache_key_follows_what_changes_the_fit(private_cache):
    from genlab.samplers import fit_each

    codes, labels = _blobs()
    fit_each({"a": GaussianMixture(max_components=2), "b": ClassConditional(Gaussian())},
             codes, labels)
    fit_each({"a": GaussianMixture(max_components=2)}, codes)  # labels unused: same entry
    assert len(list(private_cache.glob("sampler-*"))) == 2
    fit_each({"a": GaussianMixture(max_components=3)}, codes)
    fit_each({"a": GaussianMixture(max_components=2)}, codes[:-1])
    fit_each({"b": ClassConditional(Gaussian())}, codes, labels[::-1].copy())
    fit_each({"b": ClassConditional(Gaussian("diag"))}, codes, labels)
    assert len(list(private_cache.glob("sampler-*"))) == 6
    fit_each({"a": GaussianMixture(max_components=4)}, codes, cache=False)
    assert len(list(private_cache.glob("sampler-*"))) == 6


def test_a_corrupt_cached_fit_is_set_aside_and_fitted_again(private_cache):
    from genlab.samplers import fit_each

    codes, _ = _blobs()
    first = GaussianMixture(max_components=2)
    fit_each({"a": first}, codes)
    (entry,) = private_cache.glob("sampler-*")
    (entry / "sampler.joblib").write_bytes(b"not a pickle")
    again = GaussianMixture(max_components=2)
    with pytest.warns(UserWarning, match="is corrupt.*moved to .*\\.bad.*fitted again"):
        fit_each({"a": again}, codes)
    np.testing.assert_array_equal(again.sample(30), first.sample(30))
    assert (entry.parent / (entry.name + ".bad")).is_dir() and (entry / "meta.json").exists()


def test_a_fitted_flow_pickles_with_its_weights():
    import pickle

    codes = _gaussian_codes(500)
    flow = Flow(**dict(FAST_FLOW, epochs=1)).fit(codes)
    copy = pickle.loads(pickle.dumps(flow))
    np.testing.assert_array_equal(copy.sample(40, seed=2), flow.sample(40, seed=2))
    np.testing.assert_array_equal(copy.log_prob(codes[:40]), flow.log_prob(codes[:40]))
    assert copy.loss_history_ == flow.loss_history_ and copy.get_params() == flow.get_params()
    assert not hasattr(pickle.loads(pickle.dumps(Flow())), "model_")


@pytest.mark.parametrize("sampler, message", [
    (lambda: KernelDensity(bandwidth="0.5"),
     r"bandwidth: expected a positive number \(standardised units\).*got '0.5'"),
    (lambda: KernelDensity(bandwidth=True), "bandwidth: expected a positive number"),
    (lambda: KernelDensity(bandwidths=["0.5", "1"]), "bandwidths: expected a 1-D list of positive"),
    (lambda: KernelDensity(bandwidth=0.5, leaf_size=0), "leaf_size: expected an int >= 1, got 0"),
    (lambda: GaussianMixture(reg_covar=-1), "reg_covar: expected a number >= 0, e.g. 1e-6, got -1"),
    (lambda: GaussianMixture(reg_covar="1e-6"), "reg_covar: expected a number >= 0"),
    (lambda: GaussianMixture(max_iter=0), "max_iter: expected an int >= 1"),
    (lambda: Flow(learning_rate="1e-3"), "learning_rate: expected a positive number.*got '1e-3'"),
    (lambda: Flow(learning_rate=float("nan")), "learning_rate: expected a positive number"),
    (lambda: Flow(l2="0.1"), "l2: expected a number >= 0, got '0.1'"),
])
def test_numeric_arguments_are_checked_in_fit(sampler, message):
    codes, _ = _blobs()
    with pytest.raises(ValueError, match=message):
        sampler().fit(codes)


def test_fit_each_fits_and_reports_an_unusable_cache(tmp_path, monkeypatch):
    from genlab.samplers import fit_each

    a_file = tmp_path / "cache-file"
    a_file.write_text("")
    monkeypatch.setenv("GENLAB_CACHE", str(a_file))
    codes, _ = _blobs()
    box = UniformBox()
    with pytest.warns(UserWarning, match="cannot write into the cache folder .*a file, not a "
                                         "folder.*GENLAB_CACHE at a writable folder"):
        seconds = fit_each({"box": box}, codes)
    assert seconds["box"] >= 0 and box.code_size_ == 2 and a_file.read_text() == ""
