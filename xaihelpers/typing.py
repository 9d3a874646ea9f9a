"""The types the package's signatures share, defined once (captum keeps its own in one module too).

``from xaihelpers.typing import Target`` reads as what it is; the standard library's ``typing`` is
unaffected, since the package imports it absolutely.
"""

from __future__ import annotations

from typing import Callable, Sequence, Union

import torch
from torch import nn

#: The class (or classes) a map explains: one index for the whole batch, one per image, or a tensor.
Target = Union[int, Sequence[int], torch.Tensor]

#: A layer of a model, by dotted name (``"features.6"``) or as the module itself.
LayerRef = Union[str, nn.Module]

#: ``explain(model, images, target) -> maps (N, H, W)``: any attribution method with its settings fixed.
Explainer = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]

#: ``function(model, images, target, **settings) -> maps (N, H, W)``: a method before its settings are fixed.
MapFunction = Callable[..., torch.Tensor]

#: ``score(outputs) -> (N,)``: the score explained, one per image, from the model's output
#: ``(N, classes)`` (pytorch-grad-cam's targets); it must score every row on its own, since the
#: batch may be split into passes.
ScoreFunction = Callable[[torch.Tensor], torch.Tensor]
#: What Grad-CAM explains: a :data:`Target` (class indices), a
#: :data:`ScoreFunction` for the whole batch, or one per image (each called on its image's output
#: row, returning a scalar, as pytorch-grad-cam calls its ``ClassifierOutputTarget`` objects).
ScoreTarget = Union[Target, ScoreFunction, Sequence[ScoreFunction]]
#: ``weights(activations, gradients) -> (N, K)`` channel weights (or a tensor of the activations'
#: shape ``(N, K, h, w)`` for per-position weights) from a layer's ``(N, K, h, w)`` output and the
#: score's gradient with respect to it: pytorch-grad-cam's ``get_cam_weights``.
CamWeights = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
