"""The book's model zoo: every model the book trains, its recipe and its shipped checkpoint.

One registry (:data:`MODELS`) maps a name to what the model is (architecture, data set), how it
is trained (the recipe the committed checkpoint was made with) and where its checkpoint lives.
Chapters load models by name; one command retrains any of them::

    python -m xaihelpers.retrain pollen_cnn          # one model
    python -m xaihelpers.retrain all                 # every model that has no checkpoint yet
    python -m xaihelpers.retrain --list              # the table below, with times

Retraining with the recipe of the registry (same seed, same thread count) repeats the committed
run, but not necessarily to the last bit: the shipped ``pollen_cnn``, retrained so on a 2-core
AVX-512 machine, came out with other weights (test accuracy 0.873 as committed, validation
accuracy 0.854 against 0.848). An existing checkpoint is never replaced unless ``--force`` is given.

========================  ==========  =============================================
family                    data set    what is trained
========================  ==========  =============================================
``pollen_cnn*``           pollen      :class:`~xaihelpers.pollen.PollenCNN` (23 classes)
``cifar10_*``             CIFAR-10    :mod:`~xaihelpers.cifar` architectures
``continual_*``           CIFAR-10/100 tasks  :class:`~xaihelpers.continual.MultiHeadCNN`, one state per task
========================  ==========  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from torch import nn

from xaihelpers import checkpoints, checks, data, inference
from xaihelpers.blocks import channels_last

CHECKPOINT_DIR = data.CHECKPOINT_DIR
EXERCISE_DIR = CHECKPOINT_DIR / "exercises"
TRAIN_COMMAND = "python -m xaihelpers.retrain"


@dataclass(frozen=True)
class ModelSpec:
    """One trained model of the book.

    Attributes:
        name: The registry key (also the argument of ``python -m xaihelpers.retrain``).
        family: ``pollen``, ``cifar10`` or ``continual``: which builder, trainer and loader apply.
        description: One line for tables.
        dataset: The data set it is trained on.
        checkpoint: The shipped checkpoint file.
        recipe: The training settings the checkpoint was made with (keyword arguments of the
            family's trainer).
        minutes: About how long training takes on 2 CPU cores.
        exercise: Whether it is a variant that only exercises compare with the book's models.
    """

    name: str
    family: str
    description: str
    dataset: str
    checkpoint: Path
    recipe: dict[str, Any] = field(default_factory=dict)
    minutes: float = 5.0
    exercise: bool = False

    @property
    def command(self) -> str:
        """The command (from the repository root) that trains this model."""
        return f"{TRAIN_COMMAND} {self.name}"


def _pollen(name: str, description: str, exercise: bool = False, **recipe) -> ModelSpec:
    return ModelSpec(name, "pollen", description, "pollen", CHECKPOINT_DIR / f"{name}.pt",
                     {"epochs": 60, "seed": 0, "augment": True, "dropout": 0.3, **recipe}, 5.0, exercise)


def _cifar(arch: str, epochs: int, minutes: float) -> ModelSpec:
    from xaihelpers.cifar import ARCHITECTURES

    return ModelSpec(f"cifar10_{arch}", "cifar10", f"CIFAR-10 CNN '{arch}': {ARCHITECTURES[arch][1]}", "cifar10",
                     CHECKPOINT_DIR / f"cifar10_{arch}.pt",
                     {"arch": arch, "epochs": epochs, "seed": 0, "batch_size": 128, "learning_rate": 4e-3}, minutes)


def _continual(strategy: str, description: str, variant: Optional[str] = None, minutes: float = 4.0,
               exercise: bool = True, **settings) -> ModelSpec:
    from xaihelpers.continual import run_settings

    folder = EXERCISE_DIR / variant if variant else CHECKPOINT_DIR
    defaults = run_settings(strategy, settings.get("start", "pretrained"))
    return ModelSpec(f"continual_{variant or strategy}", "continual", description, "CIFAR-10 tasks (CIFAR-100 if present)",
                     folder / f"continual_{strategy}.pt", {"strategy": strategy, **defaults, **settings}, minutes,
                     exercise=variant is not None and exercise)


def _registry() -> dict[str, ModelSpec]:
    specs = [
        _pollen("pollen_cnn", "pollen CNN of the book (flips and quarter turns, dropout 0.3)"),
        _pollen("pollen_cnn_seed1", "pollen CNN, another seed (exercise 3.1)", True, seed=1),
        _pollen("pollen_cnn_no_augment", "pollen CNN without augmentation (exercise 3.2)", True, augment=False),
        _pollen("pollen_cnn_dropout05", "pollen CNN with dropout 0.5 (exercise 9.4)", True, dropout=0.5),
        _cifar("plain", 4, 8.5), _cifar("gap", 4, 6.5), _cifar("allconv", 5, 6.5),
        _continual("baseline", "continual learner, plain fine-tuning of pretrained layers", minutes=6.0),
        _continual("ewc", "continual learner, elastic weight consolidation (strength 1,000, 1,000 Fisher samples)",
                   minutes=7.0),
        _continual("replay", "continual learner, experience replay (memory of 500)", minutes=9.5),
        _continual("generative", "continual learner, generative replay of frozen pretrained features (after BI-R)",
                   minutes=5.0),
        _continual("ewc", "continual learner, EWC strength 100 (exercise 14.1)", "ewc_strength_100",
                   minutes=7.0, ewc_strength=100.0),
        _continual("ewc", "continual learner, EWC strength 10,000 (exercise 14.1)", "ewc_strength_10000",
                   minutes=7.0, ewc_strength=10000.0),
        _continual("replay", "continual learner, replay memory of 250 (exercise 14.2)", "replay_memory_250",
                   minutes=5.0, memory_size=250),
        _continual("generative", "continual learner, generative replay's frozen layers without replay (chapter 14's ablation)",
                   "generative_no_replay", minutes=2.5, exercise=False, replay_batch=0),
        _continual("baseline", "continual learner, plain fine-tuning from random weights (chapter 14's ablation)",
                   "baseline_scratch", minutes=4.0, exercise=False, start="scratch"),
        _continual("ewc", "continual learner, EWC from random weights (chapter 14's ablation)",
                   "ewc_scratch", minutes=5.0, exercise=False, start="scratch"),
        _continual("replay", "continual learner, experience replay from random weights (chapter 14's ablation)",
                   "replay_scratch", minutes=7.5, exercise=False, start="scratch"),
    ]
    return {spec.name: spec for spec in specs}


#: Name -> :class:`ModelSpec` of every model the book trains.
MODELS: dict[str, ModelSpec] = _registry()

#: Recipe settings a shipped checkpoint does not record because it was trained before its trainer
#: wrote them down: name -> (the settings, the evidence for their values). :func:`load` adds them
#: to that file's ``meta`` and names them, with the evidence, in ``meta["unrecorded"]``.
FROM_HISTORY: dict[str, tuple[dict[str, Any], str]] = {
    **{name: ({"start": "scratch"},
              "known from the code history, not recorded in the file: this checkpoint was committed in f8735d9 as "
              "the book's learner, when continual.train_run had no start setting and began every strategy but "
              "generative replay from random weights")
       for name in ("continual_baseline_scratch", "continual_replay_scratch")},
    "pollen_cnn": ({"augment": True, "dropout": 0.3},
                   "known from the code history, not recorded in the file: pollen_cnn.pt was committed in "
                   "eff7549 with the pollen.train that made it, which always augmented with flips and quarter "
                   "turns and built PollenCNN with its default dropout of 0.3"),
}
#: Why a shipped checkpoint without ``train_seconds`` has none (:func:`load` reports ``None``).
UNTIMED = ("unknown: not recorded in the file (the shipped pollen checkpoints were trained before pollen.train "
           "measured its runs, and retraining pollen_cnn gave other weights, so no time measured now belongs to them)")


def get(name: str) -> ModelSpec:
    """The registry entry ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    return checks.registered(MODELS, name, "model")


def checkpoint_path(name: str, out_dir: Optional[Path] = None) -> Path:
    """Where ``name``'s checkpoint is written: its shipped path, or under ``out_dir`` at the same
    place relative to the shipped folder (the exercise variants keep their subfolders, so no two
    entries share a file, although several are called ``continual_ewc.pt``)."""
    spec = get(name)
    if out_dir is None:
        return spec.checkpoint
    return Path(out_dir) / spec.checkpoint.relative_to(CHECKPOINT_DIR)


def table():
    """The registry as a ``pandas.DataFrame``: family, data set, minutes, checkpoint, description."""
    import pandas as pd

    return pd.DataFrame([{"model": s.name, "family": s.family, "data": s.dataset, "minutes": s.minutes,
                          "exercise": s.exercise, "shipped": s.checkpoint.is_file(), "description": s.description}
                         for s in MODELS.values()]).set_index("model")


# --- what each family builds, trains and stores -------------------------------------------------

def _build(spec: ModelSpec, meta: dict) -> nn.Module:
    """A fresh network of ``spec``'s architecture, sized by the checkpoint's ``meta``."""
    family = spec.family
    if family == "pollen":
        from xaihelpers.pollen import PollenCNN

        return PollenCNN(len(meta["classes"]), meta["mean"], meta["std"], dropout=meta.get("dropout", 0.3))
    if family == "cifar10":
        from xaihelpers.cifar import build

        return build(spec.recipe["arch"], classes=len(meta["classes"]), mean=meta["mean"], std=meta["std"])
    from xaihelpers.continual import MultiHeadCNN

    return MultiHeadCNN(meta["tasks"], meta["classes_per_task"], meta["mean"], meta["std"])


def _train_pollen(recipe: dict, progress: bool) -> dict:
    from xaihelpers import pollen

    pollen.ensure_split()
    model, _, meta = pollen.train(**recipe, progress=progress)
    test = pollen.load_split("test")
    meta["test_accuracy"] = inference.accuracy(model, test.images, test.labels)
    return {"state_dict": model.state_dict(), "meta": meta}


def _train_cifar(recipe: dict, progress: bool) -> dict:
    from xaihelpers import cifar

    model, meta = cifar.train(**recipe, progress=progress)
    test = cifar.load_cifar("cifar10", "test", progress=progress)
    meta["test_accuracy"] = inference.accuracy(model, test.images, test.labels)
    return {"state_dict": model.state_dict(), "meta": meta}


def _train_continual(recipe: dict, progress: bool) -> dict:
    from xaihelpers import continual

    settings = dict(recipe)
    return continual.train_run(settings.pop("strategy"), progress=progress, **settings)


_TRAINERS: dict[str, Callable[[dict, bool], dict]] = {
    "pollen": _train_pollen, "cifar10": _train_cifar, "continual": _train_continual}
#: What a checkpoint of each family holds besides ``meta``.
_WEIGHTS = {"pollen": "state_dict", "cifar10": "state_dict", "continual": "states"}


def recipe(name: str, **overrides) -> dict[str, Any]:
    """The recipe of ``name`` with ``overrides`` (for a variant a reader trains).

    Raises:
        TypeError: For a setting the recipe does not have (the message lists those it has).
    """
    spec = get(name)
    unknown = set(overrides) - set(spec.recipe)
    if unknown:
        raise TypeError(f"{name}'s recipe has no {sorted(unknown)}; it has {sorted(spec.recipe)}.")
    return {**spec.recipe, **overrides}


def train(name: str, *, out: Optional[Path] = None, force: bool = False, progress: bool = True,
          **overrides) -> Path:
    """Train the model ``name`` with its recipe and save its checkpoint (atomically).

    Args:
        name: A registry name.
        out: Where to write (default: the registry's checkpoint path).
        force: Replace an existing file.
        progress: Show progress bars.
        overrides: Settings that differ from the recipe (a variant: write it to ``out``).

    Returns:
        The path written.

    Raises:
        FileExistsError: If the file exists and ``force`` is false (nothing is trained).
    """
    spec = get(name)
    settings = recipe(name, **overrides)
    out = Path(out or spec.checkpoint)
    if overrides and out == spec.checkpoint:
        raise ValueError(f"A variant of {name} ({overrides}) would replace the book's checkpoint {out}; "
                         "write it elsewhere (--out-dir).")
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists; pass --force (force=True) to replace it.")
    payload = _TRAINERS[spec.family](settings, progress)
    payload["meta"]["model"] = spec.name
    return checkpoints.save(payload, out, overwrite=force)


def load(name: str, path: Optional[Path] = None) -> tuple[Any, dict]:
    """Load a trained model of the book (``torch.load(..., weights_only=True)``), in eval mode.

    Args:
        name: A registry name (``zoo.MODELS``).
        path: Another checkpoint of the same model (one you retrained); default: the shipped one.

    Returns:
        ``(model, meta)``; for a ``continual_*`` run, ``(networks after each task, meta)``. What a
        checkpoint does not record is said in ``meta["unrecorded"]`` (setting -> why): the shipped
        ``pollen_cnn.pt``'s augmentation and dropout, known from the code history
        (:data:`FROM_HISTORY`, added to ``meta``), and the shipped pollen checkpoints'
        ``train_seconds``, which are ``None`` (unknown, :data:`UNTIMED`).

    Raises:
        KeyError: For an unknown name.
        FileNotFoundError: If the checkpoint is missing; the message gives the training command.
        checkpoints.CheckpointError: If the file is truncated or corrupt, or holds another model.
    """
    spec = get(name)
    path = Path(path or spec.checkpoint)
    weights = _WEIGHTS[spec.family]
    checkpoint = checkpoints.load(path, (weights, "meta"), spec.command)
    meta = checkpoint["meta"]
    unrecorded = {}
    settings, evidence = FROM_HISTORY.get(name, ({}, ""))
    if path.resolve() == spec.checkpoint.resolve():
        for key, value in settings.items():
            if key not in meta:
                meta[key], unrecorded[key] = value, evidence
    if "train_seconds" not in meta:
        meta["train_seconds"], unrecorded["train_seconds"] = None, UNTIMED
    if unrecorded:
        meta["unrecorded"] = unrecorded
    stored_as = meta.get("model")
    if stored_as is not None and stored_as in MODELS and MODELS[stored_as].family != spec.family:
        raise checkpoints.CheckpointError(f"{path} is a checkpoint of '{stored_as}', not of a {spec.family} model "
                                          f"like '{name}'. Load it as zoo.load('{stored_as}', path).")
    try:
        states = checkpoint[weights] if spec.family == "continual" else [checkpoint[weights]]
        networks = [channels_last(checkpoints.load_weights(_build(spec, meta), state, path, spec.command)).eval()
                    for state in states]
    except KeyError as error:
        raise checkpoints.CheckpointError(f"{path} lacks the entry {error} that a {spec.family} checkpoint "
                                          f"records: it is not a checkpoint of '{name}'. Make it with: "
                                          f"{spec.command}.") from error
    return (networks if spec.family == "continual" else networks[0]), meta
