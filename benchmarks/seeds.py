"""How the better-codes scoreboard moves with the seeds: every sampler refitted and redrawn.

    .venv/bin/python benchmarks/seeds.py run      # ~10 min: three seeds, benchmarks/seeds.json
    .venv/bin/python benchmarks/seeds.py report   # book/seeds.md from benchmarks/seeds.json

Chapter 6 fits its samplers once, with seed 0, and its intervals come from resampling images. A
sampler's fit and draw are random too: `run` refits each of `book.ladder`'s samplers on the fully
connected autoencoder's training codes with each of `SEEDS` as ``random_state``, draws n codes with
that seed, and scores the decoded images as chapter 6 does (n = 5 000, against the test images);
the VAE's prior is redrawn. `report` writes the table and each seed's ranking into the book.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "seeds.json"
PAGE = ROOT / "book" / "seeds.md"
SEEDS = (0, 1, 2)
N = 5_000
COLUMNS = ["fid", "fid_low", "fid_high", "precision", "precision_low", "recall", "recall_low",
           "copy_z", "nn_ratio", "copying"]


def run() -> dict:
    import pandas as pd

    from genlab import book, data, metrics, pretrained, samplers

    mnist = data.load_dataset("mnist")
    dense = book.autoencoders(mnist)["fully connected"]
    vae = book.vae(mnist)
    evaluator = book.evaluator(mnist)
    codes, val_codes = dense.encode(mnist.x_train), dense.encode(mnist.x_val)
    bandwidth, _ = samplers.copy_safe_bandwidth(codes, val_codes)
    # The mixture size chapter 6 chooses on validation codes (from the fits genlab ships).
    chosen = book.chosen_mixture(dense, mnist)[0].n_components_
    prior = samplers.StandardNormal().fit(vae.encode(mnist.x_train))
    rows = []
    for seed in SEEDS:
        lineup = book.ladder(bandwidth, random_state=seed, mixture_components=chosen)
        # Seed 0's flow and mixture: those genlab ships.
        pretrained.fit_samplers(dense, lineup, mnist)
        batches = {name: dense.decode(s.sample(N, seed=seed)) for name, s in lineup.items()}
        batches["VAE: prior N(0, I)"] = vae.decode(prior.sample(N, seed=seed))
        table = pd.concat([evaluator.score(images, name) for name, images in batches.items()])
        ranks = metrics.rank(table, "fid")["rank"]
        for name in table.index:
            row = {c: (bool if c == "copying" else float)(table.loc[name, c]) for c in COLUMNS}
            rank = ranks[name]
            rows.append({"sampler": name, "seed": seed, **row,
                         "rank": None if pd.isna(rank) else int(rank)})
        print(f"seed {seed}: rank 1 = {list(ranks[ranks == 1].index)}", flush=True)
    return {"measured": datetime.date.today().isoformat(), "n": N, "seeds": list(SEEDS),
            "copy_safe_bandwidth": float(bandwidth), "rows": rows}


def render(results: dict) -> str:
    """The page: per sampler, each seed's FID [interval] and rank, and whether it copies."""
    seeds = results["seeds"]
    by_sampler: dict[str, dict[int, dict]] = {}
    for row in results["rows"]:
        by_sampler.setdefault(row["sampler"], {})[row["seed"]] = row
    lines = [
        "# Seeds",
        "",
        "Chapter 6 fits each sampler once, with seed 0; its intervals resample images. Fitting and",
        "drawing are random too, so this page refits every sampler of the chapter and draws again",
        f"with {len(seeds)} seeds ({', '.join(map(str, seeds))}), scoring {results['n']:,} decoded "
        "images per row against the test images, as the chapter does (the copy-safe bandwidth is "
        f"{results['copy_safe_bandwidth']:.2f}). Rank: 1 + the number of samplers whose whole FID "
        "interval is lower, copiers left out (`genlab.metrics.rank`). Written by "
        f"`benchmarks/seeds.py` (measured {results['measured']}).",
        "",
        "| sampler | " + " | ".join(f"seed {s}: FID [95 %]" for s in seeds)
        + " | " + " | ".join(f"rank, seed {s}" for s in seeds) + " | copying |",
        "|---|" + "---|" * (2 * len(seeds) + 1),
    ]
    for name, rows in by_sampler.items():
        fids = [f"{rows[s]['fid']:.2f} [{rows[s]['fid_low']:.2f}, {rows[s]['fid_high']:.2f}]"
                for s in seeds]
        ranks = ["–" if rows[s]["rank"] is None else str(rows[s]["rank"]) for s in seeds]
        flagged = [rows[s]["copying"] for s in seeds]
        copying = "yes" if all(flagged) else "no" if not any(flagged) else "in some seeds"
        lines.append(f"| {name} | " + " | ".join(fids) + " | " + " | ".join(ranks)
                     + f" | {copying} |")
    firsts = [sorted(r["sampler"] for r in results["rows"] if r["seed"] == s and r["rank"] == 1)
              for s in seeds]
    lines += ["", "Ranked first (ties included), seed by seed: "
              + "; ".join(f"seed {s}: {', '.join(first)}" for s, first in zip(seeds, firsts))
              + ".", ""]
    if "uniform box" in by_sampler:
        lines += _targets(by_sampler, seeds, firsts)
    always = [name for name in by_sampler if all(name in first for first in firsts)]
    if always:
        alone = [s for s, first in zip(seeds, firsts) if first == always]
        lines += [f"In the first place under every seed: {', '.join(always)}"
                  + ("." if len(alone) == len(seeds) else
                     f"; {'alone' if len(always) == 1 else 'only these'} under "
                     f"{'no seed' if not alone else 'seed ' + ', '.join(map(str, alone))}, "
                     "tied with others under the rest.") , ""]
    else:
        lines += ["No sampler is in the first place under every seed: the book names no single "
                  "best among these.", ""]
    return "\n".join(lines)


def _targets(by_sampler: dict, seeds: list, firsts: list) -> list[str]:
    """The chapter-6 targets, met or not, for each seed's first place; the box is the yardstick."""
    lines = ["The targets of chapter 6 for the best sampler that does not copy, seed by seed: a "
             "FID at most a sixteenth of the uniform box's (whole interval), precision and recall "
             "at least 0.7 (whole interval), and a nearest-neighbour ratio (`nn_ratio`) of at "
             "least 0.95.", "",
             "| seed | rank 1 | FID [95 %] | uniform box / FID (interval's top) | precision, "
             "low end | recall, low end | nn_ratio | all met |",
             "|---|---|---|---|---|---|---|---|"]
    for s, first in zip(seeds, firsts):
        box = by_sampler["uniform box"][s]["fid"]
        for name in first:
            r = by_sampler[name][s]
            met = (box / r["fid_high"] >= 16 and r["precision_low"] >= 0.7
                   and r["recall_low"] >= 0.7 and r["nn_ratio"] >= 0.95)
            fid = f"{r['fid']:.2f} [{r['fid_low']:.2f}, {r['fid_high']:.2f}]"
            lines.append(f"| {s} | {name} | {fid} | {box / r['fid_high']:.1f} | "
                         f"{r['precision_low']:.2f} | {r['recall_low']:.2f} | "
                         f"{r['nn_ratio']:.3f} | {'yes' if met else 'no'} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    args = parser.parse_args()
    if args.command == "run":
        os.environ.setdefault("PYTHONHASHSEED", "0")
        if not os.environ.get("GENLAB_DATA") and (ROOT.parent / "shared" / "data").is_dir():
            os.environ["GENLAB_DATA"] = str((ROOT.parent / "shared" / "data").resolve())
        results = run()
        tmp = RESULTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=1) + "\n")
        tmp.replace(RESULTS)
    results = json.loads(RESULTS.read_text())
    PAGE.write_text(render(results))
    print(f"wrote {PAGE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
