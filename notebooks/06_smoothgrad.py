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
# # SmoothGrad: removing noise by adding noise
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/06_smoothgrad.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F06_smoothgrad.ipynb)
#
# The gradient of a ReLU network jumps from pixel to pixel: the score is piecewise linear, and
# tiny changes of the input switch units on and off. **SmoothGrad** {cite}`smilkov2017smoothgrad`
# averages the saliency map over $N$ copies of the image with Gaussian noise,
#
# $$
# \hat M_c(x) = \frac{1}{N} \sum_{n=1}^{N} M_c\big(x + \varepsilon_n\big), \qquad
# \varepsilon_n \sim \mathcal{N}(0, \sigma^2),
# $$
#
# where $\sigma$ is given as a fraction of the input range ($x_{\max} - x_{\min} = 1$ here).
# Cost: $N$ forward and backward passes per image; captum's `NoiseTunnel` around `Saliency`
# (wrapped as `xaihelpers.attribution.smoothgrad`),
# batched (`nt_samples_batch_size`).
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: a less noisy sensitivity map |
# | **Who** | model developers, learners |
# | **What** | gradients of the class score, averaged over noisy copies of the input |
# | **How** | a grid of noise level x number of samples; a stability table |
# | **When** | after training |
# | **Where** | any differentiable classifier; pollen CNN and ImageNet model |

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

ensure("pollen", "imagenet_samples")

# %%
import matplotlib.pyplot as plt
import torch

from xaihelpers import attribution, data, features, models, plotting, pollen, repro, training

repro.seed_everything()
device = torch.device("cpu")
pollen_model, _ = pollen.load_model()
pollen_test = pollen.load_split("test")  # from $XAI_DATA_ROOT
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}; pollen test images: {len(pollen_test.labels)}")



# %% [markdown]
# ## Noise level x number of samples
#
# One pollen test image; rows are noise levels $\sigma$, columns the number of samples $N$. The
# first column ($\sigma = 0$) is the plain saliency map.

# %%
pollen_images = training.to_float(pollen_test.images)
target = training.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
index = int((pollen_test.labels == 3).nonzero()[0])
image, label = pollen_images[index:index + 1], target[index:index + 1]
sigmas, counts = (0.05, 0.1, 0.2, 0.3), (5, 20, 50)
plain = attribution.smoothgrad(pollen_model, image, label, sigma=0.0, samples=1, seed=0)
panels, titles = [], []
for sigma in sigmas:
    panels.append(attribution.cap(plain)[0])
    titles.append("plain gradient")
    for count in counts:
        panels.append(attribution.cap(attribution.smoothgrad(pollen_model, image, label, sigma=sigma, samples=count, seed=0))[0])
        titles.append(f"sigma {sigma}, N {count}")
plotting.image_grid(panels, titles, ncols=1 + len(counts), size=2.0, cmap="gray",
                    suptitle=f"SmoothGrad on a {pollen_test.classes[pollen_test.labels[index]]} grain")
plt.show()

# %% [markdown]
# ## How stable is the map?
#
# "The map stabilises" can be measured: run SmoothGrad twice with different noise seeds and
# correlate the two maps. A plain gradient needs no seed (correlation 1) but is noisy; SmoothGrad
# with few samples depends on the draw; with enough samples two runs agree. We average over 10
# pollen test images.

# %%
stable_images, stable_targets = pollen_images[:10], target[:10]
print(f"{'sigma':>6s} " + " ".join(f"{'N=' + str(c):>7s}" for c in counts) + "   (corr between two seeds)")
stability = {}
for sigma in sigmas:
    row = []
    for count in counts:
        first = attribution.smoothgrad(pollen_model, stable_images, stable_targets, sigma=sigma, samples=count, seed=1)
        second = attribution.smoothgrad(pollen_model, stable_images, stable_targets, sigma=sigma, samples=count, seed=2)
        row.append(features.pearson_per_image(first, second).mean().item())
        stability[sigma, count] = row[-1]
    print(f"{sigma:6.2f} " + " ".join(f"{value:7.2f}" for value in row))

# %% [markdown]
# The chosen setting is the smallest number of samples at which two runs agree to a correlation
# of at least 0.9, at the noise level the SmoothGrad paper recommends (10 to 20 % of the input
# range, here 0.1 and 0.2).

# %%
chosen = next(((s, n) for n in counts for s in (0.1, 0.2) if stability[s, n] >= 0.9), (0.2, counts[-1]))
print(f"chosen setting: sigma = {chosen[0]}, N = {chosen[1]} "
      f"({chosen[1]} forward and backward passes per image)")

# %% [markdown]
# ## ImageNet
#
# The same grid on an ImageNet image, smaller because every pass of the ImageNet model costs
# about a hundred times more than one of the pollen CNN.

# %%
picture = imagenet[340][0][None]  # a zebra
picture_target = training.predict_proba(classifier.model, picture).argmax(dim=1)
print("predicted:", classifier.class_names[picture_target[0]])
panels = [classifier.to_display(picture[0]), attribution.cap(attribution.smoothgrad(classifier.model, picture, picture_target, sigma=0.0, samples=1))[0]]
titles = ["image", "plain gradient"]
for sigma in (0.1, 0.2):
    for count in (5, 25):
        panels.append(attribution.cap(attribution.smoothgrad(classifier.model, picture, picture_target, sigma=sigma, samples=count))[0])
        titles.append(f"sigma {sigma}, N {count}")
plotting.image_grid(panels, titles, ncols=6, size=2.2, cmap="gray")
plt.show()

# %% [markdown]
# ## Summary
#
# - SmoothGrad averages saliency maps of noisy copies of the image; it costs $N$ passes per image.
# - Without noise it is exactly the plain gradient (a unit test checks this); with little noise it
#   barely changes it; with too much noise the map blurs into the grain's outline.
# - Stability between two random seeds rises with $N$; the printed table picks the setting the
#   later chapters use, on evidence rather than by habit.
# - SmoothGrad reduces noise but inherits what the gradient measures: local sensitivity.
#
# ## Exercises
#
# 1. Use `nt_type="smoothgrad_sq"` (average of squared gradients). How do the maps differ?
# 2. Wrap `GuidedBackprop` instead of `Saliency` in the `NoiseTunnel`. Is the noise reduction
#    still visible?
# 3. Plot the stability against the compute cost ($N$) for each $\sigma$. Where is the knee?
