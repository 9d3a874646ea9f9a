"""Continual-learning strategies as small objects with hooks into the one training loop.

:func:`xaihelpers.training.fit` trains one task; a strategy changes what happens there through
a few hooks, in the way continual-learning libraries such as Avalanche (Lomonaco et al. 2021)
structure their strategies:

- :meth:`Strategy.prepare`: what to do to the fresh network before the first task (load and
  freeze pretrained layers);
- :meth:`Strategy.extra_batch`: images added to every step's batch (replay);
- :meth:`Strategy.extra_loss`: a term added to every step's loss (regularisation);
- :meth:`Strategy.after_task`: what to keep once a task is learned (memories, anchors).

A new strategy is one new class. The four of the book:

- :class:`Baseline`: plain fine-tuning, no protection against forgetting.
- :class:`EWC`: Elastic Weight Consolidation (Kirkpatrick et al. 2017, *Overcoming catastrophic
  forgetting in neural networks*, PNAS 114:3521). Its penalty is written out here on purpose: it
  is the lesson of the continual-learning chapter.
- :class:`Replay`: experience replay (Chaudhry et al. 2019, *On tiny episodic memories in
  continual learning*) from a class-balanced :class:`ReplayMemory`.
- :class:`GenerativeReplay`: internal generative replay in the spirit of brain-inspired replay
  (van de Ven, Siegelmann and Tolias 2020, Nature Communications 11:4069): pretrained, frozen
  lower layers; a VAE (:class:`xaihelpers.feature_vae.FeatureVAE`) that generates their feature
  maps for earlier classes; the upper layers learn from those with distillation.

Cost: baseline 1 forward + 1 backward pass per training image; replay twice that (each batch
carries as many memory images); EWC adds, after each task, 1 forward and ``k`` backward passes
per Fisher sample (``k`` = classes per task); generative replay adds per step one decoder pass,
one forward pass of the previous network's upper layers and one forward and backward pass of the
upper layers per replayed feature map, and after each task the VAE's training
(:func:`xaihelpers.feature_vae.train_vae`); its frozen layers need no backward pass.
"""

from __future__ import annotations

import copy
import inspect
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from xaihelpers import repro
from xaihelpers.training import ExtraBatch, Strategy

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

    def __init__(self, strength: float = 1000.0, fisher_samples: int = 1000) -> None:
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
        one image at a time, in eval mode (batch-norm statistics fixed). Every module's mode is
        restored afterwards and no parameter's ``.grad`` is touched. The images are moved to the
        model's device and dtype; the anchors and the Fisher stay there.
        """
        from xaihelpers.inference import eval_mode, to_float

        params = model.shared_parameters()
        fisher = {name: torch.zeros_like(p) for name, p in params.items()}
        k = model.classes_per_task
        first = next(model.parameters())
        with eval_mode(model):
            for image in images:
                inputs = to_float(image[None]).to(first.device, first.dtype)
                log_probs = F.log_softmax(task_logits(model(inputs), task, k), dim=1)[0]
                probs = log_probs.exp().detach()
                for label in range(k):
                    grads = torch.autograd.grad(log_probs[label], list(params.values()), retain_graph=label < k - 1)
                    for name, grad in zip(params, grads):
                        fisher[name] += probs[label] * grad.pow(2)
        self.fishers.append({name: f / len(images) for name, f in fisher.items()})
        self.anchors.append({name: p.detach().clone() for name, p in params.items()})

    def penalty(self, model: nn.Module) -> torch.Tensor:
        """``lambda / 2 * sum_tasks sum_i F_i (theta_i - theta*_i)^2``; zero before any consolidation.

        The anchors and the Fisher move to the parameters' device when it changed (once per move):
        :func:`~xaihelpers.training.fit` consolidates each task on the CPU, where it hands the model
        back, and may train the next one on a GPU.
        """
        params = model.shared_parameters()
        total = torch.zeros((), device=next(iter(params.values())).device if params else None)
        for fisher, anchor in zip(self.fishers, self.anchors):
            for name, p in params.items():
                if anchor[name].device != p.device:
                    anchor[name], fisher[name] = anchor[name].to(p.device), fisher[name].to(p.device)
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


class GenerativeReplay(Strategy):
    """Internal generative replay with distillation, after brain-inspired replay (BI-R).

    The network's layers up to its replay layer (``model.hidden``) are loaded from ``pretrained``
    and frozen (:meth:`prepare`). After each task a :class:`~xaihelpers.feature_vae.FeatureVAE`
    learns the frozen layers' feature maps of the task's training images, replaying its own
    earlier classes (:func:`~xaihelpers.feature_vae.train_vae`), and a frozen copy of the network
    is kept. During later tasks, every step generates ``replay_batch`` feature maps of earlier
    classes (drawn uniformly), runs them through the upper layers (``model.from_hidden``) and adds
    the distillation loss ``T^2 KL(softmax(z_old / T) || softmax(z / T))`` between the copy's
    logits ``z_old`` and the network's ``z`` on each map's own task head (Hinton et al. 2015).

    Args:
        pretrained: State of the frozen layers (``MultiHeadCNN.hidden_state`` of a pretrained network).
        classes: Classes of all tasks together (the prior's modes).
        classes_per_task: ``k``, to pick each map's task head.
        vae_epochs: Passes of the VAE over each task's feature maps.
        latent: Dimension of the VAE's latent space.
        hidden: Width of the VAE's hidden layers.
        replay_batch: Generated feature maps per training step; 0 trains no VAE and replays
            nothing (the frozen layers alone: the ablation that shows what replay adds).
        temperature: ``T`` of the distillation.
        seed: Seeds the VAE's initialisation and every draw of the strategy.
        progress: Show a progress bar while the VAE trains.
    """

    name = "generative"

    def __init__(self, pretrained: dict[str, torch.Tensor], classes: int, classes_per_task: int, *,
                 vae_epochs: int = 20, latent: int = 32, hidden: int = 512, replay_batch: int = 64,
                 temperature: float = 2.0, seed: int = 0, progress: bool = False) -> None:
        if not pretrained:
            raise ValueError("GenerativeReplay needs the pretrained state of the layers it freezes "
                             "(continual.pretrain_features makes it).")
        if vae_epochs < 1 or replay_batch < 0 or temperature <= 0:
            raise ValueError(f"vae_epochs must be positive, replay_batch non-negative and temperature > 0, "
                             f"got {vae_epochs}, {replay_batch}, {temperature}.")
        self.pretrained, self.classes, self.k = pretrained, classes, classes_per_task
        self.vae_epochs, self.latent, self.hidden = vae_epochs, latent, hidden
        self.replay_batch, self.temperature, self.progress = replay_batch, temperature, progress
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.vae = None
        self.previous: Optional[nn.Module] = None
        self.learned: list[int] = []  # global classes of the tasks learned so far
        self.vae_losses: list[list[float]] = []

    def prepare(self, model: nn.Module) -> None:
        model.freeze_hidden(self.pretrained)

    def extra_loss(self, model: nn.Module) -> Optional[torch.Tensor]:
        if self.previous is None:
            return None
        learned = torch.tensor(self.learned)
        classes = learned[torch.randint(0, len(learned), (self.replay_batch,), generator=self.generator)]
        features = self.vae.generate(classes, self.generator)
        tasks = classes // self.k
        with torch.no_grad():
            targets = task_logits(self.previous.from_hidden(features), tasks, self.k) / self.temperature
        logits = task_logits(model.from_hidden(features), tasks, self.k) / self.temperature
        return F.kl_div(F.log_softmax(logits, dim=1), F.log_softmax(targets, dim=1), log_target=True,
                        reduction="batchmean") * self.temperature ** 2

    def after_task(self, model, images, labels, task, generator) -> None:
        if self.replay_batch == 0:
            return
        from xaihelpers.feature_vae import FeatureVAE, train_vae
        from xaihelpers.inference import images_per_pass, to_float

        with torch.no_grad():
            step = images_per_pass(images)
            features = torch.cat([model.hidden(to_float(images[i:i + step])) for i in range(0, len(images), step)])
        if self.vae is None:
            with repro.seeded(self.seed):
                self.vae = FeatureVAE(features.shape[1:], self.classes, self.hidden, self.latent)
        previous_vae = copy.deepcopy(self.vae).eval() if self.learned else None
        old = torch.tensor(self.learned, dtype=torch.long)
        self.vae_losses.append(train_vae(self.vae, features, task * self.k + labels, epochs=self.vae_epochs,
                                         generator=self.generator, previous=previous_vae, old_classes=old,
                                         progress=self.progress))
        self.learned.extend(range(task * self.k, task * self.k + self.k))
        self.previous = copy.deepcopy(model).eval()
        for parameter in self.previous.parameters():
            parameter.requires_grad_(False)


#: Strategy name -> class.
STRATEGIES: dict[str, type[Strategy]] = {"baseline": Baseline, "ewc": EWC, "replay": Replay,
                                         "generative": GenerativeReplay}


def make(name: str, *, ewc_strength: float = 1000.0, fisher_samples: int = 1000, memory_size: int = 500,
         seed: int = 0, **generative) -> Strategy:
    """The strategy ``name`` with the settings of the book's runs: each class takes those of its
    parameters it names (``ewc_strength`` is :class:`EWC`'s ``strength``; ``generative`` are
    :class:`GenerativeReplay`'s keyword arguments) and ignores the others.

    Raises:
        ValueError: For an unknown name (the message lists the known ones).
        TypeError: For a setting no strategy takes.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy '{name}'; choose one of {tuple(STRATEGIES)}.")
    settings = {"strength": ewc_strength, "fisher_samples": fisher_samples, "memory_size": memory_size,
                "seed": seed, **generative}
    taken = {cls: inspect.signature(cls).parameters for cls in STRATEGIES.values()}
    unknown = set(generative) - {parameter for parameters in taken.values() for parameter in parameters}
    if unknown:
        raise TypeError(f"No strategy takes {sorted(unknown)}; GenerativeReplay takes "
                        f"{sorted(taken[GenerativeReplay])}.")
    cls = STRATEGIES[name]
    return cls(**{key: value for key, value in settings.items() if key in taken[cls]})
