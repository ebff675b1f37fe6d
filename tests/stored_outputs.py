"""nbval plugin: compare the numbers in the chapters' stored outputs with a tolerance.

nbval checks each executed cell against its stored outputs as exact strings, but the numbers the
chapters print (losses, MSEs, FIDs, shares) move in their last digits from machine to machine
(another CPU or thread count sums floats in another order, and training amplifies it). This
plugin replaces ``nbval.plugin.IPyNbCell.compare_outputs``: each text output (streams, ``text/*``,
error messages) is split into numbers and the text between them, and both sides must have as
many tokens, of the same kinds in the same order, where

* texts are equal once every run of whitespace is one space (padding follows numbers' widths);
* a float (decimal point or exponent) may move by ``relative * max(|stored|, |new|) + unit +
  absolute``, unit being one unit of the last printed digit of the coarser of the two (0.001 for
  ``0.153``, 1e-05 for ``1e-05``), as rounding alone moves a printed value by one unit;
* an integer (counters, sizes, ``61x``) may move by ``relative * max(|stored|, |new|) + absolute``.

A number is an optional sign, digits with an optional decimal part and an optional exponent
(``-0.153``, ``1e-05``, ``.5``). Digits glued after a letter, digit, underscore or point are text
(``dense_1``, ``x2``), so are dotted versions (``2.21.0``); a minus is a sign only where no letter
or digit precedes it (``5-95`` is 5, ``-``, 95). Words and booleans are text.

``relative`` is the ini option ``stored_outputs_tolerance`` (pytest.ini). A cell may widen it in
its metadata, saying why: ``"tolerance": {"relative": 0.1, "why": "...", "absolute": 0.01}``
(``absolute`` optional, for quantities near zero such as correlations).

As in nbval: the skipped keys (images; GIF animations are pixels like PNGs, so every ``image/*``
is skipped whenever PNGs are), ``--nbval-sanitize-with``, the set of output keys and the number of
outputs per key. Unlike nbval: when one output holds both ``text/html`` and ``text/plain`` (a
pandas DataFrame) only ``text/html`` is compared, because it lists every cell in order while
pandas' plain text wraps columns into blocks depending on the numbers' widths; values that are not
text (``application/*``) are compared exactly.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from nbval import plugin as nbval

INI = "stored_outputs_tolerance"
MAX_RELATIVE = 0.5
KINDS = {"text": "text", "int": "integer", "float": "float"}
_DEFAULT = pytest.StashKey[float]()
_NBVAL_COMPARE = nbval.IPyNbCell.compare_outputs
# The version alternative comes first so that 2.21.0 is never read as the numbers 2.21 and 0.
_TOKEN = re.compile(r"(?<![\w.])(?:(?P<version>[0-9]+(?:\.[0-9]+){2,})"
                    r"|(?P<number>[-+]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?))")
_TEXT_KEYS = ("stdout", "stderr", "ename", "evalue")


class ToleranceError(ValueError):
    """A cell's "tolerance" metadata is not what the plugin accepts."""


def tokenize(s: str) -> list[tuple[str, str, int]]:
    """Split s into (kind, raw text, offset) tokens, kind "text", "int" or "float"."""
    tokens, last = [], 0
    for m in _TOKEN.finditer(s):
        number = m.group("number")
        if number is None:
            continue  # a version stays part of the text around it
        if m.start() > last:
            tokens.append(("text", s[last:m.start()], last))
        tokens.append(("float" if re.search("[.eE]", number) else "int", number, m.start()))
        last = m.end()
    if last < len(s):
        tokens.append(("text", s[last:], last))
    return tokens


def _cut(s: str, limit: int = 160) -> str:
    return s if len(s) <= limit else s[:limit - 3] + "..."


def _excerpt(s: str, at: int) -> str:
    start, end = max(0, at - 80), min(len(s), at + 120)
    cut = " ".join(s[start:end].split())
    return ("..." if start else "") + cut + ("..." if end < len(s) else "")


def _context(s: str, at: int) -> str:
    """The line holding offset at; for a cell of an HTML table, the text of its row."""
    start, end = s.rfind("\n", 0, at) + 1, s.find("\n", at)
    line = s[start:end if end >= 0 else len(s)]
    row_start, row_end = s.rfind("<tr", 0, at), s.find("</tr>", at)
    if ("<td" in line or "<th" in line) and 0 <= row_start and 0 <= row_end:
        line = "row: " + re.sub(r"<[^>]*>", " ", s[row_start:row_end])
    return _cut(" ".join(line.split()))


def compare_number(stored: str, new: str, relative: float, absolute: float = 0.0) -> str | None:
    """None if two printed numbers agree within the tolerance, else the arithmetic saying no."""
    a, b = Decimal(stored), Decimal(new)
    is_float = bool(re.search("[.eE]", stored + new))
    # Decimal keeps the printed digits: the unit is exact, and 0.016 - 0.015 is exactly 0.001.
    unit = max(Decimal(1).scaleb(x.as_tuple().exponent) for x in (a, b)) if is_float else 0
    scale = max(abs(a), abs(b))
    allowed = Decimal(repr(relative)) * scale + unit + Decimal(repr(absolute))
    if abs(b - a) <= allowed:
        return None
    unit_text = f"{float(unit):g}" if is_float else "0 (integer)"
    return (f"stored {stored}, new {new}: they differ by {float(abs(b - a)):.3g}, more than the "
            f"{float(allowed):.3g} allowed (relative {relative} x {float(scale):g} + unit "
            f"{unit_text} + absolute {absolute})")


def _compare_words(x: str, y: str) -> tuple[str, int, int] | None:
    """None if two texts differ in whitespace only, else (both shown from a little before their
    first different word, that word's offset in x, in y)."""
    words_x, words_y = ([(m.group(), m.start()) for m in re.finditer(r"\S+", s)] + [("", len(s))]
                        for s in (x, y))
    first = next((i for i, (u, v) in enumerate(zip(words_x, words_y)) if u[0] != v[0]), None)
    if first is None:
        return None
    show = lambda words: repr(("... " if first > 2 else "")  # noqa: E731
                              + _cut(" ".join(w for w, _ in words[max(0, first - 2):]).strip()))
    return f"stored {show(words_x)}, new {show(words_y)}", words_x[first][1], words_y[first][1]


def compare_text(stored: str, new: str, relative: float, absolute: float = 0.0) -> str | None:
    """None if new matches stored (texts up to whitespace, numbers within tolerance), else why."""
    old, now = tokenize(stored), tokenize(new)
    if len(old) != len(now):
        # Show both where their structure parts: a kind or a text differs, or one ends.
        i = next((i for i, (x, y) in enumerate(zip(old, now)) if x[0] != y[0]
                  or (x[0] == "text" and _compare_words(x[1], y[1]))), min(len(old), len(now)))
        at_old = old[i][2] if i < len(old) else len(stored)
        at_new = now[i][2] if i < len(now) else len(new)
        return (f"stored has {len(old)} tokens (numbers and the text between them), new has "
                f"{len(now)}; they part at token {i + 1}:\n"
                f"  stored: {_excerpt(stored, at_old)}\n  new:    {_excerpt(new, at_new)}")
    for i, ((kind, x, at_x), (kind_new, y, at_y)) in enumerate(zip(old, now), 1):
        if kind != kind_new:
            why = f"stored {KINDS[kind]} {_cut(x)!r}, new {KINDS[kind_new]} {_cut(y)!r}"
        elif kind == "text":
            if (words := _compare_words(x, y)) is None:
                continue
            why, at_x, at_y = f"text differs: {words[0]}", at_x + words[1], at_y + words[2]
        elif (why := compare_number(x, y, relative, absolute)) is None:
            continue
        else:
            why = f"number differs beyond the tolerance: {why}"
        return (f"token {i}: {why}\n  stored: {_context(stored, at_x)}\n"
                f"  new:    {_context(new, at_y)}")
    return None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def cell_tolerance(metadata: dict, default: float, where: str) -> tuple[float, float]:
    """A cell's (relative, absolute) tolerance: the default, or its "tolerance" metadata's."""
    spec = metadata.get("tolerance")
    if spec is None:
        return default, 0.0

    def bad(problem: str) -> ToleranceError:
        return ToleranceError(
            f'{where}: invalid "tolerance" metadata {spec!r}: {problem}. Write "tolerance": '
            f'{{"relative": r, "why": "<why this cell needs more>"}} with {default} <= r <= '
            f'{MAX_RELATIVE}, optionally with "absolute": a >= 0')

    if not isinstance(spec, dict):
        raise bad("expected an object")
    if unknown := sorted(set(spec) - {"relative", "why", "absolute"}):
        raise bad(f"unknown keys {unknown}")
    relative = spec.get("relative")
    if not _is_number(relative) or not default <= relative <= MAX_RELATIVE:
        raise bad(f'"relative" is {relative!r}, expected a number from the default {default} '
                  f"({INI} in pytest.ini) to {MAX_RELATIVE}")
    why = spec.get("why")
    if not isinstance(why, str) or not why.strip():
        raise bad(f'"why" is {why!r}, expected a sentence saying why the default is not enough')
    absolute = spec.get("absolute", 0.0)
    if not _is_number(absolute) or absolute < 0:
        raise bad(f'"absolute" is {absolute!r}, expected a number >= 0')
    return float(relative), float(absolute)


def _by_key(cell: nbval.IPyNbCell, outputs: list, skip: tuple) -> dict[str, list]:
    """nbval's flattening: each compared key, with the sanitized values of the outputs having it."""
    def skipped(key: str) -> bool:
        return key in skip or (key.startswith("image/") and "image/png" in skip)

    by_key: dict[str, list] = defaultdict(list)
    for output in nbval.transform_streams_for_comparison(outputs):
        for key, value in output.items():
            if key == "data":
                data = {k: v for k, v in value.items() if not skipped(k)}
                if "text/html" in data:  # a DataFrame, whose plain text wraps with numbers' widths
                    data.pop("text/plain", None)
                for k, v in data.items():
                    by_key[k].append(cell.sanitize(v))
            elif not skipped(key):
                by_key[key].append(cell.sanitize(value))
    return by_key


def _show(values: list) -> list[str]:
    return [_cut(nbval._trim_base64(v) if isinstance(v, str) else repr(v), 500) for v in values]


def compare_outputs(self: nbval.IPyNbCell, test: list, ref: list,
                    skip_compare: tuple | None = None) -> bool:
    """nbval's IPyNbCell.compare_outputs, with numbers compared within the tolerance."""
    skip = skip_compare or self.parent.skip_compare
    default = self.config.stash[_DEFAULT]
    relative, absolute = cell_tolerance(self.cell.metadata, default, self.nodeid)
    stored, tested = _by_key(self, ref, skip), _by_key(self, test, skip)
    self.comparison_traceback = trace = []
    if missing := sorted(stored.keys() - tested.keys()):
        trace.append(f"Missing output fields from running code: {missing}")
        return False
    if unexpected := sorted(tested.keys() - stored.keys()):
        trace.append(f"Unexpected output fields from running code: {unexpected}")
        return False
    for key, old in stored.items():
        new = tested[key]
        if len(old) != len(new):
            trace += [f'dissimilar number of outputs for key "{key}": stored {len(old)}, new '
                      f"{len(new)}", "stored:", *_show(old), "new:", *_show(new)]
            return False
        for i, (x, y) in enumerate(zip(old, new), 1):
            if isinstance(x, str) and isinstance(y, str) and (key in _TEXT_KEYS
                                                              or key.startswith("text/")):
                why = compare_text(x, y, relative, absolute)
            else:
                why = None if x == y else f"stored {_cut(repr(x))}, new {_cut(repr(y))}"
            if why:
                trace.append(f"mismatch in '{key}' (output {i} of {len(old)}): {why}")
                return False
    return True


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI, "relative tolerance of the numbers in notebooks' stored outputs (a cell "
                       'may widen it with its metadata "tolerance")', default=None)


def pytest_configure(config: pytest.Config) -> None:
    raw = config.getini(INI)
    if raw is None:
        if config.option.nbval or config.option.nbval_lax:
            raise pytest.UsageError(f"nbval runs but {INI} is not set: add `{INI} = 0.02` (the "
                                    "relative tolerance of stored numbers) to pytest.ini")
        return
    try:
        default = float(raw)
    except ValueError:
        default = math.nan
    if not 0 <= default <= MAX_RELATIVE:
        raise pytest.UsageError(f"{INI} = {raw!r} in the ini file: expected a number from 0 to "
                                f"{MAX_RELATIVE}, such as 0.02")
    config.stash[_DEFAULT] = default
    nbval.IPyNbCell.compare_outputs = compare_outputs


def pytest_unconfigure(config: pytest.Config) -> None:
    nbval.IPyNbCell.compare_outputs = _NBVAL_COMPARE
