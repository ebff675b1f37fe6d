"""The slides command (.ci/slides): a chapter becomes a reveal.js deck without hand-marked cells."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "slides.py"
_spec = importlib.util.spec_from_file_location("slides", SCRIPT)
slides = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slides)

PNG = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}


def notebook() -> nbformat.NotebookNode:
    v4 = nbformat.v4
    figure = v4.new_code_cell("plots.image_grid(x)", outputs=[
        v4.new_output("display_data", data=PNG)])
    table = v4.new_code_cell("df.round(3)", outputs=[
        v4.new_output("execute_result", data={"text/plain": "a  1"}, execution_count=3)])
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("# Title\n\nOverview."),
        v4.new_code_cell("import sys  # bootstrap", metadata={"tags": ["hide-input"]}),
        v4.new_code_cell("import genlab"),  # no outputs: set-up
        v4.new_markdown_cell("## First\n\nText."),
        figure,
        table,
        v4.new_markdown_cell("More text.\n\n## Summary\n\n- a point"),
        v4.new_markdown_cell("```{dropdown} Solution 1\nThe answer.\n```"),
        v4.new_code_cell("solution()", metadata={"tags": ["hide-input"]},
                         outputs=[v4.new_output("stream", name="stdout", text="42\n")]),
    ])


def test_headings_open_slides_and_set_up_and_solutions_are_left_out(tmp_path):
    cells = slides.slide_cells(notebook(), tmp_path)
    slides.mark_slides(cells)
    kinds = [(c.cell_type, c.metadata["slideshow"]["slide_type"], c.source.split("\n")[0])
             for c in cells]
    assert kinds == [
        ("markdown", "slide", "# Title"),
        ("markdown", "slide", "## First"),
        ("code", "fragment", "plots.image_grid(x)"),
        ("code", "fragment", "df.round(3)"),
        ("markdown", "subslide", "More text."),  # the slide is full with its figure
        ("markdown", "slide", "## Summary"),  # split out of the cell above
    ]
    figure, table = cells[2], cells[3]
    assert "remove_input" in figure.metadata["tags"]  # the figure alone
    assert "remove_input" not in table.metadata.get("tags", [])


def test_a_full_slide_overflows_into_a_subslide(tmp_path):
    nb = notebook()
    nb.cells.insert(5, nbformat.from_dict(dict(nb.cells[4])))  # two more figures in "First":
    nb.cells.insert(5, nbformat.from_dict(dict(nb.cells[4])))  # one figure per slide fits
    cells = slides.slide_cells(nb, tmp_path)
    slides.mark_slides(cells)
    assert [c.metadata["slideshow"]["slide_type"] for c in cells[1:5]] == \
        ["slide", "fragment", "subslide", "subslide"]


def test_text_that_introduces_a_cell_moves_with_it(tmp_path):
    nb = notebook()
    nb.cells[3].source = "## First\n\n" + "A long paragraph.\n" * 4 + "\nThe figure:"
    nb.cells.insert(5, nbformat.from_dict(dict(nb.cells[4])))  # a second figure, introduced
    nb.cells.insert(5, nbformat.v4.new_markdown_cell("And another:"))
    cells = slides.slide_cells(nb, tmp_path)
    slides.mark_slides(cells)
    kinds = [(c.metadata["slideshow"]["slide_type"], c.source.split("\n")[0]) for c in cells]
    # The first figure stays with "The figure:" although together they overflow the budget;
    # "And another:" does not fit beside it, so it opens a sub-slide and takes its figure along.
    assert kinds[1:6] == [("slide", "## First"), ("fragment", "plots.image_grid(x)"),
                          ("subslide", "And another:"), ("fragment", "plots.image_grid(x)"),
                          ("fragment", "df.round(3)")]


def test_literalinclude_becomes_the_included_source(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mod.py").write_text("X = 1\n\n\ndef f(a):\n    return a + X\n")
    text = "See:\n\n```{literalinclude} ../lib/mod.py\n:pyobject: f\n```\n"
    folder = tmp_path / "book"
    assert slides.plain_markdown(text, folder) == \
        "See:\n\n```python\ndef f(a):\n    return a + X\n```\n"
    with pytest.raises(ValueError, match="no 'g'"):
        slides.plain_markdown(text.replace(": f", ": g"), folder)


def test_the_command_writes_a_reveal_deck_of_a_chapter(tmp_path):
    chapter = ROOT / "book" / "03-reconstructions.ipynb"
    before = chapter.read_bytes()
    result = subprocess.run([sys.executable, str(SCRIPT), str(chapter), "--output", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tmp_path / "03-reconstructions.slides.html").read_text()
    assert "reveal.js" in html and "Reveal.initialize" in html
    assert html.count("<section") > 3
    assert "google.colab" not in html  # the bootstrap cell is not presented
    assert chapter.read_bytes() == before  # only a copy was changed


def test_the_command_names_a_bad_argument(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "book/nope.ipynb"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0 and "not an existing .ipynb file" in result.stderr
