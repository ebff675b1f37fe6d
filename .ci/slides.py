"""Turn a chapter into reveal.js slides: `bash .ci/slides book/NN-name.ipynb [--output DIR]`.

No cell needs marking by hand; a temporary copy of the notebook gets its slide types here:
- a markdown `#`/`##` heading starts a new slide, a `###` heading a sub-slide (markdown cells are
  split at their headings first, so "## Summary" mid-cell still starts a slide);
- every other cell is a fragment of the current slide while it fits (an estimate of its height in
  lines), else it starts a sub-slide (reveal.js's vertical stack under the slide); text ending
  in ":" stays with the code cell it introduces;
- skipped: "hide-input" cells (the Colab bootstrap and the exercise solutions), the solutions'
  `{dropdown}` text, and code cells without outputs (imports and set-up: nothing to show);
- a code cell with a figure shows the figure alone: the slide is about the picture, and the
  book has the code; other code cells show their (short) code and their output;
- MyST blocks that only the book renders become plain Markdown: `{literalinclude}` the included
  source (its `:pyobject:`), other directives a quote.
The HTML loads reveal.js, RequireJS and MathJax from their CDNs, so presenting needs the internet
(or a local reveal.js via --reveal-prefix).
"""

from __future__ import annotations

import argparse
import ast
import math
import re
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 18  # text lines that fit on a slide at the template's font size
FIGURE_LINES = 11  # what a figure takes of that
LINE_WIDTH = 90
HEADING = re.compile(r"^(#{1,3}) \S", re.M)
FENCE = re.compile(r"^```\{(?P<name>[\w-]+)\}(?P<args>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def python_object(path: Path, name: str) -> str:
    """The source of a (dotted) top-level function or class in a Python file."""
    text = path.read_text()
    nodes = ast.parse(text).body
    for part in name.split("."):
        node = next((n for n in nodes if getattr(n, "name", None) == part), None)
        if node is None:
            raise ValueError(f"literalinclude: no {name!r} in {path}; fix the chapter's :pyobject:")
        nodes = getattr(node, "body", [])
    return ast.get_source_segment(text, node)


def plain_markdown(text: str, folder: Path) -> str:
    """MyST directives the slides cannot render, as plain Markdown."""

    def replace(match: re.Match) -> str:
        name, args, body = match["name"], match["args"].strip(), match["body"]
        if name == "literalinclude":
            options = dict(re.findall(r"^:(\w+):\s*(.*)$", body, re.M))
            path = (folder / args).resolve()
            code = python_object(path, options["pyobject"]) if "pyobject" in options \
                else path.read_text()
            return f"```python\n{code.rstrip()}\n```"
        lines = [f"**{args or name.capitalize()}**", "",
                 *[line for line in body.splitlines() if not line.startswith(":")]]
        return "\n".join("> " + line if line else ">" for line in lines)

    return FENCE.sub(replace, text)


def split_at_headings(text: str) -> list[str]:
    """Markdown text cut before each heading, outside code fences."""
    pieces, current, fenced = [], [], False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if not fenced and HEADING.match(line) and any(s.strip() for s in current):
            pieces.append("\n".join(current).strip())
            current = []
        current.append(line)
    pieces.append("\n".join(current).strip())
    return [p for p in pieces if p]


def text_lines(text: str) -> int:
    return sum(max(1, math.ceil(len(line) / LINE_WIDTH)) for line in text.splitlines()
               if line.strip())


def height(cell) -> int:
    """A rough height of what the cell shows, in text lines."""
    if cell.cell_type == "markdown":
        return text_lines(cell.source) + 1
    lines = 0 if "remove_input" in cell.metadata.get("tags", []) else text_lines(cell.source)
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data or "image/svg+xml" in data:
            lines += FIGURE_LINES
        elif "text/html" in data:
            lines += max(2, data["text/html"].count("<tr"))
        else:
            lines += min(12, text_lines(out.get("text", "") or data.get("text/plain", "")))
    return lines + 1


def slide_cells(nb, folder: Path) -> list:
    """The cells to present, with their input hidden where only the figure matters."""
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            # Warnings on stderr are noise to an audience (the book's checks keep them out).
            cell.outputs = [o for o in cell.outputs if o.get("name") != "stderr"]
            if "hide-input" in tags or not cell.outputs:
                continue
            if any("image/png" in o.get("data", {}) for o in cell.outputs):
                cell.metadata["tags"] = [*tags, "remove_input"]
            cells.append(cell)
        elif cell.cell_type == "markdown":
            if cell.source.lstrip().startswith("```{dropdown}"):
                continue
            for piece in split_at_headings(plain_markdown(cell.source, folder)):
                cells.append(nbformat.v4.new_markdown_cell(piece))
    return cells


def mark_slides(cells: list) -> None:
    """Set each cell's slide type: headings open slides, the rest fill them or overflow."""
    used, carried = 0, False
    for i, cell in enumerate(cells):
        if carried:  # its introduction made room for it
            cell.metadata["slideshow"] = {"slide_type": "fragment"}
            carried = False
            continue
        lines = height(cell)
        heading = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        following = cells[i + 1] if i + 1 < len(cells) else None
        if cell.cell_type == "markdown" and cell.source.rstrip().endswith(":") \
                and following is not None and following.cell_type == "code":
            lines += height(following)  # text that introduces a cell goes where the cell goes
            carried = True
        if i == 0 or (heading and len(heading[1]) <= 2):
            kind, used = "slide", lines
        elif heading or used + lines > BUDGET:
            kind, used = "subslide", lines
        else:
            kind, used = "fragment", used + lines
        cell.metadata["slideshow"] = {"slide_type": kind}


def make_slides(notebook: Path, output: Path, reveal_prefix: str | None = None) -> Path:
    """Write OUTPUT/<chapter>.slides.html from a chapter; the chapter file is only read."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = slide_cells(nb, notebook.resolve().parent)
    mark_slides(nb.cells)
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.SlidesExporter.reveal_scroll = True  # an estimate can be wrong: never cut a slide off
    if reveal_prefix:
        config.SlidesExporter.reveal_url_prefix = reveal_prefix
    html, _ = SlidesExporter(config=config).from_notebook_node(nb)
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"{notebook.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path, help="chapters, e.g. book/09-summary.ipynb")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "slides",
                        help="folder for the .slides.html files (default: _build/slides)")
    parser.add_argument("--reveal-prefix", help="where reveal.js is (default: its CDN)")
    args = parser.parse_args()
    for notebook in args.notebooks:
        if notebook.suffix != ".ipynb" or not notebook.is_file():
            parser.error(f"notebooks: expected chapter files like book/03-reconstructions.ipynb, "
                         f"got {str(notebook)!r}, which is not an existing .ipynb file")
        print(make_slides(notebook, args.output, args.reveal_prefix))


if __name__ == "__main__":
    main()
