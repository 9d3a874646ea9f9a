"""The book's own training loop for the small models it trains (pollen CNN, CIFAR CNNs, the
continual learners), with the hooks continual-learning strategies need.

Small data sets are held in memory as one uint8 tensor, augmented on the fly with batched tensor
operations, and trained with a seeded generator, so a training run is one reproducible command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xaihelpers import repro
from xaihelpers.inference import accuracy, to_float

#: What :meth:`Strategy.extra_batch` returns: images, their task indices and their labels.
ExtraBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class Strategy:
    """The hooks :func:`fit` calls; this base class changes nothing (plain fine-tuning).

    The loop owns its hooks, as Avalanche's training templates do; the strategies of the book
    (:mod:`xaihelpers.strategies`) subclass this class and override the hooks they need.
    """

    #: The name the book's checkpoints and tables use.
    name = "baseline"

    def prepare(self, model: nn.Module) -> None:
        """Called once on the fresh network, before the first task."""

    def extra_batch(self, size: int, generator: torch.Generator) -> Optional[ExtraBatch]:
        """Images to add to a step's batch of ``size`` current-task images, or ``None``."""
        return None

    def extra_loss(self, model: nn.Module) -> Optional[torch.Tensor]:
        """A term to add to a step's loss, or ``None``."""
        return None

    def after_task(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, task: int,
                   generator: torch.Generator) -> None:
        """Called once ``task`` (its training ``images`` and local ``labels``) is learned."""


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


def channel_statistics(images: torch.Tensor, every: int = 1) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` images scaled to ``[0, 1]``,
    from every ``every``-th image: the input normalisation a network of the book is built with."""
    pixels = to_float(images[::every])
    return pixels.mean(dim=(0, 2, 3)).tolist(), pixels.std(dim=(0, 2, 3)).tolist()


def _step_batch(images: torch.Tensor, labels: torch.Tensor, task: int, strategy: Optional[Strategy],
                augment: Optional[Augment], generator: torch.Generator) -> ExtraBatch:
    """One step's images, tasks and labels: the current task's, then the strategy's extra ones,
    each part augmented on its own. The generator is drawn in this order (current images'
    augmentation, the strategy's choice, its images' augmentation): a trained checkpoint's recipe
    depends on it."""
    batch, tasks = to_float(images), torch.full((len(images),), task)
    if augment is not None:
        batch = augment(batch, generator)
    extra = strategy.extra_batch(len(images), generator) if strategy is not None else None
    if extra is None:
        return batch, tasks, labels
    extra_images, extra_tasks, extra_labels = extra
    extra_images = to_float(extra_images)
    if augment is not None:
        extra_images = augment(extra_images, generator)
    return torch.cat([batch, extra_images]), torch.cat([tasks, extra_tasks]), torch.cat([labels, extra_labels])


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
    strategy: Optional[Strategy] = None,
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
                batch, tasks, batch_labels = _step_batch(images[index], labels[index], task, strategy, augment,
                                                         generator)
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
