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
# # Uncertainty with Monte-Carlo dropout: when does the model know it does not know?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/09_mc_dropout.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F09_mc_dropout.ipynb)
#
# A heat map explains *why* a model decided; an uncertainty estimate says *how far to trust* the
# decision. Gal and Ghahramani {cite}`gal2016dropout` showed that a network trained with dropout
# can estimate its own uncertainty cheaply: keep dropout switched on at test time, run $T$
# stochastic forward passes, and look at how much they disagree. With $p_t$ the class
# probabilities of pass $t$ and $\bar p = \frac1T \sum_t p_t$ their mean:
#
# - **predictive mean** $\bar p$: the prediction (its arg max is the class);
# - **variance** over the passes of the predicted class's probability;
# - **predictive entropy** $H[\bar p] = -\sum_c \bar p_c \log \bar p_c$: the total uncertainty;
# - **{term}`mutual information`** $H[\bar p] - \frac1T\sum_t H[p_t]$ {cite}`houlsby2011bayesian`: the
#   part due to the passes *disagreeing*, i.e. to the model's uncertainty about its own weights.
#
# Cost: $T$ forward passes per image, no backward pass. When the only dropout layer sits right
# before the last layer (as in both models here), `xaihelpers.uncertainty.mc_predict(...,
# head=...)` runs the network once and only the last layer $T$ times, with the same random masks.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | trust: flag predictions that should be checked by a person |
# | **Who** | model users, model developers |
# | **What** | the spread of predictions under test-time dropout |
# | **How** | per-image uncertainty measures; accuracy when rejecting the most uncertain |
# | **When** | after training, at prediction time |
# | **Where** | networks trained with dropout: the pollen CNN, EfficientNet-Lite0 (not ResNet-50) |
# | **Source** | the study it follows: the class-model project: uncertainty via {term}`Monte-Carlo dropout`; see {doc}`../book/sources` |
# | **Before** | {doc}`03_pollen_cnn` (the pollen CNN) |

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

from xaihelpers import chapter, claims, inference, plotting, pollen, repro, uncertainty, zoo

repro.seed_everything()
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")
print("dropout layers: pollen CNN", uncertainty.dropout_layers(pollen_model),
      f"| {classifier.name}", uncertainty.dropout_layers(classifier.model) or "none")

# %% [markdown]
# ## Pollen: 50 stochastic passes
#
# First a check of the shortcut: on ten test images, five full stochastic passes and five
# head-only passes with the same seed give the same probabilities.

# %%
full = uncertainty.mc_predict(pollen_model, pollen_test.images[:10], passes=5, seed=1)
fast = uncertainty.mc_predict(pollen_model, pollen_test.images[:10], passes=5, seed=1, head="classifier")
print(f"largest difference, full vs head-only passes: {(full - fast).abs().max():.1e}")

# %% tags=["remove-cell"]
# The check the text above states (self-check 2 quotes it: largest difference 0), against the computation.
claims.holds("five full and five head-only passes with the same seed give the same probabilities",
             (full - fast).abs().max() == 0)

# %%
passes = 50
samples = uncertainty.mc_predict(pollen_model, pollen_test.images, passes=passes, head="classifier")
summary = uncertainty.summarize(samples)
deterministic = inference.predict_proba(pollen_model, pollen_test.images)
correct = summary.predicted == pollen_test.labels
print(f"accuracy: dropout off {(deterministic.argmax(1) == pollen_test.labels).float().mean():.3f}, "
      f"MC mean of {passes} passes {correct.float().mean():.3f}")
print(f"test loss (cross-entropy): dropout off {inference.mean_cross_entropy(deterministic, pollen_test.labels):.3f}, "
      f"MC mean {inference.mean_cross_entropy(summary.mean, pollen_test.labels):.3f}")
measures = {"entropy": summary.entropy, "mutual information": summary.mutual_information,
            "variance": summary.variance}
table = pd.DataFrame({name: [values[correct].mean().item(), values[~correct].mean().item()]
                      for name, values in measures.items()}, index=["correct", "wrong"])
print(f"mean uncertainty of {int(correct.sum())} correct and {int((~correct).sum())} wrong predictions:")
print(table.round(4).to_string())

# %% tags=["remove-cell"]
# The comparison the next paragraph states, checked against the computation.
claims.holds("wrong predictions are, on average, clearly (over 1.5 times) more uncertain on every measure",
             all(table.loc["wrong", name] > 1.5 * table.loc["correct", name] for name in measures))

# %% [markdown]
# Wrong predictions are, on average, clearly more uncertain on every measure. The histograms
# ({numref}`fig-mcdropout-histograms`) show how much the two groups overlap, which is what decides
# whether the uncertainty is useful for a single image.

# %% mystnb={"figure": {"caption": "Distributions of three uncertainty measures over the pollen test images, for correct and for wrong predictions: entropy and mutual information in nats, the variance of the predicted class's probability over the 50 passes; the heights are densities, so both groups' areas are 1.", "name": "fig-mcdropout-histograms"}, "image": {"alt": "Three histograms side by side, with paired bars for correct and wrong predictions. In each, the correct predictions pile up at low uncertainty and the wrong ones lie further right, with an overlap in the middle."}}
units = {"entropy": "predictive entropy (nats)", "mutual information": "mutual information (nats)",
         "variance": "variance of the predicted class's probability"}
figure, axes = plt.subplots(1, 3, figsize=(12, 3.2))
for axis, (name, values) in zip(axes, measures.items()):
    axis.hist([values[correct].numpy(), values[~correct].numpy()], bins=15, label=["correct", "wrong"],
              color=["tab:blue", "tab:red"], density=True)
    axis.set(title=name, xlabel=units[name], ylabel="density (share of images per unit)")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# {numref}`fig-mcdropout-extremes` shows the most and the least uncertain test images (by mutual
# information), with the predicted and true class.

# %% mystnb={"figure": {"caption": "The four most and the four least uncertain pollen test images by mutual information, titled with the predicted and the true class.", "name": "fig-mcdropout-extremes"}, "image": {"alt": "Two rows of four pollen grains. The top row, the most uncertain, includes grains whose predicted class is not their true class; the bottom row, the least uncertain, shows correctly classified grains with a distinctive shape or texture."}}
order = torch.sort(summary.mutual_information, descending=True, stable=True).indices
picked = order[:4].tolist() + order[-4:].tolist()
titles = [f"{'most' if rank < 4 else 'least'} uncertain\n{pollen_test.classes[summary.predicted[i]]}"
          f" (true {pollen_test.classes[pollen_test.labels[i]]})\nMI {summary.mutual_information[i]:.3f}"
          for rank, i in enumerate(picked)]
plotting.image_grid([inference.to_float(pollen_test.images[i]) for i in picked], titles, ncols=4, size=2.4)
plt.show()

# %% [markdown]
# ## Does rejecting uncertain predictions remove the errors?
#
# If uncertainty coincides with errors, setting aside the most uncertain images (for a person to
# check) raises the accuracy on the rest. For each measure we keep the most certain fraction of
# the test set and compute the accuracy there. The reference is the plain network's own
# confidence: one minus its largest softmax probability, with dropout off and a single pass.

# %%
retained = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def rejection_table(measures):
    """Accuracy on the retained fraction; ``measures`` maps a name to (uncertainty, correct)."""
    return pd.DataFrame({name: uncertainty.accuracy_when_rejecting(values, right, retained)
                         for name, (values, right) in measures.items()}, index=pd.Index(retained, name="retained"))


# The MC measures judge the MC mean's prediction; the softmax judges the single-pass prediction.
pollen_measures = {name: (values, correct) for name, values in measures.items()}
pollen_measures["softmax (1 pass)"] = (1 - deterministic.max(dim=1).values,
                                       deterministic.argmax(dim=1) == pollen_test.labels)
pollen_rejection = rejection_table(pollen_measures)
print(pollen_rejection.round(3).to_string())

# %% [markdown]
# ## How many passes?
#
# The estimates are averages over random masks, so they carry sampling noise that shrinks as $T$
# grows. The number of passes is a setting, so it is chosen on images that report nothing: the
# pollen split's validation images. We compare each measure at $T$ passes with a reference of
# 1000 passes: the mean absolute difference over the validation images, and the accuracy of the
# MC mean on them.

# %%
validation = pollen.load_split("val")  # the validation part decides; the test images above report
reference = uncertainty.summarize(uncertainty.mc_predict(pollen_model, validation.images, passes=1000,
                                                         head="classifier", seed=99))
validation_samples = uncertainty.mc_predict(pollen_model, validation.images, passes=100, head="classifier")
rows = {}
for count in (1, 2, 5, 10, 20, 50, 100):
    estimate = uncertainty.summarize(validation_samples[:count])  # the first T of the 100 passes
    rows[count] = {"|entropy error|": (estimate.entropy - reference.entropy).abs().mean().item(),
                   "|MI error|": (estimate.mutual_information - reference.mutual_information).abs().mean().item(),
                   "accuracy": (estimate.predicted == validation.labels).float().mean().item()}
print(f"{len(validation.labels)} validation images")
convergence = pd.DataFrame(rows).T.rename_axis("T")
print(convergence.round(4).to_string())

# %% tags=["remove-cell"]
# The statements of the next paragraph, and EfficientNet-Lite0's dropout rate, checked against the computation.
convergence_errors = convergence.loc[2:, ["|entropy error|", "|MI error|"]]
convergence_scaled = convergence_errors.mul(convergence_errors.index.to_series() ** 0.5, axis=0)
claims.holds("with one pass the mutual information is zero (its error is the reference's mean MI)",
             abs(convergence.loc[1, "|MI error|"] - reference.mutual_information.mean().item()) < 1e-6)
claims.holds("the errors shrink roughly like 1/sqrt(T) (error x sqrt(T) varies by less than 1.5 times from T = 2 on)",
             (convergence_scaled.max() / convergence_scaled.min() < 1.5).all())
claims.holds("a few tens of passes give estimates good to a few hundredths",
             (convergence.loc[[20, 50], ["|entropy error|", "|MI error|"]] < 0.05).all().all())
lite0_dropout = [classifier.model.get_submodule(name).p for name in uncertainty.dropout_layers(classifier.model)]
claims.setting("0.2", lite0_dropout[0] if classifier.name == "efficientnet_lite0" else None,
               what="EfficientNet-Lite0's dropout rate")

# %% [markdown]
# With one pass the mutual information is zero by definition (nothing to disagree with) and the
# prediction is that of one random sub-network. The errors shrink roughly like $1/\sqrt{T}$;
# a few tens of passes give estimates good to a few hundredths on the validation images, which is
# why 50 is used here.
#
# ## ImageNet
#
# EfficientNet-Lite0 was trained with dropout ($p = 0.2$) before its classifier, so the same
# analysis applies, here on 200 sample images (every fifth class). **ResNet-50 has no dropout
# layer**: torchvision's weights were trained without it. Inserting dropout into a trained
# network does not make it Bayesian: its weights were never trained to work with units missing,
# so the spread of the passes would measure the damage done by an arbitrary perturbation, not the
# uncertainty of the model. For such networks the alternatives are deep ensembles, or retraining
# (or fine-tuning the last layer) with dropout. With `XAI_IMAGENET_MODEL=resnet50` the cell below
# says so instead of computing.

# %%
if uncertainty.dropout_layers(classifier.model):
    subset = list(range(0, 1000, 5))
    images = torch.stack([imagenet[i][0] for i in subset])
    labels = torch.tensor([imagenet.targets[i] for i in subset])
    imagenet_samples = uncertainty.mc_predict(classifier.model, images, passes=passes, head=classifier.head_layer)
    imagenet_summary = uncertainty.summarize(imagenet_samples)
    imagenet_correct = imagenet_summary.predicted == labels
    imagenet_deterministic = inference.predict_proba(classifier.model, images)
    print(f"{classifier.name}: accuracy with dropout off "
          f"{(imagenet_deterministic.argmax(1) == labels).float().mean():.3f}, "
          f"MC mean of {passes} passes {imagenet_correct.float().mean():.3f}")
    imagenet_measures = {"entropy": (imagenet_summary.entropy, imagenet_correct),
                         "mutual information": (imagenet_summary.mutual_information, imagenet_correct),
                         "variance": (imagenet_summary.variance, imagenet_correct),
                         "softmax (1 pass)": (1 - imagenet_deterministic.max(dim=1).values,
                                              imagenet_deterministic.argmax(dim=1) == labels)}
    imagenet_rejection = rejection_table(imagenet_measures)
    print(imagenet_rejection.round(3).to_string())
else:
    print(f"{classifier.name} has no dropout layer: Monte-Carlo dropout does not apply (see the text above).")

# %% tags=["remove-cell"]
# The comparisons the summary states, checked against the computation (ImageNet: only for a network with dropout).
mc_names = ["entropy", "mutual information", "variance"]
pollen_softmax = pollen_rejection["softmax (1 pass)"]
claims.holds("pollen CNN: rejecting the most uncertain images raises the accuracy of the rest",
             (pollen_rejection.loc[0.5] > pollen_rejection.loc[1.0]).all())
claims.holds("pollen CNN: each MC measure is ahead of the single-pass softmax at some retained fractions "
             "and level with or behind it at others",
             all((pollen_rejection[n] > pollen_softmax).any() and (pollen_rejection[n] <= pollen_softmax).any()
                 for n in mc_names))
if uncertainty.dropout_layers(classifier.model):
    lite0_softmax = imagenet_rejection["softmax (1 pass)"]
    lite0_best_mc = imagenet_rejection[mc_names].max(axis=1)
    claims.holds("ImageNet: rejecting the most uncertain images raises the accuracy of the rest",
                 (imagenet_rejection.loc[0.5] > imagenet_rejection.loc[1.0]).all())
    claims.holds("ImageNet: the single-pass softmax is highest or tied at every retained fraction but 80 %",
                 ((lite0_softmax >= lite0_best_mc) == (imagenet_rejection.index != 0.8)).all())
    claims.holds("ImageNet: at 80 % retained mutual information keeps one more right prediction than the softmax",
                 round((imagenet_rejection.loc[0.8, "mutual information"] - lite0_softmax[0.8]) * 0.8 * len(labels)) == 1)

# %% [markdown]
# ## Summary
#
# - Monte-Carlo dropout keeps dropout active at test time and reads uncertainty from the spread of
#   $T$ stochastic passes: predictive entropy (total), mutual information (disagreement between
#   passes), variance of the predicted class's probability.
# - Only the dropout layers change mode; batch norm keeps its running statistics. The book's
#   helper restores every layer's mode afterwards.
# - On both models the uncertain predictions are more often wrong: rejecting the most uncertain
#   images raises the accuracy of the rest. But the plain softmax confidence of a single pass is a
#   strong competitor: on the pollen CNN the MC measures are ahead of it at some retained fractions
#   and level with or behind it at others, and on EfficientNet-Lite0, whose dropout sits only
#   before the classifier, the single-pass softmax ranks errors at least as well (its accuracy is
#   the highest, or tied for it, at every retained fraction but 80 %, where mutual information
#   keeps one more right prediction). MC dropout earns its $T$ passes only where it tells us more
#   than the softmax already does; measure it.
# - A few tens of passes suffice for stable estimates; when dropout sits right before the last
#   layer the passes cost almost nothing extra.
# - A network trained without dropout (ResNet-50) has no MC-dropout uncertainty; inserting dropout
#   afterwards measures something else.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** Entropy of the MC mean and mutual information: which one is zero when every pass gives
# the same (uncertain) answer?
#
# :::{admonition} Answer
# :class: dropdown
# The mutual information. If every pass gives the same distribution, the entropy of the mean equals
# the mean entropy of the passes, and their difference is 0. The entropy of the MC mean can still be
# high: the model is consistently unsure.
# :::
#
# **2.** Why may the chapter run the 50 passes through the classifier layer only?
#
# :::{admonition} Answer
# :class: dropdown
# The only dropout layer sits just before the classifier layer, so everything below it gives the
# same result in every pass. The features can be computed once, and only the dropout mask and the
# last layer run 50 times; the chapter checks that both ways give the same probabilities (largest
# difference 0).
# :::
#
# **3.** What does a rising accuracy in the rejection table mean, read from the top down?
#
# :::{admonition} Answer
# :class: dropdown
# Read downwards, each row keeps a smaller share of the images, the ones the measure calls most
# certain. If the accuracy on them rises, the measure ranks wrong predictions as more uncertain than
# right ones, and the rejected images are the ones to hand to a person.
# :::
#
# ### Exercise 1
#
# Feed the pollen CNN images it has never seen: ImageNet samples resized to 64 x 64. Is the mutual
# information higher than on pollen test images?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

strangers = torch.stack([imagenet[i][0] for i in range(0, 1000, 1000 // len(pollen_test.labels))][:len(pollen_test.labels)])
strangers = F.interpolate(strangers, size=(64, 64), mode="bilinear", antialias=True).clamp(0, 1)
stranger_summary = uncertainty.summarize(uncertainty.mc_predict(pollen_model, strangers, passes=passes, head="classifier"))
print(f"{'images':22s} {'mean entropy':>12s} {'mean MI':>8s} {'mean confidence':>16s}")
for name, result in (("pollen test", summary), ("ImageNet at 64 x 64", stranger_summary)):
    print(f"{name:22s} {result.entropy.mean():12.3f} {result.mutual_information.mean():8.4f} {result.confidence.mean():16.2f}")
aurocs = {}
for name in ("entropy", "mutual_information"):
    inside, outside = getattr(summary, name), getattr(stranger_summary, name)
    # AUROC: the chance that a random ImageNet image is more uncertain than a random pollen image.
    auroc = aurocs[name] = roc_auc_score([0] * len(inside) + [1] * len(outside), torch.cat([inside, outside]).numpy())
    print(f"{name}: AUROC for telling ImageNet from pollen {auroc:.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the solution states, checked against the computation.
claims.number("158", len(strangers))
claims.number("0.226", stranger_summary.mutual_information.mean())
claims.number("0.068", summary.mutual_information.mean())
claims.number("0.59", stranger_summary.confidence.mean())
claims.number("0.81", summary.confidence.mean())
claims.number("0.93", aurocs["mutual_information"])
claims.number("93", aurocs["mutual_information"], scale=100)
claims.number("0.80", aurocs["entropy"])
claims.holds("the mutual information is much (over twice) higher on the ImageNet samples",
             stranger_summary.mutual_information.mean() > 2 * summary.mutual_information.mean())
claims.holds("mutual information tells the strangers apart better than the entropy",
             aurocs["mutual_information"] > aurocs["entropy"])

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Yes, much higher. On 158 ImageNet samples shrunk to 64 x 64 the pollen CNN's mean mutual
# information is 0.226, against 0.068 on the pollen test images, and its mean confidence is 0.59
# against 0.81. Mutual information tells the strangers apart well (AUROC 0.93: a random ImageNet
# image is more uncertain than a random pollen image 93 % of the time), better than the entropy
# (0.80). The model still gives every stranger a pollen class with some confidence:
# out-of-distribution images are not rejected by the softmax, but the disagreement between dropout
# passes, the model's own uncertainty, rises on them.
# :::
#
# ### Exercise 2
#
# Plot the accuracy against the retained fraction for the four measures. Which curve lies
# highest, and where do they cross?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 2: accuracy on the retained images against the fraction retained, for each uncertainty measure and for the single-pass softmax.", "name": "fig-mcdropout-exercise-rejection"}, "image": {"alt": "Line chart with the retained fraction falling from 1.0 to 0.5 along the horizontal axis and the accuracy on the vertical axis: four rising lines that cross each other several times and meet at both ends."}} tags=["hide-cell"]
figure, axis = plt.subplots(figsize=(5, 3))
for name in pollen_rejection.columns:
    axis.plot(pollen_rejection.index, pollen_rejection[name], marker="o", label=name)
axis.invert_xaxis()
axis.set(xlabel="fraction of images retained", ylabel="accuracy on them", title="pollen CNN")
axis.legend(fontsize=7)
plt.show()
print("highest curve at each retained fraction:",
      {f: ", ".join(pollen_rejection.columns[pollen_rejection.loc[f] == pollen_rejection.loc[f].max()])
       for f in pollen_rejection.index})
print("mean accuracy over the retained fractions:", pollen_rejection.mean().round(3).to_dict())

# %% tags=["remove-cell"]
# The numbers and comparisons the solution states, checked against the computation.
import math

best_at = {f: set(pollen_rejection.columns[pollen_rejection.loc[f] == pollen_rejection.loc[f].max()]) for f in retained}
rejection_means = pollen_rejection.mean()
kept_images = pd.Series({f: max(1, math.ceil(f * len(correct) - 1e-9)) for f in retained})
claims.holds("no curve lies highest everywhere", not set.intersection(*best_at.values()))
claims.number("0.880", correct.float().mean())
claims.number("0.873", pollen_rejection.loc[1.0, "softmax (1 pass)"])
claims.holds("the curves meet again at half the images", pollen_rejection.loc[0.5].nunique() == 1)
claims.number("0.975", pollen_rejection.loc[0.5, "entropy"])
claims.holds("the single-pass softmax is best at 80 % retained, with mutual information",
             best_at[0.8] == {"softmax (1 pass)", "mutual information"})
claims.holds("mutual information alone is best at 70 % retained", best_at[0.7] == {"mutual information"})
claims.holds("entropy and mutual information are best at 60 % retained", best_at[0.6] == {"entropy", "mutual information"})
claims.number("0.934", rejection_means["mutual information"])
claims.number("0.931", rejection_means["variance"])
claims.number("0.930", rejection_means["entropy"])
claims.number("0.927", rejection_means["softmax (1 pass)"])
claims.holds("averaged, mutual information is highest, then variance, entropy and the single-pass softmax",
             rejection_means["mutual information"] > rejection_means["variance"] > rejection_means["entropy"]
             > rejection_means["softmax (1 pass)"])
claims.number("19", (~correct).sum())
claims.number("158", len(correct))
claims.holds("at any retained fraction the measures differ by three images at most",
             ((pollen_rejection.max(axis=1) - pollen_rejection.min(axis=1)) * kept_images).round().max() <= 3)
claims.holds("the averages differ by less than one image's worth (1 / images kept, averaged over the fractions)",
             rejection_means.max() - rejection_means.min() < (1 / kept_images).mean())

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# No curve lies highest everywhere ({numref}`fig-mcdropout-exercise-rejection`). The curves start at
# the accuracy of their predictions (0.880 for the MC mean, 0.873 for the single pass) and meet
# again at half the images (0.975). In between they cross several times: the single-pass softmax is
# best at 80 % retained (with mutual information), mutual information alone at 70 %, entropy and
# mutual information at 60 %. Averaged over the retained fractions, mutual information is highest
# (0.934), then variance (0.931), entropy (0.930) and the single-pass softmax (0.927). With 19 wrong
# predictions among 158 images, one image moves a curve by about a point: at any retained fraction
# the measures differ by three images at most, and their averages by less than one image's worth,
# so on this test set they are about equally useful.
# :::
#
# ### Exercise 3
#
# Combine the measures: reject by entropy of the MC mean. Is it better than the single-pass
# softmax? Why might it be?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
fine_retained = tuple(f / 20 for f in range(20, 5, -1))  # 1.0, 0.95, ..., 0.3
single = uncertainty.summarize(deterministic[None])  # one deterministic pass: its entropy
candidates = {"entropy of the MC mean": (summary.entropy, correct),
              "entropy, 1 pass": (single.entropy, deterministic.argmax(1) == pollen_test.labels),
              "softmax (1 pass)": pollen_measures["softmax (1 pass)"]}
curves = pd.DataFrame({name: uncertainty.accuracy_when_rejecting(values, right, fine_retained)
                       for name, (values, right) in candidates.items()}, index=pd.Index(fine_retained, name="retained"))
print(curves.iloc[::3].round(3).to_string())
print("mean accuracy over retained fractions 1.0 to 0.3:", curves.mean().round(3).to_dict())

# %% tags=["remove-cell"]
# The numbers and comparisons the solution states, checked against the computation.
curve_means = curves.mean()
claims.setting("1.0", fine_retained[0], what="the largest retained fraction")
claims.setting("0.3", fine_retained[-1], what="the smallest retained fraction")
claims.number("0.950", curve_means["entropy of the MC mean"])
claims.number("0.948", curve_means["entropy, 1 pass"])
claims.number("0.949", curve_means["softmax (1 pass)"])
claims.holds("the entropy of the MC mean is better, but barely (by under half a point)",
             0 < curve_means["entropy of the MC mean"] - curve_means.drop("entropy of the MC mean").max() < 0.005)
claims.holds("the printed rows from 55 % retained down are the same for all three",
             all(curves.loc[f].nunique() == 1 for f in curves.iloc[::3].index if f <= 0.55))
claims.number("0.880", curves.loc[1.0, "entropy of the MC mean"])
claims.number("0.873", curves.loc[1.0, "entropy, 1 pass"])
claims.setting("50", passes, what="the number of stochastic passes")

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Barely, on this model. Rejecting by the entropy of the MC mean gives a mean accuracy of 0.950 over
# the retained fractions from 1.0 to 0.3, against 0.948 for the entropy of one deterministic pass
# and 0.949 for the single-pass softmax, and from 55 % retained down the printed rows are the same
# for all three. The MC mean
# can be better because it averages 50 slightly different models, an ensemble in miniature, and its
# accuracy at 100 % retained is already higher (0.880 against 0.873). With dropout only before the
# last layer the 50 models share everything but the classifier's input mask, so they can differ
# only a little, and so can the rejection curves.
# :::
#
# ### Exercise 4
#
# Retrain the pollen CNN with dropout 0.5 (`python -m xaihelpers.retrain --help`) and repeat. Does
# stronger dropout give more useful uncertainty?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
print(zoo.get("pollen_cnn_dropout05").command)  # trained once by `make exercise-models`; it ships with the book
strong_model, strong_meta = zoo.load("pollen_cnn_dropout05")
strong = uncertainty.summarize(uncertainty.mc_predict(strong_model, pollen_test.images, passes=passes, head="classifier"))
strong_correct = strong.predicted == pollen_test.labels
rows = {}
for name, result, right in (("dropout 0.3 (book)", summary, correct), ("dropout 0.5", strong, strong_correct)):
    rows[name] = {"MC accuracy": right.float().mean().item(),
                  "mean MI": result.mutual_information.mean().item(),
                  "MI wrong / correct": (result.mutual_information[~right].mean() / result.mutual_information[right].mean()).item(),
                  "mean acc. rejecting by MI": sum(uncertainty.accuracy_when_rejecting(result.mutual_information, right, retained)) / len(retained),
                  "mean acc. rejecting by entropy": sum(uncertainty.accuracy_when_rejecting(result.entropy, right, retained)) / len(retained)}
print(pd.DataFrame(rows).T.round(3).to_string())

# %% tags=["remove-cell"]
# The numbers and comparisons the solution states, checked against the computation.
book_row, strong_row = rows["dropout 0.3 (book)"], rows["dropout 0.5"]
claims.setting("0.5", strong_model.dropout.p, what="the dropout rate of the exercise's model")
claims.number("0.854", strong_row["MC accuracy"])
claims.number("0.880", book_row["MC accuracy"])
claims.number("0.141", strong_row["mean MI"])
claims.number("0.068", book_row["mean MI"])
claims.number("1.67", strong_row["MI wrong / correct"])
claims.number("1.88", book_row["MI wrong / correct"])
claims.number("0.917", strong_row["mean acc. rejecting by MI"])
claims.number("0.921", strong_row["mean acc. rejecting by entropy"])
claims.number("0.934", book_row["mean acc. rejecting by MI"])
claims.number("0.930", book_row["mean acc. rejecting by entropy"])
claims.holds("the dropout-0.5 model is less accurate", strong_row["MC accuracy"] < book_row["MC accuracy"])
claims.holds("and twice as uncertain on average (mean MI ratio between 1.8 and 2.2)",
             1.8 < strong_row["mean MI"] / book_row["mean MI"] < 2.2)
claims.holds("its uncertainty separates wrong from right predictions less well",
             strong_row["MI wrong / correct"] < book_row["MI wrong / correct"])
claims.holds("rejecting by MI or entropy gives lower mean accuracies",
             strong_row["mean acc. rejecting by MI"] < book_row["mean acc. rejecting by MI"]
             and strong_row["mean acc. rejecting by entropy"] < book_row["mean acc. rejecting by entropy"])

# %% [markdown]
# :::{admonition} Solution to exercise 4
# :class: dropdown
# Not here. The model trained with dropout 0.5 (checkpoint made once by the printed command) is less
# accurate (MC accuracy 0.854 against 0.880) and twice as uncertain on average (mean MI 0.141
# against 0.068), but its uncertainty separates wrong from right predictions less well: the mutual
# information of wrong predictions is 1.67 times that of correct ones (1.88 for the book's model),
# and rejecting by MI or entropy gives lower mean accuracies (0.917 and 0.921 against 0.934 and
# 0.930). Stronger dropout makes the passes disagree more everywhere, not more where the model is
# wrong; the uncertainty has to be judged by how well it ranks errors, not by how large it is.
# :::
