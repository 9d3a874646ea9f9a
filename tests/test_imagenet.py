"""The ImageNet model switch: both names, offline behaviour, structure and known answers."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from torchvision.models import ResNet50_Weights

from xaihelpers import data, imagenet


def test_switch_reads_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv(imagenet.IMAGENET_MODEL_ENV, raising=False)
    assert imagenet.imagenet_model_name() == "efficientnet_lite0"  # the model of the stored outputs
    monkeypatch.setenv(imagenet.IMAGENET_MODEL_ENV, "ResNet50")
    assert imagenet.imagenet_model_name() == "resnet50"
    assert imagenet.imagenet_model_name("efficientnet-lite0") == "efficientnet_lite0"


def test_unknown_model_name_lists_the_choices(monkeypatch):
    monkeypatch.setenv(imagenet.IMAGENET_MODEL_ENV, "vgg16")
    with pytest.raises(ValueError, match="resnet50, resnet50_v1, resnet50_v2, efficientnet_lite0"):
        imagenet.imagenet_model_name()


def test_resnet50_without_weights_builds_offline():
    classifier = imagenet.load_imagenet_model("resnet50", pretrained=False)
    assert classifier.name == "resnet50" and not classifier.model.training
    assert len(classifier.class_names) == 1000
    assert list(classifier.conv_stages) == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert len(classifier.conv_blocks) == 3 + 4 + 6 + 3
    assert isinstance(classifier.model.get_submodule(classifier.head_layer), torch.nn.Linear)
    for layer in list(classifier.conv_stages.values()) + classifier.conv_blocks:
        classifier.model.get_submodule(layer)
    with torch.no_grad():
        assert classifier.model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


@pytest.mark.parametrize("name, url_end, resize", [
    # torchvision's documented weights: V1 is what models.resnet50(pretrained=True) loaded (file
    # resnet50-0676ba61.pth, resize 256); V2 is the newer recipe (resnet50-11ad3fa6.pth, resize 232).
    ("resnet50_v1", "resnet50-0676ba61.pth", 256),
    ("resnet50_v2", "resnet50-11ad3fa6.pth", 232),
    ("resnet50", "resnet50-11ad3fa6.pth", 232),
])
def test_the_resnet50_switch_names_its_weights(monkeypatch, name, url_end, resize):
    asked = []

    def no_network(self, *args, **kwargs):
        asked.append(self.url)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(type(ResNet50_Weights.IMAGENET1K_V2), "get_state_dict", no_network)
    with pytest.raises(imagenet.ModelUnavailableError, match=url_end.split("-")[1].split(".")[0]):
        imagenet.load_imagenet_model(name)
    assert [url.rsplit("/", 1)[1] for url in asked] == [url_end]
    classifier = imagenet.load_imagenet_model(name, pretrained=False)
    assert classifier.name == name
    # A 256 x 256 photo whose grey level is the column index: resized to `resize` pixels, then
    # centre-cropped to 224, the crop's first column shows the source column it came from.
    from PIL import Image

    photo = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (256, 1))).convert("RGB")
    first = classifier.preprocess(photo)[0, :, 0].mean().item() * 255
    offset = (resize - 224) // 2
    source_column = (offset + 0.5) * 256 / resize - 0.5
    assert abs(first - source_column) < 0.6, (first, source_column)


def test_resnet50_offline_names_the_offline_alternative(monkeypatch):
    def no_network(self, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(type(ResNet50_Weights.IMAGENET1K_V2), "get_state_dict", no_network)
    with pytest.raises(imagenet.ModelUnavailableError) as caught:
        imagenet.load_imagenet_model("resnet50")
    assert "efficientnet_lite0" in str(caught.value)
    assert imagenet.IMAGENET_MODEL_ENV in str(caught.value)


def test_efficientnet_lite0_structure_and_normalisation():
    classifier = imagenet.load_imagenet_model("efficientnet_lite0")
    stages = classifier.conv_stages
    assert list(stages)[0] == "stem" and list(stages)[-1] == "head"
    assert len(stages) == 9 and len(classifier.conv_blocks) == 16
    assert classifier.target_layer == "net._bn1.relu6" == stages["head"]
    assert isinstance(classifier.model.get_submodule(classifier.head_layer), torch.nn.Linear)
    assert torch.allclose(classifier.model.normalize.mean.flatten(), torch.full((3,), 0.498))
    assert torch.allclose(classifier.model.normalize.std.flatten(), torch.full((3,), 0.502))
    depth_order = classifier.layers_by_depth()
    assert depth_order[0] == "net._conv_stem" and depth_order[-1] == "net._bn1.relu6"
    assert "ImageNet model: efficientnet_lite0" in classifier.describe()


def test_preprocess_and_display_round_trip():
    from PIL import Image

    classifier = imagenet.load_imagenet_model("efficientnet_lite0", pretrained=False)
    tensor = classifier.preprocess(Image.new("RGB", (300, 260), (255, 128, 0)))
    colour = torch.tensor([255, 128, 0]) / 255  # a plain image stays plain, scaled to [0, 1]
    assert tensor.shape == (3, 224, 224) and torch.allclose(tensor, colour[:, None, None].expand(3, 224, 224))
    shown = classifier.to_display(tensor)
    assert shown.shape == (224, 224, 3)
    assert shown[0, 0, 0] == pytest.approx(1.0) and shown[0, 0, 2] == pytest.approx(0.0)
    assert classifier.to_display(tensor[None].repeat(2, 1, 1, 1)).shape == (2, 224, 224, 3)


def test_efficientnet_lite0_recognises_the_mirror_images(mirror_root):
    classifier = imagenet.load_imagenet_model("efficientnet_lite0")
    samples = data.load_dataset("imagenet_samples", "all", transform=classifier.preprocess)
    picks = list(range(0, 1000, 25))
    images = torch.stack([samples[i][0] for i in picks])
    with torch.no_grad():
        predicted = classifier.model(images).argmax(dim=1)
    accuracy = (predicted == torch.tensor(picks)).float().mean().item()
    # The mirror README measured top-1 0.882 on all 1,000 images; 40 images leave some slack.
    assert accuracy >= 0.75
    goldfish = classifier.top_k(samples[1][0][None], k=1)[0][0]
    assert goldfish[0] == "goldfish" and goldfish[1] > 0.5


def test_lite0_grad_cam_layer_is_the_rectified_head():
    # Grad-CAM is defined on rectified feature maps: the layer's output is ReLU6's, in [0, 6], and
    # it is what the classifier pools (its spatial mean, through the linear head, is the logits).
    from xaihelpers import hooks

    classifier = imagenet.load_imagenet_model("efficientnet_lite0")
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad(), hooks.LayerRecorder(classifier.model, [classifier.target_layer, "net._conv_head"]) as seen:
        logits = classifier.model(images)
    rectified, before = seen.activations[classifier.target_layer], seen.activations["net._conv_head"]
    assert rectified.shape == (2, 1280, 7, 7)
    assert rectified.min() >= 0 and rectified.max() <= 6 and (rectified == 0).any()
    assert before.min() < 0  # the convolution's output is not rectified
    head = classifier.model.get_submodule(classifier.head_layer)
    assert torch.allclose(head(rectified.mean(dim=(2, 3))), logits, atol=1e-4)
    # Known answer: at the layer the classifier pools, Grad-CAM is the class activation map of Zhou
    # et al. 2016, ReLU(sum_k w_ck A_k) / 49, as long as the hook sees the true gradient (a shared
    # ReLU6 after the layer would zero it where the activation is 0).
    from xaihelpers.gradcam import grad_cam

    target = logits.argmax(dim=1)
    maps = grad_cam(classifier.model, classifier.target_layer, images, target, upsample=False, normalize=False)
    cam = torch.einsum("nk,nkij->nij", head.weight[target], rectified).clamp_min(0) / 49
    assert torch.allclose(maps, cam.detach(), atol=1e-5)


def test_untying_lite0_activations_changes_no_output_and_no_gradient():
    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    original = EfficientNet.from_name("efficientnet-lite0").eval()
    untied = imagenet.untie_lite0_activations(__import__("copy").deepcopy(original))
    relus = [m for m in untied.modules() if isinstance(m, torch.nn.ReLU6)]
    # Stem, head, the first block (no expansion) and the 15 others: 2 + 1 + 2 * 15 modules, each
    # run once per pass, where the original ran one module per block (and one for stem and head).
    assert len(relus) == 33
    from xaihelpers.hooks import CallCounter

    names = [name for name, m in untied.named_modules() if isinstance(m, torch.nn.ReLU6)]
    with torch.no_grad(), CallCounter(untied, names) as calls:
        untied(torch.rand(1, 3, 224, 224))
    assert set(calls.counts.values()) == {1}
    images = torch.rand(2, 3, 224, 224, requires_grad=True)
    gradients = []
    for net in (original, untied):
        images.grad = None
        out = net(images)
        out[:, 3].sum().backward()
        gradients.append((out.detach(), images.grad.clone()))
    assert torch.equal(gradients[0][0], gradients[1][0])
    assert torch.equal(gradients[0][1], gradients[1][1])


def test_sublayers_inside_a_block_are_the_convolutions_norms_and_own_activations_in_order():
    classifier = imagenet.load_imagenet_model("efficientnet_lite0", pretrained=False)
    last = classifier.conv_blocks[-1]
    assert classifier.sublayers(last) == [f"{last}.{name}" for name in (
        "_expand_conv", "_bn0.bn", "_bn0.relu6", "_depthwise_conv", "_bn1.bn", "_bn1.relu6", "_project_conv", "_bn2")]
    assert classifier.sublayers("head") == ["net._conv_head", "net._bn1.bn", classifier.target_layer]
    # ResNet-50's bottleneck runs one ReLU module three times: a hook cannot single it out.
    resnet = imagenet.load_imagenet_model("resnet50", pretrained=False)
    inside = resnet.sublayers("net.layer4.2")
    assert "net.layer4.2.relu" not in inside and inside[:2] == ["net.layer4.2.conv1", "net.layer4.2.bn1"]
    assert resnet.sublayers("head")[-1] == "net.layer4.2"
