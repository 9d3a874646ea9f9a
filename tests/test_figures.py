"""Every figure a chapter shows is a figure as a book has it: a numbered caption, a name the prose
can point at with {numref}, and an alternative text that says what it shows (myst-nb reads them
from the cell's ``mystnb.figure`` and ``mystnb.image`` metadata). Without them the built HTML
gives a screen reader the image's file path and the reader no number to follow.

Fast and offline: the stored notebooks are read, nothing is executed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
# A caption or alt text that is only a file name or path: what Sphinx shows when there is none.
_PATH = re.compile(r"^\S*([/\\]\S*|\.(png|jpe?g|svg|gif|webp))$", re.IGNORECASE)
# {numref}`name` and {numref}`text with %s <name>`
_NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?([^`<>]+?)>?`")


def _image_outputs(cell) -> int:
    return sum(1 for output in cell.get("outputs", []) if any(kind in output.get("data", {}) for kind in IMAGE_TYPES))


def _text_problem(what: str, value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"no {what}"
    if _PATH.match(value.strip()):
        return f"the {what} is a file path ({value.strip()!r}), not a description"
    return None


def figure_problems(notebook) -> list[str]:
    """What keeps the figures of a chapter from being captioned, named and described.

    A code cell with an image output needs ``mystnb.figure.caption``, ``mystnb.figure.name`` and
    ``mystnb.image.alt``, none of them empty or a file path, and exactly one image output: the
    figure metadata wraps every display output of the cell, so a second image would repeat the
    first one's caption and name.
    """
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        images = _image_outputs(cell)
        if not images:
            continue
        where = f"cell {index} ({cell.source.strip().splitlines()[0][:50]!r})" if cell.source.strip() else f"cell {index}"
        options = cell.metadata.get("mystnb", {})
        figure, image = options.get("figure", {}), options.get("image", {})
        for what, value in (("caption", figure.get("caption")), ("name", figure.get("name")),
                            ("alt text", image.get("alt"))):
            problem = _text_problem(what, value)
            if problem:
                problems.append(f"{where}: {problem}; set mystnb.figure.caption/name and mystnb.image.alt "
                                f"on the cell's `# %%` line")
        if images > 1:
            problems.append(f"{where}: {images} figures share one caption; draw one figure per cell "
                            f"(subplots, or split the cell)")
    return problems


def figure_names(notebook) -> list[str]:
    return [cell.metadata["mystnb"]["figure"]["name"] for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("mystnb", {}).get("figure", {}).get("name")]


def numref_targets(text: str) -> list[str]:
    return [target.strip() for target in _NUMREF.findall(text)]


@pytest.fixture(scope="module")
def chapters() -> dict[str, nbformat.NotebookNode]:
    return {path.name: nbformat.read(path, as_version=4) for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_a_caption_a_name_and_an_alt_text(path: Path):
    notebook = nbformat.read(path, as_version=4)
    assert any(_image_outputs(c) for c in notebook.cells if c.cell_type == "code"), (
        f"{path.name} shows no figure: its outputs are missing (run: make notebooks)")
    problems = figure_problems(notebook)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_figure_names_are_unique_in_the_book(chapters):
    seen: dict[str, str] = {}
    clashes = []
    for name, notebook in chapters.items():
        for figure in figure_names(notebook):
            if figure in seen:
                clashes.append(f"{figure} in {seen[figure]} and {name}")
            seen[figure] = name
    assert seen, "no chapter names a figure"
    assert not clashes, "figure names must be unique across the book (Sphinx labels are global): " + "; ".join(clashes)


def test_every_numref_in_the_book_points_at_a_named_figure(chapters):
    names = {figure for notebook in chapters.values() for figure in figure_names(notebook)}
    pages = {name: "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
             for name, notebook in chapters.items()}
    pages |= {str(path.relative_to(ROOT)): path.read_text() for path in sorted((ROOT / "book").glob("*.md"))}
    references = {page: numref_targets(text) for page, text in pages.items()}
    assert sum(len(targets) for targets in references.values()) > 0, "the prose refers to no figure by number"
    missing = [f"{page}: {target}" for page, targets in references.items() for target in targets if target not in names]
    assert not missing, "{numref} to a figure no chapter names:\n" + "\n".join(missing)


# The checks themselves, on planted chapters.

def _chapter_with(*cells) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=list(cells))


def _figure_cell(metadata: dict, figures: int = 1) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("plt.plot([1, 2])\nplt.show()", metadata=metadata)
    cell.outputs = [nbformat.v4.new_output("stream", text="drawn\n")] + [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
        for _ in range(figures)]
    return cell


_GOOD = {"mystnb": {"figure": {"caption": "A line rising from left to right.", "name": "fig-test-line"},
                    "image": {"alt": "Line chart with one straight line rising from the lower left to the upper right."}}}


def test_the_check_passes_a_described_figure_and_ignores_cells_without_one():
    text_only = nbformat.v4.new_code_cell("print(1)")
    text_only.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    assert figure_problems(_chapter_with(text_only, _figure_cell(_GOOD))) == []
    assert figure_names(_chapter_with(_figure_cell(_GOOD))) == ["fig-test-line"]


def test_the_check_names_a_figure_without_caption_name_or_alt_text(tmp_path):
    # Written to disk and read back, as the chapter test reads the stored notebooks.
    path = tmp_path / "planted.ipynb"
    nbformat.write(_chapter_with(_figure_cell({"tags": ["hide-cell"]})), path)
    problems = figure_problems(nbformat.read(path, as_version=4))
    assert len(problems) == 3
    assert [p.split(": ", 1)[1].split(";")[0] for p in problems] == ["no caption", "no name", "no alt text"]
    assert all(p.startswith("cell 0 ('plt.plot([1, 2])')") for p in problems)


@pytest.mark.parametrize("field, value, expected", [
    ("caption", "   ", "no caption"),
    ("alt", "", "no alt text"),
    ("alt", "../_images/a2f9c0d1.png", "the alt text is a file path ('../_images/a2f9c0d1.png'), not a description"),
    ("caption", "figure.PNG", "the caption is a file path ('figure.PNG'), not a description"),
    ("alt", r"C:\book\figure", "the alt text is a file path ('C:\\\\book\\\\figure'), not a description"),
])
def test_the_check_rejects_an_empty_or_path_like_caption_or_alt_text(field, value, expected):
    metadata = {"mystnb": {"figure": dict(_GOOD["mystnb"]["figure"]), "image": dict(_GOOD["mystnb"]["image"])}}
    (metadata["mystnb"]["figure"] if field == "caption" else metadata["mystnb"]["image"])[field] = value
    problems = figure_problems(_chapter_with(_figure_cell(metadata)))
    assert len(problems) == 1 and problems[0].split(": ", 1)[1].startswith(expected), problems


def test_the_check_rejects_two_figures_under_one_caption():
    problems = figure_problems(_chapter_with(_figure_cell(_GOOD, figures=2)))
    assert problems == ["cell 0 ('plt.plot([1, 2])'): 2 figures share one caption; draw one figure per cell "
                        "(subplots, or split the cell)"]


def test_numref_targets_are_read_with_and_without_an_explicit_title():
    text = ("As {numref}`fig-a` shows, and {numref}`Figures %s <fig-b>` to {numref}`%s <fig-c>`; "
            "not {ref}`fig-d` nor `fig-e`.")
    assert numref_targets(text) == ["fig-a", "fig-b", "fig-c"]
