"""Sphinx extension: write each inline <script> once per page.

Sphinx 7.4 (the last that jupyter-book 1.x allows) registers an inline script added after the
builder starts twice, once as filename None and once as '', so sphinx-thebe's
`const THEBE_JS_URL = ...` is declared twice and the browser logs a SyntaxError on every page.
"""

from sphinx.application import Sphinx


def _once(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", script) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _once)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
