"""The tolerant comparison of stored notebook outputs (tests/stored_outputs.py): its rules on
strings, the checks of a cell's "tolerance" metadata, and the plugin end to end through nbval."""

import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from stored_outputs import ToleranceError, cell_tolerance, compare_text, tokenize

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parents[1]


def kinds(s: str) -> list[tuple[str, str]]:
    return [(kind, raw) for kind, raw, _ in tokenize(s)]


def test_tokenize_numbers_and_the_text_between_them():
    assert kinds("MSE -0.153, 4.15x, lr 1e-05, n 10000, .5") == [
        ("text", "MSE "), ("float", "-0.153"), ("text", ", "), ("float", "4.15"),
        ("text", "x, lr "), ("float", "1e-05"), ("text", ", n "), ("int", "10000"),
        ("text", ", "), ("float", ".5")]
    assert kinds("5-95 % box") == [("int", "5"), ("text", "-"), ("int", "95"), ("text", " % box")]
    assert kinds("FID -15% lower, precision +0.16") == [
        ("text", "FID "), ("int", "-15"), ("text", "% lower, precision "), ("float", "+0.16")]
    # Digits glued after a letter or underscore, and dotted versions, are text.
    for text in ("dense_1 copy_share_p5 x2 conv_0", "TensorFlow 2.21.0 on Python 3.11.7"):
        assert kinds(text) == [("text", text)]


@pytest.mark.parametrize("stored, new, relative", [
    ("test MSE 0.0054", "test MSE 0.0055", 0.02),      # one unit of the last digit
    ("FID 46.6", "FID 47.0", 0.02),
    ("FID 46.6", "FID 49.5", 0.1),
    ("copy share 0.015", "copy share 0.016", 0.02),    # the rounding edge
    ("lr 1e-05", "lr 1.1e-05", 0.02),                 # the coarser unit: 1 in 1e-05's mantissa
    ("10000 images, 61x", "10100 images, 62x", 0.02),  # integers: relative only
    ("       fid  copying\nflow   9.001    False\n", "    fid copying\nflow 9.05 False", 0.02),
    ("genlab 2.21.0", "genlab 2.21.0", 0.02),
])
def test_matches(stored, new, relative):
    assert compare_text(stored, new, relative) is None


@pytest.mark.parametrize("stored, new, expected", [
    ("copy share 0.015: meets the bar", "copy share 0.015: misses the bar",
     ["stored ': meets the bar', new ': misses the bar'"]),
    ("copying: False", "copying: True", ["stored 'copying: False', new 'copying: True'"]),
    ("best: flow, FID 9.0", "best: kernel density, FID 9.2", ["'best: flow,", "'best: kernel"]),
    ("flow 9.0\nkde 9.2\n", "kde 9.2\nflow 9.0\n", ["text differs: stored 'flow', new 'kde'"]),
    ("epoch 1/15", "epoch 2/15", ["stored 1, new 2", "unit 0 (integer)"]),
    ("genlab 2.21.0", "genlab 2.21.1", ["'genlab 2.21.0'", "'genlab 2.21.1'"]),
    ("lr 1e-05", "lr 3e-05", ["stored 1e-05, new 3e-05", "unit 1e-05"]),
    ("15 epochs", "15.0 epochs", ["stored integer '15', new float '15.0'"]),
    ("loss 0.5", "loss 0.5 0.6", ["stored has 2 tokens", "new has 4", "new:    loss 0.5 0.6"]),
])
def test_mismatches(stored, new, expected):
    why = compare_text(stored, new, 0.02)
    assert why is not None and all(part in why for part in expected), why


def test_a_number_beyond_the_tolerance_is_explained_with_its_line():
    why = compare_text("flow: FID 9.0\nGaussian (full): FID 46.6, 1.5x lower\n",
                       "flow: FID 9.0\nGaussian (full): FID 49.5, 1.5x lower\n", 0.02)
    assert "stored 46.6, new 49.5" in why and "relative 0.02" in why and "unit 0.1" in why
    assert "stored: Gaussian (full): FID 46.6, 1.5x lower" in why
    assert "new:    Gaussian (full): FID 49.5, 1.5x lower" in why


def test_a_sign_change_near_zero_needs_an_absolute_allowance():
    assert compare_text("correlation -0.01", "correlation 0.02", 0.1) is not None
    assert compare_text("correlation -0.01", "correlation 0.02", 0.1, absolute=0.05) is None


@pytest.mark.parametrize("spec, expected", [
    (None, (0.02, 0.0)),
    ({"relative": 0.1, "why": "a flow's training amplifies the last digits"}, (0.1, 0.0)),
    ({"relative": 0.02, "why": "correlations hover around zero", "absolute": 0.01}, (0.02, 0.01)),
])
def test_cell_tolerance(spec, expected):
    metadata = {} if spec is None else {"tolerance": spec}
    assert cell_tolerance(metadata, 0.02, "book/x.ipynb::Cell 3") == expected


@pytest.mark.parametrize("spec, problem", [
    ({"relative": 0.1}, '"why" is None'),
    ({"relative": 0.1, "why": "  "}, '"why" is'),
    ({"relative": 0.9, "why": "noisy"}, '"relative" is 0.9'),
    ({"relative": 0.01, "why": "noisy"}, '"relative" is 0.01'),
    ({"relative": "0.1", "why": "noisy"}, '"relative" is \'0.1\''),
    ({"relative": True, "why": "noisy"}, '"relative" is True'),
    ({"why": "noisy"}, '"relative" is None'),
    ({"relative": 0.1, "why": "noisy", "absolute": -1}, '"absolute" is -1'),
    ({"relative": 0.1, "why": "noisy", "rel": 0.2}, "unknown keys ['rel']"),
    (0.1, "expected an object"),
])
def test_invalid_cell_tolerance_is_refused(spec, problem):
    with pytest.raises(ToleranceError) as error:
        cell_tolerance({"tolerance": spec}, 0.02, "book/x.ipynb::Cell 3")
    assert str(error.value).startswith('book/x.ipynb::Cell 3: invalid "tolerance" metadata')
    assert problem in str(error.value)


# End to end: one notebook whose cells print constants, with stored outputs edited to stand for
# another machine's; nbval runs it in a real kernel under the repository's pytest.ini.
def frame(fids: list[float], rows: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"fid": fids, "copying": [False] * len(fids)}, index=rows)


FRAME = ('pd.DataFrame({"fid": [9.001, 9.235], "copying": [False, False]}, '
         'index=["flow", "kernel density"])')
WIDER = {"tolerance": {"relative": 0.1, "why": "a flow's training amplifies the last digits"}}
with pd.option_context("display.width", 12):
    WRAPPED = repr(frame([9.05, 9.3], ["flow", "kernel density"]))  # other widths, other blocks


def stdout(text: str) -> dict:
    return new_output("stream", name="stdout", text=text)


def shown(text: str) -> dict:
    return new_output("display_data", data={"text/plain": repr(text)})


def result(df: pd.DataFrame, plain: str) -> dict:
    return new_output("execute_result", data={"text/html": df._repr_html_(), "text/plain": plain},
                      execution_count=1)


# (source, stored outputs, metadata, passes, what its failure must say)
CELLS = [
    ("import pandas as pd", [], {}, True, []),
    ('print("validation MSE 0.0055 after 15 epochs; FID 47.0, 54% real")',
     [stdout("validation MSE 0.0054 after 15 epochs; FID 46.6, 54% real\n")], {}, True, []),
    ('print("FID 49.5")', [stdout("FID 46.6\n")], {}, False,
     ["mismatch in 'stdout'", "stored 46.6, new 49.5", "relative 0.02", "unit 0.1",
      "stored: FID 46.6"]),
    ('print("copy share 0.015: meets the bar")', [stdout("copy share 0.015: misses the bar\n")],
     {}, False, ["stored ': misses the bar', new ': meets the bar'"]),
    ('print("copying: True")', [stdout("copying: False\n")], {}, False,
     ["stored 'copying: False', new 'copying: True'"]),
    (FRAME, [result(frame([9.05, 9.3], ["flow", "kernel density"]), WRAPPED)], {}, True, []),
    (FRAME, [result(frame([9.235, 9.001], ["kernel density", "flow"]), "")], {}, False,
     ["mismatch in 'text/html'", "stored: row: kernel density 9.235 False",
      "new:    row: flow 9.001 False"]),
    ('display("x 1"); display("x 2")', [shown("x 1")], {}, False,
     ['dissimilar number of outputs for key "text/plain": stored 1, new 2']),
    ('display("x 1")', [shown("x 1"), shown("x 2")], {}, False,
     ['dissimilar number of outputs for key "text/plain": stored 2, new 1']),
    ('print("FID 49.5")', [stdout("FID 46.6\n")], WIDER, True, []),
    ('print("FID 49.5")', [stdout("FID 46.6\n")], {"tolerance": {"relative": 0.1}}, False,
     ['chapter.ipynb::Cell 10: invalid "tolerance" metadata', '"why" is None']),
    ('print("FID 49.5")', [stdout("FID 46.6\n")], {"tolerance": {"relative": 0.9, "why": "noisy"}},
     False, ['chapter.ipynb::Cell 11: invalid "tolerance" metadata', '"relative" is 0.9']),
]


def repository_ini() -> str:
    """The repository's pytest.ini, with its relative paths made absolute for another folder."""
    ini = (ROOT / "pytest.ini").read_text()
    assert "\npythonpath = tests\n" in ini and "-p stored_outputs" in ini
    return (ini.replace("\npythonpath = tests\n", f"\npythonpath = {ROOT / 'tests'}\n")
            .replace("tests/sanitize.cfg", str(ROOT / "tests" / "sanitize.cfg")))


def test_nbval_compares_with_the_tolerance(pytester):
    nb = new_notebook(cells=[new_code_cell(source, outputs=outputs, metadata=metadata,
                                           execution_count=i + 1)
                             for i, (source, outputs, metadata, _, _) in enumerate(CELLS)])
    nbformat.write(nb, pytester.path / "chapter.ipynb")
    pytester.makefile(".ini", pytest=repository_ini())

    out = pytester.runpytest_subprocess("chapter.ipynb", "-v", timeout=240).stdout.str()
    outcomes = dict(re.findall(r"::Cell (\d+) (PASSED|FAILED|ERROR)", out))
    parts = re.split(r"\n_{3,} chapter\.ipynb::Cell (\d+) _{3,}\n", out)
    failures = dict(zip(parts[1::2], parts[2::2]))
    for i, (_, _, _, passes, messages) in enumerate(CELLS):
        assert outcomes.get(str(i)) == ("PASSED" if passes else "FAILED"), (i, out)
        for message in messages:
            assert message in failures[str(i)], (i, message, failures[str(i)])


def test_nbval_without_the_default_tolerance_is_a_usage_error(pytester):
    pytester.makefile(".ini", pytest=repository_ini().replace("stored_outputs_tolerance", "unused"))
    run = pytester.runpytest_subprocess("--collect-only", timeout=60)
    assert "stored_outputs_tolerance is not set" in run.stderr.str()
