"""Grad-CAM: shapes, the defining formula, class dependence, and agreement of the two routes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xaihelpers import gradcam, imagenet
from xaihelpers.gradcam import grad_cam, grad_cam_layers, normalize_maps
from xaihelpers.hooks import count_hooks


def test_output_shape_and_range(tiny_cnn):
    maps = grad_cam(tiny_cnn, "conv2", torch.rand(3, 3, 16, 16), target=0)
    assert maps.shape == (3, 16, 16)
    assert maps.min() >= 0 and torch.equal(maps.flatten(1).amax(dim=1), torch.ones(3))  # each by its own peak


def _strided_cnn() -> nn.Module:
    """A seeded CNN whose one convolution halves the resolution."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3)).eval()


def test_upsample_false_keeps_the_layer_resolution():
    strided = _strided_cnn()
    images = torch.rand(2, 3, 16, 16)
    native = grad_cam(strided, "1", images, 0, upsample=False, normalize=False)
    upsampled = grad_cam(strided, "1", images, 0, normalize=False)
    assert native.shape == (2, 8, 8) and upsampled.shape == (2, 16, 16)
    layers = grad_cam_layers(strided, ["1"], images, 0, upsample=False, normalize=False)
    assert torch.allclose(layers["1"], native, atol=1e-6)


def test_matches_the_definition(tiny_cnn):
    images = torch.rand(1, 3, 8, 8)
    activation = F.relu(tiny_cnn.conv1(images))
    activation.retain_grad()
    feature = tiny_cnn.conv2(activation)
    feature.retain_grad()
    tiny_cnn.fc(F.relu(feature).mean(dim=(2, 3)))[0, 2].backward()
    alpha = feature.grad.mean(dim=(2, 3), keepdim=True)
    expected = F.relu((alpha * feature).sum(dim=1))[0].detach()
    maps = grad_cam(tiny_cnn, "conv2", images, 2, upsample=False, normalize=False)
    assert torch.allclose(maps[0], expected, atol=1e-6)


def test_map_changes_with_the_target_class(tiny_cnn):
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    first = grad_cam(tiny_cnn, "conv1", images, 0, normalize=False)
    second = grad_cam(tiny_cnn, "conv1", images, 1, normalize=False)
    assert not torch.allclose(first, second)


def test_one_pass_route_equals_captum_and_removes_hooks(tiny_cnn):
    images = torch.rand(2, 3, 10, 10)
    targets = [2, 0]
    many = grad_cam_layers(tiny_cnn, ["conv1", "conv2"], images, targets)
    for layer in ("conv1", "conv2"):
        assert torch.allclose(many[layer], grad_cam(tiny_cnn, layer, images, targets), atol=1e-6)
    assert count_hooks(tiny_cnn) == 0


def test_target_count_must_match_batch(tiny_cnn):
    with pytest.raises(ValueError, match="one per image"):
        grad_cam(tiny_cnn, "conv2", torch.rand(3, 3, 8, 8), [0, 1])


def test_normalize_maps_keeps_zero_maps_zero():
    maps = torch.stack([torch.zeros(2, 2), torch.tensor([[1.0, 2.0], [0.0, 4.0]])])
    normalized = normalize_maps(maps)
    assert torch.equal(normalized[0], torch.zeros(2, 2))
    assert normalized[1].max() == 1.0 and normalized[1, 0, 0] == 0.25


def test_gradcam_on_the_imagenet_model_depends_on_the_class():
    torch.manual_seed(0)
    classifier = imagenet.load_imagenet_model("efficientnet_lite0")
    image = torch.rand(1, 3, 224, 224)
    maps = [grad_cam(classifier.model, classifier.target_layer, image, c) for c in (1, 500)]
    assert maps[0].shape == (1, 224, 224)
    assert not torch.allclose(maps[0], maps[1], atol=1e-3)


def test_signed_grad_cam_keeps_the_negative_part_and_its_positive_part_is_grad_cam(tiny_cnn):
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    signed = grad_cam(tiny_cnn, "conv2", images, [0, 1, 2], relu=False, normalize=False)
    positive = grad_cam(tiny_cnn, "conv2", images, [0, 1, 2], normalize=False)
    assert (signed < 0).any()
    assert torch.allclose(signed.clamp_min(0), positive, atol=1e-6)


def test_maps_are_the_same_in_one_pass_or_image_by_image(tiny_cnn):
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    target = [0, 1, 2, 1, 0]
    whole = grad_cam(tiny_cnn, "conv2", images, target)
    whole_layers = grad_cam_layers(tiny_cnn, ["conv1", "conv2"], images, target)
    two = 2 * 16 * 16  # two images per pass
    assert torch.allclose(grad_cam(tiny_cnn, "conv2", images, target, pixels_per_pass=two), whole, atol=1e-6)
    chunked = grad_cam_layers(tiny_cnn, ["conv1", "conv2"], images, target, pixels_per_pass=two)
    assert all(torch.allclose(chunked[k], whole_layers[k], atol=1e-6) for k in whole_layers)
    with pytest.raises(ValueError, match="pixels_per_pass"):
        grad_cam(tiny_cnn, "conv2", images, target, pixels_per_pass=0)


def test_the_default_pass_is_the_inference_pixel_budget(tiny_cnn):
    """Two 224 x 224 images per pass, as before the budget was shared (2**17 // 224**2 == 2)."""
    from xaihelpers import evaluation, inference

    assert not hasattr(gradcam, "PIXELS_PER_PASS") or gradcam.PIXELS_PER_PASS is inference.PIXELS_PER_PASS
    images = torch.rand(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with evaluation.PassCounter(tiny_cnn) as counter:
        grad_cam_layers(tiny_cnn, ["conv2"], images, 1)
    assert counter.forward_calls == 2 and counter.forward_images == 3


def test_grad_cam_layers_upsamples_by_default_and_takes_modules_as_layers():
    strided = _strided_cnn()
    images = torch.rand(2, 3, 16, 16)
    maps = grad_cam_layers(strided, [strided[1]], images, 0)
    assert list(maps) == ["1"] and maps["1"].shape == (2, 16, 16)
    assert torch.allclose(maps["1"], grad_cam(strided, "1", images, 0), atol=1e-6)


class UnusedBranch(nn.Module):
    """A layer that runs in the forward pass but feeds nothing into the output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.side = nn.Conv2d(3, 2, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        self.side(x)
        return self.fc(F.relu(self.conv(x)).mean(dim=(2, 3)))


def test_a_layer_the_class_score_does_not_depend_on_gets_an_empty_map():
    torch.manual_seed(0)
    model = UnusedBranch().eval()
    maps = grad_cam_layers(model, ["conv", "side"], torch.rand(2, 3, 8, 8), 1)
    assert torch.equal(maps["side"], torch.zeros(2, 8, 8)) and maps["conv"].amax() == pytest.approx(1.0)


def test_maps_are_bilinearly_upsampled_then_scaled_to_a_peak_of_one():
    strided = _strided_cnn()
    images = torch.rand(2, 3, 16, 16)
    native = grad_cam(strided, "1", images, 2, upsample=False, normalize=False)
    bilinear = F.interpolate(native[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(grad_cam(strided, "1", images, 2, normalize=False), bilinear, atol=1e-6)
    peaks = bilinear.flatten(1).amax(dim=1)
    assert (peaks > 0).all()
    assert torch.allclose(grad_cam(strided, "1", images, 2), bilinear / peaks.view(-1, 1, 1), atol=1e-6)


def test_normalize_maps_scales_small_maps_up():
    maps = torch.tensor([[[0.0, 0.125], [0.25, 0.5]]])
    assert normalize_maps(maps).tolist() == [[[0.0, 0.25], [0.5, 1.0]]]


def _min_max(maps: torch.Tensor) -> torch.Tensor:
    """pytorch-grad-cam's scaling: ``scale_cam_image`` (each map minus its minimum, over 1e-7 plus
    its new maximum) once per layer and once more after the layers are averaged."""
    for _ in range(2):
        maps = maps - maps.flatten(1).amin(dim=1).view(-1, 1, 1)
        maps = maps / (1e-7 + maps.flatten(1).amax(dim=1).view(-1, 1, 1))
    return maps


def _pytorch_grad_cam(cam_class, model, layer, images, targets) -> torch.Tensor:
    """pytorch-grad-cam's maps for ``targets`` (its own ClassifierOutputTarget objects), on a copy
    of the model (pytorch-grad-cam calls ``backward()`` on it)."""
    import copy

    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    reference = copy.deepcopy(model)
    with cam_class(model=reference, target_layers=[reference.get_submodule(layer)]) as cam:
        return torch.from_numpy(cam(input_tensor=images, targets=[ClassifierOutputTarget(c) for c in targets]))


def test_mean_weights_are_pytorch_grad_cams_grad_cam_and_its_targets_work_here(tiny_cnn):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    images = torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(2))
    targets = [2, 0, 1]
    reference = _pytorch_grad_cam(GradCAM, tiny_cnn, "conv2", images, targets)
    # pytorch-grad-cam's own target objects, one per image, are accepted as they are.
    ours = grad_cam_layers(tiny_cnn, ["conv2"], images, [ClassifierOutputTarget(c) for c in targets],
                           upsample=False, normalize=False)["conv2"]
    assert torch.allclose(_min_max(ours), reference, atol=1e-5)
    by_index = grad_cam_layers(tiny_cnn, ["conv2"], images, targets, upsample=False, normalize=False)["conv2"]
    assert torch.allclose(ours, by_index, atol=1e-7)


def test_other_channel_weights_are_one_argument_as_pytorch_grad_cams_get_cam_weights(tiny_cnn):
    import numpy as np
    from pytorch_grad_cam.base_cam import BaseCAM

    class MaxGradCAM(BaseCAM):
        """pytorch-grad-cam's extension point: the gradients' spatial maximum as channel weights."""

        def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
            return np.max(grads, axis=(2, 3))

    images = torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    targets = [1, 2, 0]
    reference = _pytorch_grad_cam(MaxGradCAM, tiny_cnn, "conv2", images, targets)
    ours = grad_cam_layers(tiny_cnn, ["conv2"], images, targets, weights=lambda a, g: g.amax(dim=(2, 3)),
                           upsample=False, normalize=False)["conv2"]
    assert torch.allclose(_min_max(ours), reference, atol=1e-5)
    mean_weights = grad_cam_layers(tiny_cnn, ["conv2"], images, targets, upsample=False)["conv2"]
    assert not torch.allclose(normalize_maps(ours), mean_weights, atol=1e-2)


def test_per_position_weights_and_bad_weights(tiny_cnn):
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    # Weights of the activations' shape are per position: w = dy/dA gives ReLU(sum_k dy/dA_k * A_k).
    activation = tiny_cnn.conv2(torch.relu(tiny_cnn.conv1(images))).detach().requires_grad_()
    score = tiny_cnn.fc(torch.relu(activation).mean(dim=(2, 3)))[:, 1].sum()
    (gradient,) = torch.autograd.grad(score, activation)
    expected = torch.relu((gradient * activation).sum(dim=1)).detach()
    ours = grad_cam_layers(tiny_cnn, ["conv2"], images, 1, weights=lambda a, g: g, upsample=False, normalize=False)
    assert torch.allclose(ours["conv2"], expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"weights must give \(N, K\) = \(2, 6\).*'conv2', got \(2,\)"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, 1, weights=lambda a, g: g.mean(dim=(1, 2, 3)))
    with pytest.raises(TypeError, match="weights must be a function"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, 1, weights="max")


def test_score_functions_as_targets_in_both_routes(tiny_cnn):
    from captum.attr import LayerGradCam

    images = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    # captum's own map, class 2 for every image, at the layer's resolution.
    reference = LayerGradCam(tiny_cnn, tiny_cnn.conv2).attribute(images, target=2, relu_attributions=True)
    reference = reference[:, 0].detach()
    assert torch.allclose(grad_cam(tiny_cnn, "conv2", images, gradcam.ClassScore(2), upsample=False,
                                   normalize=False), reference, atol=1e-6)
    layers = grad_cam_layers(tiny_cnn, ["conv2"], images, gradcam.ClassScore(2), upsample=False, normalize=False,
                             pixels_per_pass=2 * 8 * 8)
    assert torch.allclose(layers["conv2"], reference, atol=1e-6)
    # Any score: the difference of two logits is the difference of their (linear) weighted sums.
    difference = grad_cam(tiny_cnn, "conv2", images, lambda out: out[:, 2] - out[:, 0], upsample=False,
                          normalize=False, relu=False)
    other = LayerGradCam(tiny_cnn, tiny_cnn.conv2).attribute(images, target=0, relu_attributions=False)[:, 0]
    signed = LayerGradCam(tiny_cnn, tiny_cnn.conv2).attribute(images, target=2, relu_attributions=False)[:, 0]
    assert torch.allclose(difference, (signed - other).detach(), atol=1e-6)


def test_bad_targets_are_named(tiny_cnn):
    images = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"one score per image, \(2,\), got \(\)"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, lambda out: out.sum())
    with pytest.raises(ValueError, match="one score function per image: 2 images, 1 functions"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, [gradcam.ClassScore(0)])
    with pytest.raises(TypeError, match="mixes class indices and score functions"):
        grad_cam(tiny_cnn, "conv2", images, [0, gradcam.ClassScore(1)])
    with pytest.raises(ValueError, match="asks for a class the model does not have: its output has 3"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, gradcam.ClassScore(3))
    with pytest.raises(ValueError, match="category must be a non-negative class index"):
        gradcam.ClassScore(-1)


def test_the_callers_model_keeps_its_gradients_and_hooks(tiny_cnn):
    for p in tiny_cnn.parameters():
        p.grad = torch.full_like(p, 3.0)
    grad_cam_layers(tiny_cnn, ["conv1", "conv2"], torch.rand(2, 3, 8, 8), gradcam.ClassScore(1),
                    weights=lambda a, g: g.amax(dim=(2, 3)))
    assert all(torch.equal(p.grad, torch.full_like(p, 3.0)) for p in tiny_cnn.parameters())
    assert count_hooks(tiny_cnn) == 0
