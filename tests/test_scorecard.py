"""The closing chapter's table: every method measured on the same images, by the helpers."""

from __future__ import annotations

import pytest
import torch

from xaihelpers import evaluation, methods, scorecard


def test_every_registered_method_says_what_it_explains_and_what_it_is_good_for():
    for method in methods.METHODS.values():
        assert method.explains and method.good_for, method.name


def test_the_scorecard_measures_each_method_on_the_same_images(tiny_cnn):
    images = torch.rand(3, 3, 16, 16)
    target = torch.tensor([0, 1, 2])
    masks = torch.zeros(3, 16, 16, dtype=torch.bool)
    masks[:, 4:12, 4:12] = True
    names = ("random", "saliency", "Grad-CAM")
    explainers = {name: methods.bind(name, **({"layer": "conv2"} if name == "Grad-CAM" else {})) for name in names}
    card = scorecard.score_methods(tiny_cnn, images, target, explainers, ["fc", "conv2", "conv1"], masks=masks,
                                   steps=4, sanity_images=2)
    table = card.table
    assert list(table.index) == list(names)
    assert table.loc["random", "forward passes"] == 0 and table.loc["saliency", "backward passes"] == 1
    assert table.loc["saliency", "explains"] == methods.get("saliency").explains
    for name in names:
        maps = card.maps[name]
        assert maps.shape == (3, 16, 16)
        row = table.loc[name]
        # The columns are the measures of these maps on these images and targets, averaged over the images.
        curves = evaluation.deletion_insertion(tiny_cnn, images, maps, target, steps=4)
        assert row["deletion AUC"] == pytest.approx(curves.deletion_auc.mean().item(), abs=1e-6)
        assert row["insertion AUC"] == pytest.approx(curves.insertion_auc.mean().item(), abs=1e-6)
        difference = curves.insertion_auc.mean().item() - curves.deletion_auc.mean().item()
        assert row["insertion - deletion"] == pytest.approx(difference, rel=1e-4) and difference != 0
        inside = (maps.abs() * masks).flatten(1).sum(dim=1) / maps.abs().flatten(1).sum(dim=1)
        assert row["share on object"] == pytest.approx(inside.mean().item(), abs=1e-6)
    assert torch.equal(card.maps["random"], torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0)))
    # The random map ignores the model: randomising every layer leaves it exactly as it was.
    assert table.loc["random", "rank corr. (all random)"] == pytest.approx(1.0)
    assert table.loc["random", "rank corr. (top layer random)"] == pytest.approx(1.0)
    assert table.loc["saliency", "rank corr. (all random)"] < 0.9
    # The two columns are the first and the last step of the full cascade.
    full = evaluation.cascading_randomization(tiny_cnn, explainers["saliency"], images[:2], target[:2],
                                              ["fc", "conv2", "conv1"], original=card.maps["saliency"][:2])
    assert table.loc["saliency", "rank corr. (top layer random)"] == pytest.approx(full.spearman[0].nanmean().item())
    assert table.loc["saliency", "rank corr. (all random)"] == pytest.approx(full.spearman[-1].nanmean().item())


def test_a_model_that_ignores_the_image_scores_its_constant_probability_on_both_curves(tiny_cnn):
    # No weight reaches the logits, only the bias: every image, however many pixels are deleted
    # or inserted, has the probabilities softmax(bias) = (0.5, 0.3, 0.2).
    with torch.no_grad():
        tiny_cnn.fc.weight.zero_()
        tiny_cnn.fc.bias.copy_(torch.tensor([0.5, 0.3, 0.2]).log())
    masks = torch.zeros(3, 16, 16, dtype=torch.bool)
    masks[:, :4] = True  # the top quarter
    card = scorecard.score_methods(tiny_cnn, torch.rand(3, 3, 16, 16), torch.tensor([0, 1, 2]),
                                   {"random": methods.bind("random", seed=5)}, ["fc"], masks=masks, steps=3)
    row = card.table.loc["random"]
    assert row["deletion AUC"] == pytest.approx(1 / 3) and row["insertion AUC"] == pytest.approx(1 / 3)
    assert row["insertion - deletion"] == pytest.approx(0.0, abs=1e-7)
    noise = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(5))
    assert row["share on object"] == pytest.approx((noise[:, :4].sum(dim=(1, 2)) / noise.sum(dim=(1, 2))).mean().item())
    assert row["forward passes"] == 0 and row["backward passes"] == 0


def test_the_scorecard_refuses_masks_of_another_shape(tiny_cnn):
    with pytest.raises(ValueError, match="masks must be"):
        scorecard.score_methods(tiny_cnn, torch.rand(2, 3, 8, 8), torch.tensor([0, 1]),
                                {"random": methods.bind("random")}, ["fc"], masks=torch.ones(2, 4, 4, dtype=torch.bool))
