"""The book's own training loop for the small models it trains (pollen CNN, CIFAR CNNs).

Small data sets are held in memory as one uint8 tensor, augmented on the fly with batched tensor
operations, and trained with a seeded generator, so a training run is one reproducible command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xaihelpers import checks

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def crops_and_flips(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random crops of the reflect-padded images (shifts of up to ``padding`` pixels) and random
    horizontal flips, per image: the usual augmentation for CIFAR photographs.
    """
    batch, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    top = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    rows = (top[:, None] + torch.arange(height))[:, None, :, None]
    cols = (left[:, None] + torch.arange(width))[:, None, None, :]
    cropped = padded[torch.arange(batch)[:, None, None, None], torch.arange(images.shape[1])[None, :, None, None],
                     rows, cols]
    flip = torch.rand(batch, generator=generator) < 0.5
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


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: Optional[int] = None,
                  device: Optional[torch.device | str] = None) -> torch.Tensor:
    """Softmax probabilities of ``model`` (put in eval mode) for a tensor of images, in batches.

    ``batch_size`` defaults to :func:`images_per_pass`. ``device`` is where ``model`` already is
    (the CPU by default); the result is on the CPU.
    """
    checks.images(images)
    batch_size = images_per_pass(images) if batch_size is None else batch_size
    checks.positive_int(batch_size, "batch_size")
    model.eval()
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
    progress: bool = True,
    device: Optional[torch.device | str] = None,
) -> History:
    """Train ``model`` with AdamW and a one-cycle learning-rate schedule.

    Args:
        model: The network (trained in place).
        images: Training images, uint8 or float ``(N, C, H, W)``.
        labels: ``(N,)`` class indices.
        epochs: Passes over the training set.
        batch_size: Images per step.
        learning_rate: Peak learning rate.
        weight_decay: AdamW weight decay.
        augment: Batched augmentation ``(images, generator) -> images``.
        validation: ``(images, labels)`` evaluated after every epoch.
        seed: Seeds the shuffling, the augmentation and dropout.
        progress: Show a tqdm bar over epochs.
        device: Where the model runs (it is moved there and back to the CPU at the end); the data
            stay on the CPU and each augmented batch is moved. Defaults to the CPU.

    Returns:
        The :class:`History` of the run.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    device = torch.device(device or "cpu")
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = (len(images) + batch_size - 1) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=epochs * steps_per_epoch
    )
    history = History()
    bar = tqdm(total=epochs * steps_per_epoch, unit="step", disable=not progress)
    for epoch in range(epochs):
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        model.train()
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for start in range(0, len(images), batch_size):
            index = order[start:start + batch_size]
            batch = to_float(images[index])
            if augment is not None:
                batch = augment(batch, generator)
            loss = F.cross_entropy(model(batch.to(device)), labels[index].to(device))
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
    return history


def save_checkpoint(payload: dict, path: Path, overwrite: bool = False) -> Path:
    """``torch.save`` a checkpoint dictionary (tensors, lists, numbers, strings: loadable with
    ``weights_only=True``) through a temporary file, so a crash never leaves half a file; refuses
    to replace an existing file unless ``overwrite``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --force (overwrite=True) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return path


class CheckpointError(ValueError):
    """A checkpoint file that exists but cannot be used (truncated, corrupt, or of another model)."""


def _restore_hint(path: Path) -> str:
    """How to get a shipped checkpoint back: from git in a checkout, else by reinstalling."""
    from xaihelpers import data

    if data.REPO_ROOT is not None:
        return f"Restore the committed file with 'git checkout -- {path.relative_to(data.REPO_ROOT) if path.is_relative_to(data.REPO_ROOT) else path}'"
    return ("It ships with the package: reinstall it "
            "('pip install --force-reinstall --no-deps xaihelpers' from where you installed it)")


def load_checkpoint(path: Path, keys: Sequence[str], retrain: str) -> dict:
    """Load a checkpoint dictionary with ``torch.load(..., weights_only=True)`` and check its keys.

    Args:
        path: The checkpoint file.
        keys: Entries the caller needs (e.g. ``("state_dict", "meta")``).
        retrain: The command that makes the checkpoint again, named in every error.

    Raises:
        FileNotFoundError: If there is no file at ``path``.
        CheckpointError: If the file is truncated or corrupt, or lacks one of ``keys``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. {_restore_hint(path)}, or make it again: {retrain}.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, OSError, EOFError or pickle errors here
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(error).__name__}: {error}); the file is truncated or "
            f"corrupt. {_restore_hint(path)}, or make it again: {retrain}."
        ) from error
    missing = [key for key in keys if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} lacks {missing}: it is not a checkpoint of this model. Make it with: {retrain}.")
    return checkpoint


def load_weights(model: nn.Module, state_dict: dict, path: Path, retrain: str) -> nn.Module:
    """``model.load_state_dict(state_dict)``, with an error that names the file when the shapes or
    names do not fit (a checkpoint of another architecture)."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        first = str(error).splitlines()[0:3]
        raise CheckpointError(
            f"{path} holds weights of another architecture than {type(model).__name__} ({' '.join(first)}). "
            f"Pass the matching checkpoint, or make this one again: {retrain}."
        ) from error
    return model


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """``(classes, classes)`` counts; row = true class, column = predicted class."""
    return torch.bincount(labels * classes + predicted, minlength=classes * classes).view(classes, classes)
