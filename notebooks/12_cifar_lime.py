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
# # LIME on three CIFAR-10 architectures: superpixels decide what can be said
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/12_cifar_lime.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F12_cifar_lime.ipynb)
#
# LIME {cite}`ribeiro2016why` explains one prediction with a simple surrogate. It cuts the image
# into superpixels, switches random subsets of them off (here: fills them with their mean colour,
# LIME's default), asks the network for the class probability of each perturbed image, and fits
# a weighted linear model from "which superpixels were on" to that probability; perturbations
# close to the original image weigh more. Each superpixel's coefficient is its explanation.
#
# Two choices are the user's, not the model's, and this chapter measures both:
#
# 1. **the segmentation**: the explanation can only ever be as fine as the superpixels. We compare
#    three algorithms from scikit-image: Felzenszwalb's graph-based segmentation
#    {cite}`felzenszwalb2004efficient`, Quickshift {cite}`vedaldi2008quick` (LIME's default) and
#    SLIC {cite}`achanta2012slic`;
# 2. **the number of samples** `num_samples`: the surrogate is fitted to random perturbations, so
#    with too few the coefficients are noise.
#
# Cost: `num_samples` forward passes per image and class, no backward pass; the network is called
# through a *batched* prediction function (`xaihelpers.explainers.lime_predict_fn`), which takes
# LIME's `(N, H, W, 3)` arrays, uint8 or float, and returns probabilities.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability of single predictions; comparing architectures |
# | **Who** | model users, model developers |
# | **What** | superpixel importances from a local linear surrogate |
# | **How** | perturbation of superpixels; three segmentations; sample counts |
# | **When** | after training |
# | **Where** | the three CIFAR-10 CNNs (any model that outputs probabilities) |
# | **Source** | the study it follows: the master's thesis "Explainability of neural networks based on their architecture" (XAINN): LIME; see {doc}`../book/sources` |
# | **Before** | {doc}`10_evaluation` (deletion and insertion); {doc}`11_cifar_callbacks` (the three CIFAR-10 networks) |

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util, subprocess, sys  # noqa: E401 - the one cell that runs before the helpers exist
if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("cifar10/test")

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from skimage.segmentation import mark_boundaries

from xaihelpers import attribution, chapter, claims, evaluation, explainers, plotting, repro

repro.seed_everything()
# The committed checkpoints; the CIFAR-10 test set from $XAI_DATA_ROOT.
comparison, models, classes, images = chapter.cifar_comparison(device="cpu")
print(comparison.accuracy_table()[["design", "test accuracy", "test loss"]].to_string())

# %% [markdown]
# The five fixed test images of the CIFAR chapters (chosen by rule in the callbacks chapter):
# two that all networks classify correctly, one they all get wrong, two on which they disagree.

# %%
print(comparison.example_table().to_string())

# %% tags=["remove-cell"]
# The kinds of the five images the paragraph above names, checked against the example table.
claims.holds("two images all networks get right, one they all get wrong, two on which they disagree",
             sorted(comparison.example_kinds) == ["all_right", "all_right", "all_wrong", "disagree", "disagree"])

# %% [markdown]
# ## Three segmentations of the same images
#
# At 32x32 pixels a superpixel is a handful of pixels. The settings (in `explainers.SEGMENTATIONS`)
# give 8 to 42 segments per image; Felzenszwalb follows colour edges and makes segments of
# very different sizes, Quickshift's count varies most with the image's texture, SLIC makes compact,
# similar-sized cells ({numref}`fig-lime-segmentations`).

# %% mystnb={"figure": {"caption": "Felzenszwalb, Quickshift and SLIC superpixels of the five images, one row per segmentation; the titles give the number of segments.", "name": "fig-lime-segmentations"}, "image": {"alt": "Three rows of five small images with the superpixel boundaries drawn on them. Felzenszwalb's segments differ strongly in size, Quickshift's are the fewest and largest on some images, and SLIC's are compact cells of similar size."}}
segmenters = {name: make() for name, make in explainers.SEGMENTATIONS.items()}
pictures = images.permute(0, 2, 3, 1).double().numpy()
panels, titles, counts = [], [], {}
for name, segment in segmenters.items():
    counts[name] = []
    for picture in pictures:
        segments = segment(picture)
        counts[name].append(len(np.unique(segments)))
        panels.append(mark_boundaries(picture, segments, color=(1, 1, 0)))
        titles.append(f"{name}: {counts[name][-1]}")
print(pd.DataFrame(counts, index=pd.Index(comparison.example_index, name="test index")).T.to_string())
plotting.image_grid(panels, titles, ncols=5, size=2.0)
plt.show()

# %% tags=["remove-cell"]
# The segment counts the paragraph above states, checked against the segmentations.
claims.holds("the settings give 8 to 42 segments per image",
             min(min(c) for c in counts.values()) == 8 and max(max(c) for c in counts.values()) == 42)
claims.holds("Quickshift's count varies most",
             np.ptp(counts["quickshift"]) > max(np.ptp(counts["felzenszwalb"]), np.ptp(counts["slic"])))

# %% [markdown]
# ## LIME for every architecture and segmentation
#
# Each network explains **its own** predicted class (so on the images where they disagree, each
# explains a different decision). 500 samples per explanation, a fixed random state. Red: the
# superpixel raises the probability of the class; blue: it lowers it. {numref}`fig-lime-plain`,
# {numref}`fig-lime-gap` and {numref}`fig-lime-allconv` show the three networks.

# %%
num_samples = 500
predicted = {arch: comparison.predictions[arch][comparison.example_index] for arch in models}
# Each network's answers to the batches of perturbed images it has seen: a run with the same seed
# and image hands over the same first batches again, and those are answered without a pass.
answers = {arch: {} for arch in models}
lime = {}
for arch, model in models.items():
    for name in segmenters:
        lime[arch, name] = explainers.lime_maps(model, images, predicted[arch], num_samples=num_samples,
                                                segmentation=explainers.SEGMENTATIONS[name](), batch_size=100,
                                                answers=answers[arch])


def show_lime(arch):
    """The five images, then one row of ``arch``'s LIME maps per segmentation (one figure per network)."""
    panels = list(images)
    titles = [f"#{i}, true {classes[comparison.test.labels[i]]}" for i in comparison.example_index]
    for name in segmenters:
        scaled = attribution.signed_scale(lime[arch, name], 100)
        for index, signed in enumerate(scaled):
            panels.append(plotting.signed_rgb(signed))
            titles.append(f"{name}: {classes[predicted[arch][index]]}")
    plotting.image_grid(panels, titles, ncols=5, size=1.9, suptitle=f"LIME, {arch}")
    plt.show()


# %% mystnb={"figure": {"caption": "LIME maps of the plain network: the five images (top row), then one row of maps per segmentation, each explaining the network's own predicted class on a signed scale centred on zero.", "name": "fig-lime-plain"}, "image": {"alt": "Four rows of five panels: the images, then signed superpixel maps for Felzenszwalb, Quickshift and SLIC, titled with the predicted class. One image gets differently shaped and differently placed strong regions under the three segmentations."}}
show_lime("plain")

# %% mystnb={"figure": {"caption": "LIME maps of the gap network: the five images (top row), then one row of maps per segmentation, each explaining the network's own predicted class on a signed scale centred on zero.", "name": "fig-lime-gap"}, "image": {"alt": "Four rows of five panels: the images, then signed superpixel maps for Felzenszwalb, Quickshift and SLIC, titled with the predicted class. As for the plain network, the strong regions of one image change with the segmentation."}}
show_lime("gap")

# %% mystnb={"figure": {"caption": "LIME maps of the allconv network: the five images (top row), then one row of maps per segmentation, each explaining the network's own predicted class on a signed scale centred on zero.", "name": "fig-lime-allconv"}, "image": {"alt": "Four rows of five panels: the images, then signed superpixel maps for Felzenszwalb, Quickshift and SLIC, titled with the predicted class. Again the strong regions of one image change with the segmentation, and several maps mix positive and negative regions."}}
show_lime("allconv")

# %% [markdown]
# ## How much do the explanations agree?
#
# We compare maps by the Spearman rank correlation of their pixels' absolute values (how much a
# pixel matters, whatever the sign; `evaluation.spearman_per_image`), per image, then average over
# the five images: first the three segmentations for the same network, then the three networks
# for the same segmentation. A correlation of 1 means the same ranking of pixels.

# %%
def mean_spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    return evaluation.spearman_per_image(a, b).mean().item()


names = list(segmenters)
pairs = [(names[i], names[j]) for i in range(3) for j in range(i + 1, 3)]
across_segmentations = pd.DataFrame({arch: {f"{a} vs {b}": mean_spearman(lime[arch, a], lime[arch, b])
                                            for a, b in pairs} for arch in models}).round(2)
print("same network, different segmentations:")
print(across_segmentations.to_string())
archs = list(models)
model_pairs = [(archs[i], archs[j]) for i in range(3) for j in range(i + 1, 3)]
agree = torch.stack([predicted[a] == predicted[b] for a, b in model_pairs])
across_models = pd.DataFrame({name: {f"{a} vs {b}": mean_spearman(lime[a, name], lime[b, name])
                                     for a, b in model_pairs} for name in segmenters}).round(2)
print("\nsame segmentation, different networks (all five images):")
print(across_models.to_string())

# %% tags=["remove-cell"]
# The comparison the next paragraph makes, checked against the two tables.
claims.holds("two segmentations of the same network's explanation barely correlate",
             across_segmentations.to_numpy().max() < 0.3)
claims.holds("the segmentation changes LIME's answer more than the architecture does: every pair of segmentations "
             "of one network correlates less than every pair of networks with one segmentation",
             across_segmentations.to_numpy().max() < across_models.to_numpy().min())

# %% [markdown]
# The segmentation changes LIME's answer for one and the same network *more* than the architecture
# does: two segmentations of the same network's explanation barely correlate, while two networks
# explained with the same segmentation agree moderately. The superpixels are part of the
# explanation. Read a LIME map as "which of *these* regions matter", never as a pixel-level
# statement. Does agreement on the class mean agreement on the reasons?

# %%
rows = []
for (a, b), same in zip(model_pairs, agree):
    for name in segmenters:
        correlation = evaluation.spearman_per_image(lime[a, name], lime[b, name])
        rows.append({"pair": f"{a} vs {b}", "segmentation": name,
                     "same prediction": correlation[same].mean().item() if same.any() else float("nan"),
                     "different prediction": correlation[~same].mean().item() if (~same).any() else float("nan")})
by_agreement = pd.DataFrame(rows).groupby("segmentation")[["same prediction", "different prediction"]].mean()
print(by_agreement.round(2).to_string())

# %% tags=["remove-cell"]
# The pattern the next paragraph describes, checked against the table (differences of the printed means).
difference = (by_agreement["same prediction"] - by_agreement["different prediction"]).round(2)
claims.holds("with Quickshift and SLIC, networks that predict the same class get more similar maps",
             difference["quickshift"] > 0 and difference["slic"] > 0)
claims.holds("with Felzenszwalb's segments the difference vanishes", abs(difference["felzenszwalb"]) <= 0.02)
claims.holds("each pair of networks disagrees on only one or two of the five images",
             set((~agree).sum(dim=1).tolist()) <= {1, 2})

# %% [markdown]
# On these five images, with Quickshift and SLIC, networks that predict the same class get more
# similar maps than networks that disagree; with Felzenszwalb's irregular segments the difference
# vanishes. Five images are few, and each pair of networks disagrees on only one or two of them:
# treat this as a pattern to test on more images, not a result.
#
# ## How many samples?
#
# LIME's coefficients are estimates from random perturbations. For the **gap** network and SLIC
# superpixels we explain the first three images with three different random states at each
# sample count, and report (a) how well the three runs agree with each other and (b) how well they
# agree with a reference run of 2,000 samples.

# %%
model, slic = models["gap"], explainers.SEGMENTATIONS["slic"]()
subset, target = images[:3], predicted["gap"][:3]
reference = explainers.lime_maps(model, subset, target, num_samples=2000, segmentation=slic, batch_size=200, seed=99)
rows = {}
for count in (50, 100, 300, 1000):
    runs = [explainers.lime_maps(model, subset, target, num_samples=count, segmentation=slic, batch_size=200, seed=seed,
                                 answers=answers["gap"])
            for seed in range(3)]
    rows[count] = {"between seeds": np.mean([mean_spearman(runs[i], runs[j]) for i in range(3) for j in range(i + 1, 3)]),
                   "with 2000-sample reference": np.mean([mean_spearman(run, reference) for run in runs])}
stability = pd.DataFrame(rows).T.rename_axis("num_samples").round(3)
print(stability.to_string())

# %% tags=["remove-cell"]
# The next paragraph and self-check question 3 (0.91 with 300 samples), checked against the table.
claims.number("0.91", stability.loc[300, "between seeds"])
claims.holds("agreement between seeds grows with the number of samples", stability["between seeds"].is_monotonic_increasing)
claims.holds("50 samples give a rough ranking and a few hundred a stable one",
             stability.loc[50, "between seeds"] < 0.8 and stability.loc[300, "between seeds"] > 0.9)

# %% [markdown]
# With a few tens of superpixels, 50 samples give a rough ranking and a few hundred a stable one;
# LIME's default of 1,000 is a safe choice for images this small. More superpixels need more
# samples: the surrogate has one coefficient per superpixel to estimate. (The three are test images,
# so this measurement chooses nothing: it asks no label, only how much the maps move between
# random states, and the chapter's 500 samples were fixed before it. To choose a sample count for
# your own work, measure it on images held out from both the training and the test set.)
#
# ## The prediction function and its batch size
#
# LIME hands the prediction function `batch_size` perturbed images at a time, as a NumPy array,
# channels last. The book's `lime_predict_fn` converts them to a tensor in the network's layout
# and runs the network in chunks of `inference.images_per_pass` images (128 at 32 x 32 pixels:
# on a CPU larger chunks are slower per image). Beyond that, LIME's own `batch_size` hardly
# matters for networks this small (the timings below are measured each time the chapter runs, so
# they vary).

# %%
predict = explainers.lime_predict_fn(models["plain"])
probabilities = predict((pictures * 255).round().astype(np.uint8))
print(f"input {pictures.shape} uint8 -> output {probabilities.shape}; rows sum to 1: "
      f"{np.allclose(probabilities.sum(axis=1), 1)}")

# %%
# NBVAL_IGNORE_OUTPUT
for batch_size in (10, 100):
    start = time.perf_counter()
    explainers.lime_maps(models["plain"], images[:1], predicted["plain"][:1], num_samples=1000,
                         segmentation=slic, batch_size=batch_size)
    print(f"batch_size {batch_size:4d}: {time.perf_counter() - start:.2f} s for one explanation with 1000 samples")

# %% [markdown]
# ## Summary
#
# - LIME fits a local linear surrogate on superpixels switched on and off; it needs only forward
#   passes (`num_samples` per explanation) and a batched prediction function.
# - The segmentation is part of the explanation: Felzenszwalb, Quickshift and SLIC give maps that
#   agree little for the *same* network, on these five images less than two *different* networks
#   agree for the same segmentation.
# - On these five images, networks that predicted the same class got more similar LIME maps than
#   networks that disagreed, with Quickshift and SLIC superpixels but not with Felzenszwalb's; each
#   pair of networks disagrees on only one or two images, so this is a pattern to test on more
#   images, not a result.
# - The surrogate's coefficients are random estimates; their ranking stabilises after a few
#   hundred samples for a few tens of superpixels. Always fix LIME's `random_state`.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** What does LIME fit, and to which data?
#
# :::{admonition} Answer
# :class: dropdown
# A weighted linear model (ridge regression) of the classifier's probability for the explained
# class. Its data are perturbed copies of the image in which random subsets of superpixels are
# switched off (filled with their mean colour), each weighted by how close it is to the original.
# The features are the on/off switches of the superpixels, and their weights are the map.
# :::
#
# **2.** Why can two segmentations of the same image give LIME maps that hardly correlate, even
# for the same network?
#
# :::{admonition} Answer
# :class: dropdown
# The segmentation defines the features LIME can use. A region that one segmentation keeps whole and
# another splits or merges with its neighbours gets a different weight, because it is a different
# question. With a few hundred samples the weights are also noisy, so the maps depend on the
# segmentation as much as on the network.
# :::
#
# **3.** Between two seeds the maps agree at 0.91 with 300 samples. What does that say about
# their faithfulness?
#
# :::{admonition} Answer
# :class: dropdown
# Nothing. Agreement between seeds says the estimate has converged; whether the converged map
# describes the model's behaviour is a different question, which a test such as the deletion curve
# answers (exercise 4).
# :::
#
# ### Exercise 1
#
# Use LIME's "hide" colour: fill switched-off superpixels with black (`hide_color=0`) instead of
# their mean colour. How do the maps of the three networks change?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 1: LIME maps with SLIC superpixels when switched-off superpixels are filled with black, one row per network.", "name": "fig-lime-exercise-black-fill"}, "image": {"alt": "Three rows (plain, gap, allconv) of five signed superpixel maps. Each map has a few strongly weighted patches, placed differently by each network."}} tags=["hide-cell"]
black = {arch: explainers.lime_maps(model, images, predicted[arch], num_samples=num_samples, hide_color=0,
                                    segmentation=explainers.SEGMENTATIONS["slic"](), batch_size=100)
         for arch, model in models.items()}
print("slic, 500 samples: Spearman between the mean-colour and the black-fill maps, per image")
black_spearman = {arch: evaluation.spearman_per_image(lime[arch, "slic"], black[arch]) for arch in models}
for arch in models:
    print(f"{arch:8s} " + " ".join(f"{v:5.2f}" for v in black_spearman[arch].tolist()))
panels = [plotting.signed_rgb(s) for arch in models for s in attribution.signed_scale(black[arch], 100)]
plotting.image_grid(panels, [f"{arch}, black fill" for arch in models for _ in images], ncols=5, size=1.9)
plt.show()

# %% tags=["remove-cell"]
# The correlations the solution states, checked against the printed table.
every_black = torch.cat([black_spearman[arch] for arch in models])
claims.number("-0.15", every_black.min())
claims.number("0.69", every_black.max())
claims.number("0.69", black_spearman["plain"].max())
claims.number("-0.05", black_spearman["plain"].min())
claims.number("0.20", black_spearman["gap"].min())
claims.number("0.40", black_spearman["gap"].max())
claims.number("-0.15", black_spearman["allconv"].min())
claims.number("0.59", black_spearman["allconv"].max())

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# They change a lot ({numref}`fig-lime-exercise-black-fill`), and differently for each network and
# image: the Spearman correlation between the mean-colour and the black-fill maps ranges from -0.15
# to 0.69 (plain 0.69 down to -0.05, gap 0.20 to 0.40, allconv -0.15 to 0.59). With `hide_color=0`,
# switching a superpixel off paints it black. A black patch is itself a strong signal (the dark sky
# of the all-wrong image looks like one) rather than the removal of detail, and LIME then measures
# how the network reacts to that replacement. The fill colour is part of LIME's question, like the
# baseline of Integrated Gradients: a map answers relative to a chosen "absence".
# :::
#
# ### Exercise 2
#
# Make SLIC's superpixels twice as many (`n_segments=50`). How many samples are needed now for the
# same stability as above?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
finer = explainers.slic_segmentation(n_segments=50, compactness=10.0)
coarse_counts, finer_counts = [len(np.unique(slic(p))) for p in pictures[:3]], [len(np.unique(finer(p))) for p in pictures[:3]]
print("superpixels per image, slic 25 vs 50:", coarse_counts, finer_counts)
finer_rows = {}
for count in (300, 1000, 2000):
    runs = [explainers.lime_maps(model, subset, target, num_samples=count, segmentation=finer, batch_size=200, seed=seed,
                                 answers=answers["gap"])
            for seed in range(3)]
    finer_rows[count] = np.mean([mean_spearman(runs[i], runs[j]) for i in range(3) for j in range(i + 1, 3)])
print(pd.DataFrame({"25 segments": stability["between seeds"], "50 segments": pd.Series(finer_rows)}).round(3).to_string())

# %% tags=["remove-cell"]
# The counts and agreements the solution states, checked against the printed tables.
claims.holds("asked for 50 segments, SLIC finds 28 to 33 superpixels; 25 gave 18 to 21",
             (min(finer_counts), max(finer_counts)) == (28, 33) and (min(coarse_counts), max(coarse_counts)) == (18, 21))
claims.number("0.918", finer_rows[300])
claims.number("0.913", stability.loc[300, "between seeds"])
claims.number("0.974", finer_rows[1000])
claims.number("0.987", finer_rows[2000])
claims.holds("the finer superpixels need no more samples than the coarser ones",
             all(finer_rows[count] >= stability.loc[count, "between seeds"] for count in (300, 1000)))

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# No more than before, on these images. Asked for 50 segments, SLIC finds only 28 to 33 superpixels
# on a 32 x 32 image (25 gave 18 to 21). With 300 samples two seeds agree at 0.918, as the coarser
# maps did (0.913); 1,000 samples give 0.974 and 2,000 give 0.987. LIME's regression estimates one
# weight per superpixel, and 30 weights are still few for 300 samples. The rule that more
# superpixels need more samples only bites at many more superpixels than a CIFAR-10 image can hold.
# :::
#
# ### Exercise 3
#
# Explain the *second* most likely class of the all-wrong image. Which regions speak for it?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: LIME maps of the most and of the second most likely class for the image all three networks get wrong, for each network.", "name": "fig-lime-exercise-second-class"}, "image": {"alt": "Seven panels in a row: the dark airplane image, then for plain, gap and allconv a pair of signed superpixel maps titled with the class. In most maps the dark background at the top carries a strong weight and the plane itself little."}} tags=["hide-cell"]
wrong_position = comparison.example_kinds.index("all_wrong")
wrong_image = images[wrong_position:wrong_position + 1]
panels, titles = [wrong_image[0]], [f"true {classes[comparison.test.labels[comparison.example_index[wrong_position]]]}"]
runner_up = {}
for arch, model in models.items():
    with torch.no_grad():
        probabilities = model(wrong_image).softmax(dim=1)[0]
    first, second = probabilities.argsort(descending=True)[:2].tolist()
    # The perturbed images are the ones of this image's map above (same seed): the answers are kept.
    maps = {c: explainers.lime_maps(model, wrong_image, torch.tensor([c]), num_samples=num_samples,
                                    segmentation=explainers.SEGMENTATIONS["slic"](), batch_size=100,
                                    answers=answers[arch]) for c in (first, second)}
    correlation = evaluation.spearman_per_image(maps[first], maps[second]).item()
    runner_up[arch] = {"first": classes[first], "second": classes[second],
                       "probability": probabilities[second].item(), "Spearman": correlation}
    print(f"{arch:8s} #1 {classes[first]} {probabilities[first]:.2f}, #2 {classes[second]} {probabilities[second]:.2f}; "
          f"Spearman between their LIME maps {correlation:5.2f}")
    for c in (first, second):
        panels.append(plotting.signed_rgb(attribution.signed_scale(maps[c], 100)[0]))
        titles.append(f"{arch}: {classes[c]}")
plotting.image_grid(panels, titles, ncols=7, size=1.9)
plt.show()

# %% tags=["remove-cell"]
# The classes, probabilities and correlations the solution states, checked against the printed lines.
claims.holds("all three networks call the airplane a cat; the second class is bird for plain, deer for gap and allconv",
             all(runner_up[arch]["first"] == "cat" for arch in models)
             and [runner_up[arch]["second"] for arch in ("plain", "gap", "allconv")] == ["bird", "deer", "deer"])
claims.number("0.07", runner_up["plain"]["probability"])
claims.number("0.23", runner_up["gap"]["probability"])
claims.number("0.07", runner_up["allconv"]["probability"])
claims.number("0.31", min(r["Spearman"] for r in runner_up.values()))
claims.number("0.73", max(r["Spearman"] for r in runner_up.values()))

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# For the airplane that all three networks call a cat, the second class is bird for plain
# (probability 0.07) and deer for gap (0.23) and allconv (0.07). Its LIME map agrees more with the
# cat's map than not (Spearman 0.31 to 0.73), but the correlation is taken on absolute weights, so
# it says that the same regions matter for both classes, not that they speak for both: a region that
# speaks for one class and against the other counts as agreement too. The maps show this
# ({numref}`fig-lime-exercise-second-class`). For deer, the top left of the image (the left wing tip
# against the dark sky) speaks strongly for it; the same region speaks more weakly for allconv's cat
# and against gap's cat, whose strongest regions are the top right and the blue patch on the plane's
# right wing (allconv's cat has them too). For plain's bird, the bottom of the image, the plane's
# tip, speaks for it and the top against it, where plain's cat finds its strongest evidence. Much of
# the weight for these animal classes lies at the top, where the wings stand against the dark sky,
# and little on the plane's fuselage. The callbacks chapter explains the same image for gap by an
# exact decomposition of its class activation map, which puts the cat's evidence on the plane's
# centre; the two answer different questions: the class activation map, which positions' features
# add to the class score in gap's linear head, and LIME, which superpixels change the prediction
# when they are switched off (filled with their mean colour).
# :::
#
# ### Exercise 4
#
# Compute deletion curves (chapter on evaluation) for the three segmentations. Which segmentation
# gives the most faithful LIME maps for each network?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
deletion = pd.DataFrame({arch: {name: evaluation.deletion_insertion(model, images, lime[arch, name], predicted[arch],
                                                                   steps=16).deletion_auc.mean().item()
                                for name in segmenters}
                         for arch, model in models.items()})
random_deletion = {arch: evaluation.deletion_insertion(model, images, torch.rand(len(images), 32, 32,
                                                                                 generator=torch.Generator().manual_seed(0)),
                                                       predicted[arch], steps=16).deletion_auc.mean().item()
                   for arch, model in models.items()}
deletion.loc["random map"] = random_deletion
print("deletion AUC on the five images (lower is more faithful):")
print(deletion.round(3).to_string())
print("most faithful segmentation:", deletion.drop("random map").idxmin().to_dict())

# %% tags=["remove-cell"]
# The deletion AUCs and the ranking the solution states, checked against the printed table.
claims.holds("SLIC gives the lowest deletion AUC for all three networks",
             (deletion.drop("random map").idxmin() == "slic").all())
claims.number("0.234", deletion.loc["slic", "plain"])
claims.number("0.297", deletion.loc["slic", "gap"])
claims.number("0.242", deletion.loc["slic", "allconv"])
claims.number("0.276", deletion.loc["felzenszwalb"].min())
claims.number("0.328", deletion.loc["felzenszwalb"].max())
claims.number("0.363", deletion.loc["quickshift"].min())
claims.number("0.416", deletion.loc["quickshift"].max())
claims.number("0.368", deletion.loc["quickshift", "plain"])
claims.number("0.323", deletion.loc["random map", "plain"])
claims.holds("Quickshift's maps are worse than a random map on plain",
             deletion.loc["quickshift", "plain"] > deletion.loc["random map", "plain"])
claims.holds("Quickshift gives the fewest superpixels on several images, as few as 8",
             min(counts["quickshift"]) == 8
             and sum(counts["quickshift"][i] < min(counts["felzenszwalb"][i], counts["slic"][i]) for i in range(len(images))) >= 3)

# %% [markdown]
# :::{admonition} Solution to exercise 4
# :class: dropdown
# SLIC, for all three networks. Its deletion AUCs are 0.234 (plain), 0.297 (gap) and 0.242
# (allconv), against 0.276 to 0.328 for Felzenszwalb and 0.363 to 0.416 for quickshift. Quickshift's
# maps are even worse than a random map on plain (0.368 against 0.323). Quickshift gives the fewest
# superpixels on several images (as few as 8), so its maps rank large regions at once and the curve
# cannot follow the model's evidence; SLIC's compact, even regions rank best. Five images make this
# an indication, not a measurement; the evaluation chapter shows how to measure it on more.
# :::
