"""What continual learners forget, seen in their Grad-CAM heat maps: the case study's measurements.

After every task of a run (:mod:`xaihelpers.continual`), Grad-CAM of each learned class at a
middle and the last convolutional layer, measured by :func:`xaihelpers.heatmaps.describe`
(lacunarity after Juneau et al. 2015, colour groups), next to the class's accuracy.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from xaihelpers import gradcam, heatmaps
from xaihelpers.continual import MultiHeadCNN, Task, first_per_class

#: Grad-CAM depths the study compares: a middle layer (16x16) and the last conv layer (8x8).
STUDY_LAYERS = ("features.conv3", "features.conv5")


def heatmap_study(runs: dict[str, list[MultiHeadCNN]], metas: dict[str, dict], tasks: Sequence[Task],
                  images_per_class: int = 20, layers: Sequence[str] = STUDY_LAYERS,
                  binarize: Optional[float] = None):
    """Grad-CAM of every learned class after every task, measured: the case study's table.

    For each strategy, each checkpoint (after task ``i``) and each class of the tasks learned so
    far, Grad-CAM of the class's first ``images_per_class`` test images (target: their true class
    on their task's head) at each layer, upsampled to 32x32 and scaled to ``[0, 1]``; then
    :func:`xaihelpers.heatmaps.describe` (lacunarity, colour groups) averaged over the images, next
    to the class's test accuracy at that checkpoint (from the training run's evaluation).

    Args:
        runs: Strategy -> the networks after each task.
        metas: Strategy -> the run's metadata (accuracies per class and checkpoint).
        tasks: The task sequence.
        images_per_class: Test images of each class whose maps are measured.
        layers: The layers whose Grad-CAM is measured.
        binarize: Measure the binary maps ``map > binarize`` (the classic binary lacunarity)
            instead of the grey levels; an image whose binary map is empty has no lacunarity and
            is left out of its class's mean.

    Returns:
        A ``pandas.DataFrame``, one row per (strategy, after_task, class, layer).
    """
    rows = []
    for strategy, models in runs.items():
        meta = metas[strategy]
        k = meta["classes_per_task"]
        for after, model in enumerate(models):
            for task in tasks[:after + 1]:
                images, labels = first_per_class(task, images_per_class)
                maps = gradcam.grad_cam_layers(model, list(layers), images, task.index * k + labels)
                for layer, layer_maps in maps.items():
                    if binarize is not None:
                        layer_maps = (layer_maps > binarize).float()
                    measures = heatmaps.describe(layer_maps)
                    for local, name in enumerate(task.classes):
                        mine = (labels == local).cpu().numpy()
                        rows.append({"strategy": strategy, "after_task": after, "task": task.index, "class": name,
                                     "layer": layer, "accuracy": meta["class_accuracy"][after][task.index * k + local],
                                     "accuracy_when_learned": meta["class_accuracy"][task.index][task.index * k + local],
                                     **measures[mine].mean().to_dict()})
    return pd.DataFrame(rows)
