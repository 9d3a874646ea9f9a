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
# # Which explanation can you trust? Faithfulness, sanity checks and cost
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/10_evaluation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F10_evaluation.ipynb)
#
# Every chapter so far produced pictures, and pictures persuade. This chapter measures instead,
# for every attribution method of the book on the same images, three things:
#
# 1. **Faithfulness**: deletion and insertion {cite}`petsiuk2018rise`. Replace the pixels a map
#    ranks highest by a blurred copy of the image, in 16 steps, and follow the class probability:
#    a faithful map makes it fall fast (small area under the deletion curve). Conversely, start
#    from the blurred image and put back the top-ranked pixels first: the probability should rise
#    fast (large area under the insertion curve).
# 2. **Dependence on the model**: cascading model-parameter randomisation
#    {cite}`adebayo2018sanity`. Re-initialise the layers one by one from the top, recompute the
#    map, and compare it with the original (Spearman rank correlation of absolute values, SSIM).
#    An explanation of the model must change once the model is destroyed.
# 3. **Cost**: forward and backward passes actually made, counted by a hook on the model
#    (`evaluation.PassCounter`), and seconds per image.
#
# Two controls frame the table: a **random** map (what no information scores) and an **edge
# detector** (Sobel magnitude of the image, which ignores the model entirely).
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | comparing and choosing explanation methods |
# | **Who** | model developers, researchers, teachers |
# | **What** | attribution maps of every method, measured |
# | **How** | deletion/insertion curves, cascading randomisation, pass counts, a summary table |
# | **When** | after training |
# | **Where** | the pollen CNN (all methods), the ImageNet model (the gradient methods) |
# | **Source** | the study it follows: ExaplainNET (Engrima18/ExaplainNET): its remark that Integrated Gradients seems to outperform the other methods, measured here; see {doc}`../book/sources` |

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util, subprocess, sys  # noqa: E401 - the one cell that runs before the helpers exist
if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("pollen", "imagenet_samples")

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from xaihelpers import attribution, chapter, data, evaluation, features, inference, methods, plotting, pollen, repro

repro.seed_everything()
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")
pollen_train = pollen.load_split("train")

# %% [markdown]
# ## The methods, as functions
#
# Every method of the book is one entry of the registry `xaihelpers.methods.METHODS`, with the
# settings the earlier chapters chose; `methods.bind` turns an entry into a function
# `explain(model, images, target) -> (N, H, W)`, so the evaluation code treats them all alike.
# LIME {cite}`ribeiro2016why` and SHAP {cite}`lundberg2017unified` come from their packages through
# thin wrappers (`xaihelpers.explainers`): LIME with 40 SLIC superpixels and 300 samples, SHAP's
# `GradientExplainer` with 16 training images as background and 32 samples. The registry also
# knows each method's cost and how its maps are reduced to one value per pixel:

# %%
print(methods.cost_table().to_string())

# %%
# Grad-CAM at the last conv block, SHAP's background every 30th training image (16 of them).
pollen_methods = chapter.pollen_explainers(pollen_train)

# %% [markdown]
# The SHAP entry passes the target class explicitly: SHAP's `GradientExplainer` would otherwise
# explain each model's *top* class, which changes once the sanity check randomises the model.
#
# ## Faithfulness on the pollen CNN
#
# 16 test images (every sixth), each explained for the class the model predicts;
# {numref}`fig-evaluation-deletion-insertion` shows the mean curves of every method.

# %%
pick = list(range(0, len(pollen_test.labels), 6))[:16]
images = inference.to_float(pollen_test.images[pick])
target = inference.predict_proba(pollen_model, images).argmax(dim=1)
print(f"images: {len(pick)}; predicted correctly: {int((target == pollen_test.labels[pick]).sum())}")
maps, costs, curves = {}, {}, {}
for name, explain in pollen_methods.items():
    maps[name], costs[name] = evaluation.measure_cost(pollen_model, lambda: explain(pollen_model, images, target),
                                                      len(images))
    curves[name] = evaluation.deletion_insertion(pollen_model, images, maps[name], target, steps=16)

# %% mystnb={"figure": {"caption": "Deletion (left, lower is better) and insertion (right, higher is better) on the pollen CNN: the probability of the class as the top-ranked pixels are removed or put back, mean over the images, one line per method; the two controls are dashed.", "name": "fig-evaluation-deletion-insertion"}, "image": {"alt": "Two line charts with the fraction of pixels on the horizontal axis and the class probability on the vertical axis, one line per method. In deletion the curves fall at different speeds, some no faster than the random control; in insertion the Grad-CAM and LIME curves rise earliest."}}
figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for name, curve in curves.items():
    style = "--" if name in ("random", "edge detector") else "-"
    axes[0].plot(curve.fractions, curve.deletion.mean(0), style, label=name)
    axes[1].plot(curve.fractions, curve.insertion.mean(0), style, label=name)
for axis, title in zip(axes, ("deletion (lower is better)", "insertion (higher is better)")):
    axis.set_title(title)
    axis.set_xlabel("fraction of pixels")
axes[0].set_ylabel("probability of the class")
axes[1].legend(fontsize=7, loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# {numref}`fig-evaluation-maps` shows one image and all its maps (absolute values, capped at the
# 99th percentile).

# %% mystnb={"figure": {"caption": "One pollen grain and its maps by every method and by both controls (absolute values, capped at the 99th percentile).", "name": "fig-evaluation-maps"}, "image": {"alt": "Ten grey-scale panels in two rows: the grain, random noise, an edge map outlining the grain, speckled saliency, guided-backprop, SmoothGrad, Integrated Gradients and SHAP maps, a smooth coarse Grad-CAM blob, and LIME's flat superpixel patches."}}
example = 3
panels = [images[example]] + [attribution.cap(maps[name][example:example + 1].abs())[0] for name in pollen_methods]
plotting.image_grid(panels, [pollen_test.classes[target[example]]] + list(pollen_methods), ncols=5, size=2.0,
                    cmap="gray")
plt.show()

# %% [markdown]
# ## Sanity check: cascading randomisation
#
# Four of the images (every explanation is recomputed once per randomised layer); the pollen CNN's
# layers are re-initialised from the classifier down to the first convolution block. Each point is
# the mean Spearman correlation between the map of the partly random model and the original map
# ({numref}`fig-evaluation-randomisation`).

# %% mystnb={"figure": {"caption": "Cascading randomisation on the pollen CNN: Spearman rank correlation (left) and SSIM (right) between each method's map and its original map, as the layers are re-initialised from the classifier down.", "name": "fig-evaluation-randomisation"}, "image": {"alt": "Two line charts with the randomised layers on the horizontal axis, from the classifier down to features.0, one line per method. The controls stay at the top; the methods' lines lie lower and fall as more layers are randomised, guided backprop and LIME highest among them and Grad-CAM lowest."}}
layers = chapter.POLLEN_RANDOMIZATION_LAYERS  # classifier, features.3, ..., features.0
randomization = {name: evaluation.cascading_randomization(pollen_model, explain, images[:4], target[:4], layers,
                                                         original=maps[name][:4])  # the maps above, not recomputed
                 for name, explain in pollen_methods.items()}
figure, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for name, result in randomization.items():
    style = "--" if name in ("random", "edge detector") else "-"
    axes[0].plot(range(len(layers)), result.spearman.nanmean(dim=1), style, marker="o", label=name)
    axes[1].plot(range(len(layers)), result.ssim.mean(dim=1), style, marker="o", label=name)
for axis, title in zip(axes, ("Spearman rank correlation", "SSIM")):
    axis.set_xticks(range(len(layers)), [f"up to\n{layer}" for layer in layers], fontsize=8)
    axis.set_title(title + " with the original map")
    axis.axhline(0, color="black", linewidth=0.5)
axes[1].legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The summary table
#
# Deletion and insertion AUC are means over the 16 images; "rank corr." columns are the mean
# Spearman correlation after randomising the classifier only and after randomising every layer
# (near 0: the map depends on the model, as it should; near 1: it does not); passes are counted
# per image.

# %%
rows = {}
for name in pollen_methods:
    rows[name] = {"deletion AUC": curves[name].deletion_auc.mean().item(),
                  "insertion AUC": curves[name].insertion_auc.mean().item(),
                  "rank corr. (top layer random)": randomization[name].spearman[0].nanmean().item(),
                  "rank corr. (all random)": randomization[name].spearman[-1].nanmean().item(),
                  "forward passes": costs[name].forward, "backward passes": costs[name].backward}
summary = pd.DataFrame(rows).T
print(summary.round(2).to_string())

# %% [markdown]
# Seconds depend on the machine and vary from run to run, so the cell that adds them to the table
# is not compared by the book's regression tests (`NBVAL_IGNORE_OUTPUT`); everything above is.

# %%
# NBVAL_IGNORE_OUTPUT
summary["seconds per image"] = [costs[name].seconds for name in pollen_methods]
print(summary.round(2).assign(**{"seconds per image": summary["seconds per image"].round(4)}).to_string())

# %% [markdown]
# ## The ImageNet model
#
# The gradient methods and the controls on eight ImageNet sample images, deletion and insertion in
# 10 steps (every step costs a forward pass of the large model per image). The target layer of
# Grad-CAM is the model's last convolutional stage.

# %%
imagenet_settings = {"Grad-CAM": {"layer": classifier.target_layer}}
imagenet_names = ("random", "edge detector", "saliency", "Integrated Gradients", "guided backprop", "SmoothGrad",
                  "Grad-CAM")
imagenet_methods = {name: methods.bind(name, **imagenet_settings.get(name, {})) for name in imagenet_names}
# Two 224x224 images per backward pass (about 0.2 GB of activations) keep the kernel within a
# reader's memory (Binder: 2 GB); four would take the chapter past its 1.8 GB budget.
for name in imagenet_names[2:]:
    imagenet_methods[name] = evaluation.in_passes(imagenet_methods[name])
picture_ids = list(range(0, 1000, 125))
pictures = torch.stack([imagenet[i][0] for i in picture_ids])
picture_target = inference.predict_proba(classifier.model, pictures).argmax(dim=1)
imagenet_rows = {}
for name, explain in imagenet_methods.items():
    result, cost = evaluation.measure_cost(classifier.model, lambda: explain(classifier.model, pictures, picture_target),
                                           len(pictures))
    curve = evaluation.deletion_insertion(classifier.model, pictures, result, picture_target, steps=10)
    imagenet_rows[name] = {"deletion AUC": curve.deletion_auc.mean().item(),
                           "insertion AUC": curve.insertion_auc.mean().item(),
                           "forward passes": cost.forward, "backward passes": cost.backward}
print(pd.DataFrame(imagenet_rows).T.round(2).to_string())

# %% [markdown]
# ## Facing three numbers
#
# Three results of these tables contradict what the book's sources lead one to expect; each gets a
# measurement instead of a shrug.
#
# **Integrated Gradients below the random map on ImageNet deletion.** The table's IG integrates
# from a black image in 32 steps and ranks pixels by the signed sum over channels; deletion then
# replaces the top-ranked pixels by a blurred copy. Each of those choices can be changed on the
# same eight images: a blurred image as IG's baseline, 64 steps, the magnitude instead of the
# signed value as the ranking, and the mean colour as the deletion reference.

# %%
variants = {"black, 32 steps, signed (the table)": {}, "black, 64 steps, signed": {"steps": 64},
            "black, 32 steps, magnitude": {"reduction": "abs_sum"}, "blur, 32 steps, signed": {"baseline": "blur"},
            "blur, 32 steps, magnitude": {"baseline": "blur", "reduction": "abs_sum"}}
ig_rows = {}
for name, settings in {"random map": None, **variants}.items():
    # IG runs two images per backward pass; the random map is one draw for all eight, as in the table.
    explain = methods.bind("random") if settings is None else evaluation.in_passes(
        methods.bind("Integrated Gradients", **settings))
    maps_now = explain(classifier.model, pictures, picture_target)
    for reference in ("blur", "mean"):
        curve = evaluation.deletion_insertion(classifier.model, pictures, maps_now, picture_target, steps=10,
                                              reference=reference)
        ig_rows.setdefault(name, {})[f"deletion ({reference})"] = curve.deletion_auc.mean().item()
        ig_rows[name][f"insertion ({reference})"] = curve.insertion_auc.mean().item()
print(pd.DataFrame(ig_rows).T.round(2).to_string())

# %% [markdown]
# The number of steps is not the reason (64 steps: 0.35 again). The baseline and the deletion
# reference are. Integrated from the *blurred* image, the image deletion and insertion fill in
# with, the signed IG map becomes the most faithful map of the ImageNet tables: deletion 0.06,
# insertion 0.68. From the black image, IG explains the difference between the picture and black;
# deletion asks about the difference between the picture and its blur; the pixels that matter most
# against black need not matter against the blur. Measured with the mean colour as the reference
# instead, the same black-baseline IG is more faithful than the random map on deletion (0.11
# against 0.18), though not on insertion (0.14 against 0.19). Ranking by magnitude instead of the
# signed sum also helps on blur deletion (0.20). A below-random score says that the method's
# reference and the score's reference disagree; it does not say that IG is broken. Report both
# references with the score.
#
# **"IG is the best attribution" on the pollen CNN?** The pollen study the book follows says that
# Integrated Gradients "seems to overperform all the other algorithms", without saying how it
# compared them ({doc}`../book/sources`). On the book's own pollen CNN the summary table
# above ranks the methods as follows (1 = most faithful; random and edge detector included):

# %%
ranks = pd.DataFrame({"deletion rank": summary["deletion AUC"].rank().astype(int),
                      "insertion rank": summary["insertion AUC"].rank(ascending=False).astype(int)})
print(ranks.T.to_string())

# %% [markdown]
# Half of the claim holds. IG is the second most faithful method on deletion, after SHAP's
# `GradientExplainer` (expected gradients, itself an average of IG over baselines drawn from
# training images), but eighth of nine on insertion, above only the random map. As the ImageNet
# experiment shows, IG's score depends on the reference the score uses; "IG is best" holds for
# one measure on this model, not in general.
#
# **Guided backpropagation's 1.00.** In the guided-backprop chapter the ImageNet model's guided
# maps did not change at all, neither for a far class nor with a random classifier (correlation
# 1.00 in both). The same check on both models here: the correlation of each image's map with the
# map after the classifier alone is re-initialised, for the plain gradient and for guided
# backprop.

# %%
head_checks = {}
for model_name, model, batch, batch_target, head in (
        ("pollen CNN (ReLU)", pollen_model, images, target, "classifier"),
        (f"{classifier.name} (ReLU6)", classifier.model, pictures, picture_target, classifier.head_layer)):
    random_head = evaluation.randomized_copy(model, [head], seed=1)
    for name in ("saliency", "guided backprop"):
        explain = evaluation.in_passes(methods.bind(name))
        head_checks.setdefault(model_name, {})[name] = features.pearson_per_image(
            explain(model, batch, batch_target), explain(random_head, batch, batch_target)).median().item()
print("median corr. of each map with the map of the model with a random classifier:")
print(pd.DataFrame(head_checks).round(2).to_string())

# %% [markdown]
# On the pollen CNN, whose four blocks use plain ReLUs, guided backprop's maps change little when
# the classifier is replaced (median correlation 0.87, against 0.34 for the gradient); on
# EfficientNet-Lite0 they do not change at all (1.00, against 0.49). The 1.00 is therefore not an
# artefact of the ReLU6 swap (the guided-backprop chapter checks that the swapped copy computes
# the same outputs, and the pollen CNN needs no swap): guided backpropagation is insensitive to
# the top of the network on both models, and entirely so on the deeper one. That is what the
# literature predicts. Adebayo et al. {cite}`adebayo2018sanity` found guided backprop nearly
# invariant to randomising the top layers; Nie et al. {cite}`nie2018theoretical` showed that it
# performs a partial image recovery, decided by the input and the first layers; Sixt et al.
# {cite}`sixt2020explanations` showed that for many modified backpropagation rules the backward
# pass loses what the later layers contribute as the network gets deeper, so the map stops
# depending on the class and on the top of the network.
#
# ## Reading the table
#
# - **The sanity check separates the methods.** The random map and the edge detector do not
#   depend on the model at all (rank correlation 1 whatever is randomised). Guided
#   backpropagation keeps most of its map when the classifier is randomised (the top-layer column):
#   it fails the check, as Adebayo et al. found and as the guided-backprop chapter suspected.
#   Grad-CAM, Integrated Gradients, SmoothGrad and SHAP change most (rank correlation 0.39 or
#   less once the top layer is random), saliency a little less (0.47); LIME keeps more of its
#   structure after the top layer is randomised (0.73), and all of them fall well below 1 once
#   every layer is random.
# - **Deletion and insertion disagree, so read both, next to the controls.** On the pollen CNN,
#   IG and SHAP give the lowest deletion AUC, but their insertion AUC is barely above random;
#   Grad-CAM and LIME, whose maps are coarse regions, are the best at insertion and the worst at
#   deletion. Deletion rewards maps whose top pixels are scattered over fine texture: replacing
#   them breaks the image in ways the network never saw in training, and the probability falls
#   for that reason as much as for the evidence removed (the criticism behind ROAR
#   {cite}`hooker2019benchmark`). Insertion rewards maps that bring back a coherent object. The edge detector, which knows
#   nothing about the model, beats the random map on insertion on both models and on deletion on
#   ImageNet: part of every faithfulness score is about the image, not the model.
# - **Faithfulness and the sanity check measure different things.** On ImageNet, guided
#   backpropagation scores among the best on deletion and insertion while failing the sanity
#   check: a map that follows the object's edges removes and restores the evidence well without
#   explaining the model.
# - **The price differs by two orders of magnitude.** Grad-CAM and saliency need one forward and
#   one backward pass per image (Grad-CAM the fewest seconds: its backward pass stops early);
#   SmoothGrad, IG and SHAP tens of each (SmoothGrad 50 with the book's setting); LIME hundreds of
#   forward passes.
#
# The [benchmark](#benchmark) below checks that the book's settings for these methods are at
# least as fast as the libraries' defaults for the same output.
#
# (benchmark)=
# ## Benchmark: the book's settings against the libraries' defaults
#
# `benchmarks/evaluation_speed.py` runs the same explanations with the settings used in this
# book and with the defaults of captum, pytorch-grad-cam and lime, and prints the time ratios
# (library default / book; above 1 means the book's setting is faster) and how close the outputs
# are. Run it with `make bench`; its last stored result is read here. Chunking is what makes the
# difference for IG and SmoothGrad (and keeps IG's memory bounded: in one batch, 32 steps of 8
# ImageNet images took 22 GB on the 24 GiB machine of the measurement, 50 steps did not fit). For
# LIME on the small pollen CNN the model is not the bottleneck, LIME's own perturbation and
# regression are, so the batch size hardly matters.

# %%
measured = data.MEASURED_DIR  # shipped with the package
print(pd.read_json(measured / "evaluation_speed.json", typ="series").to_string())
print(pd.read_csv(measured / "evaluation_speed.csv", sep=";").to_string(index=False))

# %% [markdown]
# ## Summary
#
# - Deletion/insertion curves measure whether the pixels a map ranks first matter to the model;
#   cascading randomisation measures whether the map depends on the model at all; pass counts
#   measure the price. No single number is enough.
# - Guided backpropagation fails the sanity check (its map barely depends on the classifier);
#   Grad-CAM, IG, SmoothGrad, SHAP and saliency change most with the model, LIME less.
# - Deletion and insertion can rank the same methods in opposite orders; a random and a
#   model-independent control show what a score is worth.
# - A score is a score against a reference: IG from a black image falls below the random map when
#   deletion fills in a blurred copy, and becomes the most faithful map when it integrates from
#   that blurred copy too. Guided backprop's insensitivity grows with depth (0.87 on the pollen
#   CNN, 1.00 on EfficientNet-Lite0).
# - Cost spans from one forward and backward pass (Grad-CAM, saliency) to hundreds of forward
#   passes (LIME); choose the cheapest method that passes the checks for your question.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** On a deletion curve, lower is better; on an insertion curve, higher is better. Why, and
# why does the chapter report both?
#
# :::{admonition} Answer
# :class: dropdown
# Deletion removes the pixels a map ranks highest first: if the map is faithful, the probability of
# the class falls fast and the area under the curve is small. Insertion starts from the blurred
# image and puts the top pixels back first: if the map is faithful, the probability rises fast and
# the area is large. A map can do well on one of them by exploiting what the reference image does to
# the model; two views with opposite directions guard against that.
# :::
#
# **2.** The edge detector and the random map pass the randomisation check perfectly (rank
# correlation 1.00). Is that good?
#
# :::{admonition} Answer
# :class: dropdown
# No. Both maps do not depend on the model at all, so randomising the model cannot change them. A
# perfect score on the randomisation check exposes them: a method whose maps explain the model must
# change when the model is destroyed, so low correlations are what a faithful method shows.
# :::
#
# **3.** Why does the chapter count forward and backward passes instead of only timing the
# methods?
#
# :::{admonition} Answer
# :class: dropdown
# Seconds depend on the machine, its load and the batch size; they vary by about 10 % from run to
# run here. Passes are the cost of a method on any machine: with the time of one forward and
# backward pass a reader can predict a method's time on their own hardware. And counts are the same
# on every run, so they can stand in the stored outputs.
# :::
#
# ### Exercise 1
#
# Use the mean colour instead of the blurred image as the deletion reference (`reference="mean"`).
# Does the ranking of the methods change?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
mean_reference = {name: evaluation.deletion_insertion(pollen_model, images, maps[name], target, steps=16,
                                                      reference="mean")
                  for name in pollen_methods}
references = pd.DataFrame({"deletion, blur": {n: curves[n].deletion_auc.mean().item() for n in pollen_methods},
                           "deletion, mean colour": {n: mean_reference[n].deletion_auc.mean().item() for n in pollen_methods},
                           "insertion, blur": {n: curves[n].insertion_auc.mean().item() for n in pollen_methods},
                           "insertion, mean colour": {n: mean_reference[n].insertion_auc.mean().item() for n in pollen_methods}})
print(references.round(2).to_string())
print("deletion ranks (1 = most faithful):")
print(references[["deletion, blur", "deletion, mean colour"]].rank().astype(int).T.to_string())

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Yes, in the middle of the table. With the mean colour as reference every AUC falls (a flat colour
# removes more of the image than a blur), and the order changes: saliency moves from 4th to 2nd
# place on deletion, guided backprop from 5th to 3rd, while Integrated Gradients drops from 2nd to
# 4th and the random map from 3rd to 5th. Gradient SHAP stays first and Grad-CAM and LIME stay last.
# A faithfulness score is a score for a method *and* a reference: the reference decides what a
# deleted pixel looks like to the model, and methods whose top pixels are fine texture gain most
# when deletion paints flat colour over them. Report the reference with the score, and check that a
# conclusion survives a change of it.
# :::
#
# ### Exercise 2
#
# Add `features.1` as Grad-CAM's layer as a second Grad-CAM row. Is it more or less faithful?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
from xaihelpers import hooks

shallow_maps = methods.get("Grad-CAM")(pollen_model, images, target, layer="features.1")
shallow = evaluation.deletion_insertion(pollen_model, images, shallow_maps, target, steps=16)
print(f"{'Grad-CAM layer':15s} {'map size':>8s} {'deletion AUC':>13s} {'insertion AUC':>14s}")
for layer, curve in (("features.3", curves["Grad-CAM"]), ("features.1", shallow)):
    with torch.no_grad(), hooks.LayerRecorder(pollen_model, [layer]) as recorder:
        pollen_model(images[:1])
    side = recorder.activations[layer].shape[-1]
    print(f"{layer:15s} {side:4d}x{side:<3d} {curve.deletion_auc.mean():13.2f} {curve.insertion_auc.mean():14.2f}")
print(f"{'random map':15s} {'':8s} {curves['random'].deletion_auc.mean():13.2f} {curves['random'].insertion_auc.mean():14.2f}")

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Slightly more faithful on deletion, equal on insertion. At `features.1` (16 x 16 cells) the
# deletion AUC is 0.41 against 0.48 at `features.3` (4 x 4 cells); the insertion AUC is 0.65 for
# both. Both stay worse than the random map on deletion (0.25): Grad-CAM's maps are coarse regions,
# and deletion rewards scattered fine pixels, as the table above already showed for every
# region-based method. The finer layer helps deletion a little because its map has more than 16
# distinct cells to rank, but it keeps the same regions in front, which is what insertion measures.
# :::
#
# ### Exercise 3
#
# Run LIME with 1000 samples instead of 300. How much do its AUCs improve, at what cost?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
half = len(images) // 2  # eight images: the cost of 1,000 samples on all sixteen would exceed the chapter's budget
lime_more, lime_more_cost = evaluation.measure_cost(
    pollen_model, lambda: methods.get("LIME")(pollen_model, images[:half], target[:half], num_samples=1000), half)
more = evaluation.deletion_insertion(pollen_model, images[:half], lime_more, target[:half], steps=16)
print(f"{'LIME':12s} {'deletion AUC':>13s} {'insertion AUC':>14s} {'forward passes':>15s}  (first {half} images)")
print(f"{'300 samples':12s} {curves['LIME'].deletion_auc[:half].mean():13.2f} {curves['LIME'].insertion_auc[:half].mean():14.2f} "
      f"{costs['LIME'].forward:15.0f}")
print(f"{'1000 samples':12s} {more.deletion_auc.mean():13.2f} {more.insertion_auc.mean():14.2f} {lime_more_cost.forward:15.0f}")
print(f"Spearman between the 300- and 1000-sample maps: {evaluation.spearman_per_image(maps['LIME'][:half], lime_more).mean():.2f}")

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Not at all, at 3.3 times the cost. On the first eight images LIME with 1,000 samples has the same
# deletion and insertion AUCs as with 300 (0.56 and 0.70), and the two maps rank the pixels alike
# (Spearman 0.98): with 40 superpixels, 300 perturbed images already pin down LIME's linear model.
# The cost is counted, not timed: 1,000 forward passes per image instead of 300. More samples buy
# stability when there are many superpixels (the CIFAR-10 LIME chapter measures it); here they buy
# nothing.
# :::
#
# ### Exercise 4
#
# Randomise the layers bottom-up instead of top-down (independent randomisation). Which methods now
# look robust, and why is that misleading?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
cheap_methods = ["edge detector", "saliency", "guided backprop", "Integrated Gradients", "Grad-CAM"]
independent = {}
for layer in reversed(layers):  # bottom-up: features.0 first, one layer at a time, the others trained
    changed = evaluation.randomized_copy(pollen_model, [layer], seed=0)
    independent[layer] = {name: evaluation.spearman_per_image(maps[name][:4], pollen_methods[name](changed, images[:4], target[:4]).detach()).nanmean().item()
                          for name in cheap_methods}
print("rank correlation with the trained model's map when only this layer is random:")
print(pd.DataFrame(independent).round(2).to_string())

# %% [markdown]
# :::{admonition} Solution to exercise 4
# :class: dropdown
# Randomising one layer at a time, with all others trained, guided backprop keeps most of its map
# whichever layer is random (rank correlation 0.44 to 0.81), and the edge detector keeps all of it
# (1.00). Saliency and Integrated Gradients change at every layer (0.16 to 0.47). Grad-CAM's maps at
# `features.3` become constant for all four images when `features.1` or `features.3` alone is
# random, so they have no ranking (NaN), and they are reordered otherwise (-0.19 to 0.21). A high
# correlation here means "insensitive to this layer", and a method can look robust layer by layer
# while it ignores the model as a whole: guided backprop passes the independent test best precisely
# because it depends on the model least. Cascading randomisation, which destroys the model from the
# top down, removes that excuse; the chapter's main table uses it for this reason.
# :::
