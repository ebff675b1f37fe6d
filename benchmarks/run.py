"""Measure the book on this machine; write benchmarks/results.json and the page book/benchmarks.md.

    .venv/bin/python benchmarks/run.py                # everything (executes every chapter 3 times)
    .venv/bin/python benchmarks/run.py --quick        # all but the chapter executions
    .venv/bin/python benchmarks/run.py --chapters '03-*'

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "book" / "benchmarks.md"
BIN = Path(sys.executable).parent
BATCH_SIZE = 128  # the book's training batch size (genlab.training.train's default)
SCORED_IMAGES = 10_000
# The book's targets on the 2-core machine CI runs on, in seconds: each chapter opened alone on
# a fresh machine (a student in Colab: its own empty genlab cache), the whole book rerun on a
# filled cache, and the HTML build. The first is judged for every chapter apart.
TARGETS = {"each chapter alone, cold": 180, "whole book, warm": 180, "HTML build": 60}
# The book's models, built as genlab.training.train builds them.
MODELS = {"fully connected autoencoder": ("dense", {"code_size": 32}),
          "convolutional autoencoder": ("conv", {"code_size": 32}),
          "evaluation classifier": ("classifier", {"num_classes": 10})}


# ----------------------------------------------------------------------------- machine
def machine() -> dict:
    """What the numbers were measured on: CPU, cores, memory, versions, date."""
    import genlab

    cpu = "unknown"
    memory_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    versions = genlab.versions()
    return {
        "cpu": cpu,
        "cores": (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else os.cpu_count()),
        "memory_gib": memory_gib,
        "system": platform.platform(),
        "python": versions["python"],
        "tensorflow": versions.get("tensorflow-cpu") or versions.get("tensorflow"),
        "keras": versions.get("keras"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ----------------------------------------------------------------------------- compute
def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict:
    """Best-of-`repeats` speed of an n x n float32 tf.linalg.matmul, in GFLOP/s (2 n^3 FLOPs)."""
    import genlab  # noqa: F401  (quiets TensorFlow before it loads)
    # isort: split
    import tensorflow as tf

    if not isinstance(n, int) or n < 1 or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"n, repeats: expected positive ints, got {n!r}, {repeats!r}")
    a = tf.random.stateless_uniform((n, n), seed=(0, 1))
    b = tf.random.stateless_uniform((n, n), seed=(0, 2))
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()  # .numpy() waits for the result
        best = min(best, time.perf_counter() - start)
    return {"n": n, "seconds": best, "gflops": 2 * n**3 / best / 1e9}


def layer_macs(layer) -> int:
    """Multiply-accumulates of one image through a Dense or convolution layer (0 for others)."""
    from keras import layers

    if isinstance(layer, layers.Conv2DTranspose):  # before Conv2D: it is a subclass in Keras 2
        _, h, w, c_in = layer.input.shape
        return h * w * math.prod(layer.kernel_size) * c_in * layer.filters
    if isinstance(layer, layers.Conv2D):
        _, h, w, _ = layer.output.shape
        c_in = layer.input.shape[-1]
        return h * w * math.prod(layer.kernel_size) * (c_in // layer.groups) * layer.filters
    if isinstance(layer, layers.Dense):
        positions = math.prod(layer.input.shape[1:-1])  # 1 for the usual (batch, features) input
        return positions * layer.input.shape[-1] * layer.units
    return 0


def training_flops_per_image(model) -> float:
    """Estimated FLOPs to train on one image: 3 x forward (2 x MACs of Dense/conv layers)."""
    import keras

    def macs(m) -> int:
        return sum(macs(sub) if isinstance(sub, keras.Model) else layer_macs(sub)
                   for sub in m.layers)

    return 3.0 * 2.0 * macs(model)


def training_throughput(kind: str, options: dict, batches: int = 20, warmup: int = 3,
                        seed: int = 0) -> dict:
    """Images per second of model.train_on_batch on batches of random images (after warm-up)."""
    import genlab  # noqa: F401  (quiets TensorFlow before keras loads it)
    # isort: split
    import keras
    import numpy as np

    from genlab.models import MODELS as KINDS
    from genlab.training import set_determinism

    spec = KINDS[kind]
    set_determinism(seed)
    model = spec.build((28, 28, 1), **options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=spec.loss, metrics=list(spec.metrics))
    rng = np.random.default_rng(seed)
    x = rng.random((BATCH_SIZE, 28, 28, 1), dtype=np.float32)
    y = x if spec.target == "images" else rng.integers(0, 10, BATCH_SIZE)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(batches):
        model.train_on_batch(x, y)  # returns the losses as numbers: each batch has finished
    seconds = time.perf_counter() - start
    return {"kind": kind, "parameters": model.count_params(), "batch_size": BATCH_SIZE,
            "batches": batches, "seconds": seconds,
            "images_per_second": batches * BATCH_SIZE / seconds,
            "train_gflop_per_image": training_flops_per_image(model) / 1e9}


def scoring_time(images: int = SCORED_IMAGES) -> dict:
    """Seconds for Evaluator.score on `images` MNIST test images, after the evaluator is set up;
    both computed, not loaded from genlab's cache (the classifier's weights are)."""
    from genlab import book
    from genlab.data import load_dataset

    start = time.perf_counter()
    mnist = load_dataset("mnist")
    evaluator = book.evaluator(mnist, verbose=False, cache=False)
    setup = time.perf_counter() - start
    parts: dict = {}
    start = time.perf_counter()
    evaluator.score(mnist.x_test[:images], "benchmark", timings=parts)
    return {"images": images, "setup_seconds": setup, "seconds": time.perf_counter() - start,
            "parts": parts}


# ----------------------------------------------------------------------------- the book
def chapters(pattern: str | None = None) -> list[str]:
    """The notebook chapters in _toc.yml order, those whose file name matches `pattern` if given."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [e["file"] for e in toc["chapters"] if (ROOT / f"{e['file']}.ipynb").exists()]
    if pattern:
        found = [c for c in found if fnmatch.fnmatch(Path(c).name, pattern)
                 or fnmatch.fnmatch(f"{Path(c).name}.ipynb", pattern)]
    return found


def execute_chapter(chapter: str, cache: Path, out: Path, env: dict | None = None,
                    prefix: tuple[str, ...] = ()) -> float:
    """Seconds to execute a chapter from a fresh kernel into `out` (the chapter is only read),
    with `env` added to the environment and the command run under `prefix` (e.g. taskset)."""
    env = dict(os.environ, GENLAB_CACHE=str(cache), **(env or {}))
    start = time.perf_counter()
    result = subprocess.run(
        [*prefix, str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=1800", "--output-dir", str(out),
         str(ROOT / f"{chapter}.ipynb")],
        capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"executing {chapter} failed:\n{result.stderr[-3000:]}")
    return seconds


def chapters_alone(names: list[str]) -> list[dict]:
    """Each chapter executed on an empty genlab cache of its own, one after another (a student
    opening only that chapter on a fresh machine); with the models it trained (genlab's shipped
    weights are loaded, not trained) and their training seconds."""
    rows = []
    for chapter in names:
        with tempfile.TemporaryDirectory(prefix="genlab-bench-alone-") as tmp:
            cache, out = Path(tmp) / "cache", Path(tmp) / "out"
            seconds = execute_chapter(chapter, cache, out)
            rows.append({"chapter": chapter, "seconds": seconds,
                         "trained": trained_models(sorted(cache.glob("*/meta.json")))})
        print(f"  {chapter} alone, cold: {seconds:.0f} s", flush=True)
    return rows


def chapters_in_order(names: list[str]) -> list[dict]:
    """Every chapter in book order on one shared, empty genlab cache (cold: it fills the cache),
    then all again in order on the filled cache (warm)."""
    rows = [{"chapter": c} for c in names]
    with tempfile.TemporaryDirectory(prefix="genlab-bench-") as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "out"
        for label in ("cold", "warm"):
            for row in rows:
                row[f"{label}_seconds"] = execute_chapter(row["chapter"], cache, out)
                print(f"  {row['chapter']} in order, {label}: {row[f'{label}_seconds']:.0f} s",
                      flush=True)
    return rows


def trained_models(metas: list[Path]) -> list[dict]:
    """The models among new cache entries: what was trained, and how long its training took."""
    found = []
    for path in metas:
        meta = json.loads(path.read_text())
        if "epochs" in meta:  # a trained model, not a fitted sampler or a score
            options = {k: v for k, v in (meta.get("options") or {}).items() if k != "num_classes"}
            if meta.get("loss"):
                options["loss"] = meta["loss"]
            found.append({"model": f"{meta['kind']}/{meta['dataset']}", "options": options,
                          "epochs": meta["epochs"], "seconds": meta["seconds"]})
    return found


def html_build_seconds() -> float:
    """Seconds for the README's HTML build (warnings as errors) into an empty scratch folder."""
    with tempfile.TemporaryDirectory(prefix="genlab-bench-html-") as out:
        start = time.perf_counter()
        result = subprocess.run(
            [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", out,
             "-W", "-n", "--keep-going"], capture_output=True, text=True)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the HTML build failed:\n{result.stdout[-3000:]}")
    return seconds


# ----------------------------------------------------------------------------- report
# results.json (written by run()): "quick", "chapters_pattern", "machine", "matmul", "training",
# "scoring", "html_build_seconds", and
#   "chapters_alone": [{"chapter", "seconds", "trained": [trained_models() rows]}] (each chapter
#                     alone on its own empty cache; [] when not measured),
#   "chapters":       [{"chapter", "cold_seconds", "warm_seconds"}] (the chapters in book order on
#                     one shared cache, cold then warm; [] when not measured),
#   "targets":        verdicts() of the above, for reading; render_page judges afresh.
# A results.json of the earlier layout (no "chapters_alone"; its "chapters" rows also had the
# "trained" of the in-order cold run, which is ignored) renders with the chapters alone marked
# "not measured".
def verdicts(results: dict) -> list[dict]:
    """Each target with its measured time and "met", "missed" or "not measured": a row for each
    chapter executed alone (one "each chapter alone" row if none was), then the whole book warm
    (judged only when every chapter ran, in order) and the HTML build."""
    def row(target: str, limit: float, measured: float | None) -> dict:
        return {"target": target, "limit_seconds": limit, "measured_seconds": measured,
                "verdict": "not measured" if measured is None
                else "met" if measured <= limit else "missed"}

    alone_limit = TARGETS["each chapter alone, cold"]
    found = [row(f"{Path(r['chapter']).name} alone, cold", alone_limit, r["seconds"])
             for r in results.get("chapters_alone") or []]
    if not found:
        found = [row("each chapter alone, cold", alone_limit, None)]
    in_order = results.get("chapters") or []
    whole = bool(in_order) and not results.get("chapters_pattern")
    found.append(row("whole book, warm", TARGETS["whole book, warm"],
                     sum(r["warm_seconds"] for r in in_order) if whole else None))
    found.append(row("HTML build", TARGETS["HTML build"], results.get("html_build_seconds")))
    return found


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render_page(results: dict) -> str:
    """The book's benchmarks page (MyST Markdown) for a results dict as run() makes it (the
    targets judged afresh from the measured times, so an earlier results.json renders too)."""
    m = results["machine"]
    pattern = results.get("chapters_pattern")
    alone, in_order = results.get("chapters_alone") or [], results.get("chapters") or []
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `benchmarks/run.py` on {m['date']}"
        + (" with `--quick`" if results.get("quick") else "")
        + (f" with `--chapters '{pattern}'`" if pattern else "")
        + f", on this machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB of memory, "
        f"Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}. "
        "Timings are from one run; on a machine shared with other work they are slower than "
        "alone. Rerun the script to measure yours.",
        "",
    ]
    missing = []
    if not alone:
        missing.append("each chapter alone (cold)")
    if not in_order:
        missing.append("the book in order (cold, then warm)")
    notes = []
    if missing:
        notes.append(f"Not measured in this run: {'; '.join(missing)}.")
    if pattern and (alone or in_order):
        notes.append(f"Only the chapters matching `{pattern}` were executed, so the whole-book "
                     "target is not judged.")
    if notes:
        lines += ["```{note}", " ".join(notes), "```", ""]

    lines += ["## Targets", "", "| target | limit | measured | verdict |", "|---|---|---|---|"]
    for row in verdicts(results):  # in seconds, as the limits are set: 181 s is over 180 s
        measured = row["measured_seconds"]
        lines.append(f"| {row['target']} | {row['limit_seconds']:.0f} s | "
                     f"{'–' if measured is None else f'{measured:.0f} s'} | {row['verdict']} |")

    peak = results["matmul"]
    lines += [
        "", "## Training throughput", "",
        f"Peak for comparison: a {peak['n']} × {peak['n']} float32 matrix product runs at "
        f"{peak['gflops']:.0f} GFLOP/s. Each model trains on batches of {BATCH_SIZE} with "
        "`train_on_batch`, deterministic kernels on, after a warm-up.",
        "",
        "| model | parameters | training GFLOP per image (estimate) | images per second | "
        "GFLOP/s | share of the matmul peak |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["training"].items():
        achieved = row["images_per_second"] * row["train_gflop_per_image"]
        lines.append(f"| {name} | {row['parameters']:,} | {row['train_gflop_per_image']:.4f} | "
                     f"{row['images_per_second']:,.0f} | {achieved:.1f} | "
                     f"{achieved / peak['gflops']:.0%} |")
    lines += ["", "The estimate counts the multiply-adds of the Dense and convolution layers "
              "(2 FLOPs each) for one image forward, and triples it for the backward pass; "
              "biases, activations, pooling, the loss and the optimizer step are left out.", ""]

    s = results.get("scoring")
    lines += ["## Scoring", ""]
    if s:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in s["parts"].items())
        lines += [f"`book.evaluator(\"mnist\", cache=False).score(...)` on "
                  f"{s['images']:,} images: "
                  f"**{s['seconds']:.1f} s** ({parts}). Setting up the evaluator (loading or "
                  f"training its classifier, then computing the reference images' features "
                  f"and statistics) took {s['setup_seconds']:.0f} s. Both were computed, "
                  "not loaded from genlab's cache.", ""]
    else:
        lines += ["Not measured in this run.", ""]

    lines += ["## Chapters", ""]
    if not (alone or in_order):
        lines += ["Not measured in this run (run the script without `--quick`).", ""]
    if alone:
        lines += _alone_section(alone)
    if in_order:
        lines += _in_order_section(in_order, whole=not pattern)

    lines += ["## HTML build", "",
              f"`jupyter-book build . -W -n --keep-going` into an empty folder: "
              f"{_minutes(results.get('html_build_seconds'))}.", ""]
    return "\n".join(lines)


def _alone_section(rows: list[dict]) -> list[str]:
    """Each chapter alone: how long they took together, and what each trained."""
    total = sum(row["seconds"] for row in rows)
    lines = ["### Each chapter alone, cold", "",
             "Each chapter executed from a fresh kernel (into a temporary copy) on an empty genlab "
             "cache of its own, one chapter after another: as a student opening only that chapter "
             "on a fresh machine, such as Colab. It loads the models and flows whose weights "
             "genlab ships and trains, fits and scores the rest in front of the reader; the "
             "datasets come from "
             "`GENLAB_DATA`, not downloaded. Each chapter's time is in the targets above; "
             f"{'they took' if len(rows) > 1 else 'it took'} {_minutes(total)}"
             f"{' together' if len(rows) > 1 else ''}.", ""]
    trained = [(Path(row["chapter"]).name, model) for row in rows
               for model in row.get("trained", [])]
    if not trained:
        return lines + ["No chapter trained a model: each loaded genlab's shipped weights.", ""]
    lines += ["The models a chapter trained when executed alone, and how long each training "
              "took:", "",
              "| chapter | model | settings | epochs | training |", "|---|---|---|---|---|"]
    for chapter, model in trained:
        settings = ", ".join(f"{k} {v}" for k, v in model["options"].items()) or "–"
        lines.append(f"| {chapter} | {model['model']} | {settings} | {model['epochs']} | "
                     f"{_minutes(model['seconds'])} |")
    training = sum(model["seconds"] for _, model in trained)
    lines += ["", f"Training took {_minutes(training)} of the chapters' {_minutes(total)} alone "
              f"({training / total:.0%}).", ""]
    return lines


def _in_order_section(rows: list[dict], whole: bool) -> list[str]:
    """The chapters in book order on one shared cache: cold, then warm."""
    lines = ["### The book in order, cold then warm", "",
             "Each chapter executed from a fresh kernel (into a temporary copy), in book order, on "
             "one genlab cache: first on an empty cache (cold: it fills the cache; for "
             "information, not a target), then all again (warm: trained models, fitted samplers, "
             "reference statistics and scores load from the cache).", "",
             "| chapter | cold | warm |", "|---|---|---|"]
    for row in rows:
        lines.append(f"| {Path(row['chapter']).name} | {_minutes(row['cold_seconds'])} | "
                     f"{_minutes(row['warm_seconds'])} |")
    lines.append(f"| {'whole book' if whole else 'these chapters'} | "
                 f"{_minutes(sum(r['cold_seconds'] for r in rows))} | "
                 f"{_minutes(sum(r['warm_seconds'] for r in rows))} |")
    return lines + [""]


def run(quick: bool, pattern: str | None) -> dict:
    results: dict = {"quick": quick, "chapters_pattern": pattern, "machine": machine()}
    print("matrix multiply peak ...", flush=True)
    results["matmul"] = matmul_gflops()
    results["training"] = {}
    for name, (kind, options) in MODELS.items():
        print(f"training throughput: {name} ...", flush=True)
        results["training"][name] = training_throughput(kind, options)
    print(f"scoring {SCORED_IMAGES} images ...", flush=True)
    results["scoring"] = scoring_time()
    results["chapters_alone"], results["chapters"] = [], []
    if not quick:
        names = chapters(pattern)
        if not names:
            raise SystemExit(f"--chapters: no chapter of _toc.yml matches {pattern!r}")
        print(f"executing {len(names)} chapters, each alone on its own empty cache ...",
              flush=True)
        results["chapters_alone"] = chapters_alone(names)
        print(f"executing {len(names)} chapters in book order, cold then warm ...", flush=True)
        results["chapters"] = chapters_in_order(names)
    print("HTML build ...", flush=True)
    results["html_build_seconds"] = html_build_seconds()
    results["targets"] = verdicts(results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the chapter executions")
    parser.add_argument("--chapters", metavar="PATTERN",
                        help="execute only chapters whose file name matches, e.g. '03-*'")
    args = parser.parse_args()
    # The environment .ci/setup gives the book: quiet TensorFlow, fixed hashing, offline datasets.
    os.environ.setdefault("PYTHONHASHSEED", "0")
    if not os.environ.get("GENLAB_DATA") and (ROOT.parent / "shared" / "data").is_dir():
        os.environ["GENLAB_DATA"] = str((ROOT.parent / "shared" / "data").resolve())
    results = run(args.quick, args.chapters)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    PAGE.write_text(render_page(results))
    for row in results["targets"]:
        print(f"{row['target']}: {_minutes(row['measured_seconds'])} ({row['verdict']})")
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
