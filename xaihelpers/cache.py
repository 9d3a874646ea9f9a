"""Results that several chapters share, computed once: a small on-disk memo keyed by content.

Three CIFAR chapters start from the same predictions of the same three networks on the same
10,000 test images, and chapters 10 and 15 explain the same 16 pollen images with the same methods
(:func:`xaihelpers.chapter.shared_maps`). :func:`memoize_tensor` stores such a result under a key
made of the hashes of everything it depends on (checkpoint bytes, image bytes, torch version,
settings), so a changed checkpoint or data set can never be served a stale result, and the
second chapter reads in milliseconds what the first computed.

The folder is ``$XAI_CACHE_DIR`` when set, else the per-user cache folder of the platform
(``platformdirs``: ``~/.cache/xaihelpers`` on Linux). Deleting it only costs time. Where it cannot
be written, the result is computed and returned without being stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import torch

from xaihelpers import storage

#: Environment variable that names the cache folder.
CACHE_ENV = "XAI_CACHE_DIR"


def cache_dir() -> Path:
    """The cache folder: ``$XAI_CACHE_DIR``, else the platform's per-user cache folder."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("xaihelpers", appauthor=False))


def tensor_digest(tensor: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and values."""
    array = tensor.detach().cpu().contiguous().numpy()
    digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def memoize_tensor(name: str, key: dict, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``compute()``, or the tensor a previous call with the same ``name`` and ``key`` stored.

    Args:
        name: What the result is (part of the file name, for a person looking at the folder).
        key: Everything the result depends on, as JSON-serialisable values (hashes, settings);
            the torch version is added.
        compute: Makes the result when it is not stored yet.

    Returns:
        The tensor, on the CPU.
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"name must be letters, digits, '-' and '_' (it becomes a file name), got {name!r}.")
    full_key = json.dumps({**key, "torch": torch.__version__}, sort_keys=True)
    path = cache_dir() / f"{name}-{hashlib.sha256(full_key.encode()).hexdigest()[:24]}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(stored, dict) and stored.get("key") == full_key:
                return stored["value"]
        except Exception:  # a damaged cache file is only a missed shortcut: compute again below
            pass
    value = compute().detach().cpu()
    try:
        with storage.atomic_write(path) as temporary:
            torch.save({"key": full_key, "value": value}, temporary)
    except OSError:
        pass  # a read-only or full disk: the result is still correct, only not kept
    return value


__all__ = ["CACHE_ENV", "cache_dir", "memoize_tensor", "tensor_digest"]
