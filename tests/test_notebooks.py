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
    header = [c for c in notebook.cells if c.cell_type == "code"][1]  # after the bootstrap cell
    assert "seed_everything" in header.source and "device" in header.source
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert any(c.outputs for c in code), f"{path.name} has no stored outputs; run: make notebooks"
    assert not any(o.get("name") == "stderr" for c in code for o in c.outputs), (
        f"{path.name} has stderr in its stored outputs (progress bars or warnings)"
    )


def _repository() -> str:
    """The book's one repository address: ``repository.url`` in ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def bootstrap_cell(datasets: list[str]) -> str:
    """The bootstrap cell every chapter starts its code with; only the data sets differ."""
    names = ", ".join(f'"{name}"' for name in datasets)
    return f"""# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "xaihelpers[book] @ git+{_repository()}"], check=True)
from xaihelpers.fetch import ensure

ensure({names})"""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_starts_with_the_bootstrap_cell_and_badges_of_the_repository(path: Path):
    from xaihelpers import fetch

    notebook = nbformat.read(path, as_version=4)
    first_code = next(c for c in notebook.cells if c.cell_type == "code")
    called = first_code.source.rsplit("ensure(", 1)[-1].rstrip(")")
    datasets = [name.strip().strip('"') for name in called.split(",")]
    assert {name.split("/")[0] for name in datasets} <= set(fetch.NAMES), f"{path.name}: unknown data sets {datasets}"
    assert first_code.source == bootstrap_cell(datasets), (
        f"{path.name}: the bootstrap cell drifted from the template (tests/test_notebooks.py) or from the "
        f"repository address in _config.yml ({_repository()})")
    owner_and_name = _repository().removeprefix("https://github.com/")
    badges = notebook.cells[0].source
    assert (f"(https://colab.research.google.com/github/{owner_and_name}/blob/main/notebooks/{path.name})"
            in badges), f"{path.name}: Colab badge does not point at this chapter in {_repository()}"
    assert (f"(https://mybinder.org/v2/gh/{owner_and_name}/main?labpath=notebooks%2F{path.name})"
            in badges), f"{path.name}: Binder badge does not point at this chapter in {_repository()}"


def test_every_chapter_is_in_the_toc():
    listed = set(_toc_files())
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in listed, f"{path.name} is missing from _toc.yml"
