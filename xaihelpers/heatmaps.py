"""Measures of a heat map's texture: gliding-box lacunarity and colour-group pixel counts.

Lacunarity (Allain & Cloitre 1991, *Characterizing the lacunarity of random and deterministic
fractal sets*, Phys. Rev. A 44:3552; used on images by Plotnick et al. 1996 and, for heat maps of
continual learners, after Juneau et al. 2015) measures how *gappy* a pattern is at a scale ``r``:
slide an ``r x r`` box over every position, take the mass ``M`` (sum of the map) in each box, and

    Lambda(r) = E[M^2] / E[M]^2 = 1 + Var(M) / E[M]^2.

A constant map has ``Lambda = 1`` at every scale; a map whose mass sits in a few small, isolated
spots has a large ``Lambda``. For binary maps this is the classic frequency-distribution form
``sum s^2 Q(s, r) / (sum s Q(s, r))^2``; for grey-level maps (Grad-CAM values in ``[0, 1]``) the
box mass is the sum of values, the usual grey-scale generalisation.

:func:`lacunarity` computes every box mass at once, in float64, with torch's ``avg_pool2d`` (stride
1, divisor 1: the sum of every window; no Python loop over boxes); :func:`lacunarity_reference`
loops over the boxes, written out on purpose as the definition the tests compare against.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps

ArrayLike = Union[np.ndarray, torch.Tensor]

#: Box sizes used by the book (Juneau et al. 2015 analyse small boxes relative to the map).
BOX_SIZES = (2, 4, 8)

#: The colour map the study renders heat maps with before it counts their colour groups. ``jet``, as
#: in the source study, because the groups are its red, orange and yellow: this is a measurement, not
#: a display, and stays on ``jet`` although the book shows its heat maps with the colour-vision-safe
#: :data:`xaihelpers.plotting.HEATMAP_CMAP`.
STUDY_CMAP = "jet"

#: Colour groups on the scale of :data:`STUDY_CMAP` (``jet``), as half-open
#: intervals ``[low, high)`` of the map value (1.0 belongs to red). On ``jet``: yellow spans
#: RGB (0.80, 1, 0.17) to (1, 0.77, 0); orange (1, 0.77, 0) to (1, 0.22, 0); red (1, 0.22, 0) to the
#: dark red (0.5, 0, 0) at 1.0. Everything below 0.60 (greens, cyans, blues) is "other".
COLOUR_GROUPS = {"red": (0.85, 1.0), "orange": (0.70, 0.85), "yellow": (0.60, 0.70)}


def _as_maps(maps: ArrayLike) -> np.ndarray:
    array = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    if array.ndim not in (2, 3):
        raise ValueError(f"Expected a map (H, W) or a batch of maps (N, H, W), got shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(f"Expected real numbers, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("The maps contain NaN or infinite values; lacunarity needs finite masses.")
    if (array < 0).any():
        raise ValueError("Lacunarity needs non-negative maps (masses); clip or rescale signed attributions first.")
    return array


def _box_masses(array: np.ndarray, size: int) -> np.ndarray:
    """Mass of every ``size x size`` gliding box: ``(..., H - size + 1, W - size + 1)`` in float64."""
    height, width = array.shape[-2:]
    if not 1 <= size <= min(height, width):
        raise ValueError(f"Box size {size} does not fit a {height}x{width} map.")
    maps = torch.from_numpy(np.ascontiguousarray(array)).reshape(-1, 1, height, width)
    # avg_pool2d with divisor 1 sums every size x size window (stride 1: the gliding box), in float64.
    sums = F.avg_pool2d(maps, size, stride=1, divisor_override=1)
    return sums.reshape(*array.shape[:-2], height - size + 1, width - size + 1).numpy()


def lacunarity(maps: ArrayLike, sizes: Sequence[int] = BOX_SIZES) -> np.ndarray:
    """Gliding-box lacunarity of one map or a batch of maps at each box size.

    Args:
        maps: Non-negative map ``(H, W)`` or batch ``(N, H, W)`` (numpy or torch).
        sizes: Box sides in pixels.

    Returns:
        ``(len(sizes),)`` for one map, ``(N, len(sizes))`` for a batch, float64. A map with no mass
        (all zeros) has no defined lacunarity and gets NaN.

    Raises:
        ValueError: For negative values, a wrong number of dimensions, or a box larger than the map.
    """
    array = _as_maps(maps)
    batch = array if array.ndim == 3 else array[None]
    result = np.empty((len(batch), len(sizes)))
    for column, size in enumerate(sizes):
        masses = _box_masses(batch, size).reshape(len(batch), -1)
        first = masses.mean(axis=1)
        second = np.einsum("ij,ij->i", masses, masses) / masses.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            result[:, column] = np.where(first > 0, second / np.where(first > 0, first, 1) ** 2, np.nan)
    return result if array.ndim == 3 else result[0]


def lacunarity_reference(heatmap: np.ndarray, size: int) -> float:
    """The definition, box by box: the gliding box visits every position once (slow; for tests)."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    height, width = heatmap.shape
    masses = []
    for top in range(height - size + 1):
        for left in range(width - size + 1):
            masses.append(heatmap[top:top + size, left:left + size].sum())
    masses = np.array(masses)
    if masses.mean() == 0:
        return float("nan")
    return float((masses ** 2).mean() / masses.mean() ** 2)


def values_from_colours(rgb: ArrayLike, cmap: str = STUDY_CMAP) -> np.ndarray:
    """Invert a rendered heat map: each pixel's position on ``cmap``'s scale (nearest of 256 colours).

    Args:
        rgb: ``(H, W, 3)`` uint8 in ``[0, 255]`` or float in ``[0, 1]``.
    """
    array = rgb.detach().cpu().numpy() if isinstance(rgb, torch.Tensor) else np.asarray(rgb)
    if array.ndim != 3 or array.shape[-1] not in (3, 4):
        raise ValueError(f"Expected a rendered RGB image (H, W, 3), got shape {array.shape}.")
    colours = array[..., :3].astype(np.float64)
    if array.dtype == np.uint8:
        colours /= 255.0
    table = colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
    # A rendering holds at most 256 distinct colours: search the table once per distinct colour.
    if array.dtype == np.uint8:  # one integer per colour: a much faster unique than rows
        packed = array[..., :3].reshape(-1, 3).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        distinct = colours.reshape(-1, 3)[first]
    else:
        distinct, inverse = np.unique(colours.reshape(-1, 3), axis=0, return_inverse=True)
    nearest = ((distinct[:, None] - table[None]) ** 2).sum(axis=-1).argmin(axis=1)
    return (nearest[inverse.reshape(-1)] / 255.0).reshape(colours.shape[:2])


def colour_group_counts(values: ArrayLike, groups: dict[str, tuple[float, float]] = COLOUR_GROUPS) -> dict[str, int]:
    """Pixel count of each colour group (and ``other``) for map values in ``[0, 1]``.

    Pass a heat map's values, or :func:`values_from_colours` of its rendering; both give the same
    counts up to the 256 steps of the colour table.
    """
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values, dtype=np.float64)
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError("Colour groups are defined on the colour map's [0, 1] scale; normalise the map first.")
    counts, taken = {}, np.zeros(array.shape, dtype=bool)
    for name, (low, high) in groups.items():
        inside = (array >= low) & ((array < high) | ((high >= 1.0) & (array <= 1.0))) & ~taken
        counts[name] = int(inside.sum())
        taken |= inside
    counts["other"] = int((~taken).sum())
    return counts


def render(heatmap: ArrayLike, cmap: str = STUDY_CMAP) -> np.ndarray:
    """A map with values in ``[0, 1]`` as the uint8 RGB image the colour groups are counted on, ``(H, W, 3)``."""
    array = heatmap.detach().cpu().numpy() if isinstance(heatmap, torch.Tensor) else np.asarray(heatmap)
    if not np.isfinite(array).all():
        raise ValueError("The heat map contains NaN or infinite values; it cannot be rendered on a colour scale.")
    return (colormaps[cmap](np.clip(array, 0, 1))[..., :3] * 255).round().astype(np.uint8)


def describe(maps: ArrayLike, sizes: Sequence[int] = BOX_SIZES, cmap: str = STUDY_CMAP):
    """Lacunarity at each box size and colour-group fractions of each rendered map.

    Args:
        maps: ``(N, H, W)`` heat maps in ``[0, 1]``.
        sizes: Box sizes for the lacunarity.
        cmap: The colour map the maps are rendered with (the colour groups are read back from the
            rendering, so they are what a reader of the source study's ``jet`` maps sees).

    Returns:
        A ``pandas.DataFrame`` with one row per map and columns ``lacunarity_<r>`` and
        ``red``, ``orange``, ``yellow``, ``other`` (fractions of pixels).
    """
    import pandas as pd

    array = _as_maps(maps)
    if array.ndim == 2:
        array = array[None]
    table = pd.DataFrame(lacunarity(array, sizes), columns=[f"lacunarity_{size}" for size in sizes])
    pixels = array.shape[1] * array.shape[2]
    # Render and read back all maps as one tall image: the same per-pixel result, one table search.
    values = values_from_colours(render(array, cmap).reshape(-1, array.shape[2], 3), cmap).reshape(array.shape)
    counts = [colour_group_counts(v) for v in values]
    for group in [*COLOUR_GROUPS, "other"]:
        table[group] = [c[group] / pixels for c in counts]
    return table
