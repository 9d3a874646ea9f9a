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
# # SmoothGrad: removing noise by adding noise
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/06_smoothgrad.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F06_smoothgrad.ipynb)
#
# The gradient of a ReLU network jumps from pixel to pixel: the score is piecewise linear, and
# tiny changes of the input switch units on and off. **SmoothGrad** {cite}`smilkov2017smoothgrad`
# averages the gradient over $N$ copies of the image with Gaussian noise and shows the magnitude
# of the average,
#
# $$
# \hat M_c(x) = \Big|\frac{1}{N} \sum_{n=1}^{N} \nabla_x S_c\big(x + \varepsilon_n\big)\Big|, \qquad
# \varepsilon_n \sim \mathcal{N}(0, \sigma^2),
# $$
#
# where $\sigma$ is given as a fraction of the input range ($x_{\max} - x_{\min} = 1$ here) and a
# pixel's value is the largest over its three colour channels. The gradients are averaged *with
# their signs*, so that flips from one noisy copy to the next cancel, and the magnitude is taken
# afterwards, as Smilkov et al. define it. captum's `NoiseTunnel` around `Saliency` averages the
# *absolute* gradients by default, which never cancel; the chapter shows that variant beside the
# paper's as a named alternative (`average="absolute"`). Cost: $N$ forward and backward passes per
# image, run a few noisy copies at a time. `xaihelpers.attribution.smoothgrad` computes what
# `NoiseTunnel` computes but draws the noise itself (`repro.gaussian`): torch's `normal`, which
# `NoiseTunnel` calls, draws other numbers from the same seed on CPUs with and without AVX2.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: a less noisy sensitivity map |
# | **Who** | model developers, learners |
# | **What** | gradients of the class score, averaged over noisy copies of the input |
# | **How** | a grid of noise level x number of samples; the setting chosen by faithfulness |
# | **When** | after training |
# | **Where** | any differentiable classifier; pollen CNN and ImageNet model |
# | **Source** | the study it follows: ExaplainNET (Engrima18/ExaplainNET): SmoothGrad with a grid of noise against samples; see {doc}`../book/sources` |
# | **Before** | {doc}`04_saliency` (saliency maps) |

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

from xaihelpers import attribution, chapter, claims, evaluation, features, inference, intervals, plotting, pollen, repro

repro.seed_everything()
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")



# %% [markdown]
# ## Noise level x number of samples
#
# One pollen test image ({numref}`fig-smoothgrad-grid`); rows are noise levels $\sigma$, columns the
# number of samples $N$. The first column ($\sigma = 0$) is the plain saliency map.

# %% mystnb={"figure": {"caption": "SmoothGrad maps of one pollen grain: rows are noise levels $\\sigma$, columns the number of samples $N$; the first column repeats the plain gradient.", "name": "fig-smoothgrad-grid"}, "image": {"alt": "A grid of grey-scale maps in five rows and four columns. The first column is the same grainy plain gradient; along a row more samples make the map smoother, small noise brings out the grain's outline and a few bright spots, and large noise leaves an even blur."}}
index = int((pollen_test.labels == 3).nonzero()[0])  # the first grain of class 3
pollen_images = inference.to_float(pollen_test.images)
target = inference.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
image, label = pollen_images[index:index + 1], target[index:index + 1]
sigmas, counts = (0.02, 0.05, 0.1, 0.2, 0.3), (5, 20, 50)
plain = attribution.smoothgrad(pollen_model, image, label, sigma=0.0, samples=1, seed=0)
# N = 50 with both averages from one run of the same noisy copies: the next figure shows the other.
most = max(counts)
at_most = {sigma: attribution.smoothgrad_sweep(pollen_model, image, label, sigma=sigma, counts=[most], seed=0)
           for sigma in sigmas}
panels, titles = [], []
for sigma in sigmas:
    panels.append(attribution.cap(plain)[0])
    titles.append("plain gradient")
    for count in counts:
        maps = at_most[sigma]["signed", most] if count == most else attribution.smoothgrad(
            pollen_model, image, label, sigma=sigma, samples=count, seed=0)
        panels.append(attribution.cap(maps)[0])
        titles.append(f"sigma {sigma}, N {count}")
plotting.image_grid(panels, titles, ncols=1 + len(counts), size=2.0, cmap="gray",
                    suptitle=f"SmoothGrad on a {pollen_test.classes[pollen_test.labels[index]]} grain")
plt.show()

# %% [markdown]
# ## Signed or absolute averaging
#
# The same grain with $N = 50$ ({numref}`fig-smoothgrad-averages`): the paper's signed average (top
# row) and captum's default, the average of absolute gradients (bottom row).

# %% mystnb={"figure": {"caption": "SmoothGrad of the same grain with 50 samples at five noise levels: the paper's signed average (top row) and captum's default, the average of absolute gradients (bottom row).", "name": "fig-smoothgrad-averages"}, "image": {"alt": "Two rows of five grey-scale maps, the noise growing to the right. The signed-average maps stay speckled with some structure of the grain; the absolute-average maps are smooth bright blobs that fill more of the frame as the noise grows."}}
panels, titles = [], []
for average in attribution.SMOOTHGRAD_AVERAGES:
    for sigma in sigmas:
        panels.append(attribution.cap(at_most[sigma][average, most])[0])
        titles.append(f"{average}, sigma {sigma}")
plotting.image_grid(panels, titles, ncols=len(sigmas), size=2.0, cmap="gray")
plt.show()

# %% [markdown]
# ## Which setting explains the model best?
#
# A setting should be chosen for what its maps say about the model, not for how smooth or how
# repeatable they look, and on images that will not later report how well it did: 16 images of the
# pollen split's *validation* part (evenly spaced through it), never the test images. Two measures,
# for both averages and every $\sigma$ and $N$ of the grid:
#
# - **faithfulness**, deletion and insertion {cite}`petsiuk2018rise` as in the evaluation chapter
#   (16 steps, blurred reference): the probability of the class as the top-ranked pixels are removed
#   (lower is better) or put back (higher is better); the score is insertion minus deletion;
# - **localisation**: the share of the map's mass on the grain (`pollen.grain_mask`), for context:
#   a map spread evenly over the frame puts about the grain's share of the frame there.

# %%
validation = pollen.load_split("val")  # the split's validation part: it decides, the test images report
pick = torch.linspace(0, len(validation.labels) - 1, 16).round().long().tolist()
faith_images = inference.to_float(validation.images[pick])
faith_targets = inference.predict_proba(pollen_model, validation.images[pick]).argmax(dim=1)
grain = pollen.grain_mask(validation.images[pick])
print(f"{len(pick)} validation images; the grain covers {grain.float().mean():.2f} of the frame")
rows = []
# One run of 50 noisy copies per sigma gives every N and both averages (the first 5 copies of it are N = 5's).
swept = {sigma: attribution.smoothgrad_sweep(pollen_model, faith_images, faith_targets, sigma=sigma, counts=counts, seed=0)
         for sigma in sigmas}
for average in attribution.SMOOTHGRAD_AVERAGES:
    for sigma in sigmas:
        for count in counts:
            maps = swept[sigma][average, count]
            curve = evaluation.deletion_insertion(pollen_model, faith_images, maps, faith_targets, steps=16)
            rows.append({"average": average, "sigma": sigma, "N": count,
                         "deletion AUC": curve.deletion_auc.mean().item(),
                         "insertion AUC": curve.insertion_auc.mean().item(),
                         "share on the grain": features.share_inside(maps, grain).mean().item()})
settings = pd.DataFrame(rows)
settings["insertion - deletion"] = settings["insertion AUC"] - settings["deletion AUC"]
plain_maps = attribution.smoothgrad(pollen_model, faith_images, faith_targets, sigma=0.0, samples=1)
plain_curve = evaluation.deletion_insertion(pollen_model, faith_images, plain_maps, faith_targets, steps=16)
# Two decimals: the third differs between CPUs (the book's crosscheck found it), and on 16 images
# it could not tell two settings apart anyway.
print(f"plain gradient: deletion {plain_curve.deletion_auc.mean():.2f}, insertion {plain_curve.insertion_auc.mean():.2f}, "
      f"insertion - deletion {(plain_curve.insertion_auc - plain_curve.deletion_auc).mean():.2f}")
print(settings.round(2).to_string(index=False))

# %% [markdown]
# The book's setting is the one with the highest insertion minus deletion on the validation images
# among the paper's signed averages, at the two decimals the table prints (the digits beyond them
# differ between CPUs); on a tie, the larger noise level, since smoothing is what the noise is for.

# %%
signed = settings[settings["average"] == "signed"]
score = signed["insertion - deletion"].round(2)
best = signed[score == score.max()]
chosen = best.loc[best["sigma"].idxmax()]
print("highest insertion - deletion: " + "; ".join(f"sigma = {row['sigma']}, N = {int(row['N'])}" for _, row in best.iterrows()))
print(f"chosen: sigma = {chosen['sigma']}, N = {int(chosen['N'])} ({int(chosen['N'])} forward and backward passes "
      f"per image); insertion - deletion {chosen['insertion - deletion']:.2f}")
print("the book's setting (xaihelpers.attribution.SMOOTHGRAD):", attribution.SMOOTHGRAD,
      "- same" if attribution.SMOOTHGRAD == {"sigma": chosen["sigma"], "samples": int(chosen["N"])} else "- DIFFERENT")

# %% [markdown]
# How well the chosen setting does is measured afterwards on 16 *test* images (every tenth), beside
# the plain gradient, a noise level in the paper's range with the same $N$, and captum's absolute
# average. Each mean carries its 95 % bootstrap interval over the images, and each comparison the
# {term}`paired interval <paired bootstrap interval>` of the per-image differences (`xaihelpers.intervals`): one setting beats another
# only if that interval excludes 0.

# %%
report = list(range(0, len(pollen_test.labels), 10))[:16]
report_images, report_targets = pollen_images[report], target[report]
chosen_setting = {"sigma": float(chosen["sigma"]), "samples": int(chosen["N"])}
contenders = {"plain gradient": {"sigma": 0.0, "samples": 1},
              "chosen": chosen_setting,
              "sigma 0.2": {**chosen_setting, "sigma": 0.2},
              "absolute, chosen setting": {**chosen_setting, "average": "absolute"}}
# Both averages of the chosen setting from one run of the same noisy copies.
chosen_maps = attribution.smoothgrad_sweep(pollen_model, report_images, report_targets, sigma=chosen_setting["sigma"],
                                           counts=[chosen_setting["samples"]], seed=0)
shared_run = {"chosen": "signed", "absolute, chosen setting": "absolute"}
report_scores, report_curves = {}, {}
for name, setting in contenders.items():
    if name in shared_run:
        maps = chosen_maps[shared_run[name], chosen_setting["samples"]]
    else:
        maps = attribution.smoothgrad(pollen_model, report_images, report_targets, seed=0, **setting)
    report_curves[name] = evaluation.deletion_insertion(pollen_model, report_images, maps, report_targets, steps=16)
    report_scores[name] = report_curves[name].insertion_auc - report_curves[name].deletion_auc
    print(f"{name:>26s}: insertion - deletion {intervals.bootstrap_interval(report_scores[name]).format(2)}, "
          f"deletion {report_curves[name].deletion_auc.mean():.2f}, insertion {report_curves[name].insertion_auc.mean():.2f}")
comparisons = {(a, b): intervals.paired_interval(report_scores[a], report_scores[b])
               for a, b in (("chosen", "plain gradient"), ("chosen", "sigma 0.2"), ("absolute, chosen setting", "chosen"))}
print(f"paired differences of insertion - deletion over the same {len(report)} test images:")
for (a, b), interval in comparisons.items():
    print("  " + intervals.verdict(interval, a, b, digits=2))

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraphs state, checked against the computation.
def grid_value(average, sigma, count, column):
    """One entry of the validation grid above."""
    row = settings[(settings["average"] == average) & (settings["sigma"] == sigma) & (settings["N"] == count)]
    return row[column].item()


def score(average, sigma, count):
    return round(grid_value(average, sigma, count, "insertion - deletion"), 2)


claims.setting("0.05", chosen["sigma"], what="the chosen noise level")
claims.setting("0.1", sigmas[2], what="a noise level of the grid")
claims.setting("0.2", sigmas[3], what="a noise level of the grid")
claims.setting("0.3", sigmas[4], what="a noise level of the grid")
claims.number("0.14", grid_value("signed", 0.05, 50, "insertion - deletion"))
claims.holds("with N = 50, insertion minus deletion falls as sigma grows beyond 0.05",
             [score("signed", sigma, 50) for sigma in sigmas[1:]]
             == sorted([score("signed", sigma, 50) for sigma in sigmas[1:]], reverse=True))
claims.number("0.11", grid_value("signed", 0.1, 50, "insertion - deletion"))
claims.number("0.09", grid_value("signed", 0.2, 50, "insertion - deletion"))
claims.number("0.09", grid_value("signed", 0.3, 50, "insertion - deletion"))
claims.holds("insertion minus deletion rises with N at every sigma",
             all(score("signed", sigma, 5) < score("signed", sigma, 20) < score("signed", sigma, 50) for sigma in sigmas))
claims.number("0.13", grid_value("signed", 0.02, 50, "insertion - deletion"))
claims.number("0.08", (plain_curve.insertion_auc - plain_curve.deletion_auc).mean())
claims.number("0.38", grid_value("signed", 0.05, 50, "insertion AUC"))
claims.number("0.30", plain_curve.insertion_auc.mean())
claims.number("0.24", grid_value("signed", 0.05, 50, "deletion AUC"))
claims.number("0.22", plain_curve.deletion_auc.mean())
claims.number("0.24", grid_value("absolute", 0.05, 50, "insertion - deletion"))
claims.number("0.51", grid_value("absolute", 0.05, 50, "insertion AUC"))
claims.number("0.27", grid_value("absolute", 0.05, 50, "deletion AUC"))
claims.holds("the absolute average's deletion at the chosen setting is worse than every signed setting's",
             round(grid_value("absolute", 0.05, 50, "deletion AUC"), 2)
             > settings.loc[settings["average"] == "signed", "deletion AUC"].round(2).max())
claims.number("0.50", settings["share on the grain"].min())
claims.number("0.52", settings["share on the grain"].max())
claims.number("0.46", grain.float().mean())
chosen_vs_plain = comparisons["chosen", "plain gradient"]
chosen_vs_large = comparisons["chosen", "sigma 0.2"]
absolute_vs_chosen = comparisons["absolute, chosen setting", "chosen"]
claims.number("0.15", report_scores["chosen"].mean())
claims.number("0.11", report_scores["plain gradient"].mean())
claims.apart("on the test images the chosen setting beats the plain gradient", chosen_vs_plain, digits=2)
claims.number("0.04", chosen_vs_plain.mean)
claims.number("0.01", chosen_vs_plain.low)
claims.number("0.07", chosen_vs_plain.high)
claims.apart("on the test images the chosen setting beats sigma 0.2", chosen_vs_large, digits=2)
claims.number("0.05", chosen_vs_large.mean)
claims.number("0.01", chosen_vs_large.low)
claims.number("0.10", chosen_vs_large.high)
claims.number("0.20", report_scores["absolute, chosen setting"].mean())
claims.tied("on 16 test images the absolute average and the chosen setting cannot be told apart", absolute_vs_chosen,
            digits=2)
claims.number("0.06", absolute_vs_chosen.mean)
claims.number("0.00", absolute_vs_chosen.low)
claims.number("0.11", absolute_vs_chosen.high)

# %% [markdown]
# What the table says (16 validation images):
#
# - **Less noise is more faithful on this CNN.** Among the paper's signed averages, insertion minus
#   deletion falls as $\sigma$ grows beyond 0.05 (with $N = 50$: 0.14 at $\sigma = 0.05$, 0.11 at
#   0.1, 0.09 at 0.2 and at 0.3) and rises with $N$ at every $\sigma$. With 50 samples,
#   $\sigma = 0.02$ scores 0.13 and the plain gradient 0.08; the 10 to 20 % of the input range the
#   paper recommends for ImageNet models score 0.11 and 0.09 here.
# - **The gain is insertion.** At the chosen setting the maps bring the grain back faster than the
#   plain gradient (insertion 0.38 against 0.30), while deletion gets slightly worse (0.24
#   against 0.22).
# - **captum's absolute average scores higher still** (0.24 at $\sigma = 0.05$, $N = 50$), all from
#   insertion (0.51; its deletion, 0.27, is worse than that of every signed setting). Absolute
#   values never cancel, so every pixel whose gradient is large in some noisy copy keeps its
#   weight: the maps become smooth blobs ({numref}`fig-smoothgrad-averages`), which insertion
#   rewards because a coherent region comes back at once. It is a different estimator from the
#   paper's, and the book names it as such rather than calling it SmoothGrad.
# - **Localisation does not separate the settings here.** Every setting puts 0.50 to 0.52 of its
#   mass on the grain, a little more than the grain's 0.46 of the frame.
#
# **On the test images**, which decided nothing, the chosen setting scores 0.15 against the plain
# gradient's 0.11. The paired interval of the difference, 0.04 [0.01, 0.07], excludes 0, and so
# does the one against $\sigma = 0.2$ with the same $N$, 0.05 [0.01, 0.10]: the setting chosen on
# validation images also beats both on the test images. captum's absolute average scores 0.20, but
# the interval of its lead, 0.06 [0.00, 0.11], reaches 0 at the precision printed: on 16 images
# the two cannot be told apart.
#
# ## How stable is the map?
#
# Stability is a different question: run SmoothGrad twice with different noise seeds and correlate
# the two maps. A plain gradient needs no seed (correlation 1) but is noisy; SmoothGrad with few
# samples depends on the draw; with enough samples two runs agree. A stable map is not necessarily
# an informative one (a blur of the whole frame is very stable), which is why the setting above was
# not chosen this way. We average over 10 pollen test images.

# %%
stable_images, stable_targets = pollen_images[:10], target[:10]
# One run of 50 noisy copies per seed and sigma gives the grid's N and the N = 10 of exercise 3; the
# chosen sigma and the paper's smaller one run on to the N = 100 that the exercise reads (100 at
# the other three would cost the chapter another 3,000 passes for numbers no sentence reads).
longer_runs = (0.05, 0.1)
stability = {}
for sigma in sigmas:
    stability_counts = (5, 10, 20, 50, 100) if sigma in longer_runs else (5, 10, 20, 50)
    first, second = (attribution.smoothgrad_sweep(pollen_model, stable_images, stable_targets, sigma=sigma,
                                                  counts=stability_counts, seed=seed) for seed in (1, 2))
    for count in stability_counts:
        stability[sigma, count] = features.pearson_per_image(first["signed", count], second["signed", count]).mean().item()
print(f"{'sigma':>6s} " + " ".join(f"{'N=' + str(c):>7s}" for c in counts) + "   (corr between two seeds)")
for sigma in sigmas:
    print(f"{sigma:6.2f} " + " ".join(f"{stability[sigma, count]:7.2f}" for count in counts))

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraph states, checked against the computation.
claims.number("0.95", stability[0.05, 50])
claims.number("0.65", stability[0.3, 50])
claims.holds("two seeds agree better with less noise and more samples",
             all(stability[sigmas[i], n] > stability[sigmas[i + 1], n] for i in range(len(sigmas) - 1) for n in counts)
             and all(stability[sigma, a] < stability[sigma, b] for sigma in sigmas for a, b in zip(counts, counts[1:])))
claims.setting("0.9", 0.9, what="the old rule's agreement")
claims.holds("the old rule picks sigma 0.1 with 50 samples",
             round(stability[0.1, 20], 2) < 0.9 <= round(stability[0.1, 50], 2))
claims.number("0.90", stability[0.1, 50])
claims.number("0.97", stability[0.02, 50])
claims.holds("the most stable setting of the grid is sigma 0.02 with 50 samples",
             max(((sigma, count) for sigma in sigmas for count in counts), key=stability.get) == (0.02, 50))

# %% [markdown]
# Two seeds agree better with less noise and more samples: at the chosen setting the maps of two
# seeds correlate at 0.95, at $\sigma = 0.3$ and $N = 50$ only at 0.65. Stability and
# faithfulness are different criteria: the rule the book used before, the smallest $N$ at which two
# seeds agree to 0.9 at the paper's noise levels (0.1 and 0.2), would pick $\sigma = 0.1$ with 50
# samples (0.90 here), which faithfulness on the validation images ranks below the chosen setting
# (0.11 against 0.14); the most stable setting of the table, $\sigma = 0.02$ with 50 samples (0.97),
# scores a little below it (0.13). (These are the first ten test images; stability chose nothing.)
#
# ## ImageNet
#
# The book's setting and a larger noise level on an ImageNet image, both averages; smaller than the
# pollen grid because every pass of the ImageNet model costs about a hundred times more than one
# of the pollen CNN.

# %% mystnb={"figure": {"caption": "The plain gradient and SmoothGrad of a zebra photo, with the signed and with the absolute average, at the book's noise level and at a larger one.", "name": "fig-smoothgrad-zebra"}, "image": {"alt": "Six panels in a row: the zebra photo, its grainy plain gradient, two signed SmoothGrad maps with a few bright spots near the top of the head on dark speckle, and two absolute SmoothGrad maps with the same spots on a grey wash that traces the stripes and the rock's outline."}}
picture = imagenet[340][0][None]  # a zebra
picture_target = inference.predict_proba(classifier.model, picture).argmax(dim=1)
print("predicted:", classifier.class_names[picture_target[0]])
panels = [classifier.to_display(picture[0]), attribution.cap(attribution.smoothgrad(classifier.model, picture, picture_target, sigma=0.0, samples=1))[0]]
titles = ["image", "plain gradient"]
samples = attribution.SMOOTHGRAD["samples"]
# Both averages from one run of the same noisy copies per noise level.
runs = {sigma: attribution.smoothgrad_sweep(classifier.model, picture, picture_target, sigma=sigma, counts=[samples])
        for sigma in (attribution.SMOOTHGRAD["sigma"], 0.2)}
for average in attribution.SMOOTHGRAD_AVERAGES:
    for sigma, run in runs.items():
        panels.append(attribution.cap(run[average, samples])[0])
        titles.append(f"{average}, sigma {sigma}")
plotting.image_grid(panels, titles, ncols=6, size=2.2, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The settings and numbers the summary and the self-check answers state, checked against the computation.
claims.setting("0.05", attribution.SMOOTHGRAD["sigma"], what="the book's noise level")
claims.holds("the book's setting is the one chosen on the validation images",
             attribution.SMOOTHGRAD == {"sigma": chosen["sigma"], "samples": int(chosen["N"])})
claims.number("0.55", stability[0.1, 5])
claims.number("0.90", stability[0.1, 50])

# %% [markdown]
# On the zebra ({numref}`fig-smoothgrad-zebra`) both averages light up the same few spots near the
# top of the head. The signed average leaves a speckle elsewhere; the absolute average adds a smooth
# grey wash that traces the stripes and the outline of the rock, the edges of the image, which no
# cancellation removes.
#
# ## Summary
#
# - SmoothGrad averages the gradients of noisy copies of the image with their signs and shows the
#   magnitude of the average, as its paper defines it (a unit test pins this on a fixed noise
#   draw); it costs $N$ passes per image. Without noise it is exactly the plain gradient.
# - captum's `NoiseTunnel` around `Saliency` averages absolute gradients by default: they never
#   cancel, and the maps become smooth blobs. The book names that variant `average="absolute"`.
# - The book's setting, $\sigma = 0.05$ and $N = 50$ (`attribution.SMOOTHGRAD`, used by every
#   chapter and benchmark), was chosen by faithfulness on 16 pollen validation images, not by how
#   stable or smooth the maps look; on 16 test images, which only report, it beats the plain
#   gradient and a larger noise level (paired intervals that exclude 0). Faithfulness falls as
#   $\sigma$ grows beyond 0.05 on this model and rises with $N$.
# - SmoothGrad reduces noise but inherits what the gradient measures: local sensitivity.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** What does SmoothGrad with $\sigma = 0$ and any $N$ compute?
#
# :::{admonition} Answer
# :class: dropdown
# The plain gradient. With $\sigma = 0$ every noisy copy equals the image, and the mean of $N$
# identical gradients is that gradient (a unit test checks it).
# :::
#
# **2.** Two runs with different noise seeds give maps that correlate at 0.55. Which knob raises
# that agreement, and what does it cost?
#
# :::{admonition} Answer
# :class: dropdown
# The number of samples $N$: at $\sigma = 0.1$ the agreement rises from 0.55 with 5 samples to 0.90
# with 50. Each sample costs one forward and one backward pass per image, so the cost grows linearly
# with $N$.
# :::
#
# **3.** Does averaging over noise make SmoothGrad measure *contribution* rather than sensitivity?
#
# :::{admonition} Answer
# :class: dropdown
# No. It averages gradients, which are sensitivities, over a neighbourhood of the image: a smoothed
# sensitivity. It has no {term}`baseline` and no {term}`completeness`; the chapter on Integrated Gradients measures
# contribution.
# :::
#
# ### Exercise 1
#
# Use `nt_type="smoothgrad_sq"` (average of squared gradients). How do the maps differ?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 1: the plain gradient, captum's smoothgrad (average of absolute gradients) and smoothgrad_sq (average of squared gradients) for one pollen grain.", "name": "fig-smoothgrad-exercise-squared"}, "image": {"alt": "Three grey-scale maps in a row. The plain gradient is even speckle; both averaged maps are smoother with a few bright spots, which smoothgrad_sq shows with more contrast against a darker background."}} tags=["hide-cell"]
from captum.attr import GuidedBackprop, NoiseTunnel, Saliency


def noise_tunnel(method, images, targets, nt_type, sigma=0.1, samples=20, seed=0):
    """captum's NoiseTunnel around ``method``, reduced over channels (max |.|), one seed per call;
    about 32 noisy images per pass, as attribution.smoothgrad runs them (more would cost memory)."""
    torch.manual_seed(seed)
    maps = NoiseTunnel(method).attribute(images.clone().requires_grad_(), nt_type=nt_type, nt_samples=samples,
                                         nt_samples_batch_size=max(1, 32 // len(images)), stdevs=sigma, target=targets)
    return attribution.channel_reduce(maps, "max_abs")


plain_maps = noise_tunnel(Saliency(pollen_model), stable_images, stable_targets, "smoothgrad", sigma=0.0, samples=1)
averaged = noise_tunnel(Saliency(pollen_model), stable_images, stable_targets, "smoothgrad")
squared = noise_tunnel(Saliency(pollen_model), stable_images, stable_targets, "smoothgrad_sq")
print(f"sigma 0.1, N 20, {len(stable_images)} pollen images (means):")
print(f"  top-10% share: plain {features.top_share(plain_maps).mean():.2f}, smoothgrad {features.top_share(averaged).mean():.2f}, "
      f"smoothgrad_sq {features.top_share(squared).mean():.2f}")
print(f"  corr(smoothgrad, smoothgrad_sq) {features.pearson_per_image(averaged, squared).mean():.2f}; "
      f"corr(smoothgrad, sqrt of smoothgrad_sq) {features.pearson_per_image(averaged, squared.sqrt()).mean():.2f}")
plotting.image_grid([attribution.cap(m[:1])[0] for m in (plain_maps, averaged, squared)],
                    ["plain gradient", "smoothgrad", "smoothgrad_sq"], ncols=3, size=2.2, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers the next solution states, checked against the computation.
claims.number("0.30", features.top_share(squared).mean())
claims.number("0.19", features.top_share(averaged).mean())
claims.number("0.25", features.top_share(plain_maps).mean())
claims.number("0.95", features.pearson_per_image(averaged, squared).mean())
claims.number("0.99", features.pearson_per_image(averaged, squared.sqrt()).mean())

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# captum's `smoothgrad` here is its default, the average of *absolute* gradients (the chapter's
# `average="absolute"`); `smoothgrad_sq` averages the *squared* gradients, so large values weigh
# more and the map is more concentrated: on the ten pollen images its top 10 % of pixels hold 0.30
# of the total, against 0.19 for the absolute average (and 0.25 for the plain gradient). Otherwise
# the two rank pixels alike: they correlate at 0.95, and the absolute average correlates at 0.99
# with the square root of `smoothgrad_sq`. It is a contrast setting more than a different
# explanation: it shows the few strongest pixels more brightly
# ({numref}`fig-smoothgrad-exercise-squared`).
# :::
#
# ### Exercise 2
#
# Wrap `GuidedBackprop` instead of `Saliency` in the `NoiseTunnel`. Is the noise reduction still
# visible?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
import warnings

# captum announces each time that it hooks the ReLUs; that is what guided backprop is, not a problem.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
rows = {}
for name, method in (("saliency", Saliency(pollen_model)), ("guided backprop", GuidedBackprop(pollen_model))):
    alone = noise_tunnel(method, stable_images, stable_targets, "smoothgrad", sigma=0.0, samples=1)
    smoothed = noise_tunnel(method, stable_images, stable_targets, "smoothgrad", seed=1)
    again = noise_tunnel(method, stable_images, stable_targets, "smoothgrad", seed=2)
    rows[name] = {"roughness alone": features.roughness(alone).mean().item(),
                  "roughness in NoiseTunnel": features.roughness(smoothed).mean().item(),
                  "corr alone vs tunnel": features.pearson_per_image(alone, smoothed).mean().item(),
                  "corr between two seeds": features.pearson_per_image(smoothed, again).mean().item()}
print(pd.DataFrame(rows).T.round(2).to_string())

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.51", rows["saliency"]["roughness alone"])
claims.number("0.20", rows["saliency"]["roughness in NoiseTunnel"])
claims.number("0.54", rows["guided backprop"]["roughness alone"])
claims.number("0.49", rows["guided backprop"]["roughness in NoiseTunnel"])
claims.number("0.72", rows["guided backprop"]["corr alone vs tunnel"])
claims.number("0.51", rows["saliency"]["corr alone vs tunnel"])
claims.number("0.79", rows["guided backprop"]["corr between two seeds"])
claims.number("0.86", rows["saliency"]["corr between two seeds"])

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Much less. In the NoiseTunnel the gradient's roughness (mean difference between neighbouring
# pixels) falls from 0.51 to 0.20, while guided backprop's only falls from 0.54 to 0.49, and the
# guided map changes less with the noise (correlation 0.72 between the map alone and the averaged
# one, against 0.51 for the gradient). The two tunnels do not average alike, though: captum's
# `Saliency` returns absolute gradients, so its tunnel averages absolute values (the chapter's
# `average="absolute"`), while `GuidedBackprop` keeps its signs, so its tunnel is a signed average,
# where opposite signs cancel. With that caveat: guided backprop's positive-only backward rule
# already discards most of the sign changes that SmoothGrad averages away, so little is left to
# remove; and two noise seeds agree less for guided backprop (0.79) than for the gradient (0.86)
# with the same 20 samples.
# :::
#
# ### Exercise 3
#
# Plot the stability against the compute cost ($N$) for each $\sigma$. Where is the knee?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: agreement between the maps of two noise seeds against the number of samples $N$, one line per noise level (N = 100 only for the chosen noise level, 0.05, and for 0.1); the grey line marks a correlation of 0.9.", "name": "fig-smoothgrad-exercise-knee"}, "image": {"alt": "Line chart with the number of samples on a logarithmic horizontal axis and the correlation between two seeds on the vertical axis, with five rising lines, one per noise level. Smaller noise levels lie higher, and every line flattens as it approaches 1."}} tags=["hide-cell"]
# The stability cell above measured N = 10 too, and N = 100 at sigma 0.05 and 0.1.
all_counts = sorted({count for _, count in stability})
figure, axis = plt.subplots(figsize=(5, 3))
for sigma in sigmas:
    measured = [n for n in all_counts if (sigma, n) in stability]
    axis.semilogx(measured, [stability[sigma, n] for n in measured], marker="o", label=f"sigma {sigma}")
axis.axhline(0.9, color="grey", lw=0.5)
axis.set(xlabel="N (forward and backward passes per image)", ylabel="corr between two seeds")
axis.legend()
plt.show()
print(f"{'sigma':>6s} " + " ".join(f"{'N=' + str(n):>7s}" for n in all_counts))
for sigma in sigmas:
    print((f"{sigma:6.2f} " + " ".join(f"{stability[sigma, n]:7.2f}" if (sigma, n) in stability else " " * 7
                                       for n in all_counts)).rstrip())

# %% tags=["remove-cell"]
# The numbers the next solution states, checked against the computation (differences of the printed values).
printed = {key: round(value, 2) for key, value in stability.items()}
claims.number("0.55", stability[0.1, 5])
claims.number("0.67", stability[0.1, 10])
claims.number("0.79", stability[0.1, 20])
claims.number("0.90", stability[0.1, 50])
claims.number("0.94", stability[0.1, 100])
claims.number("0.94", stability[0.02, 20])
claims.number("0.65", stability[0.3, 50])
claims.number("0.95", stability[0.05, 50])
claims.number("0.12", printed[0.1, 10] - printed[0.1, 5])
claims.number("0.12", printed[0.1, 20] - printed[0.1, 10])
claims.number("0.11", printed[0.1, 50] - printed[0.1, 20])
claims.number("0.04", printed[0.1, 100] - printed[0.1, 50])
claims.number("0.02", printed[0.05, 100] - printed[0.05, 50])

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Stability grows with the logarithm of the cost until it nears 1
# ({numref}`fig-smoothgrad-exercise-knee`): at $\sigma = 0.1$ each doubling of $N$ from 5 to 20 adds
# about 0.12 (0.55, 0.67, 0.79), the step from 20 to 50 adds 0.11 (0.90), and from 50 to 100 only
# 0.04 (0.94). The knee lies between 20 and 50 samples for small $\sigma$ and moves to larger $N$ as
# $\sigma$ grows: at $\sigma = 0.02$, 20 samples already give 0.94; at $\sigma = 0.3$, even 50 give
# only 0.65. The book's setting, $\sigma = 0.05$ with 50 samples (0.95), lies past the knee:
# doubling the passes would buy 0.02.
# :::
