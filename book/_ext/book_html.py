"""Three fixes to the built HTML, so the book reads offline and its pages log no errors.

- **Badges from the book itself.** Each chapter's first cell shows the Colab and Binder launch
  badges as images from colab.research.google.com and mybinder.org, which is right where the
  notebook is read (GitHub, Jupyter, Colab). In the built book those addresses would show two
  broken images at the top of every chapter offline, so while Sphinx reads a page the badge
  images are pointed at the copies in ``book/figures/badges/`` (the links still open Colab and
  Binder).
- **One thebe configuration per page.** In a Jupyter Book 1 build, sphinx-thebe's inline
  configuration script (``const THEBE_JS_URL = ...``) ends up twice in every page, and the browser
  logs "Identifier 'THEBE_JS_URL' has already been declared". Identical scripts are kept once.
- **A valid colour mode.** With none configured, pydata-sphinx-theme logs "Got invalid theme mode"
  as an error on the first page a reader opens; the mode is set to its own default, ``auto``.
"""

from __future__ import annotations

from sphinx.application import Sphinx

#: Remote badge image -> the book's own copy (a path from the source root, as MyST reads "/...").
BADGES = {
    "https://colab.research.google.com/assets/colab-badge.svg": "/book/figures/badges/colab-badge.svg",
    "https://mybinder.org/badge_logo.svg": "/book/figures/badges/binder-badge.svg",
}


def _local_badges(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    for remote, local in BADGES.items():
        text = text.replace(f"({remote})", f"({local})")
    source[0] = text


def _script_key(script) -> tuple:
    # The copies differ only in how "no file" is spelled (None or ""), which Sphinx's own
    # de-duplication does not see through.
    attributes = getattr(script, "attributes", {}) or {}
    return str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items()))


def _page_fixes(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep the first of identical scripts (same file, or same inline body and attributes), and
    give the page a valid colour mode."""
    if not context.get("default_mode"):
        # pydata-sphinx-theme's layout reads this template variable; empty, its script logs
        # "Got invalid theme mode" as a console error on the first page a reader opens.
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: handlers after this one (MathJax) add to the same list


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _local_badges)
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _page_fixes, priority=10)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
