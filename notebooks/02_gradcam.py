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
# # Grad-CAM: where the evidence for a class is
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/02_gradcam.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F02_gradcam.ipynb)
#
# Feature maps (previous chapter) say what a layer detects, not which of it mattered for a
# decision. **Grad-CAM** {cite}`selvaraju2017gradcam` weighs the feature maps $A^k$ of a
# convolutional layer by how much the score $y^c$ of class $c$ rises with each of them,
#
# $$
# \alpha_k^c = \frac{1}{Z}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}}, \qquad
# L^c_{\text{Grad-CAM}} = \operatorname{ReLU}\Big(\sum_k \alpha_k^c A^k\Big),
# $$
#
# a generalisation of class activation maps {cite}`zhou2016cam` to any CNN. The map has the
# layer's resolution and is upsampled to the image. We use captum's `LayerGradCam`
# {cite}`kokhlikyan2020captum`; one forward and one backward pass per image batch.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability and debugging: which region a prediction rests on, right or wrong |
# | **Who** | model developers, users checking a single decision, learners |
# | **What** | activations of a convolutional layer, weighted by the class score's gradients |
# | **How** | heat maps overlaid on the input; per-class and per-layer grids |
# | **When** | after training |
# | **Where** | CNNs (any layer with spatial feature maps); here the book's ImageNet model |

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

ensure("imagenet_samples")

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from xaihelpers import data, features, models, plotting, repro, training
from xaihelpers.gradcam import grad_cam, grad_cam_layers

repro.seed_everything()
device = repro.best_device()
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
model = classifier.model
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}; Grad-CAM layer: {classifier.target_layer}")

# %% [markdown]
# ## Predictions on a fixed set of images
#
# We classify 100 sample images (every tenth ImageNet class) and keep the first four correct and
# the first two wrong predictions.

# %%
subset = list(range(0, 1000, 10))
images = torch.stack([imagenet[i][0] for i in subset]).to(device)
labels = torch.tensor([imagenet.targets[i] for i in subset], device=device)
# 20 images per pass keep the kernel's memory small; the probabilities are the same.
probabilities = training.predict_proba(model, images, device=device).to(device)
top5 = probabilities.topk(5, dim=1).indices
correct = top5[:, 0] == labels
print(f"top-1 accuracy on these {len(subset)} images: {correct.float().mean():.2f}; "
      f"top-5: {(top5 == labels[:, None]).any(dim=1).float().mean():.2f}")
right = torch.nonzero(correct).flatten()[:4].tolist()
wrong = torch.nonzero(~correct).flatten()[:2].tolist()
chosen = right + wrong
for index in chosen:
    ranked = ", ".join(f"{classifier.class_names[c]} {probabilities[index, c]:.2f}" for c in top5[index, :3].tolist())
    status = "correct" if correct[index] else "WRONG  "
    print(f"{status} true: {classifier.class_names[labels[index]]:24s} top-3: {ranked}")

# %% [markdown]
# ## Grad-CAM of the predicted class
#
# For each chosen image: the image, and Grad-CAM at the last convolutional stage for the
# predicted class (red = strong evidence, blue = none).

# %%
batch = images[chosen]
predicted = top5[chosen, 0]
maps = grad_cam(model, classifier.target_layer, batch, predicted)
print("Grad-CAM maps:", tuple(maps.shape), "values in", [round(float(maps.min()), 2), round(float(maps.max()), 2)])
panels, titles = [], []
for position, index in enumerate(chosen):
    picture = classifier.to_display(batch[position])
    panels += [picture, plotting.overlay(picture, maps[position].cpu())]
    titles += [f"true: {classifier.class_names[labels[index]]}",
               f"pred: {classifier.class_names[predicted[position]]}"]
plotting.image_grid(panels, titles, ncols=4, size=2.6)
plt.show()

# %% [markdown]
# ## Wrong predictions: evidence for the predicted and for the true class
#
# For a misclassified image, the map of the predicted class shows what misled the model; the map
# of the true class shows whether the model saw the right object at all.

# %%
panels, titles = [], []
for index in wrong:
    picture = images[index:index + 1]
    for name, target in (("predicted", top5[index, 0]), ("true", labels[index])):
        heat = grad_cam(model, classifier.target_layer, picture, int(target))[0]
        panels.append(plotting.overlay(classifier.to_display(picture[0]), heat.cpu()))
        titles.append(f"{name}: {classifier.class_names[target]}")
plotting.image_grid(panels, titles, ncols=4, size=2.6)
plt.show()

# %% [markdown]
# ## Top-k classes: is the map class-discriminative?
#
# An explanation should change with the class it explains. For the first image we draw the maps of
# its top-3 classes; then, over all six images, we correlate the map of the top class with the
# maps of the classes ranked 2, 3, 10 and 100. The top few classes of an image are usually related
# (three kinds of fish, three finches), so we expect them to rest on the same object; a class far
# down the ranking should rest elsewhere.

# %%
first = chosen[0]
panels, titles = [classifier.to_display(images[first])], [classifier.class_names[labels[first]]]
for rank in range(3):
    heat = grad_cam(model, classifier.target_layer, images[first:first + 1], int(top5[first, rank]))[0]
    panels.append(plotting.overlay(classifier.to_display(images[first]), heat.cpu()))
    titles.append(f"#{rank + 1} {classifier.class_names[top5[first, rank]]}")
plotting.image_grid(panels, titles, ncols=4, size=2.6)
plt.show()

ranking = probabilities[chosen].argsort(dim=1, descending=True)
top_map = grad_cam(model, classifier.target_layer, batch, ranking[:, 0])
for rank in (2, 3, 10, 100):
    other = grad_cam(model, classifier.target_layer, batch, ranking[:, rank - 1])
    similarity = features.pearson_per_image(top_map, other)
    print(f"corr(map of class #1, map of class #{rank:3d}): median {similarity.median():5.2f} "
          f"over {len(chosen)} images")

# %% [markdown]
# ## Grad-CAM layer by layer
#
# Grad-CAM can be computed at any convolutional layer. Forward hooks record the activations and
# gradients of every stage and every block in *one* forward and backward pass
# (`xaihelpers.gradcam.grad_cam_layers`); first we check it agrees with captum's `LayerGradCam`.

# %%
layers = classifier.layers_by_depth()
layer_maps = grad_cam_layers(model, layers, batch, predicted)
reference = grad_cam(model, classifier.target_layer, batch, predicted)
print("one-pass maps equal captum's at the last stage:",
      torch.allclose(layer_maps[classifier.target_layer], reference, atol=1e-5))

# %%
stage_names = {layer: stage for stage, layer in classifier.conv_stages.items()}
rows, row_titles = [], []
for position in range(3):
    picture = classifier.to_display(batch[position])
    for layer in classifier.conv_stages.values():
        rows.append(plotting.overlay(picture, layer_maps[layer][position].cpu()))
        row_titles.append(stage_names[layer])
plotting.image_grid(rows, row_titles, ncols=len(classifier.conv_stages), size=1.9)
plt.show()

# %% [markdown]
# How do the maps change with depth? For every layer: its resolution, how *concentrated* the map
# is (share of the map's total mass in its top 10 % of pixels; 0.10 would be a flat map), and its
# correlation with the last stage's map (median over the six images).

# %%
final = layer_maps[classifier.target_layer]
native = grad_cam_layers(model, layers, batch[:1], predicted[:1], upsample=False)
print(f"{'layer':18s} {'map size':>8s} {'top-10% mass':>12s} {'corr with last':>14s}")
for layer in layers:
    heat = layer_maps[layer]
    flat = heat.flatten(1)
    top = flat.topk(flat.shape[1] // 10, dim=1).values.sum(dim=1) / flat.sum(dim=1).clamp_min(1e-12)
    size = native[layer].shape[-1]
    print(f"{stage_names.get(layer, layer.replace('net.', '')):18s} {size:5d}x{size:<3d}"
          f" {top.median():12.2f} {features.pearson_per_image(heat, final).median():14.2f}")

# %% [markdown]
# Read the table from the bottom. The last block and the head give the *same* map (correlation
# 1.00), and that is exact, not a coincidence: the head is a $1 \times 1$ convolution, a linear
# map $A = WB$ of the block's output $B$, and since $\partial y / \partial B = W^\top
# \partial y / \partial A$, the Grad-CAM sums $\sum_k \alpha_k A_k$ and $\sum_j \beta_j B_j$
# agree term by term. Above the last stage, the maps barely correlate with the final one (values
# near 0, some negative): at those depths the channel weights $\alpha_k$, averaged over the whole
# map, mix features of the object and of the background, and the resulting maps are speckled
# (a larger share of their mass sits in few pixels) rather than localising the class. Grad-CAM's
# class-discriminative localisation is a property of the deepest layers, which is why the last
# stage is the usual choice, at the price of its $7 \times 7$ resolution. Whether any of these
# maps is *faithful* to the model is a separate question, which the evaluation chapter measures
# {cite}`adebayo2018sanity`.
#
# ## Summary
#
# - Grad-CAM weighs a layer's feature maps by the gradient of one class score; it costs one
#   forward and one backward pass and needs no change to the model.
# - Maps of closely related classes (the top few of an image) cover the same object; a class far
#   down the ranking gets a clearly different map, as the printed correlations show.
# - For wrong predictions, comparing the maps of the predicted and the true class shows whether
#   the model missed the object or saw it and was outvoted by a similar class.
# - Layer by layer, only the deepest stage gives class-specific localisation; a linear
#   $1 \times 1$ convolution on top of it leaves the map unchanged, and earlier stages give
#   speckled maps that do not agree with it.
#
# ## Exercises
#
# 1. Explain the *second* most likely class of each wrong prediction. Does its map overlap with
#    the true object?
# 2. Run the chapter with `XAI_IMAGENET_MODEL=resnet50` (online). Its last stage is also
#    $7 \times 7$: are the maps of the two models alike?
# 3. Grad-CAM takes the ReLU of the weighted sum. Compute the map without it
#    (`LayerGradCam(...).attribute(..., relu_attributions=False)`): what do the negative regions
#    show?
# 4. Replace the spatial mean of the gradients by their spatial maximum. Is the map still
#    class-discriminative?
