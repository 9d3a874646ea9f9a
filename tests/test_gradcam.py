"""Grad-CAM: shapes, the defining formula, class dependence, and agreement of the two routes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xaihelpers import gradcam, models
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
    classifier = models.load_imagenet_model("efficientnet_lite0")
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


def test_maps_are_the_same_in_one_pass_or_image_by_image(tiny_cnn, monkeypatch):
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    target = [0, 1, 2, 1, 0]
    whole = grad_cam(tiny_cnn, "conv2", images, target)
    whole_layers = grad_cam_layers(tiny_cnn, ["conv1", "conv2"], images, target)
    monkeypatch.setattr(gradcam, "PIXELS_PER_PASS", 2 * 16 * 16)  # two images per pass
    assert torch.allclose(grad_cam(tiny_cnn, "conv2", images, target), whole, atol=1e-6)
    chunked = grad_cam_layers(tiny_cnn, ["conv1", "conv2"], images, target)
    assert all(torch.allclose(chunked[k], whole_layers[k], atol=1e-6) for k in whole_layers)


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
