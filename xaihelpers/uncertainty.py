"""Monte-Carlo dropout: predictive uncertainty from a network trained with dropout.

Gal & Ghahramani 2016 ("Dropout as a Bayesian Approximation") showed that keeping dropout active
at test time and averaging T stochastic forward passes approximates Bayesian model averaging.
The spread of the T predictions measures the model's uncertainty. Cost: T forward passes per
image, no backward pass.

Only the dropout layers are switched to training mode; batch norm keeps its running statistics
(switching the whole model to ``train()`` would also change batch norm and so the prediction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn
from tqdm import tqdm

from xaihelpers import checks, repro
from xaihelpers.hooks import OnForward
from xaihelpers.inference import eval_mode

#: Module types treated as dropout layers.
DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def dropout_layers(model: nn.Module) -> list[str]:
    """Names of the model's dropout layers (empty for a model without dropout, e.g. ResNet-50)."""
    return [name for name, module in model.named_modules() if isinstance(module, DROPOUT_TYPES)]


class MCDropout:
    """Context manager: dropout layers active, everything else in eval mode.

    On exit every module gets back the mode it had before, also after an exception::

        with MCDropout(model):
            probabilities = model(images).softmax(dim=1)   # stochastic

    Raises:
        ValueError: On entry, if the model has no dropout layer (MC dropout would silently be T
            copies of the same prediction).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._modes: dict[nn.Module, bool] = {}

    def __enter__(self) -> nn.Module:
        layers = dropout_layers(self.model)
        if not layers:
            raise ValueError(f"{type(self.model).__name__} has no dropout layer; MC dropout needs a model "
                             "trained with dropout (see the chapter on why inserting one afterwards is not the same)")
        self._modes = {module: module.training for module in self.model.modules()}
        self.model.eval()
        for name in layers:
            self.model.get_submodule(name).train()
        return self.model

    def __exit__(self, *exc_info) -> None:
        for module, mode in self._modes.items():
            module.training = mode
        self._modes = {}


@torch.no_grad()
def mc_predict(model: nn.Module, images: torch.Tensor, passes: int = 20, *, batch_size: int = 16,
               seed: int = 0, enabled: bool = True, head: Optional[str] = None,
               progress: bool = False) -> torch.Tensor:
    """Class probabilities of ``passes`` stochastic forward passes, (T, N, classes).

    Args:
        model: A classifier returning logits.
        images: (N, C, H, W) input, float in the model's input range (uint8 is scaled to [0, 1]).
        passes: Number T of stochastic passes.
        batch_size: Images per forward pass (on a CPU small batches are faster per image).
        seed: Seed of the dropout masks; the global random state is left untouched.
        enabled: With ``False`` the model runs in plain eval mode (the T passes are then equal,
            which makes a useful control).
        head: Name of the model's last layer when the model's only dropout layer sits directly
            before it (as in the pollen CNN and EfficientNet-Lite0). Then everything up to the
            dropout runs once and only ``head(dropout(features))`` runs T times: the same random
            masks, drawn in the same order, for a fraction of the cost. The shortcut is verified
            on the first batch against the full model and refused if it does not reproduce it.
        progress: Show a tqdm progress bar over the passes.

    Raises:
        ValueError: If ``passes`` is not positive, or ``head`` does not follow the only dropout layer.
    """
    checks.positive_int(passes, "passes")
    checks.positive_int(batch_size, "batch_size")
    checks.images(images)
    if images.dtype == torch.uint8:
        images = images.float() / 255
    device = next(model.parameters()).device
    chunks = [images[i:i + batch_size].to(device) for i in range(0, len(images), batch_size)]
    if head is not None and enabled:
        steps, inputs = _head_only(model, chunks, head)
    else:
        steps, inputs = [model] * len(chunks), chunks
    outputs = []
    with repro.seeded(seed, device):
        context = MCDropout(model) if enabled else eval_mode(model)
        with context:
            for _ in tqdm(range(passes), desc="MC dropout", disable=not progress):
                outputs.append(torch.cat([step(x).softmax(dim=1).cpu() for step, x in zip(steps, inputs)]))
    return torch.stack(outputs)


def _head_only(model: nn.Module, chunks: list[torch.Tensor], head: str):
    """The shortcut of :func:`mc_predict`: ([dropout + head] * chunks, the dropout's inputs)."""
    layers = dropout_layers(model)
    if len(layers) != 1:
        raise ValueError(f"head={head!r} needs exactly one dropout layer, the model has {len(layers)}: {layers}")
    dropout, last = model.get_submodule(layers[0]), model.get_submodule(head)
    captured: list[torch.Tensor] = []
    with OnForward(model, dropout, lambda module, args: captured.append(args[0]), before=True), eval_mode(model):
        reference = [model(x) for x in chunks]
    try:
        reproduced = torch.allclose(last(captured[0]), reference[0], rtol=1e-4, atol=1e-5)
    except RuntimeError:  # e.g. the head expects another shape than the dropout's input
        reproduced = False
    if not reproduced:
        raise ValueError(f"{head!r} does not directly follow the dropout layer {layers[0]!r}: running only the "
                         "head does not reproduce the model's output; call mc_predict without head=")
    step = nn.Sequential(dropout, last)
    return [step] * len(chunks), captured


def _entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of each distribution along the last dimension (``0 log 0 = 0``)."""
    return torch.distributions.Categorical(probs=probabilities).entropy()


@dataclass
class Uncertainty:
    """Per-image summaries of T stochastic predictions (all tensors of shape (N,) except ``mean``).

    Attributes:
        mean: Predictive mean probabilities, (N, classes).
        predicted: Class with the highest mean probability.
        confidence: Mean probability of that class.
        variance: Variance over the T passes of the predicted class's probability.
        entropy: Predictive entropy H[mean] in nats: total uncertainty.
        mutual_information: H[mean] - mean_t H[p_t] (BALD; Houlsby et al. 2011): the part of the
            uncertainty that comes from disagreement between the passes, i.e. from the model.
    """

    mean: torch.Tensor
    predicted: torch.Tensor
    confidence: torch.Tensor
    variance: torch.Tensor
    entropy: torch.Tensor
    mutual_information: torch.Tensor


def summarize(probabilities: torch.Tensor) -> Uncertainty:
    """Summaries of :func:`mc_predict`'s output (T, N, classes)."""
    if probabilities.dim() != 3:
        raise ValueError(f"expected (T, N, classes) probabilities, got shape {tuple(probabilities.shape)}")
    mean = probabilities.mean(dim=0)
    confidence, predicted = mean.max(dim=1)
    chosen = probabilities.gather(2, predicted[None, :, None].expand(probabilities.shape[0], -1, 1))[..., 0]
    entropy = _entropy(mean)
    expected = _entropy(probabilities).mean(dim=0)
    return Uncertainty(mean, predicted, confidence, chosen.var(dim=0, unbiased=False), entropy,
                       (entropy - expected).clamp_min(0))


def accuracy_when_rejecting(uncertainty: torch.Tensor, correct: torch.Tensor,
                            retained: Sequence[float]) -> list[float]:
    """Accuracy on the most certain fraction of images, for each retained fraction.

    Images are ranked by ``uncertainty`` (ties broken by position, so the result is deterministic);
    for a fraction f the ``ceil(f * N)`` least uncertain are kept. If the uncertainty tells errors
    apart, the accuracy rises as f falls.
    """
    if uncertainty.shape != correct.shape:
        raise ValueError(f"uncertainty {tuple(uncertainty.shape)} and correct {tuple(correct.shape)} differ in shape")
    order = torch.sort(uncertainty, stable=True).indices
    ranked = correct[order].float()
    results = []
    for fraction in retained:
        if not 0 < fraction <= 1:
            raise ValueError(f"retained fractions must be in (0, 1], got {fraction}")
        keep = max(1, math.ceil(fraction * len(ranked) - 1e-9))  # 0.3 * 10 is 3, not 3.0000000000000004
        results.append(ranked[:keep].mean().item())
    return results
