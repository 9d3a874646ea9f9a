"""The book builds with warnings treated as errors, reads offline, and every page works in a real
browser: images decode, formulas are typeset by the local MathJax, internal links resolve, the
console stays free of errors, and an axe-core audit finds no serious or critical accessibility
violation."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    assert (ROOT / "book/_static/mathjax/tex-chtml.js").is_file(), "MathJax is missing: run make setup"
    output = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(output),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    yield output / "_build" / "html"
    shutil.rmtree(output / "_build", ignore_errors=True)


def _pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def test_book_builds_without_warnings_and_reads_offline(built_book):
    html = built_book
    assert (html / "index.html").read_text(), "no index.html"
    chapter = (html / "notebooks" / "02_gradcam.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in chapter
    assert "cdn.jsdelivr.net/npm/mathjax" not in chapter
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "Grad-CAM" in chapter and "Bibliography" in (html / "book" / "bibliography.html").read_text()
    for page in _pages(html):
        text = page.read_text()
        for remote in ("colab.research.google.com/assets/colab-badge.svg", "mybinder.org/badge_logo.svg"):
            assert remote not in text, f"{page.name} shows the badge {remote} from the network"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text())
    return parser


def test_every_internal_link_resolves(built_book):
    parsed = {page: _parse(page) for page in _pages(built_book)}
    broken = []
    for page, links in parsed.items():
        for href in links.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(built_book)}: {href} (no file)")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(built_book)}: {href} (no anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


_IMAGES_DECODE = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(i => { i.loading = 'eager'; });
Promise.all(images.map(i => i.decode().then(() => null, () => i.currentSrc || i.src)))
  .then(failed => done({count: images.length, failed: failed.filter(x => x)}));
"""

_MATH_TYPESET = """
const done = arguments[arguments.length - 1];
const report = () => {
  const math = Array.from(document.querySelectorAll('.math'));
  done({
    math: math.length,
    untypeset: math.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),
    errors: document.querySelectorAll('mjx-merror').length,
    mathjax: Array.from(document.scripts).map(s => s.src).filter(s => s.includes('mathjax')),
  });
};
if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
  MathJax.startup.promise.then(report, report);
} else {
  report();
}
"""


#: The impacts a page may not have (axe-core's scale: minor, moderate, serious, critical).
AXE_FORBIDDEN_IMPACTS = ("serious", "critical")

_AXE_AUDIT = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  result => done({version: axe.version, violations: result.violations.map(v => ({
    rule: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help, first: v.nodes[0].target.join(' ')}))}),
  error => done({version: axe.version, error: String(error)}));
"""


def _axe_core() -> tuple[str, str]:
    """The pinned axe-core (the Makefile's AXE_VERSION, fetched by `make setup`): version, source."""
    version = re.search(r"^AXE_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1)
    path = ROOT / ".cache" / f"axe-core-{version}" / "axe.min.js"
    assert path.is_file(), f"axe-core {version} is missing ({path.relative_to(ROOT)}): run make setup"
    return version, path.read_text()


def _axe_problems(browser, name: str, axe: tuple[str, str]) -> list[str]:
    """Audit the loaded page: one line per serious or critical violation, with its node count."""
    version, source = axe
    browser.execute_script(source)
    audit = browser.execute_async_script(_AXE_AUDIT)
    if audit["version"] != version or "error" in audit:
        return [f"{name}: axe-core {audit['version']} (pinned {version}) failed: {audit.get('error')}"]
    return [f"{name}: axe {v['impact']} {v['rule']}, {v['nodes']} node(s): {v['help']} (first: {v['first']})"
            for v in audit["violations"] if v["impact"] in AXE_FORBIDDEN_IMPACTS]


def test_the_accessibility_audit_reports_what_the_theme_and_docutils_wrote(tmp_path):
    """The audit below can fail: pydata-sphinx-theme's search field and docutils' citation list as
    they are written without the book's fixes (book/_ext/book_html.py) are reported."""
    from browser import chrome

    page = tmp_path / "unfixed.html"
    page.write_text(
        '<!DOCTYPE html><html lang="en"><head><title>unfixed</title></head><body><main>'
        '<button class="btn search-button-field" title="Search" aria-label="Search">'
        '<span>Search</span> <span><kbd>Ctrl</kbd>+<kbd>K</kbd></span></button>'
        '<div role="list" class="citation-list"><div class="citation" id="a" role="doc-biblioentry">'
        '<p>An entry.</p></div></div></main></body></html>')
    browser = chrome()
    try:
        browser.get(page.as_uri())
        problems = _axe_problems(browser, page.name, _axe_core())
    finally:
        browser.quit()
    assert len(problems) == 2, problems
    assert "serious label-content-name-mismatch, 1 node(s)" in problems[0] + problems[1]
    assert "critical aria-required-children, 1 node(s)" in problems[0] + problems[1]


def test_every_page_in_a_real_browser(built_book):
    from browser import chrome

    axe = _axe_core()
    browser = chrome()
    browser.set_script_timeout(60)
    problems, typeset_pages = [], 0
    try:
        for page in _pages(built_book):
            name = str(page.relative_to(built_book))
            browser.get_log("browser")  # drop what the previous page left
            browser.get(page.as_uri())
            images = browser.execute_async_script(_IMAGES_DECODE)
            problems += [f"{name}: image does not decode: {src}" for src in images["failed"]]
            math = browser.execute_async_script(_MATH_TYPESET)
            if math["math"]:
                typeset_pages += 1
                problems += [f"{name}: formula not typeset: {text!r}" for text in math["untypeset"]]
                if math["errors"]:
                    problems.append(f"{name}: {math['errors']} MathJax error(s)")
                if not math["mathjax"] or any("_static/mathjax/" not in src for src in math["mathjax"]):
                    problems.append(f"{name}: MathJax is not the book's local copy: {math['mathjax']}")
            time.sleep(0.2)  # let late console messages arrive
            problems += [f"{name}: console {entry['level']}: {entry['message']}"
                         for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
            problems += _axe_problems(browser, name, axe)
    finally:
        browser.quit()
    assert typeset_pages >= 3, "expected formulas on several chapters"
    assert not problems, "\n".join(problems[:40])


_SOLUTION_STATE = """
const title = Array.from(document.querySelectorAll('.admonition.dropdown > .admonition-title'))
  .find(t => t.textContent.trim().startsWith(arguments[0]));
if (!title) { return null; }
const box = title.parentElement;
const body = Array.from(box.children).filter(c => !c.classList.contains('admonition-title'));
const code = Array.from(document.querySelectorAll('details.hide'));
// Rendered (not inside a closed <details>), not visibility:hidden or transparent (togglebutton's
// hiding), and with a height.
const visible = e => e.checkVisibility({visibilityProperty: true, opacityProperty: true})
  && e.getBoundingClientRect().height > 0;
return {
  bodyVisible: body.some(visible),
  hiddenCodeCells: code.length,
  firstCodeOpen: code.length ? code[0].open : null,
  firstCodeInputVisible: code.length ? visible(code[0].querySelector('.cell_input')) : null,
};
"""


def test_solutions_are_hidden_until_a_reader_clicks_them(built_book):
    from browser import chrome
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = chrome()
    try:
        browser.get((built_book / "notebooks" / "02_gradcam.html").as_uri())
        # Waited for (up to 15 s), not read once: in one full run of the tests the dropdown was not
        # found on a page that has it, and the test passed alone. If it fails, the message says what
        # the browser had loaded.
        try:
            before = WebDriverWait(browser, 15).until(
                lambda driver: driver.execute_script(_SOLUTION_STATE, "Solution to exercise 1"))
        except TimeoutException:
            before = None
        assert before is not None, (
            "chapter 2 shows no 'Solution to exercise 1' dropdown (page "
            f"{browser.current_url}, title {browser.title!r}, "
            f"document {browser.execute_script('return document.readyState')})")
        assert not before["bodyVisible"], "the solution's prose is visible before a click"
        assert before["hiddenCodeCells"] >= 4, "the solutions' code cells are not hidden (tag hide-cell)"
        assert before["firstCodeOpen"] is False and not before["firstCodeInputVisible"], "solution code shown before a click"
        answer = browser.execute_script(_SOLUTION_STATE, "Answer")
        assert answer is not None and not answer["bodyVisible"], "a self-check answer is visible before a click"
        titles = [t for t in browser.find_elements(By.CSS_SELECTOR, ".admonition.dropdown > .admonition-title")
                  if t.text.strip().startswith("Solution to exercise 1")]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", titles[0])
        titles[0].click()
        summary = browser.find_elements(By.CSS_SELECTOR, "details.hide > summary")[0]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", summary)
        summary.click()
        time.sleep(0.8)  # the toggle's transition (0.3 s)
        after = browser.execute_script(_SOLUTION_STATE, "Solution to exercise 1")
        assert after["bodyVisible"], "the solution's prose stays hidden after a click on its title"
        assert after["firstCodeOpen"] and after["firstCodeInputVisible"], "the solution code stays hidden after a click"
    finally:
        browser.quit()
