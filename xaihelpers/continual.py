"""Task-incremental continual learning: task splits, a multi-head CNN, three strategies, metrics.

The network learns a sequence of tasks (disjoint groups of classes) one after the other and is told
the task at test time (*task-incremental* setting: one output head per task). Three strategies:

- ``baseline``: plain fine-tuning, no protection against forgetting.
- ``ewc``: Elastic Weight Consolidation (Kirkpatrick et al. 2017, *Overcoming catastrophic
  forgetting in neural networks*, PNAS 114:3521): after each task, the diagonal of the Fisher
  information ``F`` at the learned weights ``theta*`` is stored, and later tasks pay
  ``lambda / 2 * sum_i F_i (theta_i - theta*_i)^2`` per earlier task.
- ``replay``: experience replay (Chaudhry et al. 2019, *On tiny episodic memories in continual
  learning*): a small, class-balanced memory of earlier tasks' training images is mixed into
  every batch.

Data: CIFAR-100 split into 10 tasks of 10 classes when the data root has it, otherwise CIFAR-10
split into 5 tasks of 2 classes; classes are taken in their index order.

Train all three (about 15 minutes on 2 CPU cores; checkpoints after every task)::

    python -m xaihelpers.continual train        # writes xaihelpers/checkpoints/continual_<strategy>.pt

Cost: baseline 1 forward + 1 backward pass per training image; replay twice that (each batch
carries as many memory images); EWC adds, after each task, 1 forward and ``k`` backward passes
per Fisher sample (``k`` = classes per task).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from xaihelpers import data, repro, training
from xaihelpers.cifar import CifarData, load_cifar
from xaihelpers.models import Normalize, channels_last

STRATEGIES = ("baseline", "ewc", "replay")
CHECKPOINT_DIR = data.CHECKPOINT_DIR
TRAIN_COMMAND = "python -m xaihelpers.continual train"
#: Grad-CAM depths the study compares: a middle layer (16x16) and the last conv layer (8x8).
STUDY_LAYERS = ("features.conv3", "features.conv5")


@dataclass
class Task:
    """One task: images of its classes with labels local to the task (0..k-1)."""

    index: int
    classes: list[str]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def choose_dataset(root: Optional[Path] = None) -> tuple[str, int]:
    """``("cifar100", 10)`` when the data root has CIFAR-100, else ``("cifar10", 2)``: the data set
    and the number of classes per task."""
    return ("cifar100", 10) if data.available(root).get("cifar100") else ("cifar10", 2)


def split_tasks(train: CifarData, test: CifarData, classes_per_task: int,
                train_per_class: Optional[int] = None, seed: int = 0) -> list[Task]:
    """Cut a data set into tasks of ``classes_per_task`` consecutive classes.

    Args:
        train: Training split in memory.
        test: Test split in memory (all its images are kept).
        classes_per_task: Classes per task; must divide the number of classes.
        train_per_class: Keep this many training images per class (a seeded choice), to fit a
            time budget; all of them when ``None``.
        seed: Seeds that choice.

    Raises:
        ValueError: If ``classes_per_task`` does not divide the number of classes.
    """
    total = len(train.classes)
    if classes_per_task < 2 or total % classes_per_task:
        raise ValueError(f"{total} classes cannot be split into tasks of {classes_per_task} (need a divisor >= 2).")
    generator = torch.Generator().manual_seed(seed)
    tasks = []
    for index, first in enumerate(range(0, total, classes_per_task)):
        own = list(range(first, first + classes_per_task))
        keep = []
        for label in own:
            members = (train.labels == label).nonzero().flatten()
            members = members[torch.randperm(len(members), generator=generator)]
            keep.append(members[:train_per_class] if train_per_class else members)
        keep = torch.cat(keep).sort().values
        test_keep = torch.isin(test.labels, torch.tensor(own)).nonzero().flatten()
        tasks.append(Task(index, [train.classes[c] for c in own], train.images[keep], train.labels[keep] - first,
                          test.images[test_keep], test.labels[test_keep] - first))
    return tasks


def test_tasks(test: CifarData, classes_per_task: int) -> list[Task]:
    """Only the test images of each task (for chapters, which need no training images)."""
    empty = CifarData(test.images[:0], test.labels[:0], test.classes)
    return split_tasks(empty, test, classes_per_task)


def first_per_class(task: Task, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` test images of each class of ``task`` (float ``[0, 1]``) and their local labels."""
    index = torch.cat([(task.test_labels == c).nonzero().flatten()[:count] for c in range(len(task.classes))])
    return training.to_float(task.test_images[index]), task.test_labels[index]


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class MultiHeadCNN(nn.Module):
    """Five conv layers with batch norm (``features.conv1`` ... ``features.conv5``), global average
    pooling, and one linear head per task.

    ``forward`` returns every head's logits side by side, ``(N, tasks * k)``: task ``t``'s logits are
    columns ``t*k .. t*k+k-1`` (:func:`task_logits`), so an explanation of class ``c`` of task ``t``
    targets output ``t*k + c``, and hooks and captum see an ordinary classifier.
    """

    def __init__(self, tasks: int, classes_per_task: int, mean=(0.5,) * 3, std=(0.25,) * 3,
                 widths: Sequence[int] = (32, 32, 64, 64, 128)) -> None:
        super().__init__()
        self.tasks, self.classes_per_task = tasks, classes_per_task
        self.normalize = Normalize(mean, std)
        w1, w2, w3, w4, w5 = widths
        self.features = nn.Sequential(OrderedDict(
            conv1=_conv(3, w1), conv2=_conv(w1, w2), pool1=nn.MaxPool2d(2),
            conv3=_conv(w2, w3), conv4=_conv(w3, w4), pool2=nn.MaxPool2d(2),
            conv5=_conv(w4, w5),
        ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = nn.ModuleList(nn.Linear(w5, classes_per_task) for _ in range(tasks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(self.features(self.normalize(x))).flatten(1)
        return torch.cat([head(pooled) for head in self.heads], dim=1)

    def shared_parameters(self) -> dict[str, nn.Parameter]:
        """The parameters every task uses (all but the heads), by name."""
        return {name: p for name, p in self.named_parameters() if not name.startswith("heads.")}


def task_logits(outputs: torch.Tensor, task: torch.Tensor | int, classes_per_task: int) -> torch.Tensor:
    """Each row's logits of its task: ``task`` is one index for the batch or one per row."""
    grouped = outputs.view(len(outputs), -1, classes_per_task)
    if isinstance(task, int):
        return grouped[:, task]
    return grouped[torch.arange(len(outputs)), task]


class EWC:
    """Elastic Weight Consolidation penalty with one diagonal Fisher and anchor per learned task.

    Args:
        strength: ``lambda``, the weight of the penalty.
    """

    def __init__(self, strength: float) -> None:
        self.strength = strength
        self.anchors: list[dict[str, torch.Tensor]] = []
        self.fishers: list[dict[str, torch.Tensor]] = []

    def consolidate(self, model: MultiHeadCNN, images: torch.Tensor, task: int) -> None:
        """Store the current shared weights and their diagonal Fisher on ``images`` of ``task``.

        The Fisher is the exact expectation over the model's own predictive distribution (not the
        "empirical" Fisher of the true labels): ``F = E_x sum_y p(y|x) (d log p(y|x) / d theta)^2``,
        one image at a time, in eval mode (batch-norm statistics fixed).
        """
        was_training = model.training
        model.eval()
        params = model.shared_parameters()
        fisher = {name: torch.zeros_like(p) for name, p in params.items()}
        k = model.classes_per_task
        for image in images:
            log_probs = F.log_softmax(task_logits(model(training.to_float(image[None])), task, k), dim=1)[0]
            probs = log_probs.exp().detach()
            for label in range(k):
                grads = torch.autograd.grad(log_probs[label], list(params.values()), retain_graph=label < k - 1)
                for name, grad in zip(params, grads):
                    fisher[name] += probs[label] * grad.pow(2)
        self.fishers.append({name: f / len(images) for name, f in fisher.items()})
        self.anchors.append({name: p.detach().clone() for name, p in params.items()})
        model.train(was_training)

    def penalty(self, model: MultiHeadCNN) -> torch.Tensor:
        """``lambda / 2 * sum_tasks sum_i F_i (theta_i - theta*_i)^2``; zero before any consolidation."""
        params = model.shared_parameters()
        total = torch.zeros(())
        for fisher, anchor in zip(self.fishers, self.anchors):
            for name, p in params.items():
                total = total + (fisher[name] * (p - anchor[name]).pow(2)).sum()
        return 0.5 * self.strength * total


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

    def sample(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``size`` random memory images (with replacement) with their task and local label."""
        images = torch.cat(list(self.store.values()))
        tasks = torch.cat([torch.full((len(v),), t) for (t, _), v in self.store.items()])
        labels = torch.cat([torch.full((len(v),), c) for (_, c), v in self.store.items()])
        pick = torch.randint(0, len(images), (size,), generator=self.generator)
        return images[pick], tasks[pick], labels[pick]


@dataclass
class Run:
    """What a strategy's training run leaves: weights after every task and the metrics."""

    strategy: str
    states: list[dict[str, torch.Tensor]] = field(default_factory=list)
    accuracy: list[list[float]] = field(default_factory=list)  # [after task i][on task j]
    class_accuracy: list[list[float]] = field(default_factory=list)  # [after task i][global class]
    seconds: float = 0.0


@torch.no_grad()
def evaluate(model: MultiHeadCNN, tasks: Sequence[Task],
             batch_size: Optional[int] = None) -> tuple[list[float], list[float]]:
    """Accuracy on every task's test images (with its own head) and per class, in class order.

    ``batch_size`` defaults to :func:`xaihelpers.training.images_per_pass`.
    """
    model.eval()
    k = model.classes_per_task
    per_task, per_class = [], []
    for task in tasks:
        batch_size = batch_size or training.images_per_pass(task.test_images)
        predicted = torch.cat([
            task_logits(model(training.to_float(task.test_images[i:i + batch_size])), task.index, k).argmax(dim=1)
            for i in range(0, len(task.test_images), batch_size)
        ])
        right = predicted == task.test_labels
        per_task.append(right.float().mean().item())
        per_class.extend(right[task.test_labels == c].float().mean().item() for c in range(k))
    return per_task, per_class


def mean_task_loss(model: MultiHeadCNN, tasks: Sequence[Task]) -> float:
    """Mean cross-entropy of ``model`` over every task's test images, each on its own head: the
    loss beside :func:`evaluate`'s accuracies."""
    model.eval()
    k = model.classes_per_task
    losses, count = 0.0, 0
    with torch.no_grad():
        for task in tasks:
            batch_size = training.images_per_pass(task.test_images)
            for i in range(0, len(task.test_images), batch_size):
                logits = task_logits(model(training.to_float(task.test_images[i:i + batch_size])), task.index, k)
                losses += F.cross_entropy(logits, task.test_labels[i:i + batch_size], reduction="sum").item()
                count += len(logits)
    return losses / count



def train_sequence(strategy: str, tasks: Sequence[Task], *, epochs: int = 3, batch_size: int = 64,
                   learning_rate: float = 2e-3, ewc_strength: float = 1000.0, fisher_samples: int = 200,
                   memory_size: int = 500, mean=(0.5,) * 3, std=(0.25,) * 3, seed: int = 0,
                   progress: bool = True) -> Run:
    """Train a fresh :class:`MultiHeadCNN` on ``tasks`` in order with one strategy.

    Each task is trained for ``epochs`` with AdamW on the shared layers and that task's head only,
    with a one-cycle learning rate, crops and flips; after each task the weights are kept and every
    task's test accuracy is measured (a row of the accuracy matrix).

    Args:
        strategy: ``baseline``, ``ewc`` or ``replay``.
        tasks: From :func:`split_tasks`.
        epochs: Passes over each task's training images.
        batch_size: Images of the current task per step (replay adds as many memory images).
        learning_rate: Peak learning rate per task.
        ewc_strength: EWC's ``lambda``.
        fisher_samples: Training images per task used to estimate EWC's Fisher.
        memory_size: Replay memory capacity (images, all classes together).
        mean, std: Input normalisation of the network.
        seed: Seeds initialisation, shuffling, augmentation and the memory.
        progress: Show a progress bar over the steps.

    Raises:
        ValueError: For an unknown strategy.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy '{strategy}'; choose one of {STRATEGIES}.")
    repro.seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)
    k = len(tasks[0].classes)
    model = MultiHeadCNN(len(tasks), k, mean, std)
    ewc = EWC(ewc_strength) if strategy == "ewc" else None
    memory = ReplayMemory(memory_size, seed) if strategy == "replay" else None
    run = Run(strategy)
    start = time.perf_counter()
    steps = sum(epochs * ((len(t.train_images) + batch_size - 1) // batch_size) for t in tasks)
    bar = tqdm(total=steps, unit="step", desc=strategy, disable=not progress)
    for task in tasks:
        params = list(model.shared_parameters().values()) + list(model.heads[task.index].parameters())
        optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=5e-4)
        task_steps = epochs * ((len(task.train_images) + batch_size - 1) // batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=task_steps)
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(task.train_images), generator=generator)
            for first in range(0, len(order), batch_size):
                index = order[first:first + batch_size]
                images = training.crops_and_flips(training.to_float(task.train_images[index]), generator)
                labels, task_ids = task.train_labels[index], torch.full((len(index),), task.index)
                if memory is not None and len(memory):
                    old_images, old_tasks, old_labels = memory.sample(len(index))
                    images = torch.cat([images, training.crops_and_flips(training.to_float(old_images), generator)])
                    labels, task_ids = torch.cat([labels, old_labels]), torch.cat([task_ids, old_tasks])
                loss = F.cross_entropy(task_logits(model(images), task_ids, k), labels)
                if ewc is not None:
                    loss = loss + ewc.penalty(model)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                bar.update()
            bar.set_postfix(task=task.index, loss=f"{loss.item():.3f}")
        if ewc is not None:
            chosen = torch.randperm(len(task.train_images), generator=generator)[:fisher_samples]
            ewc.consolidate(model, task.train_images[chosen], task.index)
        if memory is not None:
            memory.add_task(task.index, task.train_images, task.train_labels)
        per_task, per_class = evaluate(model, tasks)
        run.accuracy.append(per_task)
        run.class_accuracy.append(per_class)
        run.states.append({name: t.detach().clone() for name, t in model.state_dict().items()})
    bar.close()
    run.seconds = time.perf_counter() - start
    return run


def average_forgetting(accuracy: Sequence[Sequence[float]]) -> float:
    """Mean over all tasks but the last of (best accuracy before the final task - final accuracy)
    (Chaudhry et al. 2018, *Riemannian walk for incremental learning*)."""
    matrix = np.asarray(accuracy, dtype=float)
    last = len(matrix) - 1
    if last < 1:
        raise ValueError("Forgetting needs at least two tasks.")
    drops = [matrix[j:last, j].max() - matrix[last, j] for j in range(last)]
    return float(np.mean(drops))


def average_accuracy(accuracy: Sequence[Sequence[float]]) -> float:
    """Mean accuracy over all tasks after the final task."""
    return float(np.mean(np.asarray(accuracy, dtype=float)[-1]))


def heatmap_study(runs: dict[str, list[MultiHeadCNN]], metas: dict[str, dict], tasks: Sequence[Task],
                  images_per_class: int = 20, layers: Sequence[str] = STUDY_LAYERS,
                  binarize: Optional[float] = None):
    """Grad-CAM of every learned class after every task, measured: the case study's table.

    For each strategy, each checkpoint (after task ``i``) and each class of the tasks learned so
    far, Grad-CAM of the class's first ``images_per_class`` test images (target: their true class
    on their task's head) at each layer, upsampled to 32x32 and scaled to ``[0, 1]``; then
    :func:`xaihelpers.heatmaps.describe` (lacunarity, colour groups) averaged over the images, next
    to the class's test accuracy at that checkpoint (from the training run's evaluation).

    Args:
        runs: Strategy -> the networks after each task.
        metas: Strategy -> the run's metadata (accuracies per class and checkpoint).
        tasks: The task sequence.
        images_per_class: Test images of each class whose maps are measured.
        layers: The layers whose Grad-CAM is measured.
        binarize: Measure the binary maps ``map > binarize`` (the classic binary lacunarity)
            instead of the grey levels; an image whose binary map is empty has no lacunarity and
            is left out of its class's mean.

    Returns:
        A ``pandas.DataFrame``, one row per (strategy, after_task, class, layer).
    """
    import pandas as pd

    from xaihelpers import gradcam, heatmaps

    rows = []
    for strategy, models in runs.items():
        meta = metas[strategy]
        k = meta["classes_per_task"]
        for after, model in enumerate(models):
            for task in tasks[:after + 1]:
                images, labels = first_per_class(task, images_per_class)
                maps = gradcam.grad_cam_layers(model, list(layers), images, task.index * k + labels)
                for layer, layer_maps in maps.items():
                    if binarize is not None:
                        layer_maps = (layer_maps > binarize).float()
                    measures = heatmaps.describe(layer_maps)
                    for local, name in enumerate(task.classes):
                        mine = (labels == local).numpy()
                        rows.append({"strategy": strategy, "after_task": after, "task": task.index, "class": name,
                                     "layer": layer, "accuracy": meta["class_accuracy"][after][task.index * k + local],
                                     "accuracy_when_learned": meta["class_accuracy"][task.index][task.index * k + local],
                                     **measures[mine].mean().to_dict()})
    return pd.DataFrame(rows)


def checkpoint_path(strategy: str) -> Path:
    return CHECKPOINT_DIR / f"continual_{strategy}.pt"


def save_run(run: Run, meta: dict, path: Path, overwrite: bool = False) -> Path:
    """Save the weights after every task and the metrics, atomically; never replaces a file unless
    ``overwrite``."""
    meta = {**meta, "strategy": run.strategy, "accuracy": run.accuracy, "class_accuracy": run.class_accuracy,
            "train_seconds": run.seconds}
    return training.save_checkpoint({"states": run.states, "meta": meta}, path, overwrite)


def load_run(strategy: str, path: Optional[Path] = None) -> tuple[list[MultiHeadCNN], dict]:
    """The networks after each task (eval mode) and the run's metadata, loaded with ``weights_only=True``.

    Raises:
        ValueError: For an unknown strategy.
        FileNotFoundError: If the checkpoint is missing; the message gives the training command.
        training.CheckpointError: If the file is truncated, corrupt or of another architecture.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy '{strategy}'; choose one of {STRATEGIES}.")
    path = Path(path or checkpoint_path(strategy))
    checkpoint = training.load_checkpoint(path, ("states", "meta"), TRAIN_COMMAND)
    meta = checkpoint["meta"]
    models = []
    for state in checkpoint["states"]:
        model = MultiHeadCNN(meta["tasks"], meta["classes_per_task"], meta["mean"], meta["std"])
        models.append(channels_last(training.load_weights(model, state, path, TRAIN_COMMAND)).eval())
    return models, meta


#: The settings of the committed runs (the time budget decides epochs and images per class).
DEFAULTS = {"epochs": 3, "train_per_class": 2000, "batch_size": 64, "learning_rate": 2e-3,
            "ewc_strength": 1000.0, "fisher_samples": 200, "memory_size": 500, "seed": 0}


#: Variants of the committed runs that the chapter's exercises compare with them: name ->
#: (strategy, settings that differ from :data:`DEFAULTS`). Training takes minutes, longer than a
#: chapter may run, so ``make exercise-models`` trains them once and their checkpoints ship.
EXERCISE_RUNS = {
    "ewc_strength_100": ("ewc", {"ewc_strength": 100.0}),
    "ewc_strength_10000": ("ewc", {"ewc_strength": 10000.0}),
    "replay_memory_250": ("replay", {"memory_size": 250}),
}
EXERCISE_DIR = CHECKPOINT_DIR / "exercises"


def exercise_command(name: str) -> str:
    """The command (from the repository root) that trains the exercise run ``name``."""
    strategy, settings = EXERCISE_RUNS[name]
    flags = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in settings.items())
    return f"{TRAIN_COMMAND} --strategy {strategy} {flags} --out-dir xaihelpers/checkpoints/exercises/{name}"


def load_exercise_run(name: str) -> tuple[list[MultiHeadCNN], dict]:
    """The networks and metadata of the exercise run ``name`` (see :data:`EXERCISE_RUNS`)."""
    if name not in EXERCISE_RUNS:
        raise ValueError(f"Unknown exercise run '{name}'; choose one of {sorted(EXERCISE_RUNS)}.")
    strategy, _ = EXERCISE_RUNS[name]
    return load_run(strategy, EXERCISE_DIR / name / checkpoint_path(strategy).name)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.continual")
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("train", help="train the continual learners with every strategy")
    command.add_argument("--strategy", choices=[*STRATEGIES, "all"], default="all")
    for name, value in DEFAULTS.items():
        command.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    command.add_argument("--out-dir", type=Path, default=CHECKPOINT_DIR)
    command.add_argument("--force", action="store_true", help="replace existing checkpoints")
    sub.add_parser("train-exercises", help="train the variants the exercises compare (missing ones only)")
    args = parser.parse_args(argv)
    if args.command == "train-exercises":
        for name, (strategy, settings) in EXERCISE_RUNS.items():
            target = EXERCISE_DIR / name / checkpoint_path(strategy).name
            if target.exists():
                print(f"{target} exists; kept")
                continue
            flags = [item for key, value in settings.items() for item in (f"--{key.replace('_', '-')}", str(value))]
            if _main(["train", "--strategy", strategy, *flags, "--out-dir", str(target.parent)]):
                return 2
        return 0
    strategies = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    targets = {s: args.out_dir / checkpoint_path(s).name for s in strategies}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not args.force:
        print(f"{', '.join(existing)} exist(s); use --force to replace", file=sys.stderr)
        return 2
    name, per_task = choose_dataset()
    train_set, test_set = load_cifar(name, "train", progress=True), load_cifar(name, "test", progress=True)
    settings = {key: getattr(args, key) for key in DEFAULTS}
    tasks = split_tasks(train_set, test_set, per_task, settings.pop("train_per_class"), seed=args.seed)
    pixels = training.to_float(torch.cat([t.train_images for t in tasks])[::10])
    mean, std = pixels.mean(dim=(0, 2, 3)).tolist(), pixels.std(dim=(0, 2, 3)).tolist()
    for strategy in strategies:
        run = train_sequence(strategy, tasks, mean=mean, std=std, **settings)
        meta = {"dataset": name, "tasks": len(tasks), "classes_per_task": per_task,
                "task_classes": [t.classes for t in tasks], "mean": mean, "std": std,
                "train_per_class": args.train_per_class, **settings, "threads": torch.get_num_threads()}
        save_run(run, meta, targets[strategy], overwrite=args.force)
        print(f"saved {targets[strategy]} in {run.seconds:.0f} s: average accuracy "
              f"{average_accuracy(run.accuracy):.3f}, average forgetting {average_forgetting(run.accuracy):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
