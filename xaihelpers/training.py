"""The book's own training loop for the small models it trains (pollen CNN, CIFAR CNNs, the
continual learners), with the hooks continual-learning strategies need.

Small data sets are held in memory as one uint8 tensor, augmented on the fly with batched tensor
operations, and trained with a seeded generator, so a training run is one reproducible command.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xaihelpers import checks, repro

if TYPE_CHECKING:
    from xaihelpers.strategies import Strategy

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def random_crops(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crops of the reflect-padded images (shifts of up to ``padding`` pixels), per image;
    no flips (for labels that a mirror image would change, such as a rotation's)."""
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    top = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    rows = (top[:, None] + torch.arange(height))[:, None, :, None]
    cols = (left[:, None] + torch.arange(width))[:, None, None, :]
    return padded[torch.arange(batch)[:, None, None, None], torch.arange(images.shape[1])[None, :, None, None],
                  rows, cols]


def crops_and_flips(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crops of the reflect-padded images (shifts of up to ``padding`` pixels) and random
    horizontal flips, per image: the usual augmentation for CIFAR photographs.
    """
    cropped = random_crops(images, generator, padding)
    flip = torch.rand(len(images), generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), cropped.flip(-1), cropped)


def flips_and_rotations(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal/vertical flips and quarter turns, per image.

    Suited to microscope images, which have no canonical orientation. Square images only.
    """
    batch = images.shape[0]
    flip_h = torch.rand(batch, generator=generator) < 0.5
    flip_v = torch.rand(batch, generator=generator) < 0.5
    turns = torch.randint(0, 4, (batch,), generator=generator)
    images = torch.where(flip_h.view(-1, 1, 1, 1), images.flip(-1), images)
    images = torch.where(flip_v.view(-1, 1, 1, 1), images.flip(-2), images)
    rotated = [torch.rot90(images, k, dims=(-2, -1)) for k in range(4)]
    choice = turns.view(-1, 1, 1, 1)
    return sum(torch.where(choice == k, rotated[k], torch.zeros_like(images)) for k in range(4))


@dataclass
class History:
    """Per-epoch training loss and validation accuracy."""

    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` in ``[0, 255]`` -> float in ``[0, 1]`` (float input is returned as is)."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def channel_statistics(images: torch.Tensor, every: int = 1) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` images scaled to ``[0, 1]``,
    from every ``every``-th image: the input normalisation a network of the book is built with."""
    pixels = to_float(images[::every])
    return pixels.mean(dim=(0, 2, 3)).tolist(), pixels.std(dim=(0, 2, 3)).tolist()


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
def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: Optional[int] = None,
                  device: Optional[torch.device | str] = None) -> torch.Tensor:
    """Softmax probabilities of ``model`` in eval mode for a tensor of images, in batches; the
    model's mode is restored afterwards.

    ``batch_size`` defaults to :func:`images_per_pass`. ``device`` is where ``model`` already is
    (the CPU by default); the result is on the CPU.
    """
    checks.images(images)
    batch_size = images_per_pass(images) if batch_size is None else batch_size
    checks.positive_int(batch_size, "batch_size")
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


def fit(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    weight_decay: float = 5e-4,
    augment: Optional[Augment] = None,
    validation: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
    seed: int = 0,
    generator: Optional[torch.Generator] = None,
    parameters: Optional[Iterable[nn.Parameter]] = None,
    task: int = 0,
    head: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None,
    strategy: Optional["Strategy"] = None,
    progress: bool = True,
    device: Optional[torch.device | str] = None,
) -> History:
    """Train ``model`` on one task with AdamW and a one-cycle learning-rate schedule: the book's
    one training loop, for the pollen and CIFAR CNNs and, task after task, the continual learners.

    Args:
        model: The network (trained in place; left on the CPU in eval mode).
        images: Training images, uint8 or float ``(N, C, H, W)``.
        labels: ``(N,)`` class indices (local to ``task`` for a multi-head network).
        epochs: Passes over the training set.
        batch_size: Images per step (a strategy's extra batch comes on top).
        learning_rate: Peak learning rate.
        weight_decay: AdamW weight decay.
        augment: Batched augmentation ``(images, generator) -> images``, applied to the
            strategy's extra images too.
        validation: ``(images, labels)`` evaluated after every epoch.
        seed: Seeds the shuffling and the augmentation (unless ``generator`` is given) and
            dropout; the global generator is restored afterwards.
        generator: The generator of the shuffling and the augmentation, for a run that spans
            several calls (a task sequence); a fresh one seeded with ``seed`` by default.
        parameters: What the optimiser updates (default: all of ``model``'s parameters).
        task: The task these images belong to (continual learning); every step passes each
            image's task to ``head``.
        head: ``head(outputs, tasks) -> logits`` picks each row's logits from a multi-head
            network's outputs (:func:`xaihelpers.strategies.task_logits`); default: the outputs.
        strategy: A :class:`xaihelpers.strategies.Strategy` whose hooks add images to each batch,
            a term to each loss, and act once the task is learned; default: none.
        progress: Show a tqdm bar over the steps.
        device: Where the model runs (it is moved there and back to the CPU at the end); the data
            stay on the CPU and each augmented batch is moved. Defaults to the CPU.

    Returns:
        The :class:`History` of the run.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = torch.device(device or "cpu")
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters() if parameters is None else parameters, lr=learning_rate,
                                  weight_decay=weight_decay)
    steps_per_epoch = (len(images) + batch_size - 1) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=epochs * steps_per_epoch
    )
    history = History()
    bar = tqdm(total=epochs * steps_per_epoch, unit="step", disable=not progress)
    with repro.seeded(seed, device):  # dropout draws from the global generator
        for epoch in range(epochs):
            bar.set_description(f"task {task}, epoch {epoch + 1}/{epochs}" if head else f"epoch {epoch + 1}/{epochs}")
            model.train()
            order = torch.randperm(len(images), generator=generator)
            total = 0.0
            for start in range(0, len(images), batch_size):
                index = order[start:start + batch_size]
                batch, batch_labels = to_float(images[index]), labels[index]
                if augment is not None:
                    batch = augment(batch, generator)
                tasks = torch.full((len(index),), task)
                extra = strategy.extra_batch(len(index), generator) if strategy is not None else None
                if extra is not None:
                    extra_images, extra_tasks, extra_labels = extra
                    extra_images = to_float(extra_images)
                    if augment is not None:
                        extra_images = augment(extra_images, generator)
                    batch, tasks = torch.cat([batch, extra_images]), torch.cat([tasks, extra_tasks])
                    batch_labels = torch.cat([batch_labels, extra_labels])
                outputs = model(batch.to(device))
                logits = outputs if head is None else head(outputs, tasks.to(device))
                loss = F.cross_entropy(logits, batch_labels.to(device))
                penalty = strategy.extra_loss(model) if strategy is not None else None
                if penalty is not None:
                    loss = loss + penalty
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item() * len(index)
                bar.update()
            history.train_loss.append(total / len(images))
            if validation is not None:
                history.val_accuracy.append(accuracy(model, *validation, device=device))
                bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}", val=f"{history.val_accuracy[-1]:.3f}")
            else:
                bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
    bar.close()
    model.to("cpu").eval()
    if strategy is not None:
        strategy.after_task(model, images, labels, task, generator)
    return history


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """``(classes, classes)`` counts, row = true class, column = predicted class (scikit-learn's
    ``confusion_matrix`` with every class listed, so an unpredicted class keeps its column)."""
    from sklearn.metrics import confusion_matrix as counts

    return torch.from_numpy(counts(labels.cpu().numpy(), predicted.cpu().numpy(), labels=list(range(classes))))
