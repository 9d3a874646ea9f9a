"""The closing chapter's table: every method measured on the same images, by the helpers."""

from __future__ import annotations

import pytest
import torch

from xaihelpers import methods, scorecard


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
        assert card.maps[name].shape == (3, 16, 16)
        row = table.loc[name]
        assert 0 <= row["deletion AUC"] <= 1 and 0 <= row["insertion AUC"] <= 1
        assert row["insertion - deletion"] == pytest.approx(row["insertion AUC"] - row["deletion AUC"])
        assert 0 <= row["share on object"] <= 1
    # The random map ignores the model: randomising every layer leaves it exactly as it was.
    assert table.loc["random", "rank corr. (all random)"] == pytest.approx(1.0)
    assert table.loc["random", "rank corr. (top layer random)"] == pytest.approx(1.0)
    assert table.loc["saliency", "rank corr. (all random)"] < 0.9


def test_the_scorecard_refuses_masks_of_another_shape(tiny_cnn):
    with pytest.raises(ValueError, match="masks must be"):
        scorecard.score_methods(tiny_cnn, torch.rand(2, 3, 8, 8), torch.tensor([0, 1]),
                                {"random": methods.bind("random")}, ["fc"], masks=torch.ones(2, 4, 4, dtype=torch.bool))
