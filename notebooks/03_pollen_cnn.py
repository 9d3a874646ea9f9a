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
# # A pollen classifier to explain
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/xai-image-book/xai-image-book/blob/main/notebooks/03_pollen_cnn.ipynb)
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/xai-image-book/xai-image-book/main?labpath=notebooks%2F03_pollen_cnn.ipynb)
#
# The gradient-attribution chapters that follow explain two models: the pretrained ImageNet
# classifier, and a small CNN that this book trains itself on microscope images of pollen grains
# from the Brazilian savanna {cite}`goncalves2016pollen` (23 classes, 790 images). Training our
# own model means we know everything about it: its data, its split, its training recipe. This
# chapter introduces the data and reports how good the model is, since an explanation of a
# model is only as interesting as the model.
#
# | Hohman question | this chapter |
# |---|---|
# | **Why** | know the model before explaining it: accuracy, per-class strengths, confusions |
# | **Who** | learners and model developers |
# | **What** | the data, the split, the trained CNN's predictions |
# | **How** | image grid, tables, confusion matrix |
# | **When** | after training |
# | **Where** | the book's pollen CNN |

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

ensure("pollen")

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch

from xaihelpers import plotting, pollen, repro, training

repro.seed_everything()
device = torch.device("cpu")  # the CNN is small; the chapter runs on the CPU everywhere
model, meta = pollen.load_model()  # shipped in xaihelpers/checkpoints; `python -m xaihelpers.pollen train` makes it
test = pollen.load_split("test")  # from $XAI_DATA_ROOT
print(f"pollen CNN: {meta['epochs']} epochs, seed {meta['seed']}, input {meta['image_size']}x{meta['image_size']}")
print(f"device: {device}; classes: {len(test.classes)}")

# %% [markdown]
# ## The data and its split
#
# The images vary in size (from about 100 to 670 pixels a side); some are TIFF files behind a
# `.jpg` name. The model sees them resized to 64 x 64. The split into training, validation and
# test images is stratified by class, drawn once from a seed and committed
# (`xaihelpers/splits/pollen_split.csv`), so every chapter explains the same test images.

# %%
rows = pollen.read_split()
split_table = pd.crosstab(pd.Series([c for _, c, _ in rows], name="class"),
                          pd.Series([s for _, _, s in rows], name="split"))[list(pollen.SPLITS)]
print(split_table.sum().to_string())
print("images per class (train/val/test):", sorted({tuple(r) for r in split_table.values.tolist()}))

# %%
first_of_class = [int((test.labels == c).nonzero()[0]) for c in range(len(test.classes))]
plotting.image_grid([test.images[i] for i in first_of_class], test.classes, ncols=8, size=1.6)
plt.show()

# %% [markdown]
# ## The model
#
# Four convolutional blocks (convolution, batch normalisation, ReLU, max-pooling), global average
# pooling, dropout and a linear layer. Training (`python -m xaihelpers.pollen train`, a few
# minutes on two CPU cores) uses random flips and quarter turns, because a grain under the
# microscope has no preferred orientation.

# %%
print(model)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")

# %% [markdown]
# ## How good is it?

# %%
probabilities = training.predict_proba(model, test.images)
predicted = probabilities.argmax(dim=1)
test_accuracy = (predicted == test.labels).float().mean().item()
print(f"test accuracy: {test_accuracy:.3f} on {len(test.labels)} images "
      f"(chance: {1 / len(test.classes):.3f}); validation accuracy at the end of training: {meta['val_accuracy']:.3f}")

# %%
confusion = training.confusion_matrix(predicted, test.labels, len(test.classes))
per_class = pd.DataFrame({
    "images": confusion.sum(dim=1).numpy(),
    "accuracy": (confusion.diag() / confusion.sum(dim=1)).numpy().round(2),
}, index=test.classes).sort_values("accuracy")
print(per_class.to_string())

# %%
figure, axis = plt.subplots(figsize=(7.5, 6.5))
image = axis.imshow(confusion, cmap="Blues")
axis.set_xticks(range(len(test.classes)), test.classes, rotation=90, fontsize=7)
axis.set_yticks(range(len(test.classes)), test.classes, fontsize=7)
axis.set_xlabel("predicted")
axis.set_ylabel("true")
figure.colorbar(image, ax=axis, shrink=0.8)
plt.show()

# %%
off_diagonal = confusion.clone().fill_diagonal_(0)
counts, flat = off_diagonal.flatten().topk(5)
print("most frequent confusions (true -> predicted: count):")
for count, index in zip(counts.tolist(), flat.tolist()):
    true, guess = divmod(index, len(test.classes))
    if count:
        print(f"  {test.classes[true]:14s} -> {test.classes[guess]:14s}: {count}")

# %% [markdown]
# ## Summary
#
# - The pollen set is small (790 images) and balanced but for one class; the committed split gives
#   7 test images per class (4 for the smallest class).
# - The book's CNN is trained by one command from a seed, its checkpoint is committed, and its test
#   accuracy above is computed here from the data, far above chance but far from perfect: some
#   classes are recognised reliably, others are confused with look-alikes.
# - The next chapters ask *what in the image* these predictions rest on, for correct and for wrong
#   ones.
#
# ## Exercises
#
# 1. Retrain with `python -m xaihelpers.pollen train --seed 1 --out /tmp/pollen_seed1.pt` and load
#    it with `pollen.load_model(path)`. How much does the test accuracy change with the seed alone?
# 2. Train without the flips and rotations (edit `pollen.train`). What happens to validation
#    accuracy, and why does augmentation matter more for a data set this small?
# 3. Look at the images of the two most confused classes side by side. Would you tell them apart?
