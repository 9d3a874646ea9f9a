"""Monte-Carlo dropout: determinism, the no-dropout control, restored modes, known summaries."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from xaihelpers import uncertainty


def _dropout_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(0.5), nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).eval()


def test_mc_predict_is_deterministic_under_the_seed_and_leaves_the_global_rng_alone():
    model, images = _dropout_net(), torch.rand(6, 3, 8, 8)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = uncertainty.mc_predict(model, images, passes=5, seed=1)
    assert torch.equal(torch.rand(1), before)
    second = uncertainty.mc_predict(model, images, passes=5, seed=1)
    other = uncertainty.mc_predict(model, images, passes=5, seed=2)
    assert first.shape == (5, 6, 3)
    assert torch.allclose(first.sum(dim=2), torch.ones(5, 6))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)
    assert uncertainty.summarize(first).variance.max() > 0


def test_without_dropout_the_variance_and_mutual_information_are_zero():
    model, images = _dropout_net(), torch.rand(6, 3, 8, 8)
    summary = uncertainty.summarize(uncertainty.mc_predict(model, images, passes=4, enabled=False))
    assert torch.all(summary.variance == 0)
    assert torch.allclose(summary.mutual_information, torch.zeros(6), atol=1e-6)
    with torch.no_grad():
        plain = model(images).softmax(dim=1)
    assert torch.allclose(summary.mean, plain, atol=1e-6)


def test_dropout_layers_are_restored_to_eval_mode_also_after_an_exception():
    model = _dropout_net()
    uncertainty.mc_predict(model, torch.rand(2, 3, 8, 8), passes=2)
    assert not any(module.training for module in model.modules())
    with pytest.raises(RuntimeError, match="boom"):
        with uncertainty.MCDropout(model):
            assert model[5].training and model[8].training
            assert not model[1].training  # batch norm keeps its running statistics
            raise RuntimeError("boom")
    assert not any(module.training for module in model.modules())
    model.train()
    uncertainty.mc_predict(model, torch.rand(2, 3, 8, 8), passes=2)
    assert all(module.training for module in model.modules())


def test_a_model_without_dropout_is_refused_with_a_reason():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    assert uncertainty.dropout_layers(model) == []
    with pytest.raises(ValueError, match="no dropout layer"):
        uncertainty.mc_predict(model, torch.rand(1, 3, 2, 2), passes=2)


def test_summaries_have_known_answers():
    uniform = torch.full((3, 2, 4), 0.25)
    summary = uncertainty.summarize(uniform)
    assert torch.allclose(summary.entropy, torch.full((2,), math.log(4)))
    assert torch.allclose(summary.mutual_information, torch.zeros(2), atol=1e-6)
    # Two confident passes that disagree: total entropy log 2, all of it from disagreement.
    disagree = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    summary = uncertainty.summarize(disagree)
    assert summary.entropy.item() == pytest.approx(math.log(2))
    assert summary.mutual_information.item() == pytest.approx(math.log(2))
    assert summary.variance.item() == pytest.approx(0.25)


def test_accuracy_when_rejecting_the_most_uncertain():
    scores = torch.tensor([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 1.0])
    correct = scores < 0.55
    assert uncertainty.accuracy_when_rejecting(scores, correct, [1.0, 0.5, 0.3]) == [0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="retained fractions"):
        uncertainty.accuracy_when_rejecting(scores, correct, [0.0])


def test_the_head_only_shortcut_draws_the_same_masks_as_full_passes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Dropout(0.5), nn.Linear(4, 3)).eval()
    images = torch.rand(10, 3, 8, 8)
    full = uncertainty.mc_predict(model, images, passes=6, batch_size=4, seed=5)
    fast = uncertainty.mc_predict(model, images, passes=6, batch_size=4, seed=5, head="5")
    assert torch.allclose(full, fast, atol=1e-6)
    assert not any(module.training for module in model.modules())


def test_the_head_only_shortcut_is_refused_where_it_would_be_wrong():
    with pytest.raises(ValueError, match="exactly one dropout layer"):
        uncertainty.mc_predict(_dropout_net(), torch.rand(2, 3, 8, 8), passes=2, head="9")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3)).eval()
    with pytest.raises(ValueError, match="does not directly follow"):
        uncertainty.mc_predict(model, torch.rand(2, 3, 2, 2), passes=2, head="4")
