"""Evaluation of explanations, with known answers: faithfulness, sanity checks, pass counts."""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import nn

from xaihelpers import evaluation, features
from xaihelpers.gradcam import grad_cam
from xaihelpers.hooks import count_hooks

REGION = (slice(4, 12), slice(4, 12))


class RegionClassifier(nn.Module):
    """Two classes; the score of class 0 depends only on the mean brightness inside REGION."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(8.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        brightness = x[:, :, REGION[0], REGION[1]].mean(dim=(1, 2, 3))
        return torch.stack([self.scale * (brightness - 0.5), torch.zeros_like(brightness)], dim=1)


def _synthetic_images(count: int = 6) -> torch.Tensor:
    images = torch.rand(count, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.4
    images[:, :, REGION[0], REGION[1]] = 1.0
    return images


def test_the_true_region_beats_a_random_attribution_on_deletion_and_insertion():
    model, images = RegionClassifier(), _synthetic_images()
    target = torch.zeros(len(images), dtype=torch.long)
    perfect = torch.zeros(len(images), 16, 16)
    perfect[:, REGION[0], REGION[1]] = 1.0
    random = torch.rand(len(images), 16, 16, generator=torch.Generator().manual_seed(1))
    good = evaluation.deletion_insertion(model, images, perfect, target, steps=8, reference="mean")
    bad = evaluation.deletion_insertion(model, images, random, target, steps=8, reference="mean")
    assert good.deletion.shape == (6, 9) and good.fractions[0] == 0 and good.fractions[-1] == 1
    assert torch.all(good.deletion_auc < bad.deletion_auc - 0.1)
    assert torch.all(good.insertion_auc > bad.insertion_auc + 0.1)
    # Both curves start and end at the image's and the reference's probabilities.
    assert torch.allclose(good.deletion[:, 0], bad.deletion[:, 0])
    assert torch.allclose(good.deletion[:, -1], good.insertion[:, 0])


def test_the_shared_ends_give_the_curves_every_picture_would_give_on_its_own(tiny_cnn):
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    maps, target = torch.rand(5, 16, 16, generator=torch.Generator().manual_seed(3)), torch.tensor([0, 1, 2, 0, 1])
    curve = evaluation.deletion_insertion(tiny_cnn, images, maps, target, steps=4, reference="mean")
    # Every picture of both curves built and classified on its own, the most important pixels first.
    order = maps.flatten(1).argsort(dim=1, descending=True, stable=True)
    fill = images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    with torch.no_grad():
        for step, count in enumerate([0, 64, 128, 192, 256]):
            chosen = torch.zeros(5, 256, dtype=torch.bool)
            chosen.scatter_(1, order[:, :count], True)
            chosen = chosen.view(5, 1, 16, 16)
            for curve_values, picture in ((curve.deletion, torch.where(chosen, fill, images)),
                                          (curve.insertion, torch.where(chosen, images, fill))):
                expected = tiny_cnn(picture).softmax(dim=1).gather(1, target[:, None])[:, 0]
                assert torch.allclose(curve_values[:, step], expected, atol=1e-6)


def test_shared_answers_pass_the_ends_once_for_many_maps_and_change_no_curve(tiny_cnn):
    images = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 1, 2, 0, 1])
    maps = [torch.rand(5, 16, 16, generator=torch.Generator().manual_seed(seed)) for seed in (3, 4)]
    alone = [evaluation.deletion_insertion(tiny_cnn, images, m, target, steps=4) for m in maps]
    answers = {}
    with evaluation.PassCounter(tiny_cnn) as counter:
        shared = [evaluation.deletion_insertion(tiny_cnn, images, m, target, steps=4, answers=answers) for m in maps]
    for a, b in zip(alone, shared):
        assert torch.equal(a.deletion, b.deletion) and torch.equal(a.insertion, b.insertion)
    # The first map's curves pass 2 x 4 pictures per image, the second's 2 x 4 - 2 (the ends are known).
    assert counter.per_image(5) == (8.0 + 6.0, 0.0)
    # Another reference has other ends: they are passed, not taken from the blurred ones.
    mean = evaluation.deletion_insertion(tiny_cnn, images, maps[0], target, steps=4, reference="mean", answers=answers)
    assert torch.equal(mean.deletion, evaluation.deletion_insertion(tiny_cnn, images, maps[0], target, steps=4,
                                                                    reference="mean").deletion)


def test_pixel_ranks_known_answer_and_ties_by_position():
    maps = torch.tensor([[[0.1, 0.9], [0.5, 0.9]]])
    assert evaluation.pixel_ranks(maps).tolist() == [[3, 0, 2, 1]]


def test_reference_images():
    images = torch.rand(2, 3, 8, 8)
    mean = evaluation.reference_image(images, "mean")
    assert torch.allclose(mean[:, :, 0, 0], images.mean(dim=(2, 3)))
    assert evaluation.reference_image(images, "blur").shape == images.shape
    with pytest.raises(ValueError, match="reference kind"):
        evaluation.reference_image(images, "black")


def _saliency(model, images, target):
    return Saliency(model).attribute(images.clone().requires_grad_(), target=target).amax(dim=1)


def _edges(model, images, target):
    return features.edge_magnitude(images)


def test_randomising_the_model_changes_the_gradient_but_not_an_edge_detector(tiny_cnn):
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    target = tiny_cnn(images).argmax(dim=1)
    before = [p.clone() for p in tiny_cnn.parameters()]
    layers = ["fc", "conv2", "conv1"]
    gradient = evaluation.cascading_randomization(tiny_cnn, _saliency, images, target, layers)
    edges = evaluation.cascading_randomization(tiny_cnn, _edges, images, target, layers)
    assert gradient.spearman.shape == (3, 4) and gradient.ssim.shape == (3, 4)
    assert gradient.spearman[-1].median() < 0.5
    assert torch.allclose(edges.spearman, torch.ones(3, 4))
    assert torch.allclose(edges.ssim, torch.ones(3, 4).double())
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_cnn.parameters()))  # the original is untouched


def test_randomize_is_reproducible():
    first, second = nn.Linear(4, 3), nn.Linear(4, 3)
    evaluation.randomize(first, seed=7)
    evaluation.randomize(second, seed=7)
    assert torch.equal(first.weight, second.weight)


def test_spearman_of_identical_and_reversed_maps():
    maps = torch.arange(16.0).view(1, 4, 4) + 1
    assert evaluation.spearman_per_image(maps, maps).item() == pytest.approx(1.0)
    assert evaluation.spearman_per_image(maps, 1 / maps).item() == pytest.approx(-1.0)
    assert torch.isnan(evaluation.spearman_per_image(maps, torch.ones(1, 4, 4))).all()


def test_pass_counts_match_the_theory(tiny_cnn):
    images = torch.rand(5, 3, 16, 16)
    target = torch.zeros(5, dtype=torch.long)
    with evaluation.PassCounter(tiny_cnn) as counter:
        grad_cam(tiny_cnn, "conv2", images, target)
    assert counter.per_image(5) == (1.0, 1.0)
    assert (counter.forward_calls, counter.backward_calls) == (1, 1)
    for chunk in (5, 5 * 8):
        with evaluation.PassCounter(tiny_cnn) as counter:
            IntegratedGradients(tiny_cnn).attribute(images, target=target, n_steps=8, internal_batch_size=chunk)
        assert counter.per_image(5) == (8.0, 8.0)
    with evaluation.PassCounter(tiny_cnn) as counter:
        evaluation.deletion_insertion(tiny_cnn, images, torch.rand(5, 16, 16), target, steps=4)
    # 5 points per curve, 2 curves; the untouched image and the full reference are shared ends.
    assert counter.per_image(5) == (8.0, 0.0)


def test_pass_counter_removes_its_hook_also_after_an_exception(tiny_cnn):
    with pytest.raises(RuntimeError, match="boom"):
        with evaluation.PassCounter(tiny_cnn):
            assert count_hooks(tiny_cnn) == 1
            raise RuntimeError("boom")
    assert count_hooks(tiny_cnn) == 0


def test_measure_cost_returns_the_result_and_the_passes(tiny_cnn):
    images = torch.rand(4, 3, 16, 16)
    maps, cost = evaluation.measure_cost(tiny_cnn, lambda: _saliency(tiny_cnn, images, torch.zeros(4, dtype=torch.long)), 4)
    assert maps.shape == (4, 16, 16)
    assert (cost.forward, cost.backward) == (1.0, 1.0) and cost.seconds > 0


def test_in_passes_gives_each_image_the_same_map(tiny_cnn):
    images = torch.rand(5, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 0, 1])
    sizes = []

    def explain(model, x, t):
        sizes.append(len(x))
        return grad_cam(model, "conv2", x, t)

    whole = explain(tiny_cnn, images, target)
    sizes.clear()
    chunked = evaluation.in_passes(explain, pixels_per_pass=2 * 12 * 12)(tiny_cnn, images, target)
    assert sizes == [2, 2, 1]
    assert torch.allclose(chunked, whole, atol=1e-6)
    one_class = evaluation.in_passes(explain, pixels_per_pass=2 * 12 * 12 + 5)(tiny_cnn, images, 1)
    assert torch.allclose(one_class, explain(tiny_cnn, images, 1), atol=1e-6)


def test_in_passes_takes_one_class_as_a_0d_tensor(tiny_cnn):
    images = torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(2))

    def explain(model, x, t):
        return grad_cam(model, "conv2", x, t)

    chunked = evaluation.in_passes(explain, pixels_per_pass=2 * 12 * 12)(tiny_cnn, images, torch.tensor(1))
    assert torch.allclose(chunked, grad_cam(tiny_cnn, "conv2", images, 1), atol=1e-6)


def test_measure_cost_counts_the_passes_through_the_counted_module(tiny_cnn):
    # The run calls only the head, 2 batches of 3: counted on the head, 2 passes per image; the
    # model as a whole sees none.
    features = torch.rand(3, 6)

    def run():
        return [tiny_cnn.fc(features) for _ in range(2)]

    _, on_head = evaluation.measure_cost(tiny_cnn, run, 3, counted=tiny_cnn.fc)
    _, on_model = evaluation.measure_cost(tiny_cnn, run, 3)
    assert (on_head.forward, on_head.backward) == (2.0, 0.0) and on_model.forward == 0.0


def test_measure_cost_gives_seconds_per_image():
    import time

    start = time.perf_counter()
    _, cost = evaluation.measure_cost(nn.Identity(), lambda: time.sleep(0.05), 4)
    elapsed = time.perf_counter() - start
    # The run slept 0.05 s, and took no longer than the whole call: per image, a quarter of each.
    assert 0.05 / 4 <= cost.seconds <= elapsed / 4


def test_equal_attributions_are_ranked_in_reading_order():
    # A constant map is all ties: the order is the pixels' row-major position, whatever the size.
    assert evaluation.pixel_ranks(torch.zeros(2, 10, 10)).tolist() == [list(range(100))] * 2


def test_the_default_reference_is_a_blur_of_sigma_5_capped_to_fit_small_images():
    from torchvision.transforms.functional import gaussian_blur

    large = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    # 6 sigma + 1 = 31 pixels fit in 40; a 16-pixel image caps sigma at (16 - 1) / 6 = 2.5.
    assert torch.allclose(evaluation.reference_image(large), gaussian_blur(large, [31, 31], [5.0, 5.0]))
    small = large[:, :, :16, :16]
    assert torch.allclose(evaluation.reference_image(small), gaussian_blur(small, [17, 17], [2.5, 2.5]))


def test_spearman_of_maps_whose_values_span_exactly_one():
    ramp = (torch.arange(16.0) / 15).view(1, 4, 4)  # from 0 to 1: a range of exactly 1, not a constant
    assert evaluation.spearman_per_image(ramp, ramp).item() == pytest.approx(1.0)
    assert evaluation.spearman_per_image(ramp, 1 - ramp).item() == pytest.approx(-1.0)


def _ssim_by_the_formula(a, b):
    """Wang et al. (2004) SSIM, mean over every 7x7 window inside the image (uniform weights, sample
    covariances, K1 = 0.01, K2 = 0.03, data range 1): what skimage computes with its defaults."""
    from numpy.lib.stride_tricks import sliding_window_view

    windows_a, windows_b = sliding_window_view(a, (7, 7)), sliding_window_view(b, (7, 7))
    mean_a, mean_b = windows_a.mean(axis=(-2, -1)), windows_b.mean(axis=(-2, -1))
    unbiased = 49 / 48
    var_a, var_b = windows_a.var(axis=(-2, -1)) * unbiased, windows_b.var(axis=(-2, -1)) * unbiased
    cov = ((windows_a - mean_a[..., None, None]) * (windows_b - mean_b[..., None, None])).mean(axis=(-2, -1)) * unbiased
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mean_a * mean_b + c1) * (2 * cov + c2))
            / ((mean_a ** 2 + mean_b ** 2 + c1) * (var_a + var_b + c2))).mean()


def test_ssim_per_image_is_the_ssim_of_the_maps_scaled_by_their_maxima():
    generator = torch.Generator().manual_seed(5)
    a, b = torch.rand(2, 12, 12, generator=generator, dtype=torch.float64) * 0.1
    got = evaluation.ssim_per_image(torch.stack([a, a]), torch.stack([-b, 5 * a]))
    assert got[0].item() == pytest.approx(_ssim_by_the_formula((a / a.max()).numpy(), (b / b.max()).numpy()), rel=1e-9)
    assert got[1].item() == pytest.approx(1.0)  # a map and a multiple of it: the same after scaling


def test_pass_counter_counts_every_call():
    model = nn.Linear(4, 2)
    with evaluation.PassCounter(model) as counter:
        for batch in (3, 5):
            model(torch.rand(batch, 4, requires_grad=True)).sum().backward()
    assert (counter.forward_calls, counter.backward_calls) == (2, 2)
    assert (counter.forward_images, counter.backward_images) == (8, 8)


def test_cascading_randomization_explains_the_layers_reset_with_seed_plus_step(tiny_cnn):
    import copy

    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    target = torch.tensor([0, 1, 2])
    layers = ["fc", "conv2"]
    calls = []

    def explain(model, x, t):
        calls.append(model)
        return _saliency(model, x, t)

    original = _saliency(tiny_cnn, images, target)
    result = evaluation.cascading_randomization(tiny_cnn, explain, images, target, layers, original=original)
    assert len(calls) == len(layers) and result.layers == layers  # the given original is not recomputed
    # By hand: the layers reset in turn with seeds 0 and 1 (the default seed 0, plus the step).
    by_hand = copy.deepcopy(tiny_cnn)
    for step, layer in enumerate(layers):
        evaluation.randomize(by_hand.get_submodule(layer), step)
        maps = _saliency(by_hand, images, target)
        assert torch.allclose(result.spearman[step], evaluation.spearman_per_image(original, maps))
    with pytest.raises(ValueError, match=r"original must be \(N, H, W\) = \(3, 16, 16\)"):
        evaluation.cascading_randomization(tiny_cnn, explain, images, target, layers, original=original[:, :8])


def test_cascading_randomization_explains_only_the_steps_asked_for_with_the_same_weights(tiny_cnn):
    import copy

    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    target = torch.tensor([0, 1, 2])
    layers = ["fc", "conv2", "conv1"]
    calls = []

    def explain(model, x, t):
        calls.append(model)
        return _saliency(model, x, t)

    original = _saliency(tiny_cnn, images, target)
    result = evaluation.cascading_randomization(tiny_cnn, explain, images, target, layers, original=original,
                                                explained=(0, -1))
    assert len(calls) == 2 and result.layers == ["fc", "conv1"] and result.spearman.shape == (2, 3)
    # By hand: all three layers reset in turn (seeds 0, 1, 2); the maps compared after the first and the last.
    by_hand = copy.deepcopy(tiny_cnn)
    expected = []
    for step, layer in enumerate(layers):
        evaluation.randomize(by_hand.get_submodule(layer), step)
        if step in (0, 2):
            expected.append(evaluation.spearman_per_image(original, _saliency(by_hand, images, target)))
    assert torch.allclose(result.spearman, torch.stack(expected))
    for wrong in ((3,), (), ("fc",), (True,)):
        with pytest.raises(ValueError, match="explained"):
            evaluation.cascading_randomization(tiny_cnn, explain, images, target, layers, original=original,
                                               explained=wrong)


def test_randomized_copy_resets_the_layers_in_turn_and_leaves_the_model(tiny_cnn):
    import copy

    before = {name: p.clone() for name, p in tiny_cnn.named_parameters()}
    changed = evaluation.randomized_copy(tiny_cnn, ["fc", "conv2"], seed=3)
    by_hand = copy.deepcopy(tiny_cnn)
    evaluation.randomize(by_hand.fc, 3)
    evaluation.randomize(by_hand.conv2, 4)
    assert all(torch.equal(p, dict(by_hand.named_parameters())[name]) for name, p in changed.named_parameters())
    assert all(torch.equal(p, before[name]) for name, p in tiny_cnn.named_parameters())
    assert not torch.equal(changed.fc.weight, tiny_cnn.fc.weight)
    assert torch.equal(changed.conv1.weight, tiny_cnn.conv1.weight)  # a layer not named is kept
    default = evaluation.randomized_copy(tiny_cnn, ["fc"])
    evaluation.randomize(by_hand.fc, 0)
    assert torch.equal(default.fc.weight, by_hand.fc.weight)  # the default seed is 0
    with pytest.raises(KeyError, match="fc9"):
        evaluation.randomized_copy(tiny_cnn, ["fc9"])
