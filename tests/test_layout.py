"""The package's layout: every module in one layer, imports only downwards, no cycle, one index.

The import graph is read from the source (every ``import`` statement, also inside functions and
under ``TYPE_CHECKING``: a lazy import is still a dependency), independently of the modules' own
claims, and checked against :data:`xaihelpers.LAYERS`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import xaihelpers

PACKAGE = Path(xaihelpers.__file__).parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
LAYER_OF = {module: rank for rank, modules in enumerate(xaihelpers.LAYERS.values()) for module in modules}


def imported_modules(source: str, known: set[str]) -> set[str]:
    """The package's modules that ``source`` imports, by any of the import forms."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("xaihelpers.")}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1 and not module:
                found |= {alias.name for alias in node.names}
            elif node.level == 1 or module.startswith("xaihelpers."):
                found.add(module.split(".")[-1] if node.level == 1 else module.split(".")[1])
            elif module == "xaihelpers":
                found |= {alias.name for alias in node.names if alias.name in known}
    return found & known


def import_graph() -> dict[str, set[str]]:
    known = set(MODULES)
    return {module: imported_modules((PACKAGE / f"{module}.py").read_text(), known) - {module} for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle that a depth-first search meets, each as the path that closes it."""
    found, state, path = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for successor in sorted(graph[node]):
            if state.get(successor) == "open":
                found.append(path[path.index(successor):] + [successor])
            elif successor not in state:
                visit(successor)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_graph_reader_sees_every_import_form():
    source = ("import xaihelpers.data\nfrom xaihelpers import checks, LAYERS\nfrom xaihelpers.hooks import get_layer\n"
              "from . import repro\nfrom .zoo import load\ndef f():\n    from xaihelpers import cifar\n"
              "if TYPE_CHECKING:\n    from xaihelpers.training import Strategy\nimport torch\n")
    assert imported_modules(source, set(MODULES)) == {"data", "checks", "hooks", "repro", "zoo", "cifar", "training"}


def test_the_cycle_finder_finds_a_cycle_and_only_then():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_every_module_has_exactly_one_layer():
    placed = [module for modules in xaihelpers.LAYERS.values() for module in modules]
    assert sorted(placed) == MODULES, (f"not placed: {sorted(set(MODULES) - set(placed))}; "
                                       f"no such module: {sorted(set(placed) - set(MODULES))}")
    assert len(placed) == len(set(placed)), "a module is placed in two layers"


def test_no_module_imports_from_a_higher_layer():
    upward = [f"{module} ({name_of(module)}) imports {other} ({name_of(other)})"
              for module, imported in import_graph().items() for other in sorted(imported)
              if LAYER_OF[other] > LAYER_OF[module]]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def name_of(module: str) -> str:
    return list(xaihelpers.LAYERS)[LAYER_OF[module]]


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("module", MODULES)
def test_the_package_docstring_lists_every_module_once_with_one_line(module):
    lines = [line for line in xaihelpers.__doc__.splitlines() if re.match(rf"- :mod:`~xaihelpers\.{module}` -- \S", line)]
    assert len(lines) == 1, f"xaihelpers/__init__.py's docstring should list {module} once, as '- :mod:`~xaihelpers.{module}` -- what it is.'"
    headers = [xaihelpers.__doc__.index(f"\n{name.capitalize()}: ") for name in xaihelpers.LAYERS] + [len(xaihelpers.__doc__)]
    rank = LAYER_OF[module]
    assert headers[rank] < xaihelpers.__doc__.index(lines[0]) < headers[rank + 1], \
        f"{module} is listed outside its layer's paragraph ({name_of(module)})"
