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
# # Filters and feature maps
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/01_filters_feature_maps.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F01_filters_feature_maps.ipynb)
#
# Before asking *why* a network made a decision, look at *what it computes*. A convolutional
# network is a stack of filters; each layer turns the image into a set of **feature maps**, one
# per filter, that say where in the image that filter's pattern occurs. This chapter opens up a
# pretrained ImageNet classifier: its first-layer filters, its feature maps at several depths,
# and a measurement of what each depth responds to {cite}`zeiler2014visualizing,yosinski2014transferable`.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability and teaching: see what a trained CNN has learned to detect |
# | **Who** | learners and model developers |
# | **What** | first-layer weights; activations (feature maps) of inner layers |
# | **How** | filter grids, feature-map grids, activation maps overlaid on the input |
# | **When** | after training |
# | **Where** | any CNN; here the book's pretrained ImageNet model |

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
import torch.nn.functional as F

from xaihelpers import data, features, hooks, models, plotting, repro
from xaihelpers.hooks import LayerRecorder

repro.seed_everything()
device = repro.best_device()
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
model = classifier.model
print(classifier.describe())
print(f"device: {device}; ImageNet sample images: {len(imagenet)}")

# %% [markdown]
# The model takes images with pixel values in $[0, 1]$; its input normalisation is its first
# layer, so everything we show lives in pixel space. Its convolutional **stages** (groups of
# layers that share a resolution) are listed by the helper:

# %%
for stage, layer in classifier.conv_stages.items():
    print(f"{stage:8s} -> {layer}")

# %% [markdown]
# ## First-layer filters
#
# The first convolution sees raw pixels, so its weights can be drawn as tiny RGB images. Each
# filter is scaled on its own to $[0, 1]$: grey means "no preference", colours show which
# channel the filter adds or subtracts, stripes show the orientation of the edges it detects.

# %%
conv_name, conv = features.first_conv(model)
weights = conv.weight.detach().cpu()
print(f"{conv_name}: {weights.shape[0]} filters of size "
      f"{weights.shape[1]}x{weights.shape[2]}x{weights.shape[3]}, stride {conv.stride[0]}")
plotting.filter_grid(weights, ncols=16)
plt.show()

# %% [markdown]
# A filter that weighs red, green and blue alike responds to brightness edges; one that weighs
# them differently responds to colour contrast. The *colour opponency* below is the share of a
# filter's energy that differs between the channels (0 = pure luminance filter).

# %%
opponency = features.colour_opponency(weights)
colour_filters = int((opponency > 0.5).sum())
print(f"luminance filters (opponency < 0.5): {weights.shape[0] - colour_filters}, "
      f"colour-opponent filters: {colour_filters}")
print("opponency quartiles:", np.round(np.quantile(opponency.numpy(), [0.25, 0.5, 0.75]), 2))

# %% [markdown]
# ## Feature maps at several depths
#
# We take eight images of the mirror (one ImageNet class each; the sample set is sorted by class
# index, so image $i$ shows class $i$), record the output of every stage with forward hooks, and
# look at the strongest channels of each depth for one image.

# %%
chosen_classes = [1, 22, 281, 340, 417, 430, 817, 948]
images = torch.stack([imagenet[i][0] for i in chosen_classes])
print("images:", [classifier.class_names[i] for i in chosen_classes])
stage_layers = list(classifier.conv_stages.values())
with torch.no_grad(), LayerRecorder(model, stage_layers) as recorder:
    logits = model(images.to(device))
print("top-1 correct:", int((logits.argmax(1).cpu() == torch.tensor(chosen_classes)).sum()), "of", len(chosen_classes))
for stage, layer in classifier.conv_stages.items():
    channels, height, width = recorder.activations[layer].shape[1:]
    print(f"{stage:8s} {channels:5d} channels x {height:3d} x {width:3d}  "
          f"(one map cell covers {224 // height} x {224 // width} input pixels)")

# %%
image_index = 2  # the tabby cat
all_stages = list(classifier.conv_stages)
shown_stages = [all_stages[i] for i in np.linspace(0, len(all_stages) - 1, 4).round().astype(int)]
panels, titles = [classifier.to_display(images[image_index])], ["input"]
for stage in shown_stages:
    activation = recorder.activations[classifier.conv_stages[stage]][image_index]
    for channel in features.strongest_channels(activation[None], 3)[0].tolist():
        panels.append(activation[channel].cpu())
        titles.append(f"{stage} ch {channel}")
plotting.image_grid(panels[1:], titles[1:], ncols=6, size=2.0,
                    suptitle="Strongest channels by depth (tabby cat)")
plt.show()

# %% [markdown]
# ## Activation maps: where each depth is active
#
# Averaging the absolute activation over all channels gives one **activation map** per depth.
# Upsampled to the input and overlaid, it shows where the layer "sees something".

# %%
rows, row_titles = [], []
for index in range(4):
    rows.append(classifier.to_display(images[index]))
    row_titles.append(classifier.class_names[chosen_classes[index]])
    for stage in shown_stages:
        activation = features.activation_map(recorder.activations[classifier.conv_stages[stage]][index:index + 1])
        heat = F.interpolate(activation[None], size=(224, 224), mode="bilinear")[0, 0]
        rows.append(plotting.overlay(classifier.to_display(images[index]), plotting.rescale(heat.cpu())))
        row_titles.append(stage)
plotting.image_grid(rows, row_titles, ncols=1 + len(shown_stages), size=2.0)
plt.show()

# %% [markdown]
# ## What each depth responds to, measured
#
# The pictures suggest that shallow layers trace edges while deep layers light up on the object.
# We measure it on 100 images (every tenth ImageNet class): for each stage, the Pearson
# correlation between the activation map and the image's edge map (Sobel magnitude, pooled to the
# map's resolution). A layer that mostly detects edges correlates strongly; a layer that has
# moved on to object parts does not.

# %%
subset = list(range(0, 1000, 10))
batch = torch.stack([imagenet[i][0] for i in subset])
deepest = stage_layers[-1]


def edges_and_means(layer, activations, chunk):
    """Per image: the edge alignment of every stage and, for the deepest, each channel's mean."""
    if layer == deepest:
        return torch.cat([features.edge_alignment(activations.cpu(), chunk.cpu())[:, None],
                          activations.mean(dim=(2, 3)).cpu()], dim=1)
    return features.edge_alignment(activations.cpu(), chunk.cpu())[:, None]


# 20 images per pass: the early feature maps of 100 images at once would need gigabytes.
reduced = hooks.reduce_activations(model, stage_layers, batch.to(device), edges_and_means, batch_size=20)
print(f"{'stage':8s} {'edge correlation':>16s}  (mean +- std over {len(subset)} images)")
alignment = {}
for stage, layer in classifier.conv_stages.items():
    values = reduced[layer][:, 0]
    alignment[stage] = values
    print(f"{stage:8s} {values.mean():16.2f}  +- {values.std():.2f}")

# %%
figure, axis = plt.subplots(figsize=(6, 3))
axis.boxplot([v.numpy() for v in alignment.values()], tick_labels=list(alignment))
axis.axhline(0, color="grey", lw=0.5)
axis.set_ylabel("corr(activation, edges)")
axis.set_title("Edge alignment of activation maps by depth")
plt.show()

# %% [markdown]
# ## Which images drive a deep channel
#
# For two channels of the deepest stage we list the images of the 100 that activate them most.
# A channel that responds to a concept (fur, wheels, water) collects images that share it, across
# different classes; "selective" channels are those whose strongest response is far above their
# average one.

# %%
deep = reduced[deepest][:, 1:]  # each channel's mean activation per image
selective = (deep.max(dim=0).values / deep.mean(dim=0).abs().clamp_min(1e-6)).topk(2).indices.tolist()
top_panels, top_titles = [], []
for channel in selective:
    best = deep[:, channel].topk(4).indices.tolist()
    names = [classifier.class_names[subset[i]] for i in best]
    print(f"channel {channel}: " + ", ".join(names))
    top_panels += [classifier.to_display(batch[i]) for i in best]
    top_titles += [f"ch {channel}: {name}" for name in names]
plotting.image_grid(top_panels, top_titles, ncols=4, size=2.2)
plt.show()

# %% [markdown]
# ## Summary
#
# - First-layer filters are small edge and colour-contrast detectors; the printed counts say how
#   many of this model's filters weigh colour rather than brightness.
# - Feature maps lose resolution and gain channels with depth: one cell of the last stage covers
#   a 32 x 32 pixel patch of the input.
# - From the first block on, the correlation between activation maps and image edges falls with
#   depth: shallow stages mark edges everywhere, deep stages respond to object regions and to
#   concepts shared across classes. (The stem is recorded before its batch norm and activation,
#   so its absolute value still follows brightness more than edges.)
# - Feature maps show *what* a layer responds to, not *why* the model chose a class: the next
#   chapter, Grad-CAM, weighs the feature maps by their importance for one class.
#
# ## Exercises
#
# 1. Switch the model (`XAI_IMAGENET_MODEL=resnet50` where its weights can be downloaded) and
#    compare the first-layer filters: ResNet-50's are 7 x 7, EfficientNet-Lite0's 3 x 3. Which
#    shows clearer oriented edges, and why?
# 2. Replace the edge map in the measurement with a colour-saturation map. Which stage aligns
#    best with colour?
# 3. Pick a channel from `stage4` and find its top-4 images among all 1,000 samples. Can you name
#    the pattern it detects?
# 4. Build the activation map from the *maximum* over channels instead of the mean. What changes
#    in the overlays, and why?
