"""Continual-learning strategies as small objects with hooks into the one training loop.

:func:`xaihelpers.training.fit` trains one task; a strategy changes what happens there through
three hooks, in the way continual-learning libraries such as Avalanche (Lomonaco et al. 2021)
structure their strategies:

- :meth:`Strategy.extra_batch`: images added to every step's batch (replay);
- :meth:`Strategy.extra_loss`: a term added to every step's loss (regularisation);
- :meth:`Strategy.after_task`: what to keep once a task is learned (memories, anchors).

A new strategy is one new class. The three of the book:

- :class:`Baseline`: plain fine-tuning, no protection against forgetting.
- :class:`EWC`: Elastic Weight Consolidation (Kirkpatrick et al. 2017, *Overcoming catastrophic
  forgetting in neural networks*, PNAS 114:3521). Its penalty is written out here on purpose: it
  is the lesson of the continual-learning chapter.
- :class:`Replay`: experience replay (Chaudhry et al. 2019, *On tiny episodic memories in
  continual learning*) from a class-balanced :class:`ReplayMemory`.

Cost: baseline 1 forward + 1 backward pass per training image; replay twice that (each batch
carries as many memory images); EWC adds, after each task, 1 forward and ``k`` backward passes
per Fisher sample (``k`` = classes per task).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

#: What :meth:`Strategy.extra_batch` returns: images, their task indices and their labels.
ExtraBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class Strategy:
    """The hooks of the training loop; this base class changes nothing (plain fine-tuning)."""

    #: The name the book's checkpoints and tables use.
    name = "baseline"

    def extra_batch(self, size: int, generator: torch.Generator) -> Optional[ExtraBatch]:
        """Images to add to a step's batch of ``size`` current-task images, or ``None``."""
        return None

    def extra_loss(self, model: nn.Module) -> Optional[torch.Tensor]:
        """A term to add to a step's loss, or ``None``."""
        return None

    def after_task(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, task: int,
                   generator: torch.Generator) -> None:
        """Called once ``task`` (its training ``images`` and local ``labels``) is learned."""


class Baseline(Strategy):
    """Plain fine-tuning: every task is trained as if it were the only one."""


def task_logits(outputs: torch.Tensor, task: torch.Tensor | int, classes_per_task: int) -> torch.Tensor:
    """Each row's logits of its task: ``task`` is one index for the batch or one per row.

    A multi-head network returns every head's logits side by side, ``(N, tasks * k)``.
    """
    grouped = outputs.view(len(outputs), -1, classes_per_task)
    if isinstance(task, int):
        return grouped[:, task]
    return grouped[torch.arange(len(outputs)), task]


class EWC(Strategy):
    """Elastic Weight Consolidation: one diagonal Fisher and one anchor per learned task.

    After each task the diagonal of the Fisher information ``F`` at the learned weights
    ``theta*`` is stored; later tasks pay ``lambda / 2 * sum_i F_i (theta_i - theta*_i)^2`` per
    earlier task, on the parameters every task shares (``model.shared_parameters()``, all but the
    heads of a :class:`~xaihelpers.continual.MultiHeadCNN`).

    Args:
        strength: ``lambda``, the weight of the penalty.
        fisher_samples: Training images of each task that estimate its Fisher (a random choice
            drawn from the training loop's generator).
    """

    name = "ewc"

    def __init__(self, strength: float = 1000.0, fisher_samples: int = 200) -> None:
        if strength < 0:
            raise ValueError(f"strength must be non-negative, got {strength}")
        if fisher_samples < 1:
            raise ValueError(f"fisher_samples must be positive, got {fisher_samples}")
        self.strength, self.fisher_samples = strength, fisher_samples
        self.anchors: list[dict[str, torch.Tensor]] = []
        self.fishers: list[dict[str, torch.Tensor]] = []

    def consolidate(self, model: nn.Module, images: torch.Tensor, task: int) -> None:
        """Store the current shared weights and their diagonal Fisher on ``images`` of ``task``.

        The Fisher is the exact expectation over the model's own predictive distribution (not the
        "empirical" Fisher of the true labels): ``F = E_x sum_y p(y|x) (d log p(y|x) / d theta)^2``,
        one image at a time, in eval mode (batch-norm statistics fixed). The model's mode is
        restored afterwards and no parameter's ``.grad`` is touched.
        """
        from xaihelpers.training import to_float

        was_training = model.training
        model.eval()
        params = model.shared_parameters()
        fisher = {name: torch.zeros_like(p) for name, p in params.items()}
        k = model.classes_per_task
        try:
            for image in images:
                log_probs = F.log_softmax(task_logits(model(to_float(image[None])), task, k), dim=1)[0]
                probs = log_probs.exp().detach()
                for label in range(k):
                    grads = torch.autograd.grad(log_probs[label], list(params.values()), retain_graph=label < k - 1)
                    for name, grad in zip(params, grads):
                        fisher[name] += probs[label] * grad.pow(2)
        finally:
            model.train(was_training)
        self.fishers.append({name: f / len(images) for name, f in fisher.items()})
        self.anchors.append({name: p.detach().clone() for name, p in params.items()})

    def penalty(self, model: nn.Module) -> torch.Tensor:
        """``lambda / 2 * sum_tasks sum_i F_i (theta_i - theta*_i)^2``; zero before any consolidation."""
        params = model.shared_parameters()
        total = torch.zeros(())
        for fisher, anchor in zip(self.fishers, self.anchors):
            for name, p in params.items():
                total = total + (fisher[name] * (p - anchor[name]).pow(2)).sum()
        return 0.5 * self.strength * total

    def extra_loss(self, model: nn.Module) -> Optional[torch.Tensor]:
        return self.penalty(model)

    def after_task(self, model, images, labels, task, generator) -> None:
        chosen = torch.randperm(len(images), generator=generator)[:self.fisher_samples]
        self.consolidate(model, images[chosen], task)


class ReplayMemory:
    """A bounded, class-balanced memory of training images from earlier tasks.

    Every class seen so far holds ``capacity // classes_seen`` images (a seeded random choice made
    when its task is added); when new classes arrive, each older class keeps the first images of
    its choice, so the memory never exceeds ``capacity`` and stays balanced.
    """

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.generator = torch.Generator().manual_seed(seed)
        self.store: dict[tuple[int, int], torch.Tensor] = {}  # (task, local class) -> images

    def add_task(self, task: int, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Add the classes of ``task`` (local ``labels``) and rebalance."""
        classes = labels.unique().tolist()
        quota = self.capacity // (len(self.store) + len(classes))
        if quota < 1:
            raise ValueError(f"A memory of {self.capacity} cannot hold one image of each of "
                             f"{len(self.store) + len(classes)} classes.")
        for label in classes:
            members = images[labels == label]
            self.store[task, label] = members[torch.randperm(len(members), generator=self.generator)]
        for key in self.store:
            self.store[key] = self.store[key][:quota]

    def class_counts(self) -> dict[tuple[int, int], int]:
        """Images held per ``(task, class)``."""
        return {key: len(images) for key, images in self.store.items()}

    def __len__(self) -> int:
        return sum(self.class_counts().values())

    def sample(self, size: int) -> ExtraBatch:
        """``size`` random memory images (with replacement) with their task and local label."""
        images = torch.cat(list(self.store.values()))
        tasks = torch.cat([torch.full((len(v),), t) for (t, _), v in self.store.items()])
        labels = torch.cat([torch.full((len(v),), c) for (_, c), v in self.store.items()])
        pick = torch.randint(0, len(images), (size,), generator=self.generator)
        return images[pick], tasks[pick], labels[pick]


class Replay(Strategy):
    """Experience replay: every batch carries as many images drawn from a :class:`ReplayMemory`
    of the earlier tasks (nothing before the first task is learned).

    Args:
        memory_size: Capacity of the memory (images, all classes together).
        seed: Seeds the memory's choice of images and its draws.
    """

    name = "replay"

    def __init__(self, memory_size: int = 500, seed: int = 0) -> None:
        self.memory = ReplayMemory(memory_size, seed)

    def extra_batch(self, size, generator) -> Optional[ExtraBatch]:
        return self.memory.sample(size) if len(self.memory) else None

    def after_task(self, model, images, labels, task, generator) -> None:
        self.memory.add_task(task, images, labels)


#: Strategy name -> class.
STRATEGIES: dict[str, type[Strategy]] = {"baseline": Baseline, "ewc": EWC, "replay": Replay}


def make(name: str, *, ewc_strength: float = 1000.0, fisher_samples: int = 200, memory_size: int = 500,
         seed: int = 0) -> Strategy:
    """The strategy ``name`` with the settings of the book's runs (each takes only its own).

    Raises:
        ValueError: For an unknown name (the message lists the known ones).
    """
    if name == "baseline":
        return Baseline()
    if name == "ewc":
        return EWC(ewc_strength, fisher_samples)
    if name == "replay":
        return Replay(memory_size, seed)
    raise ValueError(f"Unknown strategy '{name}'; choose one of {tuple(STRATEGIES)}.")
