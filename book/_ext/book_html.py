"""Fixes to the built HTML, so the book reads offline, its pages log no errors, and an axe-core
audit (the browser test) finds no serious or critical accessibility violation.

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
- **Controls named by what they show** (WCAG 2.5.3, axe ``label-content-name-mismatch``). The
  theme's search field shows "Search Ctrl+K" but is labelled "Search" alone, and its colour-mode
  button holds three icons whose titles ("Light", "Dark", "System Settings") count as its text while
  it is labelled "Color mode"; myst-nb labels every hidden cell's summary "Toggle hidden content"
  while it shows "Show the solution's code". A speech-input user says what they see, so the search
  field and the summaries are named by their visible text (the label goes), and the colour-mode
  icons become decoration (no title, ``aria-hidden``): the button keeps its label and its
  "Color mode" tooltip. (Font Awesome turns an icon's title into an SVG title, which counts as the
  button's text even where the icon is ``aria-hidden``.)
- **A bibliography list of list items** (axe ``aria-required-children``, critical). docutils writes
  the citations as ``role="list"`` holding ``role="doc-biblioentry"`` entries, a role that ARIA 1.1
  deprecated and that a list may not contain; the entries become ``role="listitem"``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from sphinx.application import Sphinx
from sphinx.config import Config

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


#: pydata-sphinx-theme's header controls -> the same, accessibly named. Should a theme upgrade change
#: the markup, these no longer apply and the browser test's axe audit fails.
ACCESSIBLE_HEADER = [
    (re.compile(r'(<button class="btn search-button-field [^>]*?) aria-label="[^"]*"'), r"\1"),
    (re.compile(r'<i (class="theme-switch [^>]*?) title="[^"]*"'), r'<i aria-hidden="true" \1'),
]
HIDDEN_CELL_SUMMARY = '<summary aria-label="Toggle hidden content">'


def _citation_as_list_item(self, node) -> None:
    type(self).visit_citation(self, node)
    self.body[-1] = self.body[-1].replace('role="doc-biblioentry"', 'role="listitem"')


def _depart_citation(self, node) -> None:
    type(self).depart_citation(self, node)


def _accessible_node_visitors(app: Sphinx, config: Config) -> None:
    """Registered once every extension is set up, so that these visitors replace myst-nb's and
    docutils' own instead of being replaced by them."""
    from docutils import nodes
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput, visit_HideCellInput

    def visit_hidden_cell(self, node) -> None:
        start = len(self.body)
        visit_HideCellInput(self, node)
        self.body[start:] = [part.replace(HIDDEN_CELL_SUMMARY, "<summary>") for part in self.body[start:]]

    app.add_node(HideCodeCellNode, override=True, html=(visit_hidden_cell, depart_HideCellInput))
    app.add_node(nodes.citation, override=True, html=(_citation_as_list_item, _depart_citation))


def _accessible_header(app: Sphinx, exception: Optional[Exception]) -> None:
    """Rewrite the theme's header controls in every written page (the theme's templates hold them,
    outside the document that visitors write)."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = text
        for theme_markup, accessible in ACCESSIBLE_HEADER:
            fixed = theme_markup.sub(accessible, fixed)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _local_badges)
    app.connect("config-inited", _accessible_node_visitors)
    app.connect("build-finished", _accessible_header)
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _page_fixes, priority=10)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
