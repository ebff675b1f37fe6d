"""The book as a whole: its table of contents, chapter conventions, and the HTML build."""

import json
import re
from pathlib import Path

import pytest
import yaml

from stored_outputs import cell_tolerance

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
# The chapters are notebooks; other pages of the TOC (the generated book/benchmarks.md) are not.
CHAPTERS = [entry["file"] for entry in TOC["chapters"]
            if not (ROOT / f"{entry['file']}.md").exists()]
NOTEBOOKS = sorted(p.relative_to(ROOT).with_suffix("").as_posix()
                   for p in (ROOT / "book").glob("*.ipynb"))


def cells(chapter: str) -> list[dict]:
    return json.loads((ROOT / f"{chapter}.ipynb").read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_every_notebook_is_a_chapter_and_every_chapter_exists():
    assert sorted(CHAPTERS) == NOTEBOOKS
    assert (ROOT / f"{TOC['root']}.md").exists()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_opens_with_a_title_then_the_colab_bootstrap(chapter):
    first, second = cells(chapter)[:2]
    assert first["cell_type"] == "markdown" and re.match(r"# \S", source(first))
    url = CONFIG["repository"]["url"]
    branch = CONFIG["repository"]["branch"]
    assert second["cell_type"] == "code"
    assert 'if "google.colab" in sys.modules:' in source(second)
    installs = re.findall(r'pip install -q "git\+(\S+)@(\S+)#subdirectory=lib"', source(second))
    assert installs == [(url, branch)], f"{chapter} installs genlab from {installs}, not {url}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_opens_with_a_colab_badge_for_itself(chapter):
    """A link that survives a move away from Jupyter Book's launch buttons: the chapter itself, in
    the repository written once in _config.yml, with a badge image that loads offline."""
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    link = (f"https://colab.research.google.com/github/{repo}/blob/"
            f"{CONFIG['repository']['branch']}/{chapter}.ipynb")
    badges = re.findall(r"\[!\[Open in Colab\]\(([^)]+)\)\]\(([^)]+)\)", source(cells(chapter)[0]))
    assert badges == [("colab-badge.svg", link)], f"{chapter}: badges {badges}, expected {link}"
    assert (ROOT / "book" / "colab-badge.svg").is_file()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_states_its_measured_time_alone_from_scratch(chapter):
    """The first cell's "**Time:** about N minutes" covers the benchmark's measurement of the
    chapter alone on an empty cache (benchmarks/results.json), rounded up by at most 90 s."""
    stated = re.findall(r"\*\*Time:\*\* about (\d+) minutes? from scratch on two CPU cores",
                        source(cells(chapter)[0]))
    assert len(stated) == 1, f"{chapter}: its first cell states no '**Time:** about N minutes'"
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    [seconds] = [r["seconds"] for r in results["chapters_alone"] if r["chapter"] == chapter]
    assert seconds <= int(stated[0]) * 60 <= seconds + 90, (
        f"{chapter}: states about {stated[0]} min, measured {seconds:.0f} s alone from scratch: "
        "state the measured time, rounded up to the minute")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_is_stored_executed_in_order_and_quiet(chapter):
    code = [c for c in cells(chapter) if c["cell_type"] == "code" and source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert None not in counts and counts == sorted(counts), "re-execute the chapter in order"
    for cell in code:
        for out in cell["outputs"]:
            assert out.get("name") != "stderr", f"stderr stored in {chapter}: {out['text']!r}"
            assert out["output_type"] != "error"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_widened_tolerance_is_valid_and_says_why(chapter, pytestconfig):
    """A cell may widen the stored-output check's tolerance (see tests/stored_outputs.py), never
    switch it off: its metadata is checked here even where no output is compared."""
    default = float(pytestconfig.getini("stored_outputs_tolerance"))
    for index, cell in enumerate(cells(chapter)):
        relative, _ = cell_tolerance(cell.get("metadata", {}), default, f"{chapter} cell {index}")
        assert default <= relative <= 0.5


@pytest.mark.book
def test_html_build_has_every_chapter_with_a_colab_button(book_html):
    """The README's build, warnings as errors (the session's one build, see conftest.py)."""
    html = book_html
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    for chapter in CHAPTERS:
        page = (html / f"{chapter}.html").read_text()
        colab = (f"https://colab.research.google.com/github/{repo}/blob/"
                 f"{CONFIG['repository']['branch']}/{chapter}.ipynb")
        assert colab in page, f"no Colab button to {colab} on {chapter}.html"
        assert re.search(r"<img [^>]*src=\"[./]*_images/", page), f"no figure on {chapter}.html"
    # index.html only redirects to the landing page.
    assert f"url={TOC['root']}.html" in (html / "index.html").read_text()
    assert CONFIG["title"] in (html / f"{TOC['root']}.html").read_text()


# "Kingma and Welling 2014", "Heusel et al. 2017", "Meehan et al. (2020)": a citation in prose.
CITATION = re.compile(r"\b([A-Z][\w'’-]+)(?: et al\.| and [A-Z][\w'’-]+),? \(?((?:19|20)\d\d)\)?")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_citation_is_listed_in_the_references(chapter):
    references = (ROOT / "book" / "references.md").read_text()
    entries = [line for line in references.splitlines() if line.startswith("- ")]
    prose = "\n".join(source(c) for c in cells(chapter) if c["cell_type"] == "markdown")
    for author, year in CITATION.findall(prose):
        assert any(line.startswith(f"- {author},") and f"({year})" in line for line in entries), (
            f"{chapter} cites {author} {year}: add it to book/references.md")


# One class session: at most about 2 000 words of prose a student reads in order; folded sections
# (dropdowns: solutions, secondary tables) are read on demand and do not count.
CLASS_SESSION_WORDS = 2000
WORD = re.compile(r"\b\w[\w'’-]*\b")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_can_be_taught_in_one_class_session(chapter):
    prose = [source(c) for c in cells(chapter) if c["cell_type"] == "markdown"]
    words = sum(len(WORD.findall(text)) for text in prose if "{dropdown}" not in text)
    assert words <= CLASS_SESSION_WORDS, (
        f"{chapter}: {words} words of prose outside folded sections, more than one class session "
        f"({CLASS_SESSION_WORDS}); trim it, or fold secondary material into dropdowns")
