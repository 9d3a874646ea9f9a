"""The pollen-grain classifier the book trains: fixed split, a simple CNN, training and loading.

Data: POLLEN23E (Goncalves et al. 2016, *Feature Extraction and Machine Learning for the
Classification of Brazilian Savannah Pollen Grains*, PLoS ONE 11(6):e0157044), 790 microscope
images of 23 classes, read from the data root. The split into train/validation/test is stratified,
drawn once from a seed and committed as ``xaihelpers/splits/pollen_split.csv``, so every chapter sees
the same test images. The CNN has dropout, so the Monte-Carlo dropout chapter can use it too.

Train (about 5 minutes on 2 CPU cores; the model zoo, :mod:`xaihelpers.zoo`, holds the recipe)::

    python -m xaihelpers.retrain pollen_cnn      # writes xaihelpers/weights/pollen_cnn.pt
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from xaihelpers import data, inference, repro, training
from xaihelpers.images import load_rgb
from xaihelpers.blocks import Normalize, conv_bn_relu

#: Side of the square images the CNN takes.
IMAGE_SIZE = 64
SPLIT_FILE = data.SPLIT_DIR / "pollen_split.csv"
SPLITS = ("train", "val", "test")


def make_split(
    files: Sequence[str], labels: Sequence[int], seed: int = 0, fractions=(0.6, 0.2, 0.2)
) -> dict[str, str]:
    """Assign each file to train/val/test, stratified by class and reproducible from ``seed``.

    Within each class the files are shuffled by a seeded generator and cut by ``fractions``
    (rounded per class, test and validation first so small classes keep both).

    Returns:
        File -> split name.
    """
    if abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must sum to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    labels_array = np.asarray(labels)
    for label in np.unique(labels_array):
        members = sorted(f for f, l in zip(files, labels) if l == label)
        rng.shuffle(members)
        n_test = max(1, round(fractions[2] * len(members)))
        n_val = max(1, round(fractions[1] * len(members)))
        for position, name in enumerate(members):
            assignment[name] = "test" if position < n_test else "val" if position < n_test + n_val else "train"
    return assignment


def write_split(assignment: dict[str, str], classes: dict[str, str], path: Path = SPLIT_FILE) -> Path:
    """Write the manifest (``file,class,split`` rows, sorted); never replaces a different file."""
    rows = sorted((name, classes[name], split) for name, split in assignment.items())
    text = "file,class,split\n" + "".join(f"{f},{c},{s}\n" for f, c, s in rows)
    if path.exists() and path.read_text() != text:
        raise FileExistsError(f"{path} exists with another split; move it away to write a new one.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def read_split(path: Path = SPLIT_FILE) -> list[tuple[str, str, str]]:
    """The committed manifest as ``(file, class, split)`` rows."""
    if not path.is_file():
        raise FileNotFoundError(f"No pollen split at {path}; restore the committed file, or draw it again from the "
                                "data root with xaihelpers.pollen.ensure_split() (python -m xaihelpers.retrain "
                                "pollen_cnn does it first)")
    with open(path, newline="") as handle:
        return [(row["file"], row["class"], row["split"]) for row in csv.DictReader(handle)]


@dataclass
class PollenData:
    """One split of the pollen set in memory: uint8 images ``(N, 3, S, S)`` and labels."""

    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    classes: list[str]


def load_split(split: str, size: int = IMAGE_SIZE, root: Optional[Path] = None,
               progress: bool = False) -> PollenData:
    """Load one split of the committed manifest from the data root, resized to ``size``.

    Raises:
        ValueError: For an unknown split.
        DatasetNotFoundError: If the pollen set is not under the data root.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got '{split}'")
    folder = data.dataset_dir("pollen", root)
    rows = read_split()
    classes = sorted({c for _, c, _ in rows})
    chosen = [(f, c) for f, c, s in rows if s == split]
    images = []
    for file, _ in tqdm(chosen, desc=f"pollen {split}", disable=not progress):
        image = load_rgb(folder / file).resize((size, size), resample=3)  # bicubic
        images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
    return PollenData(
        images=torch.stack(images),
        labels=torch.tensor([classes.index(c) for _, c in chosen]),
        files=[f for f, _ in chosen],
        classes=classes,
    )


class PollenCNN(nn.Module):
    """Four conv blocks (conv, batch norm, ReLU, max-pool), dropout, a linear classifier.

    Every ReLU is its own ``nn.ReLU`` module (not functional, not in place), which guided
    backpropagation needs; dropout before the classifier serves Monte-Carlo dropout.

    Args:
        classes: Number of outputs.
        mean: Per-channel input mean (the input normalisation is the first layer).
        std: Per-channel input std.
        dropout: Dropout probability before the classifier.
    """

    def __init__(self, classes: int = 23, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.normalize = Normalize(mean, std)
        widths = (3, 32, 64, 128, 128)
        self.features = nn.Sequential(*[
            nn.Sequential(*conv_bn_relu(c_in, c_out), nn.MaxPool2d(2))
            for c_in, c_out in zip(widths[:-1], widths[1:])
        ])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(widths[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.normalize(x))
        return self.classifier(self.dropout(self.pool(x).flatten(1)))


#: Module names of the CNN's conv blocks, for hooks and Grad-CAM.
POLLEN_CONV_BLOCKS = [f"features.{i}" for i in range(4)]


def train(epochs: int = 60, seed: int = 0, progress: bool = True,
          root: Optional[Path] = None, *, augment: bool = True,
          dropout: float = 0.3) -> tuple[PollenCNN, training.History, dict]:
    """Train the pollen CNN on the train split, selecting nothing on the test split.

    Args:
        epochs: Passes over the training split.
        seed: Seeds the initialisation, the shuffling, the augmentation and dropout.
        progress: Show a progress bar.
        root: The data root (default: the configured one).
        augment: Random flips and quarter turns of every batch (the book's recipe); ``False``
            trains on the images as they are (an exercise of the pollen chapter).
        dropout: Dropout probability before the classifier (the book's model: 0.3).

    Returns:
        The model (eval mode), its history, and the checkpoint metadata.
    """
    train_set = load_split("train", root=root, progress=progress)
    val_set = load_split("val", root=root, progress=progress)
    mean, std = training.channel_statistics(train_set.images)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout}.")
    with repro.seeded(seed):
        model = PollenCNN(len(train_set.classes), mean, std, dropout=dropout)
    start = time.perf_counter()
    history = training.fit(
        model, train_set.images, train_set.labels, epochs=epochs,
        augment=training.flips_and_rotations if augment else None,
        validation=(val_set.images, val_set.labels), seed=seed, progress=progress,
    )
    meta = {"classes": train_set.classes, "image_size": IMAGE_SIZE, "epochs": epochs, "seed": seed,
            "mean": mean, "std": std, "val_accuracy": history.val_accuracy[-1],
            "augment": augment, "dropout": dropout, "train_seconds": time.perf_counter() - start}
    return model, history, meta


def ensure_split(path: Path = SPLIT_FILE, root: Optional[Path] = None) -> Path:
    """The split manifest: the committed one, or (when it is missing) drawn from the data root
    with :func:`make_split` and written with :func:`write_split`."""
    if path.exists():
        return path
    dataset = data.load_dataset("pollen", "all", root=root)
    folder = data.dataset_dir("pollen", root)
    files = [str(Path(p).relative_to(folder)) for p, _ in dataset.samples]
    labels = [label for _, label in dataset.samples]
    return write_split(make_split(files, labels), {f: dataset.classes[l] for f, l in zip(files, labels)}, path)


def grain_mask(images: torch.Tensor) -> torch.Tensor:
    """Segment the pollen grain from the background, per image: ``(N, 3, H, W)`` -> bool ``(N, H, W)``.

    Otsu's threshold on the grayscale image splits it in two; the side that holds most of the
    border pixels is the background (grains lie inside the frame).
    """
    from skimage.filters import threshold_otsu

    gray = inference.to_float(images).mean(dim=1).cpu().numpy()
    masks = []
    for picture in gray:
        above = picture > threshold_otsu(picture)
        border = np.concatenate([above[0], above[-1], above[:, 0], above[:, -1]])
        masks.append(~above if border.mean() > 0.5 else above)
    return torch.from_numpy(np.stack(masks))
