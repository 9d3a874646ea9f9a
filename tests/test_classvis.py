"""Class-model visualisation: the score rises, blur smooths, the spectrum measure is right."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xaihelpers import classvis


def _tiny_classifier() -> nn.Module:
    """A random conv net whose logits span a few units, like a trained classifier's."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 5))
    with torch.no_grad():
        model[-1].weight.mul_(100)
    return model


def test_class_scores_rise_over_the_iterations():
    model = _tiny_classifier()
    result = classvis.class_model(model, [0, 3], steps=40, size=24)
    assert result.images.shape == (2, 3, 24, 24)
    assert result.scores.shape == (41, 2)
    assert torch.all(result.scores[-1] > result.scores[0] + 1.0)
    assert (result.scores.diff(dim=0) > 0).float().mean() > 0.9
    assert result.images.min() >= 0 and result.images.max() <= 1
    with torch.no_grad():  # the last scores and probabilities are the model's on the returned images
        logits = model(result.images)
    assert torch.allclose(result.scores[-1], logits[[0, 1], [0, 3]], atol=1e-4)
    assert torch.allclose(result.probabilities, logits.softmax(dim=1)[[0, 1], [0, 3]], atol=1e-6)


def test_blur_every_k_steps_gives_a_smoother_image():
    model = _tiny_classifier()
    sharp = classvis.class_model(model, [1], steps=30, size=32, step_size=0.05)
    smooth = classvis.class_model(model, [1], steps=30, size=32, step_size=0.05, blur_every=3, blur_sigma=1.0)
    assert classvis.high_frequency_energy(smooth.images) < 0.5 * classvis.high_frequency_energy(sharp.images)


def test_one_blur_setting_per_image_equals_the_runs_with_each_setting():
    model = _tiny_classifier()
    settings = dict(steps=12, size=20, step_size=0.05)
    mixed = classvis.class_model(model, [1, 1, 1], blur_every=[3, None, 2], blur_sigma=[1.0, 1.0, 0.5], **settings)
    every_3 = classvis.class_model(model, [1, 1, 1], blur_every=3, blur_sigma=1.0, **settings)
    never = classvis.class_model(model, [1, 1, 1], **settings)
    every_2 = classvis.class_model(model, [1, 1, 1], blur_every=2, blur_sigma=0.5, **settings)
    torch.testing.assert_close(mixed.images[0], every_3.images[0])
    torch.testing.assert_close(mixed.images[1], never.images[1])
    torch.testing.assert_close(mixed.images[2], every_2.images[2])
    assert not torch.allclose(mixed.images[0], never.images[0])


def test_a_per_image_setting_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="blur_sigma has 2 values for 3 classes"):
        classvis.class_model(_tiny_classifier(), [0, 1, 2], steps=1, blur_every=2, blur_sigma=[1.0, 2.0])
    with pytest.raises(ValueError, match="blur_every"):
        classvis.class_model(_tiny_classifier(), [0, 1], steps=1, blur_every=[2, 0])


def test_result_is_deterministic_with_jitter_and_the_model_mode_is_restored():
    model = _tiny_classifier().train()
    first = classvis.class_model(model, [2], steps=10, size=16, jitter=2, seed=3)
    second = classvis.class_model(model, [2], steps=10, size=16, jitter=2, seed=3)
    assert torch.equal(first.images, second.images)
    assert model.training


def test_high_frequency_energy_known_answers():
    constant = torch.full((1, 3, 16, 16), 0.3)
    rows = torch.arange(16.0)
    checkerboard = ((rows[:, None] + rows[None, :]) % 2).expand(1, 3, 16, 16)
    slow_wave = torch.sin(2 * torch.pi * rows / 16)[None, :].expand(1, 3, 16, 16)
    assert classvis.high_frequency_energy(constant).item() == 0
    assert classvis.high_frequency_energy(checkerboard).item() == pytest.approx(1.0)
    assert classvis.high_frequency_energy(slow_wave).item() == pytest.approx(0.0, abs=1e-6)


def test_blur_with_zero_sigma_is_the_identity_and_blur_keeps_the_mean():
    images = torch.rand(2, 3, 20, 20)
    assert torch.equal(classvis.blur(images, 0.0), images)
    blurred = classvis.blur(images, 1.5)
    assert blurred.shape == images.shape
    assert blurred.mean().item() == pytest.approx(images.mean().item(), abs=0.01)


def test_for_display_stretches_each_image():
    images = torch.rand(2, 3, 8, 8) * 0.1 + 0.45
    shown = classvis.for_display(images, percentile=0)
    assert shown.shape == (2, 8, 8, 3)
    assert shown.amin(dim=(1, 2, 3)).tolist() == [0, 0] and shown.amax(dim=(1, 2, 3)).tolist() == [1, 1]


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match="classes is empty"):
        classvis.class_model(_tiny_classifier(), [], steps=1)
    with pytest.raises(ValueError, match="steps"):
        classvis.class_model(_tiny_classifier(), [0], steps=0)


def test_a_start_image_is_kept_at_step_zero_and_the_switch_of_class_is_recorded():
    model = _tiny_classifier()
    start = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first_choice = model(start).argmax(dim=1)
    unchanged = classvis.class_model(model, [0, 3], steps=1, step_size=1e-9, l2=0.0, start=start)
    assert torch.allclose(unchanged.images, start, atol=1e-6)
    assert torch.equal(unchanged.predicted[0], first_choice)
    pushed = classvis.class_model(model, [0, 3], steps=40, l2=0.0, start=start)
    assert pushed.predicted.shape == (41, 2)
    assert torch.equal(pushed.predicted[-1], torch.tensor([0, 3]))  # the goal class wins in the end
    with pytest.raises(ValueError, match="one RGB image per class"):
        classvis.class_model(model, [0], steps=1, start=start)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        classvis.class_model(model, [0, 3], steps=1, start=start * 2)


def test_the_log_probability_objective_lowers_the_other_classes_more_than_the_logit():
    model = _tiny_classifier()
    settings = dict(steps=30, size=24, l2=0.0)
    by_logit = classvis.class_model(model, [2], **settings)
    by_probability = classvis.class_model(model, [2], score="log_probability", **settings)
    with torch.no_grad():
        others = [torch.cat([model(r.images)[0, :2], model(r.images)[0, 3:]]).mean() for r in (by_logit, by_probability)]
    assert others[1] < others[0]
    with pytest.raises(ValueError, match="score"):
        classvis.class_model(model, [2], steps=1, score="probability")


def test_a_total_variation_penalty_gives_a_smoother_image():
    model = _tiny_classifier()
    settings = dict(steps=30, size=32, step_size=0.05)
    rough = classvis.class_model(model, [1], **settings)
    smooth = classvis.class_model(model, [1], total_variation=0.05, **settings)

    def variation(images):
        return (images[..., 1:, :] - images[..., :-1, :]).abs().mean() + (images[..., 1:] - images[..., :-1]).abs().mean()

    assert variation(smooth.images) < 0.8 * variation(rough.images)
    with pytest.raises(ValueError, match="total_variation"):
        classvis.class_model(model, [1], steps=1, total_variation=-1.0)


def test_typical_wavelength_of_stripes_is_their_period():
    xs = torch.arange(64.0)
    stripes = [torch.sin(2 * torch.pi * xs / period).expand(3, 64, 64) for period in (8, 16)]
    wavelengths = classvis.typical_wavelength(torch.stack(stripes))
    assert torch.allclose(wavelengths, torch.tensor([8.0, 16.0]), rtol=0.02)
    with pytest.raises(ValueError, match="constant"):
        classvis.typical_wavelength(torch.ones(1, 3, 8, 8))


def test_every_module_gets_its_own_mode_back():
    model = _tiny_classifier().train()
    model[2].eval()  # one layer deliberately in eval mode, the rest training
    modes = [module.training for module in model.modules()]
    classvis.class_model(model, [1], steps=2, size=8)
    assert [module.training for module in model.modules()] == modes


@pytest.mark.parametrize("kernel, stride, padding, dilation", [(3, 1, 1, 1), (5, 2, 2, 1), (3, 2, 0, 1), (3, 1, 2, 2)])
def test_depthwise_convolution_as_sums_is_torchs_grouped_convolution(kernel, stride, padding, dilation):
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 6, 13, 11, dtype=torch.float64, generator=generator)
    weight = torch.randn(6, 1, kernel, kernel, dtype=torch.float64, generator=generator)
    bias = torch.randn(6, dtype=torch.float64, generator=generator)
    expected = torch.nn.functional.conv2d(inputs, weight, bias, stride, padding, dilation, groups=6)
    actual = classvis.depthwise_conv2d_as_sums(inputs, weight, bias, stride, padding, dilation)
    assert actual.shape == expected.shape
    assert torch.allclose(actual, expected, rtol=0, atol=1e-12)


def test_inside_the_float64_context_grouped_convolutions_keep_their_values_and_gradients():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4),
                          nn.Flatten(), nn.LazyLinear(3)).double()
    inputs = torch.rand(2, 3, 9, 9, dtype=torch.float64, requires_grad=True)
    reference = model(inputs).sum()
    (expected,) = torch.autograd.grad(reference, inputs)
    calls = []
    with classvis.Float64DepthwiseAsSums():
        original = classvis.depthwise_conv2d_as_sums
        try:
            classvis.depthwise_conv2d_as_sums = lambda *a, **k: calls.append(1) or original(*a, **k)
            output = model(inputs).sum()
        finally:
            classvis.depthwise_conv2d_as_sums = original
        (gradient,) = torch.autograd.grad(output, inputs)
    assert calls == [1]  # the depthwise layer only; the 1 x 1 convolution (groups 1) runs as before
    assert torch.allclose(output, reference, rtol=0, atol=1e-12)
    assert torch.allclose(gradient, expected, rtol=0, atol=1e-12)


def test_a_float64_class_model_leaves_the_callers_model_alone_and_follows_the_float32_one():
    model = _tiny_classifier()
    single = classvis.class_model(model, [0, 3], steps=5, size=16)
    double = classvis.class_model(model, [0, 3], steps=5, size=16, dtype=torch.float64)
    assert next(model.parameters()).dtype == torch.float32
    assert double.images.dtype == torch.float64 and single.images.dtype == torch.float32
    # The same start image and the same algorithm: over a few steps the two differ by rounding only.
    assert torch.allclose(double.scores.float(), single.scores, rtol=1e-4, atol=1e-4)
    assert torch.equal(double.logits.argmax(1), double.predicted[-1])
    assert torch.allclose(double.logits.softmax(1)[[0, 1], [0, 3]], double.probabilities)
    with pytest.raises(ValueError, match="floating-point"):
        classvis.class_model(model, [0], steps=1, size=8, dtype=torch.int64)


def test_depthwise_convolution_as_sums_has_torchs_gradients():
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(2, 4, 9, 8, dtype=torch.float64, generator=generator, requires_grad=True)
    weight = torch.randn(4, 1, 3, 3, dtype=torch.float64, generator=generator, requires_grad=True)
    outward = torch.randn(2, 4, 5, 4, dtype=torch.float64, generator=generator)
    expected = torch.autograd.grad((torch.nn.functional.conv2d(inputs, weight, None, 2, 1, 1, groups=4) * outward).sum(),
                                   (inputs, weight))
    actual = torch.autograd.grad((classvis.depthwise_conv2d_as_sums(inputs, weight, None, 2, 1) * outward).sum(),
                                 (inputs, weight))
    for mine, torchs in zip(actual, expected):
        assert torch.allclose(mine, torchs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("kernel, stride, padding, dilation",
                         [(3, 1, 1, 1), (5, 2, 2, 1), (3, 2, 0, 1), (3, 1, 2, 2), (5, 2, 3, 1), (3, 3, 1, 1)])
def test_the_compiled_sums_have_the_bits_of_one_addcmul_per_tap(monkeypatch, kernel, stride, padding, dilation, layout):
    pytest.importorskip("numba")
    generator = torch.Generator().manual_seed(4)
    inputs = torch.randn(2, 5, 13, 11, dtype=torch.float64, generator=generator).contiguous(memory_format=layout)
    inputs.requires_grad_()
    weight = torch.randn(5, 1, kernel, kernel, dtype=torch.float64, generator=generator)
    compiled = classvis.depthwise_conv2d_as_sums(inputs, weight, None, stride, padding, dilation)
    outward = torch.randn(compiled.shape, dtype=torch.float64, generator=generator).contiguous(memory_format=layout)
    (compiled_gradient,) = torch.autograd.grad(compiled, inputs, outward)
    # The caller's layout comes back: the next layer runs as it would after torch's convolution.
    assert compiled.is_contiguous(memory_format=layout) and compiled_gradient.is_contiguous(memory_format=layout)
    # What the compiled kernels replaced: one addcmul_ per kernel tap, over whole tensors.
    monkeypatch.setattr(classvis, "_compiled_sums_for", lambda tensor: None)
    per_tap = classvis.depthwise_conv2d_as_sums(inputs, weight, None, stride, padding, dilation)
    (per_tap_gradient,) = torch.autograd.grad(per_tap, inputs, outward)
    assert torch.equal(compiled, per_tap)
    assert torch.equal(compiled_gradient, per_tap_gradient)
    # Not a copy of one another: both are torch's grouped convolution up to rounding.
    expected = torch.nn.functional.conv2d(inputs, weight, None, stride, padding, dilation, groups=5)
    assert torch.allclose(compiled, expected, rtol=0, atol=1e-12) and not torch.equal(compiled, torch.zeros_like(compiled))


def test_splitting_the_batch_into_passes_changes_nothing_but_the_memory():
    model = _tiny_classifier()
    settings = dict(steps=6, size=16, jitter=2, blur_every=2, l2=0.05, total_variation=0.5, dtype=torch.float64)
    whole = classvis.class_model(model, [0, 3, 4], **settings)
    one_by_one = classvis.class_model(model, [0, 3, 4], pixels_per_pass=16 * 16, **settings)
    for field in ("images", "scores", "probabilities", "logits"):
        assert torch.allclose(getattr(whole, field), getattr(one_by_one, field), rtol=0, atol=1e-10), field
    assert torch.equal(whole.predicted, one_by_one.predicted)


def test_a_class_model_leaves_the_callers_parameters_as_they_were_and_computes_no_weight_gradient(monkeypatch):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1, groups=6),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, 5))
    model[0].bias.requires_grad_(False)  # a caller's mixed setting must come back as it was
    flags = [parameter.requires_grad for parameter in model.parameters()]
    asked = []
    backward = classvis._DepthwiseAsSums.backward

    def recording(ctx, grad):
        asked.append(ctx.needs_input_grad[:2])
        return backward(ctx, grad)

    monkeypatch.setattr(classvis._DepthwiseAsSums, "backward", staticmethod(recording))
    classvis.class_model(model, [0, 3], steps=3, size=16)
    classvis.class_model(model, [0, 3], steps=3, size=16, dtype=torch.float64)
    assert asked == [(True, False)] * 3  # the float64 depthwise layer, once per step: the input's gradient alone
    assert [parameter.requires_grad for parameter in model.parameters()] == flags
    assert all(parameter.grad is None for parameter in model.parameters())


def test_frozen_gives_every_parameter_its_setting_back_also_after_an_error():
    from xaihelpers import inference

    model = _tiny_classifier()
    model[2].weight.requires_grad_(False)
    flags = [parameter.requires_grad for parameter in model.parameters()]
    with pytest.raises(RuntimeError, match="inside"):
        with inference.frozen(model):
            assert not any(parameter.requires_grad for parameter in model.parameters())
            raise RuntimeError("inside the block")
    assert [parameter.requires_grad for parameter in model.parameters()] == flags
    # Inside the block a custom autograd function is asked for the input's gradient alone.
    seen = []

    class Recorder(torch.autograd.Function):
        @staticmethod
        def forward(ctx, inputs, weight):
            ctx.save_for_backward(weight)
            return inputs * weight

        @staticmethod
        def backward(ctx, grad):
            seen.append(ctx.needs_input_grad)
            (weight,) = ctx.saved_tensors
            return grad * weight, (grad.sum(0) if ctx.needs_input_grad[1] else None)

    layer = nn.Linear(3, 3)
    inputs = torch.ones(2, 3, requires_grad=True)
    with inference.frozen(layer):
        torch.autograd.grad(Recorder.apply(inputs, layer.weight[0]).sum(), inputs)
    torch.autograd.grad(Recorder.apply(inputs, layer.weight[0]).sum(), inputs)
    assert seen == [(True, False), (True, True)]


class _ConvOutputAlsoUsedRaw(nn.Module):
    """A classifier whose first convolution's output is also used without its batch norm: folding
    that batch norm would change the network."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.norm = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 5))
        with torch.no_grad():
            self.norm.running_mean.uniform_(-1, 1)
            self.norm.running_var.uniform_(0.5, 2)
            self.head[-1].weight.mul_(100)

    def forward(self, images):
        features = self.conv(images)
        return self.head(torch.relu(self.norm(features)) + features)


def test_a_float64_class_model_of_a_network_the_fold_would_change_climbs_unfolded():
    model = _ConvOutputAlsoUsedRaw().eval()
    single = classvis.class_model(model, [0, 3], steps=5, size=16)
    double = classvis.class_model(model, [0, 3], steps=5, size=16, dtype=torch.float64)
    assert torch.allclose(double.scores.float(), single.scores, rtol=1e-4, atol=1e-4)
