"""The cheap parts of benchmarks/run.py: the FLOP estimate, the matmul timing, the verdicts and
the page. The full run (chapter executions) is for the machine, not the tests."""

import importlib.util
from pathlib import Path

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


def results(alone, in_order, pattern=None, html=30.0) -> dict:
    """A results dict as run() writes it, with the given chapter rows."""
    found = {
        "quick": not alone and not in_order, "chapters_pattern": pattern,
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gib": 24.0, "python": "3.11.7",
                    "tensorflow": "2.21.0", "keras": "3.15.1", "date": "2026-01-02 03:04 UTC",
                    "system": "Linux"},
        "matmul": {"n": 2048, "seconds": 0.2, "gflops": 80.0},
        "training": {"fully connected autoencoder": {
            "parameters": 1083696, "images_per_second": 4000.0, "train_gflop_per_image": 0.0065}},
        "scoring": {"images": 10000, "seconds": 12.3, "setup_seconds": 40.0,
                    "parts": {"features": 5.0, "fid": 0.1}},
        "chapters_alone": alone, "chapters": in_order, "html_build_seconds": html,
    }
    found["targets"] = bench.verdicts(found)
    return found


def alone(chapter, seconds, trained=()):
    return {"chapter": f"book/{chapter}", "seconds": seconds, "trained": list(trained)}


def in_order(chapter, cold, warm):
    return {"chapter": f"book/{chapter}", "cold_seconds": cold, "warm_seconds": warm}


def target_rows(page):
    """The rows of the page's targets table, as lists of cells."""
    table = page.split("## Targets", 1)[1].split("\n## ", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()[4:] if line.startswith("|")]


def test_each_chapter_alone_is_a_target_of_its_own_and_the_cold_book_is_none():
    page = bench.render_page(results(
        [alone("01-setup", 10.0), alone("02-training", 181.0), alone("03-x", 180.0)],
        [in_order("01-setup", 5.0, 4.0), in_order("02-training", 250.0, 60.0),
         in_order("03-x", 400.0, 40.0)]))
    assert target_rows(page) == [
        ["01-setup alone, cold", "180 s", "10 s", "met"],
        ["02-training alone, cold", "180 s", "181 s", "missed"],
        ["03-x alone, cold", "180 s", "180 s", "met"],  # at the limit: met
        ["whole book, warm", "180 s", "104 s", "met"],
        ["HTML build", "60 s", "30 s", "met"]]
    assert "whole book, cold" not in page and "Not measured" not in page
    assert "2026-01-02 03:04 UTC" in page and "Test CPU, 2 cores" in page
    assert "| fully connected autoencoder | 1,083,696 | 0.0065 | 4,000 | 26.0 | 32% |" in page
    # The book in order: cold kept as information (655 s in all), warm the target.
    assert "| 02-training | 4.2 min | 60 s |" in page
    assert "| whole book | 10.9 min | 104 s |" in page
    assert "they took 6.2 min together" in page
    assert "No chapter trained a model" in page and page.startswith("# Benchmarks\n")


def test_targets_are_missed_over_their_limits():
    found = results([alone("01-setup", 10.0)], [in_order("01-setup", 10.0, 181.0)], html=61.0)
    assert [(t["target"], t["verdict"]) for t in found["targets"]] == [
        ("01-setup alone, cold", "met"), ("whole book, warm", "missed"), ("HTML build", "missed")]


def test_page_lists_what_each_chapter_trained_alone_and_its_share():
    trained = [{"model": "dense/mnist", "options": {"code_size": 32}, "epochs": 15,
                "seconds": 90.0},
               {"model": "dense/mnist", "options": {"code_size": 32, "loss": "mse"},
                "epochs": 15, "seconds": 150.0}]
    page = bench.render_page(results(
        [alone("01-setup", 100.0), alone("02-training", 300.0, trained)],
        [in_order("01-setup", 100.0, 10.0), in_order("02-training", 300.0, 40.0)]))
    assert "| 02-training | dense/mnist | code_size 32 | 15 | 90 s |" in page
    assert "| 02-training | dense/mnist | code_size 32, loss mse | 15 | 2.5 min |" in page
    assert "Training took 4.0 min of the chapters' 6.7 min alone (60%)." in page
    assert ["02-training alone, cold", "180 s", "300 s", "missed"] in target_rows(page)


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
    quick = bench.render_page(results([], []))
    assert "with `--quick`" in quick
    assert ("Not measured in this run: each chapter alone (cold); the book in order (cold, then "
            "warm).") in quick
    assert target_rows(quick) == [
        ["each chapter alone, cold", "180 s", "–", "not measured"],
        ["whole book, warm", "180 s", "–", "not measured"],
        ["HTML build", "60 s", "30 s", "met"]]
    partial = results([alone("03-x", 200.0)], [in_order("03-x", 200.0, 1.0)], "03-*")
    assert [t["verdict"] for t in partial["targets"]] == ["missed", "not measured", "met"]
    page = bench.render_page(partial)
    assert "Only the chapters matching `03-*` were executed" in page
    assert "| these chapters | 3.3 min | 1 s |" in page and "| whole book |" not in page


def test_page_renders_a_results_file_of_the_earlier_layout():
    # Before chapters alone were measured: "chapters" held the in-order rows with what their cold
    # run trained, and "targets" the old targets; the page judges the current targets afresh.
    old = results([], [{**in_order("01-setup", 5.0, 4.0), "trained": [
        {"model": "dense/mnist", "options": {}, "epochs": 1, "seconds": 2.0}]}])
    del old["chapters_alone"]
    old["quick"] = False
    old["targets"] = [{"target": "whole book, cold", "limit_seconds": 600,
                       "measured_seconds": 5.0, "verdict": "met"}]
    page = bench.render_page(old)
    assert target_rows(page) == [
        ["each chapter alone, cold", "180 s", "–", "not measured"],
        ["whole book, warm", "180 s", "4 s", "met"],
        ["HTML build", "60 s", "30 s", "met"]]
    assert "Not measured in this run: each chapter alone (cold)." in page
    assert "| whole book | 5 s | 4 s |" in page and "whole book, cold" not in page


def test_the_committed_results_render():
    import json

    page = bench.render_page(json.loads((ROOT / "benchmarks" / "results.json").read_text()))
    assert page.startswith("# Benchmarks\n") and "## Targets" in page


def test_chapter_pattern_picks_chapters_in_book_order():
    every = bench.chapters()
    assert every and all((ROOT / f"{c}.ipynb").exists() for c in every)
    assert bench.chapters(Path(every[0]).name) == every[:1]
    assert bench.chapters("no-such-chapter-*") == []
