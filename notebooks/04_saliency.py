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
# # Saliency maps: the gradient of the class score
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/04_saliency.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F04_saliency.ipynb)
#
# The simplest attribution asks: which pixels, changed a little, would change the class score
# most? That is the gradient of the score $S_c$ with respect to the input image $x$
# {cite}`simonyan2013deep`,
#
# $$
# w = \frac{\partial S_c}{\partial x}\bigg|_{x_0}, \qquad
# M_{ij} = \max_{k} |w_{k,i,j}| ,
# $$
#
# where the saliency map $M$ takes, for each pixel, the largest absolute gradient over the colour
# channels $k$. One forward and one backward pass; captum's `Saliency`.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: which pixels the score is most sensitive to |
# | **Who** | model developers, learners |
# | **What** | the gradient of a class score with respect to the input |
# | **How** | signed and absolute gradient maps, capped for display, overlays |
# | **When** | after training |
# | **Where** | any differentiable classifier; here the pollen CNN and the ImageNet model |

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
from captum.attr import Saliency

from xaihelpers import attribution, data, models, plotting, pollen, repro, training

repro.seed_everything()
device = torch.device("cpu")
pollen_model, _ = pollen.load_model()
pollen_test = pollen.load_split("test")  # from $XAI_DATA_ROOT
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}; pollen test images: {len(pollen_test.labels)}")

# %% [markdown]
# ## Pollen: correct and wrong predictions
#
# We take the first three correctly and the first three wrongly classified test images. For each:
# the image, the signed gradient summed over channels (red raises the score, blue lowers it), the
# saliency map $M$, and $M$ capped at its 99th percentile, because a handful of very large
# gradients would otherwise leave the rest of the map black.

# %%
pollen_images = training.to_float(pollen_test.images)
pollen_predicted = training.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
pollen_correct = pollen_predicted == pollen_test.labels
pollen_pick = (torch.nonzero(pollen_correct).flatten()[:3].tolist()
               + torch.nonzero(~pollen_correct).flatten()[:3].tolist())
batch = pollen_images[pollen_pick]
gradients = Saliency(pollen_model).attribute(batch.clone().requires_grad_(), target=pollen_predicted[pollen_pick], abs=False)
saliency = attribution.channel_reduce(gradients, "max_abs")
panels, titles = [], []
for position, index in enumerate(pollen_pick):
    label = "ok" if pollen_correct[index] else f"true {pollen_test.classes[pollen_test.labels[index]]}"
    signed = attribution.signed_scale(gradients[position:position + 1].sum(dim=1))[0]
    panels += [batch[position], plotting.colormaps[plotting.SIGNED_CMAP]((signed + 1) / 2)[..., :3],
               saliency[position], attribution.cap(saliency[position:position + 1])[0]]
    titles += [f"{pollen_test.classes[pollen_predicted[index]]} ({label})", "signed gradient",
               "saliency |max|", "capped at p99"]
plotting.image_grid(panels, titles, ncols=4, size=2.2, cmap="gray")
plt.show()

# %% [markdown]
# Does the model look at the grain? We segment the grain from the bright background (Otsu's
# threshold, `pollen.grain_mask`) and compare the share of saliency that falls on the grain with
# the share of the image the grain covers, over the whole test set. A ratio above 1 means the
# gradient concentrates on the grain.

# %%
all_gradients = Saliency(pollen_model).attribute(pollen_images.clone().requires_grad_(), target=pollen_predicted)
all_saliency = attribution.channel_reduce(all_gradients, "max_abs")
masks = pollen.grain_mask(pollen_test.images)
on_grain = (all_saliency * masks).flatten(1).sum(1) / all_saliency.flatten(1).sum(1)
area = masks.flatten(1).float().mean(1)
for name, selection in (("correct", pollen_correct), ("wrong", ~pollen_correct)):
    print(f"{name:8s} images: {int(selection.sum()):3d}; saliency on the grain {on_grain[selection].mean():.2f}, "
          f"grain area {area[selection].mean():.2f}, ratio {(on_grain / area)[selection].mean():.2f}")

# %% [markdown]
# ## ImageNet: correct and wrong predictions

# %%
subset = list(range(0, 1000, 10))
images = torch.stack([imagenet[i][0] for i in subset])
labels = torch.tensor([imagenet.targets[i] for i in subset])
predicted = training.predict_proba(classifier.model, images).argmax(dim=1)
correct = predicted == labels
pick = torch.nonzero(correct).flatten()[:2].tolist() + torch.nonzero(~correct).flatten()[:2].tolist()
batch = images[pick]
gradients = Saliency(classifier.model).attribute(batch.clone().requires_grad_(), target=predicted[pick], abs=False)
saliency = attribution.cap(attribution.channel_reduce(gradients, "max_abs"))
panels, titles = [], []
for position, index in enumerate(pick):
    shown = classifier.to_display(batch[position])
    panels += [shown, saliency[position], plotting.overlay(shown, saliency[position], alpha=0.6)]
    verdict = "ok" if correct[index] else f"true: {classifier.class_names[labels[index]]}"
    titles += [f"{classifier.class_names[predicted[index]]} ({verdict})", "saliency (capped)", "overlay"]
plotting.image_grid(panels, titles, ncols=3, size=2.6, cmap="gray")
plt.show()
for index in pick:
    print(f"{'correct' if correct[index] else 'wrong  '}: predicted {classifier.class_names[predicted[index]]}, "
          f"true {classifier.class_names[labels[index]]}")

# %% [markdown]
# The gradient is *local*: it says how the score changes for an infinitesimal change of each
# pixel, not how much each pixel contributed. It is also noisy: neighbouring pixels can have
# gradients of opposite sign, which is why the signed map looks like salt and pepper and why the
# absolute value and the cap are needed to see structure. The next chapters deal with that noise
# (guided backpropagation, SmoothGrad) and with the locality (Integrated Gradients).
#
# ## Summary
#
# - A saliency map is the gradient of the class score with respect to the input, reduced over
#   colour channels by the maximum absolute value; it costs one backward pass.
# - Capping at a high percentile is needed for display: a few pixels carry most of the gradient.
# - On the pollen test set the share of saliency on the grain is only a little larger than the
#   grain's share of the image (the printed ratio is close to 1), for correct and wrong
#   predictions alike: the gradient is spread over grain and background, so a saliency map alone
#   cannot tell a right decision from a wrong one here.
# - Gradients are noisy and local; they show sensitivity, not contribution.
#
# ## Exercises
#
# 1. Replace the maximum over channels by the sum of absolute values (`channel_reduce(..., "abs_sum")`).
#    Do the maps change much?
# 2. Compute the saliency of the *true* class for the wrong pollen predictions. Does the map move?
# 3. Add a small amount of noise to one image and recompute its saliency map. How stable is it?
#    (SmoothGrad builds on this observation.)
