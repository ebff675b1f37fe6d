"""The built site as a reader's browser sees it: headless Chromium on a local HTTP server.

Needs Debian's `chromium` and `chromium-driver` (`bash .ci/setup` installs them when run as
root). Without them the tests skip, except in CI (CI=true), where they fail.
"""

import functools
import http.server
import json
import os
import re
import shutil
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"], *(entry["file"] for entry in TOC["chapters"])]
# The chapters are the notebooks, with a Colab button; other pages are Markdown.
CHAPTERS = [page for page in PAGES if (ROOT / f"{page}.ipynb").exists()]
REPO = CONFIG["repository"]["url"].removeprefix("https://github.com/")
BRANCH = CONFIG["repository"]["branch"]
HOST = "127.0.0.1"

pytestmark = pytest.mark.book


def page_title(page: str) -> str:
    """The page's first `# ` heading, as Sphinx writes it in <title> (markup removed)."""
    path = ROOT / f"{page}.ipynb"
    if path.exists():
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{page}.md").read_text()
    heading = re.search(r"^# (.+)$", text, re.M).group(1)
    return re.sub(r"[*_`]", "", heading).strip()


@pytest.fixture(scope="module")
def site(book_html):
    """The session's HTML build served on a free port of 127.0.0.1; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(book_html))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven through chromedriver (selenium), with a fresh profile."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        reason = ("Chromium not found: install Debian's packages chromium and chromium-driver "
                  "(bash .ci/setup does so when run as root)")
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(reason + "; in CI the browser test must run, not skip")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                 # Every host but ours fails at once: the test never waits on, or reaches, the
                 # internet (the CDN scripts just fail to load, as they do offline).
                 f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {HOST}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(browser, url: str) -> list[dict]:
    """Load url, wait for its images, and return the console errors that our own pages made."""
    browser.get(url)
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([...document.images].map(img => img.complete ? null :
            new Promise(r => { img.onload = img.onerror = r; }))).then(() => done());
    """)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    # Errors about external resources (the CDN's MathJax, web fonts, ...) are not ours: they
    # cannot load offline. Such a message starts with the resource's URL; any other host than
    # our server's is external. Nor is the browser's own request for /favicon.ico, which no
    # page makes. Everything else, URL-less messages included, is ours.
    ours = []
    for error in errors:
        url = re.match(r"(https?://\S+)", error["message"])
        where = urlsplit(url.group(1)) if url else None
        if where is None or (where.hostname == HOST and where.path != "/favicon.ico"):
            ours.append(error)
    return ours


def page_path(url: str) -> str:
    """The TOC name of a page URL: '/book/02-training.html#x' -> 'book/02-training'."""
    return urlsplit(url).path.lstrip("/").removesuffix(".html")


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_with_its_title_images_and_colab_link_and_no_errors(browser, site, page):
    url = urljoin(site, f"{page}.html")
    with urllib.request.urlopen(url) as response:
        assert response.status == 200
    errors = open_page(browser, url)
    assert page_title(page) in browser.title, f"{page}: title {browser.title!r}"

    images = browser.execute_script(
        "return [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth]);")
    broken = [src for src, width in images if not width]
    assert not broken, f"{page}: images that did not load: {broken}"

    colab = {a.get_attribute("href") for a in browser.find_elements(
        "css selector", 'a[href^="https://colab.research.google.com/"]')}
    if page in CHAPTERS:
        expected = f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{page}.ipynb"
        assert colab == {expected}, f"{page}: Colab links {colab}, expected {expected}"

    assert not errors, f"{page}: console errors {[e['message'] for e in errors]}"


def test_navigation_reaches_every_chapter(browser, site):
    """From the landing page, the sidebar lists every chapter, and "next" walks them in order."""
    from selenium.webdriver.support.ui import WebDriverWait

    def arrive(previous: str) -> str:
        WebDriverWait(browser, 15).until(lambda d: d.current_url != previous and d.execute_script(
            "return document.readyState") == "complete")
        return browser.current_url

    open_page(browser, site)
    arrive(site)  # index.html redirects to the root page
    assert page_path(browser.current_url) == TOC["root"]
    sidebar = [page_path(a.get_attribute("href")) for a in
               browser.find_elements("css selector", "nav.bd-docs-nav a.reference.internal")]
    assert [p for p in sidebar if p in PAGES[1:]] == PAGES[1:], f"sidebar links: {sidebar}"

    visited = [page_path(browser.current_url)]
    for _ in range(len(PAGES)):
        links = browser.find_elements("css selector", "a.right-next")
        if not links:
            break
        here = browser.current_url
        links[0].click()  # as a reader would (selenium scrolls it into view first)
        visited.append(page_path(arrive(here)))
    assert visited == PAGES, f"following 'next' visited {visited}"
