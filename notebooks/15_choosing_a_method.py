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
# # Choosing a method
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/15_choosing_a_method.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F15_choosing_a_method.ipynb)
#
# The book has shown each method in its own chapter, on the images that chapter needed. This closing
# chapter puts them side by side: every attribution method of the book, run by the same helpers on
# the **same images** of the same model, and measured the same way. One table gives, per method,
# what its map explains (the "what" of its chapter's Hohman card), the passes it makes and the
# seconds it takes per image, how faithful its map is (deletion and insertion
# {cite}`petsiuk2018rise`), how much of the map lies on the object, and whether the map depends on
# the model at all (cascading randomisation {cite}`adebayo2018sanity`). A figure
# ({numref}`fig-choosing-maps`) shows all maps of the same images, and a short guide says which
# method to reach for when.
#
# The model is the book's pollen CNN (chapter 3): it was trained by the book, its images have a
# segmentable object (the grain, `pollen.grain_mask`), and every method of the registry runs on it
# within a few seconds per image. The settings are the registry's (`xaihelpers.methods`), which
# the earlier chapters chose (SmoothGrad's, for one, on validation images in chapter 6); the test
# images here only report how each method does with its setting, and nothing is tuned on them.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | choosing an explanation method for a question and a budget |
# | **Who** | model developers, users of explanations, teachers |
# | **What** | the attribution maps of every method of the book, measured on the same images |
# | **How** | one computed table, a side-by-side figure, a decision guide |
# | **When** | after training |
# | **Where** | the pollen CNN (plain ReLUs, 23 classes) |
# | **Source** | the study it follows: the course assignment "Explainable AI Assignment 2 - Model Explanations" (Banbhan, Al-Jarajrah, Essam): its summary of approaches; see {doc}`../book/sources` |
# | **Before** | {doc}`10_evaluation` (the measures); {doc}`12_cifar_lime` (LIME); {doc}`13_cifar_shap` (SHAP) |

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util, subprocess, sys  # noqa: E401 - the one cell that runs before the helpers exist
if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("pollen")

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from xaihelpers import (attribution, chapter, claims, evaluation, features, inference, intervals, methods, plotting,
                        pollen, repro, scorecard, zoo)

repro.seed_everything()
device = torch.device("cpu")  # the sanity check copies the model; all of it runs on the CPU
model, _ = zoo.load("pollen_cnn")  # the committed checkpoint
test = pollen.load_split("test")  # from $XAI_DATA_ROOT
print(f"device: {device}; pollen test images: {len(test.labels)}")

# %% tags=["remove-cell"]
# The SmoothGrad setting the next paragraph states, checked against the registry the chapter runs.
claims.setting("0.05", methods.get("SmoothGrad").defaults["sigma"], what="SmoothGrad's noise level")
claims.holds("SmoothGrad takes N = 50 samples", methods.get("SmoothGrad").defaults["samples"] == 50)

# %% [markdown]
# ## The same images for every method
#
# Eight test images (every tenth), each explained for the class the model predicts; the grain
# masks give the localisation column. SHAP's background is 16 training images, as in chapter 10,
# and Grad-CAM explains the last convolution block. SmoothGrad uses $\sigma = 0.05$ of the input
# range and $N = 50$ samples, chosen on validation images in chapter 6; these test images only
# report how that setting does.

# %%
pick = list(range(0, len(test.labels), 10))[:8]
images = inference.to_float(test.images[pick])
target = inference.predict_proba(model, images).argmax(dim=1)
grain = pollen.grain_mask(test.images[pick])
print(f"images: {len(pick)}; predicted correctly: {int((target == test.labels[pick]).sum())}; "
      f"grain covers {grain.float().mean():.2f} of the frame")
explainers = chapter.pollen_explainers(pollen.load_split("train"))  # chapter 10's settings
card = scorecard.score_methods(model, images, target, explainers, chapter.POLLEN_RANDOMIZATION_LAYERS, masks=grain,
                               steps=10, sanity_images=4)

# %% [markdown]
# ## One table
#
# Deletion AUC (lower is better), insertion AUC and insertion minus deletion (higher is better)
# are means over the eight images, in 10 steps towards a blurred copy; "share on object" is the
# share of the map's mass on the grain (plausibility to a person, not faithfulness); the "rank
# corr." columns are the mean Spearman correlation between the map and the map of the same model
# with its classifier re-initialised, and with every layer re-initialised, on four of the images
# (low is good: near 0 the map depends on the model, as an explanation of the model must; near 1
# it does not). Four images are too few to rank the methods by these two columns; they are read
# below as a rough sign. Passes are counted per image by hooks on the model.

# %%
measured = ["forward passes", "backward passes", "deletion AUC", "insertion AUC", "insertion - deletion",
            "share on object", "rank corr. (top layer random)", "rank corr. (all random)"]
print(card.table[measured].astype(float).round(2).to_string())

# %%
# NBVAL_IGNORE_OUTPUT
# (seconds depend on the machine and the run)
print(card.table[["seconds per image"]].astype(float).round(4).to_string())

# %%
with pd.option_context("display.max_colwidth", 80, "display.width", 200):
    print(card.table[["explains", "good for"]].to_string())

# %% [markdown]
# The means of eight images would move with eight others. The next cell gives each mean its 95 %
# bootstrap interval over the images, and each comparison the text below makes the paired interval
# of the per-image differences (`xaihelpers.intervals`): one method beats another only where that
# interval excludes 0; otherwise the two cannot be told apart on these eight images.

# %%
# Per image (the table holds the means): the deletion and insertion curves of the maps the table
# measured, run again (2 x 10 forward passes per image and method; no map is recomputed), and
# each map's share on the grain.
# Each value is rounded to three decimals before the bootstrap: CPUs whose kernels differ in the
# last bits then resample the same numbers and print the same intervals.
per_image = {}
for name, maps in card.maps.items():
    curve = evaluation.deletion_insertion(model, images, maps, target, steps=10)
    per_image[name] = {measure: values.double().round(decimals=3) for measure, values in (
        ("deletion AUC", curve.deletion_auc), ("insertion AUC", curve.insertion_auc),
        ("insertion - deletion", curve.insertion_auc - curve.deletion_auc),
        ("share on object", features.share_inside(maps.abs(), grain)))}
print(f"means over the {len(pick)} images and their 95 % bootstrap intervals:")
with pd.option_context("display.width", 200):
    print(pd.DataFrame({name: {measure: intervals.bootstrap_interval(values).format(2)
                               for measure, values in scores.items()}
                        for name, scores in per_image.items()}).T.to_string())
paired = {(measure, a, b): intervals.paired_interval(per_image[a][measure], per_image[b][measure])
          for measure, a, b in (("deletion AUC", "SHAP (gradient)", "random"),
                                ("deletion AUC", "Integrated Gradients", "random"),
                                ("deletion AUC", "Grad-CAM", "random"),
                                ("deletion AUC", "LIME", "random"),
                                ("insertion AUC", "SHAP (gradient)", "random"),
                                ("insertion AUC", "Integrated Gradients", "random"),
                                ("insertion AUC", "Grad-CAM", "random"),
                                ("insertion AUC", "LIME", "random"),
                                ("insertion AUC", "Grad-CAM", "LIME"),
                                ("insertion AUC", "SmoothGrad", "saliency"),
                                ("insertion - deletion", "LIME", "random"),
                                ("insertion - deletion", "guided backprop", "random"),
                                ("insertion - deletion", "Grad-CAM", "random"),
                                ("insertion - deletion", "LIME", "guided backprop"),
                                ("insertion - deletion", "LIME", "Grad-CAM"),
                                ("insertion - deletion", "guided backprop", "Grad-CAM"),
                                ("insertion - deletion", "Integrated Gradients", "edge detector"),
                                ("share on object", "edge detector", "random"),
                                ("share on object", "Integrated Gradients", "random"))}
print(f"paired differences over the same {len(pick)} images (deletion AUC: lower is better; the others: higher):")
for (measure, a, b), interval in paired.items():
    print(f"  {measure}: " + intervals.verdict(interval, a, b, digits=2))

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraph states, checked against the computation.
table = card.table
claims.holds("eight test images, every tenth", pick == list(range(0, 80, 10)))
claims.holds("the per-image curves and shares are the table's", all(
    abs(per_image[name][measure].mean().item() - float(table.loc[name, measure])) < 1e-3
    for name in per_image for measure in per_image[name]))
claims.holds("deletion and insertion disagree: the lowest deletion AUC is not the highest insertion AUC",
             table["deletion AUC"].astype(float).idxmin() != table["insertion AUC"].astype(float).idxmax())
claims.holds("SHAP and IG have the lowest deletion AUCs",
             set(table["deletion AUC"].astype(float).nsmallest(2).index) == {"SHAP (gradient)", "Integrated Gradients"})
claims.number("0.18", table.loc["SHAP (gradient)", "deletion AUC"], what="SHAP's deletion AUC")
claims.number("0.20", table.loc["Integrated Gradients", "deletion AUC"], what="IG's deletion AUC")
claims.number("0.21", table.loc["random", "deletion AUC"], what="the random map's deletion AUC")
claims.apart("SHAP deletes faster than the random map", paired["deletion AUC", "SHAP (gradient)", "random"], direction=-1, digits=2)
claims.tied("IG's deletion cannot be told apart from the random map's",
            paired["deletion AUC", "Integrated Gradients", "random"], digits=2)
claims.number("0.23", table.loc["SHAP (gradient)", "insertion AUC"], what="SHAP's insertion AUC")
claims.number("0.25", table.loc["Integrated Gradients", "insertion AUC"], what="IG's insertion AUC")
claims.number("0.21", table.loc["random", "insertion AUC"], what="the random map's insertion AUC")
claims.apart("SHAP inserts better than the random map", paired["insertion AUC", "SHAP (gradient)", "random"], digits=2)
claims.apart("IG inserts better than the random map", paired["insertion AUC", "Integrated Gradients", "random"], digits=2)
claims.holds("their insertion gains are small beside Grad-CAM's and LIME's",
             all(paired["insertion AUC", name, "random"].mean < 0.1 for name in ("SHAP (gradient)", "Integrated Gradients"))
             and all(paired["insertion AUC", name, "random"].mean > 0.3 for name in ("Grad-CAM", "LIME")))
claims.number("0.58", table.loc["Grad-CAM", "insertion AUC"], what="Grad-CAM's insertion AUC")
claims.number("0.58", table.loc["LIME", "insertion AUC"], what="LIME's insertion AUC")
claims.apart("Grad-CAM inserts better than the random map", paired["insertion AUC", "Grad-CAM", "random"], digits=2)
claims.apart("LIME inserts better than the random map", paired["insertion AUC", "LIME", "random"], digits=2)
claims.number("0.39", table.loc["Grad-CAM", "deletion AUC"], what="Grad-CAM's deletion AUC")
claims.number("0.32", table.loc["LIME", "deletion AUC"], what="LIME's deletion AUC")
claims.apart("Grad-CAM deletes worse than the random map (a higher deletion AUC)",
             paired["deletion AUC", "Grad-CAM", "random"], digits=2)
claims.tied("LIME's deletion cannot be told apart from the random map's", paired["deletion AUC", "LIME", "random"], digits=2)
claims.number("0.26", table.loc["LIME", "insertion - deletion"], what="LIME's insertion - deletion")
claims.number("0.23", table.loc["guided backprop", "insertion - deletion"], what="guided backprop's insertion - deletion")
claims.number("0.19", table.loc["Grad-CAM", "insertion - deletion"], what="Grad-CAM's insertion - deletion")
claims.holds("LIME, guided backprop and Grad-CAM have the three highest insertion - deletion",
             set(table["insertion - deletion"].astype(float).nlargest(3).index) == {"LIME", "guided backprop", "Grad-CAM"})
for name in ("LIME", "guided backprop", "Grad-CAM"):
    claims.apart(f"{name}'s insertion - deletion is above the random map's", paired["insertion - deletion", name, "random"], digits=2)
claims.tied("LIME and guided backprop cannot be told apart on insertion - deletion",
            paired["insertion - deletion", "LIME", "guided backprop"], digits=2)
claims.tied("LIME and Grad-CAM cannot be told apart on insertion - deletion",
            paired["insertion - deletion", "LIME", "Grad-CAM"], digits=2)
claims.tied("guided backprop and Grad-CAM cannot be told apart on insertion - deletion",
            paired["insertion - deletion", "guided backprop", "Grad-CAM"], digits=2)
claims.number("0.04", table.loc["Integrated Gradients", "insertion - deletion"], what="IG's insertion - deletion")
claims.number("0.04", table.loc["edge detector", "insertion - deletion"], what="the edge detector's insertion - deletion")
claims.tied("IG cannot be told apart from the edge detector on insertion - deletion",
            paired["insertion - deletion", "Integrated Gradients", "edge detector"], digits=2)
claims.number("0.48", grain.float().mean(), what="the grain's share of the frame")
claims.number("0.48", table.loc["random", "share on object"], what="the random map's share on the grain")
claims.number("0.57", table.loc["edge detector", "share on object"], what="the edge detector's share on the grain")
claims.apart("the edge detector puts more on the grain than the random map", paired["share on object", "edge detector", "random"], digits=2)
model_maps = ["saliency", "guided backprop", "SmoothGrad", "Grad-CAM", "LIME", "SHAP (gradient)"]
claims.number("0.49", table.loc[model_maps, "share on object"].astype(float).min(), what="the lowest share of the other maps")
claims.number("0.55", table.loc[model_maps, "share on object"].astype(float).max(), what="the highest share of the other maps")
claims.number("0.41", table.loc["Integrated Gradients", "share on object"], what="IG's share on the grain")
claims.holds("IG's share is below the random map's (means)",
             table.loc["Integrated Gradients", "share on object"] < table.loc["random", "share on object"])
claims.apart("IG puts less of its map on the grain than the random map",
             paired["share on object", "Integrated Gradients", "random"], direction=-1, digits=2)
claims.number("0.79", table.loc["guided backprop", "rank corr. (top layer random)"], what="guided backprop, classifier random")
claims.number("0.67", table.loc["LIME", "rank corr. (top layer random)"], what="LIME, classifier random")
claims.number("-0.62", table.loc["Grad-CAM", "rank corr. (top layer random)"], what="Grad-CAM, classifier random")
claims.number("-0.48", table.loc["Grad-CAM", "rank corr. (all random)"], what="Grad-CAM, every layer random")
claims.holds("Grad-CAM's map is anti-correlated with its trained map after both randomisations",
             table.loc["Grad-CAM", "rank corr. (top layer random)"] < 0 and table.loc["Grad-CAM", "rank corr. (all random)"] < 0)
gradient_maps = ["saliency", "SmoothGrad", "Integrated Gradients", "SHAP (gradient)"]
claims.number("0.28", table.loc[gradient_maps, "rank corr. (top layer random)"].astype(float).min(), what="lowest, other gradient methods")
claims.number("0.47", table.loc[gradient_maps, "rank corr. (top layer random)"].astype(float).max(), what="highest, other gradient methods")
explainers_only = [name for name in table.index if name not in ("random", "edge detector")]
claims.number("0.39", table.loc[explainers_only, "rank corr. (all random)"].astype(float).max(), what="highest, every layer random")
claims.holds("the two controls stay at 1", all(abs(float(table.loc[name, column]) - 1) < 0.005
                                                 for name in ("random", "edge detector")
                                                 for column in ("rank corr. (top layer random)", "rank corr. (all random)")))
one_pass = ["Grad-CAM", "saliency", "guided backprop"]
claims.holds("Grad-CAM, saliency and guided backprop make one forward and one backward pass per image",
             all(table.loc[name, "forward passes"] == 1 and table.loc[name, "backward passes"] == 1 for name in one_pass))
claims.holds("IG, SHAP and SmoothGrad make tens of forward and of backward passes",
             all(10 <= table.loc[name, column] < 100 for name in ("Integrated Gradients", "SHAP (gradient)", "SmoothGrad")
                 for column in ("forward passes", "backward passes")))
claims.holds("LIME makes 300 forward passes and takes the most seconds",
             table.loc["LIME", "forward passes"] == 300 and table["seconds per image"].astype(float).idxmax() == "LIME")

# %% [markdown]
# Read the table column by column; no method wins them all.
#
# - **Faithfulness** (means over the eight images; deletion: lower is better). Deletion and
#   insertion disagree, as in chapter 10. SHAP and Integrated Gradients have the lowest deletion
#   AUCs (0.18 and 0.20): on eight images SHAP's lies below the random map's (0.21), with a paired
#   interval that excludes 0, while IG's cannot be told apart from it. On insertion both lie just
#   above the random map (0.23 and 0.25, the random map 0.21; small gaps, but paired intervals that
#   exclude 0). Grad-CAM and LIME
#   insert far better than the random map (0.58 each); Grad-CAM deletes worse than it (0.39), and
#   LIME's 0.32 cannot be told apart from it. Insertion minus deletion puts LIME (0.26), guided
#   backprop (0.23) and Grad-CAM (0.19) above the random map, but the three cannot be told apart
#   from one another on these images (on chapter 10's sixteen, guided backprop comes first:
#   exercise 1); IG (0.04) cannot be told apart from the edge detector (0.04).
# - **Localisation.** The grain covers 0.48 of the frame, and the random map puts 0.48 of its mass
#   on it. The edge detector puts more there (0.57): the grain is where the image has edges. The
#   model's other maps put between 0.49 and 0.55 on it, except Integrated Gradients, whose 0.41
#   lies below the random map's share (a paired interval that excludes 0): from its black
#   baseline, IG puts more of its mass on the background than chance would.
# - **Dependence on the model** (four images, low is good). With the classifier re-initialised,
#   guided backprop's map keeps a rank correlation of 0.79 with its trained map and LIME's 0.67:
#   much of their maps is the image, not the top of the model. Grad-CAM's map is anti-correlated
#   with its trained map instead (-0.62, and -0.48 with every layer random). It changes with the
#   weights, as a map computed from the top layer must; but a correlation that far below 0 means
#   the random model's map is still tied to the trained one, turned around, so the check does not
#   show that it depends on the model alone. On chapter 10's four images the same check leaves
#   Grad-CAM much nearer 0: on four images, how far below 0 it goes depends on the images. The
#   other gradient methods keep 0.28 to 0.47. With every layer random all of them fall to 0.39 or
#   less; the two controls stay at 1.
# - **Cost.** Grad-CAM, saliency and guided backprop make one forward and one backward pass per
#   image; Integrated Gradients, SHAP and SmoothGrad tens of each; LIME 300 forward passes, and the
#   most seconds.
#
# ## All maps of the same images
#
# Three of the images, one column per method (absolute values, capped at the 99th percentile, as
# in chapter 10).

# %% mystnb={"figure": {"caption": "Three pollen grains and their maps by every method of the book and by both controls (absolute values, capped at the 99th percentile); one row per grain, one column per method.", "name": "fig-choosing-maps"}, "image": {"alt": "Three rows of ten grey-scale panels: the grain, random noise, an edge map outlining the grain, speckled gradient maps (saliency, guided backprop, SmoothGrad, Integrated Gradients, SHAP), a smooth coarse Grad-CAM blob and LIME's flat superpixel patches."}}
shown = [0, 3, 6]
panels, titles = [], []
for index in shown:
    panels.append(images[index])
    titles.append(test.classes[target[index]])
    for name, maps in card.maps.items():
        panels.append(attribution.cap(maps[index:index + 1].abs())[0])
        titles.append(name)
plotting.image_grid(panels, titles, ncols=len(card.maps) + 1, size=1.6, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraphs state, checked against the computation.
claims.number("0.55", table.loc["guided backprop", "share on object"], what="guided backprop's share on the grain")
claims.number("0.54", table.loc["SmoothGrad", "share on object"], what="SmoothGrad's share on the grain")
claims.apart("Grad-CAM inserts better than the random map", paired["insertion AUC", "Grad-CAM", "random"], digits=2)
claims.tied("Grad-CAM's and LIME's insertion cannot be told apart", paired["insertion AUC", "Grad-CAM", "LIME"], digits=2)
claims.number("0.58", table.loc["Grad-CAM", "insertion AUC"], what="Grad-CAM's insertion AUC")
claims.number("-0.62", table.loc["Grad-CAM", "rank corr. (top layer random)"], what="Grad-CAM, classifier random")
claims.holds("Grad-CAM's map turns around with a random classifier", table.loc["Grad-CAM", "rank corr. (top layer random)"] < 0)
claims.apart("Grad-CAM deletes worse than the random map", paired["deletion AUC", "Grad-CAM", "random"], digits=2)
claims.holds("SmoothGrad makes 50 times the passes of saliency",
             table.loc["SmoothGrad", "forward passes"] == 50 * table.loc["saliency", "forward passes"]
             and table.loc["SmoothGrad", "backward passes"] == 50 * table.loc["saliency", "backward passes"])
claims.number("0.38", table.loc["SmoothGrad", "insertion AUC"], what="SmoothGrad's insertion AUC")
claims.number("0.31", table.loc["saliency", "insertion AUC"], what="saliency's insertion AUC")
claims.apart("SmoothGrad inserts better than saliency on these test images",
            paired["insertion AUC", "SmoothGrad", "saliency"], digits=2)
claims.tied("IG's deletion cannot be told apart from the random map's", paired["deletion AUC", "Integrated Gradients", "random"], digits=2)
claims.apart("SHAP deletes faster than the random map", paired["deletion AUC", "SHAP (gradient)", "random"], direction=-1, digits=2)
claims.number("0.41", table.loc["Integrated Gradients", "share on object"], what="IG's share on the grain")
claims.number("0.48", table.loc["random", "share on object"], what="the random map's share on the grain")
claims.number("0.26", table.loc["LIME", "insertion - deletion"], what="LIME's insertion - deletion")
claims.apart("LIME's insertion - deletion is above the random map's", paired["insertion - deletion", "LIME", "random"], digits=2)
claims.tied("LIME and guided backprop cannot be told apart on insertion - deletion",
            paired["insertion - deletion", "LIME", "guided backprop"], digits=2)
claims.tied("LIME and Grad-CAM cannot be told apart on insertion - deletion", paired["insertion - deletion", "LIME", "Grad-CAM"], digits=2)
claims.holds("LIME makes 300 forward passes per image", table.loc["LIME", "forward passes"] == 300)
claims.number("0.67", table.loc["LIME", "rank corr. (top layer random)"], what="LIME, classifier random")
claims.number("0.79", table.loc["guided backprop", "rank corr. (top layer random)"], what="guided backprop, classifier random")
claims.holds("the lowest deletion AUCs are SHAP's and IG's",
             set(table["deletion AUC"].astype(float).nsmallest(2).index) == {"SHAP (gradient)", "Integrated Gradients"})
claims.apart("LIME inserts better than the random map", paired["insertion AUC", "LIME", "random"], digits=2)

# %% [markdown]
# {numref}`fig-choosing-maps` shows what the columns measure. Grad-CAM gives one smooth blob at the
# resolution of its layer, LIME a few superpixels; the gradient maps are speckled, saliency and SHAP
# more than SmoothGrad, and guided backprop and SmoothGrad draw the grain's texture, putting 0.55
# and 0.54 of their mass on it. The edge detector draws the grain's outline without asking the
# model.
#
# ## A decision guide
#
# Start from the question, then check the answer with a control and a sanity check.
#
# 1. **Where in the image is the evidence for this class?** Grad-CAM: one pass; its insertion
#    (0.58) is far above the random map's and level with LIME's, and its map changes with the
#    class (chapter 2) and when the model is randomised, where it turns around (-0.62 with a
#    random classifier, on four images) rather than becoming unrelated to its trained map. Its
#    map is coarse, its deletion is worse than the random map's, and its layer matters
#    (exercise 2).
# 2. **Which pixels, at full resolution?** SmoothGrad rather than plain saliency: a less noisy map
#    of the same gradient ({numref}`fig-choosing-maps`), at 50 times the passes, with its noise
#    level and sample count chosen on validation images in chapter 6. The test images here only
#    report: on these eight, its insertion is higher than saliency's (0.38 against 0.31; the paired
#    interval excludes 0).
# 3. **How much does each pixel contribute, with a sign, adding up to the score?** Integrated
#    Gradients or gradient SHAP. They have the lowest deletion AUCs here; on eight images SHAP's
#    is below the random map's and IG's cannot be told apart from it. Choose the baseline with care (chapters 7 and
#    10): from its black baseline, IG puts 0.41 of its map on the grain, against the random map's
#    0.48.
# 4. **No gradients, or an explanation a person reads as regions?** LIME: it needs only the
#    model's outputs. Its insertion minus deletion (0.26) is above the random map's but cannot be
#    told apart from guided backprop's or Grad-CAM's on eight images; it costs 300 forward passes
#    per image, and its map depends on its segmentation (chapter 12) and partly on the image
#    alone (0.67 after the classifier is randomised, on four images).
# 5. **Sharp pictures for a talk?** Guided backprop draws the crispest texture, but it barely
#    depends on the top of the model (0.79 after the classifier is randomised, on four images
#    here; on the ImageNet model in chapter 10 its map does not change at all): do not read it as
#    the model's reasons.
# 6. **Whatever the method:** put the random map and the edge detector next to it, run the
#    randomisation check, and report deletion *and* insertion. A single number or a single pretty
#    map decides nothing.
#
# The other techniques of the book answer other questions than "which pixels mattered for this
# image", so they have no row in the table:
#
# | question | technique | chapter |
# |---|---|---|
# | what does a layer detect? | filters and feature maps | {doc}`01_filters_feature_maps` |
# | what does the network think a class looks like? | class-model visualisation | {doc}`08_class_model_visualisation` |
# | how sure is the prediction? | Monte-Carlo dropout | {doc}`09_mc_dropout` |
# | what happens inside a layer during a pass? | forward-hook callbacks | {doc}`11_cifar_callbacks` |
# | how do two models differ? | the same method on both (LIME, SHAP, Grad-CAM) | {doc}`12_cifar_lime`, {doc}`13_cifar_shap` |
# | how does a heat map's texture change? | lacunarity, colour groups | {doc}`14_continual_learning` |
# | can I trust this map? | deletion, insertion, randomisation | {doc}`10_evaluation` and this chapter |
#
# ## Summary
#
# - Every attribution method of the book, on the same eight pollen images, with one call of
#   `scorecard.score_methods`: passes, seconds, deletion and insertion AUC, share on the grain and
#   two randomisation checks, next to what each map explains.
# - The columns disagree, and eight images separate fewer methods than the table's decimals
#   suggest: SHAP and IG, with the lowest deletion AUCs, cannot be told apart from the random map
#   on eight images; Grad-CAM and LIME insert far better than the random map, and Grad-CAM deletes
#   worse than it; guided backprop, whose map keeps most of itself when the classifier is
#   randomised, looks the sharpest.
# - Choose by the question: Grad-CAM for where the class evidence is, SmoothGrad for pixels (its
#   setting chosen on validation images in chapter 6), IG or SHAP for signed, additive
#   attributions with a chosen baseline, LIME for black boxes; always with the controls and the
#   randomisation check.

# %% tags=["remove-cell"]
# The comparison the first self-check question states, checked against the table's means.
claims.holds("the edge detector can score a better (lower) deletion AUC than some attribution methods",
             float(table.loc["edge detector", "deletion AUC"]) < table.loc[["Grad-CAM", "LIME"], "deletion AUC"].astype(float).min())

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** The edge detector ignores the model, yet it can score a better deletion AUC than some
# attribution methods. Why is it in the table, and what would it mean for a method to score like it?
#
# :::{admonition} Answer
# :class: dropdown
# It is a control. Deleting strong edges removes much of what any classifier uses, so a map that
# marks edges scores reasonably on deletion without knowing anything about the model. A method that
# scores like the edge detector, and whose map also survives the randomisation of the model (a rank
# correlation near 1), may be showing the image's structure rather than the model's reasons.
# :::
#
# **2.** Why is one number not enough to choose a method?
#
# :::{admonition} Answer
# :class: dropdown
# The columns measure different things. Deletion and insertion measure faithfulness to the model's
# output, the randomisation column measures whether the map depends on the model, the passes and
# seconds measure cost, and the share on the object measures plausibility to a human. A map can be
# faithful and hard to read, or sharp and independent of the model. The question (debugging one
# decision, auditing a data set, teaching) decides which column matters most.
# :::
#
# ### Exercise 1
#
# Rank the methods by insertion minus deletion on these eight images and on the sixteen images of
# chapter 10 (every sixth test image). Do the two rankings agree?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
from xaihelpers import evaluation

other_pick = list(range(0, len(test.labels), 6))[:16]
other_images = inference.to_float(test.images[other_pick])
other_target = inference.predict_proba(model, other_images).argmax(dim=1)
gaps, other_scores = {}, {}
for name, explain in explainers.items():
    # Chapter 10 explains these images with the same methods: where it ran first, its maps are read.
    maps_now = chapter.shared_maps(explain, model, other_images, other_target)
    curve = evaluation.deletion_insertion(model, other_images, maps_now, other_target, steps=10)
    other_scores[name] = curve.insertion_auc - curve.deletion_auc  # one value per image
    gaps[name] = other_scores[name].mean().item()
ranking = pd.DataFrame({"these 8 images": card.table["insertion - deletion"].astype(float),
                        "chapter 10's 16 images": pd.Series(gaps)})
ranking["rank (8)"] = ranking["these 8 images"].rank(ascending=False).astype(int)
ranking["rank (16)"] = ranking["chapter 10's 16 images"].rank(ascending=False).astype(int)
print(ranking.round(2).to_string())
agreement = ranking["these 8 images"].corr(ranking["chapter 10's 16 images"], method="spearman")
print("Spearman correlation of the two rankings:", round(agreement, 2))

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# Whether the images tell the top places apart: paired intervals of insertion - deletion.
top_pairs = (("LIME", "guided backprop"), ("LIME", "Grad-CAM"), ("guided backprop", "Grad-CAM"))
top_differences = {}
for label, scores in (("these 8 images", {name: per_image[name]["insertion - deletion"] for name in per_image}),
                      ("chapter 10's 16 images", other_scores)):
    print(f"{label}, insertion - deletion:")
    for a, b in top_pairs:
        top_differences[label, a, b] = intervals.paired_interval(scores[a], scores[b])
        print("  " + intervals.verdict(top_differences[label, a, b], a, b, digits=2))

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.98", agreement, what="Spearman correlation of the two rankings")
by_rank = {column: list(ranking.sort_values(column).index) for column in ("rank (8)", "rank (16)")}
claims.holds("only the first two places swap: LIME first on 8 images, guided backprop first on 16",
             by_rank["rank (8)"][:2] == ["LIME", "guided backprop"] and by_rank["rank (16)"][:2] == ["guided backprop", "LIME"])
claims.holds("ranks 3 to 9 are the same: Grad-CAM, SmoothGrad, saliency, SHAP, the edge detector, IG, random",
             by_rank["rank (8)"][2:] == by_rank["rank (16)"][2:] == ["Grad-CAM", "SmoothGrad", "saliency", "SHAP (gradient)",
                                                                      "edge detector", "Integrated Gradients", "random"])
claims.number("0.26", ranking.loc["LIME", "these 8 images"], what="LIME, 8 images")
claims.number("0.25", ranking.loc["guided backprop", "chapter 10's 16 images"], what="guided backprop, 16 images")
claims.number("0.21", ranking.loc["LIME", "chapter 10's 16 images"], what="LIME, 16 images")
for label in ("these 8 images", "chapter 10's 16 images"):
    claims.tied(f"LIME and guided backprop cannot be told apart on {label}",
                top_differences[label, "LIME", "guided backprop"], digits=2)

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# The two orders agree closely: the Spearman correlation of the two rankings is 0.98. Only the
# first two places swap, LIME first on these eight images (0.26) and guided backprop first on
# chapter 10's sixteen (0.25, LIME 0.21); ranks 3 to 9 are the same (Grad-CAM, SmoothGrad,
# saliency, SHAP, the edge detector, IG, random). But an order is not a difference: the paired
# intervals cannot tell LIME and guided backprop apart on either set, so which of them comes
# first is not something eight or sixteen images decide. The differences between neighbouring
# methods are a few hundredths, so read a ranking from a handful of images only where the paired
# interval of two methods excludes 0.
# :::
#
# ### Exercise 2
#
# Grad-CAM explains one layer. Explain the second-to-last block (`features.2`) instead of the last
# (`features.3`): what happens to the faithfulness and the localisation?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
import copy

from xaihelpers import features

# In float64: features.2's deletion AUC lies within 1e-5 of 0.315, and the float32 maps of other
# CPUs rank a few pixels differently, enough to print 0.31 on one CPU and 0.32 on another.
double = copy.deepcopy(model).double()
layer_rows, layer_scores = {}, {}
for layer in ("features.3", "features.2"):
    maps = methods.METHODS["Grad-CAM"](double, images.double(), target, layer=layer)
    curve = evaluation.deletion_insertion(double, images.double(), maps, target, steps=10)
    layer_scores[layer] = {"deletion AUC": curve.deletion_auc, "insertion AUC": curve.insertion_auc,
                           "share on object": features.share_inside(maps, grain)}  # one value per image
    layer_rows[layer] = {measure: values.mean().item() for measure, values in layer_scores[layer].items()}
print(pd.DataFrame(layer_rows).T.round(2).to_string())

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# features.2 minus features.3 over the same eight images (deletion AUC: lower is better; the others: higher).
layer_differences = {measure: intervals.paired_interval(layer_scores["features.2"][measure],
                                                        layer_scores["features.3"][measure])
                     for measure in layer_rows["features.2"]}
for measure, interval in layer_differences.items():
    print(f"{measure}: " + intervals.verdict(interval, "features.2", "features.3", digits=2))

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.32", layer_rows["features.2"]["deletion AUC"], what="features.2, deletion AUC")
claims.number("0.39", layer_rows["features.3"]["deletion AUC"], what="features.3, deletion AUC")
claims.number("0.62", layer_rows["features.2"]["insertion AUC"], what="features.2, insertion AUC")
claims.number("0.58", layer_rows["features.3"]["insertion AUC"], what="features.3, insertion AUC")
claims.number("0.56", layer_rows["features.2"]["share on object"], what="features.2, share on the grain")
claims.number("0.49", layer_rows["features.3"]["share on object"], what="features.3, share on the grain")
claims.holds("the earlier block's means are better on every column",
             layer_rows["features.2"]["deletion AUC"] < layer_rows["features.3"]["deletion AUC"]
             and layer_rows["features.2"]["insertion AUC"] > layer_rows["features.3"]["insertion AUC"]
             and layer_rows["features.2"]["share on object"] > layer_rows["features.3"]["share on object"])
claims.apart("features.2 deletes faster than features.3", layer_differences["deletion AUC"], direction=-1, digits=2)
claims.apart("features.2 inserts better than features.3", layer_differences["insertion AUC"], digits=2)
claims.apart("features.2 puts more of its map on the grain", layer_differences["share on object"], digits=2)

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# On these eight images the earlier block's means are better on every column: deletion AUC 0.32
# instead of 0.39 (lower is better), insertion 0.62 instead of 0.58, and 0.56 of the map on the
# grain instead of 0.49. Its maps have twice the resolution of the last block's, so they can
# follow the grain more closely. On all three columns the paired interval over the eight images
# excludes 0, so on these images the earlier block explains better; eight images from one CNN are
# still a small sample to carry that beyond them. The last
# convolutional layer is Grad-CAM's usual choice because it is the most class-specific, not
# because it is the most faithful; on a small network whose last block sees only a few
# positions, a layer below it can be the better explanation, and the measurement, on enough
# images to separate the two, not the habit, should decide.
# :::
