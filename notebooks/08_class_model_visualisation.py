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
# # Class-model visualisation: what the network thinks a class looks like
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/08_class_model_visualisation.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F08_class_model_visualisation.ipynb)
#
# The attribution chapters explained *one decision on one image*. A **global** view asks the
# opposite question: which image would the network call "green snake" most strongly? Simonyan
# et al. {cite}`simonyan2013deep` answer it with gradient ascent on the class score $S_c$,
# starting from a neutral image, with an L2 penalty that keeps the image from running off:
#
# $$
# x^\star = \arg\max_x \; S_c(x) - \lambda \lVert x - x_0 \rVert_2^2 ,
# $$
#
# where $x_0$ is a uniform grey image and $S_c$ the unnormalised score (logit); the softmax
# probability could also be raised by *lowering* the other classes. Plain gradient ascent finds
# high-frequency patterns that excite the network but look like noise to us. Yosinski et al.
# {cite}`yosinski2015understanding` added two regularisers: a **Gaussian blur** every $k$ steps,
# which removes the high frequencies the gradient keeps adding, and **jitter**, a random shift of
# the image before each step. No library in the book's stack implements this;
# `xaihelpers.classvis.class_model` does, batched over classes. Cost: one forward and one
# backward pass per step.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | interpretability: a global picture of what a class means to the network |
# | **Who** | learners, model developers |
# | **What** | an input image optimised to maximise one class score |
# | **How** | gradient ascent with L2, blur and jitter; beside a real image of the class |
# | **When** | after training |
# | **Where** | the ImageNet model (1000 classes, enough variety for recognisable results) |

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

ensure("imagenet_samples")

# %%
import matplotlib.pyplot as plt
import torch

from xaihelpers import classvis, data, models, plotting, repro

repro.seed_everything()
device = torch.device("cpu")
classifier = models.load_imagenet_model(device=device)  # EfficientNet-Lite0; ResNet-50: XAI_IMAGENET_MODEL=resnet50
imagenet = data.load_dataset("imagenet_samples", split="all", transform=classifier.preprocess)
print(classifier.describe())
print(f"device: {device}")

# %% [markdown]
# ## Four classes, L2 regularisation only
#
# Green snake, tarantula, flamingo and lemon, optimised together as one batch for 100 steps at
# 128 x 128 pixels (the network pools globally, so any size works; a smaller one is about three
# times cheaper). The optimised images stay near the grey start, so they are shown with their
# contrast stretched between the 1st and 99th percentile, as in the original paper.

# %%
classes = [55, 76, 130, 951]  # green snake, tarantula, flamingo, lemon
names = [classifier.class_names[c] for c in classes]
settings = dict(steps=100, size=128, step_size=0.01, l2=0.01)
plain = classvis.class_model(classifier.model, classes, **settings)
real = [classifier.to_display(imagenet[imagenet.targets.index(c)][0]) for c in classes]


def show(result, label):
    panels = list(real) + list(classvis.for_display(result.images))
    titles = [f"{name} (photo)" for name in names] + [f"{label}\nscore {s:.1f}, p {p:.2f}"
                                                     for s, p in zip(result.scores[-1], result.probabilities)]
    plotting.image_grid(panels, titles, ncols=len(classes), size=2.4)
    plt.show()


show(plain, "L2 only")
print(f"{'class':12s} {'score at start':>15s} {'score at end':>13s} {'probability':>12s} {'high-freq. energy':>18s}")
energy = classvis.high_frequency_energy(plain.images)
for position, name in enumerate(names):
    print(f"{name:12s} {plain.scores[0, position]:15.1f} {plain.scores[-1, position]:13.1f} "
          f"{plain.probabilities[position]:12.2f} {energy[position]:18.2f}")

# %% [markdown]
# The network is completely convinced (probability close to 1) by images that look to us like
# coloured noise: the "high-frequency energy" column is the share of each image's variation above
# a quarter of the sampling frequency (`classvis.high_frequency_energy`; 0 for a smooth image,
# close to 1 for pixel noise). Such images are the adversarial side of the same coin: small,
# structured pixel changes move a class score a long way.
#
# ## Blur every 4 steps, with jitter

# %%
regularised = classvis.class_model(classifier.model, classes, blur_every=4, blur_sigma=1.0, jitter=4, **settings)
show(regularised, "blur + jitter")
energy = classvis.high_frequency_energy(regularised.images)
print(f"{'class':12s} {'score at end':>13s} {'probability':>12s} {'high-freq. energy':>18s}")
for position, name in enumerate(names):
    print(f"{name:12s} {regularised.scores[-1, position]:13.1f} {regularised.probabilities[position]:12.2f} "
          f"{energy[position]:18.2f}")

# %% [markdown]
# With blur and jitter, parts of the class appear: a snake's curved body, hairy legs, a long pink
# neck, the segments of a citrus slice. The scores are lower than without regularisation, since
# the optimiser may no longer use the high frequencies, but the network still picks the class.
# The score curves show the price of each blur: a drop, recovered by the following steps.

# %%
figure, axes = plt.subplots(1, len(classes), figsize=(12, 2.6), sharey=True)
for position, (axis, name) in enumerate(zip(axes, names)):
    axis.plot(plain.scores[:, position], label="L2 only")
    axis.plot(regularised.scores[:, position], label="blur + jitter")
    axis.set_title(name)
    axis.set_xlabel("step")
axes[0].set_ylabel("class score (logit)")
axes[0].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## How often, and how strongly, to blur
#
# The green snake again, without jitter, for three blur intervals $k$ and three blur widths
# $\sigma$ (in pixels). Frequent or wide blurs leave only coarse blobs; rare, narrow ones let the
# noise back in.

# %%
intervals, widths = (1, 4, 16), (0.5, 1.0, 2.0)
grid = [(every, width) for every in intervals for width in widths]
# All nine settings in one batch: each image is optimised on its own, with its own blur.
result = classvis.class_model(classifier.model, [55] * len(grid), blur_every=[every for every, _ in grid],
                              blur_sigma=[width for _, width in grid], **settings)
energy = classvis.high_frequency_energy(result.images)
plotting.image_grid(list(classvis.for_display(result.images)),
                    [f"every {every}, sigma {width}" for every, width in grid],
                    ncols=len(widths), size=2.4, suptitle=names[0])
plt.show()
print(f"{'every k':>7s} {'sigma':>6s} {'score':>7s} {'probability':>12s} {'high-freq. energy':>18s}")
for position, (every, width) in enumerate(grid):
    print(f"{every:7d} {width:6.1f} {result.scores[-1, position]:7.1f} {result.probabilities[position]:12.2f} "
          f"{energy[position]:18.3f}")

# %% [markdown]
# The table makes the trade-off measurable. For a fixed interval $k$, the widest blur gives the
# lowest score the optimiser can reach, and with it the network may no longer pick the class
# (the probability drops). The optimisation is sensitive: 100 steps amplify rounding differences,
# so single entries move between machines (and between numerical libraries), while these
# tendencies stay. Blurring more often (smaller $k$) lowers the high-frequency energy.
# With $k = 16$ the measure can rise again with $\sigma$: the last unblurred steps add fine detail
# on top of a very smooth image, and the measure is a *share* of the variation, not an amount. The
# setting used above ($k = 4$, $\sigma = 1$) sits in the middle: recognisable shapes, and a score
# the network still takes for the class.
#
# ## Summary
#
# - Class-model visualisation optimises an *input* to maximise a class score: a global view of
#   the class, not an explanation of one decision.
# - With an L2 penalty alone the result is high-frequency noise that the network nevertheless
#   classifies with near certainty.
# - A Gaussian blur every few steps and random jitter remove that noise and let shapes of the
#   class appear; blur frequency and width trade recognisability against class score.
# - The images show what *excites* the class unit, which can include context the network learned
#   along with the object, so they are also a way to spot shortcuts.
#
# ## Exercises
#
# 1. Start from a real photo of another class instead of grey. How many steps until the network
#    changes its mind, and what changes in the picture?
# 2. Optimise at 224 x 224 pixels instead of 128. Are the shapes larger, or repeated?
# 3. Maximise the softmax probability instead of the logit (replace the score by
#    `logits.log_softmax(1)` in a copy of `class_model`). What happens to the other classes?
# 4. Add a total-variation penalty instead of the blur. Which regulariser gives the clearer image?
