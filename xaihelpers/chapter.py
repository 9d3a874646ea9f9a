"""What the chapters' header cells load, one call per family of chapters.

A header cell seeds (``repro.seed_everything()``, in the chapter itself: only chapters seed), picks
the device and then calls one of these, which load the book's models and data from the zoo and
the data root and print the lines every such chapter starts with.
"""

from __future__ import annotations

import torch

from typing import Callable, Optional

from xaihelpers import cache, data, inference, methods, pollen, zoo
from xaihelpers.imagenet import load_imagenet_model
from xaihelpers.comparison import compare_models


def imagenet(device: torch.device | str = "cpu"):
    """The ImageNet classifier and its sample images; prints which model it is.

    The model is EfficientNet-Lite0 unless ``XAI_IMAGENET_MODEL=resnet50``
    (:func:`xaihelpers.imagenet.load_imagenet_model`); the images come from ``$XAI_DATA_ROOT``.

    Returns:
        ``(classifier, imagenet)``.
    """
    classifier = load_imagenet_model(device=device)
    samples = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
    print(classifier.describe())
    return classifier, samples


def pollen_and_imagenet(device: torch.device | str = "cpu"):
    """The pollen CNN and its test split, the ImageNet classifier and its sample images.

    The ImageNet model is EfficientNet-Lite0 unless ``XAI_IMAGENET_MODEL=resnet50``
    (:func:`xaihelpers.imagenet.load_imagenet_model`); the images come from ``$XAI_DATA_ROOT``.

    Returns:
        ``(pollen_model, pollen_test, classifier, imagenet)``.
    """
    pollen_model, _ = zoo.load("pollen_cnn")
    pollen_test = pollen.load_split("test")
    classifier, samples = imagenet(device)
    print(f"device: {device}; pollen test images: {len(pollen_test.labels)}")
    return pollen_model, pollen_test, classifier, samples


def cifar_comparison(device: torch.device | str = "cpu"):
    """The three CIFAR-10 CNNs compared on the test set (:func:`xaihelpers.comparison.compare_models`).

    Returns:
        ``(comparison, models, classes, images)``: the comparison, architecture -> model, the class
        names and the fixed example images (float, ``[0, 1]``).
    """
    comparison = compare_models()
    models_by_arch, classes = comparison.models, comparison.test.classes
    print(f"device: {device}; test images: {len(comparison.test)}; architectures: {', '.join(models_by_arch)}")
    return comparison, models_by_arch, classes, comparison.example_images()


#: The pollen CNN's layers that the randomisation check re-initialises, from the output down.
POLLEN_RANDOMIZATION_LAYERS = ["classifier", *reversed(pollen.POLLEN_CONV_BLOCKS)]


def pollen_explainers(train: pollen.PollenData) -> dict:
    """Every method of the registry bound with the pollen CNN's settings, as chapters 10 and 15
    measure them: Grad-CAM at the last conv block, SHAP with 16 training images (every 30th of
    ``train``) as its background.

    Returns:
        Method name -> ``explain(model, images, target)`` (:func:`xaihelpers.methods.bind`).
    """
    background = inference.to_float(train.images[::30][:16])
    settings = {"Grad-CAM": {"layer": pollen.POLLEN_CONV_BLOCKS[-1]}, "SHAP (gradient)": {"background": background}}
    return {name: methods.bind(name, **settings.get(name, {})) for name in methods.COMPARED}


def _setting_key(value):
    """A setting as the cache key states it: a tensor by its content, anything else by its repr."""
    return cache.tensor_digest(value) if isinstance(value, torch.Tensor) else repr(value)


def shared_maps(explain: Callable, model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, *,
                computed: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The maps of ``explain`` for ``images``, made once for the chapters that ask for the same ones.

    Chapters 10 and 15 explain the same 16 pollen test images with every method of
    :func:`pollen_explainers`. The chapter that runs first stores its maps (:mod:`xaihelpers.cache`),
    and the other reads them instead of running the methods again. The key holds everything the
    maps depend on: the method and every one of its settings, the model's class, mode and weights,
    the images and the targets (and the torch version); any change computes anew.

    Args:
        explain: A method bound by :func:`xaihelpers.methods.bind` (it names its method and settings).
        model: The model explained.
        images: The images ``(N, C, H, W)``.
        target: One class per image.
        computed: The maps the caller has just made with these arguments (chapter 10 measures their
            cost as it makes them): stored as they are when nothing is stored under the key yet.

    Returns:
        The maps ``(N, H, W)``: read, computed or ``computed``.

    Raises:
        TypeError: For a function that :func:`xaihelpers.methods.bind` did not make.
    """
    if not (hasattr(explain, "method") and hasattr(explain, "settings")):
        raise TypeError(f"shared_maps needs a method bound by xaihelpers.methods.bind (it names its method and "
                        f"settings), got {explain!r}.")
    weights = {name: cache.tensor_digest(tensor) for name, tensor in model.state_dict().items()}
    key = {"method": explain.method, "settings": {name: _setting_key(value) for name, value in explain.settings.items()},
           "model": [type(model).__qualname__, model.training, weights],
           "images": cache.tensor_digest(images), "target": cache.tensor_digest(torch.as_tensor(target))}
    return cache.memoize_tensor("maps", key, (lambda: computed) if computed is not None
                                else (lambda: explain(model, images, target)))
