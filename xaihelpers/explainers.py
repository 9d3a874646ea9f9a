"""LIME and SHAP for torch image classifiers, returning maps shaped like the other methods'.

- LIME (Ribeiro et al. 2016, "Why Should I Trust You?", KDD): perturb superpixels, fit a
  weighted linear model to the classifier's outputs; each superpixel gets the model's weight.
  Cost: ``num_samples`` forward passes per image, no backward pass.
- SHAP's ``GradientExplainer`` (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model
  Predictions", NeurIPS; expected gradients, Erion et al. 2021): Integrated Gradients averaged
  over baselines drawn from a background set. Cost: ``nsamples`` forward and backward passes
  per image (plus one forward pass to rank the outputs).

Both packages work in NumPy, channels last; these wrappers take and return torch tensors,
channels first, so every method of the book is interchangeable in the evaluation chapter.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
from torch import nn

from xaihelpers import checks, inference, repro
from xaihelpers.attribution import paint_regions
from xaihelpers.cache import tensor_digest
from xaihelpers.inference import PIXELS_PER_PASS, images_per_pass


def lime_predict_fn(model: nn.Module, batch_size: int | None = None, *, pixels_per_pass: int = PIXELS_PER_PASS,
                    answers: dict | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """The prediction function LIME calls: (N, H, W, 3) images in, (N, classes) probabilities out.

    Accepts uint8 images (0..255) and float images in [0, 1], as LIME passes back whatever it was
    given; the model sees float [0, 1] tensors, channels first, in chunks of ``batch_size``
    (default: :func:`xaihelpers.inference.images_per_pass` of the images' size and
    ``pixels_per_pass``), with its batch norms folded where that applies
    (:func:`xaihelpers.inference.for_inference`).

    Args:
        answers: The model's answers to the batches it has been handed, kept by the caller to share
            between calls on the same model (one dict per model): a batch already in it is
            answered from it without a pass. The same batch, split into the same chunks, gives the
            same bits, so the answers are the model's own as long as its weights and mode stay as
            they were. LIME runs with one seed and several ``num_samples`` hand over the same first
            batches, and so do SHAP's Partition runs with several ``max_evals``. ``None``: every
            batch goes through the model.

    Raises:
        ValueError: If the array is not (N, H, W, 3).
    """
    if batch_size is not None:
        checks.positive_int(batch_size, "batch_size")
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    device = next(model.parameters()).device

    @torch.no_grad()
    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"LIME images must be (N, H, W, 3), got shape {images.shape}")
        scale = 255.0 if images.dtype == np.uint8 else 1.0
        tensor = torch.from_numpy(images.astype(np.float32) / scale).permute(0, 3, 1, 2)
        chunk = batch_size or images_per_pass(tensor, pixels_per_pass)
        runner = inference.for_inference(model, tensor[:1].to(device))  # batch norms folded: the same function
        key = None
        if answers is not None:
            # The digest covers the batch's dtype, shape and values.
            key = (id(runner), str(device), chunk, tensor_digest(torch.from_numpy(np.ascontiguousarray(images))))
            if key in answers:
                return answers[key].copy()
        chunks = [runner(tensor[i:i + chunk].to(device)).softmax(dim=1).cpu()
                  for i in range(0, len(tensor), chunk)]
        probabilities = torch.cat(chunks).double().numpy()
        if key is not None:
            answers[key] = probabilities.copy()
        return probabilities

    return predict


def slic_segmentation(n_segments: int = 40, compactness: float = 10.0) -> Callable[[np.ndarray], np.ndarray]:
    """A SLIC superpixel function for LIME (Achanta et al. 2012), deterministic."""
    from skimage.segmentation import slic

    def segment(image: np.ndarray) -> np.ndarray:
        return slic(image, n_segments=n_segments, compactness=compactness, start_label=0)

    return segment


def felzenszwalb_segmentation(scale: float = 30.0, sigma: float = 0.5,
                              min_size: int = 8) -> Callable[[np.ndarray], np.ndarray]:
    """Felzenszwalb & Huttenlocher (2004) graph-based segments: follow colour edges, uneven sizes."""
    from skimage.segmentation import felzenszwalb

    def segment(image: np.ndarray) -> np.ndarray:
        return felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size)

    return segment


def quickshift_segmentation(kernel_size: float = 2.0, max_dist: float = 6.0,
                            ratio: float = 0.5) -> Callable[[np.ndarray], np.ndarray]:
    """Quickshift (Vedaldi & Soatto 2008) mode-seeking segments, LIME's own default algorithm.

    Deterministic here: scikit-image's random tie-breaking noise is seeded.
    """
    from skimage.segmentation import quickshift

    def segment(image: np.ndarray) -> np.ndarray:
        return quickshift(image, kernel_size=kernel_size, max_dist=max_dist, ratio=ratio, rng=0)

    return segment


#: The segmentations the LIME chapter compares, with settings sized for 32x32 CIFAR images.
SEGMENTATIONS: dict[str, Callable[[], Callable[[np.ndarray], np.ndarray]]] = {
    "felzenszwalb": felzenszwalb_segmentation,
    "quickshift": quickshift_segmentation,
    "slic": lambda: slic_segmentation(n_segments=25, compactness=10.0),
}


@functools.cache
def _lime_explainer_class() -> type:
    """LIME's ``LimeImageExplainer`` with :meth:`data_labels` computed per batch of rows in NumPy.

    lime 0.2.0.1 builds each perturbed image in a Python loop over the switched-off superpixels
    (one full-image comparison each) and always shows a ``tqdm.auto`` bar, which would land in the
    chapters' stored outputs. The override draws the same random rows from the same random state
    and builds the same images (a pixel of a switched-off superpixel takes the fudged image's
    value, every other pixel the image's), a batch at a time and without a bar; tests compare it
    with lime's own method.
    """
    lime_image = repro.import_keeping_generators("lime.lime_image")

    class LimeImageExplainer(lime_image.LimeImageExplainer):
        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1
            # lime switches off the superpixel whose label equals the row's column index; a label
            # outside 0 .. n_features - 1 is never switched off (column n_features: always on).
            columns = np.where((segments >= 0) & (segments < n_features), segments, n_features)
            labels = []
            for start in range(0, num_samples, batch_size):
                rows = data[start:start + batch_size]
                rows = np.concatenate([rows, np.ones((len(rows), 1), dtype=rows.dtype)], axis=1)
                switched_off = (rows == 0)[:, columns][..., None]
                labels.extend(classifier_fn(np.where(switched_off, fudged_image, image)))
            return data, np.array(labels)

    return LimeImageExplainer


def lime_maps(model: nn.Module, images: torch.Tensor, target: torch.Tensor, *, num_samples: int = 300,
              segmentation: Callable[[np.ndarray], np.ndarray] | None = None, batch_size: int = 64,
              seed: int = 0, hide_color: float | None = None, pixels_per_pass: int = PIXELS_PER_PASS,
              answers: dict | None = None) -> torch.Tensor:
    """LIME explanation of each image for its target class, painted per superpixel, (N, H, W).

    Args:
        model: Classifier taking [0, 1] images and returning logits.
        images: (N, 3, H, W) in [0, 1].
        target: (N,) class to explain.
        num_samples: Perturbed images per explanation (LIME's default is 1000).
        segmentation: Superpixel function (default: :func:`slic_segmentation`).
        batch_size: Perturbed images LIME hands over per call (LIME's default is 10); the model
            sees them in passes of at most ``pixels_per_pass`` pixels.
        seed: LIME's random state; with it the explanation is reproducible.
        hide_color: The value a switched-off superpixel is filled with (``0``: black); ``None``,
            LIME's default, fills it with its own mean colour.
        pixels_per_pass: Images x height x width per pass through the model
            (:func:`xaihelpers.inference.images_per_pass`).
        answers: The model's answers to batches it has seen, shared between calls on the same
            model (see :func:`lime_predict_fn`); ``None``: nothing is shared.
    """
    checks.images(images, channels=3)
    target = checks.targets(target, len(images))
    checks.positive_int(num_samples, "num_samples")
    segment = segmentation or slic_segmentation()
    predict = lime_predict_fn(model, pixels_per_pass=pixels_per_pass, answers=answers)
    maps = []
    for image, label in zip(images, torch.as_tensor(target).flatten().tolist()):
        picture = image.detach().permute(1, 2, 0).double().cpu().numpy()
        explainer = _lime_explainer_class()(random_state=seed)
        explanation = explainer.explain_instance(picture, predict, labels=(label,), top_labels=None,
                                                 hide_color=hide_color, num_samples=num_samples,
                                                 batch_size=batch_size, segmentation_fn=segment)
        weights = dict(explanation.local_exp[label])
        regions = np.unique(explanation.segments)
        maps.append(paint_regions(explanation.segments, regions, [weights.get(r, 0.0) for r in regions]))
    return torch.from_numpy(np.stack(maps)).float()


class _OneOutput(nn.Module):
    """The model's logit for one class, as a (N, 1) output: lets SHAP explain a chosen class."""

    def __init__(self, model: nn.Module, index: int) -> None:
        super().__init__()
        self.model, self.index = model, index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[:, self.index:self.index + 1]


def gradient_shap_maps(model: nn.Module, images: torch.Tensor, background: torch.Tensor,
                       target: torch.Tensor | None = None, *, nsamples: int = 32,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """SHAP ``GradientExplainer`` values of each image for one class, summed over colour channels.

    Args:
        model: Classifier returning logits.
        images: (N, C, H, W) inputs.
        background: (B, C, H, W) reference images the baselines are drawn from.
        target: (N,) classes to explain; ``None`` explains each image's top class (SHAP's
            ``ranked_outputs=1``, one call for the batch). With a target each image is explained
            through a one-output view of the model, at the same cost per image.
        nsamples: Samples (forward and backward passes) per image.
        seed: Seed of SHAP's sampling (NumPy's global generator, restored afterwards).

    Returns:
        ``(maps, classes)``: (N, H, W) signed maps and the (N,) explained classes.
    """
    shap = repro.import_keeping_generators("shap")

    checks.images(images)
    checks.images(background, "background")
    if background.shape[1:] != images.shape[1:]:
        raise ValueError(f"background images must have the shape of the images, {tuple(images.shape[1:])}, "
                         f"got {tuple(background.shape[1:])}.")
    if target is not None:
        target = checks.targets(target, len(images))
    checks.positive_int(nsamples, "nsamples")
    from xaihelpers.inference import restoring

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        # shap switches the model to eval mode and zeroes its gradients: both are given back.
        with restoring(model):
            if target is None:
                values, classes = shap.GradientExplainer(model, background).shap_values(
                    images, nsamples=nsamples, ranked_outputs=1)
                values, classes = np.asarray(values)[..., 0], torch.as_tensor(classes)[:, 0]
            else:
                classes = torch.as_tensor(target).flatten()
                values = np.concatenate([
                    np.asarray(shap.GradientExplainer(_OneOutput(model, int(label)), background).shap_values(
                        images[i:i + 1], nsamples=nsamples))[..., 0]
                    for i, label in enumerate(classes.tolist())])
    finally:
        np.random.set_state(state)
    return torch.from_numpy(values).float().sum(dim=1), classes


def partition_shap_maps(model: nn.Module, images: torch.Tensor, target: torch.Tensor, *, max_evals: int = 500,
                        masker: str = "blur(8,8)", batch_size: int = 100,
                        pixels_per_pass: int = PIXELS_PER_PASS, answers: dict | None = None) -> torch.Tensor:
    """SHAP's Partition explainer with an image masker: Owen values over a hierarchy of pixel blocks.

    The explainer masks rectangles of the image (replacing them with a blurred copy), splitting
    them recursively; the values are exact Owen values of that hierarchy (Lundberg & Lee 2017;
    Owen 1977). Model-agnostic: it needs only forward passes (``max_evals`` per image), no
    gradients, so it works on any architecture.

    Args:
        model: Classifier taking [0, 1] images, returning logits; explained through its softmax.
        images: (N, 3, H, W) in [0, 1].
        target: (N,) class explained for each image.
        max_evals: Model evaluations per image.
        masker: SHAP image-masker value: ``blur(kx,ky)``, ``inpaint_telea`` or ``inpaint_ns``.
        batch_size: Masked images SHAP hands over per call; the model sees them in passes of
            at most ``pixels_per_pass`` pixels.
        pixels_per_pass: Images x height x width per pass through the model
            (:func:`xaihelpers.inference.images_per_pass`).
        answers: The model's answers to batches it has seen, shared between calls on the same
            model (see :func:`lime_predict_fn`); ``None``: nothing is shared.

    Returns:
        (N, H, W) signed maps, summed over colour channels.
    """
    shap = repro.import_keeping_generators("shap")

    checks.images(images, channels=3)
    target = checks.targets(target, len(images))
    checks.positive_int(max_evals, "max_evals")
    if not masker.startswith(("blur(", "inpaint_telea", "inpaint_ns")):
        raise ValueError(f"masker must be 'blur(kx,ky)', 'inpaint_telea' or 'inpaint_ns', got {masker!r}.")
    # shap's inpainting maskers hand the image to OpenCV as uint8: on [0, 1] pixels that is an
    # almost black image, every masked image looks alike, and the map comes out constant. They
    # get 0..255 pixels, which the prediction function scales back.
    scale = 255.0 if masker.startswith("inpaint") else 1.0
    model_predict = lime_predict_fn(model, pixels_per_pass=pixels_per_pass, answers=answers)

    def predict(batch: np.ndarray) -> np.ndarray:
        return model_predict(np.asarray(batch) / scale if scale != 1.0 else batch)

    pictures = images.detach().permute(0, 2, 3, 1).double().cpu().numpy() * scale
    maps = []
    # shap's first Partition explanation imports modules that draw from Python's global generator
    # (found by tests/test_hygiene.py): the caller's streams are given back.
    with repro.keeping_generators():
        for picture, label in zip(pictures, torch.as_tensor(target).flatten().tolist()):
            # A fresh masker per image: shap caches the blurred image under id() of a temporary
            # array, which Python may reuse for the next image's array.
            explainer = shap.Explainer(predict, shap.maskers.Image(masker, pictures.shape[1:]))
            explanation = explainer(picture[None], max_evals=max_evals, batch_size=batch_size,
                                    outputs=[label], silent=True)
            maps.append(np.asarray(explanation.values)[0, ..., 0].sum(axis=-1))
    return torch.from_numpy(np.stack(maps)).float()
