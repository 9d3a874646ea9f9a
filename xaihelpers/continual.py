"""Task-incremental continual learning: task splits, a multi-head CNN, a training run, metrics.

The network learns a sequence of tasks (disjoint groups of classes) one after the other and is told
the task at test time (*task-incremental* setting: one output head per task). The strategies
(baseline, EWC, replay, generative replay) are objects in :mod:`xaihelpers.strategies`; :func:`train_sequence` runs
the one training loop, :func:`xaihelpers.training.fit`, task after task with one of them. The
Grad-CAM study of what the networks forget is in :mod:`xaihelpers.forgetting`.

Data: CIFAR-100 split into 10 tasks of 10 classes when the data root has it, otherwise CIFAR-10
split into 5 tasks of 2 classes; classes are taken in their index order.

Train the book's runs (``make continual``)::

    python -m xaihelpers.retrain continual_baseline continual_ewc continual_replay continual_generative
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xaihelpers import data, inference, repro, strategies, training
from xaihelpers.cifar import CifarData
from xaihelpers.blocks import Normalize, conv_bn_relu
from xaihelpers.strategies import Strategy, task_logits

if TYPE_CHECKING:
    import pandas

    from xaihelpers.intervals import Interval

#: The strategies of the book's runs, in the order the chapter shows them.
STRATEGY_NAMES = tuple(strategies.STRATEGIES)


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


def evaluation_tasks(test: CifarData, classes_per_task: int) -> list[Task]:
    """The tasks with their test images only (for chapters, which need no training images)."""
    empty = CifarData(test.images[:0], test.labels[:0], test.classes)
    return split_tasks(empty, test, classes_per_task)


def first_per_class(task: Task, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count`` test images of each class of ``task`` (float ``[0, 1]``) and their local labels."""
    index = torch.cat([(task.test_labels == c).nonzero().flatten()[:count] for c in range(len(task.classes))])
    return inference.to_float(task.test_images[index]), task.test_labels[index]


#: The layer whose output generative replay generates, and the layers below it (frozen there).
REPLAY_LAYER = "features.pool2"
HIDDEN_LAYERS = ("conv1", "conv2", "pool1", "conv3", "conv4", "pool2")
_HIDDEN_DEPTH = len(HIDDEN_LAYERS)


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
            conv1=nn.Sequential(*conv_bn_relu(3, w1)), conv2=nn.Sequential(*conv_bn_relu(w1, w2)),
            pool1=nn.MaxPool2d(2),
            conv3=nn.Sequential(*conv_bn_relu(w2, w3)), conv4=nn.Sequential(*conv_bn_relu(w3, w4)),
            pool2=nn.MaxPool2d(2),
            conv5=nn.Sequential(*conv_bn_relu(w4, w5)),
        ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.heads = nn.ModuleList(nn.Linear(w5, classes_per_task) for _ in range(tasks))

        self.frozen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.from_hidden(self.hidden(x))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The feature maps at :data:`REPLAY_LAYER` of images ``x`` in ``[0, 1]``, ``(N, 64, 8, 8)``
        for 32 x 32 images: what generative replay generates."""
        return self.features[:_HIDDEN_DEPTH](self.normalize(x))

    def from_hidden(self, hidden: torch.Tensor) -> torch.Tensor:
        """Every head's logits from feature maps at :data:`REPLAY_LAYER` (the upper layers)."""
        pooled = self.pool(self.features[_HIDDEN_DEPTH:](hidden)).flatten(1)
        return torch.cat([head(pooled) for head in self.heads], dim=1)

    def hidden_state(self) -> dict[str, torch.Tensor]:
        """The state of the layers below :data:`REPLAY_LAYER` (normalisation included), by name."""
        prefixes = ("normalize.",) + tuple(f"features.{name}." for name in HIDDEN_LAYERS)
        return {name: t.detach().clone() for name, t in self.state_dict().items() if name.startswith(prefixes)}

    def load_hidden(self, state: dict[str, torch.Tensor]) -> None:
        """Load ``state`` (from :meth:`hidden_state`) into the layers below :data:`REPLAY_LAYER`;
        they keep training (BI-R's ``--pre-convE`` without ``--freeze-convE``).

        Raises:
            ValueError: If ``state`` is not the state of exactly those layers.
        """
        expected = set(self.hidden_state())
        if set(state) != expected:
            raise ValueError(f"The pretrained state must hold exactly the layers below {REPLAY_LAYER}; "
                             f"missing {sorted(expected - set(state))[:3]}, unexpected {sorted(set(state) - expected)[:3]}.")
        self.load_state_dict(state, strict=False)

    def freeze_hidden(self, state: dict[str, torch.Tensor]) -> None:
        """Load ``state`` (from :meth:`hidden_state`) into the layers below :data:`REPLAY_LAYER` and
        freeze them: no gradients, and batch norm stays in eval mode when the network trains
        (BI-R's ``--pre-convE --freeze-convE``).

        Raises:
            ValueError: If ``state`` is not the state of exactly those layers.
        """
        self.load_hidden(state)
        expected = set(state)
        for name, parameter in self.named_parameters():
            if name in expected:
                parameter.requires_grad_(False)
        self.frozen = True
        self.train(self.training)

    def train(self, mode: bool = True) -> "MultiHeadCNN":
        super().train(mode)
        if self.frozen:
            self.features[:_HIDDEN_DEPTH].eval()
        return self

    def shared_parameters(self) -> dict[str, nn.Parameter]:
        """The trainable parameters every task uses (all but the heads and frozen layers), by name."""
        return {name: p for name, p in self.named_parameters() if not name.startswith("heads.") and p.requires_grad}


@dataclass
class Run:
    """What a strategy's training run leaves: weights after every task and the metrics."""

    strategy: str
    states: list[dict[str, torch.Tensor]] = field(default_factory=list)
    accuracy: list[list[float]] = field(default_factory=list)  # [after task i][on task j]
    class_accuracy: list[list[float]] = field(default_factory=list)  # [after task i][global class]
    seconds: float = 0.0


@dataclass
class TaskScores:
    """One network measured on every task's test images, each with its own head (:func:`task_scores`)."""

    accuracy: list[float]  # per task
    class_accuracy: list[float]  # per class, in class order
    loss: float  # mean cross-entropy over all the test images


@torch.no_grad()
def task_scores(model: MultiHeadCNN, tasks: Sequence[Task], batch_size: Optional[int] = None) -> TaskScores:
    """Accuracy per task and per class and the mean cross-entropy, from one pass over the test images.

    ``batch_size`` defaults to :func:`xaihelpers.inference.images_per_pass`.
    """
    k = model.classes_per_task
    per_task, per_class, loss_sum, count = [], [], 0.0, 0
    with inference.eval_mode(model):
        for task in tasks:
            size = batch_size or inference.images_per_pass(task.test_images)
            logits = torch.cat([task_logits(model(inference.to_float(task.test_images[i:i + size])), task.index, k)
                                for i in range(0, len(task.test_images), size)])
            right = logits.argmax(dim=1) == task.test_labels
            per_task.append(right.float().mean().item())
            per_class.extend(right[task.test_labels == c].float().mean().item() for c in range(k))
            loss_sum += F.cross_entropy(logits, task.test_labels, reduction="sum").item()
            count += len(logits)
    return TaskScores(per_task, per_class, loss_sum / count)


def evaluate(model: MultiHeadCNN, tasks: Sequence[Task],
             batch_size: Optional[int] = None) -> tuple[list[float], list[float]]:
    """Accuracy on every task's test images (with its own head) and per class, in class order
    (:func:`task_scores` without the loss)."""
    scores = task_scores(model, tasks, batch_size)
    return scores.accuracy, scores.class_accuracy


@torch.no_grad()
def correct_per_image(models: Sequence[MultiHeadCNN], tasks: Sequence[Task]) -> list[np.ndarray]:
    """Which test images of each earlier task the checkpoints from that task on get right, with the
    task's own head: what average forgetting reads, kept per image so that
    :func:`forgetting_interval` can resample the images.

    Returns:
        For every task ``j`` but the last, a boolean array ``(checkpoints after tasks j ... last,
        images of task j)``: row 0 is the checkpoint right after task ``j``. (Checkpoints before
        task ``j`` and the last task do not enter the forgetting, so they are not evaluated.)
    """
    if len(models) != len(tasks) or len(tasks) < 2:
        raise ValueError(f"Give one checkpoint per task and at least two tasks; got {len(models)} checkpoints "
                         f"for {len(tasks)} tasks.")
    rows = []
    for task in tasks[:-1]:
        rows.append([])
        for model in models[task.index:]:
            k = model.classes_per_task
            with inference.eval_mode(model):
                size = inference.images_per_pass(task.test_images)
                predicted = torch.cat([
                    task_logits(model(inference.to_float(task.test_images[i:i + size])), task.index, k).argmax(dim=1)
                    for i in range(0, len(task.test_images), size)])
            rows[-1].append((predicted == task.test_labels).numpy())
    return [np.stack(per_task) for per_task in rows]


#: :func:`correct_per_image` of the model zoo's continual learners, measured once from their committed
#: checkpoints (``python -m xaihelpers.forgetting record``) so that the chapter need not run every
#: checkpoint over every earlier task's test images again (28,000 forward passes per CIFAR-10 learner).
CORRECT_RECORD = Path(__file__).parent / "measured" / "continual_correct.npz"


def sequence_key(models: Sequence[MultiHeadCNN], tasks: Sequence[Task]) -> str:
    """SHA-256 of the checkpoints' weights (:func:`state_sha256`) and of the tasks' test images and
    labels: a record measured under the same key measured these very networks on these very images."""
    digest = hashlib.sha256()
    for model in models:
        digest.update(state_sha256(model.state_dict()).encode())
    for task in tasks:
        digest.update(f"task {task.index}|{tuple(task.test_images.shape)}|".encode())
        digest.update(task.test_images.contiguous().numpy().tobytes())
        digest.update(task.test_labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def read_correct_record(path: Path | str = CORRECT_RECORD) -> dict[str, dict]:
    """The record's entries by key: ``{"name": ..., "machine": ..., "correct": [arrays as
    :func:`correct_per_image` returns them]}``; an empty dict when there is no record."""
    import json

    path = Path(path)
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as stored:
        index = json.loads(str(stored["index"]))
        return {key: {"name": entry["name"], "machine": entry["machine"],
                      "correct": [np.unpackbits(stored[f"{key}/{j}"], axis=1, count=shape[1]).astype(bool)
                                  for j, shape in enumerate(entry["shapes"])]}
                for key, entry in index.items()}


def write_correct_record(entries: dict[str, dict], path: Path | str = CORRECT_RECORD) -> None:
    """Write :func:`read_correct_record`'s entries (packed bits, one array per earlier task), atomically."""
    import json

    from xaihelpers import storage

    arrays, index = {}, {}
    for key, entry in entries.items():
        index[key] = {"name": entry["name"], "machine": entry["machine"],
                      "shapes": [list(per_task.shape) for per_task in entry["correct"]]}
        for j, per_task in enumerate(entry["correct"]):
            arrays[f"{key}/{j}"] = np.packbits(np.asarray(per_task, dtype=bool), axis=1)
    with storage.atomic_write(path) as temporary:
        np.savez_compressed(temporary, index=np.array(json.dumps(index, indent=1, sort_keys=True)), **arrays)


def recorded_correct_per_image(models: Sequence[MultiHeadCNN], tasks: Sequence[Task], *,
                               record: Path | str = CORRECT_RECORD) -> list[np.ndarray]:
    """:func:`correct_per_image`, read from the record when it holds a measurement of these networks
    on these test images (:func:`sequence_key`), measured here otherwise (a retrained learner, other
    data): the same answer, without the forward passes when the checkpoints are the committed ones."""
    entry = read_correct_record(record).get(sequence_key(models, tasks))
    return [per_task.copy() for per_task in entry["correct"]] if entry else correct_per_image(models, tasks)


def _forgetting_from_correct(correct: Sequence[np.ndarray], chosen: Sequence[np.ndarray]) -> np.ndarray:
    """Average forgetting for each resample: ``chosen[j]`` is ``(resamples, images)`` indices into task ``j``."""
    drops = []
    for per_task, indices in zip(correct, chosen):
        resamples, images = len(indices), per_task.shape[1]
        # How often each resample draws each image: the accuracy is then a product with the 0/1
        # answers instead of a gather of (checkpoints, resamples, draws). The sums are whole numbers
        # either way, exact in float64, so the accuracies are the gathered mean's to the last bit.
        offsets = np.arange(resamples)[:, None] * images
        counts = np.bincount((indices + offsets).ravel(), minlength=resamples * images).reshape(resamples, images)
        accuracy = per_task.astype(np.float64) @ counts.T.astype(np.float64) / indices.shape[1]
        drops.append(accuracy[:-1].max(axis=0) - accuracy[-1])  # (checkpoints from task j on, resamples)
    return np.mean(drops, axis=0)


def forgetting_interval(correct_a: Sequence[np.ndarray], correct_b: Sequence[np.ndarray], *,
                        confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> Interval:
    """Average forgetting of learner A minus learner B, with a paired bootstrap interval over the
    test images (:mod:`xaihelpers.intervals`): each resample draws every task's test images with
    replacement, the same draw for both learners, and recomputes both forgettings.

    The interval covers the test images' sampling, not the training: each learner is one training
    run, and another seed would train other networks.

    Args:
        correct_a, correct_b: :func:`correct_per_image` of both learners on the same tasks.

    Raises:
        ValueError: If the two do not cover the same tasks, checkpoints and images.
    """
    from xaihelpers.intervals import Interval

    shapes_a, shapes_b = [c.shape for c in correct_a], [c.shape for c in correct_b]
    if shapes_a != shapes_b:
        raise ValueError(f"Both learners must be measured on the same tasks and images; got shapes {shapes_a} and {shapes_b}.")
    if not shapes_a or [shape[0] for shape in shapes_a] != list(range(len(shapes_a) + 1, 1, -1)):
        raise ValueError("Give correct_per_image's arrays: for each task but the last, the checkpoints from that task on.")
    generator = np.random.default_rng(seed)
    chosen = [generator.integers(0, c.shape[1], size=(resamples, c.shape[1])) for c in correct_a]
    everything = [np.broadcast_to(np.arange(c.shape[1]), (1, c.shape[1])) for c in correct_a]
    observed = float(_forgetting_from_correct(correct_a, everything)[0] - _forgetting_from_correct(correct_b, everything)[0])
    differences = np.empty(resamples)
    step = 100  # resamples per block: bounds the gathered arrays' memory
    for start in range(0, resamples, step):
        block = [c[start:start + step] for c in chosen]
        differences[start:start + step] = (_forgetting_from_correct(correct_a, block)
                                           - _forgetting_from_correct(correct_b, block))
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    return Interval(observed, float(low), float(high), sum(c.shape[1] for c in correct_a), confidence)


def mean_task_loss(model: MultiHeadCNN, tasks: Sequence[Task]) -> float:
    """Mean cross-entropy of ``model`` over every task's test images, each on its own head: the
    loss beside :func:`evaluate`'s accuracies (:func:`task_scores` has both from one pass)."""
    return task_scores(model, tasks).loss


def train_sequence(strategy: Strategy, tasks: Sequence[Task], *, epochs: int = 3, batch_size: int = 64,
                   learning_rate: float = 2e-3, mean=(0.5,) * 3, std=(0.25,) * 3, seed: int = 0,
                   pretrained: Optional[dict[str, torch.Tensor]] = None, progress: bool = True) -> Run:
    """Train a fresh :class:`MultiHeadCNN` on ``tasks`` in order with one strategy.

    Each task is trained by :func:`xaihelpers.training.fit` for ``epochs`` with AdamW on the
    shared layers and that task's head only, with a one-cycle learning rate, crops and flips, and
    the strategy's hooks; after each task the weights are kept and every task's test accuracy is
    measured (a row of the accuracy matrix).

    Args:
        strategy: A :class:`xaihelpers.strategies.Strategy` (``strategies.make(name)`` builds the
            book's); it keeps what it learns along the sequence (memory, anchors).
        tasks: From :func:`split_tasks`.
        epochs: Passes over each task's training images.
        batch_size: Images of the current task per step (replay adds as many memory images).
        learning_rate: Peak learning rate per task.
        mean, std: Input normalisation of the network.
        seed: Seeds the initialisation, the shuffling and the augmentation (the global generator
            is left as it was).
        pretrained: A state of the layers below :data:`REPLAY_LAYER` to start from
            (:meth:`MultiHeadCNN.load_hidden`; they keep training); ``None`` starts from random
            weights. A strategy that freezes them (generative replay) loads its own in ``prepare``.
        progress: Show a progress bar over each task's steps.
    """
    if not isinstance(strategy, Strategy):
        raise TypeError(f"strategy must be a Strategy object (strategies.make({strategy!r}) builds the book's), "
                        f"got {type(strategy).__name__}.")
    generator = torch.Generator().manual_seed(seed)
    k = len(tasks[0].classes)
    with repro.seeded(seed):
        model = MultiHeadCNN(len(tasks), k, mean, std)
    if pretrained is not None:
        model.load_hidden(pretrained)
    strategy.prepare(model)
    run = Run(strategy.name)
    start = time.perf_counter()
    for task in tasks:
        parameters = list(model.shared_parameters().values()) + list(model.heads[task.index].parameters())
        training.fit(model, task.train_images, task.train_labels, epochs=epochs, batch_size=batch_size,
                     learning_rate=learning_rate, augment=training.crops_and_flips, seed=seed, generator=generator,
                     parameters=parameters, task=task.index,
                     head=lambda outputs, task_ids: task_logits(outputs, task_ids, k), strategy=strategy,
                     progress=progress)
        per_task, per_class = evaluate(model, tasks)
        run.accuracy.append(per_task)
        run.class_accuracy.append(per_class)
        run.states.append({name: t.detach().clone() for name, t in model.state_dict().items()})
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


#: The settings of the committed runs that every strategy takes (the time budget decides epochs and
#: images per class). ``start``: ``"pretrained"`` loads the layers below :data:`REPLAY_LAYER` from
#: :func:`pretrain_features` (``pretrain_epochs`` on :func:`pretraining_source`), as the study ran
#: every strategy with BI-R's ``--pre-convE``; ``"scratch"`` starts from random weights (the
#: ablation) and takes no ``pretrain_epochs``.
DEFAULTS = {"epochs": 3, "train_per_class": 2000, "batch_size": 64, "learning_rate": 2e-3,
            "start": "pretrained", "pretrain_epochs": 30, "seed": 0}
STARTS = ("pretrained", "scratch")
#: The settings each strategy adds to :data:`DEFAULTS`: EWC's strength and Fisher sample count are
#: BI-R's (``--lambda 1000``, ``--fisher-n 1000``); the replay memory; the feature VAE of generative
#: replay (:class:`xaihelpers.strategies.GenerativeReplay`).
STRATEGY_DEFAULTS = {
    "baseline": {},
    "ewc": {"ewc_strength": 1000.0, "fisher_samples": 1000},
    "replay": {"memory_size": 500},
    "generative": {"vae_epochs": 20, "latent": 32, "vae_hidden": 512, "replay_batch": 64, "temperature": 2.0},
}
GENERATIVE_DEFAULTS = STRATEGY_DEFAULTS["generative"]


def run_settings(strategy: str, start: str = DEFAULTS["start"]) -> dict:
    """The settings a run of ``strategy`` takes, with the book's values: :data:`DEFAULTS` (without
    ``pretrain_epochs`` for a ``"scratch"`` start) and the strategy's own.

    Raises:
        ValueError: For an unknown strategy or start, or generative replay from scratch (its frozen
            layers must be pretrained).
    """
    if strategy not in STRATEGY_DEFAULTS:
        raise ValueError(f"Unknown strategy '{strategy}'; choose one of {tuple(STRATEGY_DEFAULTS)}.")
    if start not in STARTS:
        raise ValueError(f"Unknown start '{start}'; choose one of {STARTS}.")
    if strategy == "generative" and start != "pretrained":
        raise ValueError("Generative replay freezes pretrained layers, so it cannot start from scratch; "
                         "use start='pretrained'.")
    common = {key: value for key, value in DEFAULTS.items() if start == "pretrained" or key != "pretrain_epochs"}
    return {**common, "start": start, **STRATEGY_DEFAULTS[strategy]}


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 of a state's names, dtypes, shapes and bytes, in name order: equal hashes, equal tensors."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


@dataclass
class PretrainingSource:
    """Labelled images outside the task sequence that the frozen layers of generative replay learn from."""

    name: str
    objective: str  # "classification" or "rotation"
    images: torch.Tensor  # uint8 (N, 3, 32, 32)
    labels: torch.Tensor
    classes: int
    augment: training.Augment


def rotation_task(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image turned by 0, 90, 180 and 270 degrees, labelled 0-3 by its turn: the
    self-supervised pretext task of Gidaris, Singh and Komodakis (2018, *Unsupervised
    representation learning by predicting image rotations*, ICLR)."""
    turned = torch.cat([torch.rot90(images, turns, dims=(-2, -1)) for turns in range(4)])
    return turned, torch.arange(4).repeat_interleave(len(images))


def pretraining_source(dataset: str, root: Optional[Path] = None, progress: bool = False) -> PretrainingSource:
    """Where the frozen layers of generative replay are pretrained, for a task sequence on ``dataset``.

    For CIFAR-100 tasks, CIFAR-10's training images with their labels, as brain-inspired replay does.
    For CIFAR-10 tasks no CIFAR image may be used (every class is in a task), so the ImageNet
    sample images (one per ImageNet class, reduced to 32 x 32: resize of the short side, bicubic,
    then a centre crop) learn the rotation task (:func:`rotation_task`), which needs no label.
    """
    from torchvision import transforms

    from xaihelpers.cifar import load_cifar

    if dataset == "cifar100":
        source = load_cifar("cifar10", "train", root=root, progress=progress)
        return PretrainingSource("cifar10", "classification", source.images, source.labels, len(source.classes),
                                 training.crops_and_flips)
    reduce = transforms.Compose([transforms.Resize(32, interpolation=transforms.InterpolationMode.BICUBIC,
                                                   antialias=True), transforms.CenterCrop(32), transforms.PILToTensor()])
    samples = data.load_dataset("imagenet_samples", "all", transform=reduce, root=root)
    images, labels = rotation_task(torch.stack([samples[i][0] for i in range(len(samples))]))
    return PretrainingSource("imagenet_samples", "rotation", images, labels, 4, training.random_crops)


def pretrain_features(source: PretrainingSource, *, epochs: int, seed: int = 0, batch_size: int = 128,
                      learning_rate: float = 4e-3, progress: bool = True) -> tuple[dict[str, torch.Tensor], dict]:
    """Train a :class:`MultiHeadCNN` with one head on ``source`` and keep its layers below
    :data:`REPLAY_LAYER`, the layers generative replay freezes.

    Returns:
        ``(state, info)``: :meth:`MultiHeadCNN.hidden_state` of the trained network, and the
        source, objective, input normalisation, training accuracy on the source and seconds.
    """
    start = time.perf_counter()
    mean, std = training.channel_statistics(source.images)
    with repro.seeded(seed):
        network = MultiHeadCNN(1, source.classes, mean, std)
    training.fit(network, source.images, source.labels, epochs=epochs, batch_size=batch_size,
                 learning_rate=learning_rate, augment=source.augment, seed=seed, progress=progress)
    info = {"source": source.name, "objective": source.objective, "images": len(source.images),
            "mean": mean, "std": std, "source_accuracy": inference.accuracy(network, source.images, source.labels),
            "seconds": time.perf_counter() - start}
    return network.hidden_state(), info


_SHARED_PRETRAINING: Optional[dict] = None


@contextmanager
def shared_pretraining() -> Iterator[None]:
    """Within the block, runs that pretrain on the same source with the same epochs and seed
    pretrain once and start from that one state (``python -m xaihelpers.retrain`` trains its models
    in such a block). Pretraining is deterministic on one machine, so this saves its minutes without
    changing a run; each run's ``train_seconds`` still count the pretraining's seconds, as if it had
    run alone. The shared states are dropped when the block ends."""
    global _SHARED_PRETRAINING
    outer = _SHARED_PRETRAINING
    _SHARED_PRETRAINING = {} if outer is None else outer
    try:
        yield
    finally:
        _SHARED_PRETRAINING = outer


def _pretrained_layers(name: str, root: Optional[Path], epochs: int, seed: int,
                       progress: bool) -> tuple[dict[str, torch.Tensor], dict]:
    key = (name, str(root), epochs, seed)
    if _SHARED_PRETRAINING is not None and key in _SHARED_PRETRAINING:
        state, info = _SHARED_PRETRAINING[key]
    else:
        state, info = pretrain_features(pretraining_source(name, root, progress), epochs=epochs, seed=seed,
                                        progress=progress)
        info["state_sha256"] = state_sha256(state)
        if _SHARED_PRETRAINING is not None:
            _SHARED_PRETRAINING[key] = state, info
    return {k: t.clone() for k, t in state.items()}, dict(info)


def train_run(strategy: str, *, root: Optional[Path] = None, progress: bool = True, **settings) -> dict:
    """Train the book's task sequence with one strategy: the checkpoint payload of a run.

    Loads CIFAR-100 (10 tasks of 10 classes) when the data root has it, else CIFAR-10 (5 tasks of
    2 classes), keeps ``train_per_class`` training images per class, and runs
    :func:`train_sequence` with ``strategies.make(strategy, ...)``. With ``start="pretrained"``
    (the default) the layers below :data:`REPLAY_LAYER` are first pretrained on
    :func:`pretraining_source` (:func:`pretrain_features`, the same for every strategy); the
    baseline, EWC and replay fine-tune them, generative replay freezes them. The run's
    ``train_seconds`` include the pretraining.

    Args:
        strategy: ``baseline``, ``ewc``, ``replay`` or ``generative``.
        root: The data root (default: the configured one).
        progress: Show progress bars.
        settings: Overrides of :func:`run_settings` (``start`` included).

    Returns:
        ``{"states": [state after each task], "meta": {...}}``, ready for
        :func:`xaihelpers.checkpoints.save`; ``meta["pretraining"]`` holds the pretraining's
        source, accuracy, seconds and the SHA-256 of the state every pretrained run starts from.
    """
    from xaihelpers.cifar import load_cifar

    accepted = run_settings(strategy, settings.get("start", DEFAULTS["start"]))
    unknown = set(settings) - set(accepted)
    if unknown:
        raise ValueError(f"Unknown settings {sorted(unknown)}; the {strategy} run from a {accepted['start']} start "
                         f"takes {sorted(accepted)}.")
    settings = {**accepted, **settings}
    name, per_task = choose_dataset(root)
    train_set = load_cifar(name, "train", root=root, progress=progress)
    test_set = load_cifar(name, "test", root=root, progress=progress)
    tasks = split_tasks(train_set, test_set, per_task, settings["train_per_class"], seed=settings["seed"])
    extra_meta, extra_seconds, options, pretrained = {}, 0.0, {}, None
    if settings["start"] == "pretrained":
        # The pretrained layers expect the source's normalisation, so the whole network takes it.
        pretrained, info = _pretrained_layers(name, root, settings["pretrain_epochs"], settings["seed"], progress)
        mean, std = info["mean"], info["std"]
        extra_meta, extra_seconds = {"pretraining": info}, info["seconds"]
    else:
        mean, std = training.channel_statistics(torch.cat([t.train_images for t in tasks]), every=10)
    if strategy == "generative":
        options = {"pretrained": pretrained, "classes": len(tasks) * per_task, "classes_per_task": per_task,
                   "vae_epochs": settings["vae_epochs"], "latent": settings["latent"],
                   "hidden": settings["vae_hidden"], "replay_batch": settings["replay_batch"],
                   "temperature": settings["temperature"], "progress": progress}
    chosen = strategies.make(strategy, **{key: settings[key] for key in ("ewc_strength", "fisher_samples", "memory_size")
                                          if key in settings}, seed=settings["seed"], **options)
    run = train_sequence(chosen, tasks, epochs=settings["epochs"], batch_size=settings["batch_size"],
                         learning_rate=settings["learning_rate"], mean=mean, std=std, seed=settings["seed"],
                         pretrained=None if strategy == "generative" else pretrained, progress=progress)
    if strategy == "generative":
        extra_meta["vae_losses"] = chosen.vae_losses
    meta = {"dataset": name, "tasks": len(tasks), "classes_per_task": per_task,
            "task_classes": [t.classes for t in tasks], "mean": mean, "std": std, **settings,
            "frozen": strategy == "generative", "threads": torch.get_num_threads(), "strategy": run.strategy,
            "accuracy": run.accuracy, "class_accuracy": run.class_accuracy,
            "train_seconds": run.seconds + extra_seconds, **extra_meta}
    return {"states": run.states, "meta": meta}


#: The study's runs as BI-R's ``main_cl.py`` sets them up for ``--experiment=CIFAR100
#: --scenario=task`` (``options.py``'s ``set_defaults``; the study added ``--pre-convE`` for the
#: baseline and EWC, ``--lambda=1000`` for EWC, ``--brain-inspired`` for BI-R).
BIR_CIFAR100 = {
    "data": "CIFAR-100, 10 tasks of 10 classes, 500 training images per class",
    "conv layers": "5 conv layers with batch norm, 16 to 256 channels, 4 of them with stride 2",
    "above the conv layers": "3 fully connected layers, 2,000 units, one output per class (task-masked)",
    "training per task": "5,000 iterations, batch 256, Adam, learning rate 1e-4, no augmentation",
    "starting point": "conv layers pretrained on CIFAR-10 (labelled): fine-tuned for baseline and EWC "
                      "(--pre-convE), frozen for BI-R (--brain-inspired sets --freeze-convE)",
    "EWC": "lambda 1,000, Fisher from 1,000 samples",
    "replay": "none (the study ran baseline, EWC and BI-R)",
    "generative replay": "the classifier run backwards (replay through feedback), class-conditional Gaussian-mixture "
                         "prior, decoder gates (masking share 0 in the task scenario), internal replay with "
                         "distillation at temperature 2",
    "seed": "0",
}


def study_differences(recipes: dict[str, dict], dataset: str = "cifar10") -> pandas.DataFrame:
    """The book's continual learners beside the study's BI-R runs, setting by setting.

    Args:
        recipes: Strategy -> the zoo recipe of the book's learner (``zoo.MODELS[f"continual_{s}"].recipe``).
        dataset: The data set the book's learners were trained on (``meta["dataset"]``).

    Returns:
        A table indexed by setting, with the columns ``BI-R (the study)``, ``this book`` and
        ``recipe keys`` (which recipe settings each row states, so a test can see that none is missing).
    """
    import pandas as pd

    base = recipes["baseline"]
    ewc, replay, generative = recipes["ewc"], recipes["replay"], recipes["generative"]
    classes = 2 if dataset == "cifar10" else 10
    widths = inspect.signature(MultiHeadCNN).parameters["widths"].default
    rows = {
        "data": (f"{'CIFAR-10, 5 tasks of 2' if dataset == 'cifar10' else 'CIFAR-100, 10 tasks of 10'} classes, "
                 f"{base['train_per_class']:,} training images per class", ["train_per_class"]),
        "conv layers": (f"5 conv layers with batch norm, {widths[0]} to {widths[-1]} channels, 2 max-pools", []),
        "above the conv layers": ("global average pooling, one linear head per task", []),
        "training per task": (f"{base['epochs']} epochs of {base['train_per_class'] * classes:,} images, batch "
                              f"{base['batch_size']}, AdamW, one-cycle learning rate peaking at {base['learning_rate']:g}, "
                              "random crops and flips", ["epochs", "batch_size", "learning_rate"]),
        "starting point": (f"{'every strategy from the same conv layers 1-4' if base['start'] == 'pretrained' else 'random weights'}"
                           f", pretrained for {base['pretrain_epochs']} epochs on "
                           f"{'the ImageNet sample images (rotation task)' if dataset == 'cifar10' else 'CIFAR-10 (labelled)'}: "
                           "fine-tuned for baseline, EWC and replay, frozen for generative replay; from random "
                           "weights in the ablation", ["start", "pretrain_epochs"]),
        "EWC": (f"lambda {ewc['ewc_strength']:,.0f}, Fisher from {ewc['fisher_samples']:,} samples",
                ["ewc_strength", "fisher_samples"]),
        "replay": (f"experience replay from a memory of {replay['memory_size']:,} images", ["memory_size"]),
        "generative replay": (f"a separate VAE of the pool2 features, after conv4 ({generative['latent']} latent dimensions, "
                              f"{generative['vae_hidden']} hidden units, {generative['vae_epochs']} epochs per task), "
                              f"{generative['replay_batch']} replayed maps per step, one prior mean per class, no "
                              f"gating, distillation at temperature {generative['temperature']:g}",
                              ["latent", "vae_hidden", "vae_epochs", "replay_batch", "temperature"]),
        "seed": (f"{base['seed']}", ["seed"]),
    }
    return pd.DataFrame({"BI-R (the study)": {key: BIR_CIFAR100[key] for key in rows},
                         "this book": {key: text for key, (text, _) in rows.items()},
                         "recipe keys": {key: ", ".join(keys) for key, (_, keys) in rows.items()}})

