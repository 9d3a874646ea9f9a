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
Integrated Gradients        S + S              Sundararajan et al. 2017 (S + 2 + S with the delta)
Grad-CAM                    1 + 1              Selvaraju et al. 2017
LIME                        E + 0              Ribeiro et al. 2016
SHAP (gradient)             E + B + E          Lundberg & Lee 2017 (expected gradients)
SHAP (partition)            E + 0              Lundberg & Lee 2017 (Owen values; chapter 13)
CAM                         1 + 0              Zhou et al. 2016 (CAM-ready networks; chapter 11)
==========================  =================  ==================================================

The first nine are :data:`COMPARED`: they run on any classifier, and chapters 10 and 15 measure
them side by side (:func:`cost_table` and ``chapter.pollen_explainers`` list them). The others
(:attr:`Method.compared` false) are the methods one chapter uses on its own models: partition SHAP
(chapter 13) and the class activation map of the CIFAR networks with a pooled head (chapter 11).
Registering them states their cost and settings in the same place without changing the
comparison. The chapter-11 occlusion of a layer's positions
(:func:`xaihelpers.hooks.occlusion_by_position`) is not an attribution method of the input: it
zeroes a hidden layer, its map has that layer's resolution and its cost is the layer's number of
positions, so it stays a hook experiment.

Every method that batches takes ``pixels_per_pass`` (default
:data:`xaihelpers.inference.PIXELS_PER_PASS`): images x height x width per pass through the model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from xaihelpers import attribution, checks, explainers, features, gradcam
from xaihelpers.hooks import LayerRecorder
from xaihelpers.inference import PIXELS_PER_PASS, images_per_pass
from xaihelpers.typing import MapFunction


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
        compared: Whether it is one of the :data:`COMPARED` methods that run on any classifier
            and that the comparison tables of chapters 10 and 15 list; ``False`` for a method
            one chapter uses on its own models.
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
    compared: bool = True

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

    with attribution.guided_relu6(model), warnings.catch_warnings():
        # captum announces that it hooks the ReLUs: that is what guided backprop is.
        warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
        gradients = GuidedBackprop(model).attribute(_inputs(images), target=target)
    return attribution.channel_reduce(gradients, "max_abs")


def _smoothgrad(model, images, target, *, sigma, samples, average, seed, pixels_per_pass):
    return attribution.smoothgrad(model, images, target, sigma=sigma, samples=samples, average=average, seed=seed,
                                  pixels_per_pass=pixels_per_pass)


def _integrated_gradients(model, images, target, *, steps, baseline, reduction, pixels_per_pass,
                          return_convergence_delta):
    if not return_convergence_delta:
        return attribution.channel_reduce(attribution.integrated_gradients(
            model, images, target, steps=steps, reference=baseline, pixels_per_pass=pixels_per_pass), reduction)
    from captum.attr import IntegratedGradients

    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    # captum's internal_batch_size counts the images of one pass; it splits the steps, never the
    # images, so a pass holds at least one step of every image (evaluation.in_passes splits those).
    maps, delta = IntegratedGradients(model).attribute(images, baselines=attribution.baseline(images, baseline),
                                                       target=target, n_steps=steps,
                                                       internal_batch_size=images_per_pass(images, pixels_per_pass),
                                                       return_convergence_delta=True)
    return attribution.channel_reduce(maps, reduction), delta


def _grad_cam(model, images, target, *, layer, pixels_per_pass):
    return gradcam.grad_cam(model, layer, images, target, pixels_per_pass=pixels_per_pass)


def _cam(model, images, target, *, pixels_per_pass):
    """Zhou et al.'s class activation map from a CIFAR network's own decomposition
    (``model.evidence_map``), upsampled like Grad-CAM's maps, signed and unscaled."""
    from captum.attr import LayerAttribution

    checks.images(images)
    if not callable(getattr(model, "evidence_map", None)):
        raise TypeError(f"CAM needs a network with an exact class activation map (evidence_map, as "
                        f"xaihelpers.cifar's gap and allconv have); {type(model).__name__} has none.")
    checks.positive_int(pixels_per_pass, "pixels_per_pass")
    labels = checks.targets(target, len(images))
    layers = [model.conv_blocks[-1], model.dense_layer]
    per_pass, maps = images_per_pass(images, pixels_per_pass), []
    for start in range(0, len(images), per_pass):
        chunk = images[start:start + per_pass]
        with torch.no_grad(), LayerRecorder(model, layers) as recording, checks.target_in_range():
            logits = model(chunk)
            part = checks.targets(labels[start:start + per_pass], len(chunk), classes=logits.shape[1])
            maps.append(model.evidence_map(recording.activations[layers[0]], recording.activations[layers[1]], part))
    upsampled = LayerAttribution.interpolate(torch.cat(maps)[:, None], tuple(images.shape[-2:]),
                                             interpolate_mode="bilinear")
    return upsampled[:, 0]


def _lime(model, images, target, *, num_samples, superpixels, seed, pixels_per_pass):
    return explainers.lime_maps(model, images, target, num_samples=num_samples, seed=seed,
                                segmentation=explainers.slic_segmentation(superpixels),
                                pixels_per_pass=pixels_per_pass)


def _gradient_shap(model, images, target, *, background, nsamples, seed):
    return explainers.gradient_shap_maps(model, images, background, target, nsamples=nsamples, seed=seed)[0]


def _partition_shap(model, images, target, *, max_evals, masker, pixels_per_pass):
    return explainers.partition_shap_maps(model, images, target, max_evals=max_evals, masker=masker,
                                          pixels_per_pass=pixels_per_pass)


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
               {**attribution.SMOOTHGRAD, "average": "signed", "seed": 0, "pixels_per_pass": PIXELS_PER_PASS},
               "Smilkov et al. 2017", explains="the gradient averaged over noisy copies of the image",
               good_for="a less noisy saliency map, at N times the cost"),
        # With return_convergence_delta, captum runs the model once more on the baseline and the input.
        Method("Integrated Gradients", _integrated_gradients,
               lambda s: (float(s["steps"] + 2 * bool(s["return_convergence_delta"])), float(s["steps"])),
               "signed sum over channels (positive evidence ranks first)",
               {"steps": 32, "baseline": "black", "reduction": "sum", "pixels_per_pass": PIXELS_PER_PASS,
                "return_convergence_delta": False},
               "Sundararajan et al. 2017", explains="each pixel's share of the score's change from a baseline",
               good_for="attributions that add up to the score (completeness)"),
        Method("Grad-CAM", _grad_cam, one, "one map per layer, upsampled, scaled to [0, 1]",
               {"pixels_per_pass": PIXELS_PER_PASS},
               "Selvaraju et al. 2017", needs=("layer",),
               explains="which regions of a layer's feature maps raise the class score",
               good_for="where the evidence is, class by class, at one pass"),
        Method("LIME", _lime, lambda s: (float(s["num_samples"]), 0.0), "one weight per SLIC superpixel",
               {"num_samples": 300, "superpixels": 40, "seed": 0, "pixels_per_pass": PIXELS_PER_PASS},
               "Ribeiro et al. 2016",
               explains="a linear surrogate's weights for superpixels switched on and off",
               good_for="any black box, regions instead of pixels"),
        # shap runs the model once on the background for every image it explains (one explainer per target).
        Method("SHAP (gradient)", _gradient_shap,
               lambda s: (float(s["nsamples"] + len(s.get("background", ()))), float(s["nsamples"])),
               "signed sum over channels", {"nsamples": 32, "seed": 0}, "Lundberg & Lee 2017",
               needs=("background",), explains="expected gradients times input against background images",
               good_for="attributions relative to a data set, with signs"),
        Method("SHAP (partition)", _partition_shap, lambda s: (float(s["max_evals"]), 0.0),
               "signed sum over channels of Owen values of blurred pixel blocks",
               {"max_evals": 500, "masker": "blur(8,8)", "pixels_per_pass": PIXELS_PER_PASS},
               "Lundberg & Lee 2017 (partition explainer, Owen values)",
               explains="each pixel block's Owen value for the class probability, blocks replaced by a blur",
               good_for="any black box, exact values for a hierarchy of blocks, no gradients", compared=False),
        Method("CAM", _cam, lambda s: (1.0, 0.0),
               "the last block's channels weighted by the class's output weights, upsampled, signed",
               {"pixels_per_pass": PIXELS_PER_PASS}, "Zhou et al. 2016",
               explains="each last-block position's exact share of the class logit (minus the bias)",
               good_for="networks with a pooled linear head: an exact decomposition at one forward pass",
               compared=False),
    ]
    return {method.name: method for method in methods}


#: Name -> :class:`Method`: every attribution method of the book, in the order its tables list them.
METHODS: dict[str, Method] = _registry()
#: The methods that run on any classifier and that chapters 10 and 15 compare (and
#: :func:`cost_table` lists), in the registry's order: those with :attr:`Method.compared`.
COMPARED: tuple[str, ...] = tuple(name for name, method in METHODS.items() if method.compared)


def get(name: str) -> Method:
    """The method ``name``; an unknown name raises ``KeyError`` listing the known ones."""
    return checks.registered(METHODS, name, "method")


def bind(name: str, **settings) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``explain(model, images, target)`` for method ``name`` with ``settings`` fixed (checked now).

    The function carries ``method`` (the name) and ``settings`` (every setting, defaults included),
    which is what :func:`xaihelpers.chapter.shared_maps` keys its stored maps by.
    """
    method = get(name)
    chosen = method.settings(**settings)

    def explain(model: nn.Module, images: torch.Tensor, target) -> torch.Tensor:
        return method.function(model, images, target, **chosen)

    explain.__name__ = explain.__qualname__ = name
    explain.method, explain.settings = name, dict(chosen)
    return explain


def cost_table(names: Sequence[str] = COMPARED, **settings_by_method: dict):
    """Passes per image of the methods ``names`` (default :data:`COMPARED`; ``list(METHODS)`` for
    all) with the defaults, or the settings given per name, with each one's display reduction and
    paper: a ``pandas.DataFrame``."""
    import pandas as pd

    unknown = set(settings_by_method) - set(names)
    if unknown:
        raise KeyError(f"Settings for {sorted(unknown)}, which the table does not list (it lists {list(names)}).")
    rows = []
    for name in names:
        method = get(name)
        forward, backward = method.cost(**settings_by_method.get(name, {}))
        rows.append({"method": name, "forward passes": forward, "backward passes": backward,
                     "reduction": method.reduction, "defined by": method.paper})
    return pd.DataFrame(rows).set_index("method")
