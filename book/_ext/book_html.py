"""Two fixes to the built HTML, so the book reads offline and its pages log no errors.

- **Badges from the book itself.** Each chapter's first cell shows the Colab and Binder launch
  badges as images from colab.research.google.com and mybinder.org, which is right where the
  notebook is read (GitHub, Jupyter, Colab). In the built book those addresses would show two
  broken images at the top of every chapter offline, so while Sphinx reads a page the badge
  images are pointed at the copies in ``book/figures/badges/`` (the links still open Colab and
  Binder).
- **One thebe configuration per page.** In a Jupyter Book 1 build, sphinx-thebe's inline
  configuration script (``const THEBE_JS_URL = ...``) ends up twice in every page, and the browser
  logs "Identifier 'THEBE_JS_URL' has already been declared". Identical scripts are kept once.
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
    attributes = getattr(script, "attributes", {}) or {}
    return str(getattr(script, "filename", script)), attributes.get("body"), tuple(sorted(attributes.items()))


def _unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _local_badges)
    app.connect("html-page-context", _unique_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
