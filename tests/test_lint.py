"""Ruff, configured in lib/pyproject.toml, finds nothing in the library, tests and scripts."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["lib", "tests", "benchmarks", ".ci"]  # ruff takes the .py files of .ci


def ruff() -> str:
    """The ruff of requirements.txt, installed beside this Python (or else on the PATH)."""
    found = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if found is None:
        pytest.fail("ruff is not installed: install requirements.txt (bash .ci/setup does)")
    return found


def test_ruff_finds_nothing():
    result = subprocess.run(
        [ruff(), "check", "--no-cache", "--config", "lib/pyproject.toml", *CHECKED],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, (
        f"ruff check {' '.join(CHECKED)}:\n{result.stdout}{result.stderr}"
        "Fix these, or run: ruff check --config lib/pyproject.toml --fix " + " ".join(CHECKED))
