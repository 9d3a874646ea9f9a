"""Summaries of filters and feature maps, for the chapter on what each depth of a CNN responds to.

Background: Zeiler & Fergus (2014), *Visualizing and Understanding Convolutional Networks*
(ECCV), and Yosinski et al. (2014), *How transferable are features in deep neural networks?*
(NeurIPS): early layers respond to edges and colour contrasts, deep layers to object parts.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xaihelpers import checks


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first ``nn.Conv2d`` of ``model`` (in registration order) and its dotted name.

    Raises:
        ValueError: If the model has no convolution.
    """
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ValueError("The model has no nn.Conv2d layer.")


def colour_opponency(weights: torch.Tensor) -> torch.Tensor:
    """How much each RGB filter weighs the colour channels differently, in ``[0, 1]``.

    The share of a filter's energy that is *not* explained by its per-pixel mean over the three
    channels: 0 for a pure luminance filter (same weights on R, G and B), near 1 for a
    colour-opponent one (e.g. red minus green).

    Args:
        weights: ``(out, 3, k, k)`` filters.

    Returns:
        ``(out,)`` opponency per filter.
    """
    if weights.dim() != 4 or weights.shape[1] != 3:
        raise ValueError(f"Expected RGB filters (out, 3, k, k), got {tuple(weights.shape)}")
    flat = weights.detach().flatten(2)  # (out, 3, k*k)
    luminance = flat.mean(dim=1, keepdim=True)
    residual = (flat - luminance).pow(2).sum(dim=(1, 2))
    total = flat.pow(2).sum(dim=(1, 2)).clamp_min(1e-12)
    return residual / total


def activation_map(features: torch.Tensor) -> torch.Tensor:
    """Mean absolute activation over channels: ``(N, C, h, w)`` -> ``(N, h, w)``."""
    return features.abs().mean(dim=1)


def edge_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of the grayscale images: ``(N, 3, H, W)`` -> ``(N, H, W)``.

    scikit-image's ``filters.sobel`` per image (edge pixels repeated at the border), in its units:
    the root mean square of the two directional responses of the 1/4-scaled Sobel kernels.
    """
    from skimage.filters import sobel

    checks.images(images)
    gray = images.detach().mean(dim=1).cpu().double().numpy()
    return torch.from_numpy(np.stack([sobel(picture, mode="nearest") for picture in gray])).to(images.dtype)


def pearson_per_image(maps_a: torch.Tensor, maps_b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between paired maps ``(N, H, W)``, one value per image.

    A constant map has no defined correlation; it gets 0.
    """
    if maps_a.shape != maps_b.shape:
        raise ValueError(f"Shapes differ: {tuple(maps_a.shape)} vs {tuple(maps_b.shape)}")
    a = maps_a.flatten(1) - maps_a.flatten(1).mean(dim=1, keepdim=True)
    b = maps_b.flatten(1) - maps_b.flatten(1).mean(dim=1, keepdim=True)
    denominator = (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    return (a * b).sum(dim=1) / denominator


def edge_alignment(features: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Correlation of each image's activation map with its edge map, at the map's resolution.

    High values mean the layer mostly marks where the image has edges (typical of early layers);
    values near zero mean it responds to something the edge map does not show.

    Args:
        features: A layer's output ``(N, C, h, w)``.
        images: The inputs ``(N, 3, H, W)``.

    Returns:
        ``(N,)`` Pearson correlations.
    """
    checks.images(features, "features")
    checks.images(images)
    if len(features) != len(images):
        raise ValueError(f"features ({len(features)}) and images ({len(images)}) must hold the same number of images.")
    activation = activation_map(features)
    edges = F.adaptive_avg_pool2d(edge_magnitude(images).unsqueeze(1), activation.shape[-2:])[:, 0]
    return pearson_per_image(activation, edges)


def strongest_channels(features: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` channels with the highest mean activation, per image: ``(N, k)``."""
    checks.images(features, "features")
    if not 1 <= checks.positive_int(k, "k") <= features.shape[1]:
        raise ValueError(f"k must be between 1 and the number of channels ({features.shape[1]}), got {k}.")
    return features.mean(dim=(2, 3)).topk(k, dim=1).indices


def top_share(maps: torch.Tensor, fraction: float = 0.1) -> torch.Tensor:
    """How concentrated each map is: the share of its total in its top ``fraction`` of pixels.

    A flat map gives ``fraction`` (0.10 by default); a map whose mass sits in a few pixels gives
    values near 1. For non-negative maps ``(N, H, W)``; returns ``(N,)``.
    """
    checks.maps(maps, "maps")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (take .abs() or .clamp_min(0) of a signed map first).")
    flat = maps.flatten(1)
    k = max(1, int(flat.shape[1] * fraction))
    return flat.topk(k, dim=1).values.sum(dim=1) / flat.sum(dim=1).clamp_min(1e-12)


def share_inside(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """How much of each map lies inside its mask: the share of its total on the ``True`` pixels.

    A map spread evenly gives the mask's share of the frame; a map entirely inside gives 1. For
    non-negative maps ``(N, H, W)`` and boolean masks of the same shape; returns ``(N,)``.
    """
    checks.maps(maps, "maps")
    if masks.shape != maps.shape:
        raise ValueError(f"masks must have the maps' shape {tuple(maps.shape)}, got {tuple(masks.shape)}.")
    if (maps < 0).any():
        raise ValueError("maps must be non-negative (take .abs() or .clamp_min(0) of a signed map first).")
    inside = (maps * masks.to(maps.dtype)).flatten(1).sum(dim=1)
    return inside / maps.flatten(1).sum(dim=1).clamp_min(1e-12)


def roughness(maps: torch.Tensor) -> torch.Tensor:
    """How noisy each map is: the mean absolute difference between neighbouring pixels, in units
    of the map's mean absolute value. 0 for a constant map; about 1 or more for salt-and-pepper
    noise. For maps ``(N, H, W)``; returns ``(N,)``."""
    checks.maps(maps, "maps")
    scaled = maps / maps.abs().flatten(1).mean(dim=1).clamp_min(1e-12)[:, None, None]
    vertical = (scaled[:, 1:, :] - scaled[:, :-1, :]).abs().mean(dim=(1, 2))
    horizontal = (scaled[:, :, 1:] - scaled[:, :, :-1]).abs().mean(dim=(1, 2))
    return (vertical + horizontal) / 2
