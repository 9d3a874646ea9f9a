"""Claims the prose makes, bound to the computation that carries them.

A chapter's text states numbers ("frozen layers alone forget 0.063") and comparisons ("replay
forgets least"). Each is bound in a claim cell next to the computation, which fails the chapter
(and so ``pytest --nbval``) the moment a re-execution no longer supports the sentence::

    from xaihelpers import claims

    claims.number("0.063", forgetting["frozen"])            # the prose prints it at 3 decimals
    claims.number("12.5", share, scale=100)                 # "12.5 %"
    claims.holds("replay forgets least", forgetting["replay"] < min(others))
    claims.apart("IG deletes faster than the random map", intervals.paired_interval(random, ig))
    claims.tied("sigma 0.02 and 0.05 cannot be told apart", intervals.paired_interval(a, b))
    claims.setting("0.3", dropout)                          # a setting the text names
    claims.quoted("0.78", "kirkpatrick2017overcoming")      # a number quoted from a cited source

The markdown keeps plain numbers, so a chapter reads the same in Jupyter, Colab, Binder and the
built book; the claim cells carry the ``remove-cell`` tag, so the book does not show them, and
print nothing, so nbval compares nothing in them.

:func:`scan` reads a chapter and lists every decimal number of its markdown that no claim binds
(and every bound number its markdown no longer contains); ``tests/test_claims.py`` runs it on every
chapter, and ``python -m xaihelpers.claims notebooks/*.ipynb`` prints the same report.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from xaihelpers.intervals import Interval, side

#: The claim functions whose first argument is the number as the prose prints it.
BINDING_KINDS = ("number", "setting", "quoted")
#: The claim functions that check a statement rather than a number.
STATEMENT_KINDS = ("holds", "apart", "tied")

_MINUS = "-\u2212"


class ClaimError(AssertionError):
    """A sentence of the chapter no longer matches what its cells compute."""


def _decimals(text: str) -> int:
    body = text.lstrip(_MINUS + "+")
    return len(body.split(".", 1)[1]) if "." in body else 0


def formatted_like(text: str, value: float, scale: float = 1.0) -> str:
    """``value * scale`` printed as ``text`` is printed: the same decimals, thousands commas if
    ``text`` has them, a minus sign only for a negative value that does not round to 0."""
    body = text.lstrip(_MINUS + "+")
    if not re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?|\d+(\.\d+)?", body):
        raise ValueError(f"'{text}' is not a number as the prose prints it (digits, an optional decimal point, "
                         "optional thousands commas, an optional leading minus).")
    shown = format(float(value) * scale, f"{',' if ',' in body else ''}.{_decimals(text)}f")
    if shown.startswith("-") and float(shown.replace(",", "")) == 0:
        shown = shown[1:]
    return shown


def number(text: str, value, *, scale: float = 1.0, what: str = "") -> None:
    """Check that the prose's ``text`` is ``value`` (times ``scale``: 100 for a percentage) at
    the precision ``text`` is printed with.

    Args:
        text: The number exactly as the markdown prints it, e.g. ``"0.047"``, ``"1,576"``,
            ``"-0.19"`` (a leading minus is checked; without one, a negative value fails).
        value: What the cells computed (a float, or a one-element tensor or array).
        scale: Multiplies ``value`` before formatting.
        what: What the number is, for the error message.

    Raises:
        ClaimError: If the computation, printed like ``text``, reads otherwise.
    """
    value = float(value)
    shown = formatted_like(text, value, scale)
    expected = text.replace("\u2212", "-").lstrip("+")
    if shown != expected:
        about = f" ({what})" if what else ""
        raise ClaimError(f"The prose says {text}{about}, but the computation gives {shown} ({value * scale!r}). "
                         "Re-read the sentence that states it and update the text, or the computation.")


def setting(text: str, value=None, *, scale: float = 1.0, what: str = "a setting") -> None:
    """Mark ``text`` as a setting the prose names (a chosen value, not a result); with ``value``,
    check it as :func:`number` does."""
    if value is not None:
        number(text, value, scale=scale, what=what)


def quoted(text: str, source: str) -> None:
    """Mark ``text`` as a number quoted from a cited source (``source``: its key in
    ``book/references.bib``), not computed by the chapter."""
    if not source or not isinstance(source, str):
        raise ValueError(f"quoted('{text}', ...) needs the citation key of the source it quotes.")


def holds(statement: str, condition) -> None:
    """Check a comparative or causal sentence: ``condition`` is what makes it true.

    Raises:
        ClaimError: If ``condition`` is false.
    """
    if not bool(condition):
        raise ClaimError(f"The prose claims '{statement}', which no longer holds for what the cells computed. "
                         "Re-read the sentence and say what the numbers show.")


def apart(statement: str, interval: Interval, *, direction: int = 1, digits: Optional[int] = None) -> None:
    """Check a sentence that says A beats B: the paired interval of ``A - B``
    (:func:`xaihelpers.intervals.paired_interval`) lies above 0 (``direction=1``) or below it
    (``direction=-1``); with ``digits``, decided on the ends as printed
    (:func:`xaihelpers.intervals.side`), as the chapter's printed verdict is.

    Raises:
        ClaimError: If the interval touches 0 or lies on the other side.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction is 1 (A - B above 0) or -1 (below 0), got {direction}.")
    if side(interval, digits) != direction:
        raise ClaimError(f"The prose claims '{statement}', but the paired interval of the difference is "
                         f"{interval.format()} over N = {interval.n} images, which does not lie "
                         f"{'above' if direction == 1 else 'below'} 0: say that they cannot be told apart.")


def tied(statement: str, interval: Interval, *, digits: Optional[int] = None) -> None:
    """Check a sentence that says A and B cannot be told apart: their paired interval holds 0
    (with ``digits``, as printed: an end that rounds to 0 touches it).

    Raises:
        ClaimError: If the interval excludes 0 (one of them is now ahead).
    """
    if side(interval, digits) != 0:
        raise ClaimError(f"The prose claims '{statement}', but the paired interval of the difference, "
                         f"{interval.format()} over N = {interval.n} images, excludes 0: say which is ahead.")


# --- the scanner --------------------------------------------------------------------------------

#: A decimal number in prose: not part of a longer dotted token (a version, an address) or a word.
DECIMAL = re.compile(r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)\.\d+(?!\w|\.\d|,\d)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+\1", re.S)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_ROLE = re.compile(r"\{(?:cite|cite:p|cite:t|numref|ref|doc|eq|download|term)\}`[^`]*`")
_HTML_TAG = re.compile(r"<[^>]+>")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_DIRECTIVE_OPTION = re.compile(r"^:[\w-]+:.*$", re.M)


def prose_numbers(markdown: str) -> list[str]:
    """The decimal numbers a markdown cell states, in order (code, link targets, roles, HTML tags
    and directive options left out: they are not prose)."""
    for pattern in (_FENCE, _ROLE, _CODE_SPAN, _LINK_TARGET, _HTML_TAG, _DIRECTIVE_OPTION):
        markdown = pattern.sub(" ", markdown)
    return DECIMAL.findall(markdown)


@dataclass
class Binding:
    """One claim call found in a code cell."""

    kind: str
    text: Optional[str]  # the number's text for a binding kind, else None
    cell: int


def claim_calls(source: str, cell: int = 0) -> list[Binding]:
    """The ``claims.<kind>(...)`` calls of a code cell's source (magics ignored)."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "claims"
                and node.func.attr in BINDING_KINDS + STATEMENT_KINDS):
            text = None
            if node.func.attr in BINDING_KINDS and node.args and isinstance(node.args[0], ast.Constant):
                text = str(node.args[0].value)
            found.append(Binding(node.func.attr, text, cell))
    return found


def _unsigned(text: str) -> str:
    return text.lstrip(_MINUS + "+")


@dataclass
class Report:
    """What :func:`scan` finds in one chapter."""

    path: Path
    numbers: Counter = field(default_factory=Counter)  # decimal text -> occurrences in the markdown
    bindings: list[Binding] = field(default_factory=list)

    @property
    def bound(self) -> set[str]:
        return {_unsigned(b.text) for b in self.bindings if b.text is not None}

    @property
    def unbound(self) -> list[str]:
        """Decimal numbers of the markdown that no claim binds (each distinct text once)."""
        return sorted(text for text in self.numbers if text not in self.bound)

    @property
    def stale(self) -> list[str]:
        """Bound numbers that no longer appear in the markdown (a sentence changed, its claim did not)."""
        return sorted(text for text in self.bound if text not in self.numbers and DECIMAL.fullmatch(text))

    def counts(self) -> dict[str, int]:
        """Claim calls by kind."""
        return dict(Counter(b.kind for b in self.bindings))

    def __str__(self) -> str:
        lines = [f"{self.path}: {sum(self.numbers.values())} decimal numbers in the prose, "
                 f"{len(self.numbers) - len(self.unbound)} of {len(self.numbers)} distinct ones bound; claims {self.counts()}"]
        if self.unbound:
            lines.append(f"  unbound: {', '.join(self.unbound)}")
        if self.stale:
            lines.append(f"  bound but no longer in the prose: {', '.join(self.stale)}")
        return "\n".join(lines)


def scan(notebook: Path) -> Report:
    """Every decimal number of a chapter's markdown, and every claim of its code cells.

    Raises:
        FileNotFoundError: If ``notebook`` does not exist.
        ValueError: If it is not a Jupyter notebook (``.ipynb``).
    """
    notebook = Path(notebook)
    if notebook.suffix != ".ipynb":
        raise ValueError(f"{notebook} is not a notebook; scan the .ipynb (jupytext --sync writes it from the .py).")
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    report = Report(notebook)
    for index, cell in enumerate(cells):
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            report.numbers.update(prose_numbers(source))
        elif cell["cell_type"] == "code":
            report.bindings.extend(claim_calls(source, index))
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.claims",
                                     description="List the decimal numbers of chapters' prose that no claim binds.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    reports = [scan(path) for path in args.notebooks]
    for report in reports:
        print(report)
    return 1 if any(r.unbound or r.stale for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
