"""Shared helpers for the book *Explainable AI for image classifiers*.

A flat package in eight layers. Every module is one import away (``from xaihelpers import gradcam``),
which is how the chapters, the explorer and a reader's own notebook use it; subpackages would add a
level to every import for 37 files that one list can show. What subpackages would enforce, the
layers do: a module imports only from its own layer (without a cycle) or from lower ones
(:data:`LAYERS`, checked by ``tests/test_layout.py``). To change a concern, find its layer below;
what it may use is everything above it in this list.

Foundations: used everywhere, use nothing of the package but each other.

- :mod:`~xaihelpers.typing` -- the shared type aliases (``Target``, ``LayerRef``, ``Explainer``, ``MapFunction``).
- :mod:`~xaihelpers.checks` -- argument checks whose errors name the argument and what is allowed.
- :mod:`~xaihelpers.repro` -- seeds, seeded blocks that restore the caller's generators, thread count.
- :mod:`~xaihelpers.storage` -- atomic file writes and file hashes, one routine each.
- :mod:`~xaihelpers.inference` -- running a model: eval mode for a block, the pixel budget per pass, probabilities.
- :mod:`~xaihelpers.intervals` -- bootstrap intervals over images, paired for comparisons (A beats B or not).

Data: finding, fetching and reading the data sets, and writing results.

- :mod:`~xaihelpers.cache` -- results several chapters share, computed once (keyed by content hashes).
- :mod:`~xaihelpers.images` -- loading images as RGB, converting or refusing odd inputs by name.
- :mod:`~xaihelpers.data` -- the data root, the registry of the book's data sets, their loaders.
- :mod:`~xaihelpers.fetch` -- verified, atomic downloads of the data sets (``python -m xaihelpers.fetch``).
- :mod:`~xaihelpers.tables` -- result tables as CSV and Excel, never replacing another file.

Models: networks and what reaches inside them.

- :mod:`~xaihelpers.blocks` -- building blocks the book's networks share (normalisation layer, conv-BN-ReLU).
- :mod:`~xaihelpers.hooks` -- recording activations and gradients of named layers, hooks owned by context managers.
- :mod:`~xaihelpers.imagenet` -- the ImageNet classifier switch (EfficientNet-Lite0 by default, ResNet-50).
- :mod:`~xaihelpers.checkpoints` -- saving and loading trained models' checkpoints (``weights_only``).

Methods: attribution and visualisation methods, each on any classifier.

- :mod:`~xaihelpers.attribution` -- around captum's gradient methods: reductions, baselines, SmoothGrad, regions.
- :mod:`~xaihelpers.gradcam` -- Grad-CAM maps with replaceable channel weights, one pass for many layers.
- :mod:`~xaihelpers.explainers` -- LIME and SHAP for torch models, maps shaped like the others'.
- :mod:`~xaihelpers.features` -- summaries of filters and feature maps; edges; a map's share inside a mask.
- :mod:`~xaihelpers.classvis` -- class-model visualisation (gradient ascent with L2, blur, jitter).
- :mod:`~xaihelpers.uncertainty` -- Monte-Carlo dropout and its uncertainty measures.
- :mod:`~xaihelpers.heatmaps` -- texture of heat maps: gliding-box lacunarity, colour groups.
- :mod:`~xaihelpers.methods` -- the registry of every attribution method: one call signature, cost, defaults.

Training: the loop and what changes it.

- :mod:`~xaihelpers.training` -- the one training loop and the strategy hooks it calls.
- :mod:`~xaihelpers.strategies` -- continual-learning strategies: baseline, EWC, replay, generative replay.
- :mod:`~xaihelpers.feature_vae` -- the class-conditional feature VAE generative replay samples from.

Trained models: the book's own networks, their data and the registry that trains them.

- :mod:`~xaihelpers.pollen` -- the pollen data split and CNN.
- :mod:`~xaihelpers.cifar` -- CIFAR-10 in memory; the three CNN architectures the book compares.
- :mod:`~xaihelpers.continual` -- task-incremental learning: tasks, the multi-head CNN, training a sequence.
- :mod:`~xaihelpers.zoo` -- the registry of every trained model: recipe, checkpoint, training time.

Studies: measurements over methods and models.

- :mod:`~xaihelpers.evaluation` -- deletion/insertion, cascading randomisation, counted passes and measured cost.
- :mod:`~xaihelpers.scorecard` -- every method measured on the same images (the closing chapter's table).
- :mod:`~xaihelpers.comparison` -- the three CIFAR-10 CNNs side by side.
- :mod:`~xaihelpers.forgetting` -- the continual learners' Grad-CAM heat maps, measured per task.

Front ends: what chapters, commands and the explorer call.

- :mod:`~xaihelpers.chapter` -- what the chapters' header cells load, one call per family of chapters.
- :mod:`~xaihelpers.explorer` -- the logic of the interactive explorer (``explorer/app.py``).
- :mod:`~xaihelpers.retrain` -- ``python -m xaihelpers.retrain``: trains the zoo's models.
- :mod:`~xaihelpers.plotting` -- overlays, image grids and the book's colour maps.
- :mod:`~xaihelpers.claims` -- the prose's numbers and comparisons bound to computations; the scanner of unbound ones.
"""

__version__ = "0.1.0"

#: The package's layers, lowest first: a module may import its own layer's modules (no cycle) and
#: lower layers', never a higher layer's.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations": ("typing", "checks", "repro", "storage", "inference", "intervals"),
    "data": ("cache", "images", "data", "fetch", "tables"),
    "models": ("blocks", "hooks", "imagenet", "checkpoints"),
    "methods": ("attribution", "gradcam", "explainers", "features", "classvis", "uncertainty", "heatmaps",
                "methods"),
    "training": ("training", "strategies", "feature_vae"),
    "trained models": ("pollen", "cifar", "continual", "zoo"),
    "studies": ("evaluation", "scorecard", "comparison", "forgetting"),
    "front ends": ("chapter", "explorer", "retrain", "plotting", "claims"),
}
