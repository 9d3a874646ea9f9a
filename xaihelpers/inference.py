"""Running a model for inference: eval mode for a block, batches sized by a pixel budget, class
probabilities, accuracy and the confusion matrix.

Everything that *uses* a trained model imports this module (the methods, the evaluation, the
training loop's validation), so it sits at the bottom of the package, below training.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Sequence

import torch
from torch import nn

from xaihelpers import checks


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` in ``[0, 255]`` -> float in ``[0, 1]`` (float input is returned as is)."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


#: Pixels (images x height x width) per inference pass. On a CPU a batch whose activations
#: outgrow the caches is slower per image; measured here (2 cores), forward passes of 128 CIFAR
#: images, 32 pollen images or 2 ImageNet images at a time are 1.3x to 1.8x faster per image than
#: the 256-500 CIFAR or 64 pollen images per pass the book used before (``make bench``).
PIXELS_PER_PASS = 2**17


def images_per_pass(images: torch.Tensor | Sequence[int], pixels: int = PIXELS_PER_PASS) -> int:
    """How many images of this size go through a model at once for inference (at least one).

    Args:
        images: A batch ``(N, C, H, W)`` / ``(N, H, W, C)`` tensor or array, or its shape; the
            two spatial sizes are read from it.
        pixels: Budget of images x height x width per pass.
    """
    shape = tuple(images.shape) if hasattr(images, "shape") else tuple(images)
    height, width = (shape[-3], shape[-2]) if shape[-1] in (1, 3) and shape[-3] not in (1, 3) else shape[-2:]
    return max(1, pixels // (int(height) * int(width)))


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module of ``model`` in eval mode for a block, and give each its own mode back."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.training = mode


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Stop every parameter of ``model`` from requiring a gradient for a block, and give each its
    own setting back after it (also after an error): for methods that need the gradient of the
    input alone. PyTorch's own layers skip a parameter's gradient that nothing asks for, but a
    custom autograd function (the float64 depthwise convolution of
    :func:`xaihelpers.classvis.depthwise_conv2d_as_sums`) computes every gradient its inputs require."""
    settings = {parameter: parameter.requires_grad for parameter in model.parameters()}
    for parameter in settings:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, setting in settings.items():
            parameter.requires_grad_(setting)


@contextlib.contextmanager
def restoring(model: nn.Module) -> Iterator[nn.Module]:
    """Give every module its mode and every parameter its ``.grad`` back after the block: for
    libraries that switch a model to eval mode or zero its gradients (shap does both)."""
    modes = {module: module.training for module in model.modules()}
    grads = {p: (None if p.grad is None else p.grad.clone()) for p in model.parameters()}
    try:
        yield model
    finally:
        for module, mode in modes.items():
            module.training = mode
        for p, grad in grads.items():
            p.grad = grad


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, *, pixels_per_pass: int = PIXELS_PER_PASS,
                  device: Optional[torch.device | str] = None) -> torch.Tensor:
    """Softmax probabilities of ``model`` in eval mode for a tensor of images, in passes of
    :func:`images_per_pass` images; the model's mode is restored afterwards.

    ``device`` is where ``model`` already is (the CPU by default); the result is on the CPU.
    """
    checks.images(images)
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    batch_size = images_per_pass(images, pixels_per_pass)
    with eval_mode(model):
        outputs = [model(to_float(images[i:i + batch_size]).to(device or "cpu")).softmax(dim=1).cpu()
                   for i in range(0, len(images), batch_size)]
    return torch.cat(outputs)


def mean_cross_entropy(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The test loss the models were trained with: mean of ``-log p(true class)`` over the images.

    Args:
        probabilities: ``(N, classes)`` predicted probabilities (rows sum to 1).
        labels: ``(N,)`` true classes.
    """
    if probabilities.dim() != 2 or labels.shape != probabilities.shape[:1]:
        raise ValueError(f"probabilities must be (N, classes) and labels (N,), got {tuple(probabilities.shape)} "
                         f"and {tuple(labels.shape)}.")
    chosen = probabilities.gather(1, labels.long().view(-1, 1))[:, 0]
    return -chosen.clamp_min(1e-12).log().mean().item()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             device: Optional[torch.device | str] = None) -> float:
    """Top-1 accuracy of ``model`` on ``images``."""
    return (predict_proba(model, images, device=device).argmax(dim=1) == labels).float().mean().item()


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """``(classes, classes)`` counts, row = true class, column = predicted class (scikit-learn's
    ``confusion_matrix`` with every class listed, so an unpredicted class keeps its column)."""
    from sklearn.metrics import confusion_matrix as counts

    return torch.from_numpy(counts(labels.cpu().numpy(), predicted.cpu().numpy(), labels=list(range(classes))))
