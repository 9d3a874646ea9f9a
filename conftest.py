"""Rules for every test run, unit tests and re-executed chapters alike.

- Figures are under test: nbval's comparison of each re-executed cell also compares its PNG
  figures with the stored ones (``tests/nbval_figures.py``).
- Tests write nowhere in the repository: the chapters' result tables go to a temporary folder
  (``XAI_RESULTS_DIR``), and so does the cache the CIFAR chapters share (``XAI_CACHE_DIR``). Both
  are set here, before nbval starts the chapters' kernels, which inherit them.
- CI cannot go green by skipping: when ``CI`` is set, a test that skips (no browser, no data root)
  fails with the reason instead. Locally a skip stays a skip and says why.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
import nbval_figures  # noqa: E402  (tests/ is not a package)

nbval_figures.install()

_made: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    for variable in ("XAI_RESULTS_DIR", "XAI_CACHE_DIR"):
        if not os.environ.get(variable):
            folder = tempfile.mkdtemp(prefix=f"{variable.lower()}-")
            os.environ[variable] = folder
            _made.append(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _made:
        shutil.rmtree(folder, ignore_errors=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} would have been skipped, but CI is set and every test must run its real "
                           f"component there. Reason for the skip: {reason}")
