"""Shared fixtures: a tiny fake data root, the real data root when one is configured, tiny models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from xaihelpers import data


def _write_image(path: Path, size=(32, 32), seed=0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A data root in the mirror's layout: CIFAR-10 (2 classes) and 3 ImageNet samples."""
    for split in ("train", "test"):
        for label, name in enumerate(("airplane", "automobile")):
            for i in range(3):
                _write_image(tmp_path / "cifar10" / split / name / f"{i:04d}.jpg", seed=label * 10 + i)
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(5)}
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "imagenet_class_index.json").write_text(json.dumps(index))
    for i in (0, 2, 4):
        _write_image(tmp_path / "imagenet" / "samples" / f"n{i:08d}_class_{i}.JPEG", size=(40, 48), seed=i)
    return tmp_path


@pytest.fixture
def mirror_root() -> Path:
    """The configured data root (``XAI_DATA_ROOT``, as CI sets it); skipped when none is set."""
    if not os.environ.get(data.DATA_ROOT_ENV):
        pytest.skip(f"{data.DATA_ROOT_ENV} is not set; these tests read the real data sets")
    return data.data_root()


@pytest.fixture(scope="session")
def cifar10_test_subset(tmp_path_factory):
    """The first 100 test images of each CIFAR-10 class of the configured data root (1,000 of the
    10,000), read by the book's reader (``cifar.load_cifar``) from a data root of links to them, so
    that tests of the committed models run on real images in seconds; skipped when no data root
    is set."""
    if not os.environ.get(data.DATA_ROOT_ENV):
        pytest.skip(f"{data.DATA_ROOT_ENV} is not set; these tests read the real data sets")
    from xaihelpers import cifar

    folder = data.dataset_dir("cifar10")
    if folder.name != "cifar10":  # torchvision's pickles: read them all, keep the same images
        test = cifar.load_cifar("cifar10", "test")
        keep = torch.cat([(test.labels == c).nonzero().flatten()[:100] for c in range(len(test.classes))])
        return cifar.CifarData(test.images[keep], test.labels[keep], test.classes)
    root = link_cifar10_test(tmp_path_factory.mktemp("cifar10_subset"), per_class=100)
    return cifar.load_cifar("cifar10", "test", root=root)


def link_cifar10_test(root: Path, per_class: int) -> Path:
    """A data root at ``root`` whose CIFAR-10 test split holds links to the first ``per_class``
    images of each class of the configured data root's class folders."""
    folder = data.dataset_dir("cifar10")
    for class_folder in sorted(p for p in (folder / "test").iterdir() if p.is_dir()):
        linked = root / "cifar10" / "test" / class_folder.name
        linked.mkdir(parents=True)
        for image in sorted(class_folder.iterdir())[:per_class]:
            (linked / image.name).symlink_to(image)
    return root


def fake_cifar(per_class: int, classes: int = 4, seed: int = 0):
    """CIFAR-shaped data in memory where class ``c`` is brighter in channel ``c % 3``: learnable in
    a few steps, for tests of the training loop and the strategies."""
    from xaihelpers.cifar import CifarData

    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    images = torch.randint(0, 120, (len(labels), 3, 32, 32), generator=generator, dtype=torch.uint8)
    images[torch.arange(len(labels)), labels % 3] += 120
    return CifarData(images, labels, [f"class{c}" for c in range(classes)])


class TinyCNN(nn.Module):
    """Two conv layers and a linear head: fast enough to test hooks and Grad-CAM exactly."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture
def tiny_cnn() -> TinyCNN:
    torch.manual_seed(0)
    return TinyCNN().eval()
