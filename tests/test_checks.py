"""Bad input, tried as a new user would: every public function that takes images, targets, layers,
counts or checkpoints refuses a bad value with an error that names the argument and what is allowed."""

from __future__ import annotations

import math

import pytest
import torch

from xaihelpers import (attribution, checkpoints, checks, classvis, evaluation, explainers, features, heatmaps, hooks,
                        inference, uncertainty, zoo)
from xaihelpers.gradcam import grad_cam, grad_cam_layers

NAN_IMAGE = torch.full((1, 3, 16, 16), math.nan)


def _images(n=2, size=16):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))


# --- the checks themselves ---------------------------------------------------------------------

def test_image_checks_name_the_argument_and_the_fix():
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        checks.images([[0.0]])
    with pytest.raises(ValueError, match=r"add the batch dimension: images\[None\]"):
        checks.images(torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match="empty batch"):
        checks.images(torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match="3 channels, got 1.*grayscale"):
        checks.images(torch.rand(1, 1, 8, 8), channels=3)
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        checks.images(torch.tensor([0.0, math.inf]).view(1, 1, 1, 2))
    good = _images()
    assert checks.images(good) is good
    assert checks.images(torch.zeros(1, 3, 4, 4, dtype=torch.uint8)).dtype == torch.uint8


def test_target_checks():
    assert checks.targets(2, 3).tolist() == [2, 2, 2]
    assert checks.targets([0, 1], 2).tolist() == [0, 1]
    with pytest.raises(ValueError, match="one per image \\(3\\)"):
        checks.targets(torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="negative"):
        checks.targets(-1, 2)
    with pytest.raises(ValueError, match="has 10 classes"):
        checks.targets(10, 2, classes=10)
    with pytest.raises(TypeError, match="integer class indices"):
        checks.targets(torch.tensor([0.5, 1.0]), 2)
    with pytest.raises(TypeError, match="class index"):
        checks.targets("cat", 1)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_counts_must_be_positive_integers(value, error):
    with pytest.raises(error, match="samples"):
        checks.positive_int(value, "samples")


def test_scales_and_percentiles():
    assert checks.non_negative(0, "sigma") == 0.0
    with pytest.raises(ValueError, match="sigma must be 0 or more"):
        checks.non_negative(-0.1, "sigma")
    with pytest.raises(ValueError, match="finite"):
        checks.positive(math.nan, "sigma")
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        checks.percentile(0)


# --- the public functions use them ---------------------------------------------------------------

def test_attribution_methods_refuse_nan_images_instead_of_returning_nan_maps(tiny_cnn):
    calls = {
        "smoothgrad": lambda: attribution.smoothgrad(tiny_cnn, NAN_IMAGE, 0, samples=2),
        "grad_cam": lambda: grad_cam(tiny_cnn, "conv2", NAN_IMAGE, 0),
        "grad_cam_layers": lambda: grad_cam_layers(tiny_cnn, ["conv2"], NAN_IMAGE, 0),
        "lime_maps": lambda: explainers.lime_maps(tiny_cnn, NAN_IMAGE, torch.tensor([0]), num_samples=5),
        "gradient_shap_maps": lambda: explainers.gradient_shap_maps(tiny_cnn, NAN_IMAGE, _images(), nsamples=2),
        "partition_shap_maps": lambda: explainers.partition_shap_maps(tiny_cnn, NAN_IMAGE, torch.tensor([0])),
        "deletion_insertion": lambda: evaluation.deletion_insertion(tiny_cnn, NAN_IMAGE, torch.rand(1, 16, 16),
                                                                    torch.tensor([0])),
        "predict_proba": lambda: inference.predict_proba(tiny_cnn, NAN_IMAGE),
        "mc_predict": lambda: uncertainty.mc_predict(tiny_cnn, NAN_IMAGE, passes=2),
        "edge_magnitude": lambda: features.edge_magnitude(NAN_IMAGE),
        "baseline": lambda: attribution.baseline(NAN_IMAGE, "blur"),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match="NaN or infinite"):
            call()


def test_single_images_without_a_batch_dimension_are_refused_by_name(tiny_cnn):
    single = torch.rand(3, 16, 16)
    for call in (lambda: grad_cam(tiny_cnn, "conv2", single, 0),
                 lambda: attribution.smoothgrad(tiny_cnn, single, 0),
                 lambda: inference.predict_proba(tiny_cnn, single),
                 lambda: hooks.reduce_activations(tiny_cnn, ["conv1"], single, lambda n, a, x: a)):
        with pytest.raises(ValueError, match=r"\[None\]|batch"):
            call()


def test_targets_outside_the_model_are_refused_with_the_class_count(tiny_cnn):
    images = _images()
    with pytest.raises(ValueError, match="3 classes"):
        grad_cam(tiny_cnn, "conv2", images, 7)
    with pytest.raises(ValueError, match="3 classes"):
        grad_cam_layers(tiny_cnn, ["conv2"], images, 7)
    with pytest.raises(ValueError, match="3 classes"):
        attribution.smoothgrad(tiny_cnn, images, 5, samples=2)
    with pytest.raises(ValueError, match="3 classes"):
        evaluation.deletion_insertion(tiny_cnn, images, torch.rand(2, 16, 16), torch.tensor([0, 9]), steps=2)
    with pytest.raises(ValueError, match="classes holds class index 12"):
        classvis.class_model(tiny_cnn, [0, 12], steps=1, size=8)


def test_zero_or_negative_counts_and_scales(tiny_cnn):
    images = _images()
    with pytest.raises(ValueError, match="samples must be at least 1"):
        attribution.smoothgrad(tiny_cnn, images, 0, samples=0)
    with pytest.raises(ValueError, match="sigma must be 0 or more"):
        attribution.smoothgrad(tiny_cnn, images, 0, sigma=-0.1)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        evaluation.deletion_insertion(tiny_cnn, images, torch.rand(2, 16, 16), torch.tensor([0, 1]), steps=0)
    with pytest.raises(ValueError, match="num_samples must be at least 1"):
        explainers.lime_maps(tiny_cnn, images, torch.tensor([0, 1]), num_samples=0)
    with pytest.raises(ValueError, match="nsamples must be at least 1"):
        explainers.gradient_shap_maps(tiny_cnn, images, images, nsamples=0)
    with pytest.raises(ValueError, match="max_evals must be at least 1"):
        explainers.partition_shap_maps(tiny_cnn, images, torch.tensor([0, 1]), max_evals=0)
    with pytest.raises(ValueError, match="passes must be at least 1"):
        uncertainty.mc_predict(tiny_cnn, images, passes=0)
    with pytest.raises(ValueError, match="pixels_per_pass must be at least 1"):
        inference.predict_proba(tiny_cnn, images, pixels_per_pass=0)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        classvis.class_model(tiny_cnn, [0], steps=0)
    with pytest.raises(ValueError, match="blur_sigma must be above 0"):
        classvis.class_model(tiny_cnn, [0], steps=1, size=8, blur_every=1, blur_sigma=0)
    with pytest.raises(ValueError, match="pixels_per_pass must be at least 1"):
        evaluation.in_passes(lambda m, x, t: x[:, 0], pixels_per_pass=0)
    with pytest.raises(ValueError, match="sigma must be above 0"):
        attribution.baseline(images, "blur", sigma=0)
    with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
        attribution.cap(torch.rand(1, 4, 4), 150)
    with pytest.raises(ValueError, match="k must be between 1 and the number of channels"):
        features.strongest_channels(torch.rand(1, 4, 2, 2), 5)


def test_layers_are_checked_before_any_work(tiny_cnn):
    images = _images()
    with pytest.raises(KeyError, match="no layer 'conv9'.*conv1"):
        grad_cam_layers(tiny_cnn, ["conv1", "conv9"], images, 0)
    with pytest.raises(ValueError, match="layers is empty"):
        grad_cam_layers(tiny_cnn, [], images, 0)
    with pytest.raises(KeyError, match="no layer 'fc9'"):
        evaluation.cascading_randomization(tiny_cnn, lambda m, x, t: x[:, 0], images, torch.tensor([0, 1]), ["fc9"])


def test_maps_that_do_not_fit_or_are_not_finite(tiny_cnn):
    images = _images()
    with pytest.raises(ValueError, match=r"maps must be \(N, H, W\)"):
        evaluation.deletion_insertion(tiny_cnn, images, torch.rand(2, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="maps contains NaN"):
        evaluation.deletion_insertion(tiny_cnn, images, torch.full((2, 16, 16), math.nan), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        heatmaps.lacunarity(torch.full((8, 8), math.nan))
    with pytest.raises(ValueError, match="NaN or infinite"):
        heatmaps.render(torch.full((8, 8), math.nan))
    with pytest.raises(ValueError, match=r"maps\[None\]"):
        attribution.cap(torch.rand(4, 4))


def test_shap_background_must_match_the_images(tiny_cnn):
    with pytest.raises(ValueError, match="background images must have the shape"):
        explainers.gradient_shap_maps(tiny_cnn, _images(size=16), _images(size=8), nsamples=2)


# --- checkpoints -----------------------------------------------------------------------------------

def _truncated_copy(source, tmp_path):
    data = source.read_bytes()
    target = tmp_path / source.name
    target.write_bytes(data[: len(data) // 3])
    return target


def test_truncated_checkpoints_name_the_file_and_the_fix(tmp_path):
    for name in ("pollen_cnn", "cifar10_gap", "continual_ewc"):
        broken = _truncated_copy(zoo.get(name).checkpoint, tmp_path)
        with pytest.raises(checkpoints.CheckpointError, match="truncated or corrupt") as error:
            zoo.load(name, broken)
        assert str(broken) in str(error.value) and f"python -m xaihelpers.retrain {name}" in str(error.value)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match="another architecture"):
        zoo.load("cifar10_plain", zoo.get("cifar10_gap").checkpoint)
    with pytest.raises(checkpoints.CheckpointError, match="another architecture"):
        zoo.load("pollen_cnn", zoo.get("pollen_cnn_dropout05").checkpoint.with_name("cifar10_allconv.pt"))
    with pytest.raises(checkpoints.CheckpointError, match="lacks \\['states'\\]"):
        zoo.load("continual_baseline", zoo.get("pollen_cnn").checkpoint)
    no_classes = tmp_path / "no_classes.pt"
    torch.save({"state_dict": {}, "meta": {"mean": [0.5] * 3}}, no_classes)
    with pytest.raises(checkpoints.CheckpointError, match="lacks the entry 'classes'"):
        zoo.load("cifar10_plain", no_classes)
    with pytest.raises(FileNotFoundError, match="xaihelpers.retrain pollen_cnn"):
        zoo.load("pollen_cnn", tmp_path / "missing.pt")
    not_a_dict = tmp_path / "list.pt"
    torch.save([1, 2, 3], not_a_dict)
    with pytest.raises(checkpoints.CheckpointError, match="not a checkpoint of this model"):
        zoo.load("pollen_cnn", not_a_dict)


def test_percentile_bounds_are_zero_excluded_and_hundred_included():
    assert checks.percentile(0.5) == 0.5 and checks.percentile(100) == 100.0
    for outside in (0, -1, 100.5, 101):
        with pytest.raises(ValueError, match=r"percentile must be in \(0, 100\]"):
            checks.percentile(outside)
    with pytest.raises(TypeError, match="percentile must be a number"):
        checks.percentile("99")


def test_maps_that_are_not_a_batch_say_what_they_were():
    with pytest.raises(ValueError, match=r"maps must be a batch of maps \(N, H, W\), got list"):
        checks.maps([[0.0]])
    with pytest.raises(ValueError, match=r"got \(4, 4\); for one map use maps\[None\]"):
        checks.maps(torch.rand(4, 4))


def test_scales_name_the_argument_when_they_are_not_numbers():
    for check in (checks.positive, checks.non_negative):
        with pytest.raises(TypeError, match="sigma must be a number, got str"):
            check("0.1", "sigma")
    assert checks.positive(2, "sigma") == 2.0 and isinstance(checks.positive(2, "sigma"), float)


def test_counts_may_be_0d_integer_tensors_but_not_float_ones():
    assert checks.positive_int(torch.tensor(3), "steps") == 3
    with pytest.raises(TypeError, match="steps must be an integer"):
        checks.positive_int(torch.tensor(3.0), "steps")
    with pytest.raises(TypeError, match="steps must be an integer"):
        checks.positive_int(torch.tensor([3]), "steps")


def test_boolean_targets_are_refused_and_the_message_names_the_target():
    with pytest.raises(TypeError, match="target must hold integer class indices, got dtype torch.bool"):
        checks.targets(torch.tensor([True, False]), 2)
    with pytest.raises(ValueError, match=r"target holds a negative class index \(-2\)"):
        checks.targets([0, -2], 2)


def test_image_messages_count_the_bad_values_and_keep_the_grayscale_hint_for_grayscale():
    values = torch.tensor([math.nan, 0.5, math.inf, -math.inf]).view(1, 1, 2, 2)
    with pytest.raises(ValueError, match="contains 3 NaN or infinite value\\(s\\) of 4"):
        checks.images(values)
    with pytest.raises(ValueError, match=r"must have 3 channels, got 4\.$"):
        checks.images(torch.rand(1, 4, 8, 8), channels=3)
