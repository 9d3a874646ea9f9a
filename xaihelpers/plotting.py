"""Figures of the book: heat-map overlays, image grids, filter grids, and one set of colour maps.

The colour maps are fixed here so that every chapter reads the same way, and chosen so that a
reader with one of the common colour-vision deficiencies (deuteranopia, protanopia, tritanopia)
reads them as well as anyone:

- :data:`HEATMAP_CMAP` (``inferno``) for non-negative relevance such as Grad-CAM, 0 = black,
  1 = pale yellow. Its lightness rises monotonically, with and without the deficiencies, so the
  order of the values is read from lightness alone; ``jet``, the usual choice, rises and falls in
  lightness and its red and green halves merge for deuteranopes and protanopes.
- :data:`SIGNED_CMAP` (``RdBu_r``) for signed attributions: 0 = white, + red, - blue, darker with
  the magnitude. Red and blue stay apart under all three deficiencies, unlike red and green.
- :data:`ACTIVATION_CMAP` (``viridis``) for raw feature maps, monotonic in lightness like inferno.

``tests/test_plotting.py`` checks these criteria with the deficiencies simulated (Machado et al.
2009). The forgetting study of the continual-learning chapter counts red, orange and yellow pixels
of heat maps rendered with ``jet`` (:mod:`xaihelpers.heatmaps`), as its source study did: that is
a measurement, and stays on ``jet``; the chapter shows its maps with :data:`HEATMAP_CMAP`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

HEATMAP_CMAP = "inferno"
SIGNED_CMAP = "RdBu_r"
ACTIVATION_CMAP = "viridis"


def to_numpy(array) -> np.ndarray:
    """A tensor or array as a NumPy array; ``(C, H, W)`` tensors become ``(H, W, C)``."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu()
        if array.dim() == 3 and array.shape[0] in (1, 3):
            array = array.permute(1, 2, 0)
        array = array.numpy()
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def rescale(array: np.ndarray) -> np.ndarray:
    """Min-max scale to ``[0, 1]`` (a constant array becomes zeros)."""
    array = np.asarray(array, dtype=np.float64)
    low, high = array.min(), array.max()
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def overlay(
    image, heatmap, *, alpha: float = 0.5, cmap: str = HEATMAP_CMAP
) -> np.ndarray:
    """Blend a heat map over an image.

    Args:
        image: ``(H, W, 3)`` (or a ``(3, H, W)`` tensor) with values in ``[0, 1]``.
        heatmap: ``(H, W)`` with values in ``[0, 1]``; resize it to the image first.
        alpha: Weight of the heat map.
        cmap: Matplotlib colour map for the heat map.

    Returns:
        ``(H, W, 3)`` float array in ``[0, 1]``.

    Raises:
        ValueError: If the shapes do not match or ``alpha`` is outside ``[0, 1]``.
    """
    image, heatmap = to_numpy(image), to_numpy(heatmap)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.shape[:2] != heatmap.shape:
        raise ValueError(
            f"Heat map {heatmap.shape} does not match image {image.shape[:2]}; upsample it first."
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    colored = colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return np.clip((1 - alpha) * np.clip(image, 0, 1) + alpha * colored, 0.0, 1.0)


def image_grid(
    images: Sequence,
    titles: Optional[Sequence[str]] = None,
    *,
    ncols: int = 4,
    cmap: Optional[str] = None,
    size: float = 2.4,
    suptitle: Optional[str] = None,
    row_labels: Optional[Sequence[str]] = None,
    colorbar: Optional[str] = None,
    colorbar_cmap: Optional[str] = None,
) -> Figure:
    """Show images in a grid with titles; axes are hidden, empty cells left blank.

    Args:
        images: Arrays or tensors, ``(H, W)``, ``(H, W, 3)`` or ``(3, H, W)``.
        titles: One title per image.
        ncols: Images per row.
        cmap: Colour map for single-channel images (default :data:`ACTIVATION_CMAP`).
        size: Inches per cell.
        suptitle: Title of the whole figure.
        row_labels: Labels written at the left of each row.
        colorbar: The label of one colour bar for the whole grid, from 0 to 1: single-channel
            images are then drawn on that fixed scale (scale them to ``[0, 1]`` first, e.g. with
            :func:`rescale`), and the bar reads the colours of heat maps blended by :func:`overlay`
            when ``colorbar_cmap`` is its colour map.
        colorbar_cmap: The colour map the bar shows (default: ``cmap``, else :data:`ACTIVATION_CMAP`).

    Returns:
        The matplotlib figure.
    """
    count = len(images)
    if titles is not None and len(titles) != count:
        raise ValueError(f"{len(titles)} titles for {count} images")
    if colorbar_cmap is not None and colorbar is None:
        raise ValueError("colorbar_cmap chooses the colours of the colour bar; give the bar's label as colorbar= too.")
    scale = {"vmin": 0.0, "vmax": 1.0} if colorbar is not None else {}
    ncols = max(1, min(ncols, count))
    nrows = int(np.ceil(count / ncols))
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        if index >= count:
            axis.axis("off")
            continue
        picture = to_numpy(images[index])
        axis.imshow(picture, cmap=(cmap or ACTIVATION_CMAP) if picture.ndim == 2 else None,
                    **(scale if picture.ndim == 2 else {}))
        if titles is not None:
            axis.set_title(titles[index], fontsize=9)
    if row_labels is not None:
        for row, label in zip(axes[:, 0], row_labels):
            row.set_ylabel(label, fontsize=9)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    if colorbar is not None:
        mappable = ScalarMappable(Normalize(0.0, 1.0), colormaps[colorbar_cmap or cmap or ACTIVATION_CMAP])
        figure.colorbar(mappable, ax=axes.ravel().tolist(), shrink=0.8, label=colorbar)
    return figure


def filter_grid(weights: torch.Tensor, *, ncols: int = 8, size: float = 1.0) -> Figure:
    """Show first-layer convolution filters ``(out, 3, k, k)`` as small RGB images.

    Each filter is min-max scaled on its own, so the colours show the filter's pattern (which
    channel and which direction it weighs), not its magnitude.
    """
    if weights.dim() != 4 or weights.shape[1] != 3:
        raise ValueError(f"Expected RGB filters (out, 3, k, k), got {tuple(weights.shape)}")
    images = [rescale(to_numpy(w)) for w in weights]
    return image_grid(images, ncols=ncols, size=size)


def signed_rgb(signed_map, cmap: str = SIGNED_CMAP) -> np.ndarray:
    """Colour a signed map already scaled to ``[-1, 1]`` (0 = white, +1 = red, -1 = blue): ``(H, W, 3)``."""
    values = np.clip(to_numpy(signed_map), -1.0, 1.0)
    return colormaps[cmap]((values + 1) / 2)[..., :3]
