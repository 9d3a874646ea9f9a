"""Writing result tables (CSV and Excel) without ever replacing a file someone else made.

A chapter that is run twice writes the same table twice: when a file with that name already holds
the same table, it is left as it is. When it holds anything else (an edited copy, results of other
settings), the new table goes to the next free name (``name-2.csv``, ``name-3.csv``...) and the
returned record says so, so nothing is overwritten silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from xaihelpers import storage

FORMATS = ("csv", "xlsx")
#: Environment variable that names the folder chapters write their result tables to.
RESULTS_ENV = "XAI_RESULTS_DIR"


def results_dir(name: str) -> Path:
    """The folder for one chapter's result files: ``$XAI_RESULTS_DIR/name`` when the variable is
    set (the tests set it to a temporary folder), else ``results/name`` in the repository."""
    if not name or Path(name).name != name:
        raise ValueError(f"name must be one folder name (no path separators), got {name!r}.")
    value = os.environ.get(RESULTS_ENV, "").strip()
    if value:
        return Path(value).expanduser() / name
    from xaihelpers.data import REPO_ROOT

    return (REPO_ROOT if REPO_ROOT is not None else Path.cwd()) / "results" / name


@dataclass
class Written:
    """What :func:`save_table` did with one file: ``created``, ``unchanged`` or ``renamed``."""

    path: Path
    status: str

    def __str__(self) -> str:
        notes = {"created": "written", "unchanged": "already there with the same table",
                 "renamed": "written under a new name: a different file had the planned name"}
        return f"{self.path.name}: {notes[self.status]}"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_excel(path, engine="openpyxl")


def _same_table(path: Path, table: pd.DataFrame) -> bool:
    try:
        existing = _read(path)
    except Exception:  # unreadable or not a table: certainly not ours
        return False
    # Compare through the same round trip the new table takes, so float formatting cannot differ.
    fresh_path = path.with_name(f".{path.stem}.compare{path.suffix}")
    try:
        write_table(table, fresh_path)
        fresh = _read(fresh_path)
    finally:
        fresh_path.unlink(missing_ok=True)
    return existing.shape == fresh.shape and existing.equals(fresh)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` (CSV or Excel by its suffix, no index), atomically, replacing
    what is there: for callers that decided so (:func:`save_table` never replaces)."""
    with storage.atomic_write(path) as temporary:
        if path.suffix == ".csv":
            table.to_csv(temporary, index=False)
        else:
            table.to_excel(temporary, index=False, engine="openpyxl")


def save_table(table: pd.DataFrame, folder: Path, name: str, formats: Sequence[str] = FORMATS) -> list[Written]:
    """Write ``table`` as ``folder/name.<format>`` for each format, never replacing another file.

    Args:
        table: The table (its index is not written; keep keys in columns).
        folder: Created if missing.
        name: File name without suffix.
        formats: ``csv`` and/or ``xlsx`` (Excel, through openpyxl).

    Returns:
        One :class:`Written` per format, with the path used and what happened.

    Raises:
        ValueError: For an unknown format.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"Unknown table format(s) {sorted(unknown)}; use {FORMATS}.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for suffix in formats:
        path = folder / f"{name}.{suffix}"
        number = 1
        status = "created"
        while path.exists():
            if _same_table(path, table):
                status = "unchanged"
                break
            number += 1
            path = folder / f"{name}-{number}.{suffix}"
            status = "renamed"
        if status != "unchanged":
            write_table(table, path)
        records.append(Written(path, status))
    return records
