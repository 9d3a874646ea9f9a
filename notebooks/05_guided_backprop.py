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
# # Guided backpropagation: sharp pictures, weak evidence
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/05_guided_backprop.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F05_guided_backprop.ipynb)
#
# Vanilla saliency maps are noisy. **Guided backpropagation** {cite}`springenberg2014striving`
# changes one rule of the backward pass: at every ReLU, a gradient passes only where the forward
# input was positive (the ordinary ReLU derivative) *and* the gradient arriving from above is
# positive,
#
# $$
# R^{(l)} = \mathbb{1}\big[x^{(l)} > 0\big] \cdot \mathbb{1}\big[R^{(l+1)} > 0\big] \cdot R^{(l+1)} .
# $$
#
# The result looks much crisper than the gradient. This chapter shows both side by side, then
# checks what the crispness is made of. Cost: one forward and one backward pass (captum's
# `GuidedBackprop`).
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability, and a lesson in checking an explanation |
# | **Who** | learners, model developers |
# | **What** | a modified gradient of the class score with respect to the input |
# | **How** | attribution maps beside vanilla saliency; similarity measurements |
# | **When** | after training |
# | **Where** | ReLU networks (ReLU6 too, with the book's helper); pollen CNN and ImageNet model |
# | **Source** | the studies it follows: the class-model project (guided backpropagation through the ReLUs); the pollen CNN after ExaplainNET (Engrima18/ExaplainNET); see {doc}`../book/sources` |
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
import warnings

import matplotlib.pyplot as plt
import torch

from xaihelpers import attribution, chapter, claims, evaluation, features, inference, methods, plotting, repro

repro.seed_everything()
# captum announces each time that it hooks the ReLUs; that is what guided backprop is, not a problem.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")

# %% [markdown]
# captum's `GuidedBackprop` overrides the gradient of `nn.ReLU` modules only. EfficientNet-Lite0
# uses ReLU6, which captum would silently leave unguided (the result would be the plain
# gradient); `attribution.guided_backprop_ready` returns a copy of the model whose ReLU6 modules
# captum recognises. For ResNet-50 and the pollen CNN the copy is identical to the original. The
# book's registry of methods (`xaihelpers.methods`) makes the same swap for the duration of each
# guided-backprop call and undoes it afterwards, so the chapter calls the methods from there.

# %%
imagenet_guided_model = attribution.guided_backprop_ready(classifier.model)
check = torch.rand(2, 3, 224, 224)
with torch.no_grad():
    same_outputs = torch.allclose(classifier.model(check), imagenet_guided_model(check), atol=1e-5)
    print("same outputs after the swap:", same_outputs)


def explain_both(model, batch, target):
    """Vanilla saliency and guided backprop of the same images, (N, H, W) each (max |.| over channels)."""
    return methods.get("saliency")(model, batch, target), methods.get("guided backprop")(model, batch, target)


# %% [markdown]
# ## Side by side: pollen

# %% mystnb={"figure": {"caption": "Saliency and guided backpropagation side by side for one test grain of each of four pollen classes.", "name": "fig-guided-pollen"}, "image": {"alt": "Two rows of two groups of three panels: a pollen grain titled with its predicted class, its saliency map and its guided-backprop map, in grey scale. The saliency maps are even speckle; the guided-backprop maps trace the grain's outline and inner texture more clearly."}}
pollen_images = inference.to_float(pollen_test.images)
pollen_predicted = inference.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
pollen_pick = [int((pollen_test.labels == c).nonzero()[0]) for c in (0, 5, 10, 15)]
vanilla, guided = explain_both(pollen_model, pollen_images[pollen_pick], pollen_predicted[pollen_pick])
panels, titles = [], []
for position, index in enumerate(pollen_pick):
    panels += [pollen_images[index], attribution.cap(vanilla[position:position + 1])[0],
               attribution.cap(guided[position:position + 1])[0]]
    titles += [pollen_test.classes[pollen_predicted[index]], "saliency", "guided backprop"]
plotting.image_grid(panels, titles, ncols=6, size=2.0, cmap="gray")
plt.show()

# %% [markdown]
# ## Side by side: ImageNet

# %% mystnb={"figure": {"caption": "Saliency and guided backpropagation side by side for four ImageNet images.", "name": "fig-guided-imagenet"}, "image": {"alt": "Two rows of two groups of three panels: a photo (goldfish, bald eagle, cat, zebra), its saliency map and its guided-backprop map. The guided-backprop maps are crisper and look like edge drawings of the animal, such as the zebra's stripes and the eagle's wing."}}
picks = [1, 22, 281, 340]
images = torch.stack([imagenet[i][0] for i in picks])
predicted = inference.predict_proba(classifier.model, images).argmax(dim=1)
vanilla, guided = explain_both(classifier.model, images, predicted)
panels, titles = [], []
for position in range(len(picks)):
    panels += [classifier.to_display(images[position]), attribution.cap(vanilla[position:position + 1])[0],
               attribution.cap(guided[position:position + 1])[0]]
    titles += [classifier.class_names[predicted[position]], "saliency", "guided backprop"]
plotting.image_grid(panels, titles, ncols=6, size=2.0, cmap="gray")
plt.show()

# %% [markdown]
# ## What the crispness is made of
#
# Guided backprop maps look like edge drawings of the image ({numref}`fig-guided-pollen` and
# {numref}`fig-guided-imagenet`). Two quick checks tell whether they explain the *model's decision*
# or mostly reconstruct the *image*:
#
# 1. **Class sensitivity.** Explain the top class and a *far* class: the one ranked 100th for the
#    ImageNet model, the last of the 23 for the pollen CNN. An explanation of a decision should
#    change with the class.
# 2. **Model sensitivity.** Re-initialise the last layer (the classifier) with random weights, so
#    the "model" no longer knows any class, and explain again. An explanation of the model should
#    change completely.
#
# We report the Pearson correlation between the original map and the changed one (1 = unchanged),
# median over the images, for the gradient and for guided backprop.

# %%
def sensitivity(model, batch, head, explain=explain_both, names=("saliency", "guided backprop")):
    """Median correlations of each method's map with the map of a far class and with the map of a
    random-head model; ``explain(model, batch, target)`` returns one map per name."""
    ranking = inference.predict_proba(model, batch).argsort(dim=1, descending=True)
    top, far = ranking[:, 0], ranking[:, min(99, ranking.shape[1] - 1)]
    original = explain(model, batch, top)
    other_class = explain(model, batch, far)
    random_model = evaluation.randomized_copy(model, [head], seed=1)  # a copy with a freshly initialised head
    random_maps = explain(random_model, batch, top)
    rows = {}
    for position, name in enumerate(names):
        rows[name] = (features.pearson_per_image(original[position], other_class[position]).median().item(),
                      features.pearson_per_image(original[position], random_maps[position]).median().item())
    return rows


pollen_rows = sensitivity(pollen_model, pollen_images[:40], "classifier")
imagenet_rows = sensitivity(classifier.model, images, classifier.head_layer)
print(f"{'model':9s} {'method':16s} {'corr: class #1 vs far':>23s} {'corr: trained vs random head':>29s}")
for model_name, rows in (("pollen", pollen_rows), ("ImageNet", imagenet_rows)):
    for method, (class_corr, model_corr) in rows.items():
        print(f"{model_name:9s} {method:16s} {class_corr:23.2f} {model_corr:29.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next paragraphs state, checked against the computation.
claims.holds("the copy with recognised ReLU6 modules has the same outputs", same_outputs)
claims.holds("the last of the pollen CNN's classes is the 23rd", len(pollen_test.classes) == 23)
claims.number("1.00", imagenet_rows["guided backprop"][0], what="ImageNet guided backprop, corr. class #1 vs far")
claims.number("1.00", imagenet_rows["guided backprop"][1], what="ImageNet guided backprop, corr. trained vs random head")
claims.holds("guided backprop's maps change much less than the gradient's with the class and with the head, on both models",
             all(rows["guided backprop"][check] > rows["saliency"][check] + 0.25
                 for rows in (pollen_rows, imagenet_rows) for check in (0, 1)))
claims.holds("the plain gradient moves with both the class and the head",
             all(rows["saliency"][check] < 0.6 for rows in (pollen_rows, imagenet_rows) for check in (0, 1)))

# %% [markdown]
# Guided backprop's maps change much less than the gradient's when the class changes or when the
# classifier layer is replaced by random weights, and on the ImageNet model not at all (correlation
# 1.00 for both): most of what they show is decided by the image and the lower layers
# (the positive-gradient rule discards the information that would distinguish classes), a finding
# of Adebayo et al. {cite}`adebayo2018sanity` and of Nie et al. {cite}`nie2018theoretical`, who
# showed that guided backpropagation essentially performs a partial image recovery. The plain gradient is noisier but
# moves with both. A good-looking explanation is not a faithful one; the evaluation chapter runs
# the full {term}`cascading-randomisation <cascading randomisation>` {term}`sanity check` for every method of the book.
#
# ## Summary
#
# - Guided backprop lets a gradient through a ReLU only where both the forward input and the
#   backward signal are positive; the maps are sharp, edge-like images.
# - With ReLU6 networks captum needs the book's helper, or it silently returns the plain gradient.
# - The printed correlations show guided backprop is far less sensitive to the explained class and
#   to the model's last layer than the plain gradient: it looks good while largely ignoring the
#   part of the model that makes the decision.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** At a ReLU, how do the plain gradient, guided backprop and deconvnet treat a gradient
# arriving from above?
#
# :::{admonition} Answer
# :class: dropdown
# The plain gradient passes wherever the ReLU's forward input was positive, whatever the sign of the
# gradient from above. Guided backprop passes only where the forward input was positive *and* the
# gradient from above is positive. Deconvnet passes only where the gradient from above is positive
# and ignores the forward input: it applies the ReLU to the backward signal.
# :::
#
# **2.** Why does the chapter make a copy of EfficientNet-Lite0 before running captum's
# `GuidedBackprop` on it?
#
# :::{admonition} Answer
# :class: dropdown
# captum's `GuidedBackprop` changes the backward pass of `nn.ReLU` modules only, and
# EfficientNet-Lite0 uses ReLU6. On the model as it is, captum would silently return the plain
# gradient. `attribution.guided_backprop_ready` returns a copy whose ReLU6 modules captum
# recognises, with the same outputs (the chapter checks it), and leaves the reader's model
# untouched.
# :::
#
# **3.** A map that stays the same when the last layer is randomised: what can it not be
# explaining?
#
# :::{admonition} Answer
# :class: dropdown
# The decision. The last layer is where the network turns features into classes; a map that stays
# the same when that layer is random is about the image and the lower layers, not about how the
# model decides.
# :::
#
# ### Exercise 1
#
# Randomise a deeper part of the model too (for the pollen CNN, `features.3`). How do the
# correlations change for each method?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
deep_batch = pollen_images[:40]
deep_target = inference.predict_proba(pollen_model, deep_batch).argmax(dim=1)
trained_maps = explain_both(pollen_model, deep_batch, deep_target)
print(f"{'randomised':36s} {'saliency':>9s} {'guided backprop':>16s}  (median corr. with the trained maps)")
deep_corr = {}
for layers in (["classifier"], ["classifier", "features.3"], ["classifier", "features.3", "features.2"]):
    changed = evaluation.randomized_copy(pollen_model, layers, seed=1)
    changed_maps = explain_both(changed, deep_batch, deep_target)
    deep_corr[" + ".join(layers)] = [features.pearson_per_image(a, b).median() for a, b in zip(trained_maps, changed_maps)]
    print(f"{' + '.join(layers):36s} "
          + " ".join(f"{median:{w}.2f}" for median, w in zip(deep_corr[" + ".join(layers)], (9, 16))))

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.77", deep_corr["classifier + features.3"][1], what="guided backprop, classifier and features.3 random")
claims.number("0.25", deep_corr["classifier + features.3"][0], what="saliency, classifier and features.3 random")
claims.number("0.66", deep_corr["classifier + features.3 + features.2"][1], what="guided backprop, features.2 random too")
claims.number("0.23", deep_corr["classifier + features.3 + features.2"][0], what="saliency, features.2 random too")
claims.holds("both maps change more as more of the network is random",
             all(later[method] < earlier[method] for method in (0, 1)
                 for earlier, later in zip(list(deep_corr.values()), list(deep_corr.values())[1:])))
claims.holds("guided backprop stays much closer to its trained map than the gradient",
             all(guided > vanilla + 0.25 for vanilla, guided in deep_corr.values()))
claims.holds("features.3 and features.2 are two of the pollen CNN's four convolutional blocks", len(pollen_model.features) == 4)

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Both maps change more as more of the network is random, but guided backprop stays much closer to
# its trained map. With the classifier and `features.3` random, its median correlation with the
# trained map is 0.77, against 0.25 for the gradient; with `features.2` random as well it is still
# 0.66 (gradient: 0.23). Saliency is the exact gradient of whatever model it is given, so it follows
# every change; guided backprop's map stays strongly correlated with its trained one even with two
# of the four convolutional blocks destroyed. That is the cascading randomisation of Adebayo et al.
# {cite}`adebayo2018sanity`, which the evaluation chapter runs for every method.
# :::
#
# ### Exercise 2
#
# Implement *deconvnet* (captum's `Deconvolution`) and add it to the table.

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
from captum.attr import Deconvolution


def deconvnet(model, batch, target):
    """Deconvnet runs on the copy with recognised ReLU6 modules, as guided backprop does."""
    gradients = Deconvolution(attribution.guided_backprop_ready(model)).attribute(batch.clone().requires_grad_(),
                                                                                  target=target)
    return (attribution.channel_reduce(gradients, "max_abs"),)


pollen_rows.update(sensitivity(pollen_model, pollen_images[:40], "classifier", explain=deconvnet, names=("deconvnet",)))
imagenet_rows.update(sensitivity(classifier.model, images, classifier.head_layer, explain=deconvnet,
                                 names=("deconvnet",)))
print(f"{'model':9s} {'method':16s} {'corr: class #1 vs far':>23s} {'corr: trained vs random head':>29s}")
for model_name, rows in (("pollen", pollen_rows), ("ImageNet", imagenet_rows)):
    for method, (class_corr, model_corr) in rows.items():
        print(f"{model_name:9s} {method:16s} {class_corr:23.2f} {model_corr:29.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.51", pollen_rows["deconvnet"][0], what="pollen deconvnet, corr. class #1 vs last")
claims.number("0.68", pollen_rows["deconvnet"][1], what="pollen deconvnet, corr. trained vs random head")
claims.number("0.48", pollen_rows["saliency"][0], what="pollen saliency, corr. class #1 vs last")
claims.number("0.40", pollen_rows["saliency"][1], what="pollen saliency, corr. trained vs random head")
claims.number("0.76", pollen_rows["guided backprop"][0], what="pollen guided backprop, corr. class #1 vs last")
claims.number("0.87", pollen_rows["guided backprop"][1], what="pollen guided backprop, corr. trained vs random head")
claims.number("1.00", imagenet_rows["deconvnet"][0], what="ImageNet deconvnet, corr. class #1 vs far")
claims.number("1.00", imagenet_rows["deconvnet"][1], what="ImageNet deconvnet, corr. trained vs random head")
claims.holds("deconvnet sits between the gradient and guided backprop on the pollen CNN",
             all(pollen_rows["saliency"][check] < pollen_rows["deconvnet"][check] < pollen_rows["guided backprop"][check]
                 for check in (0, 1)))

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Deconvnet sits between the two on the pollen CNN: 0.51 between the maps of the top and the last
# class and 0.68 between the trained and the random head (gradient 0.48 and 0.40, guided backprop
# 0.76 and 0.87). On EfficientNet-Lite0 it behaves like guided backprop: 1.00 and 1.00, the same map
# whatever the class and whatever the classifier. Deconvnet keeps only positive backward signals at
# every ReLU; over the many layers of a deep network that rule leaves a picture that the input and
# the first layers decide, the image recovery that Nie et al. {cite}`nie2018theoretical` describe
# for both methods.
# :::
#
# ### Exercise 3
#
# Explain a pure noise image with guided backprop. What do you see, and what does that say?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 3: saliency and guided backpropagation of a uniform-noise image.", "name": "fig-guided-exercise-noise"}, "image": {"alt": "Three panels: a square of coloured pixel noise, then two grey-scale maps of speckled blobs titled saliency and guided backprop, much alike and without any structure of the noise image."}} tags=["hide-cell"]
noise_images = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
noise_target = inference.predict_proba(classifier.model, noise_images).argmax(dim=1)
noise_vanilla, noise_guided = explain_both(classifier.model, noise_images, noise_target)
noise_edges = features.edge_magnitude(noise_images)
noise_classes = [classifier.class_names[c] for c in noise_target]
print("noise images classified as:", noise_classes)
noise_guided_edge_corr = features.pearson_per_image(noise_guided, noise_edges).mean()
print(f"corr with the noise image's own edge map: saliency {features.pearson_per_image(noise_vanilla, noise_edges).mean():.2f}, "
      f"guided backprop {noise_guided_edge_corr:.2f}")
other_target = inference.predict_proba(classifier.model, noise_images).argsort(dim=1, descending=True)[:, 99]
_, other_guided = explain_both(classifier.model, noise_images, other_target)
noise_class_corr = features.pearson_per_image(noise_guided, other_guided).mean()
print(f"guided backprop, corr between the maps of class #1 and class #100: {noise_class_corr:.2f}")
plotting.image_grid([noise_images[0], attribution.cap(noise_vanilla[:1])[0], attribution.cap(noise_guided[:1])[0]],
                    ["uniform noise", "saliency", "guided backprop"], ncols=3, size=2.4, cmap="gray")
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.holds("the network calls both noise images a kite", noise_classes == ["kite", "kite"])
claims.number("0.00", noise_guided_edge_corr, what="guided backprop's corr. with the noise image's edge map")
claims.number("0.96", noise_class_corr, what="guided backprop, corr. of the maps of class #1 and class #100")

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# The network calls both noise images a kite: it must choose some class. Guided backprop still draws
# a map ({numref}`fig-guided-exercise-noise`), a speckle of blobs much like the gradient's, that
# does not follow the noise image's own edges (correlation 0.00 with its edge map) and is the same
# for the top class and the class ranked 100th (correlation 0.96). Nothing in a noise image speaks
# for a kite more than for any other class, and a map of the decision should show that; guided
# backprop shows one picture for every class, which says again that its maps are not about the
# decision.
# :::
