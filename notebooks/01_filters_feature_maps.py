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
# network is a stack of filters; each layer turns the image into a set of **{term}`feature maps <feature map>`**, one
# per filter, that say where in the image that filter's pattern occurs. This chapter opens up a
# pretrained ImageNet classifier: its first-layer filters, its feature maps at several depths,
# and a measurement of what each depth responds to {cite}`zeiler2014visualizing,yosinski2014transferable`.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability and teaching: see what a trained CNN has learned to detect |
# | **Who** | learners and model developers |
# | **What** | first-layer weights; activations (feature maps) of inner layers |
# | **How** | filter grids, feature-map grids, {term}`activation maps <activation map>` overlaid on the input |
# | **When** | after training |
# | **Where** | any CNN; here the book's pretrained ImageNet model |
# | **Source** | the study it follows: the course assignment "Explainable AI Assignment 2 - Model Explanations" (Banbhan, Al-Jarajrah, Essam): filters and feature maps of ResNet-50; see {doc}`../book/sources` |
# | **Before** | nothing but the prerequisites of the {doc}`course guide <../book/course_guide>` |

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util, subprocess, sys  # noqa: E401 - the one cell that runs before the helpers exist
if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("imagenet_samples")

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from xaihelpers import chapter, claims, features, hooks, plotting, repro
from xaihelpers.hooks import LayerRecorder

repro.seed_everything()
device = repro.best_device()
classifier, imagenet = chapter.imagenet(device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
model = classifier.model
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
# The first convolution sees raw pixels, so its weights can be drawn as tiny RGB images
# ({numref}`fig-filters-first-layer`). Each filter is scaled on its own to $[0, 1]$: grey means "no
# preference", colours show which channel the filter adds or subtracts, stripes show the orientation
# of the edges it detects.

# %% mystnb={"figure": {"caption": "Every filter of the model's first convolution, drawn as a tiny RGB image scaled on its own to [0, 1]. Grey means no preference; colours show the channels a filter adds or subtracts.", "name": "fig-filters-first-layer"}, "image": {"alt": "Two rows of tiny square colour patches, one per first-layer filter. Some are nearly uniform, others set a bright colour against its opposite or a light corner against a dark one."}}
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
# look at the strongest channels of each depth for one image
# ({numref}`fig-filters-strongest-channels`).

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

# %% mystnb={"figure": {"caption": "The three most active channels at four depths, from the stem to the head, for the tabby-cat image, each scaled on its own (colour bar), so colours compare places within a map, not maps. With depth the maps lose resolution and turn from image-like to blob-like.", "name": "fig-filters-strongest-channels"}, "image": {"alt": "Twelve small activation maps in two rows, titled with stage and channel. The stem's maps still look like the cat photo, the middle stages' maps are fine speckle, and the head's maps are coarse blocks with one bright region."}}
image_index = 2  # the tabby cat
all_stages = list(classifier.conv_stages)
shown_stages = [all_stages[i] for i in np.linspace(0, len(all_stages) - 1, 4).round().astype(int)]
panels, titles = [classifier.to_display(images[image_index])], ["input"]
for stage in shown_stages:
    activation = recorder.activations[classifier.conv_stages[stage]][image_index]
    for channel in features.strongest_channels(activation[None], 3)[0].tolist():
        panels.append(plotting.rescale(activation[channel].cpu()))
        titles.append(f"{stage} ch {channel}")
plotting.image_grid(panels[1:], titles[1:], ncols=6, size=2.0, suptitle="Strongest channels by depth (tabby cat)",
                    colorbar="activation, scaled per map\n(0 its lowest, 1 its highest value)")
plt.show()

# %% [markdown]
# ## Activation maps: where each depth is active
#
# Averaging the absolute activation over all channels gives one **activation map** per depth.
# Upsampled to the input and overlaid, it shows where the layer "sees something"
# ({numref}`fig-filters-activation-maps`).

# %% mystnb={"figure": {"caption": "Activation maps (mean absolute activation over all channels) at four depths, upsampled and overlaid on four images; each row is one image, its first column the photo. Each map is scaled on its own (colour bar), so colours compare places within a map, not depths.", "name": "fig-filters-activation-maps"}, "image": {"alt": "A grid of four rows (goldfish, bald eagle, tabby, zebra) and five columns: the photo, then heat-map overlays for the stem, stage 3, stage 5 and the head. The shallow overlays follow edges and texture all over the image; the head's overlay is a smooth blob on the animal."}}
rows, row_titles = [], []
for index in range(4):
    rows.append(classifier.to_display(images[index]))
    row_titles.append(classifier.class_names[chosen_classes[index]])
    for stage in shown_stages:
        activation = features.activation_map(recorder.activations[classifier.conv_stages[stage]][index:index + 1])
        heat = F.interpolate(activation[None], size=(224, 224), mode="bilinear")[0, 0]
        rows.append(plotting.overlay(classifier.to_display(images[index]), plotting.rescale(heat.cpu())))
        row_titles.append(stage)
plotting.image_grid(rows, row_titles, ncols=1 + len(shown_stages), size=2.0, colorbar_cmap=plotting.HEATMAP_CMAP,
                    colorbar="mean |activation|, scaled per map\n(0 its lowest, 1 its highest value)")
plt.show()

# %% [markdown]
# ## What each depth responds to, measured
#
# {numref}`fig-filters-strongest-channels` and {numref}`fig-filters-activation-maps` suggest that
# shallow layers trace edges while deep layers light up on the object. We measure it on 100 images
# (every tenth ImageNet class): for each stage, the Pearson correlation between the activation map
# and the image's edge map (Sobel magnitude, pooled to the map's resolution). A layer that mostly
# detects edges correlates strongly; a layer that has moved on to object parts does not.

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


# 2 images per pass: the early feature maps of 100 images at once would need gigabytes, and two
# per pass also run faster than ten on the book's CPU (benchmarks/runtime_settings.py).
reduced = hooks.reduce_activations(model, stage_layers, batch.to(device), edges_and_means, batch_size=2)
print(f"{'stage':8s} {'edge correlation':>16s}  (mean +- std over {len(subset)} images)")
alignment = {}
for stage, layer in classifier.conv_stages.items():
    values = reduced[layer][:, 0]
    alignment[stage] = values
    print(f"{stage:8s} {values.mean():16.2f}  +- {values.std():.2f}")

# %% mystnb={"figure": {"caption": "Correlation between each stage's activation map and the image's edge map over 100 sample images, one box per stage from the stem to the head.", "name": "fig-filters-edge-alignment"}, "image": {"alt": "Box plot with the stages (stem, stage 1 to stage 7, head) on the horizontal axis and the correlation on the vertical axis. The stem's box sits low, stages 1 and 2 sit highest, and the boxes then drop and widen towards the deep stages."}}
figure, axis = plt.subplots(figsize=(6, 3))
axis.boxplot([v.numpy() for v in alignment.values()], tick_labels=list(alignment))
axis.axhline(0, color="grey", lw=0.5)
axis.set_ylabel("corr(activation, edges)")
axis.set_title("Edge alignment of activation maps by depth")
plt.show()

# %% [markdown]
# ## Which images drive a deep channel
#
# For two channels of the deepest stage we list the images of the 100 that activate them most
# ({numref}`fig-filters-deep-channel-images`). A channel that responds to a concept (fur, wheels,
# water) collects images that share it, across different classes; "selective" channels are those
# whose strongest response is far above their average one.

# %% mystnb={"figure": {"caption": "The four sample images that activate each of the two most selective channels of the deepest stage most; one row per channel.", "name": "fig-filters-deep-channel-images"}, "image": {"alt": "Two rows of four photos, each titled with the channel and the image's class. Each row gathers photos of different classes that the same channel responds to."}}
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

# %% tags=["remove-cell"]
# The numbers and comparisons the summary states, checked against the computation.
edge_means = {stage: float(values.mean()) for stage, values in alignment.items()}
claims.number("32", 224 // recorder.activations[deepest].shape[-1], what="pixels one cell of the last stage covers")
claims.number("0.73", edge_means["stage1"], what="edge correlation at stage 1")
claims.number("0.26", edge_means["stage6"], what="edge correlation at stage 6")
claims.number("0.11", edge_means["stem"], what="edge correlation at the stem")
claims.holds("the edge correlation falls with depth from stage 1 to stage 6",
             all(edge_means[f"stage{i}"] > edge_means[f"stage{i + 1}"] for i in range(1, 6)))
claims.holds("after stage 6 the edge correlation stays level",
             max(edge_means[s] for s in ("stage6", "stage7", "head")) - min(edge_means[s] for s in ("stage6", "stage7", "head")) < 0.05)
claims.holds("the stem's edge correlation is low, below every later stage's",
             all(edge_means["stem"] < edge_means[s] for s in edge_means if s != "stem"))

# %% [markdown]
# ## Summary
#
# - First-layer filters are small edge and colour-contrast detectors; the printed counts say how
#   many of this model's filters weigh colour rather than brightness.
# - Feature maps lose resolution and gain channels with depth: one cell of the last stage covers
#   a 32 x 32 pixel patch of the input.
# - From the first block on, the correlation between activation maps and image edges falls with
#   depth, from 0.73 at stage 1 to 0.26 at stage 6, and then stays level
#   ({numref}`fig-filters-edge-alignment`): shallow stages mark edges everywhere, deep stages
#   respond to object regions and to concepts shared across classes. (The stem's correlation is
#   low, 0.11: it is recorded before its batch norm and activation, so its absolute value likely
#   follows brightness as much as edges.)
# - Feature maps show *what* a layer responds to, not *why* the model chose a class: the next
#   chapter, {term}`Grad-CAM`, weighs the feature maps by their importance for one class.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** A cell of a `stage4` feature map "covers 16 x 16 input pixels". Where does the 16 come
# from, and is it the cell's receptive field?
#
# :::{admonition} Answer
# :class: dropdown
# It is the stride: the stem and three later blocks each halve the resolution, $2^4 = 16$, so the
# 224-pixel image becomes a 14 x 14 map and neighbouring cells are 16 pixels apart. The receptive
# field of a cell is larger than its 16 x 16 patch, because every stacked 3 x 3 or 5 x 5 convolution
# widens what a cell sees.
# :::
#
# **2.** A first-layer filter has colour opponency 0. What does it respond to?
#
# :::{admonition} Answer
# :class: dropdown
# Brightness only. Opponency 0 means the same weights on the red, green and blue channel: the filter
# responds to a pattern of luminance (an edge, a spot) and is blind to its colour.
# :::
#
# **3.** The edge correlation falls with depth. Does a deep stage with a correlation near 0 carry
# no information about the image?
#
# :::{admonition} Answer
# :class: dropdown
# No. A correlation near 0 says the stage's activity does not follow the image's *edges*, not that
# it carries nothing. Deep stages respond to object parts, textures and patterns shared across
# classes (the selective channels at the end of the chapter); that information is what the
# classifier reads.
# :::
#
# ### Exercise 1
#
# Switch the model (`XAI_IMAGENET_MODEL=resnet50` where its weights can be downloaded) and compare
# the first-layer filters: ResNet-50's are 7 x 7, EfficientNet-Lite0's 3 x 3. Which shows clearer
# oriented edges, and why?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# ResNet-50's weights need the internet; its architecture does not. Online, run the chapter with
# XAI_IMAGENET_MODEL=resnet50 and look at plotting.filter_grid of its first convolution.
import torchvision

resnet_conv = features.first_conv(torchvision.models.resnet50(weights=None))[1]
for name, layer in (("EfficientNet-Lite0", conv), ("ResNet-50", resnet_conv)):
    k = layer.kernel_size[0]
    print(f"{name:18s} {layer.out_channels:3d} filters of {layer.in_channels}x{k}x{k} = "
          f"{layer.in_channels * k * k:3d} weights each, stride {layer.stride[0]}")

# How much of each 3x3 filter is a plain linear ramp a*x + b*y + c (an edge of one direction)?
luminance = weights.mean(dim=1).flatten(1)  # (32, 9)
ys, xs = torch.meshgrid(torch.arange(3.0), torch.arange(3.0), indexing="ij")
design = torch.stack([xs.flatten(), ys.flatten(), torch.ones(9)], dim=1)
fitted = design @ torch.linalg.lstsq(design, luminance.T).solution
explained = 1 - (luminance.T - fitted).pow(2).sum(0) / (luminance.T - luminance.T.mean(0)).pow(2).sum(0).clamp_min(1e-12)
print(f"Lite0 stem: share of each filter's luminance pattern that is a linear ramp: median {explained.median():.2f}; "
      f"filters above 0.8: {int((explained > 0.8).sum())} of {len(explained)}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("27", conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1], what="weights of a Lite0 stem filter")
claims.number("147", resnet_conv.in_channels * resnet_conv.kernel_size[0] * resnet_conv.kernel_size[1],
              what="weights of a ResNet-50 first-layer filter")
claims.number("25", explained.median(), scale=100, what="median share of a filter that is a linear ramp")
claims.setting("80", what="share above which a filter counts as a ramp (0.8 in the cell)")
claims.number("4", (explained > 0.8).sum(), what="filters that are ramps")
claims.number("32", len(explained), what="filters of the Lite0 stem")
claims.holds("most Lite0 stem filters are not ramps", int((explained > 0.8).sum()) < len(explained) / 2)
claims.number("0.73", alignment["stage1"].mean(), what="edge correlation at stage 1")

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Offline the solution compares what the two first layers *can* express. EfficientNet-Lite0's stem
# has 32 filters of 3 x 3 x 3 = 27 weights, ResNet-50's first layer 64 filters of 7 x 7 x 3 = 147
# weights (the architecture needs no download). A 3 x 3 kernel has hardly room for an oriented edge:
# a plain brightness ramp $a x + b y + c$, an edge of one direction, explains a median 25 % of a
# Lite0 filter's luminance pattern, and only 4 of the 32 filters are such ramps (above 80 %); most
# are spots or centre-surround patterns. A 7 x 7 filter can hold an oriented edge or a stripe
# several pixels long, and the first layers of networks with large filters are known to learn
# oriented edges and colour blobs {cite}`zeiler2014visualizing`. Online, `plotting.filter_grid` of
# ResNet-50's first layer shows whether its filters are of that kind, and the clearer edges are
# expected there. Lite0 builds its oriented detectors later, by stacking 3 x 3 convolutions, which
# is why its stage-1 maps already follow edges (correlation 0.73).
# :::
#
# ### Exercise 2
#
# Replace the edge map in the measurement with a colour-saturation map. Which stage aligns best
# with colour?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
def saturation(pictures):
    """Per pixel: the largest minus the smallest colour channel (0 for grey, high for pure colours)."""
    return pictures.max(dim=1).values - pictures.min(dim=1).values


def saturation_alignment(layer, activations, chunk):
    """Per image: the activation map's correlation with saturation, then each channel's."""
    activations = activations.cpu()
    colour = F.adaptive_avg_pool2d(saturation(chunk.cpu())[:, None], activations.shape[-2:])[:, 0]
    # Every channel at once: (images x channels) pairs of maps.
    per_channel = features.pearson_per_image(activations.flatten(0, 1),
                                             colour[:, None].expand_as(activations).flatten(0, 1))
    return torch.cat([features.pearson_per_image(features.activation_map(activations), colour)[:, None],
                      per_channel.view(activations.shape[:2])], dim=1)


colour_alignment = hooks.reduce_activations(model, stage_layers, batch.to(device), saturation_alignment, batch_size=2)
print(f"{'stage':8s} {'edges':>6s} {'saturation':>11s} {'best channel':>13s}  (mean correlation over {len(subset)} images)")
best_channel = {}
for stage, layer in classifier.conv_stages.items():
    channel_means = colour_alignment[layer][:, 1:].mean(dim=0)
    best_channel[stage] = channel_means.max().item()
    print(f"{stage:8s} {alignment[stage].mean():6.2f} {colour_alignment[layer][:, 0].mean():11.2f} "
          f"{best_channel[stage]:13.2f}")
print("stage with the channel best aligned with saturation:", max(best_channel, key=best_channel.get))

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
saturation_means = {stage: float(colour_alignment[layer][:, 0].mean()) for stage, layer in classifier.conv_stages.items()}
claims.number("-0.03", min(saturation_means.values()), what="lowest saturation correlation of a mean map")
claims.number("0.08", max(saturation_means.values()), what="highest saturation correlation of a mean map")
claims.holds("every stage's mean map follows edges far more than saturation",
             all(float(alignment[stage].mean()) - saturation_means[stage] > 0.1 for stage in saturation_means))
claims.number("0.53", best_channel["stem"], what="best stem channel's saturation correlation")
claims.holds("the channel best aligned with saturation sits in the stem", max(best_channel, key=best_channel.get) == "stem")
claims.number("0.40", best_channel["stage4"], what="best stage-4 channel's saturation correlation")
claims.number("0.29", max(best_channel[stage] for stage in ("stage5", "stage6", "stage7", "head")),
              what="best channel of the later stages")
claims.holds("single channels align with saturation more than the layer as a whole",
             all(best_channel[stage] > saturation_means[stage] for stage in best_channel))

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Averaged over channels, no stage follows colour: the mean activation map correlates with the
# saturation map at -0.03 to 0.08, far below the edge correlations. Single channels do: the channel
# best aligned with saturation sits in the stem (mean correlation 0.53), where the colour-opponent
# filters of the first section work, and a stage-4 channel reaches 0.40; the later stages' best
# channels reach at most 0.29. Colour is carried by a few channels, not by the layer as a whole, which
# is why the chapter's measure, made for edges (which most channels respond to), misses it. The stem
# is the stage that aligns best with colour.
# :::
#
# ### Exercise 3
#
# Pick a channel from `stage4` and find its top-4 images among all 1,000 samples. Can you name the
# pattern it detects?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: the four sample images that activate the most selective stage-4 channel most, each followed by that channel's activation overlaid on it.", "name": "fig-filters-exercise-stage4-channel"}, "image": {"alt": "Two rows of four panels, pairs of a photo and its heat-map overlay for the chosen channel. The photos are nearly colourless, and the overlays spread over textured regions rather than over one object."}} tags=["hide-cell"]
stage4 = classifier.conv_stages["stage4"]


def channel_means(layer, activations, chunk):
    return activations.mean(dim=(2, 3)).cpu()


# 20 images at a time, 2 per forward pass: all 1,000 at once would hold 600 MB of pixels. Each
# pass stops at stage4 (stop_after): the stages after it would run for nothing.
stage4_parts, colour_parts = [], []
for start in range(0, len(imagenet), 20):
    chunk = torch.stack([imagenet[i][0] for i in range(start, start + 20)])
    stage4_parts.append(hooks.reduce_activations(model, [stage4], chunk.to(device), channel_means, batch_size=2,
                                                 stop_after=True)[stage4])
    colour_parts.append(saturation(chunk).mean(dim=(1, 2)))
stage4_means, colourfulness = torch.cat(stage4_parts), torch.cat(colour_parts)  # (1000, 80), (1000,)
# The most selective channel: its best image stands out most from its average image.
channel = int((stage4_means.max(dim=0).values / stage4_means.mean(dim=0).abs().clamp_min(1e-6)).argmax())
best_four = stage4_means[:, channel].topk(4).indices.tolist()
print(f"stage4 channel {channel}: " + ", ".join(classifier.class_names[i] for i in best_four))
saturation_correlation = torch.corrcoef(torch.stack([stage4_means[:, channel], colourfulness]))[0, 1]
print(f"mean saturation of its top-4 images {colourfulness[best_four].mean():.2f}; of all 1,000 images "
      f"{colourfulness.mean():.2f}; corr(channel mean, image saturation) over all images "
      f"{saturation_correlation:.2f}")
with torch.no_grad(), LayerRecorder(model, [stage4]) as top_recorder:
    top_images = torch.stack([imagenet[i][0] for i in best_four])
    model(top_images.to(device))
panels, titles = [], []
for position, index in enumerate(best_four):
    heat = F.interpolate(top_recorder.activations[stage4][position:position + 1, channel:channel + 1],
                         size=(224, 224), mode="bilinear")[0, 0]
    shown = classifier.to_display(top_images[position])
    panels += [shown, plotting.overlay(shown, plotting.rescale(heat.cpu()))]
    titles += [classifier.class_names[index], f"ch {channel}"]
plotting.image_grid(panels, titles, ncols=4, size=2.2, colorbar_cmap=plotting.HEATMAP_CMAP,
                    colorbar="activation, scaled per map\n(0 its lowest, 1 its highest value)")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("4", channel, what="the most selective stage-4 channel")
claims.holds("its top-4 images are a garbage truck, a soccer ball, a wolf spider and a black grouse",
             [classifier.class_names[i] for i in best_four] == ["garbage truck", "soccer ball", "wolf spider", "black grouse"])
claims.number("0.03", colourfulness[best_four].mean(), what="mean saturation of the top-4 images")
claims.number("0.15", colourfulness.mean(), what="mean saturation of all samples")
claims.holds("the top-4 photos are nearly colourless", float(colourfulness[best_four].mean()) < float(colourfulness.mean()) / 3)
claims.number("-0.43", saturation_correlation, what="corr(channel mean, image saturation)")

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# The most selective stage-4 channel (channel 4) fires most on a garbage truck, a soccer ball, a
# wolf spider and a black grouse: four different classes, and in the overlays of
# {numref}`fig-filters-exercise-stage4-channel` it responds across fine texture (the truck's
# surroundings, grass and heather, fur) rather than to one object. What the four photos share is
# that they are nearly colourless: their mean saturation is 0.03, against 0.15 for the 1,000
# samples, and over all samples the channel's mean activation correlates at -0.43 with the image's
# saturation. The pattern it detects is "grey texture", a property of the photograph rather than of
# a class. Top images show what goes with a unit's activity, not yet what the unit detects
# {cite}`olah2017feature`; here a measurement over all samples settled it.
# :::
#
# ### Exercise 4
#
# Build the activation map from the *maximum* over channels instead of the mean. What changes in
# the overlays, and why?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 4: activation maps of the tabby-cat image built from the mean and from the maximum over channels, in pairs, at four depths.", "name": "fig-filters-exercise-mean-max"}, "image": {"alt": "Eight heat-map overlays on the cat photo in two rows, pairs labelled mean and max for the stem, stage 3, stage 5 and the head. The max maps of the middle stages show isolated hot spots where the mean maps are spread out."}} tags=["hide-cell"]
print(f"{'stage':8s} {'corr(mean, max)':>16s} {'top-10% share: mean':>20s} {'max':>5s}  (median over 8 images)")
mean_and_max = {}
for stage in shown_stages:
    activation = recorder.activations[classifier.conv_stages[stage]].abs()
    mean_map, max_map = activation.mean(dim=1), activation.max(dim=1).values
    mean_and_max[stage] = {"corr": features.pearson_per_image(mean_map, max_map).median(),
                           "mean share": features.top_share(mean_map).median(),
                           "max share": features.top_share(max_map).median()}
    print(f"{stage:8s} {mean_and_max[stage]['corr']:16.2f} "
          f"{mean_and_max[stage]['mean share']:20.2f} {mean_and_max[stage]['max share']:5.2f}")
panels, titles = [], []
for stage in shown_stages:
    activation = recorder.activations[classifier.conv_stages[stage]][image_index:image_index + 1].abs()
    for how, heat in (("mean", activation.mean(dim=1)), ("max", activation.max(dim=1).values)):
        heat = F.interpolate(heat[None], size=(224, 224), mode="bilinear")[0, 0]
        panels.append(plotting.overlay(classifier.to_display(images[image_index]), plotting.rescale(heat.cpu())))
        titles.append(f"{stage}: {how}")
plotting.image_grid(panels, titles, ncols=4, size=2.0, colorbar_cmap=plotting.HEATMAP_CMAP,
                    colorbar="|activation|, scaled per map\n(0 its lowest, 1 its highest value)")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
correlations = {stage: float(row["corr"]) for stage, row in mean_and_max.items()}
claims.number("0.64", min(correlations.values()), what="lowest corr(mean map, max map)")
claims.number("0.88", max(correlations.values()), what="highest corr(mean map, max map)")
claims.holds("the head's mean and max maps agree least", min(correlations, key=correlations.get) == "head")
claims.holds("the stem's mean and max maps agree most", max(correlations, key=correlations.get) == "stem")
claims.number("0.72", correlations["stage5"], what="corr(mean map, max map) at stage 5")
claims.holds("of the middle stages, stage 5 has the lowest correlation", correlations["stage5"] < correlations["stage3"])
claims.number("0.21", mean_and_max["head"]["mean share"], what="top-10% share of the head's mean map")
claims.number("0.09", mean_and_max["head"]["max share"], what="top-10% share of the head's max map")
claims.holds("at the head the mean is the more concentrated map",
             mean_and_max["head"]["mean share"] > mean_and_max["head"]["max share"])
earlier = [stage for stage in mean_and_max if stage != "head"]
claims.number("0.15", min(float(mean_and_max[stage]["max share"]) for stage in earlier), what="lowest max-map share, earlier stages")
claims.number("0.16", max(float(mean_and_max[stage]["max share"]) for stage in earlier), what="highest max-map share, earlier stages")
claims.number("0.13", min(float(mean_and_max[stage]["mean share"]) for stage in earlier), what="lowest mean-map share, earlier stages")
claims.number("0.15", max(float(mean_and_max[stage]["mean share"]) for stage in earlier), what="highest mean-map share, earlier stages")
claims.holds("in the earlier stages the maximum is as concentrated as the mean or a little more",
             all(round(float(mean_and_max[stage]["max share"]), 2) >= round(float(mean_and_max[stage]["mean share"]), 2)
                 for stage in earlier))

# %% [markdown]
# :::{admonition} Solution to exercise 4
# :class: dropdown
# The two maps mostly agree on where the activity is (correlation 0.64 to 0.88), but the maximum
# marks, at each position, the single strongest channel. One channel that fires strongly there
# dominates, where the mean needs many channels to agree. In the overlays of
# {numref}`fig-filters-exercise-mean-max`, the max maps of the middle stages show isolated hot
# spots: at stage 5, one spot on the cat's face, where the mean map is spread over the whole head.
# Of the middle stages, the correlation is lowest there (0.72 at stage 5), where channels are most
# specific. At the stem, where many channels respond together, the two maps nearly coincide (0.88).
# The head (after its ReLU6) is the exception: there the two agree least (0.64), and the *mean* is
# the more concentrated map (top-10 % share 0.21 against 0.09), likely because a rectified map is
# zero in many places for most channels, so the mean is high only where many channels fire together,
# while the maximum finds some active channel almost everywhere. In the earlier stages the maximum
# is as concentrated as the mean or a little more (0.15 to 0.16, against 0.13 to 0.15). The mean shows how active a
# region is; the maximum, whether some detector found its pattern there.
# :::
