"""Print one closing line for a pytest JUnit XML report: how many tests ran, failed and skipped.

    python scripts/test_summary.py report.xml

Exits 1 when the report is missing or holds no executed test, so a run that tested nothing
cannot pass as green.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def summarize(report: Path) -> tuple[int, int, int, int]:
    """(ran, passed, failed, skipped); errors count as failures."""
    root = ElementTree.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    ran = total - skipped
    return ran, ran - failed, failed, skipped


def main() -> int:
    report = Path(sys.argv[1])
    if not report.is_file():
        print(f"tests: no report at {report}: the test command did not run pytest to the end")
        return 1
    ran, passed, failed, skipped = summarize(report)
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
    print(f"({ran} tests ran, {skipped} skipped)")
    return 0 if ran > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
