"""The data root and the registry of the book's data sets.

One rule finds every data set: the folder named by the environment variable ``XAI_DATA_ROOT``,
else ``data/`` in the repository. Under that root each data set has one folder, in the layout of
the offline mirror (``torchvision.datasets.ImageFolder`` class folders) or, for CIFAR, the layout
that torchvision's own download leaves (``cifar-10-batches-py``). This module only finds and
loads: a missing data set raises :class:`DatasetNotFoundError` saying how to get it. Fetching is
:mod:`xaihelpers.fetch`'s job, which sits above this module: each chapter's first cell calls
``fetch.ensure(...)`` for the data sets it reads, and ``python -m xaihelpers.fetch`` lists what
the current root holds (``get NAME`` fetches one, verified file by file).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from torch.utils.data import Dataset
from torchvision import datasets

from xaihelpers.images import load_rgb

#: Environment variable that names the data root.
DATA_ROOT_ENV = "XAI_DATA_ROOT"
#: The installed package; what the book ships with it (checkpoints, the pollen split, measured
#: benchmark figures, the data manifests) lives here, so it reaches readers however they install it.
PACKAGE_DIR = Path(__file__).resolve().parent
CHECKPOINT_DIR = PACKAGE_DIR / "weights"
SPLIT_DIR = PACKAGE_DIR / "splits"
MEASURED_DIR = PACKAGE_DIR / "measured"
#: The book's repository when the package runs from a checkout (editable install), else ``None``.
REPO_ROOT: Optional[Path] = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "_toc.yml").is_file() else None


def _default_data_root() -> Path:
    """``data/`` in a checkout of the book; elsewhere ``data/`` in the per-user cache folder."""
    if REPO_ROOT is not None:
        return REPO_ROOT / "data"
    from xaihelpers.cache import cache_dir

    return cache_dir() / "data"


DEFAULT_DATA_ROOT = _default_data_root()

Transform = Optional[Callable]


class DataRootError(FileNotFoundError):
    """The data root named by ``XAI_DATA_ROOT`` does not exist."""


class DatasetNotFoundError(FileNotFoundError):
    """A data set of the registry is not under the data root."""


@dataclass(frozen=True)
class DatasetInfo:
    """What the book knows about one data set.

    Attributes:
        name: Registry key, used in code and on the command line.
        title: Human-readable name.
        folders: Folders (relative to the data root) whose presence means the data set is there;
            any one of them suffices.
        splits: The splits :func:`load_dataset` accepts.
        citation: Where the data come from.
        licence: Licence or terms of use.
        get_it: How to obtain the data set (a command, or instructions when there is no direct
            download).
    """

    name: str
    title: str
    folders: tuple[str, ...]
    splits: tuple[str, ...]
    citation: str
    licence: str
    get_it: str


def _registry() -> dict[str, DatasetInfo]:
    """The data sets of ``manifests/datasets.json`` (a table, kept as data beside the hashes)."""
    rows = json.loads((PACKAGE_DIR / "manifests" / "datasets.json").read_text())
    infos = (DatasetInfo(**{**row, "folders": tuple(row["folders"]), "splits": tuple(row["splits"])}) for row in rows)
    return {info.name: info for info in infos}


REGISTRY: dict[str, DatasetInfo] = _registry()


def data_root() -> Path:
    """The folder that holds the book's data sets.

    Returns:
        ``$XAI_DATA_ROOT`` when the variable is set (it must exist), else the repository's
        ``data/`` folder in a checkout of the book, else ``data/`` in the per-user cache folder
        (``$XAI_CACHE_DIR`` when set), where ``python -m xaihelpers.fetch get`` puts the data sets.

    Raises:
        DataRootError: If ``XAI_DATA_ROOT`` names a folder that does not exist.
    """
    value = os.environ.get(DATA_ROOT_ENV, "").strip()
    if not value:
        return _default_data_root()
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        raise DataRootError(
            f"{DATA_ROOT_ENV} is set to '{value}', but that folder does not exist. Point "
            f"{DATA_ROOT_ENV} at the folder that holds the data sets (for example "
            f"'export {DATA_ROOT_ENV}=../shared/data'), or unset it to use {_default_data_root()}."
        )
    return root


def data_root_for_fetch() -> Path:
    """Where fetched data sets go: like :func:`data_root`, but the default folder is created."""
    if os.environ.get(DATA_ROOT_ENV, "").strip():
        return data_root()
    root = _default_data_root()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _info(name: str) -> DatasetInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"Unknown data set '{name}'. Known data sets: {', '.join(sorted(REGISTRY))}."
        ) from None


def dataset_dir(name: str, root: Optional[Path] = None) -> Path:
    """The folder of one data set under the data root.

    Args:
        name: A key of :data:`REGISTRY`.
        root: Data root to look in; defaults to :func:`data_root`.

    Returns:
        The first of the data set's registered folders that exists.

    Raises:
        KeyError: If ``name`` is not a registered data set.
        DatasetNotFoundError: If none of its folders exists; the message says which variable to
            set and how to obtain the data.
    """
    info = _info(name)
    root = Path(root) if root is not None else data_root()
    for folder in info.folders:
        candidate = root / folder
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    source = f"${DATA_ROOT_ENV}" if os.environ.get(DATA_ROOT_ENV, "").strip() else "default"
    raise DatasetNotFoundError(
        f"Data set '{name}' ({info.title}) is not in the data root {root} ({source}); looked for "
        f"{' or '.join(str(root / f) for f in info.folders)}. Set {DATA_ROOT_ENV} to a folder "
        f"that holds it (e.g. the offline mirror: export {DATA_ROOT_ENV}=/path/to/shared/data), "
        f"or get it: {info.get_it}."
    )


def available(root: Optional[Path] = None) -> dict[str, bool]:
    """Which registered data sets the data root holds."""
    result = {}
    for name in REGISTRY:
        try:
            dataset_dir(name, root)
            result[name] = True
        except DatasetNotFoundError:
            result[name] = False
    return result


class ImageNetSamples(Dataset):
    """The mirror's one-image-per-class ImageNet sample set, labelled with ImageNet-1k indices.

    Files are named ``<wnid>_<name>.JPEG``; the label is the index of the wnid in
    ``imagenet_class_index.json`` (the standard ImageNet-1k order that every pretrained model uses).

    Args:
        root: Data root; defaults to :func:`data_root`.
        transform: Applied to each RGB ``PIL.Image``.
    """

    def __init__(self, root: Optional[Path] = None, transform: Transform = None) -> None:
        folder = dataset_dir("imagenet_samples", root)
        index_file = folder.parent / "imagenet_class_index.json"
        if not index_file.is_file():
            raise DatasetNotFoundError(
                f"{index_file} is missing: the ImageNet samples need the class index "
                f"(index -> [wnid, name]) beside them. {REGISTRY['imagenet_samples'].get_it}."
            )
        index = json.loads(index_file.read_text())
        self.wnids: list[str] = [index[str(i)][0] for i in range(len(index))]
        wnid_to_label = {wnid: label for label, wnid in enumerate(self.wnids)}
        self.paths: list[Path] = sorted(
            p for p in folder.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png")
        )
        unknown = [p.name for p in self.paths if p.name.split("_")[0] not in wnid_to_label]
        if unknown:
            raise ValueError(f"Sample files with a wnid not in the class index: {unknown[:5]}")
        self.targets: list[int] = [wnid_to_label[p.name.split("_")[0]] for p in self.paths]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: int):
        image = load_rgb(self.paths[item])
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[item]


def load_dataset(
    name: str, split: str = "train", transform: Transform = None, root: Optional[Path] = None
) -> Dataset:
    """Open one data set of the registry from the data root.

    Args:
        name: ``cifar10``, ``cifar100``, ``pollen`` or ``imagenet_samples``.
        split: ``train`` or ``test`` for CIFAR; ``all`` for the others (the book makes its own
            fixed splits of those).
        transform: Applied to each RGB ``PIL.Image``.
        root: Data root; defaults to :func:`data_root`.

    Returns:
        A ``torch.utils.data.Dataset`` of ``(image, label)`` pairs with a ``classes`` attribute
        where the data set has class names.

    Raises:
        ValueError: For a split the data set does not have.
        DatasetNotFoundError: If the data set is not under the data root.
    """
    info = _info(name)
    if split not in info.splits:
        raise ValueError(f"Data set '{name}' has splits {info.splits}, not '{split}'.")
    folder = dataset_dir(name, root)
    if name in ("cifar10", "cifar100"):
        if folder.name in ("cifar10", "cifar100"):  # the mirror: class folders of JPEGs
            return datasets.ImageFolder(folder / split, transform=transform, loader=load_rgb)
        cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
        return cls(folder.parent, train=split == "train", transform=transform, download=False)
    if name == "pollen":
        return datasets.ImageFolder(folder, transform=transform, loader=load_rgb)
    return ImageNetSamples(root, transform=transform)


__all__ = [
    "DATA_ROOT_ENV", "DEFAULT_DATA_ROOT", "REGISTRY", "DatasetInfo", "DataRootError",
    "DatasetNotFoundError", "ImageNetSamples", "available", "data_root", "data_root_for_fetch", "dataset_dir",
    "load_dataset",
]
