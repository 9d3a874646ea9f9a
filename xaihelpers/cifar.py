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

Train one (each takes at most about 10 minutes on 2 CPU cores; the recipes are in
:mod:`xaihelpers.zoo`)::

    python -m xaihelpers.retrain cifar10_plain          # writes xaihelpers/weights/cifar10_plain.pt

Every model takes ``[0, 1]`` images ``(N, 3, 32, 32)``; its input normalisation is its first layer.
Every ReLU is its own module (guided backpropagation and hooks need that).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xaihelpers import data, repro, training
from xaihelpers.blocks import Normalize, conv_bn_relu

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_SIZE = 32
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
    torchvision's pickles (``cifar-10-batches-py`` after ``python -m xaihelpers.fetch download``).

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


def _pooled_stack(widths: Sequence[int]) -> nn.Sequential:
    """Blocks of 3x3 conv layers and a 2x2 max-pool; ``features.i`` is block ``i``.

    The first block has one conv layer, the others two: a second conv at full resolution would
    cost a third of the training time for little accuracy in a 10-minute budget.
    """
    blocks, c_in = [], 3
    for position, width in enumerate(widths):
        second = conv_bn_relu(width, width) if position else []
        blocks.append(nn.Sequential(*conv_bn_relu(c_in, width), *second, nn.MaxPool2d(2)))
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
            blocks.append(nn.Sequential(*conv_bn_relu(c_in, width), *conv_bn_relu(width, width, stride=2)))
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


def train(arch: str, epochs: Optional[int] = None, seed: int = 0, batch_size: int = 128,
          learning_rate: float = 4e-3, progress: bool = True, root: Optional[Path] = None,
          train_set: Optional[CifarData] = None, device: Optional[str] = None) -> tuple[CifarCNN, dict]:
    """Train ``arch`` on the full CIFAR-10 training split (crops and flips, one-cycle AdamW).

    Nothing is selected on the test split: the test accuracy is measured once, after training.

    Returns:
        The model (eval mode, CPU) and the checkpoint metadata (with ``train_seconds``).
    """
    epochs = epochs or ARCHITECTURES[arch][2]
    train_set = train_set or load_cifar("cifar10", "train", root=root, progress=progress)
    mean, std = training.channel_statistics(train_set.images, every=10)
    with repro.seeded(seed):
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
