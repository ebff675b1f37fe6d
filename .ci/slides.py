"""Chapters as reveal.js slides: `bash .ci/slides book/NN-name.ipynb [--output DIR] [--cdn]`.

No cell needs marking by hand; a temporary copy of the notebook gets its slide types here:
- a markdown `#`/`##` heading starts a new slide, a `###` heading a sub-slide (markdown cells are
  split at their headings first, so "## Summary" mid-cell still starts a slide);
- every other cell is a fragment of the current slide while it fits (an estimate of its height in
  lines), else it starts a sub-slide (reveal.js's vertical stack under the slide); text ending
  in ":" stays with the code cell it introduces;
- skipped: "hide-input" cells (the Colab bootstrap and the exercise solutions), the solutions'
  `{dropdown}` text, the "Open in Colab" badge, and code cells without outputs (imports and
  set-up: nothing to show);
- a code cell with a figure shows the figure alone: the slide is about the picture, and the
  book has the code; other code cells show their (short) code and their output;
- MyST blocks that only the book renders become plain Markdown: `{literalinclude}` the included
  source (its `:pyobject:`), other directives a quote.

The slides present offline: OUTPUT/<chapter>.slides.html loads, by relative URLs only, what it
needs from OUTPUT/assets/ (reveal.js with its "simple" theme and that theme's fonts, RequireJS,
jQuery, MathJax 2), which is copied there from npm packages pinned in
.ci/slides-assets/package-lock.json. `npm ci` installs them once into ~/.cache/genlab-slides
(XDG_CACHE_HOME honoured), which needs npm and the registry; later runs need neither. Copy the
whole OUTPUT folder to present elsewhere. With --cdn the file alone is written instead, loading
the same versions from the jsDelivr CDN and the fonts from Google: no npm, but presenting needs
the internet.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import SlidesExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
PINS = ROOT / ".ci" / "slides-assets"  # package.json and package-lock.json: the exact versions
NPM_PACKAGES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genlab-slides"
CDN = "https://cdn.jsdelivr.net/npm"  # serves every npm package's files, for --cdn
THEME = "simple"  # nbconvert's default reveal.js theme
# What the slides load: folder in OUTPUT/assets -> (npm package, its files and folders copied).
# Each keeps its package's layout, so that the same paths work on the CDN.
ASSETS = {
    "reveal.js": ("reveal.js", ["LICENSE", "dist/reveal.js", "dist/reveal.css",
                                f"dist/theme/{THEME}.css", "plugin/notes/notes.js"]),
    "requirejs": ("requirejs", ["require.js"]),  # its licence is in its header
    "jquery": ("jquery", ["LICENSE.txt", "dist/jquery.min.js"]),
    # MathJax 2, which the template's script drives (MathJax.Hub), configured as nbconvert does:
    # TeX input, CommonHTML output with the TeX web fonts; every extension, since TeX macros
    # load theirs on demand. Its menu's SVG and HTML-CSS renderers (17 MB) are left out.
    "mathjax": ("mathjax", ["LICENSE", "MathJax.js", "config/TeX-AMS_CHTML-full.js",
                            "config/Safe.js", "extensions", "jax/input", "jax/element",
                            "jax/output/CommonHTML", "jax/output/PreviewHTML",
                            "jax/output/NativeMML", "fonts/HTML-CSS/TeX/woff", "localization/en"]),
    "fonts/lato": ("@fontsource/lato", ["LICENSE", "files", "400.css", "700.css",
                                         "400-italic.css", "700-italic.css"]),
    "fonts/news-cycle": ("@fontsource/news-cycle", ["LICENSE", "files", "400.css", "700.css"]),
}
# The theme imports its web fonts from Google; offline, their copies above replace them.
THEME_FONTS = {
    "https://fonts.googleapis.com/css?family=News+Cycle:400,700":
        ["news-cycle/400.css", "news-cycle/700.css"],
    "https://fonts.googleapis.com/css?family=Lato:400,700,400italic,700italic":
        ["lato/400.css", "lato/700.css", "lato/400-italic.css", "lato/700-italic.css"],
}
# nbconvert's reveal template without what no chapter uses and a CDN would serve: Mermaid (an ES
# module, which a browser refuses from file:// anyway) and the Jupyter widgets' manager.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
"""
# A URL that leaves the folder: in a tag that loads it, in an ES import, or in CSS.
REMOTE = re.compile(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']((?:https?:)?//[^"']*)"""
                    r"""|\bfrom\s+["']((?:https?:)?//[^"']*)|url\(\s*["']?((?:https?:)?//[^)"']*)""")
BUDGET = 18  # text lines that fit on a slide at the template's font size
FIGURE_LINES = 11  # what a figure takes of that
LINE_WIDTH = 90
HEADING = re.compile(r"^(#{1,3}) \S", re.M)
BADGE = re.compile(r"^\[!\[Open in Colab\]\([^)]*\)\]\([^)]*\)\n?", re.MULTILINE)
FENCE = re.compile(r"^```\{(?P<name>[\w-]+)\}(?P<args>[^\n]*)\n(?P<body>.*?)^```[ \t]*$",
                   re.M | re.S)


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
            # The "Open in Colab" badge is for a reader of the notebook, not for an audience.
            text = BADGE.sub("", cell.source)
            for piece in split_at_headings(plain_markdown(text, folder)):
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


def npm_packages() -> Path:
    """node_modules holding the pinned packages: `npm ci` installs them into NPM_PACKAGES the
    first time, and again only when the pins change."""
    pins = [PINS / "package.json", PINS / "package-lock.json"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in pins)).hexdigest()
    stamp = NPM_PACKAGES / ".installed"
    if stamp.is_file() and stamp.read_text() == digest and (NPM_PACKAGES / "node_modules").is_dir():
        return NPM_PACKAGES / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "The slides bring their own reveal.js, RequireJS, jQuery and MathJax, which npm "
            "installs once (the versions in .ci/slides-assets/package-lock.json): install "
            "Node.js with npm (Debian or Ubuntu: apt-get install npm; elsewhere see "
            "https://nodejs.org), then run this again. Or pass --cdn for a single file that "
            "loads them from the internet when presented.")
    NPM_PACKAGES.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for path in pins:
        shutil.copyfile(path, NPM_PACKAGES / path.name)
    print(f"Installing the slides' reveal.js, RequireJS, jQuery and MathJax (npm ci) into "
          f"{NPM_PACKAGES} ...", file=sys.stderr)
    result = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                            cwd=NPM_PACKAGES, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed in {NPM_PACKAGES} (it needs the npm registry the "
                           f"first time):\n{(result.stdout + result.stderr)[-3000:]}")
    stamp.write_text(digest)
    return NPM_PACKAGES / "node_modules"


def copy_assets(output: Path) -> Path:
    """OUTPUT/assets: what the slides load, copied from the npm packages, with the theme's web
    fonts replaced by their copies. Copied again only when the pins or ASSETS change."""
    target = output / "assets"
    stamp = target / ".slides-assets"
    digest = hashlib.sha256((PINS / "package-lock.json").read_bytes()
                            + repr((ASSETS, THEME_FONTS)).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return target
    if target.exists() and not stamp.is_file():
        raise RuntimeError(f"{target} exists and was not written by .ci/slides: move it away "
                           f"or choose another --output")
    modules = npm_packages()
    shutil.rmtree(target, ignore_errors=True)
    for folder, (package, paths) in ASSETS.items():
        for path in paths:
            source, copy = modules / package / path, target / folder / path
            if not source.exists():
                raise RuntimeError(f"{path} is not in the npm package {package} (pinned in "
                                   f".ci/slides-assets): update ASSETS in .ci/slides.py")
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                shutil.copyfile(source, copy)
    theme = target / "reveal.js" / "dist" / "theme" / f"{THEME}.css"
    css = theme.read_text()
    for url, files in THEME_FONTS.items():
        line = f"@import url({url});"
        if line not in css:
            raise RuntimeError(f"the theme {THEME} no longer imports {url}: update THEME_FONTS "
                               f"in .ci/slides.py")
        css = css.replace(line, "\n".join(f"@import url(../../../fonts/{f});" for f in files))
    theme.write_text(css)
    for sheet in target.rglob("*.css"):
        if remote := [next(filter(None, m.groups())) for m in REMOTE.finditer(sheet.read_text())]:
            raise RuntimeError(f"{sheet} loads {remote} from the internet")
    stamp.write_text(digest)
    return target


def asset_urls(cdn: bool) -> dict[str, str]:
    """The SlidesExporter's settings that say where each asset is: OUTPUT/assets, or the CDN."""
    locked = json.loads((PINS / "package-lock.json").read_text())["packages"]

    def base(folder: str) -> str:
        package = ASSETS[folder][0]
        version = locked[f"node_modules/{package}"]["version"]
        return f"{CDN}/{package}@{version}" if cdn else f"assets/{folder}"

    return {"reveal_url_prefix": base("reveal.js"),
            "require_js_url": f"{base('requirejs')}/require.js",
            "jquery_url": f"{base('jquery')}/dist/jquery.min.js",
            # The template's MathJax configuration, as nbconvert loads it from its CDN.
            "mathjax_url": f"{base('mathjax')}/MathJax.js?config=TeX-AMS_CHTML-full,Safe"}


def make_slides(notebook: Path, output: Path, cdn: bool = False) -> Path:
    """Write OUTPUT/<chapter>.slides.html from a chapter (and OUTPUT/assets unless cdn); the
    chapter file is only read."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells = slide_cells(nb, notebook.resolve().parent)
    mark_slides(nb.cells)
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    config.SlidesExporter.exclude_input_prompt = True
    config.SlidesExporter.exclude_output_prompt = True
    config.SlidesExporter.reveal_scroll = True  # an estimate can be wrong: never cut a slide off
    config.SlidesExporter.reveal_theme = THEME
    for name, url in asset_urls(cdn).items():
        setattr(config.SlidesExporter, name, url)
    exporter = SlidesExporter(config=config, template_file="genlab-slides.html.j2",
                              extra_loaders=[DictLoader({"genlab-slides.html.j2": TEMPLATE})])
    html, _ = exporter.from_notebook_node(nb)
    if not cdn:
        if remote := [next(filter(None, m.groups())) for m in REMOTE.finditer(html)]:
            raise RuntimeError(f"the slides would load {remote} from the internet: give "
                               f"SlidesExporter a local copy in .ci/slides.py")
        copy_assets(output)
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"{notebook.stem}.slides.html"
    target.write_text(html, encoding="utf-8")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path,
                        help="chapters, e.g. book/10-summary.ipynb")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "slides",
                        help="folder for the .slides.html files and the assets/ they load "
                             "(default: _build/slides)")
    parser.add_argument("--cdn", action="store_true",
                        help="write the .slides.html file alone, loading reveal.js, RequireJS, "
                             "jQuery, MathJax and fonts from the internet (no npm needed)")
    args = parser.parse_args()
    for notebook in args.notebooks:
        if notebook.suffix != ".ipynb" or not notebook.is_file():
            parser.error(f"notebooks: expected chapter files like book/03-reconstructions.ipynb, "
                         f"got {str(notebook)!r}, which is not an existing .ipynb file")
    try:
        for notebook in args.notebooks:
            print(make_slides(notebook, args.output, args.cdn))
    except RuntimeError as error:
        sys.exit(f"slides: {error}")


if __name__ == "__main__":
    main()
