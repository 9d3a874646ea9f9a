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
# # Guided backpropagation: sharp pictures, weak evidence
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/05_guided_backprop.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F05_guided_backprop.ipynb)
#
# Vanilla saliency maps are noisy. **Guided backpropagation** {cite}`springenberg2014striving`
# changes one rule of the backward pass: at every ReLU, a gradient passes only where the forward
# input was positive (the ordinary ReLU derivative) *and* the gradient arriving from above is
# positive,
#
# $$
# R^{(l)} = \mathbb{1}\big[x^{(l)} > 0\big] \cdot \mathbb{1}\big[R^{(l+1)} > 0\big] \cdot R^{(l+1)} .
# $$
#
# The result looks much crisper than the gradient. This chapter shows both side by side, then
# checks what the crispness is made of. Cost: one forward and one backward pass (captum's
# `GuidedBackprop`).
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability, and a lesson in checking an explanation |
# | **Who** | learners, model developers |
# | **What** | a modified gradient of the class score with respect to the input |
# | **How** | attribution maps beside vanilla saliency; similarity measurements |
# | **When** | after training |
# | **Where** | ReLU networks (ReLU6 too, with the book's helper); pollen CNN and ImageNet model |

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
import copy
import warnings

import matplotlib.pyplot as plt
import torch
from captum.attr import GuidedBackprop, Saliency

from xaihelpers import attribution, data, evaluation, features, models, plotting, pollen, repro, training

repro.seed_everything()
# captum announces each time that it hooks the ReLUs; that is what guided backprop is, not a problem.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
device = torch.device("cpu")
pollen_model, _ = pollen.load_model()
pollen_test = pollen.load_split("test")  # from $XAI_DATA_ROOT
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}; pollen test images: {len(pollen_test.labels)}")

# %% [markdown]
# captum's `GuidedBackprop` overrides the gradient of `nn.ReLU` modules only. EfficientNet-Lite0
# uses ReLU6, which captum would silently leave unguided (the result would be the plain
# gradient); `attribution.guided_backprop_ready` returns a copy of the model whose ReLU6 modules
# captum recognises. For ResNet-50 and the pollen CNN the copy is identical to the original.

# %%
imagenet_guided_model = attribution.guided_backprop_ready(classifier.model)
check = torch.rand(2, 3, 224, 224)
with torch.no_grad():
    print("same outputs after the swap:",
          torch.allclose(classifier.model(check), imagenet_guided_model(check), atol=1e-5))


def explain_both(model, guided_model, batch, target):
    """Vanilla saliency and guided backprop of the same images, reduced to (N, H, W)."""
    vanilla = Saliency(model).attribute(batch.clone().requires_grad_(), target=target)
    guided = GuidedBackprop(guided_model).attribute(batch.clone().requires_grad_(), target=target)
    return attribution.channel_reduce(vanilla, "max_abs"), attribution.channel_reduce(guided, "max_abs")


# %% [markdown]
# ## Side by side: pollen

# %%
pollen_images = training.to_float(pollen_test.images)
pollen_predicted = training.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
pollen_pick = [int((pollen_test.labels == c).nonzero()[0]) for c in (0, 5, 10, 15)]
vanilla, guided = explain_both(pollen_model, pollen_model, pollen_images[pollen_pick], pollen_predicted[pollen_pick])
panels, titles = [], []
for position, index in enumerate(pollen_pick):
    panels += [pollen_images[index], attribution.cap(vanilla[position:position + 1])[0],
               attribution.cap(guided[position:position + 1])[0]]
    titles += [pollen_test.classes[pollen_predicted[index]], "saliency", "guided backprop"]
plotting.image_grid(panels, titles, ncols=6, size=2.0, cmap="gray")
plt.show()

# %% [markdown]
# ## Side by side: ImageNet

# %%
picks = [1, 22, 281, 340]
images = torch.stack([imagenet[i][0] for i in picks])
predicted = training.predict_proba(classifier.model, images).argmax(dim=1)
vanilla, guided = explain_both(classifier.model, imagenet_guided_model, images, predicted)
panels, titles = [], []
for position in range(len(picks)):
    panels += [classifier.to_display(images[position]), attribution.cap(vanilla[position:position + 1])[0],
               attribution.cap(guided[position:position + 1])[0]]
    titles += [classifier.class_names[predicted[position]], "saliency", "guided backprop"]
plotting.image_grid(panels, titles, ncols=6, size=2.0, cmap="gray")
plt.show()

# %% [markdown]
# ## What the crispness is made of
#
# Guided backprop maps look like edge drawings of the image. Two quick checks tell whether they
# explain the *model's decision* or mostly reconstruct the *image*:
#
# 1. **Class sensitivity.** Explain the top class and a *far* class: the one ranked 100th for the
#    ImageNet model, the last of the 23 for the pollen CNN. An explanation of a decision should
#    change with the class.
# 2. **Model sensitivity.** Re-initialise the last layer (the classifier) with random weights, so
#    the "model" no longer knows any class, and explain again. An explanation of the model should
#    change completely.
#
# We report the Pearson correlation between the original map and the changed one (1 = unchanged),
# median over the images, for the gradient and for guided backprop.

# %%
def randomized_head(model: torch.nn.Module, head: str) -> torch.nn.Module:
    """A copy of ``model`` whose layer ``head`` has freshly initialised weights."""
    changed = copy.deepcopy(model)
    evaluation.randomize(changed.get_submodule(head), seed=1)
    return changed


def sensitivity(model, guided_model, batch, head):
    ranking = training.predict_proba(model, batch).argsort(dim=1, descending=True)
    top, far = ranking[:, 0], ranking[:, min(99, ranking.shape[1] - 1)]
    original = explain_both(model, guided_model, batch, top)
    other_class = explain_both(model, guided_model, batch, far)
    random_model = randomized_head(model, head)
    random_guided = attribution.guided_backprop_ready(random_model)
    random_maps = explain_both(random_model, random_guided, batch, top)
    rows = {}
    for name, position in (("saliency", 0), ("guided backprop", 1)):
        rows[name] = (features.pearson_per_image(original[position], other_class[position]).median().item(),
                      features.pearson_per_image(original[position], random_maps[position]).median().item())
    return rows


pollen_rows = sensitivity(pollen_model, pollen_model, pollen_images[:40], "classifier")
imagenet_rows = sensitivity(classifier.model, imagenet_guided_model, images, classifier.head_layer)
print(f"{'model':9s} {'method':16s} {'corr: class #1 vs far':>23s} {'corr: trained vs random head':>29s}")
for model_name, rows in (("pollen", pollen_rows), ("ImageNet", imagenet_rows)):
    for method, (class_corr, model_corr) in rows.items():
        print(f"{model_name:9s} {method:16s} {class_corr:23.2f} {model_corr:29.2f}")

# %% [markdown]
# Guided backprop's maps barely change when the class changes or when the classifier layer is
# replaced by random weights: most of what they show is decided by the image and the lower layers
# (the positive-gradient rule discards the information that would distinguish classes), a finding
# of Adebayo et al. {cite}`adebayo2018sanity` and of Nie et al. {cite}`nie2018theoretical`, who
# showed that guided backpropagation essentially performs a partial image recovery. The plain gradient is noisier but
# moves with both. A good-looking explanation is not a faithful one; the evaluation chapter runs
# the full cascading-randomisation sanity check for every method of the book.
#
# ## Summary
#
# - Guided backprop lets a gradient through a ReLU only where both the forward input and the
#   backward signal are positive; the maps are sharp, edge-like images.
# - With ReLU6 networks captum needs the book's helper, or it silently returns the plain gradient.
# - The printed correlations show guided backprop is far less sensitive to the explained class and
#   to the model's last layer than the plain gradient: it looks good while largely ignoring the
#   part of the model that makes the decision.
#
# ## Exercises
#
# 1. Randomise a deeper part of the model too (for the pollen CNN, `features.3`). How do the
#    correlations change for each method?
# 2. Implement *deconvnet* (captum's `Deconvolution`) and add it to the table.
# 3. Explain a pure noise image with guided backprop. What do you see, and what does that say?
