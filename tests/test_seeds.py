"""benchmarks/seeds.py's page: what it says follows its results, and the book's page is current."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("seeds", ROOT / "benchmarks" / "seeds.py")
seeds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(seeds)


def _row(sampler, seed, fid, rank, copying=False):
    return {"sampler": sampler, "seed": seed, "fid": fid, "fid_low": fid - 0.5,
            "fid_high": fid + 0.5, "precision": 0.8, "recall": 0.8, "precision_low": 0.75,
            "recall_low": 0.75, "nn_ratio": 1.0, "copy_z": 1.0, "copying": copying, "rank": rank}


def _results(rows):
    return {"measured": "2026-12-01", "n": 5000, "seeds": [0, 1], "copy_safe_bandwidth": 0.19,
            "rows": rows}


def test_page_shows_each_seed_and_whether_the_first_place_holds():
    page = seeds.render(_results([
        _row("flow", 0, 8.0, 1), _row("mixture", 0, 12.0, 2), _row("copier", 0, 1.0, None, True),
        _row("flow", 1, 8.4, 1), _row("mixture", 1, 11.9, 2), _row("copier", 1, 1.1, None, True),
    ]))
    assert page.startswith("# Seeds\n")
    assert "| flow | 8.00 [7.50, 8.50] | 8.40 [7.90, 8.90] | 1 | 1 | no |" in page
    assert "| copier | 1.00 [0.50, 1.50] | 1.10 [0.60, 1.60] | – | – | yes |" in page
    assert "seed 0: flow; seed 1: flow." in page
    assert "In the first place under every seed: flow." in page


def test_page_says_when_the_first_place_changes_with_the_seed():
    page = seeds.render(_results([
        _row("flow", 0, 8.0, 1), _row("mixture", 0, 12.0, 2),
        _row("flow", 1, 12.0, 2), _row("mixture", 1, 8.0, 1),
    ]))
    assert "No sampler is in the first place under every seed" in page
    tied = seeds.render(_results([
        _row("flow", 0, 8.0, 1), _row("mixture", 0, 12.0, 2),
        _row("flow", 1, 9.0, 1), _row("mixture", 1, 9.2, 1),
    ]))
    assert ("In the first place under every seed: flow; alone under seed 0, tied with others "
            "under the rest.") in tied


def test_page_says_whether_each_seeds_first_place_meets_the_targets_against_the_box():
    rows = [_row("uniform box", 0, 100.0, 3), _row("flow", 0, 5.5, 1), _row("mixture", 0, 9.0, 2),
            _row("uniform box", 1, 100.0, 3), _row("flow", 1, 9.0, 2), _row("mixture", 1, 6.5, 1)]
    page = seeds.render(_results(rows))
    # Seed 0: 100 / 6.0 = 16.7, met; seed 1: 100 / 7.0 = 14.3, missed.
    assert "| 0 | flow | 5.50 [5.00, 6.00] | 16.7 | 0.75 | 0.75 | 1.000 | yes |" in page
    assert "| 1 | mixture | 6.50 [6.00, 7.00] | 14.3 | 0.75 | 0.75 | 1.000 | no |" in page
    without_box = seeds.render(_results([r for r in rows if r["sampler"] != "uniform box"]))
    assert "The targets of chapter 6" not in without_box


def test_the_books_page_is_rendered_from_the_committed_results():
    results = json.loads((ROOT / "benchmarks" / "seeds.json").read_text())
    assert results["seeds"] == list(seeds.SEEDS) and len(results["seeds"]) >= 3
    assert (ROOT / "book" / "seeds.md").read_text() == seeds.render(results)
