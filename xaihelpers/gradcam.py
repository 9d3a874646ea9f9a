"""Grad-CAM maps ready to overlay: captum's ``LayerGradCam`` and a one-pass, many-layer variant.

Grad-CAM (Selvaraju et al. 2017, *Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization*, ICCV) weights each channel ``k`` of a convolutional layer's output
``A`` by the spatial mean of the class score's gradient, ``alpha_k = mean_ij dy_c / dA_kij``, and
keeps the positive part of the weighted sum, ``ReLU(sum_k alpha_k A_k)``.

The channel weights are an extension point, as ``BaseCAM.get_cam_weights`` is in pytorch-grad-cam
(Gildenblat et al.): :func:`grad_cam_layers` takes ``weights=``, a :data:`~xaihelpers.typing.CamWeights` function of
the activations and the gradients, :func:`mean_gradient_weights` (Grad-CAM's) by default. The score
can be a class index per image or, as pytorch-grad-cam's ``ClassifierOutputTarget`` is, a callable
(:data:`~xaihelpers.typing.ScoreTarget`, e.g. :class:`ClassScore`) that maps the model's output to one score per image.

Cost (per image): :func:`grad_cam` makes 1 forward and 1 backward pass per layer;
:func:`grad_cam_layers` makes 1 forward and 1 backward pass for all its layers together. Both run
the batch in passes of at most ``pixels_per_pass`` pixels (default
:data:`xaihelpers.inference.PIXELS_PER_PASS`, two 224 x 224 images), which bounds the memory of the
backward pass (about 0.2 GB with EfficientNet-Lite0, where six images at once took 0.5 GB) and
gives the same maps.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from xaihelpers import checks
from xaihelpers.hooks import LayerRecorder, get_layer, layer_name
from xaihelpers.inference import PIXELS_PER_PASS, images_per_pass
from xaihelpers.typing import CamWeights, LayerRef, ScoreTarget


class ClassScore:
    """The logit of one class: ``ClassScore(c)(outputs) == outputs[:, c]`` (for a single output
    row, ``outputs[c]``), the counterpart of pytorch-grad-cam's ``ClassifierOutputTarget(c)``.

    Raises:
        ValueError: If ``category`` is not a non-negative integer.
    """

    def __init__(self, category: int) -> None:
        if isinstance(category, bool) or not isinstance(category, int) or category < 0:
            raise ValueError(f"category must be a non-negative class index, got {category!r}.")
        self.category = category

    def __call__(self, outputs: torch.Tensor) -> torch.Tensor:
        if outputs.shape[-1] <= self.category:
            raise ValueError(f"ClassScore({self.category}) asks for a class the model does not have: its "
                             f"output has {outputs.shape[-1]} classes.")
        return outputs[..., self.category]

    def __repr__(self) -> str:
        return f"ClassScore({self.category})"


def mean_gradient_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM's channel weights (Selvaraju et al. 2017, Eq. 1): the spatial mean of the gradient,
    ``alpha_k = mean_ij dy / dA_kij``, ``(N, K)``."""
    return gradients.mean(dim=(2, 3))


def _is_score_function(target) -> bool:
    return callable(target) and not isinstance(target, torch.Tensor)


def _per_image_functions(target) -> bool:
    return (isinstance(target, (list, tuple)) and len(target) > 0
            and all(_is_score_function(item) for item in target))


def _checked_target(target: ScoreTarget, count: int):
    """Class indices as a tensor (checked), or the score function(s) as given (count checked)."""
    if _is_score_function(target):
        return target
    if _per_image_functions(target):
        if len(target) != count:
            raise ValueError(f"Give one score function per image: {count} images, {len(target)} functions.")
        return list(target)
    if isinstance(target, (list, tuple)) and any(_is_score_function(item) for item in target):
        raise TypeError("target mixes class indices and score functions; give one kind for every image.")
    return checks.targets(target, count)


def _scores(outputs: torch.Tensor, target) -> torch.Tensor:
    """One score per image, ``(N,)``, from the model's outputs and a checked target."""
    if isinstance(target, torch.Tensor):
        labels = checks.targets(target, len(outputs), classes=outputs.shape[1])
        return outputs.gather(1, labels.view(-1, 1))[:, 0]
    if isinstance(target, list):
        scores = torch.stack([torch.as_tensor(score(row)).reshape(()) for score, row in zip(target, outputs)])
    else:
        scores = target(outputs)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (len(outputs),):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"The score function must give one score per image, ({len(outputs)},), got {shape}.")
    return scores


def _passes(images: torch.Tensor, target, pixels_per_pass: int) -> Iterator[tuple[torch.Tensor, object]]:
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    per_pass = images_per_pass(images, pixels_per_pass)
    for start in range(0, len(images), per_pass):
        part = target if _is_score_function(target) else target[start:start + per_pass]
        yield images[start:start + per_pass], part


class _Scored(nn.Module):
    """The model's score for a score-function target as a ``(N, 1)`` output, for captum."""

    def __init__(self, model: nn.Module, target) -> None:
        super().__init__()
        self.model, self.target = model, target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _scores(self.model(x), self.target)[:, None]


def normalize_maps(maps: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Scale each map of ``(N, H, W)`` to ``[0, 1]`` by its own maximum (all-zero maps stay zero)."""
    peak = maps.flatten(1).amax(dim=1).clamp_min(eps).view(-1, 1, 1)
    return maps.clamp_min(0) / peak


def _finish(maps: torch.Tensor, size: tuple[int, int], upsample: bool, normalize: bool) -> torch.Tensor:
    if upsample:
        maps = LayerAttribution.interpolate(maps, size, interpolate_mode="bilinear")
    maps = maps[:, 0].detach()
    return normalize_maps(maps) if normalize else maps


def grad_cam(model: nn.Module, layer: LayerRef, images: torch.Tensor, target: ScoreTarget, *, upsample: bool = True,
             normalize: bool = True, relu: bool = True, pixels_per_pass: int = PIXELS_PER_PASS) -> torch.Tensor:
    """Grad-CAM of ``target`` at ``layer`` for a batch, computed by captum's ``LayerGradCam``.

    Args:
        model: Classifier returning logits ``(N, classes)``.
        layer: Convolutional layer (dotted name or module) whose output is explained.
        images: Input batch ``(N, C, H, W)``.
        target: Class index for all images, or one per image; or a :data:`~xaihelpers.typing.ScoreFunction` (such as
            :class:`ClassScore`), or one per image (see :data:`~xaihelpers.typing.ScoreTarget`).
        upsample: Bilinearly resize the maps to the input's ``H x W``.
        normalize: Scale each map to ``[0, 1]`` (Grad-CAM's scale is not comparable across images).
        relu: Keep only the positive part of the weighted sum, as Grad-CAM does; ``False`` returns
            the signed sum (its negative regions speak against the class; use it with
            ``normalize=False``, which would clip them).
        pixels_per_pass: At most this many pixels (images x height x width) per forward and
            backward pass (:func:`xaihelpers.inference.images_per_pass`; at least one image).

    Returns:
        Maps ``(N, H, W)`` (or the layer's resolution if ``upsample`` is false), non-negative
        unless ``relu`` is false.
    """
    checks.images(images)
    module = get_layer(model, layer)
    targets = _checked_target(target, images.shape[0])
    parts = []
    with checks.target_in_range():
        for chunk, part in _passes(images, targets, pixels_per_pass):
            if isinstance(part, torch.Tensor):
                explainer, labels = LayerGradCam(model, module), part.tolist()
            else:
                explainer, labels = LayerGradCam(_Scored(model, part), module), 0
            parts.append(explainer.attribute(chunk, target=labels, relu_attributions=relu).detach())
    return _finish(torch.cat(parts), tuple(images.shape[-2:]), upsample, normalize)


def grad_cam_layers(model: nn.Module, layers: Sequence[LayerRef], images: torch.Tensor, target: ScoreTarget, *,
                    upsample: bool = True, normalize: bool = True, weights: CamWeights = mean_gradient_weights,
                    pixels_per_pass: int = PIXELS_PER_PASS) -> dict[str, torch.Tensor]:
    """Grad-CAM at many layers from a single forward and backward pass, with any channel weights.

    The same quantity as :func:`grad_cam` layer by layer, but the activations and gradients of
    every layer are recorded by forward hooks (:class:`~xaihelpers.hooks.LayerRecorder`) during one
    pass, which is what makes a layer-by-layer comparison cheap. The gradients come from
    ``torch.autograd.grad``, so the ``.grad`` of the model's parameters is left as it was. The map
    of a layer is ``ReLU(sum_k w_k A_k)`` with ``w = weights(A, dy/dA)``: Grad-CAM's spatial mean
    of the gradient by default (Selvaraju et al. 2017), any other pooling as one argument, the
    way pytorch-grad-cam's CAM variants override ``BaseCAM.get_cam_weights``::

        grad_cam_layers(model, ["layer4"], images, 3, weights=lambda a, g: g.amax(dim=(2, 3)))

    Args:
        model: Classifier returning logits ``(N, classes)``.
        layers: Layers (dotted names or modules) whose outputs are explained.
        images: Input batch ``(N, C, H, W)``.
        target: Class index for all images, or one per image; or a :data:`~xaihelpers.typing.ScoreFunction` (such as
            :class:`ClassScore`), or one per image (see :data:`~xaihelpers.typing.ScoreTarget`).
        upsample: Bilinearly resize the maps to the input's ``H x W``.
        normalize: Scale each map to ``[0, 1]``.
        weights: ``weights(activations, gradients)``, both ``(N, K, h, w)``, giving ``(N, K)``
            channel weights (or ``(N, K, h, w)`` per-position ones); see :data:`~xaihelpers.typing.CamWeights`.
        pixels_per_pass: At most this many pixels (images x height x width) per forward and
            backward pass (:func:`xaihelpers.inference.images_per_pass`; at least one image).

    Returns:
        Layer name -> maps ``(N, H, W)``, in the order of ``layers``.

    Raises:
        ValueError: If ``weights`` gives neither ``(N, K)`` nor ``(N, K, h, w)``, or a score
            function does not give one score per image.
    """
    checks.images(images)
    if not len(layers):
        raise ValueError("layers is empty; name at least one layer (model.named_modules() lists them).")
    if not callable(weights):
        raise TypeError(f"weights must be a function weights(activations, gradients), got {type(weights).__name__}.")
    names = [layer_name(model, layer) for layer in layers]
    for name in names:
        get_layer(model, name)  # an unknown name fails here, listing names the model has
    targets = _checked_target(target, images.shape[0])
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for chunk, part in _passes(images, targets, pixels_per_pass):
        with torch.enable_grad(), LayerRecorder(model, names, detach=False) as recorder:
            score = _scores(model(chunk), part).sum()
            # autograd.grad, not backward(): the caller's parameters keep their .grad.
            activations = [recorder.activations[name] for name in names]
            gradients = torch.autograd.grad(score, activations, allow_unused=True)
        for name, activation, gradient in zip(names, activations, gradients):
            activation = activation.detach()
            gradient = torch.zeros_like(activation) if gradient is None else gradient
            cam = F.relu((_channel_weights(weights, activation, gradient, name) * activation).sum(dim=1, keepdim=True))
            parts[name].append(_finish(cam, tuple(images.shape[-2:]), upsample, normalize))
    return {name: torch.cat(values) for name, values in parts.items()}


def _channel_weights(weights: CamWeights, activation: torch.Tensor, gradient: torch.Tensor,
                     name: str) -> torch.Tensor:
    alpha = weights(activation, gradient)
    if isinstance(alpha, torch.Tensor) and tuple(alpha.shape) == tuple(activation.shape[:2]):
        return alpha[:, :, None, None]
    if isinstance(alpha, torch.Tensor) and alpha.shape == activation.shape:
        return alpha
    shape = tuple(alpha.shape) if isinstance(alpha, torch.Tensor) else type(alpha).__name__
    raise ValueError(f"weights must give (N, K) = {tuple(activation.shape[:2])} channel weights (or "
                     f"{tuple(activation.shape)}) for layer '{name}', got {shape}.")
