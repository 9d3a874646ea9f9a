"""Measuring explanations: faithfulness, sanity checks and cost, batched and deterministic.

- **Deletion and insertion** (Petsiuk et al. 2018, "RISE: Randomized Input Sampling for
  Explanation of Black-box Models", BMVC): remove (or add) pixels in order of attribution and
  record the class probability. A faithful map makes the probability fall fast under deletion
  (low AUC) and rise fast under insertion (high AUC).
- **Cascading model-parameter randomisation** (Adebayo et al. 2018, "Sanity Checks for Saliency
  Maps", NeurIPS): re-initialise the layers from the top down and recompute the explanation. An
  explanation of the *model* must change; one that stays the same explains the image.
- **Cost**: forward and backward passes actually made, counted by hooks on the model, and seconds.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

from xaihelpers import checks, inference, repro
from xaihelpers.attribution import baseline as ig_baseline
from xaihelpers.cache import tensor_digest
from xaihelpers.hooks import HookOwner, get_layer
from xaihelpers.inference import PIXELS_PER_PASS, images_per_pass
from xaihelpers.typing import Explainer



def in_passes(explain: Explainer, *, pixels_per_pass: int = PIXELS_PER_PASS) -> Explainer:
    """``explain`` applied to as many images at a time as ``pixels_per_pass`` holds, the maps
    concatenated (the package's one batching setting; two 224 x 224 images by default).

    A gradient method's backward pass holds every activation of its batch: about 90 MB per
    224x224 image for EfficientNet-Lite0. Passes bound that memory; each image's map is the same
    (per-image methods do not mix the images of a batch).

    Raises:
        ValueError: If ``pixels_per_pass`` is not positive.
    """
    checks.positive_int(pixels_per_pass, "pixels_per_pass")

    def chunked(model: nn.Module, images: torch.Tensor, target) -> torch.Tensor:
        size = images_per_pass(images, pixels_per_pass)
        targets = target if isinstance(target, torch.Tensor) and target.dim() > 0 else None
        return torch.cat([
            explain(model, images[first:first + size],
                    targets[first:first + size] if targets is not None else target)
            for first in range(0, len(images), size)])

    return chunked


def reference_image(images: torch.Tensor, kind: str = "blur", sigma: float = 5.0) -> torch.Tensor:
    """What a deleted pixel is replaced by: ``blur`` (the image blurred, ``sigma`` pixels) or
    ``mean`` (each image's mean colour). Petsiuk et al. use a blurred image for insertion and a
    constant for deletion; one stated reference for both keeps the two curves comparable."""
    if kind == "blur":
        # The kernel (6 sigma + 1 pixels) must fit in the image.
        return ig_baseline(images, "blur", sigma=min(sigma, (min(images.shape[-2:]) - 1) / 6))
    if kind == "mean":
        return images.mean(dim=(-2, -1), keepdim=True).expand_as(images).clone()
    raise ValueError(f"reference kind must be 'blur' or 'mean', got '{kind}'")


def pixel_ranks(maps: torch.Tensor) -> torch.Tensor:
    """Rank of every pixel by attribution, (N, H*W): 0 for the most important pixel.

    Ties are broken by position (row-major), so equal maps give equal orders.
    """
    order = torch.sort(maps.flatten(1).float(), dim=1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    return ranks


@dataclass
class DeletionInsertion:
    """Curves of :func:`deletion_insertion`.

    Attributes:
        fractions: Share of pixels removed (deletion) or added (insertion) at each step, (steps + 1,).
        deletion: Target-class probability as pixels are removed, (N, steps + 1).
        insertion: Target-class probability as pixels are added to the reference, (N, steps + 1).
    """

    fractions: torch.Tensor
    deletion: torch.Tensor
    insertion: torch.Tensor

    @property
    def deletion_auc(self) -> torch.Tensor:
        """Area under each deletion curve, (N,): lower is more faithful."""
        return torch.trapezoid(self.deletion, self.fractions, dim=1)

    @property
    def insertion_auc(self) -> torch.Tensor:
        """Area under each insertion curve, (N,): higher is more faithful."""
        return torch.trapezoid(self.insertion, self.fractions, dim=1)


@torch.no_grad()
def deletion_insertion(model: nn.Module, images: torch.Tensor, maps: torch.Tensor, target: torch.Tensor, *,
                       steps: int = 16, reference: str = "blur", pixels_per_pass: int = PIXELS_PER_PASS,
                       answers: Optional[dict] = None) -> DeletionInsertion:
    """Deletion and insertion curves of attribution maps (Petsiuk et al. 2018).

    At step k of ``steps``, the ``k / steps`` most important pixels (all channels) are replaced by
    the reference image (deletion), or are the only ones taken from the image (insertion).

    Args:
        model: Classifier returning logits; probabilities are its softmax.
        images: (N, C, H, W) inputs.
        maps: (N, H, W) attributions; larger means more important.
        target: (N,) class whose probability is recorded.
        steps: Number of steps from 0 to all pixels.
        reference: See :func:`reference_image`.
        pixels_per_pass: Budget of images x height x width per forward pass
            (:func:`xaihelpers.inference.images_per_pass`).
        answers: The model's probabilities for the untouched images and for the full reference,
            kept by the caller to share between calls that measure several maps of the same images
            (one dict per model): the pictures at both ends of the curves do not depend on the
            map, and one already in it is not passed again. Keyed by the picture's values, device
            and memory layout, so a hit is what the same pass would give as long as the model's
            weights and mode stay as they were. ``None``: nothing is shared.

    Cost: at most 2 * steps forward passes per image, no backward pass (2 fewer per image with
    ``answers`` that hold the ends), of the model with its batch norms folded where that applies
    (:func:`xaihelpers.inference.for_inference`). The untouched image and the full reference each
    appear twice (deletion starts where insertion ends, and the other way round); each is passed
    through the model once and its probabilities are used for both curves.
    """
    checks.images(images)
    checks.maps(maps, shape=(images.shape[0], *images.shape[-2:]))
    checks.positive_int(steps, "steps")
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    batch_size = images_per_pass(images, pixels_per_pass)
    target = checks.targets(target, len(images))
    ranks = pixel_ranks(maps).view(maps.shape)[:, None]
    fill = reference_image(images, reference)
    pixels = maps[0].numel()
    counts = [round(k * pixels / steps) for k in range(steps + 1)]
    fractions = torch.tensor([c / pixels for c in counts])
    curves = {"deletion": [], "insertion": []}
    runner = inference.for_inference(model, images[:1])  # batch norms folded: the same function, faster
    # The image alone and the reference alone, by name; the pictures of both have the same values
    # and the same memory layout at either end of the curves, so their passes give the same bits.
    ends = {}
    for count in counts:
        chosen = ranks < count
        # Deletion starts at the image and ends at the reference; insertion the other way round.
        for kind, picture, end in (("deletion", torch.where(chosen, fill, images),
                                    {0: "image", pixels: "reference"}.get(count)),
                                   ("insertion", torch.where(chosen, images, fill),
                                    {0: "reference", pixels: "image"}.get(count))):
            if end in ends:
                curves[kind].append(ends[end])
                continue
            key = None
            if end is not None and answers is not None:
                key = (id(runner), str(picture.device), picture.dtype, tuple(picture.shape), picture.stride(),
                       batch_size, tensor_digest(picture))
            if key is not None and key in answers:
                probabilities = answers[key]
            else:
                probabilities = torch.cat([runner(picture[i:i + batch_size]).softmax(dim=1)
                                           for i in range(0, len(picture), batch_size)])
                if key is not None:
                    answers[key] = probabilities.detach()
            if not curves["deletion"]:  # the first pass tells how many classes the model has
                target = checks.targets(target, len(images), classes=probabilities.shape[1])
            curves[kind].append(probabilities.gather(1, target[:, None].to(probabilities.device))[:, 0].cpu())
            if end is not None:
                ends[end] = curves[kind][-1]
    return DeletionInsertion(fractions, torch.stack(curves["deletion"], 1), torch.stack(curves["insertion"], 1))


def spearman_per_image(maps_a: torch.Tensor, maps_b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation of the absolute values of two batches of maps, (N,).

    Absolute values, as Adebayo et al. do, since some methods' signs are arbitrary. A constant map
    has no ranking; its correlation is NaN.
    """
    values = []
    for a, b in zip(maps_a.detach().abs().flatten(1).double().cpu().numpy(),
                    maps_b.detach().abs().flatten(1).double().cpu().numpy()):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            values.append(float("nan"))
        else:
            values.append(float(spearmanr(a, b).statistic))
    return torch.tensor(values)


def ssim_per_image(maps_a: torch.Tensor, maps_b: torch.Tensor) -> torch.Tensor:
    """Structural similarity of the absolute maps, each scaled to [0, 1] by its maximum, (N,)."""
    def scaled(maps):
        maps = maps.detach().abs().double()
        return (maps / maps.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]).cpu().numpy()

    return torch.tensor([structural_similarity(a, b, data_range=1.0)
                         for a, b in zip(scaled(maps_a), scaled(maps_b))])


def randomize(module: nn.Module, seed: int) -> None:
    """Re-initialise every layer inside ``module`` (in place) with its own default initialiser.

    Batch-norm layers get their default parameters and statistics back, which removes what they
    learned. The seed makes the random weights reproducible.
    """
    with repro.seeded(seed):
        for layer in module.modules():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()


def randomized_copy(model: nn.Module, layers: Sequence[str], seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose ``layers`` are re-initialised, the ``i``-th with ``seed + i``:
    the model :func:`cascading_randomization` explains after ``len(layers)`` steps. ``model`` is
    not changed.

    Raises:
        KeyError: For a layer the model does not have.
    """
    changed = copy.deepcopy(model)
    for position, layer in enumerate(layers):
        randomize(get_layer(changed, layer), seed + position)
    return changed


@dataclass
class Randomization:
    """Result of :func:`cascading_randomization`: per explained step (top first) and image,
    similarity of the explanation of the progressively randomised model to the original one."""

    layers: list[str]
    spearman: torch.Tensor  # (layers, N)
    ssim: torch.Tensor  # (layers, N)


def cascading_randomization(model: nn.Module, explain: Explainer, images: torch.Tensor, target: torch.Tensor,
                            layers: Sequence[str], *, seed: int = 0, original: Optional[torch.Tensor] = None,
                            explained: Optional[Sequence[int]] = None) -> Randomization:
    """Adebayo et al.'s cascading randomisation: layers re-initialised from the top down.

    Args:
        model: The trained classifier; it is not modified (a copy is randomised).
        explain: The method under test, ``explain(model, images, target) -> (N, H, W)``.
        images: (N, C, H, W) inputs.
        target: (N,) classes to explain; kept fixed (the trained model's choice) for every layer.
        layers: Names of the layers to randomise, from the output towards the input; after step i
            the first i + 1 of them are random.
        seed: Seed of the random weights.
        original: The trained model's maps ``explain(model, images, target)`` when the caller
            already has them (they are not computed again).
        explained: The steps (positions in ``layers``, negative ones from the end) after which
            the maps are explained and compared, taken in order and each once; ``None``: after
            every step. The layers are still randomised one by one with their own seeds, so the
            weights at a step are the same either way; a step left out saves the method's passes.

    Returns:
        The similarities at the explained steps, in order; ``layers`` names the layer randomised
        at each of them (those before it in ``layers`` are random too).
    """
    checks.images(images)
    target = checks.targets(target, len(images))
    if not len(layers):
        raise ValueError("layers is empty; name the layers to randomise, from the output towards the input.")
    for layer in layers:
        get_layer(model, layer)  # an unknown name fails here, listing names the model has
    steps = range(len(layers))
    if explained is None:
        explained = steps
    else:
        try:
            if any(isinstance(step, bool) for step in explained):
                raise TypeError
            explained = sorted({steps[step] for step in explained})
        except (IndexError, TypeError):
            raise ValueError(f"explained must hold positions in layers (0 to {len(layers) - 1}, or negative from "
                             f"the end), got {explained!r}.") from None
        if not explained:
            raise ValueError("explained is empty; name at least one step, or pass None for every step.")
    if original is None:
        original = explain(model, images, target)
    else:
        checks.maps(original, "original", shape=(len(images), *images.shape[-2:]))
    original = original.detach()
    randomized = copy.deepcopy(model).eval()
    spearman, ssim = [], []
    for position, layer in enumerate(layers[:explained[-1] + 1]):  # nothing is read after the last
        randomize(randomized.get_submodule(layer), seed + position)
        if position in explained:
            maps = explain(randomized, images, target).detach()
            spearman.append(spearman_per_image(original, maps))
            ssim.append(ssim_per_image(original, maps))
    return Randomization([layers[step] for step in explained], torch.stack(spearman), torch.stack(ssim))


class PassCounter(HookOwner):
    """Count the forward and backward passes made through a model, per image.

    A forward hook on the model counts every image that goes through it; a hook on each output
    tensor that requires a gradient counts every image whose backward pass reaches the output.
    Use as a context manager; the hooks are removed on exit, also after an exception::

        with PassCounter(model) as counter:
            IntegratedGradients(model).attribute(images, target=target, n_steps=16)
        counter.per_image(len(images))   # (16.0, 16.0)
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.forward_images = 0
        self.backward_images = 0
        self.forward_calls = 0
        self.backward_calls = 0

    def _on_forward(self, module, args, output) -> None:
        batch = output.shape[0]
        self.forward_images += batch
        self.forward_calls += 1
        if output.requires_grad:
            output.register_hook(lambda grad: self._on_backward(batch))

    def _on_backward(self, batch: int) -> None:
        self.backward_images += batch
        self.backward_calls += 1

    def _register(self) -> None:
        self._own(self.model.register_forward_hook(self._on_forward))

    def per_image(self, images: int) -> tuple[float, float]:
        """(forward, backward) passes per explained image."""
        return self.forward_images / images, self.backward_images / images


@dataclass
class Cost:
    """Passes per image (counted) and seconds per image (measured) of one method on one batch."""

    forward: float
    backward: float
    seconds: float


def measure_cost(model: nn.Module, run: Callable[[], torch.Tensor], images: int,
                 counted: Optional[nn.Module] = None) -> tuple[torch.Tensor, Cost]:
    """Run ``run()`` once, counting passes through ``counted`` (default ``model``) and timing it.

    Returns:
        ``run``'s result and the :class:`Cost` per image.
    """
    with PassCounter(counted if counted is not None else model) as counter:
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
    forward, backward = counter.per_image(images)
    return result, Cost(forward, backward, seconds / images)
