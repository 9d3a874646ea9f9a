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
# # Callbacks: looking at inner layers of three CIFAR-10 architectures
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/11_cifar_callbacks.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F11_cifar_callbacks.ipynb)
#
# This part of the book asks one question: **does a network's architecture change what its
# explanations look like, and how?** Three small CNNs were trained on CIFAR-10
# {cite}`krizhevsky2009cifar` by the book's own code, with the same convolutional widths
# (32, 64 and 128 channels) and the same training recipe. They differ only in how spatial
# evidence reaches the classifier:
#
# - **plain**: a VGG-style stack {cite}`simonyan2015vgg` of 3x3 convolutions and max pooling,
#   *flattened* into a dense layer of 256 units. The dense layer knows *where* each feature is.
# - **gap**: the same stack, then **global average pooling** and one linear layer
#   {cite}`lin2014nin`: position is averaged away, and the classifier reads one number per channel
#   (the design for which class activation maps were introduced {cite}`zhou2016cam`).
# - **allconv**: no pooling layers at all: strided convolutions downsample, and a 1x1
#   convolution writes one *evidence map per class*, averaged into the logits
#   {cite}`springenberg2014striving`.
#
# The tool of this chapter is the forward hook, what Keras calls a *callback* on a layer: a
# function the framework calls during the forward pass with the layer's output. The book's
# `LayerRecorder` registers hooks on named layers for the duration of a `with` block and always
# removes them, so a recording never leaks into later cells.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | model comparison, debugging: what each architecture computes on the way to a class |
# | **Who** | model developers, students |
# | **What** | activations of conv blocks and of the layer the classifier reads |
# | **How** | forward hooks; strongest channels; decomposition of a logit into unit contributions |
# | **When** | after training |
# | **Where** | the three CIFAR-10 CNNs trained by `python -m xaihelpers.cifar train --arch all` |

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
import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F

from xaihelpers import cifar, features, hooks, plotting, repro

repro.seed_everything()
device = torch.device("cpu")
comparison = cifar.compare_models()  # the committed checkpoints; CIFAR-10 test set from $XAI_DATA_ROOT
models, classes = comparison.models, comparison.test.classes
images = comparison.example_images()
print(f"device: {device}; test images: {len(comparison.test)}; architectures: {', '.join(models)}")

# %% [markdown]
# ## The three networks
#
# Parameters and the training budget come from the checkpoints (each network was trained once,
# on the 50,000 training images, in at most about 10 minutes on two CPU cores); the test accuracy
# is measured here, on all 10,000 test images.

# %%
print(comparison.accuracy_table().to_string())

# %% [markdown]
# The **plain** network has by far the most parameters: its dense layer connects 2,048 inputs
# (128 channels x 4 x 4 positions) to 256 units. The two pooled designs read only 128 numbers.
#
# ## The images we compare on
#
# Every CIFAR chapter explains the same five test images, picked by rule, not by hand: going
# through the test set in a fixed shuffled order (seed 0; in file order the first thousand images
# are all airplanes), the first two images that all three networks get right, the first one they
# all get wrong, and the first two on which they disagree.

# %%
print(comparison.example_table().to_string())
titles = [f"#{i} {kind}\ntrue: {classes[comparison.test.labels[i]]}"
          for i, kind in zip(comparison.example_index, comparison.example_kinds)]
plotting.image_grid(images, titles, ncols=5, size=2.0)
plt.show()

# %% [markdown]
# ## Recording inner layers with forward hooks
#
# Each architecture names its three conv blocks (`features.0` to `features.2`) and the layer the
# classifier reads (`dense_layer`). One `LayerRecorder` per network records them during a single
# forward pass; afterwards no hook is left on any network.

# %%
recordings, logits = {}, {}
for arch, model in models.items():
    layers = [*model.conv_blocks, model.dense_layer]
    with hooks.LayerRecorder(model, layers) as recorder, torch.no_grad():
        logits[arch] = model(images)
    recordings[arch] = dict(recorder.activations)
    shapes = ", ".join(f"{name} {tuple(value.shape[1:])}" for name, value in recorder.activations.items())
    print(f"{arch:8s} {shapes}")
print("hooks left on the networks:", sum(hooks.count_hooks(model) for model in models.values()))

# %% [markdown]
# The first blocks have the same shapes in all three networks (16x16, 8x8, 4x4 after each
# downsampling); what the classifier reads differs: 256 dense units, 128 pooled channels, or ten
# 4x4 class-evidence maps.
#
# ## The strongest channels of each block
#
# For the first example image (a correctly classified one), the four channels with the highest
# mean activation in each block, per architecture. Early blocks respond to colour and edges at
# full layout; by the last block the maps are 4x4 and the channels are class-like detectors.

# %%
image_number = 0
for arch, recording in recordings.items():
    maps, titles = [], []
    for block in models[arch].conv_blocks:
        activation = recording[block][image_number]
        for channel in features.strongest_channels(activation[None], 4)[0].tolist():
            maps.append(activation[channel])
            titles.append(f"{block} ch {channel}")
    plotting.image_grid(maps, titles, ncols=12, size=1.1, suptitle=f"{arch}: strongest channels")
    plt.show()

# %% [markdown]
# ## What the classifier reads, and how it decides
#
# In every architecture the logit of a class is a *linear* function of the recorded layer, so it
# decomposes exactly into contributions of units plus a bias:
#
# - **plain**: $z_c = \sum_u w_{cu} h_u + b_c$ over the 256 dense units $h_u$;
# - **gap**: $z_c = \sum_k w_{ck} \bar a_k + b_c$ over the 128 pooled channels $\bar a_k$;
#   and because $\bar a_k$ is an average over positions, the same sum can be taken per position:
#   the class activation map {cite}`zhou2016cam`;
# - **allconv**: $z_c$ is the mean of the class-$c$ evidence map (the 1x1 convolution already
#   includes the bias), which is itself the per-position decomposition.
#
# The cell below checks each decomposition against the network's own logit, then lists the units
# that push the predicted class up most.

# %%
rows = []
for arch, model in models.items():
    labels = logits[arch].argmax(dim=1)
    parts, bias = model.logit_parts(recordings[arch][model.dense_layer], labels)
    chosen = logits[arch][torch.arange(len(labels)), labels]
    error = (parts.sum(dim=1) + bias - chosen).abs().max().item()
    positive = parts.clamp(min=0)
    for image, label in enumerate(labels.tolist()):
        rows.append({"architecture": arch, "image": comparison.example_index[image], "predicted": classes[label],
                     "logit": round(chosen[image].item(), 2), "units": parts.shape[1],
                     "units > 0": int((parts[image] > 0).sum()),
                     "top 3 share": round((positive[image].topk(3).values.sum() / positive[image].sum()).item(), 2)})
    print(f"{arch:8s} sum of parts + bias equals the logit (to 1e-4) for all images: {error < 1e-4}")
print(pd.DataFrame(rows).to_string(index=False))

# %% [markdown]
# The decompositions hold to float precision. *Top 3 share* is the part of the positive evidence
# carried by the three strongest units. The networks spread a decision very differently: **gap**
# draws on about half of its 128 channels, and its three strongest carry less than a fifth;
# **plain**'s dense code is sparse (a few tens of its 256 units push the class up) and its top
# three carry more; **allconv** has only 16 positions, and a few of them carry about half.
#
# ## Where the evidence sits
#
# For **gap** and **allconv** the decomposition has a spatial form: the evidence for the predicted
# class at each of the 4x4 positions. For **plain** there is no such map (the dense layer mixes
# positions), but a hook can still ask a spatial question: how much does the predicted logit drop
# when the last block's activations at one position are set to zero? A forward hook that
# *returns* a tensor replaces the layer's output, which is how we edit the activation.

# %%
panels, titles = [], []
for arch, model in models.items():
    labels = logits[arch].argmax(dim=1)
    recording = recordings[arch]
    if arch == "plain":
        maps = hooks.occlusion_by_position(model, model.conv_blocks[-1], images, labels)
    else:
        maps = model.evidence_map(recording[model.conv_blocks[-1]], recording[model.dense_layer], labels)
    for image in range(len(images)):
        heat = F.interpolate(maps[image][None, None], size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
        heat = (heat - heat.min()) / (heat.max() - heat.min() + 1e-12)
        panels.append(plotting.overlay(images[image], heat, alpha=0.5))
        titles.append(f"{arch}: {classes[labels[image]]}")
print("hooks left on the networks:", sum(hooks.count_hooks(model) for model in models.values()))
plotting.image_grid(panels, titles, ncols=5, size=2.0)
plt.show()

# %% [markdown]
# The pooled networks' maps are exact decompositions of their logits; the plain network's map is
# an intervention (one position at a time), so it misses evidence that is spread over positions.
# Where the networks disagree (the last two columns), the maps often show them attending to
# different parts of the image.
#
# ## A callback that watches the whole network
#
# Hooks need not store tensors; they can compute statistics on the fly. Here one hook per ReLU
# counts, over 500 test images, the fraction of units that are active (positive), a quick health
# check for "dead" units and a view of how sparse each architecture's code is.

# %%
sample = comparison.test.images[comparison.shuffled(500)].float() / 255
rows = {}
for arch, model in models.items():
    with hooks.ActiveFraction(model) as watcher, torch.no_grad():
        model(sample)
    rows[arch] = watcher.fractions
activity = pd.DataFrame(rows).round(3)
print(activity.to_string(na_rep="-"))
print("hooks left on the networks:", sum(hooks.count_hooks(model) for model in models.values()))

# %% [markdown]
# The rows are the ReLU modules by name; a dash means the architecture has no such layer. Around
# half the units of the early blocks fire on a typical image, fewer in deep blocks, and the
# dense layer of **plain** is the sparsest (about one unit in seven); no layer is dead (a
# fraction near 0) in any of the three networks.

# %% [markdown]
# ## Summary
#
# - A forward hook ("callback") sees a layer's output during the forward pass; used inside a
#   context manager it records or edits activations and is always removed afterwards.
# - The three architectures share their early layers' shapes but differ in what the classifier
#   reads: a flattened layout (plain), pooled channels (gap) or per-class evidence maps (allconv).
# - In each of them the logit decomposes exactly into contributions of the recorded units; for
#   the pooled designs the decomposition is spatial (the class activation map), for the dense head
#   a spatial view needs an intervention such as zeroing one position.
# - Hooks can also compute statistics on the fly, such as the fraction of active ReLU units.
#
# ## Exercises
#
# 1. Record the dense units of **plain** for 1,000 test images and find, for each unit, the
#    images that activate it most. Do some units stand for a class?
# 2. Compute the class activation maps of **gap** for every class, not only the predicted one.
#    Where does the second most likely class find its evidence?
# 3. Use a hook to add Gaussian noise to the output of `features.1` and measure the accuracy of
#    each network as the noise grows. Which architecture is most robust?
# 4. Write a hook that counts, per channel of `features.2`, how often it is the strongest channel
#    over the test set. Are some channels never used?
