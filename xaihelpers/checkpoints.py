"""Saving and loading the book's checkpoints: atomic writes, ``weights_only`` loads, clear errors.

Every trained model of the book (see :mod:`xaihelpers.zoo`) is stored the same way: a dictionary
of tensors, lists, numbers and strings, so that ``torch.load(..., weights_only=True)`` can read it
without running code from the file. The errors name the file and the command that makes it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from xaihelpers import storage


class CheckpointError(ValueError):
    """A checkpoint file that exists but cannot be used (truncated, corrupt, or of another model)."""


def save(payload: dict, path: Path, overwrite: bool = False) -> Path:
    """``torch.save`` a checkpoint dictionary through a temporary file, so that a crash never
    leaves half a file; refuses to replace an existing file unless ``overwrite``.

    Raises:
        FileExistsError: If ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    with storage.atomic_write(path, overwrite=overwrite) as temporary:
        torch.save(payload, temporary)
    return path


def restore_hint(path: Path) -> str:
    """How to get a shipped checkpoint back: from git in a checkout, else by reinstalling."""
    from xaihelpers import data

    path = Path(path)
    if data.REPO_ROOT is not None:
        shown = path.relative_to(data.REPO_ROOT) if path.is_relative_to(data.REPO_ROOT) else path
        return f"Restore the committed file with 'git checkout -- {shown}'"
    return ("It ships with the package: reinstall it "
            "('pip install --force-reinstall --no-deps xaihelpers' from where you installed it)")


def load(path: Path, keys: Sequence[str], retrain: str) -> dict:
    """Load a checkpoint dictionary with ``torch.load(..., weights_only=True)`` and check its keys.

    Args:
        path: The checkpoint file.
        keys: Entries the caller needs (e.g. ``("state_dict", "meta")``).
        retrain: The command that makes the checkpoint again, named in every error.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        CheckpointError: If the file is truncated or corrupt, or lacks one of ``keys``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. {restore_hint(path)}, or make it again: {retrain}.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, OSError, EOFError or pickle errors here
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {error}); the file is truncated or "
            f"corrupt. {restore_hint(path)}, or make it again: {retrain}."
        ) from error
    missing = [key for key in keys if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} lacks {missing}: it is not a checkpoint of this model. Make it with: {retrain}.")
    return checkpoint


def load_weights(model: nn.Module, state_dict: dict, path: Path, retrain: str) -> nn.Module:
    """``model.load_state_dict(state_dict)``, with an error that names the file when the shapes or
    names do not fit (a checkpoint of another architecture).

    Raises:
        CheckpointError: If the weights belong to another architecture.
    """
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[0:3]
        raise CheckpointError(
            f"{path} holds weights of another architecture than {type(model).__name__} ({' '.join(first)}). "
            f"Pass the matching checkpoint, or make this one again: {retrain}."
        ) from error
    return model
