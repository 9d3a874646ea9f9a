"""The book builds with warnings treated as errors and reads offline (local MathJax)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings(tmp_path):
    assert (ROOT / "book/_static/mathjax/tex-chtml.js").is_file(), "MathJax is missing: run make setup"
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(tmp_path),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    index = (html / "index.html").read_text() if (html / "index.html").exists() else ""
    assert index, "no index.html"
    chapter = (html / "notebooks" / "02_gradcam.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in chapter
    assert "cdn.jsdelivr.net/npm/mathjax" not in chapter
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "Grad-CAM" in chapter and "Bibliography" in (html / "book" / "bibliography.html").read_text()
    shutil.rmtree(tmp_path / "_build", ignore_errors=True)
