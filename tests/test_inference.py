"""Folding batch norms into convolutions: the same function as the eval-mode network, the caller's
network untouched, and a network the fold would change refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xaihelpers import inference


def _with_statistics(model: nn.Module) -> nn.Module:
    """Give every batch norm running statistics and an affine map far from the identity."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) * 3 + 0.1)
            if module.affine:
                module.weight.data.copy_(torch.randn(channels, generator=generator))
                module.bias.data.copy_(torch.randn(channels, generator=generator))
    return model


def _network() -> nn.Module:
    torch.manual_seed(0)
    return _with_statistics(nn.Sequential(
        nn.BatchNorm2d(3),  # reads the input, not a convolution: stays
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=True), nn.BatchNorm2d(8, affine=False), nn.ReLU6(),
        nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))).double()


def _output_and_input_gradient(model: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    images = images.clone().requires_grad_()
    output = model(images)
    (gradient,) = torch.autograd.grad(output[:, 2].sum(), images)
    return output.detach(), gradient


def test_the_folded_copy_computes_the_eval_mode_network_and_leaves_it_alone():
    model = _network().train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    images = torch.rand(3, 3, 12, 12, dtype=torch.float64)
    folded = inference.batch_norms_folded(model, images[:1])
    # Three batch norms read a convolution's output and go; the one on the input stays.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in folded.modules()) == 1
    assert isinstance(folded[0], nn.BatchNorm2d) and isinstance(folded[2], nn.Identity)
    assert folded[1].bias is not None
    # The caller's network: its batch norms, its values, its training mode.
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 4 and model.training
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    model.eval()
    expected, expected_gradient = _output_and_input_gradient(model, images)
    output, gradient = _output_and_input_gradient(folded, images)
    assert torch.allclose(output, expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(gradient, expected_gradient, rtol=1e-10, atol=1e-12)


class _ConvOutputAlsoSkipsTheNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, images):
        features = self.conv(images)
        return (self.norm(features) + features).mean(dim=(2, 3))


def test_a_convolution_whose_output_is_also_used_elsewhere_is_refused():
    model = _with_statistics(_ConvOutputAlsoSkipsTheNorm()).double()
    with pytest.raises(ValueError, match="also used without its batch norm"):
        inference.batch_norms_folded(model, torch.rand(1, 3, 8, 8, dtype=torch.float64))


def test_efficientnet_lite0_folds_every_batch_norm_and_keeps_its_float64_logits():
    from xaihelpers.imagenet import ModelUnavailableError, load_imagenet_model

    try:
        model = load_imagenet_model("efficientnet_lite0").model
    except ModelUnavailableError as error:
        pytest.skip(str(error))
    model = model.double()
    norms = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    images = torch.rand(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    folded = inference.batch_norms_folded(model, images[:1])
    assert norms == 49 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad(), inference.eval_mode(model):
        expected = model(images)
        assert torch.allclose(folded(images), expected, rtol=0, atol=1e-12 * float(expected.abs().max()))


def test_for_inference_keeps_one_folded_copy_while_the_model_stays_as_it_is():
    model = _network().float().eval()
    images = torch.rand(4, 3, 12, 12)
    runner = inference.for_inference(model, images[:1])
    assert runner is not model and inference.for_inference(model, images[:1]) is runner
    assert sum(isinstance(m, nn.BatchNorm2d) for m in runner.modules()) == 1  # the one on the input stays
    with torch.no_grad():
        assert torch.allclose(runner(images), model(images), rtol=1e-5, atol=1e-5)
        model[2].running_mean.add_(1.0)  # an in-place change of a buffer: the copy is stale
        changed = inference.for_inference(model, images[:1])
        assert changed is not runner
        assert torch.allclose(changed(images), model(images), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(runner(images), model(images), rtol=1e-5, atol=1e-5)


def test_for_inference_runs_the_model_itself_where_a_copy_could_compute_something_else():
    model = _network().float()
    example = torch.rand(1, 3, 12, 12)
    assert inference.for_inference(model.train(), example) is model  # batch statistics
    model.eval()
    model[-1].train()  # any module in training mode (a dropout's draws)
    assert inference.for_inference(model, example) is model
    model.eval()
    handle = model[3].register_forward_hook(lambda module, inputs, output: output * 0)
    try:
        assert inference.for_inference(model, example) is model
    finally:
        handle.remove()
    assert inference.for_inference(model, example) is not model
    without_norms = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    assert inference.for_inference(without_norms, example) is without_norms


def test_deletion_curves_honour_a_hook_on_the_model():
    from xaihelpers import evaluation, hooks

    model = _network().float().eval()
    images = torch.rand(2, 3, 12, 12)
    maps = torch.rand(2, 12, 12)
    # The last layer's output replaced by zeros: every class gets probability 1/5 at every step.
    with hooks.ReplaceOutput(model, str(len(model) - 1), torch.zeros_like):
        curves = evaluation.deletion_insertion(model, images, maps, torch.tensor([0, 3]), steps=4)
    assert torch.allclose(curves.deletion, torch.full_like(curves.deletion, 0.2))
    assert torch.allclose(curves.insertion, torch.full_like(curves.insertion, 0.2))
