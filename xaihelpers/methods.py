"""One registry of the book's attribution methods: name -> function, cost, display reduction, defaults.

Every method is called the same way, ``METHODS[name](model, images, target, **settings)``, and
returns maps ``(N, H, W)`` in which larger means more important; the chapters, the explorer, the
benchmarks and the evaluation all take the methods from here, with the settings the book chose
(:attr:`Method.defaults`). :func:`bind` fixes settings once, giving the
``explain(model, images, target)`` function :mod:`xaihelpers.evaluation` measures.

Cost in forward + backward passes per image (``N`` noise samples, ``S`` steps, ``E`` model
evaluations, ``B`` background images: :func:`cost_table` leaves them out, as it has no background),
as :func:`cost_table` prints them from the registry:

==========================  =================  ==================================================
method                      passes per image   paper
==========================  =================  ==================================================
random, edge detector       0                  controls (no model)
saliency                    1 + 1              Simonyan et al. 2013
guided backprop             1 + 1              Springenberg et al. 2014
SmoothGrad                  N + N              Smilkov et al. 2017
Integrated Gradients        S + S              Sundararajan et al. 2017
Grad-CAM                    1 + 1              Selvaraju et al. 2017
LIME                        E + 0              Ribeiro et al. 2016
SHAP (gradient)             E + B + E          Lundberg & Lee 2017 (expected gradients)
==========================  =================  ==================================================
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import nn

from xaihelpers import attribution, checks, explainers, features, gradcam

MapFunction = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Method:
    """One attribution method of the book.

    Attributes:
        name: How the book names it (the registry key).
        function: ``function(model, images, target, **settings) -> (N, H, W)``.
        passes: ``passes(settings) -> (forward, backward)`` per image.
        reduction: How per-channel attributions become one value per pixel.
        defaults: The settings the book uses unless a chapter says otherwise.
        paper: The reference that defines it.
        needs: Settings without a default that every call must give (a layer, a background).
        explains: What its map explains, in short (the "what" of the chapter's Hohman card).
        good_for: What the book found it good for (the closing chapter's decision guide).
    """

    name: str
    function: MapFunction
    passes: Callable[[dict], tuple[float, float]]
    reduction: str
    defaults: dict[str, Any] = field(default_factory=dict)
    paper: str = ""
    needs: tuple[str, ...] = ()
    explains: str = ""
    good_for: str = ""

    def settings(self, **overrides) -> dict[str, Any]:
        """The defaults with ``overrides``; refuses names the method does not take."""
        unknown = set(overrides) - set(self.defaults) - set(self.needs)
        if unknown:
            raise TypeError(f"{self.name} takes {sorted({*self.defaults, *self.needs})}, not {sorted(unknown)}.")
        missing = [need for need in self.needs if need not in overrides]
        if missing:
            raise TypeError(f"{self.name} needs {missing} (e.g. METHODS[{self.name!r}](model, images, target, "
                            f"{missing[0]}=...)).")
        return {**self.defaults, **overrides}

    def __call__(self, model: nn.Module, images: torch.Tensor, target, **overrides) -> torch.Tensor:
        return self.function(model, images, target, **self.settings(**overrides))

    def cost(self, **overrides) -> tuple[float, float]:
        """(forward, backward) passes per image with these settings."""
        return self.passes({**self.defaults, **overrides})


@contextlib.contextmanager
def _relu6_guided(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` with its ``nn.ReLU6`` modules swapped for :class:`~xaihelpers.attribution.GuidedReLU6`
    in place for the block (same outputs; captum's guided rule then applies), swapped back after."""
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    guided: dict[int, nn.Module] = {}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                swapped.append((parent, name, child))
                setattr(parent, name, guided.setdefault(id(child), attribution.GuidedReLU6()))
    try:
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def _inputs(images: torch.Tensor) -> torch.Tensor:
    return images.detach().clone().requires_grad_()


def _random(model, images, target, *, seed):
    return torch.rand(images.shape[0], *images.shape[-2:], generator=torch.Generator().manual_seed(seed))


def _edges(model, images, target):
    return features.edge_magnitude(images)


def _saliency(model, images, target):
    from captum.attr import Saliency

    return attribution.channel_reduce(Saliency(model).attribute(_inputs(images), target=target), "max_abs")


def _guided_backprop(model, images, target):
    from captum.attr import GuidedBackprop

    with _relu6_guided(model), warnings.catch_warnings():
        # captum announces that it hooks the ReLUs: that is what guided backprop is.
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        gradients = GuidedBackprop(model).attribute(_inputs(images), target=target)
    return attribution.channel_reduce(gradients, "max_abs")


def _smoothgrad(model, images, target, *, sigma, samples, average, seed, pixels_per_chunk):
    return attribution.smoothgrad(model, images, target, sigma=sigma, samples=samples, average=average, seed=seed,
                                  pixels_per_chunk=pixels_per_chunk)


def _integrated_gradients(model, images, target, *, steps, internal_batch_size, baseline, reduction):
    from captum.attr import IntegratedGradients

    maps = IntegratedGradients(model).attribute(images, baselines=attribution.baseline(images, baseline),
                                                target=target, n_steps=steps,
                                                internal_batch_size=internal_batch_size or len(images))
    return attribution.channel_reduce(maps, reduction)


def _grad_cam(model, images, target, *, layer):
    return gradcam.grad_cam(model, layer, images, target)


def _lime(model, images, target, *, num_samples, superpixels, seed):
    return explainers.lime_maps(model, images, target, num_samples=num_samples, seed=seed,
                                segmentation=explainers.slic_segmentation(superpixels))


def _gradient_shap(model, images, target, *, background, nsamples, seed):
    return explainers.gradient_shap_maps(model, images, background, target, nsamples=nsamples, seed=seed)[0]


def _registry() -> dict[str, Method]:
    one = lambda settings: (1.0, 1.0)  # noqa: E731 - one forward and one backward pass
    methods = [
        Method("random", _random, lambda s: (0.0, 0.0), "none: uniform noise per pixel", {"seed": 0},
               "control: what no information scores", explains="nothing: uniform noise",
               good_for="the floor every method must beat"),
        Method("edge detector", _edges, lambda s: (0.0, 0.0), "Sobel magnitude of the grey image", {},
               "control: ignores the model", explains="the image's edges, not the model",
               good_for="catching maps that only show edges"),
        Method("saliency", _saliency, one, "max |gradient| over channels", {}, "Simonyan et al. 2013",
               explains="how sensitive the class score is to each pixel",
               good_for="a cheap, model-dependent first look"),
        Method("guided backprop", _guided_backprop, one, "max |guided gradient| over channels", {},
               "Springenberg et al. 2014", explains="image structure the ReLUs let through, barely the class",
               good_for="sharp pictures, not evidence (fails the sanity check)"),
        Method("SmoothGrad", _smoothgrad, lambda s: (float(s["samples"]),) * 2,
               "|mean signed gradient over noisy copies|, max over channels",
               {**attribution.SMOOTHGRAD, "average": "signed", "seed": 0, "pixels_per_chunk": 4 * 224 * 224},
               "Smilkov et al. 2017", explains="the gradient averaged over noisy copies of the image",
               good_for="a less noisy saliency map, at N times the cost"),
        Method("Integrated Gradients", _integrated_gradients, lambda s: (float(s["steps"]),) * 2,
               "signed sum over channels (positive evidence ranks first)",
               {"steps": 32, "internal_batch_size": None, "baseline": "black", "reduction": "sum"},
               "Sundararajan et al. 2017", explains="each pixel's share of the score's change from a baseline",
               good_for="attributions that add up to the score (completeness)"),
        Method("Grad-CAM", _grad_cam, one, "one map per layer, upsampled, scaled to [0, 1]", {},
               "Selvaraju et al. 2017", needs=("layer",),
               explains="which regions of a layer's feature maps raise the class score",
               good_for="where the evidence is, class by class, at one pass"),
        Method("LIME", _lime, lambda s: (float(s["num_samples"]), 0.0), "one weight per SLIC superpixel",
               {"num_samples": 300, "superpixels": 40, "seed": 0}, "Ribeiro et al. 2016",
               explains="a linear surrogate's weights for superpixels switched on and off",
               good_for="any black box, regions instead of pixels"),
        # shap runs the model once on the background for every image it explains (one explainer per target).
        Method("SHAP (gradient)", _gradient_shap,
               lambda s: (float(s["nsamples"] + len(s.get("background", ()))), float(s["nsamples"])),
               "signed sum over channels", {"nsamples": 32, "seed": 0}, "Lundberg & Lee 2017",
               needs=("background",), explains="expected gradients times input against background images",
               good_for="attributions relative to a data set, with signs"),
    ]
    return {method.name: method for method in methods}


#: Name -> :class:`Method`, in the order the book's tables list them.
METHODS: dict[str, Method] = _registry()


def get(name: str) -> Method:
    """The method ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    return checks.registered(METHODS, name, "method")


def bind(name: str, **settings) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``explain(model, images, target)`` for method ``name`` with ``settings`` fixed (checked now)."""
    method = get(name)
    chosen = method.settings(**settings)

    def explain(model: nn.Module, images: torch.Tensor, target) -> torch.Tensor:
        return method.function(model, images, target, **chosen)

    explain.__name__ = explain.__qualname__ = name
    return explain


def cost_table(**settings_by_method: dict):
    """Passes per image of every method (with the defaults, or the settings given per name), with
    its display reduction and paper: a ``pandas.DataFrame``."""
    import pandas as pd

    rows = []
    for name, method in METHODS.items():
        forward, backward = method.cost(**settings_by_method.get(name, {}))
        rows.append({"method": name, "forward passes": forward, "backward passes": backward,
                     "reduction": method.reduction, "defined by": method.paper})
    return pd.DataFrame(rows).set_index("method")
