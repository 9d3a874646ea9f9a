"""How sure a number over a sample of images is: bootstrap intervals, paired over images.

A table of deletion AUCs over 16 images is a sample; its mean would move with another 16. A claim
that method A beats method B on those images holds only if the difference survives that: the
*paired* interval of ``A - B`` (one difference per image, so what the images share cancels) must
exclude 0. Otherwise the book says the two cannot be told apart on N images.

The interval is the percentile bootstrap of the mean (Efron and Tibshirani 1993, *An Introduction
to the Bootstrap*, ch. 13): the sample is resampled with replacement ``resamples`` times, and the
interval holds the central ``confidence`` share of the resampled means. The resampling has its own
seeded generator, so an interval prints the same on every run and every CPU (integer draws and
float64 means) and the global random generators are left as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch

Values = Union[Sequence[float], np.ndarray, torch.Tensor]


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` images and its bootstrap interval ``[low, high]`` at ``confidence``."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """Whether the whole interval lies on one side of 0 (A and B can be told apart)."""
        return self.low > 0 or self.high < 0

    def format(self, digits: int = 3) -> str:
        """``"0.031 [0.012, 0.050]"``: the mean and its interval at ``digits`` decimals (a value that
        rounds to 0 prints without a minus sign)."""
        def shown(value: float) -> str:
            text = f"{value:.{digits}f}"
            return text[1:] if text.startswith("-") and float(text) == 0 else text

        return f"{shown(self.mean)} [{shown(self.low)}, {shown(self.high)}]"

    def __str__(self) -> str:
        return f"{self.format()} (N = {self.n}, {self.confidence:.0%} bootstrap interval)"


def _as_array(values: Values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one value per image (a 1-D sequence), got shape {array.shape}.")
    if len(array) < 2:
        raise ValueError(f"{name} needs at least 2 images for an interval, got {len(array)}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values at positions {np.flatnonzero(~np.isfinite(array))[:5].tolist()}; "
                         "an interval needs a finite value for every image.")
    return array


def bootstrap_interval(values: Values, *, confidence: float = 0.95, resamples: int = 10_000,
                       seed: int = 0) -> Interval:
    """The mean of ``values`` (one per image) and its percentile-bootstrap interval.

    Args:
        values: One number per image.
        confidence: The share of resampled means the interval holds (0.95: the 2.5th to 97.5th
            percentile).
        resamples: How many resamples; 10,000 puts the interval's ends within about 0.5 % of the
            sample's spread of where more resamples would put them.
        seed: Seeds the resampling's own generator.

    Raises:
        ValueError: For fewer than 2 values, a non-finite value, or a confidence outside (0, 1).
    """
    array = _as_array(values, "values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}.")
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100 for a usable interval, got {resamples}.")
    generator = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, 2_000_000 // len(array))  # resamples per block, to bound the index array's memory
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        means[start:start + count] = array[generator.integers(0, len(array), size=(count, len(array)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(array.mean()), float(low), float(high), len(array), confidence)


def paired_interval(a: Values, b: Values, **settings) -> Interval:
    """The mean of ``a - b`` over the same images and its bootstrap interval
    (:func:`bootstrap_interval`'s ``settings``): A and B differ on these images only when it
    excludes 0.

    Raises:
        ValueError: If ``a`` and ``b`` do not hold one value for each of the same images.
    """
    a, b = _as_array(a, "a"), _as_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"A paired interval needs one value per image from both, on the same images; got {len(a)} "
                         f"and {len(b)} values.")
    return bootstrap_interval(a - b, **settings)


def side(interval: Interval, digits: Optional[int] = None) -> int:
    """``1`` if the interval lies above 0, ``-1`` if below, ``0`` if it holds 0.

    With ``digits``, decided on the ends as printed with that many decimals: an end that rounds to
    0 touches 0. A difference that only just clears 0 in digits no one prints is called a tie, and
    the verdict cannot flip between CPUs whose last bits differ.
    """
    low, high = interval.low, interval.high
    if digits is not None:
        low, high = round(low, digits), round(high, digits)
    return 1 if low > 0 else -1 if high < 0 else 0


def verdict(interval: Interval, higher: str, lower: str, digits: int = 3) -> str:
    """One sentence on a paired interval of ``higher - lower``: which is larger (with the
    difference the larger minus the smaller), or that the two cannot be told apart on the
    interval's ``n`` images; decided at the ``digits`` it prints (:func:`side`)."""
    where = side(interval, digits)
    if where > 0:
        return f"{higher} > {lower}: difference {interval.format(digits)}, N = {interval.n}"
    if where < 0:  # say it the other way round, with the difference that way round
        swapped = Interval(-interval.mean, -interval.high, -interval.low, interval.n, interval.confidence)
        return f"{lower} > {higher}: difference {swapped.format(digits)}, N = {interval.n}"
    return f"{higher} and {lower} cannot be told apart: difference {interval.format(digits)}, N = {interval.n}"
