"""The slides command (.ci/slides): a chapter becomes a reveal.js deck without hand-marked cells,
which presents offline: a browser without network shows it from file://."""

import importlib.util
import os
import shutil
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
# A chapter with inline maths ($...$) on its slides, to see MathJax typeset it offline.
CHAPTER = ROOT / "book" / "07-interpolation.ipynb"


def skip_or_fail(reason: str):
    """Skip for want of a tool, except in CI (CI=true), where the test must run."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(reason + "; in CI this test must run, not skip")
    pytest.skip(reason)


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


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """The command's slides of CHAPTER, written into a scratch folder once: its HTML file.
    The first run anywhere installs the pinned npm packages (needs npm and the registry)."""
    output = tmp_path_factory.mktemp("slides")
    before = CHAPTER.read_bytes()
    result = subprocess.run([sys.executable, str(SCRIPT), str(CHAPTER), "--output", str(output)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    if result.returncode != 0 and "install Node.js with npm" in result.stderr:
        skip_or_fail("npm is needed once to install the slides' assets (bash .ci/test installs "
                     "Debian's npm when run as root)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert CHAPTER.read_bytes() == before  # only a copy was changed
    return output / f"{CHAPTER.stem}.slides.html"


@pytest.mark.book
def test_the_command_writes_a_reveal_deck_of_a_chapter_beside_its_assets(deck):
    html = deck.read_text()
    assert "reveal.js" in html and "Reveal.initialize" in html
    assert html.count("<section") > 3
    assert "google.colab" not in html  # the bootstrap cell is not presented
    # Everything it loads is in the folder, found by relative URLs: none leaves it.
    assert not [m.group(0) for m in slides.REMOTE.finditer(html)]
    for url in ("assets/reveal.js/dist/reveal.js", "assets/reveal.js/dist/theme/simple.css",
                "assets/requirejs/require.js", "assets/jquery/dist/jquery.min.js",
                "assets/mathjax/MathJax.js"):
        assert f'"{url}' in html and (deck.parent / url).is_file(), url


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory):
    """Headless Chromium (selenium) without network: every host name fails to resolve, every
    connection goes to a closed proxy port, and DevTools emulates being offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        skip_or_fail("Chromium not found: install Debian's packages chromium and chromium-driver "
                     "(bash .ci/test does so when run as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,800",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                 "--host-resolver-rules=MAP * ~NOTFOUND",
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.mark.book
def test_the_deck_presents_offline_with_its_maths_typeset(deck, offline_browser):
    """Opened from disk without network, reveal.js lays out the slides, MathJax typesets the
    chapter's maths and the theme's fonts load: all from the folder, or nothing would show."""
    browser = offline_browser
    browser.get(deck.as_uri())
    # reveal.js is a RequireJS module (the template's require call names it by its URL, the
    # stylesheet's beside it), not a global; wait for it to be ready, then for MathJax's queue.
    seen = browser.execute_async_script("""
        const done = arguments[arguments.length - 1], start = Date.now();
        const css = document.querySelector('link[href$="/dist/reveal.css"]');
        const id = css && css.getAttribute('href').replace(/reveal\\.css$/, 'reveal.js');
        (function wait() {
          const Reveal = window.require && require.defined(id) ? require(id) : null;
          if (Reveal && Reveal.isReady() && window.MathJax && MathJax.Hub) {
            MathJax.Hub.Queue(() => document.fonts.ready.then(() => done({
              ready: true,
              sections: document.querySelectorAll('.reveal .slides section').length,
              slides: Reveal.getTotalSlides(),
              horizontal: Reveal.getHorizontalSlides().length,
              maths: document.querySelectorAll('.MathJax_CHTML').length,
              errors: document.querySelectorAll('.MathJax_CHTML .mjx-merror').length,
              loaded: [...document.scripts].map(s => s.src)
                .concat([...document.styleSheets].map(s => s.href)).filter(Boolean),
              fonts: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family),
            })));
          } else if (Date.now() - start > 20000) {
            done({ready: false, reveal: !!Reveal, mathjax: !!window.MathJax});
          } else {
            setTimeout(wait, 100);
          }
        })();
    """)
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert seen["ready"], f"reveal.js did not start offline: {seen}, console errors {errors}"
    assert seen["sections"] > 1 and seen["slides"] > 1 and seen["horizontal"] > 1, seen
    assert seen["maths"] > 0 and not seen["errors"], f"maths not typeset: {seen}"
    outside = [url for url in seen["loaded"] if not url.startswith(deck.parent.as_uri() + "/")]
    assert not outside, f"loaded from outside the slides' folder: {outside}"
    # The theme's fonts and MathJax's web fonts (the names ending in "w"), from the folder.
    assert {"News Cycle", "Lato"} <= set(seen["fonts"]), seen["fonts"]
    assert any(f.startswith("MJXc-TeX-") and f.endswith("w") for f in seen["fonts"]), seen["fonts"]
    assert not errors, f"console errors: {errors}"


def test_the_command_names_a_bad_argument(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "book/nope.ipynb"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0 and "not an existing .ipynb file" in result.stderr
