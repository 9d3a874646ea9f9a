"""Every attribution method of the book measured on the same images: the closing chapter's table.

:func:`score_methods` runs each method of :data:`xaihelpers.methods.METHODS` on one batch and
measures, per method: what it explains (from the registry), the forward and backward passes it
made per image and its seconds per image (:func:`xaihelpers.evaluation.measure_cost`), deletion
and insertion AUC (Petsiuk et al. 2018; :func:`xaihelpers.evaluation.deletion_insertion`), the
share of the map inside an object mask where one is given, and its sensitivity to the model
(Adebayo et al. 2018: the rank correlation of the map with the map of the same model with every
listed layer re-initialised, and with the top one only,
:func:`xaihelpers.evaluation.cascading_randomization`).

Cost: each method's own passes, plus ``2 * steps`` forward passes per image for its curves (2 fewer
after the first method: the untouched images and the full reference are passed once for all)
and, on ``sanity_images`` images, the method's passes twice more (the top layer random, every listed
layer random).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pandas as pd
import torch
from torch import nn

from xaihelpers import checks, evaluation, features, methods
from xaihelpers.typing import Explainer


@dataclass
class Scorecard:
    """What :func:`score_methods` measured: the table (one row per method) and every method's maps."""

    table: pd.DataFrame
    maps: dict[str, torch.Tensor]


def score_methods(model: nn.Module, images: torch.Tensor, target: torch.Tensor, explainers: Mapping[str, Explainer],
                  randomize_layers: Sequence[str], *, masks: Optional[torch.Tensor] = None, steps: int = 10,
                  sanity_images: int = 4, seed: int = 0) -> Scorecard:
    """Measure every method of ``explainers`` on the same images and targets.

    Args:
        model: The classifier (not modified; a copy is randomised).
        images: ``(N, C, H, W)`` inputs.
        target: ``(N,)`` classes to explain (kept for the randomised model too).
        explainers: Registry name -> ``explain(model, images, target)`` (``methods.bind``); the
            name's registry entry gives the "explains" and "good for" columns.
        randomize_layers: The model's layers from the output towards the input; the sensitivity
            columns are the map's mean Spearman correlation with the trained model's map once the
            first of them (the top layer) and once all of them are random (near 0: the map
            depends on the model; near 1: it does not).
        masks: ``(N, H, W)`` object masks for a "share on object" column (localisation), or ``None``.
        steps: Steps of the deletion and insertion curves.
        sanity_images: How many of the images the sanity check uses (it reruns every method twice:
            with the top layer random and with every listed layer random).
        seed: Seed of the random weights.

    Returns:
        A :class:`Scorecard`; ``table`` has the columns ``explains``, ``forward passes``,
        ``backward passes``, ``seconds per image``, ``deletion AUC``, ``insertion AUC``,
        ``insertion - deletion``, ``share on object`` (with masks), ``rank corr. (top layer random)``,
        ``rank corr. (all random)`` and ``good for``.
    """
    checks.images(images)
    target = checks.targets(target, len(images))
    if masks is not None and tuple(masks.shape) != (len(images), *images.shape[-2:]):
        raise ValueError(f"masks must be (N, H, W) = {(len(images), *images.shape[-2:])}, got {tuple(masks.shape)}.")
    rows, maps = {}, {}
    curve_ends = {}  # the model's answers to the untouched images and the full reference, the same for every map
    for name, explain in explainers.items():
        method = methods.get(name)
        result, cost = evaluation.measure_cost(model, lambda: explain(model, images, target), len(images))
        maps[name] = result.detach()
        curve = evaluation.deletion_insertion(model, images, maps[name], target, steps=steps, answers=curve_ends)
        # Only the first step (the top layer random) and the last (all random) make columns.
        sanity = evaluation.cascading_randomization(model, explain, images[:sanity_images], target[:sanity_images],
                                                    randomize_layers, seed=seed, original=maps[name][:sanity_images],
                                                    explained=(0, -1))
        row = {"explains": method.explains, "forward passes": cost.forward, "backward passes": cost.backward,
               "seconds per image": cost.seconds, "deletion AUC": curve.deletion_auc.mean().item(),
               "insertion AUC": curve.insertion_auc.mean().item()}
        row["insertion - deletion"] = row["insertion AUC"] - row["deletion AUC"]
        if masks is not None:
            row["share on object"] = features.share_inside(maps[name].abs(), masks).mean().item()
        row["rank corr. (top layer random)"] = sanity.spearman[0].nanmean().item()
        row["rank corr. (all random)"] = sanity.spearman[-1].nanmean().item()
        row["good for"] = method.good_for
        rows[name] = row
    return Scorecard(pd.DataFrame(rows).T.rename_axis("method"), maps)
