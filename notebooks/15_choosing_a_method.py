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
# the earlier chapters chose and measured.
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

from xaihelpers import attribution, chapter, inference, methods, plotting, pollen, repro, scorecard, zoo

repro.seed_everything()
device = torch.device("cpu")  # the sanity check copies the model; all of it runs on the CPU
model, _ = zoo.load("pollen_cnn")  # the committed checkpoint
test = pollen.load_split("test")  # from $XAI_DATA_ROOT
print(f"device: {device}; pollen test images: {len(test.labels)}")

# %% [markdown]
# ## The same images for every method
#
# Eight test images (every tenth), each explained for the class the model predicts; the grain
# masks give the localisation column. SHAP's background is 16 training images, as in chapter 10,
# and Grad-CAM explains the last convolution block.

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
# Deletion AUC (lower is better) and insertion AUC (higher is better) are means over the eight
# images, in 10 steps towards a blurred copy; "share on object" is the share of the map's mass on
# the grain; the "rank corr." columns are the mean Spearman correlation between the map and the map
# of the same model with its classifier re-initialised, and with every layer re-initialised, on
# four of the images (near 0: the map depends on the model, as an explanation of the model must;
# near 1: it does not). Passes are counted per image by hooks on the model.

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
# Read the table column by column; no method wins them all.
#
# - **Faithfulness.** Deletion and insertion disagree, as in chapter 10. SHAP and Integrated
#   Gradients delete best (0.18 and 0.20, the random map 0.21) but insert worst (0.23 and 0.25);
#   Grad-CAM and LIME insert best (0.58) and delete worst (0.39 and 0.32). Their difference,
#   insertion minus deletion, ranks LIME (0.26), guided backprop (0.23) and Grad-CAM (0.19) first
#   and IG (0.04) level with the edge detector.
# - **Localisation.** The grain covers 0.48 of the frame, which is what the random map puts on it.
#   The edge detector puts the most on the grain (0.57): the grain is where the image has edges.
#   Every gradient map is between 0.49 and 0.55, except Integrated Gradients (0.41), which puts more
#   of its mass on the background than chance does.
# - **Dependence on the model.** With the classifier re-initialised, guided backprop keeps a rank
#   correlation of 0.79 with its map and LIME 0.67: much of their maps is the image, not the top
#   of the model. Grad-CAM's map turns into its opposite (-0.62): it is computed from the top layer
#   and has nothing else to fall back on. The gradient methods are in between (0.28 to 0.47). With
#   every layer random all of them fall to 0.39 or less; the two controls stay at 1.
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

# %% [markdown]
# {numref}`fig-choosing-maps` shows what the columns measure. Grad-CAM gives one smooth blob at the
# resolution of its layer, LIME a few superpixels; the gradient maps are speckled, saliency and SHAP
# more than SmoothGrad, and guided backprop and SmoothGrad draw the grain's texture; they also put
# the most of the gradient maps on the grain (0.55 and 0.54). The edge detector draws the grain's
# outline without asking the model.
#
# ## A decision guide
#
# Start from the question, then check the answer with a control and a sanity check.
#
# 1. **Where in the image is the evidence for this class?** Grad-CAM: one pass, the best
#    insertion, a map that depends entirely on the model and changes with the class (chapter 2).
#    Its map is coarse, and its layer matters (exercise 2).
# 2. **Which pixels, at full resolution?** SmoothGrad rather than plain saliency: more faithful on
#    insertion (0.38 against 0.31) and less noisy, at 50 times the passes (chapter 6).
# 3. **How much does each pixel contribute, with a sign, adding up to the score?** Integrated
#    Gradients or gradient SHAP, the best at deletion here, but choose the baseline with care
#    (chapters 7 and 10): from its black baseline, IG puts less of its map on the grain than the
#    random map does.
# 4. **No gradients, or an explanation a person reads as regions?** LIME: it needs only the
#    model's outputs and scores the best insertion minus deletion here, at 300 forward passes per
#    image and with a map that depends on its segmentation (chapter 12) and partly on the image
#    alone (0.67 after the classifier is randomised).
# 5. **Sharp pictures for a talk?** Guided backprop draws the crispest texture, but it barely
#    depends on the top of the model (0.79 here; 1.00 on the ImageNet model in chapter 10): do not
#    read it as the model's reasons.
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
# - The columns disagree: the best at deletion (SHAP, IG) are the worst at insertion, the best at
#   insertion (Grad-CAM, LIME) the worst at deletion, and the map that depends least on the top of
#   the model (guided backprop) looks the sharpest.
# - Choose by the question: Grad-CAM for where the class evidence is, SmoothGrad for pixels, IG or
#   SHAP for signed, additive attributions with a chosen baseline, LIME for black boxes; always
#   with the controls and the randomisation check.

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
gaps = {}
for name, explain in explainers.items():
    curve = evaluation.deletion_insertion(model, other_images, explain(model, other_images, other_target),
                                          other_target, steps=10)
    gaps[name] = (curve.insertion_auc - curve.deletion_auc).mean().item()
ranking = pd.DataFrame({"these 8 images": card.table["insertion - deletion"].astype(float),
                        "chapter 10's 16 images": pd.Series(gaps)})
ranking["rank (8)"] = ranking["these 8 images"].rank(ascending=False).astype(int)
ranking["rank (16)"] = ranking["chapter 10's 16 images"].rank(ascending=False).astype(int)
print(ranking.round(2).to_string())
print("Spearman correlation of the two rankings:",
      round(ranking["these 8 images"].corr(ranking["chapter 10's 16 images"], method="spearman"), 2))

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# They agree closely: the Spearman correlation of the two rankings is 0.98. Only the first two
# places swap, LIME first on these eight images (0.26) and guided backprop first on chapter 10's
# sixteen (0.25, LIME 0.21); ranks 3 to 9 are the same (Grad-CAM, SmoothGrad, saliency, SHAP, the
# edge detector, IG, random). The differences between neighbouring methods are a few hundredths,
# so a ranking from eight images is a rough one; its top and its bottom are stable.
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
layer_rows = {}
for layer in ("features.3", "features.2"):
    maps = methods.METHODS["Grad-CAM"](double, images.double(), target, layer=layer)
    curve = evaluation.deletion_insertion(double, images.double(), maps, target, steps=10)
    layer_rows[layer] = {"deletion AUC": curve.deletion_auc.mean().item(),
                         "insertion AUC": curve.insertion_auc.mean().item(),
                         "share on object": features.share_inside(maps, grain).mean().item()}
print(pd.DataFrame(layer_rows).T.round(2).to_string())

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# The earlier block does better on every column here: deletion AUC 0.32 instead of 0.39, insertion
# 0.62 instead of 0.58, and 0.56 of the map on the grain instead of 0.49. Its maps have twice the
# resolution of the last block's, so they can follow the grain more closely. The last convolutional
# layer is Grad-CAM's usual choice because it is the most class-specific, not because it is the most
# faithful; on a small network whose last block sees only a few positions, a layer below it can be
# the better explanation, and the measurement, not the habit, should decide.
# :::
