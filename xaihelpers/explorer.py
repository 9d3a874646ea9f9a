"""The logic behind the interactive explorer (``explorer/app.py``), free of Streamlit so it is tested.

A reader picks a model, an image (a sample from the data root or an upload) and a layer, and sees
the prediction and one of three views: the layer's strongest feature maps, Grad-CAM (Selvaraju et
al. 2017) for a chosen class, or the saliency map (Simonyan et al. 2013).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

from xaihelpers import attribution, cifar, data, features, hooks, imagenet, images, methods, pollen, zoo

#: Uploads with a longer side are scaled down first (they gain nothing at 224 pixels).
MAX_SIDE = 2048
#: What the explorer can show for an image (feature maps, or one of the registry's methods by name).
VIEWS = ("feature maps", "Grad-CAM", "saliency")
#: ImageNet classes offered as samples (index: short label).
IMAGENET_SAMPLES = {1: "goldfish", 55: "green snake", 76: "tarantula", 130: "flamingo", 281: "tabby cat",
                    340: "zebra", 409: "analog clock", 951: "lemon"}


@dataclass
class ExplorerModel:
    """A model as the explorer uses it.

    Attributes:
        key: ``imagenet``, ``pollen`` or ``cifar10_<architecture>``.
        label: What the page shows.
        model: Eval-mode classifier taking (N, 3, S, S) images in [0, 1].
        class_names: Output order.
        layers: Layer label -> module name, shallow to deep.
        default_layer: Label of the layer selected first (the usual Grad-CAM layer).
        input_size: Side S of the square input.
        to_tensor: PIL image -> (3, S, S) tensor in [0, 1].
        description: Where the weights come from.
    """

    key: str
    label: str
    model: nn.Module
    class_names: list[str]
    layers: dict[str, str]
    default_layer: str
    input_size: int
    to_tensor: Callable[[Image.Image], torch.Tensor]
    description: str


def model_choices() -> dict[str, str]:
    """Key -> label of the models the explorer offers (the ImageNet entry follows the switch)."""
    choices = {"imagenet": f"ImageNet classifier ({imagenet.imagenet_model_name()})",
               "pollen": "pollen CNN (23 classes, trained by the book)"}
    for arch, (_, design, _) in cifar.ARCHITECTURES.items():
        if zoo.get(f"cifar10_{arch}").checkpoint.is_file():  # offered once trained (python -m xaihelpers.retrain)
            choices[f"cifar10_{arch}"] = f"CIFAR-10 CNN '{arch}' ({design})"
    return choices


def load_model(key: str) -> ExplorerModel:
    """Load one of :func:`model_choices`.

    Raises:
        ValueError: For an unknown key.
        imagenet.ModelUnavailableError: If the ImageNet weights cannot be had (the message names the
            offline alternative).
        FileNotFoundError: If the pollen checkpoint is missing (the message says how to train it).
    """
    if key == "imagenet":
        classifier = imagenet.load_imagenet_model()
        return ExplorerModel(key, model_choices()[key], classifier.model, classifier.class_names,
                             dict(classifier.conv_stages), next(label for label, name in classifier.conv_stages.items()
                                                                if name == classifier.target_layer),
                             224, classifier.preprocess, classifier.describe())
    if key == "pollen":
        model, meta = zoo.load("pollen_cnn")
        classes = list(meta["classes"])
        layers = {f"block {i + 1}": name for i, name in enumerate(pollen.POLLEN_CONV_BLOCKS)}
        size = pollen.IMAGE_SIZE
        to_tensor = transforms.Compose([transforms.Resize((size, size), interpolation=transforms.InterpolationMode.BICUBIC),
                                        transforms.ToTensor()])
        accuracy = meta.get("val_accuracy")
        note = f", validation accuracy {accuracy:.3f}" if isinstance(accuracy, float) else ""
        return ExplorerModel(key, model_choices()[key], model, classes, layers, "block 4", size, to_tensor,
                             f"pollen CNN ({zoo.get('pollen_cnn').checkpoint.name}{note})")
    if key.startswith("cifar10_") and key in model_choices():
        arch = key.removeprefix("cifar10_")
        model, meta = zoo.load(key)
        layers = {f"block {i + 1}": name for i, name in enumerate(model.conv_blocks)}
        layers["last 8x8 conv"] = model.last_conv
        to_tensor = transforms.Compose([transforms.Resize((cifar.IMAGE_SIZE, cifar.IMAGE_SIZE),
                                                          interpolation=transforms.InterpolationMode.BICUBIC),
                                        transforms.ToTensor()])
        accuracy = meta.get("test_accuracy")
        note = f", test accuracy {accuracy:.3f}" if isinstance(accuracy, float) else ""
        return ExplorerModel(key, model_choices()[key], model, list(meta["classes"]), layers, "last 8x8 conv",
                             cifar.IMAGE_SIZE, to_tensor, f"CIFAR-10 '{arch}' ({zoo.get(key).checkpoint.name}{note})")
    raise ValueError(f"unknown model '{key}'; choose one of {sorted(model_choices())}")


def sample_images(key: str, root: Optional[Path] = None) -> dict[str, Path]:
    """Label -> file of the sample images for a model, from the data root.

    Raises:
        data.DatasetNotFoundError: If the data set is not under the data root (the message names
            the variable to set).
    """
    if key == "imagenet":
        samples = data.ImageNetSamples(root)
        by_wnid = {path.name.split("_")[0]: path for path in samples.paths}
        return {label: by_wnid[samples.wnids[index]] for index, label in IMAGENET_SAMPLES.items()
                if samples.wnids[index] in by_wnid}
    if key == "pollen":
        folder = data.dataset_dir("pollen", root)
        chosen: dict[str, Path] = {}
        for file, label, split in pollen.read_split():
            if split == "test" and label not in chosen:
                chosen[label] = folder / file
        return dict(sorted(chosen.items())[:8])
    if key.startswith("cifar10_"):
        folder = data.dataset_dir("cifar10", root)
        test = data.load_dataset("cifar10", "test", root=root)
        if hasattr(test, "samples"):  # class folders: the first test image of each class
            first: dict[str, Path] = {}
            for path, label in test.samples:
                first.setdefault(test.classes[label], Path(path))
            return first
        raise ValueError(f"The explorer's CIFAR samples need the class-folder layout under {folder}; "
                         "upload an image instead.")
    raise ValueError(f"unknown model '{key}'")


@dataclass
class PreparedImage:
    """An input ready for a model, with notes on what was done to it.

    Attributes:
        tensor: (3, S, S) in [0, 1], what the model sees.
        display: (S, S, 3) float array of the same, for display.
        notes: Plain-language notes (conversions, resizing) to show beside the result.
    """

    tensor: torch.Tensor
    display: np.ndarray
    notes: list[str] = field(default_factory=list)


def prepare_image(source: images.ImageSource, model: ExplorerModel) -> PreparedImage:
    """Read an image and fit it to ``model``; odd inputs are converted or refused by name.

    Grayscale, palette and RGBA images are converted to RGB (transparency over white); an image
    with a side longer than :data:`MAX_SIDE` is scaled down; an image of another size than the
    model's input is resized (with the ImageNet models' resize-and-crop). Each such step leaves a
    note.

    Raises:
        images.ImageLoadError: If the input is not an image, or is truncated or corrupt.
    """
    notes = []
    mode = _peek_mode(source)
    picture = images.load_rgb(source)
    if mode not in (None, "RGB"):
        notes.append(f"converted from {_MODE_NAMES.get(mode, mode)} to RGB")
    width, height = picture.size
    if max(width, height) > MAX_SIDE:
        picture.thumbnail((MAX_SIDE, MAX_SIDE))
        notes.append(f"large image ({width}x{height}) scaled down to {picture.size[0]}x{picture.size[1]} first")
        width, height = picture.size
    if (width, height) != (model.input_size, model.input_size):
        how = "resized and centre-cropped" if model.key == "imagenet" else "resized"
        notes.append(f"{how} from {width}x{height} to the {model.input_size}x{model.input_size} "
                     f"input of the {model.label}")
    tensor = model.to_tensor(picture)
    return PreparedImage(tensor, tensor.permute(1, 2, 0).cpu().numpy(), notes)


_MODE_NAMES = {"L": "grayscale", "LA": "grayscale with transparency", "RGBA": "RGBA", "P": "palette colour",
               "CMYK": "CMYK", "I;16": "16-bit grayscale", "I": "32-bit grayscale", "F": "float grayscale"}


def _peek_mode(source: images.ImageSource) -> Optional[str]:
    """The PIL mode of an image source without decoding it; ``None`` if it cannot be read."""
    if isinstance(source, Image.Image):
        return source.mode
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        with Image.open(stream) as image:
            mode = image.mode
        if hasattr(stream, "seek"):
            stream.seek(0)
        return mode
    except Exception:  # load_rgb reports the real problem
        return None


@torch.no_grad()
def predict(model: ExplorerModel, image: PreparedImage, k: int = 5) -> list[tuple[int, str, float]]:
    """The top ``k`` classes as (index, name, probability)."""
    probabilities = model.model(image.tensor[None]).softmax(dim=1)[0]
    values, indices = probabilities.topk(min(k, len(probabilities)))
    return [(int(i), model.class_names[int(i)], float(p)) for p, i in zip(values, indices)]


def feature_maps(model: ExplorerModel, image: PreparedImage, layer: str, count: int = 16) -> tuple[torch.Tensor, list[int]]:
    """The ``count`` most active channels of a layer: maps (count, h, w) and their channel indices."""
    name = model.layers[layer]
    with hooks.LayerRecorder(model.model, [name]) as recorder, torch.no_grad():
        model.model(image.tensor[None])
    activations = recorder.activations[name]
    channels = features.strongest_channels(activations, count)[0].tolist()
    return activations[0, channels], channels


def grad_cam_map(model: ExplorerModel, image: PreparedImage, layer: str, class_index: int) -> torch.Tensor:
    """Grad-CAM of one class at one layer, (S, S) in [0, 1] (the registry's ``Grad-CAM``)."""
    return methods.get("Grad-CAM")(model.model, image.tensor[None], class_index, layer=model.layers[layer])[0]


def saliency_map(model: ExplorerModel, image: PreparedImage, class_index: int) -> torch.Tensor:
    """Saliency (the registry's: max absolute gradient over channels), capped at the 99th
    percentile, (S, S)."""
    return attribution.cap(methods.get("saliency")(model.model, image.tensor[None], class_index))[0]
