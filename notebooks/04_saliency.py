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
# # Saliency maps: the gradient of the class score
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/04_saliency.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F04_saliency.ipynb)
#
# The simplest attribution asks: which pixels, changed a little, would change the class score
# most? That is the gradient of the score $S_c$ with respect to the input image $x$
# {cite}`simonyan2013deep`,
#
# $$
# w = \frac{\partial S_c}{\partial x}\bigg|_{x_0}, \qquad
# M_{ij} = \max_{k} |w_{k,i,j}| ,
# $$
#
# where the {term}`saliency map` $M$ takes, for each pixel, the largest absolute gradient over the colour
# channels $k$. One forward and one backward pass; captum's `Saliency`.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: which pixels the score is most sensitive to |
# | **Who** | model developers, learners |
# | **What** | the gradient of a class score with respect to the input |
# | **How** | signed and absolute gradient maps, capped for display, overlays |
# | **When** | after training |
# | **Where** | any differentiable classifier; here the pollen CNN and the ImageNet model |
# | **Source** | the studies it follows: ExaplainNET (Engrima18/ExaplainNET) (saliency and its capped version) and the class-model project (class saliency maps); see {doc}`../book/sources` |
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
import torch
from captum.attr import Saliency

from xaihelpers import attribution, chapter, claims, inference, plotting, pollen, repro

repro.seed_everything()
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")

# %% [markdown]
# ## Pollen: correct and wrong predictions
#
# We take the first three correctly and the first three wrongly classified test images. For each
# ({numref}`fig-saliency-pollen`): the image, the signed gradient summed over channels (red raises
# the score, blue lowers it), the saliency map $M$, and $M$ capped at its 99th percentile, because a
# handful of very large gradients would otherwise leave the rest of the map black.

# %% mystnb={"figure": {"caption": "Saliency maps of three correctly and three wrongly classified pollen grains. Per row: the grain titled with the predicted class, the signed gradient summed over channels, the saliency map (largest absolute value over channels) and that map capped at its 99th percentile.", "name": "fig-saliency-pollen"}, "image": {"alt": "Six rows of four panels. The signed gradients look like salt-and-pepper noise of both signs, the saliency maps are dark with a few bright pixels, and the capped maps show bright speckle spread over grain and background alike."}}
pollen_images = inference.to_float(pollen_test.images)
pollen_predicted = inference.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
pollen_correct = pollen_predicted == pollen_test.labels
pollen_pick = (torch.nonzero(pollen_correct).flatten()[:3].tolist()
               + torch.nonzero(~pollen_correct).flatten()[:3].tolist())
batch = pollen_images[pollen_pick]
gradients = Saliency(pollen_model).attribute(batch.clone().requires_grad_(), target=pollen_predicted[pollen_pick], abs=False)
saliency = attribution.channel_reduce(gradients, "max_abs")
panels, titles = [], []
for position, index in enumerate(pollen_pick):
    label = "ok" if pollen_correct[index] else f"true {pollen_test.classes[pollen_test.labels[index]]}"
    signed = attribution.signed_scale(gradients[position:position + 1].sum(dim=1))[0]
    panels += [batch[position], plotting.colormaps[plotting.SIGNED_CMAP]((signed + 1) / 2)[..., :3],
               saliency[position], attribution.cap(saliency[position:position + 1])[0]]
    titles += [f"{pollen_test.classes[pollen_predicted[index]]} ({label})", "signed gradient",
               "saliency |max|", "capped at p99"]
plotting.image_grid(panels, titles, ncols=4, size=2.2, cmap="gray")
plt.show()

# %% [markdown]
# Does the model look at the grain? We segment the grain from the bright background (Otsu's
# threshold, `pollen.grain_mask`) and compare the share of saliency that falls on the grain with
# the share of the image the grain covers, over the whole test set. A ratio above 1 means the
# gradient concentrates on the grain.

# %%
all_gradients = Saliency(pollen_model).attribute(pollen_images.clone().requires_grad_(), target=pollen_predicted)
all_saliency = attribution.channel_reduce(all_gradients, "max_abs")
masks = pollen.grain_mask(pollen_test.images)
on_grain = (all_saliency * masks).flatten(1).sum(1) / all_saliency.flatten(1).sum(1)
area = masks.flatten(1).float().mean(1)
grain_ratio = {}
for name, selection in (("correct", pollen_correct), ("wrong", ~pollen_correct)):
    grain_ratio[name] = (on_grain / area)[selection].mean()
    print(f"{name:8s} images: {int(selection.sum()):3d}; saliency on the grain {on_grain[selection].mean():.2f}, "
          f"grain area {area[selection].mean():.2f}, ratio {grain_ratio[name]:.2f}")

# %% tags=["remove-cell"]
# The comparison the summary states, checked against the computation.
claims.holds("the share of saliency on the grain is only a little larger than the grain's area, for correct and wrong "
             "predictions alike", all(1 < ratio < 1.2 for ratio in grain_ratio.values())
             and abs(grain_ratio["correct"] - grain_ratio["wrong"]) < 0.1)

# %% [markdown]
# ## ImageNet: correct and wrong predictions

# %% mystnb={"figure": {"caption": "Saliency maps of two correctly and two wrongly classified ImageNet images: the photo, the capped saliency map and its overlay on the photo.", "name": "fig-saliency-imagenet"}, "image": {"alt": "Four rows (a fish, a small bird, a snake, a dog) of three panels. The grey-scale saliency maps are grainy; their brighter grain roughly follows the animal, but noise covers the background too."}}
subset = list(range(0, 1000, 10))
images = torch.stack([imagenet[i][0] for i in subset])
labels = torch.tensor([imagenet.targets[i] for i in subset])
predicted = inference.predict_proba(classifier.model, images).argmax(dim=1)
correct = predicted == labels
pick = torch.nonzero(correct).flatten()[:2].tolist() + torch.nonzero(~correct).flatten()[:2].tolist()
batch = images[pick]
gradients = Saliency(classifier.model).attribute(batch.clone().requires_grad_(), target=predicted[pick], abs=False)
saliency = attribution.cap(attribution.channel_reduce(gradients, "max_abs"))
panels, titles = [], []
for position, index in enumerate(pick):
    shown = classifier.to_display(batch[position])
    panels += [shown, saliency[position], plotting.overlay(shown, saliency[position], alpha=0.6)]
    verdict = "ok" if correct[index] else f"true: {classifier.class_names[labels[index]]}"
    titles += [f"{classifier.class_names[predicted[index]]} ({verdict})", "saliency (capped)", "overlay"]
plotting.image_grid(panels, titles, ncols=3, size=2.6, cmap="gray")
plt.show()
for index in pick:
    print(f"{'correct' if correct[index] else 'wrong  '}: predicted {classifier.class_names[predicted[index]]}, "
          f"true {classifier.class_names[labels[index]]}")

# %% [markdown]
# The gradient is *local*: it says how the score changes for an infinitesimal change of each pixel,
# not how much each pixel contributed. It is also noisy: neighbouring pixels can have gradients of
# opposite sign, which is why the signed map looks like salt and pepper
# ({numref}`fig-saliency-pollen`) and why the absolute value and the cap are needed to see structure
# ({numref}`fig-saliency-imagenet`). The next chapters deal with that noise ({term}`guided backpropagation`,
# {term}`SmoothGrad`) and with the locality ({term}`Integrated Gradients`).
#
# ## Summary
#
# - A saliency map is the gradient of the class score with respect to the input, reduced over
#   colour channels by the maximum absolute value; it costs one backward pass.
# - Capping at a high percentile is needed for display: a handful of very large gradients would
#   otherwise leave the rest of the map black.
# - On the pollen test set the share of saliency on the grain is only a little larger than the
#   grain's share of the image (the printed ratio is close to 1), for correct and wrong
#   predictions alike: the gradient is spread over grain and background, so a saliency map alone
#   cannot tell a right decision from a wrong one here.
# - Gradients are noisy and local; they show sensitivity, not contribution.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** A saliency map is computed for the *predicted* class. Why the class score (logit) and not
# its softmax probability?
#
# :::{admonition} Answer
# :class: dropdown
# The softmax probability of a class can rise because the scores of the *other* classes fall, so its
# gradient mixes the evidence for all classes. The logit's gradient speaks for the explained class
# alone, which is why Simonyan et al. explain the unnormalised score.
# :::
#
# **2.** Why does the chapter cap the maps at the 99th percentile before showing them, and does the
# cap change which pixels rank highest?
#
# :::{admonition} Answer
# :class: dropdown
# A handful of pixels carry gradients many times larger than the rest; on a linear colour scale they
# would leave everything else black. Capping only changes the display: values above the 99th
# percentile are drawn at the top colour, so the top 1 % become tied, but the order of all other
# pixels is unchanged.
# :::
#
# **3.** A pixel has a large gradient. Does that mean it contributed much to the score?
#
# :::{admonition} Answer
# :class: dropdown
# No. The gradient is a *sensitivity*: how fast the score would change if the pixel changed a
# little. A pixel can matter little to the current score and still have a large gradient, or the
# other way round (a unit that is already saturated). The chapter on Integrated Gradients turns
# sensitivity into contribution.
# :::
#
# ### Exercise 1
#
# Replace the maximum over channels by the sum of absolute values
# (`channel_reduce(..., "abs_sum")`). Do the maps change much?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 1: capped saliency maps of three pollen grains, reduced over the colour channels by the largest absolute value and by the sum of absolute values.", "name": "fig-saliency-exercise-reductions"}, "image": {"alt": "Six grey-scale speckle maps in a row, alternating max and sum for each of three grains; within each pair the two maps look almost the same, the sum slightly smoother."}} tags=["hide-cell"]
from xaihelpers import evaluation, features

summed = attribution.channel_reduce(all_gradients, "abs_sum")
reduction_pearson = features.pearson_per_image(all_saliency, summed).median()
reduction_spearman = evaluation.spearman_per_image(all_saliency, summed).median()
print(f"pollen test set ({len(summed)} images), max |.| vs sum |.| over channels: "
      f"Pearson median {reduction_pearson:.2f}, Spearman median {reduction_spearman:.2f}")
summed_on_grain = (summed * masks).flatten(1).sum(1) / summed.flatten(1).sum(1)
max_ratio, sum_ratio = (on_grain / area).mean(), (summed_on_grain / area).mean()
print(f"saliency on the grain / grain area: max {max_ratio:.2f}, sum {sum_ratio:.2f}")
shown = pollen_pick[:3]
panels = [m for i in shown for m in (attribution.cap(all_saliency[i:i + 1])[0], attribution.cap(summed[i:i + 1])[0])]
plotting.image_grid(panels, ["max |.|", "sum |.|"] * len(shown), ncols=6, size=1.9, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("158", len(summed), what="pollen test images")
claims.number("0.93", reduction_pearson, what="median Pearson, max vs sum over channels")
claims.number("0.94", reduction_spearman, what="median Spearman, max vs sum over channels")
claims.number("1.11", max_ratio, what="saliency on the grain / grain area, max over channels")
claims.number("1.11", sum_ratio, what="saliency on the grain / grain area, sum over channels")
claims.holds("the two reductions rank the pixels almost alike", reduction_pearson > 0.9 and reduction_spearman > 0.9)

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Hardly. Over the 158 pollen test images the two reductions correlate at a median of 0.93 (Pearson)
# and 0.94 ({term}`Spearman <Spearman rank correlation>`), and the share of saliency on the grain, relative to the grain's area, is 1.11
# with either. Both rank the pixels almost alike; the sum looks a little smoother in
# {numref}`fig-saliency-exercise-reductions` because it adds three values per pixel. The reduction
# over colour channels is a choice of display here, not a different explanation.
# :::
#
# ### Exercise 2
#
# Compute the saliency of the *true* class for the wrong pollen predictions. Does the map move?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 2: for three wrongly classified grains, the image and the capped saliency maps of the predicted and of the true class.", "name": "fig-saliency-exercise-true-class"}, "image": {"alt": "Three groups of three panels: a pollen grain, then two grey-scale speckle maps titled with the predicted and the true class. The two maps of a grain differ in detail, and neither concentrates on the grain."}} tags=["hide-cell"]
wrong_index = torch.nonzero(~pollen_correct).flatten()
wrong_images = pollen_images[wrong_index]
true_maps = attribution.channel_reduce(
    Saliency(pollen_model).attribute(wrong_images.clone().requires_grad_(), target=pollen_test.labels[wrong_index]))
predicted_maps = all_saliency[wrong_index]
true_on_grain = (true_maps * masks[wrong_index]).flatten(1).sum(1) / true_maps.flatten(1).sum(1)
class_map_corr = features.pearson_per_image(predicted_maps, true_maps).median()
print(f"{len(wrong_index)} wrong predictions: corr(map of the predicted class, map of the true class) "
      f"median {class_map_corr:.2f}")
predicted_ratio, true_ratio = (on_grain[wrong_index] / area[wrong_index]).mean(), (true_on_grain / area[wrong_index]).mean()
print(f"share on the grain / grain area: predicted class {predicted_ratio:.2f}, true class {true_ratio:.2f}")
panels, titles = [], []
for position in range(3):
    index = int(wrong_index[position])
    panels += [pollen_images[index], attribution.cap(predicted_maps[position:position + 1])[0],
               attribution.cap(true_maps[position:position + 1])[0]]
    titles += ["image", f"pred. {pollen_test.classes[pollen_predicted[index]]}",
               f"true {pollen_test.classes[pollen_test.labels[index]]}"]
plotting.image_grid(panels, titles, ncols=6, size=1.9, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("20", len(wrong_index), what="wrong pollen predictions")
claims.number("0.42", class_map_corr, what="median corr. of the predicted- and true-class maps")
claims.number("1.15", predicted_ratio, what="share on the grain / grain area, predicted class")
claims.number("1.07", true_ratio, what="share on the grain / grain area, true class")
claims.holds("the two classes' maps differ (a low correlation)", class_map_corr < 0.5)
claims.holds("neither map concentrates on the grain much more than the grain's share of the image",
             max(predicted_ratio, true_ratio) < 1.2)

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# The map moves, but it does not move onto the grain. For the 20 wrong predictions the map of the
# true class correlates with the map of the predicted class at a median of only 0.42, so different
# pixels matter for the two classes ({numref}`fig-saliency-exercise-true-class`). Yet neither map
# concentrates on the grain much more than the grain's share of the image: the ratio is 1.15 for the
# predicted and 1.07 for the true class. The gradient says *which* pixels each score is sensitive
# to, not that the model looked at the right place for the right class; on its own it cannot tell
# why the prediction was wrong.
# :::
#
# ### Exercise 3
#
# Add a small amount of noise to one image and recompute its saliency map. How stable is it?
# (SmoothGrad builds on this observation.)

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: the capped saliency map of one grain, without noise and for one noisy copy at each of three noise levels.", "name": "fig-saliency-exercise-noise"}, "image": {"alt": "Four grey-scale speckle maps in a row, titled clean and with the three noise levels. The map at the smallest noise matches the clean one; at larger noise the speckle pattern changes more and more."}} tags=["hide-cell"]
noise = torch.Generator().manual_seed(0)
index = pollen_pick[0]
image, label = pollen_images[index:index + 1], pollen_predicted[index:index + 1]
clean = attribution.channel_reduce(Saliency(pollen_model).attribute(image.clone().requires_grad_(), target=label))
print(f"{'noise sigma':>11s} {'corr with the clean map':>24s} {'class unchanged':>16s}  (10 noise draws)")
noisy_maps, noise_correlation, noise_unchanged = {}, {}, {}
for sigma in (0.001, 0.01, 0.05):
    noisy = (image + sigma * torch.randn(10, *image.shape[1:], generator=noise)).clamp(0, 1)
    noisy_maps[sigma] = attribution.channel_reduce(
        Saliency(pollen_model).attribute(noisy.clone().requires_grad_(), target=label.expand(10)))
    same = (inference.predict_proba(pollen_model, noisy).argmax(1) == label).float().mean()
    noise_correlation[sigma] = features.pearson_per_image(noisy_maps[sigma], clean.expand(10, -1, -1)).mean()
    noise_unchanged[sigma] = same
    print(f"{sigma:11.3f} {noise_correlation[sigma]:24.2f} {same:16.2f}")
plotting.image_grid([attribution.cap(clean)[0]] + [attribution.cap(noisy_maps[s][:1])[0] for s in noisy_maps],
                    ["clean"] + [f"noise {s}" for s in noisy_maps], ncols=4, size=2.0, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.setting("0.001", list(noisy_maps)[0], what="smallest noise sigma")
claims.setting("0.01", list(noisy_maps)[1], what="middle noise sigma")
claims.setting("0.05", list(noisy_maps)[2], what="largest noise sigma")
claims.setting("2.55", list(noisy_maps)[1] * 255, what="the middle noise sigma in grey levels of 0-255")
claims.holds("0.001 is a quarter of one grey level", round(list(noisy_maps)[0] * 255 * 4) == 1)
claims.number("0.97", noise_correlation[0.001], what="corr. with the clean map at noise sigma 0.001")
claims.number("0.76", noise_correlation[0.01], what="corr. with the clean map at noise sigma 0.01")
claims.number("0.40", noise_correlation[0.05], what="corr. with the clean map at noise sigma 0.05")
claims.holds("the predicted class is the same for all ten noisy copies at every level",
             all(share == 1 for share in noise_unchanged.values()))

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# It is unstable ({numref}`fig-saliency-exercise-noise`). Noise with a standard deviation of 0.001
# (a quarter of one grey level) leaves the map at a correlation of 0.97 with the clean one; at 0.01,
# 2.55 grey levels and invisible to the eye, the correlation falls to 0.76, and at 0.05 to
# 0.40. The predicted class is the same for all ten noisy copies at every level. The network is
# piecewise linear: a tiny change of the input switches units on and off, and the gradient jumps
# while the decision does not. SmoothGrad (next chapters) turns this around: it averages the maps of
# many such noisy copies.
# :::
