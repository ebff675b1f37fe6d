"""pipeline.run end to end on tiny data (one epoch, tiny n): MNIST from a folder, CIFAR-10 from
a python-format archive the test writes itself, and the side-by-side table of the two runs."""

import dataclasses

import numpy as np
import pytest

from genlab import data, pipeline, plots, samplers

from conftest import tiny_images, write_cifar_archive

TINY_MNIST = {
    "fully connected": dict(kind="dense", epochs=1, code_size=4, hidden=(16,), batch_size=50),
    "variational": dict(kind="vae", epochs=1, code_size=4, hidden=(16,), batch_size=50),
}
TINY_CIFAR = {"convolutional": dict(kind="conv", epochs=1, code_size=8, filters=(4, 8, 8),
                                    batch_size=50)}
RUN = dict(n=20, classifier_epochs=1, pairs=3, steps=4, examples=5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run on MNIST and one on CIFAR-10, each in its own data folder and cache."""
    root = tmp_path_factory.mktemp("pipeline")
    labels = lambda n: (np.arange(n) % 10).astype(np.uint8)  # noqa: E731
    (root / "mnist").mkdir()
    np.savez(root / "mnist" / "mnist.npz", x_train=tiny_images(300), y_train=labels(300),
             x_test=tiny_images(100, seed=1), y_test=labels(100))
    (root / "cifar").mkdir()
    write_cifar_archive(root / "cifar" / "cifar-10-python.tar.gz", per_batch=24)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENLAB_CACHE", str(root / "cache"))
        patch.setenv("GENLAB_DATA", str(root / "mnist"))
        mnist = results["mnist data"] = data.load_dataset("mnist", validation_size=50)
        results["mnist"] = pipeline.run(
            mnist, autoencoders=TINY_MNIST, **RUN,
            samplers={"fully connected": {"uniform box": samplers.UniformBox(),
                                          "Gaussian": samplers.Gaussian()},
                      "variational": {"prior": samplers.StandardNormal()}})
        patch.setenv("GENLAB_DATA", str(root / "cifar"))
        # 120 training images, 24 test images, as the python batches store them.
        results["cifar10"] = pipeline.run(
            data.load_dataset("cifar10", validation_size=20), autoencoders=TINY_CIFAR, **RUN,
            samplers={"convolutional": {"uniform box": samplers.UniformBox()}})
    return results


def test_mnist_run_scores_every_batch_at_n(runs):
    r = runs["mnist"]
    assert r.dataset == "mnist" and r.n == 20 and r.models == ["fully connected", "variational"]
    assert list(r.scores.index) == [
        "real validation images", "fully connected: reconstructions",
        "variational: reconstructions", "fully connected: uniform box",
        "fully connected: Gaussian", "variational: prior"]
    assert (r.scores["n"] == 20).all() and r.scores["fid"].ge(0).all()
    assert r.fid_over_floor()["real validation images"] == 1.0
    assert r.sampled("fully connected") == ["uniform box", "Gaussian"]
    assert r.sampled("variational") == ["prior"]
    assert 0 <= r.classifier_accuracy <= 1
    assert r.reconstruction["validation MSE"].between(0, 1).all()
    assert r.reconstruction["classifier accuracy"].between(0, 1).all()


def test_the_floor_and_the_reconstructions_see_the_same_held_out_images(runs):
    r, mnist = runs["mnist"], runs["mnist data"]
    # The floor is the first n validation images, which no model trained on, and the
    # reconstruction rows rebuild exactly those: the two compare like with like.
    np.testing.assert_array_equal(r.images["real validation images"], mnist.x_val[:5])
    model = r.reconstruction_rows()["fully connected"]
    assert model.shape == mnist.x_val[:5].shape
    error = float(((model - mnist.x_val[:5]) ** 2).mean())
    other = float(((model - mnist.x_test[:5]) ** 2).mean())
    assert error < other  # they rebuild the validation images, not test images


def test_images_for_figures_are_the_first_of_each_batch(runs):
    r = runs["mnist"]
    rows = r.reconstruction_rows()
    assert list(rows) == ["validation images", "fully connected", "variational"]
    assert all(images.shape == (5, 28, 28, 1) for images in rows.values())
    assert list(r.sample_rows()) == ["fully connected: uniform box", "fully connected: Gaussian",
                                     "variational: prior"]
    for images in r.images.values():
        assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1


def test_walks_join_test_images_of_different_classes(runs):
    r = runs["mnist"]
    walks = r.walks["fully connected"]
    assert walks.frames.shape == (3, 4, 28, 28, 1)
    assert walks.probabilities.shape == (3, 4, 10)
    labels = np.arange(100) % 10
    first, second = pipeline._pairs(labels, 3, seed=0)
    assert len(first) == len(second) == 3 and (labels[first] != labels[second]).all()
    np.testing.assert_array_equal(pipeline._pairs(labels, 3, seed=0)[1], second)
    assert r.walk_rows(2)["variational"].shape == (4, 28, 28, 1)
    assert r.walk_pairs.shape == r.walk_labels.shape == (3, 2)
    assert (r.walk_labels[:, 0] != r.walk_labels[:, 1]).all()
    a, b = r.walk_labels[0]
    assert r.walk_title(0) == f"{r.class_names[a]} → {r.class_names[b]}"
    with pytest.raises(ValueError, match=r"pair: expected an int in \[0, 3\), got -1"):
        r.walk_title(-1)
    assert list(r.walk_table().index) == ["fully connected", "variational"]
    with pytest.raises(ValueError, match=r"pair: expected an int in \[0, 3\), got 3"):
        r.walk_rows(3)


def test_cifar_runs_through_the_same_function(runs):
    r = runs["cifar10"]
    assert r.class_names[0] == "airplane" and r.models == ["convolutional"]
    assert r.sampled("convolutional") == ["uniform box"]
    assert r.reconstruction_rows()["convolutional"].shape == (5, 32, 32, 3)
    assert r.walks["convolutional"].frames.shape == (3, 4, 32, 32, 3)
    assert r.scores["fid"].notna().all()


def test_default_sampler_plan_keeps_the_models_run():
    plan = pipeline._sampler_plan(None, {"convolutional": None})
    assert list(plan) == ["convolutional"]
    assert list(plan["convolutional"]) == ["uniform box", "Gaussian mixture", "flow"]
    assert list(pipeline._sampler_plan(None, {"fully connected": None, "variational": None})) == [
        "fully connected", "variational"]


def test_summary_and_side_by_side(runs):
    mnist, cifar = runs["mnist"], runs["cifar10"]
    summary = mnist.summary()
    accuracy = summary["evaluation classifier", "accuracy on the test images"]
    assert accuracy == mnist.classifier_accuracy
    assert summary["fully connected", "uniform box: FID ÷ floor"] == pytest.approx(
        mnist.scores.loc["fully connected: uniform box", "fid"]
        / mnist.scores.loc["real validation images", "fid"])
    table = pipeline.side_by_side([mnist, cifar])
    assert list(table.columns) == ["mnist", "cifar10", "cifar10 ÷ mnist"]
    # Only what both runs measured: the models differ, the dataset-level rows remain.
    assert list(table.index) == [("evaluation classifier", "accuracy on the test images"),
                                 ("real validation images", "FID (the floor)")]
    np.testing.assert_allclose(table["cifar10 ÷ mnist"], table["cifar10"] / table["mnist"])
    with pytest.raises(ValueError, match="results: expected a list of two or more Results"):
        pipeline.side_by_side(mnist)
    with pytest.raises(ValueError, match="results: expected a list of two or more Results"):
        pipeline.side_by_side([mnist])
    with pytest.raises(ValueError, match="results: expected runs on different datasets"):
        pipeline.side_by_side([mnist, mnist])


def test_bad_arguments_are_named(data_dir):
    tiny = data.load_dataset("mnist", validation_size=50)
    with pytest.raises(ValueError, match="n: expected at most 50 .*validation images"):
        pipeline.run(tiny, n=51)
    with pytest.raises(ValueError, match="n: expected an int >= 10, got 5"):
        pipeline.run(tiny, n=5)
    with pytest.raises(ValueError, match="examples: expected at most n=20"):
        pipeline.run(tiny, n=20, examples=21)
    with pytest.raises(ValueError, match="pairs: expected at most .* pairs of test images"):
        pipeline.run(tiny, n=20, pairs=1000)
    with pytest.raises(ValueError, match=r"samplers: expected names of the models run, "
                                         r"\['fully connected'\], got \['convolutional'\]"):
        pipeline.run(tiny, n=20, autoencoders={"fully connected": TINY_MNIST["fully connected"]},
                     samplers={"convolutional": {"uniform box": samplers.UniformBox()}})


def test_dataset_comparison_draws_one_bar_per_row_and_dataset(runs):
    import matplotlib.pyplot as plt

    mnist = runs["mnist"]
    other = dataclasses.replace(mnist, dataset="fashion_mnist")
    table = pipeline.side_by_side([mnist, other])
    ax = plots.dataset_comparison(table)
    # 5 rows end with "FID ÷ floor" (2 reconstructions, 3 samplers), 2 datasets, no ratio bars.
    assert len(ax.patches) == 5 * 2
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "fully connected: reconstructions", "fully connected: uniform box",
        "fully connected: Gaussian", "variational: reconstructions", "variational: prior"]
    assert ax.get_xscale() == "log"
    plt.close("all")
    with pytest.raises(ValueError, match="measure: no row of the table ends with 'recall'"):
        plots.dataset_comparison(table, "recall")
