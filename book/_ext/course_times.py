"""The measured run time of each chapter, in the course guide: numbers from ``make bench``.

``python scripts/run_notebooks.py --store-times notebooks/*.ipynb`` (``make bench
STORE_TIMES=1``) measures every chapter, exercises and solutions included, and stores the table
``xaihelpers/measured/chapter_times.csv`` with the machine it ran on beside it
(``chapter_times.json``). The course guide never types a time in; it asks for them:

- ``{chapter-time}`06_smoothgrad``` -> the chapter's run time, e.g. "41 s";
- ``{chapters-time}`02_gradcam 04_saliency``` -> the total of several chapters, e.g. "1.2 min";
- the directive ``{chapter-times}`` -> a table of every chapter: title, exercises, run time, peak
  memory, and the machine line.

A chapter that the table does not list is a build error (the book builds with warnings as errors),
so a new chapter cannot appear in the guide before it was measured.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
TIMES = ROOT / "xaihelpers" / "measured" / "chapter_times.csv"
MACHINE = TIMES.with_suffix(".json")
NOTEBOOKS = ROOT / "notebooks"


def read_times(path: Path = TIMES) -> dict[str, dict[str, float]]:
    """Chapter stem -> {"seconds", "peak_mib"} from the stored benchmark table."""
    with path.open(newline="") as handle:
        return {row["chapter"]: {"seconds": float(row["seconds"]), "peak_mib": float(row["peak_mib"])}
                for row in csv.DictReader(handle)}


def format_seconds(seconds: float) -> str:
    """Seconds as a reader reads a run time: "41 s" below 90 s, else "2.5 min"."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def chapter_title(stem: str) -> str:
    """The first heading of a chapter notebook (its title in the book)."""
    notebook = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    first = "".join(notebook["cells"][0]["source"])
    return first.splitlines()[0].lstrip("# ").strip()


def exercise_count(stem: str) -> int:
    notebook = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    return len(re.findall(r"^### Exercise \d+\s*$", text, re.MULTILINE))


def _lookup(stems: list[str], lineno: int, inliner) -> tuple[float | None, list]:
    times = read_times()
    unknown = [stem for stem in stems if stem not in times]
    if unknown:
        message = inliner.reporter.error(
            f"{', '.join(unknown)}: not in {TIMES.relative_to(ROOT)}; measure the chapters with "
            f"`make bench STORE_TIMES=1`", line=lineno)
        return None, [message]
    return sum(times[stem]["seconds"] for stem in stems), []


def chapter_time_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    seconds, messages = _lookup([text.strip()], lineno, inliner)
    if seconds is None:
        return [inliner.problematic(rawtext, rawtext, messages[0])], messages
    return [nodes.inline(rawtext, format_seconds(seconds), classes=["chapter-time"])], []


def chapters_time_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    seconds, messages = _lookup(text.split(), lineno, inliner)
    if seconds is None:
        return [inliner.problematic(rawtext, rawtext, messages[0])], messages
    return [nodes.inline(rawtext, format_seconds(seconds), classes=["chapter-time"])], []


def reference_sentence(reference: dict | None) -> str:
    """The stored reference workload in words: machines that report the same CPU differ in speed,
    and ``make bench`` prints the same workload's time on the reader's machine."""
    if not reference:
        return ""
    spread = ""
    if "imagenet_ms_range" in reference:
        before, after = reference["imagenet_ms_range"]
        spread = f" (the mean of {before:.0f} ms before the chapters and {after:.0f} ms after them)"
    return (f" On that machine one forward and backward pass of {reference['imagenet_model']} on 2 images took"
            f" {reference['imagenet_ms']:.0f} ms{spread} and one of the pollen CNN on 32 images"
            f" {reference['pollen_ms']:.1f} ms;"
            " make bench times the same passes on yours, to compare.")


class ChapterTimes(Directive):
    """A table of every measured chapter and the machine it was measured on."""

    has_content = False

    def run(self):
        times = read_times()
        machine = json.loads(MACHINE.read_text()) if MACHINE.is_file() else {}
        header = ["chapter", "exercises", "run time", "peak memory"]
        rows = [[chapter_title(stem), str(exercise_count(stem)), format_seconds(t["seconds"]),
                 f"{t['peak_mib']:.0f} MiB"] for stem, t in times.items()]
        rows.append(["all chapters", str(sum(int(r[1]) for r in rows)),
                     format_seconds(sum(t["seconds"] for t in times.values())),
                     f"{max(t['peak_mib'] for t in times.values()):.0f} MiB (largest)"])
        table = nodes.table(classes=["chapter-times"])
        group = nodes.tgroup(cols=len(header))
        table += group
        for _ in header:
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += self._row(header)
        body = nodes.tbody()
        group += body
        for row in rows:
            body += self._row(row)
        caption = nodes.paragraph()
        caption += nodes.Text("Measured by ")
        caption += nodes.literal(text="make bench STORE_TIMES=1")
        caption += nodes.Text(f" on {machine.get('machine', 'an unnamed machine')} ({machine.get('date', 'date not recorded')}),"
                              " each chapter executed from a fresh kernel with its exercises and solutions."
                              + reference_sentence(machine.get("reference")))
        return [table, caption]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for text in cells:
            entry = nodes.entry()
            entry += nodes.paragraph(text=text)
            row += entry
        return row


def setup(app: Sphinx) -> dict:
    app.add_role("chapter-time", chapter_time_role)
    app.add_role("chapters-time", chapters_time_role)
    app.add_directive("chapter-times", ChapterTimes)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1.0"}
