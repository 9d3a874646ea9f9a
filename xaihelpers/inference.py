"""Running a model for inference: eval mode for a block, batches sized by a pixel budget, class
probabilities, accuracy and the confusion matrix.

Everything that *uses* a trained model imports this module (the methods, the evaluation, the
training loop's validation), so it sits at the bottom of the package, below training.
"""

from __future__ import annotations

import contextlib
import copy
import weakref
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
def batch_norms_folded(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """A copy of ``model`` for eval mode in which every ``BatchNorm2d`` that reads a ``Conv2d``'s
    output folds into that convolution's weight and bias (Jacob et al. 2018, *Quantization and
    training of neural networks for efficient integer-arithmetic-only inference*, section 3.2).

    In eval mode a batch norm is an affine map per channel, ``y = (x - mean) * g / sqrt(var + eps)
    + b``, so a convolution followed by it is one convolution with scaled weights and a shifted
    bias: the same function, with one pass over the activations fewer per layer, forward and
    backward. Only the last bits of the sums differ. The model itself is left as it is.

    Args:
        model: The network; its batch norms must keep running statistics (the default).
        example: One input batch. A forward pass finds which batch norm reads which convolution's
            output, and the folded copy must give the model's outputs on it again.

    Raises:
        ValueError: If the copy's outputs on ``example`` differ from the model's beyond rounding:
            a folded convolution's output is then also used without its batch norm.
    """
    folded = copy.deepcopy(model).eval()
    produced_by: dict[int, tuple[nn.Module, torch.Tensor]] = {}
    pairs: list[tuple[nn.Module, nn.Module]] = []

    def after_conv(conv, inputs, output):
        produced_by[id(output)] = (conv, output)  # the tensor is kept, so its id is not reused meanwhile

    def after_norm(norm, inputs, output):
        conv, _ = produced_by.get(id(inputs[0]), (None, None))
        if conv is not None and norm.track_running_stats and norm.running_var is not None:
            pairs.append((conv, norm))

    hooks = [module.register_forward_hook(after_conv if isinstance(module, nn.Conv2d) else after_norm)
             for module in folded.modules() if isinstance(module, (nn.Conv2d, nn.BatchNorm2d))]
    try:
        folded(example)
    finally:
        for hook in hooks:
            hook.remove()
    produced_by.clear()
    parents = {child: (parent, name) for parent in folded.modules() for name, child in parent.named_children()}
    for conv, norm in pairs:
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        shift = -norm.running_mean * scale + (norm.bias if norm.bias is not None else 0)
        bias = shift if conv.bias is None else conv.bias * scale + shift
        conv.weight = nn.Parameter(conv.weight * scale.view(-1, *[1] * (conv.weight.dim() - 1)),
                                   requires_grad=conv.weight.requires_grad)
        conv.bias = nn.Parameter(bias, requires_grad=conv.weight.requires_grad)
        parent, name = parents[norm]
        setattr(parent, name, nn.Identity())
    with eval_mode(model):
        expected = model(example)
    tolerance = 1e3 * torch.finfo(expected.dtype).eps * expected.abs().max().clamp_min(1.0)
    if (folded(example) - expected).abs().max() > tolerance:
        raise ValueError("Folding the batch norms into their convolutions changed the outputs: a convolution's "
                         "output is also used without its batch norm. Use the model unfolded.")
    return folded


#: The folded copies :func:`for_inference` made, with the state of the model each was made from.
_FOLDED: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, Optional[nn.Module]]]" = weakref.WeakKeyDictionary()


def _has_hooks(model: nn.Module) -> bool:
    """Whether a hook (or a forward set on the instance) could make a copy compute something else."""
    from torch.nn.modules import module as torch_module

    global_hooks = (torch_module._global_forward_hooks, torch_module._global_forward_pre_hooks,
                    torch_module._global_backward_hooks, torch_module._global_backward_pre_hooks)
    return any(global_hooks) or any(
        module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks
        or "forward" in vars(module) for module in model.modules())


def _state(model: nn.Module) -> tuple:
    """What a folded copy depends on: the modules and their modes, and every weight and buffer
    (an in-place change raises a tensor's version, a new tensor has another address)."""
    tensors = [*model.parameters(), *model.buffers()]
    return (tuple((id(module), module.training) for module in model.modules()),
            tuple((id(tensor), tensor.data_ptr(), tensor._version) for tensor in tensors))


def for_inference(model: nn.Module, example: torch.Tensor) -> nn.Module:
    """The network to run ``model``'s forward passes with, where no gradient is needed: its
    :func:`batch_norms_folded` copy (1.1x to 1.3x faster per pass for the book's models), made once
    and kept while the model's weights, buffers, modules and modes stay as they are; or ``model``
    itself where folding does not apply: a module in training mode (a batch norm's statistics, a
    dropout's draws), a hook on a module (a method's own hooks, a pass counter), no batch norm after
    a convolution, or a copy whose outputs on ``example`` would differ.

    The copy computes the same function; its outputs differ from the model's in the last bits only
    (about 1e-7 of the largest logit in float32), as they differ between CPUs with other vector
    instructions. Not for gradients: where such a difference moves an activation across a ReLU's
    kink, a pixel's gradient changes by far more: with the copy, a SmoothGrad score of chapter 6
    changed its second decimal and no longer printed the same on every CPU (the crosscheck).
    """
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms or any(module.training for module in model.modules()) or _has_hooks(model):
        return model
    state = _state(model)
    kept = _FOLDED.get(model)
    if kept is not None and kept[0] == state:
        return kept[1] if kept[1] is not None else model
    try:
        folded = batch_norms_folded(model, example)
    except ValueError:
        folded = None
    if folded is not None and sum(isinstance(module, nn.modules.batchnorm._BatchNorm)
                                  for module in folded.modules()) == len(norms):
        folded = None  # no batch norm follows a convolution: nothing to gain
    _FOLDED[model] = (state, folded)
    return folded if folded is not None else model


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
