"""Helpers around captum's gradient attributions: display reductions, baselines, regions, ReLU6.

The methods themselves come from captum (Kokhlikyan et al. 2020): ``Saliency`` (Simonyan et al.
2013), ``GuidedBackprop`` (Springenberg et al. 2014), ``NoiseTunnel`` for SmoothGrad (Smilkov et
al. 2017) and ``IntegratedGradients`` (Sundararajan et al. 2017). This module adds what the
chapters need around them; :mod:`xaihelpers.methods` registers every method of the book with its
settings and its cost in passes per image (``methods.cost_table()``).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from xaihelpers import checks, repro
from xaihelpers.inference import PIXELS_PER_PASS, images_per_pass


class GuidedReLU6(nn.ReLU):
    """ReLU6 that captum's ``GuidedBackprop`` recognises (it overrides ``nn.ReLU`` modules only).

    The forward pass is ``min(max(x, 0), 6)``; under guided backpropagation the gradient passes
    where ``0 < x < 6`` *and* the incoming gradient is positive, the natural extension of the
    guided ReLU rule.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x)


def _swap_relu6(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Replace ``model``'s ``nn.ReLU6`` modules by :class:`GuidedReLU6` in place; returns
    ``(parent, name, original)`` for each replacement, to put the originals back."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    replaced: dict[int, nn.Module] = {}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                # Keep sharing: a ReLU6 used in several places becomes one GuidedReLU6 (and only
                # that: captum's hooks on a module assume one call per pass where they read the
                # output's gradient, as Deconvolution does).
                swapped.append((parent, name, child))
                setattr(parent, name, replaced.setdefault(id(child), GuidedReLU6()))
    return swapped


@contextlib.contextmanager
def guided_relu6(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` itself with its ``nn.ReLU6`` modules swapped for :class:`GuidedReLU6` for the
    block (same outputs; captum's guided rule then applies) and swapped back afterwards, also when
    the block raises. Cheaper than :func:`guided_backprop_ready` for one call: nothing is copied."""
    swapped = _swap_relu6(model)
    try:
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def guided_backprop_ready(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.ReLU6`` modules are :class:`GuidedReLU6`.

    Without this, captum's ``GuidedBackprop`` silently leaves ReLU6 networks (EfficientNet-Lite0)
    unguided and returns the plain gradient. The copy computes exactly the same outputs. A model
    without ReLU6 (ResNet-50, the pollen CNN) is returned as it is: nothing needs changing.
    """
    if not any(isinstance(module, nn.ReLU6) for module in model.modules()):
        return model
    ready = copy.deepcopy(model)
    _swap_relu6(ready)
    return ready.eval()


def channel_reduce(attributions: torch.Tensor, how: str = "max_abs") -> torch.Tensor:
    """Reduce ``(N, C, H, W)`` attributions to one value per pixel, ``(N, H, W)``.

    Args:
        attributions: Per-channel attributions.
        how: ``max_abs`` (Simonyan et al.: the largest absolute value over channels), ``sum``
            (signed sum, keeps completeness for Integrated Gradients) or ``abs_sum``.
    """
    if how == "max_abs":
        return attributions.abs().amax(dim=1)
    if how == "sum":
        return attributions.sum(dim=1)
    if how == "abs_sum":
        return attributions.abs().sum(dim=1)
    raise ValueError(f"how must be 'max_abs', 'sum' or 'abs_sum', got '{how}'")


def cap(maps: torch.Tensor, percentile: float = 99.0) -> torch.Tensor:
    """Clip each non-negative map at its own ``percentile`` and scale it to ``[0, 1]``.

    Gradient maps are dominated by a few very large pixels; capping them lets the rest show.
    """
    checks.percentile(percentile)
    checks.maps(maps)
    flat = maps.flatten(1)
    ceiling = torch.quantile(flat, percentile / 100, dim=1).clamp_min(1e-12).view(-1, 1, 1)
    return (maps / ceiling).clamp(0, 1)


def signed_scale(maps: torch.Tensor, percentile: float = 99.0) -> torch.Tensor:
    """Scale signed maps ``(N, H, W)`` to ``[-1, 1]`` by the ``percentile`` of their magnitude."""
    checks.percentile(percentile)
    checks.maps(maps)
    ceiling = torch.quantile(maps.abs().flatten(1), percentile / 100, dim=1).clamp_min(1e-12)
    return (maps / ceiling.view(-1, 1, 1)).clamp(-1, 1)


def baseline(images: torch.Tensor, kind: str, *, sigma: float = 10.0,
             generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A reference input for Integrated Gradients, same shape as ``images``.

    Args:
        images: Inputs in pixel space ``[0, 1]``.
        kind: ``black`` (zeros), ``blur`` (Gaussian blur of the image, ``sigma`` pixels: keeps
            colours and coarse layout, removes detail) or ``uniform`` (uniform noise in ``[0, 1]``).
        sigma: Blur strength for ``blur``.
        generator: Seeded generator for ``uniform``.
    """
    checks.images(images)
    if kind == "black":
        return torch.zeros_like(images)
    if kind == "blur":
        checks.positive(sigma, "sigma")
        size = int(2 * round(3 * sigma) + 1)
        return gaussian_blur(images, kernel_size=[size, size], sigma=[sigma, sigma])
    if kind == "uniform":
        return torch.rand(images.shape, generator=generator).to(images)
    raise ValueError(f"kind must be 'black', 'blur' or 'uniform', got '{kind}'")


def integrated_gradients(model: nn.Module, images: torch.Tensor, target, *, steps: int = 32,
                         reference: str = "black", pixels_per_pass: int = PIXELS_PER_PASS) -> torch.Tensor:
    """Integrated Gradients per channel, ``(N, C, H, W)`` (Sundararajan et al. 2017, *Axiomatic
    attribution for deep networks*), by captum's ``IntegratedGradients`` from the :func:`baseline`
    ``reference``: reduce the result with :func:`channel_reduce`, in as many ways as wanted, from
    one run (the method registry's ``Integrated Gradients`` reduces it by its ``reduction``).

    Cost: ``steps`` forward and backward passes per image. captum's ``internal_batch_size`` counts
    the images of one pass and splits the steps, never the images, so a pass holds at least one
    step of every image (:func:`xaihelpers.evaluation.in_passes` splits the images).
    """
    from captum.attr import IntegratedGradients

    checks.positive_int(steps, "steps")
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    return IntegratedGradients(model).attribute(images, baselines=baseline(images, reference), target=target,
                                                n_steps=steps, internal_batch_size=images_per_pass(images, pixels_per_pass))


def region_sums(pixel_map: torch.Tensor, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate a per-pixel map ``(H, W)`` over the regions of a label image ``(H, W)``.

    Returns:
        ``(labels, sums)``: the sorted region labels and the sum of the map within each region.
        :func:`paint_regions` paints such values back into an image.
    """
    values = pixel_map.detach().cpu().numpy().astype(np.float64)
    labels, inverse = np.unique(segments, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=values.ravel(), minlength=len(labels))
    return labels, sums


def paint_regions(segments: np.ndarray, labels: Iterable[int], values: Iterable[float]) -> np.ndarray:
    """An ``(H, W)`` map in which every pixel carries its region's value."""
    labels = np.asarray(list(labels))
    order = np.argsort(labels)
    positions = order[np.searchsorted(labels, segments, sorter=order)]
    return np.asarray(list(values), dtype=np.float64)[positions]


#: The book's SmoothGrad setting, used by every chapter, the registry and the benchmarks. The
#: SmoothGrad chapter chose it by faithfulness on pollen validation images (deletion and insertion,
#: with the share of the map on the grain beside them), not by the stability of the map, and
#: prints whether its choice still equals this.
SMOOTHGRAD = {"sigma": 0.05, "samples": 50}
#: How the noisy gradients are averaged: ``signed`` as Smilkov et al. define SmoothGrad (the mean
#: of the signed gradients, then its magnitude), ``absolute`` as captum's ``Saliency`` does inside
#: ``NoiseTunnel`` by default (the mean of the absolute gradients).
SMOOTHGRAD_AVERAGES = ("signed", "absolute")


def smoothgrad(model: nn.Module, images: torch.Tensor, target, *, sigma: float = SMOOTHGRAD["sigma"],
               samples: int = SMOOTHGRAD["samples"], average: str = "signed", seed: int = 0,
               pixels_per_pass: int = PIXELS_PER_PASS) -> torch.Tensor:
    """SmoothGrad maps (N, H, W) (Smilkov et al. 2017, *SmoothGrad: removing noise by adding
    noise*): the gradient of the class score averaged over ``samples`` noisy copies of each image,
    ``x + eps``, ``eps ~ N(0, sigma^2)``, then reduced over channels by the maximum absolute value.

    It computes what captum's ``NoiseTunnel`` around ``Saliency`` computes (``nt_type="smoothgrad"``,
    ``stdevs=sigma``), but draws the noise itself with :func:`xaihelpers.repro.gaussian`:
    ``NoiseTunnel`` draws with ``torch.normal``, whose draws from one seed differ between CPUs
    with and without AVX2, so the maps and the numbers printed from them would too.

    Args:
        model: Classifier returning logits.
        images: (N, C, H, W) inputs in [0, 1].
        target: Class index, or one per image.
        sigma: Noise standard deviation as a fraction of the input range.
        samples: Number N of noisy copies per image (N forward and backward passes).
        average: ``signed`` (the paper's: mean of the signed gradients, magnitude taken after
            averaging, so gradients of opposite sign cancel) or ``absolute`` (captum's default:
            mean of the absolute gradients, which never cancel).
        seed: Seeds the noise, drawn from a generator of the call's own (the global ones are not
            touched). Noisy copy ``k`` of every image is the ``k``-th draw for all images, so an
            image gets the same noise whatever ``pixels_per_pass`` is.
        pixels_per_pass: At most this many pixels (images x height x width) go through the
            model at once (:func:`xaihelpers.inference.images_per_pass`): the default, two
            224x224 or 32 pollen images, bounds the memory of the backward pass (about 0.2 GB
            with EfficientNet-Lite0, where 32 images would take 3 GB) and keeps a CPU's caches
            warm. Each pass holds the same number of noisy copies of every image (at least one).
    """
    if average not in SMOOTHGRAD_AVERAGES:
        raise ValueError(f"average must be one of {SMOOTHGRAD_AVERAGES}, got {average!r}")
    total = None
    for gradient in _noisy_gradients(model, images, target, sigma, samples, seed, pixels_per_pass):
        part = (gradient.abs() if average == "absolute" else gradient).sum(dim=0)
        total = part if total is None else total + part
    return channel_reduce(total / samples, "max_abs")


def _noisy_gradients(model: nn.Module, images: torch.Tensor, target, sigma: float, samples: int, seed: int,
                     pixels_per_pass: int) -> Iterator[torch.Tensor]:
    """The class score's gradients at ``samples`` noisy copies of the images, in passes of
    ``(copies, N, C, H, W)``; copy ``k`` of every image is the ``k``-th draw of the seeded generator."""
    checks.images(images)
    target = checks.targets(target, len(images))
    checks.non_negative(sigma, "sigma")
    checks.positive_int(samples, "samples")
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    copies = max(1, min(samples, images_per_pass(images, pixels_per_pass) // len(images)))
    generator = torch.Generator().manual_seed(seed)
    images = images.detach()
    with checks.target_in_range():
        for done in range(0, samples, copies):
            count = min(copies, samples - done)
            noise = repro.gaussian((count, *images.shape), generator).to(images.device, images.dtype)
            noisy = (images + sigma * noise).flatten(0, 1).requires_grad_()
            score = model(noisy).gather(1, target.to(images.device).repeat(count)[:, None]).sum()
            (gradient,) = torch.autograd.grad(score, noisy)
            yield gradient.view(count, *images.shape)


def smoothgrad_sweep(model: nn.Module, images: torch.Tensor, target, *, sigma: float, counts: Sequence[int],
                     seed: int = 0, pixels_per_pass: int = PIXELS_PER_PASS) -> dict[tuple[str, int], torch.Tensor]:
    """:func:`smoothgrad` maps for several sample counts and both averages (``SMOOTHGRAD_AVERAGES``)
    from one run of ``max(counts)`` noisy copies, for a grid over N at a third of the cost.

    The map for count N is :func:`smoothgrad`'s with ``samples=N``, the same ``sigma`` and ``seed``:
    noisy copy ``k`` is the ``k``-th draw in both, so the first N copies of the long run are the
    short run's copies (the two differ only in the order their float sums are taken).

    Returns:
        ``{(average, N): maps (N_images, H, W)}`` for every average and every count.
    """
    wanted = sorted(set(counts))
    if not wanted or any(not isinstance(count, int) or count < 1 for count in wanted):
        raise ValueError(f"counts must be positive integers, got {list(counts)}")
    totals = {average: None for average in SMOOTHGRAD_AVERAGES}
    maps, done = {}, 0

    def add(part: torch.Tensor) -> None:
        for average in SMOOTHGRAD_AVERAGES:
            summed = (part.abs() if average == "absolute" else part).sum(dim=0)
            totals[average] = summed if totals[average] is None else totals[average] + summed

    for gradient in _noisy_gradients(model, images, target, sigma, wanted[-1], seed, pixels_per_pass):
        start = 0
        for count in wanted:
            if done < count <= done + len(gradient):  # a count ends inside this pass: split the pass there
                add(gradient[start:count - done])
                start = count - done
                for average in SMOOTHGRAD_AVERAGES:
                    maps[average, count] = channel_reduce(totals[average] / count, "max_abs")
        if start < len(gradient):
            add(gradient[start:])
        done += len(gradient)
    return maps
