"""CIFAR-10 in memory and the three small CNN architectures the book trains and compares.

The three networks share the same convolutional widths (32, 64, 128 channels at 32, 16 and 8
pixels) and differ in how spatial evidence reaches the classifier, which is what the LIME, SHAP
and callbacks chapters compare:

- ``plain`` (:class:`PlainCNN`): a VGG-style conv stack with max pooling, flattened into a fully
  connected head (Simonyan & Zisserman 2015). The dense layer sees *where* each feature is.
- ``gap`` (:class:`GapCNN`): the same conv stack, then global average pooling and one linear layer
  (Lin et al. 2014, *Network in Network*; Zhou et al. 2016, CAM). Position is averaged away.
- ``allconv`` (:class:`AllConvCNN`): no pooling layers at all: strided convolutions downsample, and
  a 1x1 convolution produces one evidence map per class that is averaged into the logits
  (Springenberg et al. 2015, *Striving for simplicity: the all convolutional net*).

Train one (each takes at most about 10 minutes on 2 CPU cores)::

    python -m xaihelpers.cifar train --arch plain     # writes xaihelpers/checkpoints/cifar10_plain.pt
    python -m xaihelpers.cifar train --arch all

Every model takes ``[0, 1]`` images ``(N, 3, 32, 32)``; its input normalisation is its first layer.
Every ReLU is its own module (guided backpropagation and hooks need that).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xaihelpers import cache, data, repro, training
from xaihelpers.models import Normalize, channels_last

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SIZE = 32
CHECKPOINT_DIR = data.CHECKPOINT_DIR
TRAIN_COMMAND = "python -m xaihelpers.cifar train --arch {arch}"
WIDTHS = (32, 64, 128)


@dataclass
class CifarData:
    """One split in memory: uint8 images ``(N, 3, 32, 32)``, labels ``(N,)`` and class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def load_cifar(name: str = "cifar10", split: str = "train", root: Optional[Path] = None,
               progress: bool = False) -> CifarData:
    """Read a CIFAR split from the data root into memory (about 10 s for 50,000 JPEGs).

    Reads either layout the data root may hold: class folders of images (the offline mirror) or
    torchvision's pickles (``cifar-10-batches-py`` after ``python -m xaihelpers.data download``).

    Args:
        name: ``cifar10`` or ``cifar100``.
        split: ``train`` or ``test``.
        root: Data root; defaults to :func:`xaihelpers.data.data_root`.
        progress: Show a progress bar while reading image files.

    Raises:
        DatasetNotFoundError: If the data set is not under the data root (the message says how
            to get it).
        ValueError: If an image is not 32x32.
    """
    dataset = data.load_dataset(name, split, root=root)
    if hasattr(dataset, "samples"):  # class folders of image files
        from PIL import Image

        pixels = []
        for path, _ in tqdm(dataset.samples, desc=f"{name} {split}", disable=not progress):
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
            if array.shape[:2] != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(f"{path} is {array.shape[1]}x{array.shape[0]}, but CIFAR images are "
                                 f"{IMAGE_SIZE}x{IMAGE_SIZE}; is the data root's {name} folder the right one?")
            pixels.append(array)
        array = np.stack(pixels)
        labels = [label for _, label in dataset.samples]
    else:  # torchvision's pickled arrays
        array, labels = dataset.data, dataset.targets
    images = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()
    return CifarData(images, torch.tensor(labels, dtype=torch.long), list(dataset.classes))


def _conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _pooled_stack(widths: Sequence[int]) -> nn.Sequential:
    """Blocks of 3x3 conv layers and a 2x2 max-pool; ``features.i`` is block ``i``.

    The first block has one conv layer, the others two: a second conv at full resolution would
    cost a third of the training time for little accuracy in a 10-minute budget.
    """
    blocks, c_in = [], 3
    for position, width in enumerate(widths):
        second = _conv(width, width) if position else []
        blocks.append(nn.Sequential(*_conv(c_in, width), *second, nn.MaxPool2d(2)))
        c_in = width
    return nn.Sequential(*blocks)


class CifarCNN(nn.Module):
    """Common frame: ``normalize`` -> ``features`` (three blocks) -> ``classifier``.

    Attributes:
        conv_blocks: Module names of the three conv blocks (outputs 16x16, 8x8, 4x4).
        last_conv: The last ReLU before downsampling (8x8), the usual Grad-CAM layer.
        dense_layer: The layer whose output is the vector (or maps) the classifier reads.
    """

    conv_blocks = ["features.0", "features.1", "features.2"]
    last_conv = "features.2.5"
    dense_layer = ""

    def __init__(self, features: nn.Sequential, classifier: nn.Sequential, mean: Sequence[float],
                 std: Sequence[float]) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)))

    def logit_parts(self, dense: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact decomposition of the logits of ``labels``: ``(N, units)`` contributions of the
        recorded ``dense_layer`` output and the ``(N,)`` bias; their sum is the logit."""
        final = self.classifier[-1]
        return final.weight[labels] * dense.flatten(1), final.bias[labels]

    def evidence_map(self, last_block: torch.Tensor, dense: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``(N, h, w)`` evidence for ``labels`` at each position of the last block, summing to the
        logit minus the bias (the class activation map). Only for position-free classifiers.

        Raises:
            TypeError: For a dense head, which mixes positions (use an intervention such as
                :func:`xaihelpers.hooks.occlusion_by_position` instead).
        """
        raise TypeError(f"{type(self).__name__} has a dense head that mixes positions: it has no exact "
                        "evidence map; use xaihelpers.hooks.occlusion_by_position.")


class PlainCNN(CifarCNN):
    """Conv stack with max pooling, flattened into a dense layer of ``hidden`` units, dropout, logits."""

    dense_layer = "classifier.2"  # the ReLU after the hidden dense layer

    def __init__(self, classes: int = 10, mean=(0.5,) * 3, std=(0.25,) * 3, hidden: int = 256,
                 dropout: float = 0.3) -> None:
        side = IMAGE_SIZE // 2 ** len(WIDTHS)
        classifier = nn.Sequential(nn.Flatten(), nn.Linear(WIDTHS[-1] * side * side, hidden), nn.ReLU(),
                                   nn.Dropout(dropout), nn.Linear(hidden, classes))
        super().__init__(_pooled_stack(WIDTHS), classifier, mean, std)


class GapCNN(CifarCNN):
    """The same conv stack, global average pooling, one linear layer (a CAM-ready network)."""

    dense_layer = "classifier.1"  # the pooled 128-vector

    def __init__(self, classes: int = 10, mean=(0.5,) * 3, std=(0.25,) * 3) -> None:
        classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(WIDTHS[-1], classes))
        super().__init__(_pooled_stack(WIDTHS), classifier, mean, std)

    def evidence_map(self, last_block: torch.Tensor, dense: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weights = self.classifier[-1].weight[labels]
        return torch.einsum("nk,nkhw->nhw", weights, last_block) / last_block[0, 0].numel()


class AllConvCNN(CifarCNN):
    """No pooling layers: each block is a 3x3 conv and a stride-2 3x3 conv; a 1x1 conv gives one
    evidence map per class, averaged into the logits."""

    dense_layer = "classifier.0"  # the 1x1 conv: class-evidence maps (N, classes, 4, 4)

    def __init__(self, classes: int = 10, mean=(0.5,) * 3, std=(0.25,) * 3) -> None:
        blocks, c_in = [], 3
        for width in WIDTHS:
            blocks.append(nn.Sequential(*_conv(c_in, width), *_conv(width, width, stride=2)))
            c_in = width
        classifier = nn.Sequential(nn.Conv2d(WIDTHS[-1], classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        super().__init__(nn.Sequential(*blocks), classifier, mean, std)

    last_conv = "features.2.2"  # 8x8, the last ReLU before the final stride-2 conv

    def logit_parts(self, dense: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = dense[torch.arange(len(labels)), labels]  # the 1x1 conv's bias is inside the maps
        return maps.flatten(1) / maps[0].numel(), torch.zeros(len(labels))

    def evidence_map(self, last_block: torch.Tensor, dense: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        maps = dense[torch.arange(len(labels)), labels]
        return maps / maps[0].numel()


#: Architecture name -> (class, one-line description, epochs that fit the 10-minute budget).
ARCHITECTURES: dict[str, tuple[type[CifarCNN], str, int]] = {
    "plain": (PlainCNN, "conv stack + max pooling + dense head", 4),
    "gap": (GapCNN, "conv stack + max pooling + global average pooling", 4),
    "allconv": (AllConvCNN, "strided convolutions, 1x1 class maps, global average pooling", 5),
}


def build(arch: str, **kwargs) -> CifarCNN:
    """A fresh network of architecture ``arch`` (``plain``, ``gap`` or ``allconv``).

    Raises:
        ValueError: For an unknown name (the message lists the known ones).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"Unknown architecture '{arch}'; choose one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[arch][0](**kwargs)


def checkpoint_path(arch: str) -> Path:
    """Where the committed checkpoint of ``arch`` lives."""
    return CHECKPOINT_DIR / f"cifar10_{arch}.pt"


def train(arch: str, epochs: Optional[int] = None, seed: int = 0, batch_size: int = 128,
          learning_rate: float = 4e-3, progress: bool = True, root: Optional[Path] = None,
          train_set: Optional[CifarData] = None, device: Optional[str] = None) -> tuple[CifarCNN, dict]:
    """Train ``arch`` on the full CIFAR-10 training split (crops and flips, one-cycle AdamW).

    Nothing is selected on the test split: the test accuracy is measured once, after training.

    Returns:
        The model (eval mode, CPU) and the checkpoint metadata (with ``train_seconds``).
    """
    epochs = epochs or ARCHITECTURES[arch][2]
    repro.seed_everything(seed)
    train_set = train_set or load_cifar("cifar10", "train", root=root, progress=progress)
    pixels = training.to_float(train_set.images[::10])
    mean, std = pixels.mean(dim=(0, 2, 3)).tolist(), pixels.std(dim=(0, 2, 3)).tolist()
    model = build(arch, classes=len(train_set.classes), mean=mean, std=std)
    start = time.perf_counter()
    history = training.fit(model, train_set.images, train_set.labels, epochs=epochs, batch_size=batch_size,
                           learning_rate=learning_rate, augment=training.crops_and_flips, seed=seed,
                           progress=progress, device=device)
    meta = {"arch": arch, "classes": train_set.classes, "epochs": epochs, "seed": seed,
            "batch_size": batch_size, "learning_rate": learning_rate, "mean": mean, "std": std,
            "train_loss": history.train_loss, "train_seconds": time.perf_counter() - start,
            "device": str(device or "cpu"), "threads": torch.get_num_threads()}
    return model, meta


def save_checkpoint(model: CifarCNN, meta: dict, path: Path, overwrite: bool = False) -> Path:
    """Save weights and metadata atomically; refuses to replace an existing file unless ``overwrite``."""
    return training.save_checkpoint({"state_dict": model.state_dict(), "meta": meta}, path, overwrite)


def load_model(arch: str, path: Optional[Path] = None) -> tuple[CifarCNN, dict]:
    """Load a trained CIFAR-10 network (``weights_only=True``) in eval mode, with its metadata.

    Raises:
        ValueError: For an unknown architecture.
        FileNotFoundError: If there is no checkpoint; the message gives the training command.
        training.CheckpointError: If the file is truncated, corrupt or of another architecture.
    """
    build(arch)  # validates the name
    path = Path(path or checkpoint_path(arch))
    retrain = TRAIN_COMMAND.format(arch=arch)
    checkpoint = training.load_checkpoint(path, ("state_dict", "meta"), retrain)
    meta = checkpoint["meta"]
    model = build(arch, classes=len(meta["classes"]), mean=meta["mean"], std=meta["std"])
    training.load_weights(model, checkpoint["state_dict"], path, retrain)
    return channels_last(model).eval(), meta


#: How many fixed test images of each kind the chapters compare the models on.
EXAMPLE_KINDS = {"all_right": 2, "all_wrong": 1, "disagree": 2}


def pick_examples(predictions: dict[str, torch.Tensor], labels: torch.Tensor,
                  counts: dict[str, int] = EXAMPLE_KINDS) -> dict[str, list[int]]:
    """Fixed, reproducible test images for comparing models: the first indices that are

    - ``all_right``: classified correctly by every model,
    - ``all_wrong``: misclassified by every model,
    - ``disagree``: given at least two different labels by the models.

    Args:
        predictions: Model name -> predicted labels ``(N,)`` on the same images.
        labels: True labels ``(N,)``.
        counts: How many indices of each kind.

    Raises:
        ValueError: For an unknown kind, or if some kind has too few images.
    """
    stacked = torch.stack(list(predictions.values()))
    right = stacked == labels
    kinds = {
        "all_right": right.all(dim=0),
        "all_wrong": (~right).all(dim=0),
        "disagree": (stacked != stacked[0]).any(dim=0),
    }
    chosen = {}
    for kind, count in counts.items():
        if kind not in kinds:
            raise ValueError(f"Unknown kind '{kind}'; choose from {sorted(kinds)}.")
        index = kinds[kind].nonzero().flatten()[:count].tolist()
        if len(index) < count:
            raise ValueError(f"Only {len(index)} images of kind '{kind}' among {len(labels)}; pass more images.")
        chosen[kind] = index
    return chosen


@dataclass
class Comparison:
    """The three trained networks, the CIFAR-10 test set, their predictions on it and the fixed
    example images every CIFAR chapter explains."""

    models: dict[str, CifarCNN]
    metas: dict[str, dict]
    test: CifarData
    probabilities: dict[str, torch.Tensor]
    examples: dict[str, list[int]]
    order: torch.Tensor

    def shuffled(self, count: int, start: int = 0) -> list[int]:
        """Test-set indices ``start .. start + count`` of the fixed shuffled order (seed 0): a
        sample of all classes (the mirror's files are sorted by class)."""
        return self.order[start:start + count].tolist()

    @property
    def predictions(self) -> dict[str, torch.Tensor]:
        return {arch: p.argmax(dim=1) for arch, p in self.probabilities.items()}

    @property
    def example_index(self) -> list[int]:
        """The example images' test-set indices, kind after kind."""
        return [i for index in self.examples.values() for i in index]

    @property
    def example_kinds(self) -> list[str]:
        return [kind for kind, index in self.examples.items() for _ in index]

    def example_images(self) -> torch.Tensor:
        """The examples as float ``[0, 1]`` images ``(N, 3, 32, 32)``."""
        return training.to_float(self.test.images[self.example_index])

    def accuracy_table(self):
        """One row per architecture: description, parameters, training budget, test accuracy and
        test loss (cross-entropy; both measured now, on all 10,000 test images)."""
        import pandas as pd

        rows = []
        for arch, model in self.models.items():
            meta = self.metas[arch]
            rows.append({"architecture": arch, "design": ARCHITECTURES[arch][1],
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "epochs": meta["epochs"], "training minutes": round(meta["train_seconds"] / 60, 1),
                         "test accuracy": round((self.predictions[arch] == self.test.labels).float().mean().item(), 3),
                         "test loss": round(training.mean_cross_entropy(self.probabilities[arch], self.test.labels), 3)})
        return pd.DataFrame(rows).set_index("architecture")

    def example_table(self):
        """The examples: kind, true class, and each model's predicted class and probability."""
        import pandas as pd

        rows = []
        for index, kind in zip(self.example_index, self.example_kinds):
            row = {"test index": index, "kind": kind, "true": self.test.classes[self.test.labels[index]]}
            for arch, probabilities in self.probabilities.items():
                label = int(probabilities[index].argmax())
                row[arch] = f"{self.test.classes[label]} ({probabilities[index, label]:.2f})"
            rows.append(row)
        return pd.DataFrame(rows).set_index("test index")


def compare_models(archs: Sequence[str] = tuple(ARCHITECTURES), root: Optional[Path] = None,
                   counts: dict[str, int] = EXAMPLE_KINDS) -> Comparison:
    """Load the committed networks and the test set, predict all of it, pick the fixed examples
    (the first of each kind in a shuffled order of the test set, seed 0).

    Raises:
        FileNotFoundError: If a checkpoint is missing (the message gives the training command).
        DatasetNotFoundError: If CIFAR-10 is not under the data root.
    """
    loaded = {arch: load_model(arch) for arch in archs}
    test = load_cifar("cifar10", "test", root=root)
    # The three CIFAR chapters share these predictions: computed once, then read from the cache.
    images_digest = cache.tensor_digest(test.images)
    probabilities = {
        arch: cache.memoize_tensor(
            "cifar10-test-probabilities",
            {"checkpoint": cache.file_digest(checkpoint_path(arch)), "images": images_digest,
             "batch_size": training.images_per_pass(test.images)},
            lambda model=model: training.predict_proba(model, test.images))
        for arch, (model, _) in loaded.items()}
    # Picked in a fixed shuffled order: in file order the first thousand images are all airplanes.
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    picked = pick_examples({a: p.argmax(dim=1)[order] for a, p in probabilities.items()}, test.labels[order], counts)
    examples = {kind: [int(order[i]) for i in index] for kind, index in picked.items()}
    return Comparison({a: m for a, (m, _) in loaded.items()}, {a: meta for a, (_, meta) in loaded.items()},
                      test, probabilities, examples, order)


def _main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaihelpers.cifar")
    sub = parser.add_subparsers(dest="command", required=True)
    command = sub.add_parser("train", help="train one architecture (or all) on CIFAR-10")
    command.add_argument("--arch", choices=[*ARCHITECTURES, "all"], required=True)
    command.add_argument("--epochs", type=int, help="default: the architecture's budgeted epochs")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--device", default=None, help="cpu (default) or cuda")
    command.add_argument("--out-dir", type=Path, default=CHECKPOINT_DIR)
    command.add_argument("--force", action="store_true", help="replace existing checkpoints")
    args = parser.parse_args(argv)
    archs = list(ARCHITECTURES) if args.arch == "all" else [args.arch]
    targets = {arch: args.out_dir / checkpoint_path(arch).name for arch in archs}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not args.force:
        print(f"{', '.join(existing)} exist(s); use --force to replace", file=sys.stderr)
        return 2
    train_set = load_cifar("cifar10", "train", progress=True)
    test_set = load_cifar("cifar10", "test", progress=True)
    for arch in archs:
        model, meta = train(arch, args.epochs, args.seed, train_set=train_set, device=args.device)
        meta["test_accuracy"] = training.accuracy(model, test_set.images, test_set.labels)
        save_checkpoint(model, meta, targets[arch], overwrite=args.force)
        print(f"saved {targets[arch]}: {meta['epochs']} epochs in {meta['train_seconds']:.0f} s, "
              f"test accuracy {meta['test_accuracy']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
