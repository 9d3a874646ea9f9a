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
# a generalisation of {term}`class activation maps <class activation map>` {cite}`zhou2016cam` to any CNN. The map has the
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
# | **Source** | the study it follows: the course assignment "Explainable AI Assignment 2 - Model Explanations" (Banbhan, Al-Jarajrah, Essam): Grad-CAM of ResNet-50 with pytorch-grad-cam; see {doc}`../book/sources` |
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
import torch

from xaihelpers import chapter, claims, features, inference, plotting, repro
from xaihelpers.gradcam import grad_cam, grad_cam_layers

device = repro.best_device()  # a GPU when there is one; the stored outputs come from the CPU
repro.seed_everything()
classifier, imagenet = chapter.imagenet(device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
model = classifier.model
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
probabilities = inference.predict_proba(model, images, device=device).to(device)
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
# For each chosen image, {numref}`fig-gradcam-predicted` shows the image and Grad-CAM at the last
# convolutional stage for the predicted class (bright yellow = strong evidence, black = none).

# %% mystnb={"figure": {"caption": "Grad-CAM of the predicted class at the last convolutional stage for six images, four predicted correctly and then two wrongly. Each photo, titled with its true class, is followed by its map, titled with the predicted class.", "name": "fig-gradcam-predicted"}, "image": {"alt": "Six pairs of panels in three rows: an ImageNet photo and the same photo with a heat map overlaid. For every image the hot region lies on the animal (fish, birds, frog, snake, dog), not on the background."}}
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
# ## The same maps with pytorch-grad-cam
#
# The course assignment this chapter follows computes Grad-CAM with the library pytorch-grad-cam
# {cite}`jacobgil2021pytorchcam`: `GradCAM(model=model, target_layers=target_layers)`, called with
# one target per image. The book uses captum's `LayerGradCam` (through `xaihelpers.gradcam`),
# because the book's other {term}`attribution <attribution map>` methods come from captum too. Both compute the formula
# above, and both resize the $7 \times 7$ map bilinearly to the image. They scale it differently:
# pytorch-grad-cam stretches each map from its minimum to its maximum, the book divides it by its
# maximum (so a map whose weakest cell is above zero keeps that floor). The cell runs the
# assignment's calls on the same six images and layer and compares.

# %%
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

target_layers = [model.get_submodule(classifier.target_layer)]
with GradCAM(model=model, target_layers=target_layers) as cam:
    # One image per call: the library runs its batch through one backward pass, and six 224-pixel
    # images at once would take the kernel past a Binder machine's memory.
    library_maps = torch.cat([torch.from_numpy(cam(input_tensor=batch[i:i + 1], targets=[ClassifierOutputTarget(int(c))]))
                              for i, c in enumerate(predicted.tolist())])
model.zero_grad(set_to_none=True)  # pytorch-grad-cam's backward pass fills the weights' .grad
del cam  # it keeps its last output, and with it the autograd graph of its last pass (about 75 MB)
book_maps = maps.cpu()
low, high = book_maps.amin(dim=(1, 2), keepdim=True), book_maps.amax(dim=(1, 2), keepdim=True)
stretched = (book_maps - low) / (high - low)
correlation = features.pearson_per_image(library_maps, book_maps)
print(f"pytorch-grad-cam: {len(library_maps)} maps of {tuple(library_maps.shape[1:])}; against the book's maps")
print(f"  correlation per image: {[round(value, 3) for value in correlation.tolist()]}")
print(f"  largest difference of a pixel: {(library_maps - book_maps).abs().max():.3f} as each library scales; "
      f"{(library_maps - stretched).abs().max():.3f} once the book's maps are stretched the same way")
# What the text below says, checked on every run.
assert correlation.min() > 0.9995 and (library_maps - stretched).abs().max() < 5e-4

# %% tags=["remove-cell"]
# The comparisons the next paragraph states, checked against the computation.
claims.holds("every pair of maps correlates perfectly (1.0 at three decimals)", correlation.min() > 0.9995)
claims.holds("scaled the same way, no pixel differs in the printed digits", (library_maps - stretched).abs().max() < 5e-4)
claims.holds("the only difference is the floor the book's scaling keeps",
             (library_maps - book_maps).abs().max() > (library_maps - stretched).abs().max())

# %% [markdown]
# The two libraries compute the same Grad-CAM: every pair of maps correlates perfectly, and once
# both are scaled the same way no pixel differs in the printed digits. The only difference is the
# floor the book's scaling keeps. Either library can stand in for the other in this chapter.
#
# ## Wrong predictions: evidence for the predicted and for the true class
#
# For a misclassified image, the map of the predicted class shows what misled the model; the map of
# the true class shows whether the model saw the right object at all ({numref}`fig-gradcam-wrong`).

# %% mystnb={"figure": {"caption": "Grad-CAM of the predicted and of the true class for the two wrongly classified images.", "name": "fig-gradcam-wrong"}, "image": {"alt": "Four heat-map overlays in a row, for each misclassified photo (a snake, a dog) the map of the predicted class next to the map of the true class. For both images the two maps are nearly identical and lie on the same animal."}}
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
# its top-3 classes ({numref}`fig-gradcam-top3`); then, over all six images, we correlate the map of
# the top class with the maps of the classes ranked 2, 3, 10 and 100. The top few classes of an
# image are usually related (three kinds of fish, three finches), so we expect them to rest on the
# same object; a class far down the ranking should rest elsewhere.

# %% mystnb={"figure": {"caption": "Grad-CAM of the three highest-ranked classes of the first image.", "name": "fig-gradcam-top3"}, "image": {"alt": "A photo of a fish followed by three heat-map overlays titled with rank and class; all three maps cover the same fish body."}}
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
similarities = {}
for rank in (2, 3, 10, 100):
    other = grad_cam(model, classifier.target_layer, batch, ranking[:, rank - 1])
    similarity = features.pearson_per_image(top_map, other)
    similarities[rank] = similarity.median()
    print(f"corr(map of class #1, map of class #{rank:3d}): median {similarity.median():5.2f} "
          f"over {len(chosen)} images")

# %% tags=["remove-cell"]
# The numbers and comparisons the summary and the self-check answers state, checked against the computation.
claims.number("0.98", similarities[2], what="median corr(map #1, map #2)")
claims.number("0.97", similarities[3], what="median corr(map #1, map #3)")
claims.number("0.50", similarities[100], what="median corr(map #1, map #100)")
claims.holds("the maps of the top few classes cover the same object", min(similarities[2], similarities[3]) > 0.9)
claims.holds("a class far down the ranking gets a clearly different map", similarities[100] < similarities[10] - 0.2)

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

# %% mystnb={"figure": {"caption": "Grad-CAM at every convolutional stage, from the stem to the head, for the first three images; one row per image.", "name": "fig-gradcam-layers"}, "image": {"alt": "Three rows of nine overlays (a fish, a small bird on a plant, a bird on a stone), with columns from the stem to the head. The early stages give speckled maps that trace edges and texture over the whole image; only stage 7 and the head give one smooth blob on the animal."}}
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
# How do the maps change with depth ({numref}`fig-gradcam-layers`)? For every layer: its resolution,
# how *concentrated* the map is (share of the map's total mass in its top 10 % of pixels; 0.10 would
# be a flat map), and its correlation with the last stage's map (median over the six images).

# %%
final = layer_maps[classifier.target_layer]
native = grad_cam_layers(model, layers, batch[:1], predicted[:1], upsample=False)
print(f"{'layer':18s} {'map size':>8s} {'top-10% mass':>12s} {'corr with last':>14s}")
depth_table = {}
for layer in layers:
    heat = layer_maps[layer]
    flat = heat.flatten(1)
    top = flat.topk(flat.shape[1] // 10, dim=1).values.sum(dim=1) / flat.sum(dim=1).clamp_min(1e-12)
    size = native[layer].shape[-1]
    depth_table[layer] = {"top mass": top.median(), "corr": features.pearson_per_image(heat, final).median()}
    print(f"{stage_names.get(layer, layer.replace('net.', '')):18s} {size:5d}x{size:<3d}"
          f" {depth_table[layer]['top mass']:12.2f} {depth_table[layer]['corr']:14.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraph states, checked against the computation.
claims.setting("0.10", what="top-10% mass of a flat map")
stage7, head = classifier.conv_stages["stage7"], classifier.target_layer
above = layers[:layers.index(stage7)]  # every layer above the last stage
claims.number("0.93", depth_table[stage7]["corr"], what="corr of stage 7's map with the head's")
above_corr = [float(depth_table[layer]["corr"]) for layer in above]
claims.number("-0.23", min(above_corr), what="lowest corr with the last map above the last stage")
claims.number("0.02", max(above_corr), what="highest corr with the last map above the last stage")
claims.holds("above the last stage the correlations are mostly negative", sum(c < 0 for c in above_corr) > len(above_corr) / 2)
above_top = [float(depth_table[layer]["top mass"]) for layer in above]
claims.number("0.29", min(above_top), what="lowest top-10% mass above the last stage")
claims.number("0.53", max(above_top), what="highest top-10% mass above the last stage")
claims.number("0.24", depth_table[stage7]["top mass"], what="top-10% mass at stage 7")
claims.number("0.32", depth_table[head]["top mass"], what="top-10% mass at the head")
claims.holds("the maps above the last stage mostly hold more of their mass in few pixels than stage 7 and the head",
             all(t > float(depth_table[stage7]["top mass"]) for t in above_top)
             and sum(t > float(depth_table[head]["top mass"]) for t in above_top) > len(above_top) / 2)

# %% [markdown]
# Read the table from the bottom. The head (the book's Grad-CAM layer, after the head's batch norm
# and ReLU6) and the last block's output (stage 7) give nearly the same map (correlation 0.93): the
# head is a $1 \times 1$ convolution of that output followed by batch norm and a rectifier, and a
# linear map alone would not change the map at all (the next section shows it). Above the last
# stage, the maps barely correlate with the final one (from -0.23 to 0.02, mostly negative): at
# those depths the channel weights $\alpha_k$, averaged over the whole map, mix features of the
# object and of the background, and the resulting maps are speckled rather than localising the
# class; most of them also hold a larger share of their mass in few pixels (0.29 to 0.53 in the
# top 10 % of pixels, against 0.24 at stage 7 and 0.32 at the head). Localising the object as one
# region is a property of the deepest layers (an earlier stage's map can still change with the
# class without localising it, as exercise 4 shows), which is why the last stage is the usual
# choice, at the price of its $7 \times 7$ resolution. Whether any of these
# maps is *{term}`faithful <faithfulness>`* to the model is a separate question, which the evaluation chapter measures
# {cite}`adebayo2018sanity`.
#
# ## Inside a block: convolution, batch norm, activation
#
# Grad-CAM is defined on the *rectified* feature maps of a layer, the non-negative activations the
# next layer sees. A block of this network is a chain of three convolutions: an *{term}`expansion <expansion convolution>`*
# convolution ($1 \times 1$, which widens the channels), a *{term}`depthwise <depthwise convolution>`* convolution (one filter per
# channel, which mixes only neighbouring positions within each channel) and a *{term}`projection <projection convolution>`*
# convolution ($1 \times 1$, which narrows the channels again). Each is followed by batch norm and,
# except the last, linear projection, by ReLU6; the head is one such step, a $1 \times 1$
# convolution, batch norm and ReLU6, whose output the classifier averages over the image. The
# library `efficientnet_lite_pytorch` runs one shared ReLU6 module at every activation, which no
# hook can single out, so the book gives each activation its own module
# (`imagenet.untie_lite0_activations`; outputs and gradients are unchanged, a test checks it bit for
# bit). Here is Grad-CAM at every sublayer of the last block and of the head, for the same six
# images: the map's concentration, its correlation with the map at the rectified head (the book's
# Grad-CAM layer), and for the head's three sublayers the {term}`deletion <deletion curve>` and {term}`insertion <insertion curve>` {term}`AUC` of the evaluation
# chapter (10 steps; deletion lower and insertion higher is more faithful).

# %%
from xaihelpers import evaluation

head_layers = classifier.sublayers("head")
block_layers = classifier.sublayers(classifier.conv_blocks[-1])
# One image per pass: the maps of eleven sublayers at once would take the kernel near 2 GB otherwise.
inside = grad_cam_layers(model, block_layers + head_layers, batch, predicted, pixels_per_pass=224 * 224)
rectified = inside[classifier.target_layer]
print(f"{'sublayer':26s} {'empty maps':>10s} {'top-10% mass':>12s} {'corr with rectified head':>25s} "
      f"{'deletion AUC':>13s} {'insertion AUC':>14s}")
sublayer_table = {}
for layer in block_layers + head_layers:
    empty = int((inside[layer].flatten(1).amax(dim=1) == 0).sum())  # the weighted sum is negative everywhere
    sublayer_table[layer] = {"empty": empty, "corr": features.pearson_per_image(inside[layer], rectified).median()}
    row = (f"{layer.replace('net.', ''):26s} {empty:7d} of {len(batch)} {features.top_share(inside[layer]).median():12.2f} "
           f"{sublayer_table[layer]['corr']:25.2f}")
    if layer in head_layers:
        curve = evaluation.deletion_insertion(model, batch, inside[layer], predicted, steps=10)
        sublayer_table[layer] |= {"deletion": curve.deletion_auc.mean(), "insertion": curve.insertion_auc.mean()}
        row += f" {sublayer_table[layer]['deletion']:13.2f} {sublayer_table[layer]['insertion']:14.2f}"
    print(row)

# %% mystnb={"figure": {"caption": "Grad-CAM at each sublayer of the last block (the first eight columns) and of the head (the last three), for the first two images.", "name": "fig-gradcam-sublayers"}, "image": {"alt": "Two rows of eleven small overlays, one row per image. Inside the block the maps change from sublayer to sublayer, some empty or off the object; the block's last batch norm and the head's three sublayers all show the same blob on the animal."}}
short = {layer: "block " + layer.split(".", 3)[-1].lstrip("_").replace("_conv", "") for layer in block_layers}
short |= {layer: f"head {part}" for layer, part in zip(head_layers, ("conv", "BN", "ReLU6"))}
panels, titles = [], []
for position in range(2):
    picture = classifier.to_display(batch[position])
    for layer in block_layers + head_layers:
        panels.append(plotting.overlay(picture, inside[layer][position].cpu()))
        titles.append(short[layer])
plotting.image_grid(panels, titles, ncols=len(block_layers + head_layers), size=1.5)
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraph and the summary state, checked against the computation.
claims.setting("10", what="deletion and insertion steps (steps=10 in the cell)")
head_corr = [float(sublayer_table[layer]["corr"]) for layer in head_layers]
claims.number("0.93", min(head_corr), what="lowest corr of a head sublayer's map with the rectified head's")
claims.number("1.00", max(head_corr), what="highest corr of a head sublayer's map with the rectified head's")
deletion = [float(sublayer_table[layer]["deletion"]) for layer in head_layers]
insertion = [float(sublayer_table[layer]["insertion"]) for layer in head_layers]
claims.number("0.25", min(deletion), what="lowest deletion AUC of the head's sublayers")
claims.number("0.26", max(deletion), what="highest deletion AUC of the head's sublayers")
claims.number("0.56", min(insertion), what="lowest insertion AUC of the head's sublayers")
claims.number("0.56", max(insertion), what="highest insertion AUC of the head's sublayers")
claims.holds("the head's three sublayers score the same deletion and insertion AUC",
             max(deletion) - min(deletion) < 0.02 and max(insertion) - min(insertion) < 0.02)
claims.number("49", native[head].shape[-2] * native[head].shape[-1], what="positions of the head's map")
block = {name: f"{classifier.conv_blocks[-1]}.{name}" for name in ("_expand_conv", "_bn0.bn", "_bn1.relu6", "_project_conv", "_bn2")}
claims.holds("the expansion convolution and its batch norm correlate negatively with the head's map",
             sublayer_table[block["_expand_conv"]]["corr"] < 0 and sublayer_table[block["_bn0.bn"]]["corr"] < 0)
claims.holds("after the depthwise ReLU6 Grad-CAM is empty for five of the six images, and at the projection too",
             sublayer_table[block["_bn1.relu6"]]["empty"] == 5 and sublayer_table[block["_project_conv"]]["empty"] == 5
             and len(batch) == 6)
claims.holds("the projection's batch norm gives a full map again", sublayer_table[block["_bn2"]]["empty"] == 0)
claims.holds("the head's linear convolution passes the block's map on unchanged",
             abs(float(sublayer_table[block["_bn2"]]["corr"]) - float(sublayer_table[head_layers[0]]["corr"])) < 0.01)

# %% [markdown]
# Two things stand out. First, **before or after the head's rectifier matters little here**:
# Grad-CAM at the head's convolution (`_conv_head`, the layer the book used before), at its batch
# norm and at its ReLU6 correlate at 0.93 to 1.00 and score the same deletion and insertion AUC
# (0.25 to 0.26 and 0.56). The book uses the rectified output because Grad-CAM is defined there, and
# because it is the layer the classifier pools: its gradient is the linear classifier's weight over
# 49 at every position, so Grad-CAM there *is* the class activation map of {cite}`zhou2016cam` (a
# test checks it to $10^{-5}$). Second, inside the last block the maps jump from layer to layer
# ({numref}`fig-gradcam-sublayers`): the expansion convolution and its batch norm correlate
# negatively with the head's map, and after the depthwise ReLU6 the weighted sum is negative
# everywhere for five of the six images, so Grad-CAM is empty there (and at the projection, a
# $1 \times 1$ convolution of it). A linear layer passes the Grad-CAM sum on unchanged: with
# $B = WA$, $\partial y / \partial A = W^\top \partial y / \partial B$, so $\sum_j \beta_j B_j$ and
# $\sum_k \alpha_k A_k$ agree term by term; batch norm adds a constant per channel, which the ReLU
# of Grad-CAM then cuts differently (the projection's batch norm gives a full map again). Grad-CAM
# inside a block shows how the evidence is *recombined* from sublayer to sublayer; only at the
# block's output does it localise the class.
#
# ## Summary
#
# - Grad-CAM weighs a layer's feature maps by the gradient of one class score; it costs one
#   forward and one backward pass and needs no change to the model.
# - captum's `LayerGradCam` and pytorch-grad-cam's `GradCAM`, the assignment's library, give the
#   same maps; they differ only in how they scale them to $[0, 1]$.
# - Maps of closely related classes (the top few of an image) cover the same object; a class far
#   down the ranking gets a clearly different map, as the printed correlations show.
# - For wrong predictions, comparing the maps of the predicted and the true class shows whether
#   the model missed the object or saw it and was outvoted by a similar class.
# - Layer by layer, only the deepest layers (stage 7 and the head) localise the object as one
#   region; earlier stages give speckled maps that do not agree with it. They can still be
#   class-discriminative: at stage 6 the maps of the classes ranked 1 and 100 correlate at only
#   0.04, against 0.50 at the head (exercise 4). A map that changes with the class does not
#   necessarily show where the class's object is.
# - Grad-CAM is defined on rectified feature maps. At the head's ReLU6, the layer the classifier
#   pools, it equals the class activation map; before the batch norm and ReLU6 it gives almost the
#   same map and the same faithfulness. Inside a block, the maps change from sublayer to sublayer
#   and can be empty; a linear sublayer passes the map on unchanged.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** Why is a Grad-CAM map at the last stage only 7 x 7 before upsampling, and what does that
# cost?
#
# :::{admonition} Answer
# :class: dropdown
# The last stage has seen five stride-2 steps, a stride of 32 in all, so a 224-pixel image becomes a
# 7 x 7 grid there, and Grad-CAM has the resolution of its layer. One cell covers a 32 x 32 pixel
# patch: the map can say which part of the image holds the evidence, but it cannot outline small or
# thin parts. Upsampling smooths the map; it adds no detail.
# :::
#
# **2.** The maps of an image's top-2 and top-3 classes correlate at 0.98 and 0.97 with the top-1
# map. Is Grad-CAM therefore not class-discriminative?
#
# :::{admonition} Answer
# :class: dropdown
# No. The top few classes of an image are usually close relatives (three finches, three fish) whose
# evidence is the same object, so their maps should agree. Class-discrimination shows against a
# class far down the ranking: the map of class #100 correlates at a median of only 0.50 with the
# map of class #1.
# :::
#
# **3.** Why do the depthwise ReLU6 of the last block and the $1 \times 1$ projection after it give
# the same (empty) Grad-CAM maps?
#
# :::{admonition} Answer
# :class: dropdown
# The projection is a 1 x 1 convolution without bias, a linear map $B = WA$ of the ReLU6's output
# $A$. The gradient with respect to $A$ is $W^\top$ times the gradient with respect to $B$, so the
# weighted sums $\sum_k \alpha_k A_k$ and $\sum_j \beta_j B_j$ are equal term by term, as the
# chapter derives: a linear layer cannot change a Grad-CAM map. Where that sum is negative
# everywhere, both maps are empty.
# :::
#
# ### Exercise 1
#
# Explain the *second* most likely class of each wrong prediction. Does its map overlap with the
# true object?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 1: Grad-CAM of the top class, the second class and the true class of each wrongly classified image.", "name": "fig-gradcam-exercise-second-class"}, "image": {"alt": "Two rows of three overlays, one row per misclassified photo (a snake, a dog), titled #1, #2 and true with the class. Within each row the three maps cover the same animal and look nearly alike."}} tags=["hide-cell"]
panels, titles = [], []
second_class = []
print(f"{'true class':18s} {'#2 class':20s} {'corr(#2, true)':>15s} {'corr(#2, #1)':>13s}")
for index in wrong:
    picture = images[index:index + 1]
    ranked = probabilities[index].argsort(descending=True)
    classes_shown = {"#1": int(ranked[0]), "#2": int(ranked[1]), "true": int(labels[index])}
    heats = {name: grad_cam(model, classifier.target_layer, picture, c) for name, c in classes_shown.items()}
    to_true = features.pearson_per_image(heats['#2'], heats['true']).item()
    to_top = features.pearson_per_image(heats['#2'], heats['#1']).item()
    second_class.append({**classes_shown, "corr(#2, true)": to_true, "corr(#2, #1)": to_top})
    print(f"{classifier.class_names[labels[index]]:18s} {classifier.class_names[ranked[1]]:20s} "
          f"{to_true:15.2f} "
          f"{to_top:13.2f}")
    for name, c in classes_shown.items():
        panels.append(plotting.overlay(classifier.to_display(picture[0]), heats[name][0].cpu()))
        titles.append(f"{name}: {classifier.class_names[c]}")
plotting.image_grid(panels, titles, ncols=3, size=2.4)
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
snake, hound = second_class
names = {key: classifier.class_names[value] for key, value in snake.items() if key in ("#1", "#2", "true")}
claims.holds("the night snake was called a ringneck snake, with the thunder snake second",
             names == {"#1": "ringneck snake", "#2": "thunder snake", "true": "night snake"})
claims.holds("the night snake's true class comes third", int(probabilities[wrong[0]].argsort(descending=True)[2]) == snake["true"])
claims.holds("the wolfhound was called a Scottish deerhound, with the Irish wolfhound itself second",
             classifier.class_names[hound["#1"]] == "Scottish deerhound" and hound["#2"] == hound["true"]
             and classifier.class_names[hound["true"]] == "Irish wolfhound")
claims.number("0.99", snake["corr(#2, true)"], what="corr(#2, true), night snake")
claims.number("1.00", hound["corr(#2, true)"], what="corr(#2, true), wolfhound")
claims.number("0.97", snake["corr(#2, #1)"], what="corr(#2, #1), night snake")
claims.number("0.98", hound["corr(#2, #1)"], what="corr(#2, #1), wolfhound")

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Yes, for both wrong predictions ({numref}`fig-gradcam-exercise-second-class`). The night snake was
# called a ringneck snake with the thunder snake second (the true class comes third); the wolfhound
# was called a Scottish deerhound, with the Irish wolfhound itself second. The map of the second
# class correlates with the map of the true class at 0.99 for the snake (and at 1.00 for the
# wolfhound, trivially, since there the second class is the true one), and with the map of the top
# class at 0.97 and 0.98: the maps rest on the same animal. These are fine-grained confusions
# between look-alike species and breeds. The model found the object; its error is in choosing among
# near-identical classes, which a 7 x 7 map of *where* the evidence is cannot show.
# :::
#
# ### Exercise 2
#
# Run the chapter with `XAI_IMAGENET_MODEL=resnet50` (online). Its last stage is also
# $7 \times 7$: are the maps of the two models alike?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# ResNet-50's weights need the internet; the book never downloads during its own runs. Where they
# are cached (after one online run), the comparison below runs; offline it checks the claim of the
# exercise on the architecture alone.
from pathlib import Path

from torchvision.models import ResNet50_Weights

from xaihelpers import hooks
from xaihelpers.imagenet import load_imagenet_model

cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet50_Weights.IMAGENET1K_V2.url).name
resnet = load_imagenet_model("resnet50", pretrained=cached.is_file())
with torch.no_grad(), hooks.LayerRecorder(resnet.model, [resnet.target_layer]) as last_stage:
    resnet.model(batch[:1])
print(f"ResNet-50 {resnet.target_layer}: output {tuple(last_stage.activations[resnet.target_layer].shape[1:])}; "
      f"Lite0 {classifier.target_layer}: {tuple(layer_maps[classifier.target_layer].shape)} after upsampling "
      f"from 7x7")
if cached.is_file():
    resnet_maps = grad_cam(resnet.model, resnet.target_layer, batch, predicted)
    print("corr(ResNet-50 map, Lite0 map) per image:",
          features.pearson_per_image(resnet_maps, maps).round(decimals=2).tolist())
else:
    print("ResNet-50 weights are not cached here: run this cell online to compare the maps.")
del resnet, last_stage  # ResNet-50 holds about 100 MB; the next solutions would start on top of it

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Offline the solution can check only the premise: ResNet-50's last stage, `layer4`, also gives 7 x
# 7 maps (2048 channels, where EfficientNet-Lite0 has 1280), so both Grad-CAM maps sit on the same
# coarse grid. The comparison itself needs ResNet-50's trained weights. Once they are cached (one
# online run of the chapter with `XAI_IMAGENET_MODEL=resnet50`), the same cell prints the
# correlation of the two models' maps for each of the six images. The book cannot print that number
# offline, so it makes no claim about it. The question it answers is whether two architectures
# trained on the same data agree on *where* the evidence is, which is the question of the CIFAR-10
# chapters.
# :::
#
# ### Exercise 3
#
# Grad-CAM takes the ReLU of the weighted sum. Compute the map without it
# (`LayerGradCam(...).attribute(..., relu_attributions=False)`): what do the negative regions
# show?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: Grad-CAM without its final ReLU for the six images, on a signed colour scale centred on zero.", "name": "fig-gradcam-exercise-signed"}, "image": {"alt": "Six signed maps in a row, titled with the predicted class. Each shows one positive blob where the object is, on an empty background, with hardly any negative region."}} tags=["hide-cell"]
# grad_cam(..., relu=False) is captum's LayerGradCam(...).attribute(..., relu_attributions=False).
from xaihelpers import attribution

signed = grad_cam(model, classifier.target_layer, batch, predicted, relu=False, normalize=False)
far_class = probabilities[chosen].argsort(dim=1, descending=True)[:, 99]
far_map = grad_cam(model, classifier.target_layer, batch, far_class)
negative = (-signed).clamp_min(0)
print(f"{'image':24s} {'area < 0':>8s} {'neg./pos. mass':>15s} {'corr(neg., #1 map)':>19s} {'corr(neg., #100 map)':>21s}")
signed_rows = []
for position, index in enumerate(chosen):
    signed_rows.append({
        "area": (signed[position] < 0).float().mean(),
        "mass": negative[position].sum() / signed[position].clamp_min(0).sum().clamp_min(1e-12),
        "corr #1": features.pearson_per_image(negative[position:position + 1], maps[position:position + 1]).item(),
        "corr #100": features.pearson_per_image(negative[position:position + 1], far_map[position:position + 1]).item()})
    print(f"{classifier.class_names[labels[index]]:24s} {signed_rows[-1]['area']:8.2f} "
          f"{signed_rows[-1]['mass']:15.2f} "
          f"{signed_rows[-1]['corr #1']:19.2f} "
          f"{signed_rows[-1]['corr #100']:21.2f}")
panels = [plotting.signed_rgb(attribution_map) for attribution_map in attribution.signed_scale(signed, 100)]
plotting.image_grid(panels, [f"signed: {classifier.class_names[p]}" for p in predicted], ncols=6, size=2.0)
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
tench, brambling = signed_rows[0], signed_rows[1]
claims.holds("the first two images are the tench and the brambling",
             [classifier.class_names[labels[index]] for index in chosen[:2]] == ["tench", "brambling"])
claims.holds("for the four other images the negative area rounds to 0 %",
             all(round(float(row["area"]), 2) == 0 for row in signed_rows[2:]))
claims.number("1", tench["area"], scale=100, what="negative area, tench")
claims.number("3", brambling["area"], scale=100, what="negative area, brambling")
claims.number("0", max(float(row["mass"]) for row in signed_rows), scale=100, what="largest negative mass, in % of the positive")
claims.number("-0.07", tench["corr #1"], what="corr(negative part, own map), tench")
claims.number("-0.11", brambling["corr #1"], what="corr(negative part, own map), brambling")
claims.holds("the negative part is weakly anti-correlated with the class's own map",
             all(-0.3 < row["corr #1"] < 0 for row in (tench, brambling)))

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# At the book's layer there are almost no negative regions ({numref}`fig-gradcam-exercise-signed`).
# For four of the six images the negative area rounds to 0 %; for the tench and the brambling 1 %
# and 3 % of the area is, with a negative mass that rounds to 0 % of the positive mass, so the
# ReLU removes nothing that matters. The reason is the layer: at the rectified head the gradient is the
# classifier's weight over 49 at every position, so the signed map is $\sum_k w_{ck} A_k / 49$ with
# non-negative activations $A_k$, which is negative only where channels with negative weights
# dominate. Where there is a negative part it is weakly anti-correlated with the class's own map
# (-0.07 and -0.11): it lies beside the object. The ReLU keeps Grad-CAM's question, "where is the
# evidence for the class?"; at this layer the signed map adds almost nothing about evidence against
# it.
# :::
#
# ### Exercise 4
#
# Replace the spatial mean of the gradients by their spatial maximum, at the book's Grad-CAM layer
# and at the last block of stage 6. Is the map still class-discriminative?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# The channel weights are grad_cam_layers' `weights` argument, weights(activations, gradients) -> (N, K):
# Grad-CAM's spatial mean by default, the maximum here (pytorch-grad-cam's get_cam_weights).
from xaihelpers.gradcam import mean_gradient_weights

pools = {"mean": mean_gradient_weights, "max": lambda activations, gradients: gradients.amax(dim=(2, 3))}
pooled_layers = [classifier.target_layer, classifier.conv_stages["stage6"]]
pooled = {(name, rank): grad_cam_layers(model, pooled_layers, batch, ranking[:, rank], weights=pool, normalize=False,
                                        pixels_per_pass=224 * 224)
          for name, pool in pools.items() for rank in (0, 1, 99)}
print(f"{'layer':16s} {'pooling':8s} {'corr(#1, #2)':>13s} {'corr(#1, #100)':>15s} {'corr with the mean map':>23s}  (median, 6 images)")
pooled_corr = {}
for layer in pooled_layers:
    for name in pools:
        top_pooled = pooled[name, 0][layer]
        pooled_corr[layer, name] = {"#2": features.pearson_per_image(top_pooled, pooled[name, 1][layer]).median(),
                                    "#100": features.pearson_per_image(top_pooled, pooled[name, 99][layer]).median(),
                                    "mean map": features.pearson_per_image(top_pooled, pooled['mean', 0][layer]).median()}
        print(f"{layer.replace('net.', ''):16s} {name:8s} "
              f"{pooled_corr[layer, name]['#2']:13.2f} "
              f"{pooled_corr[layer, name]['#100']:15.2f} "
              f"{pooled_corr[layer, name]['mean map']:23.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution and the summary state, checked against the computation.
head, stage6 = classifier.target_layer, classifier.conv_stages["stage6"]
claims.number("1.00", pooled_corr[head, "max"]["mean map"], what="corr(max-pooled map, mean-pooled map) at the head")
claims.number("0.50", pooled_corr[head, "max"]["#100"], what="corr(#1, #100) at the head, max pooling")
claims.number("0.50", pooled_corr[head, "mean"]["#100"], what="corr(#1, #100) at the head, mean pooling")
claims.holds("at the head the max-pooled map stays as class-discriminative as the mean-pooled one",
             abs(float(pooled_corr[head, "max"]["#100"]) - float(pooled_corr[head, "mean"]["#100"])) < 0.01)
claims.number("0.54", pooled_corr[stage6, "max"]["#100"], what="corr(#1, #100) at stage 6, max pooling")
claims.number("0.04", pooled_corr[stage6, "mean"]["#100"], what="corr(#1, #100) at stage 6, mean pooling")
claims.number("0.36", pooled_corr[stage6, "max"]["mean map"], what="corr(max-pooled map, mean-pooled map) at stage 6")
claims.holds("at stage 6 max pooling makes the map less class-discriminative than mean pooling",
             pooled_corr[stage6, "max"]["#100"] > pooled_corr[stage6, "mean"]["#100"] + 0.2)
claims.holds("at stage 6 the mean-pooled maps of classes #1 and #100 correlate less than at the head",
             pooled_corr[stage6, "mean"]["#100"] < pooled_corr[head, "mean"]["#100"] - 0.2)

# %% [markdown]
# :::{admonition} Solution to exercise 4
# :class: dropdown
# It depends on the layer. At the book's Grad-CAM layer, the rectified head, the maximum gives the
# same map as the mean (correlation 1.00): there the gradient of the class score is the same at
# every position (the classifier averages the layer), so its maximum and its mean are equal, and the
# map stays as class-discriminative as before (0.50 with the class ranked 100th). At the last block
# of stage 6 the gradients vary over the image, and the pooling matters: with the maximum, the map
# of the top class and the map of the class ranked 100th correlate at a median of 0.54, where the
# mean gives 0.04, and the max-pooled map correlates with the mean-pooled one at only 0.36. A
# channel's largest gradient over the positions tends to be positive whatever the class, so the
# weights lose their sign and the map drifts towards where the network is active rather than where
# the class is; the mean lets positive and negative gradients cancel, which is what makes the
# weights class-specific.
# :::
