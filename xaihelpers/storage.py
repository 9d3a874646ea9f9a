"""Writing files so that nothing half-written is ever left, and hashing files: one routine each.

Every file the package writes (checkpoints, result tables, cached tensors, measured times) goes
through :func:`atomic_write`: the bytes go to a hidden temporary file beside the target, which
replaces the target in one ``os.replace`` only once it is complete, so a crash or a full disk leaves
either the old file or the new one, never a mixture. Refusing to replace a file someone made is
the caller's decision (``overwrite=``), made before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

#: Mode of the files written here: readable by everyone (a shared classroom folder works for all).
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_write(path: Path | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error, it replaces ``path``.

    Write to the yielded path with any writer (``torch.save``, ``DataFrame.to_csv``, ``open``).
    The temporary file keeps ``path``'s suffix, so writers that choose a format by the suffix
    choose the right one. On an error the temporary file is removed and ``path`` is untouched.

    Args:
        path: The file to create or replace; its folder is created if needed.
        overwrite: Replace an existing ``path``; if false, an existing file raises before anything
            is written.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists; pass --force (overwrite=True) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def file_sha256(path: Path | str) -> str:
    """SHA-256 hex digest of a file's bytes, read in blocks (``hashlib.file_digest``)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


__all__ = ["FILE_MODE", "atomic_write", "file_sha256"]
