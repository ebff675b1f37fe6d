"""The cheap parts of benchmarks/run.py: the FLOP estimate, the matmul timing, the verdicts and
the page. The full run (chapter executions) is for the machine, not the tests."""

import importlib.util
from pathlib import Path

import genlab  # noqa: F401  (first: it quiets TensorFlow)
import keras
import pytest
from keras import layers

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "run.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_dense_layer_flops_are_three_times_two_macs():
    x = keras.Input((784,))
    model = keras.Model(x, layers.Dense(10)(x))
    assert bench.training_flops_per_image(model) == 3 * 2 * 784 * 10


def test_convolutions_count_their_output_or_input_positions_and_nested_models_count_once():
    x = keras.Input((28, 28, 1))
    down = layers.Conv2D(8, 3, strides=2, padding="same")(x)           # 14x14 outputs
    inner = keras.Model(x, down)
    y = keras.Input((28, 28, 1))
    up = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(inner(y))  # 14x14 inputs
    outer = keras.Model(y, layers.MaxPooling2D()(up))
    macs = 14 * 14 * 9 * 1 * 8 + 14 * 14 * 9 * 8 * 4
    assert bench.training_flops_per_image(outer) == 6 * macs


def test_matmul_timing_is_positive_and_checks_its_arguments():
    result = bench.matmul_gflops(64, repeats=2)
    assert result["n"] == 64 and result["seconds"] > 0 and result["gflops"] > 0
    with pytest.raises(ValueError, match="positive ints"):
        bench.matmul_gflops(0)


def results(chapters, pattern=None, html=30.0) -> dict:
    found = {
        "quick": not chapters, "chapters_pattern": pattern,
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0, "python": "3.11.7",
                    "tensorflow": "2.21.0", "keras": "3.15.1", "date": "2026-01-02 03:04 UTC",
                    "system": "Linux"},
        "matmul": {"n": 2048, "seconds": 0.2, "gflops": 80.0},
        "training": {"fully connected autoencoder": {
            "parameters": 1083696, "images_per_second": 4000.0, "train_gflop_per_image": 0.0065}},
        "scoring": {"images": 10000, "seconds": 12.3, "setup_seconds": 40.0,
                    "parts": {"features": 5.0, "fid": 0.1}},
        "chapters": chapters, "html_build_seconds": html,
    }
    found["targets"] = bench.verdicts(found)
    return found


def test_page_says_met_missed_and_what_it_ran_on():
    page = bench.render_page(results([
        {"chapter": "book/01-setup", "cold_seconds": 400.0, "warm_seconds": 60.0},
        {"chapter": "book/02-training", "cold_seconds": 300.0, "warm_seconds": 40.0}]))
    assert "| whole book, cold | 10.0 min | 11.7 min | missed |" in page
    assert "| whole book, warm | 3.0 min | 100 s | met |" in page
    assert "| HTML build | 60 s | 30 s | met |" in page
    assert "2026-01-02 03:04 UTC" in page and "Test CPU, 2 cores" in page
    assert "| 01-setup | 6.7 min | 60 s |" in page
    assert "| fully connected autoencoder | 1,083,696 | 0.0065 | 4,000 | 26.0 | 32% |" in page
    assert "Not measured" not in page and page.startswith("# Benchmarks\n")
    assert "Training in the cold run" not in page  # no models recorded: no section


def test_page_lists_what_the_cold_run_trained_and_its_share():
    trained = [{"model": "dense/mnist", "options": {"code_size": 32}, "epochs": 15,
                "seconds": 90.0},
               {"model": "dense/mnist", "options": {"code_size": 32, "loss": "mse"},
                "epochs": 15, "seconds": 150.0}]
    page = bench.render_page(results([
        {"chapter": "book/02-training", "cold_seconds": 300.0, "warm_seconds": 40.0,
         "trained": trained},
        {"chapter": "book/03-x", "cold_seconds": 100.0, "warm_seconds": 40.0, "trained": []}]))
    assert "| 02-training | dense/mnist | code_size 32 | 15 | 90 s |" in page
    assert "| 02-training | dense/mnist | code_size 32, loss mse | 15 | 2.5 min |" in page
    assert "Training took 4.0 min of the cold run's 6.7 min (60%)." in page


def test_trained_models_reads_model_entries_only(tmp_path):
    import json

    model, score = tmp_path / "dense-mnist-1", tmp_path / "score-2"
    model.mkdir(), score.mkdir()
    (model / "meta.json").write_text(json.dumps({
        "kind": "classifier", "dataset": "mnist", "epochs": 4, "seconds": 36.5,
        "options": {"num_classes": 10}, "loss": None}))
    (score / "meta.json").write_text(json.dumps({"key": "k", "payload": "score.json"}))
    assert bench.trained_models([model / "meta.json", score / "meta.json"]) == [
        {"model": "classifier/mnist", "options": {}, "epochs": 4, "seconds": 36.5}]


def test_page_of_a_quick_or_partial_run_says_what_was_not_measured():
    quick = bench.render_page(results([]))
    assert "with `--quick`" in quick and "Not measured: the chapter executions" in quick
    assert "| whole book, cold | 10.0 min | – | not measured |" in quick
    partial = results([{"chapter": "book/03-x", "cold_seconds": 1.0, "warm_seconds": 1.0}], "03-*")
    assert [t["verdict"] for t in partial["targets"]] == ["not measured", "not measured", "met"]
    assert "only some chapters were executed" in bench.render_page(partial)


def test_chapter_pattern_picks_chapters_in_book_order():
    every = bench.chapters()
    assert every and all((ROOT / f"{c}.ipynb").exists() for c in every)
    assert bench.chapters(Path(every[0]).name) == every[:1]
    assert bench.chapters("no-such-chapter-*") == []
