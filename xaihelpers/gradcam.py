"""Grad-CAM maps ready to overlay: captum's ``LayerGradCam`` and a one-pass, many-layer variant.

Grad-CAM (Selvaraju et al. 2017, *Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization*, ICCV) weights each channel ``k`` of a convolutional layer's output
``A`` by the spatial mean of the class score's gradient, ``alpha_k = mean_ij dy_c / dA_kij``, and
keeps the positive part of the weighted sum, ``ReLU(sum_k alpha_k A_k)``.

Cost (per image): :func:`grad_cam` makes 1 forward and 1 backward pass per layer;
:func:`grad_cam_layers` makes 1 forward and 1 backward pass for all its layers together. Both run
the batch in passes of at most :data:`PIXELS_PER_PASS` pixels (two 224 x 224 images), which bounds
the memory of the backward pass (about 0.2 GB with EfficientNet-Lite0, where six images at once
took 0.5 GB) and gives the same maps.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from xaihelpers import checks
from xaihelpers.hooks import LayerRecorder, LayerRef, get_layer, layer_name

Target = Union[int, Sequence[int], torch.Tensor]
#: Pixels (images x height x width) per forward and backward pass.
PIXELS_PER_PASS = 2 * 224 * 224


def _passes(images: torch.Tensor, targets: torch.Tensor):
    per_pass = max(1, PIXELS_PER_PASS // (images.shape[-2] * images.shape[-1]))
    return zip(torch.split(images, per_pass), torch.split(targets, per_pass))


def normalize_maps(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each map of ``(N, H, W)`` to ``[0, 1]`` by its own maximum (all-zero maps stay zero)."""
    peak = maps.flatten(1).amax(dim=1).clamp_min(eps).view(-1, 1, 1)
    return maps.clamp_min(0) / peak


def _finish(maps: torch.Tensor, size: tuple[int, int], upsample: bool, normalize: bool) -> torch.Tensor:
    if upsample:
        maps = LayerAttribution.interpolate(maps, size, interpolate_mode="bilinear")
    maps = maps[:, 0].detach()
    return normalize_maps(maps) if normalize else maps


def grad_cam(
    model: nn.Module,
    layer: LayerRef,
    images: torch.Tensor,
    target: Target,
    *,
    upsample: bool = True,
    normalize: bool = True,
    relu: bool = True,
) -> torch.Tensor:
    """Grad-CAM of ``target`` at ``layer`` for a batch, computed by captum's ``LayerGradCam``.

    Args:
        model: Classifier returning logits ``(N, classes)``.
        layer: Convolutional layer (dotted name or module) whose output is explained.
        images: Input batch ``(N, C, H, W)``.
        target: Class index for all images, or one per image.
        upsample: Bilinearly resize the maps to the input's ``H x W``.
        normalize: Scale each map to ``[0, 1]`` (Grad-CAM's scale is not comparable across images).
        relu: Keep only the positive part of the weighted sum, as Grad-CAM does; ``False`` returns
            the signed sum (its negative regions speak against the class; use it with
            ``normalize=False``, which would clip them).

    Returns:
        Maps ``(N, H, W)`` (or the layer's resolution if ``upsample`` is false), non-negative
        unless ``relu`` is false.
    """
    checks.images(images)
    module = get_layer(model, layer)
    targets = checks.targets(target, images.shape[0])
    explainer = LayerGradCam(model, module)
    with checks.target_in_range():
        attribution = torch.cat([explainer.attribute(chunk, target=labels.tolist(), relu_attributions=relu).detach()
                                 for chunk, labels in _passes(images, targets)])
    return _finish(attribution, tuple(images.shape[-2:]), upsample, normalize)


def grad_cam_layers(
    model: nn.Module,
    layers: Sequence[LayerRef],
    images: torch.Tensor,
    target: Target,
    *,
    upsample: bool = True,
    normalize: bool = True,
) -> dict[str, torch.Tensor]:
    """Grad-CAM at many layers from a single forward and backward pass.

    The same quantity as :func:`grad_cam` layer by layer, but the activations and gradients of
    every layer are recorded by forward hooks (:class:`~xaihelpers.hooks.LayerRecorder`) during one
    pass, which is what makes a layer-by-layer comparison cheap. The gradients come from
    ``torch.autograd.grad``, so the ``.grad`` of the model's parameters is left as it was.

    Args:
        model: Classifier returning logits ``(N, classes)``.
        layers: Layers (dotted names or modules) whose outputs are explained.
        images: Input batch ``(N, C, H, W)``.
        target: Class index for all images, or one per image.
        upsample: Bilinearly resize the maps to the input's ``H x W``.
        normalize: Scale each map to ``[0, 1]``.

    Returns:
        Layer name -> maps ``(N, H, W)``, in the order of ``layers``.
    """
    checks.images(images)
    if not len(layers):
        raise ValueError("layers is empty; name at least one layer (model.named_modules() lists them).")
    names = [layer_name(model, layer) for layer in layers]
    for name in names:
        get_layer(model, name)  # an unknown name fails here, listing names the model has
    targets = checks.targets(target, images.shape[0])
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for chunk, labels in _passes(images, targets):
        with torch.enable_grad(), LayerRecorder(model, names, detach=False) as recorder:
            logits = model(chunk)
            labels = checks.targets(labels, len(chunk), classes=logits.shape[1])
            score = logits.gather(1, labels.view(-1, 1)).sum()
            # autograd.grad, not backward(): the caller's parameters keep their .grad.
            activations = [recorder.activations[name] for name in names]
            gradients = torch.autograd.grad(score, activations, allow_unused=True)
        for name, activation, gradient in zip(names, activations, gradients):
            activation = activation.detach()
            gradient = torch.zeros_like(activation) if gradient is None else gradient
            weights = gradient.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
            parts[name].append(_finish(cam, tuple(images.shape[-2:]), upsample, normalize))
    return {name: torch.cat(values) for name, values in parts.items()}
