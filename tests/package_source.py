"""The files a build of the package reads, copied out of the checkout: a build in place would leave
build/ and egg-info behind. Used by the reader test and the packaging test."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What pyproject.toml names besides the package: the long description and the licence file.
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")


def copy_source(destination: Path) -> Path:
    """Copy the project files and the package to ``destination`` (created) and return it."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        shutil.copyfile(ROOT / name, destination / name)
    shutil.copytree(ROOT / "xaihelpers", destination / "xaihelpers", ignore=shutil.ignore_patterns("__pycache__"))
    return destination
