"""Shared helpers for the book *Explainable AI for image classifiers*.

One module per concern:

- :mod:`xaihelpers.repro` -- seeds, deterministic algorithms, thread count.
- :mod:`xaihelpers.data` -- the data root, the registry of the book's data sets, verified downloads.
- :mod:`xaihelpers.images` -- loading images as RGB, converting or refusing odd inputs by name.
- :mod:`xaihelpers.models` -- the ImageNet classifier switch (ResNet-50 or EfficientNet-Lite0).
- :mod:`xaihelpers.hooks` -- recording activations and gradients of named layers.
- :mod:`xaihelpers.gradcam` -- Grad-CAM maps (through captum) ready to overlay.
- :mod:`xaihelpers.attribution` -- around captum's gradient methods: reductions, baselines, regions.
- :mod:`xaihelpers.features` -- summaries of filters and feature maps.
- :mod:`xaihelpers.training` -- the training loop for the models the book trains.
- :mod:`xaihelpers.pollen` -- the pollen data split, CNN, training command and checkpoint.
- :mod:`xaihelpers.cifar` -- CIFAR-10 in memory; the three CNN architectures the book compares.
- :mod:`xaihelpers.continual` -- task-incremental learning: tasks, multi-head CNN, EWC, replay.
- :mod:`xaihelpers.heatmaps` -- texture of heat maps: gliding-box lacunarity, colour groups.
- :mod:`xaihelpers.cache` -- results several chapters share, computed once (keyed by content hashes).
- :mod:`xaihelpers.checks` -- argument checks with errors that name the argument and what is allowed.
- :mod:`xaihelpers.tables` -- result tables as CSV and Excel, never replacing another file.
- :mod:`xaihelpers.classvis` -- class-model visualisation (gradient ascent with L2, blur, jitter).
- :mod:`xaihelpers.uncertainty` -- Monte-Carlo dropout and its uncertainty measures.
- :mod:`xaihelpers.explainers` -- LIME and SHAP for torch models, maps shaped like the others'.
- :mod:`xaihelpers.evaluation` -- deletion/insertion, cascading randomisation, pass counting.
- :mod:`xaihelpers.explorer` -- the logic of the interactive explorer (``explorer/app.py``).
- :mod:`xaihelpers.plotting` -- overlays, image grids and the book's colour maps.
"""

__version__ = "0.1.0"
