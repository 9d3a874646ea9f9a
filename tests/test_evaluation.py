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
    assert counter.per_image(5) == (10.0, 0.0)


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


def test_in_chunks_gives_each_image_the_same_map(tiny_cnn):
    images = torch.rand(5, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 0, 1])
    sizes = []

    def explain(model, x, t):
        sizes.append(len(x))
        return grad_cam(model, "conv2", x, t)

    whole = explain(tiny_cnn, images, target)
    sizes.clear()
    chunked = evaluation.in_chunks(explain, 2)(tiny_cnn, images, target)
    assert sizes == [2, 2, 1]
    assert torch.allclose(chunked, whole, atol=1e-6)
    one_class = evaluation.in_chunks(explain, 2)(tiny_cnn, images, 1)
    assert torch.allclose(one_class, explain(tiny_cnn, images, 1), atol=1e-6)
