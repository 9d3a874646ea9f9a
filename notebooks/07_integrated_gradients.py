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

# %%
# Colab or Binder: install the book's helpers, then fetch the data this chapter needs (where they
# are present already, as in a checkout of the book, nothing happens).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("xaihelpers") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "xaihelpers[book] @ git+https://github.com/xai-image-book/xai-image-book"], check=True)
from xaihelpers.fetch import ensure

ensure("pollen", "imagenet_samples")

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from captum.attr import IntegratedGradients
from skimage.segmentation import mark_boundaries, slic

from xaihelpers import attribution, data, models, plotting, pollen, repro, training

generator = repro.seed_everything()
device = torch.device("cpu")
pollen_model, _ = pollen.load_model()
pollen_test = pollen.load_split("test")  # from $XAI_DATA_ROOT
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}; pollen test images: {len(pollen_test.labels)}")

# %% [markdown]
# ## Three baselines
#
# The baseline decides what "no evidence" means, and so what the attribution explains
# {cite}`sturmfels2020visualizing`. We compare a **black** image, a strongly **blurred** copy of
# the image (keeps colours and layout, removes detail) and **uniform noise**. Maps are the signed
# sum over colour channels: red pixels raised the score relative to the baseline, blue ones
# lowered it.

# %%
pollen_images = training.to_float(pollen_test.images)
pollen_target = training.predict_proba(pollen_model, pollen_test.images).argmax(dim=1)
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
# For 10 pollen test images and each baseline: the mean absolute convergence delta
# $|\sum_i \mathrm{IG}_i - (F(x) - F(x'))|$ as the number of steps grows (captum's
# `return_convergence_delta=True`, Gauss-Legendre integration).

# %%
batch, batch_target = pollen_images[:10], pollen_target[:10]
steps = (4, 8, 16, 32, 64)
table = {}
for kind in kinds:
    reference = attribution.baseline(batch, kind, sigma=4.0, generator=torch.Generator().manual_seed(0))
    table[kind] = []
    for count in steps:
        _, delta = pollen_ig.attribute(batch, baselines=reference, target=batch_target, n_steps=count,
                                       internal_batch_size=len(batch), return_convergence_delta=True)
        table[kind].append(delta.abs().mean().item())
convergence = pd.DataFrame(table, index=pd.Index(steps, name="steps"))
print(convergence.map(lambda value: f"{value:.1e}").to_string())

# %%
figure, axis = plt.subplots(figsize=(5, 3))
for kind in kinds:
    axis.loglog(steps, convergence[kind], marker="o", label=kind)
axis.set_xlabel("steps S")
axis.set_ylabel("mean |convergence delta|")
axis.legend(title="baseline")
plt.show()

# %% [markdown]
# ## Per pixel and per region
#
# Pixel attributions are hard to read: a region's evidence is spread over many small positive and
# negative values. Summing them over superpixels (SLIC {cite}`achanta2012slic`) turns the map into
# a statement about *parts* of the image; because IG is complete, the region totals still add up
# to $F(x) - F(x')$.

# %%
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

# %% [markdown]
# ## ImageNet

# %%
picture = imagenet[340][0][None]  # a zebra
picture_target = int(training.predict_proba(classifier.model, picture).argmax(dim=1))
imagenet_ig = IntegratedGradients(classifier.model)
panels, titles = [classifier.to_display(picture[0])], [classifier.class_names[picture_target]]
print(f"{'baseline':9s} {'F(x) - F(baseline)':>19s} {'|delta|, 32 steps':>18s}")
for kind in kinds:
    reference = attribution.baseline(picture, kind, sigma=10.0, generator=torch.Generator().manual_seed(0))
    ig, delta = imagenet_ig.attribute(picture, baselines=reference, target=picture_target, n_steps=32,
                                      internal_batch_size=4, return_convergence_delta=True)
    with torch.no_grad():
        gap = (classifier.model(picture) - classifier.model(reference))[0, picture_target].item()
    print(f"{kind:9s} {gap:19.2f} {abs(delta.item()):18.3f}")
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

# %% [markdown]
# ## Summary
#
# - Integrated Gradients integrates the gradient from a baseline to the image; its attributions
#   add up to the score difference (completeness), which makes region totals meaningful.
# - The baseline is part of the question: a black baseline credits dark and bright pixels
#   differently, a blurred one asks which *details* mattered, a noise baseline averages over
#   random references.
# - The convergence delta falls quickly with the number of steps; the printed table shows how
#   many steps each baseline needs for a given accuracy.
# - IG costs $S$ passes per image, an order of magnitude more than a saliency map (see the cost
#   table); on a CPU, chunks about the size of the image batch keep it fastest.
#
# ## Exercises
#
# 1. Average IG over 10 uniform-noise baselines (captum's `NoiseTunnel` with `nt_type="smoothgrad"`
#    around `IntegratedGradients`, or a loop). Does the map become less noisy?
# 2. Use `method="riemann_trapezoid"` in `attribute`. How many more steps does the same
#    convergence delta need?
# 3. Rank the SLIC regions by total attribution and grey out the top three. How much does the
#    predicted probability drop? (The evaluation chapter turns this into the deletion curve.)
