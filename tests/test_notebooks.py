"""Chapter conventions: jupytext pairs in sync, the TOC lists every chapter, the template is kept.

(The chapters themselves are re-executed and compared by nbval: `pytest notebooks --nbval`.)
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_script_are_in_sync(path: Path):
    script = path.with_suffix(".py")
    assert script.is_file(), f"{path.name} has no paired script; run: make sync"
    notebook = jupytext.read(path)
    assert jupytext.writes(notebook, fmt="py:percent") == script.read_text(), (
        f"{path.name} and {script.name} differ; run: make sync"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_follows_the_template(path: Path):
    notebook = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert "colab.research.google.com" in notebook.cells[0].source
    assert "mybinder.org" in notebook.cells[0].source
    for question in ("**Why**", "**Who**", "**What**", "**How**", "**When**", "**Where**"):
        assert question in markdown, f"{path.name}: Hohman card lacks {question}"
    assert "## Summary" in markdown and "## Exercises" in markdown
    first_code = next(c for c in notebook.cells if c.cell_type == "code")
    assert "seed_everything" in first_code.source and "device" in first_code.source
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), f"{path.name} has no stored outputs; run: make notebooks"
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs), (
        f"{path.name} has stderr in its stored outputs (progress bars or warnings)"
    )


def test_every_chapter_is_in_the_toc():
    listed = set(_toc_files())
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in listed, f"{path.name} is missing from _toc.yml"
