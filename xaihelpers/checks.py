"""Argument checks shared by the public functions: an error names the argument, what it was and
what is allowed, instead of a library error three calls deeper (or, worse, no error at all: a
NaN image gives an all-NaN map without a word).

Every function here returns the checked value (converted where that is unambiguous, e.g. one
class index for a whole batch becomes a tensor of targets) or raises ``TypeError`` /
``ValueError``.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Iterator, Optional

import torch

from xaihelpers.typing import Target


def images(value, name: str = "images", *, channels: Optional[int] = None) -> torch.Tensor:
    """A non-empty, finite batch of images ``(N, C, H, W)``.

    Args:
        value: The argument to check.
        name: The argument's name, for the message.
        channels: The number of channels the model needs (3 for RGB), if it needs one.

    Raises:
        TypeError: If ``value`` is not a tensor.
        ValueError: For a single image without a batch dimension, an empty batch, a wrong number
            of channels, or NaN / infinite values.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, C, H, W), got {type(value).__name__}; "
                        "convert a PIL image with the model's preprocess (or torchvision's ToTensor).")
    if value.dim() == 3:
        raise ValueError(f"{name} must be a batch (N, C, H, W), got one image of shape {tuple(value.shape)}; "
                         f"add the batch dimension: {name}[None].")
    if value.dim() != 4:
        raise ValueError(f"{name} must be a batch (N, C, H, W), got shape {tuple(value.shape)}.")
    if len(value) == 0:
        raise ValueError(f"{name} is an empty batch (N = 0); pass at least one image.")
    if channels is not None and value.shape[1] != channels:
        hint = " (a grayscale image: repeat it to 3 channels, or load it with xaihelpers.images.load_rgb)" \
            if value.shape[1] == 1 and channels == 3 else ""
        raise ValueError(f"{name} must have {channels} channels, got {value.shape[1]}{hint}.")
    if value.is_floating_point():
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = int((~finite).sum())
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s) of {value.numel()}; an explanation of such "
                             "an input is meaningless. Check the loading and preprocessing of the images.")
    return value


def targets(value: Target, batch: int, name: str = "target", classes: Optional[int] = None) -> torch.Tensor:
    """Class indices for a batch: one int for every image, or one per image.

    Args:
        value: An int, a 0-d tensor or an ``(N,)`` integer tensor.
        batch: ``N``, the number of images.
        name: The argument's name, for the message.
        classes: The number of classes of the model, where known: indices must be below it.

    Returns:
        An ``(N,)`` ``long`` tensor.

    Raises:
        TypeError: For floats, strings or other non-integer targets.
        ValueError: For a wrong length or an index outside ``[0, classes)``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, torch.Tensor, list, tuple)):
        raise TypeError(f"{name} must be a class index (int) or an integer tensor (N,), got {type(value).__name__}.")
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{name} must hold integer class indices, got {value!r}.") from error
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class indices, got dtype {tensor.dtype}; "
                        "use .argmax(dim=1) on probabilities, or .long() on indices.")
    if tensor.dim() == 0:
        tensor = tensor.expand(batch)
    elif tensor.dim() != 1 or len(tensor) != batch:
        raise ValueError(f"{name} must be one class index or one per image ({batch}), got shape {tuple(tensor.shape)}.")
    if len(tensor) and int(tensor.min()) < 0:
        raise ValueError(f"{name} holds a negative class index ({int(tensor.min())}); class indices start at 0.")
    if classes is not None and len(tensor) and int(tensor.max()) >= classes:
        raise ValueError(f"{name} holds class index {int(tensor.max())}, but the model has {classes} classes "
                         f"(indices 0 to {classes - 1}).")
    return tensor.long()


def maps(value, name: str = "maps", *, shape: Optional[tuple] = None) -> torch.Tensor:
    """A finite batch of maps ``(N, H, W)``, of the given ``shape`` where one is required."""
    if not isinstance(value, torch.Tensor) or value.dim() != 3:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a batch of maps (N, H, W), got {got}; for one map use {name}[None].")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must be (N, H, W) = {tuple(shape)}, got {tuple(value.shape)}.")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or infinite values; check the attribution that made them.")
    return value


def positive_int(value, name: str) -> int:
    """An integer count of at least 1 (samples, steps, passes, batch sizes)."""
    if isinstance(value, bool) or not isinstance(value, int) and not (
            isinstance(value, torch.Tensor) and value.dim() == 0 and not value.is_floating_point()):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")
    if int(value) < 1:
        raise ValueError(f"{name} must be at least 1, got {int(value)}.")
    return int(value)


def non_negative(value, name: str) -> float:
    """A finite number of at least 0 (noise scales, blur widths)."""
    number = _number(value, name)
    if number < 0:
        raise ValueError(f"{name} must be 0 or more, got {number}.")
    return number


def positive(value, name: str) -> float:
    """A finite number above 0 (scales that divide)."""
    number = _number(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be above 0, got {number}.")
    return number


def percentile(value, name: str = "percentile") -> float:
    """A percentile in ``(0, 100]``."""
    number = _number(value, name)
    if not 0 < number <= 100:
        raise ValueError(f"{name} must be in (0, 100], got {number}.")
    return number


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    return float(value)


_OUT_OF_RANGE = re.compile(r"index (-?\d+) is out of bounds for dimension 1 with size (\d+)")


@contextlib.contextmanager
def target_in_range(name: str = "target") -> Iterator[None]:
    """Turn the indexing error of a target beyond the model's outputs (raised inside captum or a
    ``gather``) into a ``ValueError`` that names ``name`` and the number of classes."""
    try:
        yield
    except (RuntimeError, IndexError) as error:
        found = _OUT_OF_RANGE.search(str(error))
        if not found:
            raise
        index, classes = found.groups()
        raise ValueError(f"{name} holds class index {index}, but the model has {classes} classes "
                         f"(indices 0 to {int(classes) - 1}).") from error


__all__ = ["images", "maps", "non_negative", "percentile", "positive", "positive_int", "target_in_range", "targets"]


def registered(registry: dict, name: str, kind: str):
    """``registry[name]``, or a ``KeyError`` that lists the registered names (``kind``: what they are).

    Raises:
        KeyError: For a name the registry does not have.
    """
    if name not in registry:
        raise KeyError(f"Unknown {kind} '{name}'; the book's {kind}s are: {', '.join(registry)}.")
    return registry[name]
