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
# # Integrated Gradients: from sensitivity to contribution
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/07_integrated_gradients.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F07_integrated_gradients.ipynb)
#
# A gradient says how the score would change for a tiny change of a pixel. **Integrated
# Gradients** {cite}`sundararajan2017axiomatic` (IG) asks how much each pixel *contributed* to the
# score compared with a **baseline** image $x'$ (an image that means "no evidence"): it
# integrates the gradient along the straight path from $x'$ to $x$,
#
# $$
# \mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \frac{\partial F\big(x' + \alpha (x - x')\big)}{\partial x_i}\, d\alpha .
# $$
#
# IG satisfies **completeness**: the attributions add up to $F(x) - F(x')$. With $S$ steps of a
# numerical integration the sum is off by a *convergence delta*, which tells us whether $S$ was
# large enough. Cost: $S$ forward and backward passes per image (captum's `IntegratedGradients`,
# batched with `internal_batch_size`).
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: how much each pixel contributed, relative to a reference |
# | **Who** | model developers, users who need additive attributions |
# | **What** | path-integrated gradients of a class score with respect to the input |
# | **How** | signed pixel maps, baselines compared, region totals, convergence plots |
# | **When** | after training |
# | **Where** | any differentiable classifier; pollen CNN and ImageNet model |
# | **Source** | the study it follows: ExaplainNET (Engrima18/ExaplainNET): Integrated Gradients; see {doc}`../book/sources` |
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
import copy

import matplotlib.pyplot as plt
import pandas as pd
import torch
from captum.attr import IntegratedGradients
from skimage.segmentation import mark_boundaries, slic

from xaihelpers import attribution, chapter, claims, data, inference, plotting, pollen, repro

generator = repro.seed_everything()
# The ImageNet model is EfficientNet-Lite0 (ResNet-50: XAI_IMAGENET_MODEL=resnet50); data from $XAI_DATA_ROOT.
pollen_model, pollen_test, classifier, imagenet = chapter.pollen_and_imagenet(device="cpu")

# %% [markdown]
# ## Three baselines
#
# The baseline decides what "no evidence" means, and so what the attribution explains
# {cite}`sturmfels2020visualizing`. We compare a **black** image, a strongly **blurred** copy of the
# image (keeps colours and layout, removes detail) and **uniform noise**. Maps are the signed sum
# over colour channels ({numref}`fig-ig-baselines`): red pixels raised the score relative to the
# baseline, blue ones lowered it.

# %% mystnb={"figure": {"caption": "Integrated Gradients of three pollen grains from a black, a blurred and a uniform-noise baseline, summed over the colour channels on a signed colour scale centred on zero.", "name": "fig-ig-baselines"}, "image": {"alt": "Three rows of four panels: a grain titled with its predicted class, then three signed pixel maps titled baseline black, blur and uniform. The black- and noise-baseline maps are speckled over the whole frame; the blur-baseline maps are empty outside the grain and speckled along its outline and inside it."}}
pollen_images = inference.to_float(pollen_test.images)
pollen_target = inference.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
pollen_pick = [int((pollen_test.labels == c).nonzero()[0]) for c in (2, 8, 16)]
kinds = ("black", "blur", "uniform")
pollen_ig = IntegratedGradients(pollen_model)
panels, titles = [], []
for index in pollen_pick:
    image = pollen_images[index:index + 1]
    panels.append(image[0])
    titles.append(pollen_test.classes[pollen_target[index]])
    for kind in kinds:
        reference = attribution.baseline(image, kind, sigma=4.0, generator=generator)
        ig = pollen_ig.attribute(image, baselines=reference, target=int(pollen_target[index]), n_steps=64,
                                 internal_batch_size=32)
        signed = attribution.signed_scale(attribution.channel_reduce(ig, "sum"))[0]
        panels.append(plotting.colormaps[plotting.SIGNED_CMAP]((signed + 1) / 2)[..., :3])
        titles.append(f"baseline: {kind}")
plotting.image_grid(panels, titles, ncols=4, size=2.2)
plt.show()

# %% [markdown]
# ## How many steps? The convergence delta
#
# The number of steps is a setting, so it is measured on images that report nothing: the first 10
# images of the pollen split's validation part. For each baseline, the mean absolute convergence delta
# $|\sum_i \mathrm{IG}_i - (F(x) - F(x'))|$ as the number of steps grows (captum's
# `return_convergence_delta=True`, Gauss-Legendre integration), in a table and in
# {numref}`fig-ig-convergence`.

# %%
validation = pollen.load_split("val")  # the validation part decides how many steps; test images report
batch = inference.to_float(validation.images[:10])
batch_target = inference.predict_proba(pollen_model, validation.images[:10]).argmax(dim=1)
steps = (4, 8, 16, 32, 64)
# In float64, baselines included: a float32 sum of many attributions (or a float32 blur) carries
# rounding errors of the size of the smallest deltas here, and they differ between CPUs; in float64
# the delta measures the integration alone.
pollen_ig64 = IntegratedGradients(copy.deepcopy(pollen_model).double())
table = {}
for kind in kinds:
    reference = attribution.baseline(batch.double(), kind, sigma=4.0, generator=torch.Generator().manual_seed(0))
    table[kind] = []
    for count in steps:
        _, delta = pollen_ig64.attribute(batch.double(), baselines=reference.double(), target=batch_target,
                                         n_steps=count, internal_batch_size=len(batch), return_convergence_delta=True)
        table[kind].append(delta.abs().mean().item())
convergence = pd.DataFrame(table, index=pd.Index(steps, name="steps"))
print(convergence.map(lambda value: f"{value:.1e}").to_string())

# %% mystnb={"figure": {"caption": "Mean absolute convergence delta of Integrated Gradients against the number of steps $S$ for the three baselines, on logarithmic axes.", "name": "fig-ig-convergence"}, "image": {"alt": "Log-log line chart with three falling lines labelled black, blur and uniform: the delta shrinks as the number of steps grows, and the blur line lies lowest throughout."}}
figure, axis = plt.subplots(figsize=(5, 3))
for kind in kinds:
    axis.loglog(steps, convergence[kind], marker="o", label=kind)
axis.set_xlabel("steps S")
axis.set_ylabel("mean |convergence delta|")
axis.legend(title="baseline")
plt.show()

# %% tags=["remove-cell"]
# The comparisons the text and the figure state, checked against the computation.
claims.holds("the convergence delta falls with the number of steps, for every baseline",
             all(convergence[kind].is_monotonic_decreasing for kind in kinds))
claims.holds("the blur line lies lowest throughout",
             all(convergence.loc[count, "blur"] < convergence.loc[count, other]
                 for count in steps for other in ("black", "uniform")))

# %% [markdown]
# ## Per pixel and per region
#
# Pixel attributions are hard to read: a region's evidence is spread over many small positive and
# negative values. Summing them over {term}`superpixels <superpixel>` (SLIC {cite}`achanta2012slic`) turns the map into a
# statement about *parts* of the image ({numref}`fig-ig-regions`); because IG is complete, the
# region totals still add up to $F(x) - F(x')$.

# %% mystnb={"figure": {"caption": "Integrated Gradients of one grain per pixel and summed over SLIC superpixels: the superpixel boundaries, the signed pixel map and the signed region totals.", "name": "fig-ig-regions"}, "image": {"alt": "Three panels: the grain with the superpixel boundaries drawn on it, a speckled signed pixel map, and a map of flat patches, one per superpixel, most of them positive."}}
index = pollen_pick[0]
image = pollen_images[index:index + 1]
reference = attribution.baseline(image, "blur", sigma=4.0)
ig, delta = pollen_ig.attribute(image, baselines=reference, target=int(pollen_target[index]), n_steps=128,
                                internal_batch_size=32, return_convergence_delta=True)
pixel_map = attribution.channel_reduce(ig, "sum")[0]
segments = slic(image[0].permute(1, 2, 0).numpy(), n_segments=30, compactness=10, start_label=0)
labels, totals = attribution.region_sums(pixel_map, segments)
with torch.no_grad():
    difference = (pollen_model(image) - pollen_model(reference))[0, pollen_target[index]].item()
print(f"F(x) - F(x') = {difference:.3f}; sum of pixel attributions = {pixel_map.sum():.3f}; "
      f"sum of region totals = {totals.sum():.3f}; delta = {delta.item():.1e}")
ranked = sorted(zip(labels, totals), key=lambda pair: -abs(pair[1]))[:5]
print("largest regions (label: total):", ", ".join(f"{int(l)}: {t:+.2f}" for l, t in ranked))
region_map = attribution.paint_regions(segments, labels, totals)
limit = abs(region_map).max()
panels = [mark_boundaries(image[0].permute(1, 2, 0).numpy(), segments),
          plotting.colormaps[plotting.SIGNED_CMAP]((attribution.signed_scale(pixel_map[None])[0] + 1) / 2)[..., :3],
          plotting.colormaps[plotting.SIGNED_CMAP]((region_map / limit + 1) / 2)[..., :3]]
plotting.image_grid(panels, ["SLIC regions", "IG per pixel", "IG per region"], ncols=3, size=2.6)
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the text (and the first self-check answer) state, checked against the computation.
claims.number("4.418", difference, what="F(x) - F(x')")
claims.number("4.416", pixel_map.sum(), what="sum of the pixel attributions")
claims.holds("the region totals add up to the sum of the pixel attributions", abs(totals.sum() - pixel_map.sum().item()) < 1e-3)
claims.holds("the convergence delta is the gap between the two", abs(delta.item() - (pixel_map.sum().item() - difference)) < 5e-4)

# %% [markdown]
# ## ImageNet

# %% mystnb={"figure": {"caption": "Integrated Gradients of the zebra photo from the three baselines, on a signed colour scale centred on zero.", "name": "fig-ig-zebra"}, "image": {"alt": "Four panels: the zebra photo and three signed pixel maps. From the black baseline the map follows the white stripes and the rock; from the blurred and the noise baseline the attribution is fine speckle over the head and neck."}}
picture = imagenet[340][0][None]  # a zebra
picture_target = int(inference.predict_proba(classifier.model, picture).argmax(dim=1))
imagenet_ig = IntegratedGradients(classifier.model)
panels, titles = [classifier.to_display(picture[0])], [classifier.class_names[picture_target]]
print(f"{'baseline':9s} {'F(x) - F(baseline)':>19s} {'|delta|, 32 steps':>18s}")
for kind in kinds:
    reference = attribution.baseline(picture, kind, sigma=10.0, generator=torch.Generator().manual_seed(0))
    # Two 224-pixel images per pass, as everywhere in the book: four took the kernel past 1.8 GB.
    ig, delta = imagenet_ig.attribute(picture, baselines=reference, target=picture_target, n_steps=32,
                                      internal_batch_size=2, return_convergence_delta=True)
    with torch.no_grad():
        gap = (classifier.model(picture) - classifier.model(reference))[0, picture_target].item()
    print(f"{kind:9s} {gap:19.2f} {abs(delta.item()):18.1f}")  # float32: the second decimal varies between CPUs
    signed = attribution.signed_scale(attribution.channel_reduce(ig, "sum"))[0]
    panels.append(plotting.colormaps[plotting.SIGNED_CMAP]((signed + 1) / 2)[..., :3])
    titles.append(f"baseline: {kind}")
plotting.image_grid(panels, titles, ncols=4, size=2.6)
plt.show()

# %% [markdown]
# ## What each gradient method costs
#
# The table below was measured by `benchmarks/attribution_cost.py` (`python benchmarks/attribution_cost.py --write`) on
# the ImageNet model and a batch of images, on the machine named in the file; it gives each
# method's time as a multiple of one forward and backward pass of the same batch. The chapter reads
# the stored measurement rather than timing here, so the book's outputs stay reproducible.
#
# Three things to read in it. Grad-CAM costs *less* than a full backward pass: its backward pass
# stops at the target layer. SmoothGrad and IG cost no more than their number of passes (less,
# because they need gradients for the input only, not for the weights). And the last row runs the
# same IG with all $S$ interpolated copies of the batch in one chunk: on a CPU that is several
# times *slower* than chunks the size of the batch, because the big activations no longer fit in
# the caches. That is why this book sets `internal_batch_size` to about the batch size.

# %%
measured = data.MEASURED_DIR  # shipped with the package
cost = pd.read_csv(measured / "attribution_cost.csv")
print(pd.read_json(measured / "attribution_cost.json", typ="series").to_string())
print(cost.to_string(index=False))

# %% tags=["remove-cell"]
# The comparisons the text and the summary state, checked against the stored measurement.
claims.holds("Grad-CAM costs less than a full forward and backward pass, and less than the gradient",
             cost.set_index("method").loc["Grad-CAM", "x forward+backward"]
             < min(1, cost.set_index("method").loc["saliency", "x forward+backward"]))
claims.holds("SmoothGrad and IG cost no more than their number of passes",
             all(row["x forward+backward"] < row["passes per image"] for _, row in cost.iterrows()
                 if row["method"].startswith(("SmoothGrad", "Integrated Gradients"))))
claims.holds("IG in one chunk is several times slower than in chunks the size of the batch",
             cost.set_index("method").loc["IG (S=16) in one chunk", "seconds per image"]
             >= 3 * cost.set_index("method").loc["Integrated Gradients (S=16)", "seconds per image"])
claims.holds("IG costs an order of magnitude more than a saliency map",
             10 <= cost.set_index("method").loc["Integrated Gradients (S=16)", "seconds per image"]
             / cost.set_index("method").loc["saliency", "seconds per image"] < 100)

# %% [markdown]
# ## Summary
#
# - Integrated Gradients integrates the gradient from a baseline to the image; its attributions
#   add up to the score difference (completeness), which makes region totals meaningful.
# - The baseline is part of the question: a black baseline credits dark and bright pixels
#   differently ({numref}`fig-ig-baselines` and {numref}`fig-ig-zebra`), a blurred one asks which
#   *details* mattered, a single noise baseline compares with one random image (exercise 1
#   averages over many).
# - The convergence delta falls quickly with the number of steps; the printed table shows how
#   many steps each baseline needs for a given accuracy.
# - IG costs $S$ passes per image, an order of magnitude more than a saliency map (see the cost
#   table); on a CPU, chunks about the size of the image batch keep it fastest.

# %% [markdown]
# ## Exercises
#
# Every exercise has a worked solution right below it, hidden until you click: the code (it runs
# in this chapter's kernel and reuses what the chapter computed) and an answer that reads the
# numbers it prints. Try the exercise first. The self-check questions need no code.
#
# ### Check your understanding
#
# **1.** What does completeness say, and which printed number checks it?
#
# :::{admonition} Answer
# :class: dropdown
# The attributions of all pixels add up to the score difference between the image and the baseline,
# $F(x) - F(x')$. The printed line "F(x) - F(x') = 4.418; sum of pixel attributions = 4.416" checks
# it, and the convergence delta is the gap between the two.
# :::
#
# **2.** With a black baseline, what attribution does a black pixel of the image get, whatever the
# model?
#
# :::{admonition} Answer
# :class: dropdown
# Zero. IG multiplies the integrated gradient by $x_i - x'_i$, and for a black pixel against a black
# baseline that difference is 0. A black baseline cannot credit or blame dark pixels, whatever the
# model does with them, which is one reason the chapter compares baselines.
# :::
#
# **3.** Why are region totals of IG meaningful in a way that region totals of a saliency map are
# not?
#
# :::{admonition} Answer
# :class: dropdown
# Because of completeness: IG's region totals add up to $F(x) - F(x')$, so a region's total is its
# share of the score difference. Saliency values are sensitivities at one point; their sum over a
# region is not a share of anything.
# :::
#
# ### Exercise 1
#
# Average IG over 10 uniform-noise baselines (captum's `NoiseTunnel` with `nt_type="smoothgrad"`
# around `IntegratedGradients`, or a loop). Does the map become less noisy?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code", "figure": {"caption": "Solution to exercise 1: Integrated Gradients of one grain from a single uniform-noise baseline and averaged over ten of them.", "name": "fig-ig-exercise-noise-baselines"}, "image": {"alt": "Three panels: the pollen grain, a sparse signed speckle map for one noise baseline, and a denser, smoother map, mostly positive, for ten baselines."}} tags=["hide-cell"]
from xaihelpers import features

pick_images, pick_target = pollen_images[pollen_pick], pollen_target[pollen_pick]


def ig_noise_baselines(count, seed):
    """IG averaged over ``count`` uniform-noise baselines (signed, summed over channels)."""
    noise = torch.Generator().manual_seed(seed)
    total = 0
    for _ in range(count):
        reference = attribution.baseline(pick_images, "uniform", generator=noise)
        total = total + pollen_ig.attribute(pick_images, baselines=reference, target=pick_target, n_steps=32,
                                            internal_batch_size=32)
    return attribution.channel_reduce(total / count, "sum")


print(f"{'baselines':>9s} {'roughness':>10s} {'corr between two draws':>23s}  (mean over {len(pollen_pick)} images)")
averaged_maps, map_roughness, draw_corr = {}, {}, {}
for count in (1, 10):
    first, second = ig_noise_baselines(count, seed=1), ig_noise_baselines(count, seed=2)
    averaged_maps[count] = first
    map_roughness[count], draw_corr[count] = features.roughness(first).mean(), features.pearson_per_image(first, second).mean()
    print(f"{count:9d} {map_roughness[count]:10.2f} {draw_corr[count]:23.2f}")
panels = [plotting.signed_rgb(attribution.signed_scale(averaged_maps[c][:1])[0]) for c in (1, 10)]
plotting.image_grid([pick_images[0]] + panels, ["image", "1 noise baseline", "10 noise baselines"], ncols=3, size=2.2)
plt.show()

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.05", draw_corr[1], what="corr. between two draws, one noise baseline")
claims.number("1.31", map_roughness[1], what="roughness, one noise baseline")
claims.number("0.42", draw_corr[10], what="corr. between two draws, ten noise baselines")
claims.number("0.68", map_roughness[10], what="roughness, ten noise baselines")
claims.holds("averaging over ten baselines roughly halves the roughness", 0.4 <= map_roughness[10] / map_roughness[1] <= 0.6)
claims.holds("two draws of ten baselines still correlate far below 1 (not yet converged)", draw_corr[10] < 0.5)

# %% [markdown]
# :::{admonition} Solution to exercise 1
# :class: dropdown
# Yes, but ten baselines are not yet enough ({numref}`fig-ig-exercise-noise-baselines`). With one
# uniform-noise baseline the map depends almost entirely on the draw: the maps for two different
# noise baselines correlate at 0.05, and the map is rough (1.31). Averaged over ten baselines, two
# independent draws correlate at 0.42 and the roughness halves (0.68). Averaging over baselines is
# SmoothGrad's idea applied to the baseline: a single noise baseline asks "compared with *which*
# random image?", and the average asks about random images in general. With 0.42 between two draws
# the average is still far from converged, and every baseline costs 32 more passes.
# :::
#
# ### Exercise 2
#
# Use `method="riemann_trapezoid"` in `attribute`. How many more steps does the same convergence
# delta need?

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
# The same ten images, blur baseline and step counts as the convergence table above, whose
# Gauss-Legendre column is reused (another doubling, 128 steps, would double the cell's time to
# confirm the halving the table already shows).
blur_reference = attribution.baseline(batch.double(), "blur", sigma=4.0, generator=torch.Generator().manual_seed(0))
rule_steps = steps
trapezoid = []
for count in rule_steps:
    _, rule_delta = pollen_ig64.attribute(batch.double(), baselines=blur_reference.double(), target=batch_target,
                                          n_steps=count, method="riemann_trapezoid",
                                          internal_batch_size=len(batch), return_convergence_delta=True)
    trapezoid.append(rule_delta.abs().mean().item())
rule_table = pd.DataFrame({"gausslegendre": convergence["blur"], "riemann_trapezoid": pd.Series(trapezoid, index=rule_steps)})
rule_table.index.name = "steps"
print("blur baseline, 10 pollen validation images, mean |convergence delta|:")
print(rule_table.map(lambda value: "" if pd.isna(value) else f"{value:.1e}").to_string())
goal = rule_table.loc[16, "gausslegendre"]
needed = next((s for s in rule_steps if rule_table.loc[s, "riemann_trapezoid"] <= goal), None)
print(f"Gauss-Legendre reaches {goal:.1e} with 16 steps; the trapezoid rule needs "
      + (f"{needed} steps" if needed else f"more than {rule_steps[-1]} steps"))

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.67", rule_table.loc[16, "riemann_trapezoid"], what="trapezoid delta at 16 steps")
claims.number("0.15", rule_table.loc[64, "riemann_trapezoid"], what="trapezoid delta at 64 steps")
claims.number("0.018", goal, what="Gauss-Legendre delta at 16 steps")
claims.holds("the trapezoid rule's delta only halves with each doubling of the steps",
             all(0.4 <= later / earlier <= 0.6 for earlier, later in zip(trapezoid, trapezoid[1:])))
claims.holds("up to 64 steps the trapezoid rule does not reach the Gauss-Legendre delta of 16 steps", needed is None)
claims.holds("continuing the halving, the trapezoid rule reaches it between 512 and 1,024 steps",
             trapezoid[-1] / 16 <= goal < trapezoid[-1] / 8 and rule_steps[-1] == 64)

# %% [markdown]
# :::{admonition} Solution to exercise 2
# :class: dropdown
# Many more. On the ten validation images the trapezoid rule's delta only halves with each doubling of the
# steps: 0.67 at 16 steps and 0.15 at 64, where Gauss-Legendre reaches 0.018 at 16. Continuing the
# halving, the trapezoid rule would need about 512 to 1,024 steps for the same delta, 32 to 64 times
# the passes. captum's default, Gauss-Legendre, places its points where they integrate a smooth
# function best; that is why the book's chapters get away with 32 to 64 steps.
# :::
#
# ### Exercise 3
#
# Rank the SLIC regions by total attribution and grey out the top three. How much does the
# predicted probability drop? (The evaluation chapter turns this into the deletion curve.)

# %% mystnb={"code_prompt_hide": "Hide the solution's code", "code_prompt_show": "Show the solution's code"} tags=["hide-cell"]
import numpy as np


def probability_of(pictures, label):
    with torch.no_grad():
        return pollen_model(pictures).softmax(dim=1)[:, label]


choice = torch.Generator().manual_seed(0)
greyed_probability = []
print(f"{'image':12s} {'p(class)':>8s} {'top 3 grey':>10s} {'bottom 3 grey':>13s} {'3 random grey':>13s}")
for index in pollen_pick:
    picture = pollen_images[index:index + 1]
    label = int(pollen_target[index])
    regions = slic(picture[0].permute(1, 2, 0).numpy(), n_segments=30, compactness=10, start_label=0)
    attributions = pollen_ig.attribute(picture, baselines=attribution.baseline(picture, "blur", sigma=4.0), target=label,
                                       n_steps=64, internal_batch_size=32)
    region_labels, region_totals = attribution.region_sums(attribution.channel_reduce(attributions, "sum")[0], regions)
    order = region_labels[np.argsort(-region_totals)]

    def greyed(chosen_regions):
        mask = torch.from_numpy(np.isin(regions, chosen_regions))
        return torch.where(mask, torch.full_like(picture, 0.5), picture)

    random_triples = [region_labels[torch.randperm(len(region_labels), generator=choice)[:3].numpy()] for _ in range(10)]
    random_drop = torch.cat([probability_of(greyed(t), label) for t in random_triples]).mean()
    greyed_probability.append({"image": probability_of(picture, label).item(),
                               "top": probability_of(greyed(order[:3]), label).item(),
                               "bottom": probability_of(greyed(order[-3:]), label).item(), "random": random_drop.item()})
    print(f"{pollen_test.classes[label]:12s} {greyed_probability[-1]['image']:8.2f} "
          f"{greyed_probability[-1]['top']:10.2f} {greyed_probability[-1]['bottom']:13.2f} "
          f"{greyed_probability[-1]['random']:13.2f}")

# %% tags=["remove-cell"]
# The numbers and comparisons the next solution states, checked against the computation.
claims.number("0.98", greyed_probability[0]["image"], what="p(class), first grain")
claims.number("0.74", greyed_probability[0]["top"], what="p(class) with the top 3 regions grey, first grain")
claims.number("0.81", greyed_probability[1]["image"], what="p(class), second grain")
claims.number("0.02", greyed_probability[1]["top"], what="p(class) with the top 3 regions grey, second grain")
claims.number("0.84", greyed_probability[2]["image"], what="p(class), third grain")
claims.number("0.39", greyed_probability[2]["top"], what="p(class) with the top 3 regions grey, third grain")
claims.number("0.94", greyed_probability[0]["random"], what="p(class) with 3 random regions grey, first grain")
claims.number("0.20", greyed_probability[1]["random"], what="p(class) with 3 random regions grey, second grain")
claims.number("0.69", greyed_probability[2]["random"], what="p(class) with 3 random regions grey, third grain")
claims.number("0.99", greyed_probability[0]["bottom"], what="p(class) with the bottom 3 regions grey, first grain")
claims.number("0.93", greyed_probability[2]["bottom"], what="p(class) with the bottom 3 regions grey, third grain")
claims.holds("three random regions lower the probability, but less than the top three, on every grain",
             all(p["top"] < p["random"] < p["image"] for p in greyed_probability))
claims.holds("greying the bottom three regions raises the probability for two of the three grains (the first and third)",
             [p["bottom"] > p["image"] for p in greyed_probability] == [True, False, True])

# %% [markdown]
# :::{admonition} Solution to exercise 3
# :class: dropdown
# Greying out the three regions with the largest IG totals lowers the probability of the predicted
# class from 0.98 to 0.74, from 0.81 to 0.02 and from 0.84 to 0.39. Three random regions lower it
# less (0.94, 0.20 and 0.69, the mean over ten random triples). The three regions with the lowest
# totals even raise it for two images (0.99 and 0.93). On these three grains IG's ranking of the
# regions is faithful: its top regions matter more than random ones. The evaluation
# chapter measures this for every method, pixel by pixel, as deletion curves. (Grey is a different
# "absence" than the blurred baseline that IG was computed against; the drop would differ with a
# blurred fill.)
# :::
