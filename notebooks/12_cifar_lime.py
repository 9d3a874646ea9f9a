# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # LIME on three CIFAR-10 architectures: superpixels decide what can be said
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/12_cifar_lime.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F12_cifar_lime.ipynb)
#
# LIME {cite}`ribeiro2016why` explains one prediction with a simple surrogate. It cuts the image
# into superpixels, switches random subsets of them off (here: fills them with their mean colour,
# LIME's default), asks the network for the class probability of each perturbed image, and fits
# a weighted linear model from "which superpixels were on" to that probability; perturbations
# close to the original image weigh more. Each superpixel's coefficient is its explanation.
#
# Two choices are the user's, not the model's, and this chapter measures both:
#
# 1. **the segmentation**: the explanation can only ever be as fine as the superpixels. We compare
#    three algorithms from scikit-image: Felzenszwalb's graph-based segmentation
#    {cite}`felzenszwalb2004efficient`, Quickshift {cite}`vedaldi2008quick` (LIME's default) and
#    SLIC {cite}`achanta2012slic`;
# 2. **the number of samples** `num_samples`: the surrogate is fitted to random perturbations, so
#    with too few the coefficients are noise.
#
# Cost: `num_samples` forward passes per image and class, no backward pass; the network is called
# through a *batched* prediction function (`xaihelpers.explainers.lime_predict_fn`), which takes
# LIME's `(N, H, W, 3)` arrays, uint8 or float, and returns probabilities.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability of single predictions; comparing architectures |
# | **Who** | model users, model developers |
# | **What** | superpixel importances from a local linear surrogate |
# | **How** | perturbation of superpixels; three segmentations; sample counts |
# | **When** | after training |
# | **Where** | the three CIFAR-10 CNNs (any model that outputs probabilities) |

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("cifar10/test")

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from skimage.segmentation import mark_boundaries

from xaihelpers import attribution, cifar, evaluation, explainers, plotting, repro

repro.seed_everything()
device = torch.device("cpu")
comparison = cifar.compare_models()  # the committed checkpoints; CIFAR-10 test set from $XAI_DATA_ROOT
models, classes = comparison.models, comparison.test.classes
images = comparison.example_images()
print(f"device: {device}; test images: {len(comparison.test)}; architectures: {', '.join(models)}")
print(comparison.accuracy_table()[["design", "test accuracy"]].to_string())

# %% [markdown]
# The five fixed test images of the CIFAR chapters (chosen by rule in the callbacks chapter):
# two that all networks classify correctly, one they all get wrong, two on which they disagree.

# %%
print(comparison.example_table().to_string())

# %% [markdown]
# ## Three segmentations of the same images
#
# At 32x32 pixels a superpixel is a handful of pixels. The settings (in
# `explainers.SEGMENTATIONS`) give a few tens of segments per image; Felzenszwalb follows colour
# edges and makes segments of very different sizes, Quickshift's count varies most with the
# image's texture, SLIC makes compact, similar-sized cells.

# %%
segmenters = {name: make() for name, make in explainers.SEGMENTATIONS.items()}
pictures = images.permute(0, 2, 3, 1).double().numpy()
panels, titles, counts = [], [], {}
for name, segment in segmenters.items():
    counts[name] = []
    for picture in pictures:
        segments = segment(picture)
        counts[name].append(len(np.unique(segments)))
        panels.append(mark_boundaries(picture, segments, color=(1, 1, 0)))
        titles.append(f"{name}: {counts[name][-1]}")
print(pd.DataFrame(counts, index=pd.Index(comparison.example_index, name="test index")).T.to_string())
plotting.image_grid(panels, titles, ncols=5, size=2.0)
plt.show()

# %% [markdown]
# ## LIME for every architecture and segmentation
#
# Each network explains **its own** predicted class (so on the images where they disagree, each
# explains a different decision). 500 samples per explanation, a fixed random state. Red: the
# superpixel raises the probability of the class; blue: it lowers it.

# %%
num_samples = 500
predicted = {arch: comparison.predictions[arch][comparison.example_index] for arch in models}
lime = {}
for arch, model in models.items():
    for name in segmenters:
        lime[arch, name] = explainers.lime_maps(model, images, predicted[arch], num_samples=num_samples,
                                                segmentation=explainers.SEGMENTATIONS[name](), batch_size=100)

for arch in models:
    panels = list(images)
    titles = [f"#{i}, true {classes[comparison.test.labels[i]]}" for i in comparison.example_index]
    for name in segmenters:
        scaled = attribution.signed_scale(lime[arch, name], 100)
        for index, signed in enumerate(scaled):
            panels.append(plotting.signed_rgb(signed))
            titles.append(f"{name}: {classes[predicted[arch][index]]}")
    plotting.image_grid(panels, titles, ncols=5, size=1.9, suptitle=f"LIME, {arch}")
    plt.show()

# %% [markdown]
# ## How much do the explanations agree?
#
# We compare maps by the Spearman rank correlation of their pixels' absolute values (how much a
# pixel matters, whatever the sign; `evaluation.spearman_per_image`), per image, then average over
# the five images: first the three segmentations for the same network, then the three networks
# for the same segmentation. A correlation of 1 means the same ranking of pixels.

# %%
def mean_spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    return evaluation.spearman_per_image(a, b).mean().item()


names = list(segmenters)
pairs = [(names[i], names[j]) for i in range(3) for j in range(i + 1, 3)]
across_segmentations = pd.DataFrame({arch: {f"{a} vs {b}": mean_spearman(lime[arch, a], lime[arch, b])
                                            for a, b in pairs} for arch in models}).round(2)
print("same network, different segmentations:")
print(across_segmentations.to_string())
archs = list(models)
model_pairs = [(archs[i], archs[j]) for i in range(3) for j in range(i + 1, 3)]
agree = torch.stack([predicted[a] == predicted[b] for a, b in model_pairs])
across_models = pd.DataFrame({name: {f"{a} vs {b}": mean_spearman(lime[a, name], lime[b, name])
                                     for a, b in model_pairs} for name in segmenters}).round(2)
print("\nsame segmentation, different networks (all five images):")
print(across_models.to_string())

# %% [markdown]
# The segmentation changes LIME's answer for one and the same network *more* than the architecture
# does: two segmentations of the same network's explanation barely correlate, while two networks
# explained with the same segmentation agree moderately. The superpixels are part of the
# explanation. Read a LIME map as "which of *these* regions matter", never as a pixel-level
# statement. Does agreement on the class mean agreement on the reasons?

# %%
rows = []
for (a, b), same in zip(model_pairs, agree):
    for name in segmenters:
        correlation = evaluation.spearman_per_image(lime[a, name], lime[b, name])
        rows.append({"pair": f"{a} vs {b}", "segmentation": name,
                     "same prediction": correlation[same].mean().item() if same.any() else float("nan"),
                     "different prediction": correlation[~same].mean().item() if (~same).any() else float("nan")})
print(pd.DataFrame(rows).groupby("segmentation")[["same prediction", "different prediction"]].mean().round(2).to_string())

# %% [markdown]
# With Quickshift and SLIC, networks that predict the same class get more similar maps than
# networks that disagree; with Felzenszwalb's irregular segments the difference vanishes. Five
# images are few: treat this as a pattern to test on more images (exercise 4), not a result.
#
# ## How many samples?
#
# LIME's coefficients are estimates from random perturbations. For the **gap** network and SLIC
# superpixels we explain the first three images with three different random states at each
# sample count, and report (a) how well the three runs agree with each other and (b) how well they
# agree with a reference run of 2,000 samples.

# %%
model, slic = models["gap"], explainers.SEGMENTATIONS["slic"]()
subset, target = images[:3], predicted["gap"][:3]
reference = explainers.lime_maps(model, subset, target, num_samples=2000, segmentation=slic, batch_size=200, seed=99)
rows = {}
for count in (50, 100, 300, 1000):
    runs = [explainers.lime_maps(model, subset, target, num_samples=count, segmentation=slic, batch_size=200, seed=seed)
            for seed in range(3)]
    rows[count] = {"between seeds": np.mean([mean_spearman(runs[i], runs[j]) for i in range(3) for j in range(i + 1, 3)]),
                   "with 2000-sample reference": np.mean([mean_spearman(run, reference) for run in runs])}
stability = pd.DataFrame(rows).T.rename_axis("num_samples").round(3)
print(stability.to_string())

# %% [markdown]
# With a few tens of superpixels, 50 samples give a rough ranking and a few hundred a stable one;
# LIME's default of 1,000 is a safe choice for images this small. More superpixels need more
# samples: the surrogate has one coefficient per superpixel to estimate.
#
# ## The prediction function and its batch size
#
# LIME hands the prediction function `batch_size` perturbed images at a time, as a NumPy array,
# channels last. The book's `lime_predict_fn` converts them to a tensor in the network's layout
# and runs the network in chunks of `training.images_per_pass` images (128 at 32 x 32 pixels:
# on a CPU larger chunks are slower per image). Beyond that, LIME's own `batch_size` hardly
# matters for networks this small (the timings below are measured each time the chapter runs, so
# they vary).

# %%
predict = explainers.lime_predict_fn(models["plain"])
probabilities = predict((pictures * 255).round().astype(np.uint8))
print(f"input {pictures.shape} uint8 -> output {probabilities.shape}; rows sum to 1: "
      f"{np.allclose(probabilities.sum(axis=1), 1)}")

# %%
# NBVAL_IGNORE_OUTPUT
for batch_size in (10, 100):
    start = time.perf_counter()
    explainers.lime_maps(models["plain"], images[:1], predicted["plain"][:1], num_samples=1000,
                         segmentation=slic, batch_size=batch_size)
    print(f"batch_size {batch_size:4d}: {time.perf_counter() - start:.2f} s for one explanation with 1000 samples")

# %% [markdown]
# ## Summary
#
# - LIME fits a local linear surrogate on superpixels switched on and off; it needs only forward
#   passes (`num_samples` per explanation) and a batched prediction function.
# - The segmentation is part of the explanation: Felzenszwalb, Quickshift and SLIC give maps that
#   agree only partly for the *same* network, often less than two *different* networks agree for
#   the same segmentation.
# - Networks that predict the same class tend to get more similar LIME maps than networks that
#   disagree (with Quickshift and SLIC superpixels); where the architectures disagree, LIME shows
#   them relying on different regions.
# - The surrogate's coefficients are random estimates; their ranking stabilises after a few
#   hundred samples for a few tens of superpixels. Always fix LIME's `random_state`.
#
# ## Exercises
#
# 1. Use LIME's "hide" colour: fill switched-off superpixels with black (`hide_color=0`) instead
#    of their mean colour. How do the maps of the three networks change?
# 2. Make SLIC's superpixels twice as many (`n_segments=50`). How many samples are needed now for
#    the same stability as above?
# 3. Explain the *second* most likely class of the all-wrong image. Which regions speak for it?
# 4. Compute deletion curves (chapter on evaluation) for the three segmentations. Which
#    segmentation gives the most faithful LIME maps for each network?
