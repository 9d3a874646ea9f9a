"""Chapter conventions: jupytext pairs in sync, the TOC lists every chapter, the template is kept.

(The chapters themselves are re-executed and compared by nbval: `pytest notebooks --nbval`.)
"""

from __future__ import annotations

import re
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


CHAPTERS = ["01_filters_feature_maps", "02_gradcam", "03_pollen_cnn", "04_saliency", "05_guided_backprop",
            "06_smoothgrad", "07_integrated_gradients", "08_class_model_visualisation", "09_mc_dropout",
            "10_evaluation", "11_cifar_callbacks", "12_cifar_lime", "13_cifar_shap", "14_continual_learning",
            "15_choosing_a_method"]


def test_there_are_the_books_fifteen_chapters_in_order():
    assert [path.stem for path in NOTEBOOKS] == CHAPTERS
    assert [name for name in _toc_files() if name.startswith("notebooks/")] == [f"notebooks/{c}" for c in CHAPTERS]


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
    source = [line for line in markdown.splitlines() if line.startswith("| **Source** |")]
    assert len(source) == 1 and "{doc}`../book/sources`" in source[0], \
        f"{path.name}: the card names the study the chapter follows in one '| **Source** |' row linking the sources page"
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
import importlib.util, subprocess, sys  # noqa: E401 - the one cell that runs before the helpers exist
if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "xaihelpers[book] @ git+{_repository()}"], check=True)
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


_HEADING = re.compile(r"^### (Exercise (\d+)|Check your understanding)\s*$", re.MULTILINE)
_DROPDOWN = re.compile(r":::\{admonition\} (Answer|Solution to exercise (\d+))\n:class: dropdown[^\n]*\n(.*?)\n:::",
                       re.DOTALL)


def exercise_problems(notebook) -> list[str]:
    """What keeps a chapter's exercise section from giving every exercise a checked solution.

    The section (after ``## Exercises``) opens with ``### Check your understanding``: two or three
    questions, each answered in a dropdown admonition ``Answer``. Then every ``### Exercise N``
    (numbered 1, 2, ...) is followed, before the next exercise, by at least one executed code cell
    tagged ``hide-cell`` (hidden until clicked in the built book) and a dropdown admonition
    ``Solution to exercise N`` that answers in prose.
    """
    cells = notebook.cells
    start = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## Exercises" in c.source), None)
    if start is None:
        return ["no '## Exercises' section"]
    problems, section, exercise, seen = [], None, None, {}
    for cell in cells[start:]:
        if cell.cell_type == "code":
            if exercise is not None and "hide-cell" in cell.metadata.get("tags", []):
                seen[exercise]["code"] = seen[exercise]["code"] or bool(cell.outputs)
            continue
        text = cell.source
        # Walk the markdown in order: headings open a part, dropdowns answer the part they are in.
        events = sorted([(m.start(), "heading", m) for m in _HEADING.finditer(text)]
                        + [(m.start(), "dropdown", m) for m in _DROPDOWN.finditer(text)], key=lambda e: e[0])
        for _, kind, match in events:
            if kind == "heading":
                if match.group(2):
                    exercise, section = int(match.group(2)), "exercise"
                    if exercise in seen:
                        problems.append(f"exercise {exercise} appears twice")
                    seen[exercise] = {"code": False, "solution": False}
                else:
                    section, exercise = "check", None
                    seen.setdefault("answers", 0)
            elif match.group(1) == "Answer":
                if section != "check":
                    problems.append("an Answer dropdown outside 'Check your understanding'")
                elif len(match.group(3).strip()) < 40:
                    problems.append("a self-check answer is empty or a placeholder")
                else:
                    seen["answers"] += 1
            else:
                number = int(match.group(2))
                if number != exercise:
                    problems.append(f"'Solution to exercise {number}' stands under exercise {exercise}")
                elif len(match.group(3).strip()) < 80:
                    problems.append(f"the solution to exercise {number} is empty or a placeholder")
                else:
                    seen[number]["solution"] = True
    if not 2 <= seen.get("answers", 0) <= 3:
        problems.append(f"'Check your understanding' needs two or three answered questions, has {seen.get('answers', 0)}")
    numbers = sorted(n for n in seen if n != "answers")
    if not numbers:
        problems.append("no '### Exercise N' headings")
    elif numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"exercises are not numbered 1, 2, ...: {numbers}")
    for number in numbers:
        if not seen[number]["code"]:
            problems.append(f"exercise {number} has no executed solution code cell tagged hide-cell")
        if not seen[number]["solution"]:
            problems.append(f"exercise {number} has no 'Solution to exercise {number}' dropdown")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_worked_solution_and_the_chapter_has_self_check_questions(path: Path):
    problems = exercise_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems)


def _fake_chapter(*parts) -> nbformat.NotebookNode:
    cells = []
    for kind, text, *tags in parts:
        if kind == "md":
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)})
            cell.outputs = [nbformat.v4.new_output("stream", text="42\n")]
            cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


_ANSWER = ":::{admonition} Answer\n:class: dropdown\n" + "Because the answer explains itself at length. " * 2 + "\n:::\n"
_SOLUTION = (":::{{admonition}} Solution to exercise {n}\n:class: dropdown\n"
             + "The printed numbers show what the exercise asks, and this prose reads them. " * 2 + "\n:::\n")
_CHECK = "## Exercises\n\n### Check your understanding\n\n**1.** Q?\n\n" + _ANSWER + "\n**2.** Q?\n\n" + _ANSWER


def test_the_exercise_check_passes_a_complete_section_and_names_what_is_missing():
    complete = _fake_chapter(("md", _CHECK + "\n### Exercise 1\n\nDo it."), ("code", "print(42)", "hide-cell"),
                             ("md", _SOLUTION.format(n=1) + "\n### Exercise 2\n\nAgain."),
                             ("code", "print(42)", "hide-cell"), ("md", _SOLUTION.format(n=2)))
    assert exercise_problems(complete) == []
    no_solution = _fake_chapter(("md", _CHECK + "\n### Exercise 1\n\nDo it."), ("code", "print(42)", "hide-cell"))
    assert exercise_problems(no_solution) == ["exercise 1 has no 'Solution to exercise 1' dropdown"]
    shown_code = _fake_chapter(("md", _CHECK + "\n### Exercise 1\n\nDo it."), ("code", "print(42)"),
                               ("md", _SOLUTION.format(n=1)))
    assert exercise_problems(shown_code) == ["exercise 1 has no executed solution code cell tagged hide-cell"]
    placeholder = _fake_chapter(("md", _CHECK + "\n### Exercise 1\n\nDo it."), ("code", "print(42)", "hide-cell"),
                                ("md", ":::{admonition} Solution to exercise 1\n:class: dropdown\nSOL1\n:::"))
    assert exercise_problems(placeholder) == ["the solution to exercise 1 is empty or a placeholder",
                                              "exercise 1 has no 'Solution to exercise 1' dropdown"]
    one_question = _fake_chapter(("md", "## Exercises\n\n### Check your understanding\n\n" + _ANSWER
                                  + "\n### Exercise 1\n\nDo it."), ("code", "print(42)", "hide-cell"),
                                 ("md", _SOLUTION.format(n=1)))
    assert exercise_problems(one_question) == ["'Check your understanding' needs two or three answered questions, has 1"]


_TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<([^>`]+)>|([^`]+))`")


def _glossary_terms() -> set[str]:
    text = (ROOT / "book" / "glossary.md").read_text()
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return {line.strip().lower() for line in body.splitlines()
            if line.strip() and not line.startswith((" ", "\t", ":"))}


def test_every_term_reference_has_a_glossary_entry_and_every_entry_is_linked_from_its_first_use():
    """{term} roles resolve (Sphinx would warn), and no glossary entry is left without a link from the text."""
    terms = _glossary_terms()
    pages = [ROOT / f"{name}.ipynb" if name.startswith("notebooks/") else ROOT / f"{name}.md" for name in _toc_files()]
    used = {}
    for page in pages:
        if page.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.read(page, as_version=4).cells if c.cell_type == "markdown")
        else:
            text = page.read_text()
        for match in _TERM_ROLE.finditer(text):
            used.setdefault((match.group(1) or match.group(2)).strip().lower(), page.stem)
    assert set(used) - terms == set(), f"{{term}} references without a glossary entry: {sorted(set(used) - terms)}"
    assert terms - set(used) == set(), f"glossary entries that no page links to: {sorted(terms - set(used))}"


# Each chapter declares the chapters it builds on once, in its card's '| **Before** |' row; the
# course guide's paths are checked against those rows.
_BEFORE_ROW = re.compile(r"^\| \*\*Before\*\* \|(.*)\|\s*$", re.MULTILINE)
_CHAPTER_LINK = re.compile(r"\{doc\}`(?:[^`<]*<)?(?:\.\./notebooks/)?(\d\d_\w+)>?`")


def declared_prerequisites() -> dict[str, list[str]]:
    """Every chapter's prerequisite chapters, read from its card's one '| **Before** |' row."""
    declared = {}
    for path in NOTEBOOKS:
        markdown = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
        rows = _BEFORE_ROW.findall(markdown)
        assert len(rows) == 1, (f"{path.name}: the card declares the chapters it builds on in exactly one "
                                f"'| **Before** |' row (found {len(rows)})")
        declared[path.stem] = _CHAPTER_LINK.findall(rows[0])
    return declared


def guide_paths(text: str) -> dict[str, list[str]]:
    """The chapters of each '## Path' section of the course guide, in the order they are taken."""
    paths = {}
    for section in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, _, body = section.partition("\n")
        if title.startswith("Path"):
            order = []
            for stem in _CHAPTER_LINK.findall(body):
                if stem not in order:
                    order.append(stem)
            paths[title.strip()] = order
    return paths


def path_problems(paths: dict[str, list[str]], prerequisites: dict[str, list[str]]) -> list[str]:
    """Chapters a path takes before (or without) a chapter they build on."""
    problems = []
    for title, order in paths.items():
        for position, chapter in enumerate(order):
            for needed in prerequisites.get(chapter, []):
                if needed not in order[:position]:
                    problems.append(f"{title}: {chapter} builds on {needed}, which the path "
                                    f"{'takes later' if needed in order else 'leaves out'}")
    return problems


def test_every_chapter_builds_only_on_earlier_chapters():
    declared = declared_prerequisites()
    assert set(declared) == set(CHAPTERS)
    for chapter, needed in declared.items():
        assert all(name in CHAPTERS[:CHAPTERS.index(chapter)] for name in needed), \
            f"{chapter} declares {needed}; a chapter can only build on chapters before it"


def test_the_course_guides_paths_take_every_chapter_after_the_chapters_it_builds_on():
    paths = guide_paths((ROOT / "book" / "course_guide.md").read_text())
    assert list(paths) and all(len(order) >= 4 for order in paths.values()), f"paths not found: {paths}"
    assert path_problems(paths, declared_prerequisites()) == []


def test_the_path_check_names_a_missing_or_late_prerequisite():
    guide = ("## Path 1: lab\n| {doc}`../notebooks/05_guided_backprop` | {doc}`../notebooks/04_saliency` |\n"
             "## Path 2: day\n| {doc}`../notebooks/12_cifar_lime` |\n## Exercises\n{doc}`../notebooks/11_cifar_callbacks`\n")
    paths = guide_paths(guide)
    assert paths == {"Path 1: lab": ["05_guided_backprop", "04_saliency"], "Path 2: day": ["12_cifar_lime"]}
    problems = path_problems(paths, {"05_guided_backprop": ["04_saliency"], "12_cifar_lime": ["11_cifar_callbacks"]})
    assert problems == ["Path 1: lab: 05_guided_backprop builds on 04_saliency, which the path takes later",
                        "Path 2: day: 12_cifar_lime builds on 11_cifar_callbacks, which the path leaves out"]
