"""The book's training loop, augmentation and metrics."""

import math

import pytest
import torch

from xaihelpers import inference, training


def test_flips_and_rotations_keep_pixels():
    images = torch.rand(16, 3, 8, 8)
    augmented = training.flips_and_rotations(images, torch.Generator().manual_seed(0))
    assert augmented.shape == images.shape
    # Flips and quarter turns permute pixels: each image keeps its sorted values.
    assert torch.equal(augmented.flatten(1).sort(dim=1).values, images.flatten(1).sort(dim=1).values)
    assert not torch.equal(augmented, images)


def test_one_training_step_lowers_the_loss(tiny_cnn):
    torch.manual_seed(0)
    images = torch.rand(32, 3, 8, 8)
    labels = torch.randint(0, 3, (32,))
    before = torch.nn.functional.cross_entropy(tiny_cnn(images), labels).item()
    training.fit(tiny_cnn, images, labels, epochs=3, batch_size=32, learning_rate=1e-2, progress=False)
    after = torch.nn.functional.cross_entropy(tiny_cnn(images), labels).item()
    assert after < before
    assert not tiny_cnn.training


def test_predictions_and_confusion_matrix(tiny_cnn):
    images = (torch.rand(10, 3, 8, 8) * 255).to(torch.uint8)
    probabilities = inference.predict_proba(tiny_cnn, images, pixels_per_pass=3 * 8 * 8)
    assert probabilities.shape == (10, 3)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(10))
    matrix = inference.confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert matrix.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_images_per_pass_follows_the_pixel_budget():
    assert inference.images_per_pass(torch.zeros(500, 3, 32, 32)) == inference.PIXELS_PER_PASS // 1024
    assert inference.images_per_pass((7, 64, 64, 3)) == inference.PIXELS_PER_PASS // 4096  # channels last
    assert inference.images_per_pass((1, 3, 224, 224)) == 2
    assert inference.images_per_pass((1, 3, 1024, 1024)) == 1  # never zero
    assert inference.images_per_pass((1, 3, 8, 8), pixels=640) == 10


def test_default_batches_give_the_same_probabilities(tiny_cnn):
    images = torch.rand(40, 3, 8, 8)
    torch.testing.assert_close(inference.predict_proba(tiny_cnn, images),
                               inference.predict_proba(tiny_cnn, images, pixels_per_pass=8 * 8))


def test_mean_cross_entropy_known_answers():
    probabilities = torch.tensor([[0.5, 0.5], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 0])
    expected = -(math.log(0.5) + math.log(0.9) + math.log(1e-12)) / 3  # a zero probability is clamped
    assert inference.mean_cross_entropy(probabilities, labels) == pytest.approx(expected)
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    assert inference.mean_cross_entropy(logits.softmax(1), target) == pytest.approx(
        torch.nn.functional.cross_entropy(logits, target).item(), abs=1e-6)
    with pytest.raises(ValueError, match=r"\(N, classes\)"):
        inference.mean_cross_entropy(probabilities[0], labels)
