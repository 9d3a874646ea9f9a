"""The mutation score of each module, from what `mutmut run` leaves in mutants/ (`make mutation`).

mutmut 3 keeps a ``<module>.py.meta`` file (JSON) beside each mutated module: the exit code of the
tests run against every mutant. This prints, per module, the mutants killed out of all mutants
made, the other outcomes beside them, and with ``--survivors`` the name of every mutant the tests
let through (``.venv/bin/mutmut show NAME`` shows its change).

Usage: python scripts/mutation_report.py [MUTANTS_DIR] [--survivors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

#: mutmut 3.8.1's meaning of the exit codes it records (mutmut.stats.status_by_exit_code); any code
#: not listed is "suspicious".
OUTCOMES = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
            36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
            37: "caught by type check", -11: "segfault", -9: "segfault", None: "not checked"}
COLUMNS = ("survived", "timeout", "no tests", "suspicious", "not checked")


def outcome(exit_code) -> str:
    return OUTCOMES.get(exit_code, "suspicious")


def scores(mutants: Path) -> dict[str, Counter]:
    """{module path: Counter of outcomes}, one entry per module mutmut mutated."""
    table = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        table[meta.relative_to(mutants).as_posix().removesuffix(".meta")] = Counter(map(outcome, codes.values()))
    return table


def survivors(mutants: Path) -> list[str]:
    """Names of the mutants no test killed, module by module."""
    names = []
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        names += sorted((name for name, code in codes.items() if outcome(code) == "survived"),
                        key=lambda name: (name.rsplit("__mutmut_", 1)[0], int(name.rsplit("_", 1)[1])))
    return names


def render(table: dict[str, Counter]) -> str:
    width = max(len(module) for module in [*table, "total"])
    lines = [f"{'module':<{width}}  {'killed/total':>12}  {'score':>6}  " + "  ".join(COLUMNS)]
    everything = Counter()
    for module, counts in [*table.items(), ("total", None)]:
        if counts is None:
            counts = everything
        else:
            everything.update(counts)
        total = sum(counts.values())
        killed = counts["killed"]
        score = f"{100 * killed / total:5.1f}%" if total else "     -"
        lines.append(f"{module:<{width}}  {f'{killed}/{total}':>12}  {score:>6}  "
                     + "  ".join(f"{counts[column]:>{len(column)}}" for column in COLUMNS))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutants", nargs="?", default="mutants", type=Path, help="mutmut's working folder")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args(argv)
    table = scores(args.mutants)
    if not table:
        print(f"No mutation results in {args.mutants}/; run `make mutation` first.", file=sys.stderr)
        return 1
    print(render(table))
    if args.survivors:
        print("\nSurviving mutants (.venv/bin/mutmut show NAME):")
        print("\n".join(survivors(args.mutants)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
