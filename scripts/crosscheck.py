"""Re-execute chapters under narrower instruction sets than this machine's and compare their text
(and figures) with the stored outputs: the book promises the same printed text on every x86 CPU.

    python scripts/crosscheck.py notebooks/*.ipynb                 # every level (make crosscheck)
    python scripts/crosscheck.py --level avx2 notebooks/08_*.ipynb  # one level, one chapter

Why: the numerical libraries pick their kernels by what the CPU offers (AVX-512, AVX2, SSE), and
kernels of different width add up in a different order, so results differ in the last bits. Most
chapters print too few digits for that to show; an optimisation that amplifies rounding (a class
model, a long training run) can print other numbers on another machine. Each library can be told
to use a narrower instruction set than the CPU has, which stands in for an older or smaller CPU:

- torch's own kernels: ``ATEN_CPU_CAPABILITY`` (``default`` is the unvectorised baseline);
- oneDNN (convolutions): ``ONEDNN_MAX_CPU_ISA``;
- MKL (torch's matrix products): ``MKL_ENABLE_INSTRUCTIONS``;
- OpenBLAS (NumPy's): ``OPENBLAS_CORETYPE``.

Each level re-executes the chapters with nbval in a fresh pytest process (the chapters' kernels
inherit the variables) and the book's usual comparison: text through the sanitizers, figures
through ``tests/nbval_figures.py``. A chapter passes a level when every cell prints what is stored.
Run it before storing outputs (``make notebooks`` runs it after writing them, ``make crosscheck``
on its own); it is not part of ``make test``, since it re-executes every chapter once per level.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The instruction-set levels a chapter must print the same text under, narrowest last.
LEVELS: dict[str, dict[str, str]] = {
    # An AVX2 machine without AVX-512 (the common cloud and laptop CPU).
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell"},
    # No vector extension beyond SSE4: the oldest x86-64 CPUs a reader may still have.
    "sse4": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41",
             "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "OPENBLAS_CORETYPE": "Nehalem"},
}


def level_environment(level: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment of one level: ``base`` (default: this process's) with its variables.

    Raises:
        KeyError: If ``level`` is not one of :data:`LEVELS`, naming the known ones.
    """
    if level not in LEVELS:
        raise KeyError(f"unknown instruction-set level {level!r}; known: {', '.join(LEVELS)}")
    environment = dict(os.environ if base is None else base)
    # OPENBLAS_L2_SIZE belongs to a coretype set for this machine; with another coretype it would lie.
    environment.pop("OPENBLAS_L2_SIZE", None)
    environment.update(LEVELS[level])
    return environment


def failed_cells(report: Path) -> list[str]:
    """The cells (nbval's test names, "Cell N") that failed or errored in a JUnit report."""
    return [case.get("name", "?") for case in ElementTree.parse(report).getroot().iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


def run_level(level: str, notebooks: list[str], pytest_args: list[str]) -> dict[str, list[str]]:
    """Re-execute each of ``notebooks`` under ``level`` (one pytest process each) and return
    {notebook file name: the cells that printed other text, empty when none did}."""
    print(f"\n== level {level}: " + " ".join(f"{k}={v}" for k, v in LEVELS[level].items()), flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix=f"crosscheck-{level}-") as folder:
        for notebook in notebooks:
            report = Path(folder) / f"{Path(notebook).stem}.xml"
            # The project's pytest settings (nbval in this environment, the sanitizers) apply wherever
            # the notebook lies.
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--rootdir={ROOT}",
                       "-c", str(ROOT / "pyproject.toml"), "--nbval", f"--junitxml={report}", *pytest_args,
                       str(Path(notebook).resolve())]
            completed = subprocess.run(command, cwd=ROOT, env=level_environment(level))
            if not report.is_file():
                raise RuntimeError(f"pytest wrote no report for {notebook} at level {level} (exit status "
                                   f"{completed.returncode}); its output above says why.")
            results[Path(notebook).name] = failed_cells(report)
    return results


def summary(results: dict[str, dict[str, list[str]]]) -> tuple[list[str], bool]:
    """The table printed at the end (one line per chapter and level) and whether every chapter passed."""
    lines, passed = [], True
    for level, chapters in results.items():
        for notebook, cells in sorted(chapters.items()):
            verdict = "same text" if not cells else f"DIFFERS in {len(cells)} cell(s): {', '.join(cells)}"
            passed = passed and not cells
            lines.append(f"{level:6s} {notebook:40s} {verdict}")
    return lines, passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="chapter notebooks (.ipynb) to re-execute")
    parser.add_argument("--level", action="append", choices=sorted(LEVELS),
                        help="instruction-set level to run (repeatable; default: every level)")
    parser.add_argument("--pytest-arg", action="append", default=[],
                        help="an extra argument for pytest (repeatable), e.g. --pytest-arg=-x")
    arguments = parser.parse_args(argv)
    missing = [name for name in arguments.notebooks if not Path(name).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    results = {level: run_level(level, arguments.notebooks, arguments.pytest_arg)
               for level in (arguments.level or list(LEVELS))}
    lines, passed = summary(results)
    print("\nCrosscheck: the stored outputs against re-execution under narrower instruction sets")
    print("\n".join(lines))
    print("every chapter prints the same text at every level" if passed else
          "some chapters print other text on another CPU: make their cells print only what is stable")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
