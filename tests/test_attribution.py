"""Gradient-attribution helpers and the captum methods, with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import GuidedBackprop, NoiseTunnel, Saliency
from torch import nn

from xaihelpers import attribution, repro


class SharedReLU6Net(nn.Module):
    """A ReLU6 module used twice, like EfficientNet-Lite0's blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU6()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.act(self.conv2(self.act(self.conv1(x) * 4)))
        return self.fc(x.mean(dim=(2, 3)))


class _GuidedReLU6Function(torch.autograd.Function):
    """Reference rule: pass the gradient where 0 < x < 6 and the incoming gradient is positive."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(0, 6)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp_min(0) * ((x > 0) & (x < 6))


class _ReferenceGuided(nn.Module):
    def forward(self, x):
        return _GuidedReLU6Function.apply(x)


def test_guided_backprop_ready_matches_the_reference_rule():
    torch.manual_seed(0)
    model = SharedReLU6Net().eval()
    images = torch.rand(2, 3, 8, 8)
    ready = attribution.guided_backprop_ready(model)
    assert ready.act is not model.act and isinstance(ready.act, attribution.GuidedReLU6)
    assert torch.allclose(ready(images), model(images))
    guided = GuidedBackprop(ready).attribute(images.clone().requires_grad_(), target=1)

    reference_model = attribution.guided_backprop_ready(model)
    reference_model.act = _ReferenceGuided()
    x = images.clone().requires_grad_()
    reference_model(x)[:, 1].sum().backward()
    assert torch.allclose(guided, x.grad, atol=1e-6)
    # Without the helper captum leaves ReLU6 unguided: the result is the plain gradient.
    unguided = GuidedBackprop(model).attribute(images.clone().requires_grad_(), target=1)
    plain = Saliency(model).attribute(images.clone().requires_grad_(), target=1, abs=False)
    assert torch.allclose(unguided, plain, atol=1e-6) and not torch.allclose(guided, plain, atol=1e-6)


def test_smoothgrad_memory_bound_changes_the_chunks_not_the_estimator(tiny_cnn):
    # With zero noise every sample is the plain gradient, so any chunking must give the same map;
    # with noise, a smaller pixel budget only splits the same number of samples into more passes.
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    wide = attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.0, samples=6)
    narrow = attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.0, samples=6, pixels_per_pass=2 * 16 * 16)
    assert torch.allclose(wide, narrow, atol=1e-6)
    from xaihelpers.evaluation import PassCounter

    with PassCounter(tiny_cnn) as counter:
        attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.1, samples=6, pixels_per_pass=2 * 16 * 16)
    assert counter.per_image(len(images)) == (6, 6) and counter.forward_calls == 6  # one copy of each per pass
    with pytest.raises(ValueError, match="pixels_per_pass"):
        attribution.smoothgrad(tiny_cnn, images, 1, samples=6, pixels_per_pass=0)


def test_channel_reduce_variants():
    values = torch.tensor([[[[1.0]], [[-3.0]], [[2.0]]]])
    assert attribution.channel_reduce(values, "max_abs").item() == 3.0
    assert attribution.channel_reduce(values, "sum").item() == 0.0
    assert attribution.channel_reduce(values, "abs_sum").item() == 6.0
    with pytest.raises(ValueError):
        attribution.channel_reduce(values, "mean")


def test_cap_clips_the_top_percentile():
    maps = torch.arange(100.0).view(1, 10, 10)
    capped = attribution.cap(maps, 90)
    assert capped.max() == 1.0 and (capped == 1.0).sum() == 10
    assert capped[0, 0, 0] == 0.0


def test_baselines():
    images = torch.rand(2, 3, 32, 32)
    assert torch.equal(attribution.baseline(images, "black"), torch.zeros_like(images))
    blurred = attribution.baseline(images, "blur", sigma=3.0)
    assert blurred.shape == images.shape and blurred.std() < images.std()
    assert blurred.mean().item() == pytest.approx(images.mean().item(), abs=0.02)
    first = attribution.baseline(images, "uniform", generator=torch.Generator().manual_seed(3))
    second = attribution.baseline(images, "uniform", generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    assert torch.equal(first, torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3)))  # U[0, 1)
    with pytest.raises(ValueError, match="kind"):
        attribution.baseline(images, "white")


def test_region_sums_add_up_and_paint_back():
    pixel_map = torch.arange(16.0).view(4, 4)
    segments = np.repeat(np.array([[5, 5, 9, 9]]), 4, axis=0)
    labels, sums = attribution.region_sums(pixel_map, segments)
    assert labels.tolist() == [5, 9]
    assert sums.sum() == pytest.approx(pixel_map.sum().item())
    painted = attribution.paint_regions(segments, labels, sums)
    assert painted[0, 0] == sums[0] and painted[3, 3] == sums[1]


def test_the_in_place_guided_swap_follows_the_rule_and_restores_the_model_even_after_an_error():
    from captum.attr import GuidedBackprop

    torch.manual_seed(0)
    model = SharedReLU6Net().train()
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    # The reference: the guided rule written out as an autograd function (_GuidedReLU6Function).
    import copy

    reference_model = copy.deepcopy(model)
    reference_model.act = _ReferenceGuided()
    x = images.clone().requires_grad_()
    reference_model(x)[:, 1].sum().backward()
    original = model.act
    with attribution.guided_relu6(model) as swapped:
        assert swapped is model and isinstance(model.act, attribution.GuidedReLU6)
        guided = GuidedBackprop(model).attribute(images.clone().requires_grad_(), target=1)
    assert torch.allclose(guided, x.grad, atol=1e-6)
    assert model.act is original and model.training  # the same module object is back
    with pytest.raises(RuntimeError, match="inside the block"):
        with attribution.guided_relu6(model):
            raise RuntimeError("inside the block")
    assert model.act is original and not any(isinstance(m, attribution.GuidedReLU6) for m in model.modules())


def test_guided_backprop_ready_returns_a_relu_model_unchanged():
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())
    assert attribution.guided_backprop_ready(model) is model
    shared = SharedReLU6Net().train()
    ready = attribution.guided_backprop_ready(shared)
    assert ready is not shared and type(shared.act) is nn.ReLU6 and shared.training  # the caller's model is kept
    assert isinstance(ready.act, attribution.GuidedReLU6) and not ready.training


def test_smoothgrad_helper_is_seeded_and_equals_the_gradient_without_noise(tiny_cnn):
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2])
    plain = attribution.channel_reduce(Saliency(tiny_cnn).attribute(images.clone().requires_grad_(), target=target))
    assert torch.allclose(attribution.smoothgrad(tiny_cnn, images, target, sigma=0.0, samples=4), plain, atol=1e-6)
    noisy = attribution.smoothgrad(tiny_cnn, images, target, sigma=0.2, samples=5, seed=3, pixels_per_pass=6 * 16 * 16)
    again = attribution.smoothgrad(tiny_cnn, images, target, sigma=0.2, samples=5, seed=3, pixels_per_pass=6 * 16 * 16)
    assert noisy.shape == (3, 16, 16) and torch.equal(noisy, again)
    assert not torch.allclose(noisy, plain)


def test_signed_smoothgrad_is_the_magnitude_of_the_mean_signed_gradient_on_the_same_noise(tiny_cnn):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    target = torch.tensor([0, 2])
    sigma, samples, seed = 0.3, 6, 11
    # Noisy copy k of both images is the k-th draw: sigma times standard normals, drawn by
    # repro.gaussian from a generator seeded with the seed (the copies one after the other).
    noise = sigma * repro.gaussian((samples, 2, 3, 16, 16), torch.Generator().manual_seed(seed))
    noisy = (images[:, None] + noise.transpose(0, 1)).reshape(2 * samples, 3, 16, 16).requires_grad_()
    scores = tiny_cnn(noisy).gather(1, target.repeat_interleave(samples)[:, None]).sum()
    gradients = torch.autograd.grad(scores, noisy)[0].view(2, samples, 3, 16, 16)
    signed = attribution.smoothgrad(tiny_cnn, images, target, sigma=sigma, samples=samples, seed=seed)
    absolute = attribution.smoothgrad(tiny_cnn, images, target, sigma=sigma, samples=samples, seed=seed,
                                      average="absolute")
    assert torch.allclose(signed, gradients.mean(dim=1).abs().amax(dim=1), atol=1e-6)
    assert torch.allclose(absolute, gradients.abs().mean(dim=1).amax(dim=1), atol=1e-6)
    assert (signed <= absolute + 1e-7).all() and (signed < absolute - 1e-6).any()  # signs cancel
    with pytest.raises(ValueError, match="average must be one of"):
        attribution.smoothgrad(tiny_cnn, images, target, average="squared")
    narrow = attribution.smoothgrad(tiny_cnn, images, target, sigma=sigma, samples=samples, seed=seed,
                                    pixels_per_pass=2 * 16 * 16)
    assert torch.allclose(narrow, signed, atol=1e-6)  # each image gets the same noise at any pass size


def test_the_smoothgrad_sweep_gives_each_count_and_average_what_its_own_run_gives(tiny_cnn):
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    target = torch.tensor([2, 0, 1])
    # Two copies per pass, so the counts 3 and 5 end inside a pass and 4 at its end.
    swept = attribution.smoothgrad_sweep(tiny_cnn, images, target, sigma=0.25, counts=(5, 1, 3, 4), seed=9,
                                         pixels_per_pass=6 * 16 * 16)
    assert set(swept) == {(average, n) for average in attribution.SMOOTHGRAD_AVERAGES for n in (1, 3, 4, 5)}
    for (average, n), maps in swept.items():
        alone = attribution.smoothgrad(tiny_cnn, images, target, sigma=0.25, samples=n, seed=9, average=average,
                                       pixels_per_pass=6 * 16 * 16)
        assert maps.shape == (3, 16, 16) and torch.allclose(maps, alone, atol=1e-6), (average, n)
    assert not torch.allclose(swept["signed", 1], swept["signed", 5])
    with pytest.raises(ValueError, match="positive integers"):
        attribution.smoothgrad_sweep(tiny_cnn, images, target, sigma=0.25, counts=(0, 5))


def test_integrated_gradients_per_channel_add_up_to_the_score_change_and_reduce_either_way(tiny_cnn):
    from xaihelpers import methods

    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(8))  # the blur reference pads 30 pixels
    target = torch.tensor([1, 0])
    per_channel = attribution.integrated_gradients(tiny_cnn, images, target, steps=64, reference="blur")
    assert per_channel.shape == images.shape
    with torch.no_grad():
        scores = tiny_cnn(images)[[0, 1], target]
        reference_scores = tiny_cnn(attribution.baseline(images, "blur"))[[0, 1], target]
    # Completeness (Sundararajan et al. 2017): the attributions sum to the score's change from the baseline.
    assert torch.allclose(per_channel.sum(dim=(1, 2, 3)), scores - reference_scores, rtol=0.02, atol=1e-3)
    for reduction in ("sum", "abs_sum"):
        alone = methods.get("Integrated Gradients")(tiny_cnn, images, target, steps=64, baseline="blur",
                                                    reduction=reduction)
        assert torch.allclose(attribution.channel_reduce(per_channel, reduction), alone, atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        attribution.integrated_gradients(tiny_cnn, images, target, steps=0)


def test_smoothgrad_estimates_what_captums_noise_tunnel_estimates(tiny_cnn):
    # The two draw different noise, so they agree only up to the Monte Carlo error, which shrinks
    # as 1/sqrt(samples); with 1,000 copies it is a few per cent of the map's scale.
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    target = torch.tensor([1, 2])
    ours = attribution.smoothgrad(tiny_cnn, images, target, sigma=0.3, samples=1000, average="absolute", seed=2)
    with torch.random.fork_rng():
        torch.manual_seed(7)
        captums = NoiseTunnel(Saliency(tiny_cnn)).attribute(
            images.clone().requires_grad_(), nt_type="smoothgrad", nt_samples=1000, nt_samples_batch_size=250,
            stdevs=0.3, target=target).amax(dim=1)
    plain = attribution.smoothgrad(tiny_cnn, images, target, sigma=0.0, samples=1)
    error = (ours - captums).abs().max() / captums.max()
    assert error < 0.05, f"SmoothGrad and NoiseTunnel differ by {error:.3f} of the map's maximum"
    assert (plain - captums).abs().max() / captums.max() > 4 * error  # the noise matters at sigma 0.3


def test_cap_scales_each_map_by_its_own_percentile():
    # 0, 1, ..., 10: the 50th percentile is 5 exactly, so every value is divided by 5 and clipped
    # at 1. The second map is a hundredth of the first (a ceiling below 1) and caps to the same.
    ramp = torch.arange(11.0).view(1, 1, 11)
    capped = attribution.cap(torch.cat([ramp, ramp / 100]), 50)
    expected = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8] + [1.0] * 6)
    assert capped.shape == (2, 1, 11)
    assert torch.allclose(capped[0, 0], expected) and torch.allclose(capped[1, 0], expected)


def test_cap_defaults_to_the_99th_percentile_and_stays_in_zero_one():
    # The 99th percentile of 0..99 interpolates to 98.01 (position 0.99 * 99 = 98.01).
    capped = attribution.cap(torch.arange(100.0).view(1, 10, 10))
    assert capped[0, 9, 8].item() == pytest.approx(98 / 98.01) and capped[0, 9, 9] == 1.0
    signed = attribution.cap(torch.tensor([[[-4.0, 2.0], [4.0, 8.0]]]), 100)
    assert signed.tolist() == [[[0.0, 0.25], [0.5, 1.0]]]  # a negative value is clipped at 0


def test_paint_regions_accepts_labels_in_any_order():
    segments = np.array([[5, 5, 9], [9, 2, 2]])
    painted = attribution.paint_regions(segments, [9, 2, 5], [0.9, 0.2, 0.5])
    assert painted.tolist() == [[0.5, 0.5, 0.9], [0.9, 0.2, 0.2]]


def _gaussian_blur_by_hand(images, sigma):
    """The textbook Gaussian blur: weights exp(-x^2 / 2 sigma^2) for |x| <= round(3 sigma), summing
    to 1, along rows then columns, the border mirrored (reflect padding)."""
    radius = round(3 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    weights = (weights / weights.sum()).to(images.dtype)
    channels = images.shape[1]
    padded = torch.nn.functional.pad(images, [radius] * 4, mode="reflect")
    rows = torch.nn.functional.conv2d(padded, weights.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return torch.nn.functional.conv2d(rows, weights.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def test_blur_baseline_is_the_gaussian_blur_of_the_stated_sigma():
    images = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(8))
    for sigma in (0.4, 1.5, 2.0):
        assert torch.allclose(attribution.baseline(images, "blur", sigma=sigma), _gaussian_blur_by_hand(images, sigma),
                              atol=1e-6), sigma
    large = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    assert torch.allclose(attribution.baseline(large, "blur"), _gaussian_blur_by_hand(large, 10.0), atol=1e-6)


def test_channel_reduce_keeps_one_value_per_image_and_pixel():
    values = torch.tensor([[[[1.0, -2.0]], [[-3.0, 4.0]]], [[[0.5, 0.0]], [[0.5, -1.0]]]])  # (2, 2, 1, 2)
    assert attribution.channel_reduce(values, "max_abs").tolist() == [[[3.0, 4.0]], [[0.5, 1.0]]]
    assert attribution.channel_reduce(values, "sum").tolist() == [[[-2.0, 2.0]], [[1.0, -1.0]]]
    assert attribution.channel_reduce(values, "abs_sum").tolist() == [[[4.0, 6.0]], [[1.0, 1.0]]]


def test_smoothgrad_draws_the_same_noise_by_default_as_with_seed_0(tiny_cnn):
    # The chapters call SmoothGrad without a seed; their printed numbers rest on this default.
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(10))
    default = attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.3, samples=3)
    assert torch.equal(default, attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.3, samples=3, seed=0))
    assert not torch.equal(default, attribution.smoothgrad(tiny_cnn, images, 1, sigma=0.3, samples=3, seed=1))


def test_baselines_keep_the_images_dtype():
    images = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    for kind in ("black", "blur", "uniform"):
        assert attribution.baseline(images, kind, sigma=1.0).dtype == torch.float64, kind


def test_signed_scale_divides_by_the_percentile_of_the_magnitude_and_clips_to_plus_minus_one():
    # Magnitudes 0..10: the 50th percentile is 5, so each map is divided by 5 and clipped to [-1, 1];
    # the second map, a hundredth of the first, gives the same.
    ramp = torch.tensor([0.0, -1.0, 2.0, -3.0, 4.0, -5.0, 6.0, -7.0, 8.0, -9.0, 10.0]).view(1, 1, 11)
    scaled = attribution.signed_scale(torch.cat([ramp, ramp / 100]), 50)
    expected = torch.tensor([0.0, -0.2, 0.4, -0.6, 0.8, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0])
    assert scaled.shape == (2, 1, 11)
    assert torch.allclose(scaled[0, 0], expected) and torch.allclose(scaled[1, 0], expected)
    # By default the 99th percentile: of magnitudes 0..99 it interpolates to 98.01.
    default = attribution.signed_scale(-torch.arange(100.0).view(1, 10, 10))
    assert default[0, 9, 8].item() == pytest.approx(-98 / 98.01) and default[0, 9, 9] == -1.0
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
        attribution.signed_scale(ramp, 0)
    with pytest.raises(ValueError, match=r"maps\[None\]"):
        attribution.signed_scale(ramp[0])
