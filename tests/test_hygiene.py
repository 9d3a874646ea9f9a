"""What library calls leave behind: nothing. No global random generator is reseeded or advanced,
and the caller's model keeps its mode, its parameters' ``.grad``, its modules and no hooks."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
from torch import nn

from xaihelpers import attribution, evaluation, gradcam, hooks, inference, methods, strategies, uncertainty


def _global_states():
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _unchanged(before) -> bool:
    torch_state, numpy_state, python_state = before
    now = _global_states()
    return torch.equal(torch_state, now[0]) and np.array_equal(numpy_state, now[1]) and python_state == now[2]


class DropoutCNN(nn.Module):
    """A tiny CNN with batch norm, ReLU6 and dropout: every kind of state a call could change."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(),
                                      nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(6, 3)

    def forward(self, x):
        return self.classifier(self.dropout(self.pool(self.features(x)).flatten(1)))


@pytest.fixture
def model():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = DropoutCNN().eval()
    for p in network.parameters():
        p.grad = torch.full_like(p, 7.0)
    return network


IMAGES = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
TARGET = torch.tensor([0, 1, 2])
BACKGROUND = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(2))
SETTINGS = {"Grad-CAM": {"layer": "features.3"}, "SHAP (gradient)": {"background": BACKGROUND, "nsamples": 4},
            "LIME": {"num_samples": 20, "superpixels": 4}, "SmoothGrad": {"samples": 3},
            "Integrated Gradients": {"steps": 4}, "SHAP (partition)": {"max_evals": 16, "masker": "blur(4,4)"}}

CALLS = {
    **{f"methods[{name!r}]": (lambda m, name=name: methods.get(name)(m, IMAGES, TARGET, **SETTINGS.get(name, {})))
       for name in methods.METHODS if name != "CAM"},  # CAM needs a CAM-ready network: its own test below
    "attribution.smoothgrad": lambda m: attribution.smoothgrad(m, IMAGES, TARGET, samples=2),
    "gradcam.grad_cam_layers": lambda m: gradcam.grad_cam_layers(m, ["features.2", "features.4"], IMAGES, TARGET),
    "inference.predict_proba": lambda m: inference.predict_proba(m, IMAGES),
    "uncertainty.mc_predict": lambda m: uncertainty.mc_predict(m, IMAGES, passes=3, head="classifier"),
    "evaluation.cascading_randomization": lambda m: evaluation.cascading_randomization(
        m, methods.bind("saliency"), IMAGES, TARGET, ["classifier", "features.3"]),
    "evaluation.deletion_insertion": lambda m: evaluation.deletion_insertion(m, IMAGES, IMAGES.mean(dim=1), TARGET,
                                                                             steps=2),
    "EWC.consolidate": lambda m: strategies.EWC(1.0).consolidate(_heads(m), (IMAGES * 255).to(torch.uint8), 0),
}


def _heads(model):
    """The tiny model seen as a one-task multi-head network, for EWC."""
    model.classes_per_task = 3
    model.shared_parameters = lambda: dict(model.named_parameters())
    return model


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("call", list(CALLS))
def test_a_library_call_leaves_the_generators_and_the_model_as_they_were(call, mode, model):
    model.train(mode == "train")
    modes = {name: module.training for name, module in model.named_modules()}
    modules = {name: type(module) for name, module in model.named_modules()}
    weights = copy.deepcopy(model.state_dict())
    before = _global_states()
    CALLS[call](model)
    # In train mode the caller's dropout layers draw from the global generator on every forward
    # pass, as the caller asked; in eval mode nothing may draw from it.
    assert mode == "train" or _unchanged(before), f"{call} changed a global random generator"
    assert {name: module.training for name, module in model.named_modules()} == modes, f"{call} changed a mode"
    assert {name: type(module) for name, module in model.named_modules()} == modules, f"{call} swapped modules"
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in model.parameters()), f"{call} changed .grad"
    assert hooks.count_hooks(model) == 0, f"{call} left a hook"
    if mode == "eval":  # in train mode batch norm updates its statistics on any forward pass, by design
        assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items()), f"{call} changed the weights"


def test_seeded_blocks_repeat_and_restore_the_caller_stream():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    from xaihelpers import repro

    with repro.seeded(0):
        first = torch.rand(2)
    with repro.seeded(0):
        second = torch.rand(2)
    assert torch.equal(first, second)
    assert torch.equal(torch.rand(3), expected)


def test_guided_backprop_in_the_registry_equals_captums_on_the_books_guided_copy(model):
    from captum.attr import GuidedBackprop

    copy_of_model = attribution.guided_backprop_ready(model)
    reference = attribution.channel_reduce(GuidedBackprop(copy_of_model).attribute(IMAGES.clone().requires_grad_(),
                                                                                   target=TARGET))
    assert torch.allclose(methods.get("guided backprop")(model, IMAGES, TARGET), reference)
    assert any(isinstance(m, nn.ReLU6) for m in model.modules())  # swapped back


def test_cam_leaves_the_generators_and_the_cam_ready_network_as_they_were():
    from xaihelpers import cifar

    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = cifar.build("gap").train()
    for p in network.parameters():
        p.grad = torch.full_like(p, 7.0)
    modes = {name: module.training for name, module in network.named_modules()}
    before = _global_states()
    methods.get("CAM")(network, torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)), [1, 2])
    assert _unchanged(before) and hooks.count_hooks(network) == 0
    assert {name: module.training for name, module in network.named_modules()} == modes
    assert all(torch.equal(p.grad, torch.full_like(p, 7.0)) for p in network.parameters())
