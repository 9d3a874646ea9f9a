"""LIME and SHAP wrappers: input formats, probabilities, shapes, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaihelpers import explainers, repro


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_lime_prediction_function_accepts_lime_input_and_returns_probabilities(tiny_cnn, dtype):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 16, 16, 3)).astype(dtype)
    if dtype != np.uint8:
        images = images / 255
    probabilities = explainers.lime_predict_fn(tiny_cnn, batch_size=3)(images)
    assert probabilities.shape == (7, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    pixels = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    uint8 = explainers.lime_predict_fn(tiny_cnn)(pixels)
    with torch.no_grad():  # LIME's 0-255 pixels are the model's [0, 1] input, channels first
        expected = tiny_cnn(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255).softmax(dim=1).numpy()
    assert np.allclose(uint8, expected, atol=1e-6)


def test_lime_prediction_function_refuses_channels_first(tiny_cnn):
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        explainers.lime_predict_fn(tiny_cnn)(np.zeros((2, 3, 16, 16), dtype=np.float32))


def test_lime_maps_are_per_superpixel_reproducible_and_silent(tiny_cnn, capfd):
    images = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 0.1
    images[:, 0, :12] += 0.8  # coloured blocks, so that SLIC finds several superpixels
    images[:, 1, :, :12] += 0.8
    target = torch.tensor([0, 2])
    first = explainers.lime_maps(tiny_cnn, images, target, num_samples=40, segmentation=explainers.slic_segmentation(8))
    second = explainers.lime_maps(tiny_cnn, images, target, num_samples=40, segmentation=explainers.slic_segmentation(8))
    assert first.shape == (2, 24, 24)
    assert torch.equal(first, second)
    assert 1 < len(torch.unique(first[0])) <= 8 + 1  # one value per superpixel
    assert capfd.readouterr().err == ""  # no progress bar


def test_shared_answers_change_no_map_and_spare_the_passes_of_repeated_batches(tiny_cnn):
    from xaihelpers.evaluation import PassCounter

    images = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 0.1
    images[:, 0, :12] += 0.8
    images[:, 1, :, :12] += 0.8
    target = torch.tensor([0, 2])
    segment = explainers.slic_segmentation(8)
    alone = {count: explainers.lime_maps(tiny_cnn, images, target, num_samples=count, segmentation=segment,
                                         batch_size=10) for count in (20, 40)}
    answers = {}
    with PassCounter(tiny_cnn) as counter:
        shared = {count: explainers.lime_maps(tiny_cnn, images, target, num_samples=count, segmentation=segment,
                                              batch_size=10, answers=answers) for count in (20, 40)}
    assert all(torch.equal(shared[count], alone[count]) for count in (20, 40))
    # With one seed the 40-sample run hands over the 20-sample run's two batches of 10 first.
    assert counter.forward_images == 2 * 40
    # SHAP's Partition explainer walks the same hierarchy whatever its budget: a run with twice the
    # evaluations hands over the smaller run's batches first.
    pictures = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))

    def partition(evals: int, shared: dict | None) -> tuple[torch.Tensor, int]:
        with PassCounter(tiny_cnn) as counter:
            maps = explainers.partition_shap_maps(tiny_cnn, pictures, target, max_evals=evals, batch_size=16,
                                                  answers=shared)
        return maps, counter.forward_images

    alone = {evals: partition(evals, None) for evals in (64, 128)}
    budgets = {}
    shared = {evals: partition(evals, budgets) for evals in (64, 128)}
    assert all(torch.equal(shared[evals][0], alone[evals][0]) for evals in (64, 128))
    assert shared[64][1] == alone[64][1] and shared[128][1] < alone[128][1]


def test_gradient_shap_explains_the_top_class(tiny_cnn):
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    background = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    maps, classes = explainers.gradient_shap_maps(tiny_cnn, images, background, nsamples=8)
    again, _ = explainers.gradient_shap_maps(tiny_cnn, images, background, nsamples=8)
    assert maps.shape == (3, 16, 16)
    assert torch.equal(classes, tiny_cnn(images).argmax(dim=1))
    assert torch.equal(maps, again)


def test_gradient_shap_for_a_chosen_class_matches_the_top_class_route(tiny_cnn):
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    background = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    top = tiny_cnn(images).argmax(dim=1)
    other = (top + 1) % 3
    maps, classes = explainers.gradient_shap_maps(tiny_cnn, images, background, other, nsamples=16)
    assert torch.equal(classes, other) and maps.shape == (3, 16, 16)
    # Expected gradients are nearly complete: each map sums to about the logit gap to the background.
    with torch.no_grad():
        gap = tiny_cnn(images)[torch.arange(3), other] - tiny_cnn(background).mean(dim=0)[other]
    assert torch.allclose(maps.flatten(1).sum(1), gap, atol=0.1 * gap.abs().max().item() + 0.05)


def test_partition_shap_values_add_up_to_the_probability_gap(tiny_cnn):
    images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 2])
    maps = explainers.partition_shap_maps(tiny_cnn, images, target, max_evals=64, masker="blur(4,4)", batch_size=16)
    again = explainers.partition_shap_maps(tiny_cnn, images, target, max_evals=64, masker="blur(4,4)", batch_size=16)
    assert maps.shape == (2, 16, 16) and torch.equal(maps, again)
    # Owen values are exact for their hierarchy: each map sums to f(image) - f(fully masked image).
    import shap

    predict = explainers.lime_predict_fn(tiny_cnn)
    for index, label in enumerate(target.tolist()):
        picture = images[index].permute(1, 2, 0).double().numpy()
        masker = shap.maskers.Image("blur(4,4)", picture.shape)
        masked = masker(np.zeros(picture.size, dtype=bool), picture)[0]
        gap = predict(picture[None])[0, label] - predict(np.asarray(masked).reshape(1, *picture.shape))[0, label]
        assert maps[index].sum().item() == pytest.approx(gap, abs=1e-4)


def test_lime_fills_switched_off_superpixels_with_the_hide_colour(tiny_cnn, monkeypatch):
    images = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 0.1
    images[:, 0, :12] += 0.8
    seen = []
    predict = explainers.lime_predict_fn(tiny_cnn)
    monkeypatch.setattr(explainers, "lime_predict_fn",
                        lambda model, **settings: lambda batch: (seen.append(batch.copy()), predict(batch))[1])
    segmentation = explainers.slic_segmentation(8)
    explainers.lime_maps(tiny_cnn, images, torch.tensor([0]), num_samples=20, segmentation=segmentation, hide_color=0)
    perturbed = np.concatenate(seen)[1:]  # LIME's first sample is the image itself
    assert (perturbed == 0).all(axis=-1).any()  # some superpixels are black in some samples
    seen.clear()
    explainers.lime_maps(tiny_cnn, images, torch.tensor([0]), num_samples=20, segmentation=segmentation)
    assert not (np.concatenate(seen)[1:] == 0).all(axis=-1).any()  # the default fills with the mean colour


@pytest.mark.parametrize("fill", ["hide colour", "mean colours"])
def test_lime_perturbations_are_lime_s_own(fill, monkeypatch):
    """The explainer's data_labels draws the rows and builds the images lime 0.2.0.1's own loop does."""
    lime_image = repro.import_keeping_generators("lime.lime_image")
    monkeypatch.setattr(lime_image, "tqdm", lambda rows: rows)  # lime's bar, out of the test's output
    image = np.random.default_rng(0).random((12, 10, 3))
    # Labels with a gap (no 4) and one beyond the number of superpixels (7): lime never switches
    # off a label that is not a column index.
    segments = np.repeat(np.array([0, 1, 2, 3, 5, 7]), 20).reshape(12, 10)
    # What a switched-off pixel shows: a constant (hide_color), or another value per pixel.
    fudged = np.full_like(image, 0.25) if fill == "hide colour" else image[::-1].copy()
    batches = {"ours": [], "lime": []}

    def recorder(name):
        return lambda batch: (batches[name].append(np.array(batch)), np.asarray(batch).mean(axis=(1, 2)))[1]

    expected = lime_image.LimeImageExplainer(random_state=3).data_labels(
        image, fudged, segments, recorder("lime"), num_samples=23, batch_size=5)
    data, labels = explainers._lime_explainer_class()(random_state=3).data_labels(
        image, fudged, segments, recorder("ours"), num_samples=23, batch_size=5)
    assert np.array_equal(data, expected[0]) and np.array_equal(labels, expected[1])
    assert [len(batch) for batch in batches["ours"]] == [5, 5, 5, 5, 3]
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(batches["ours"], batches["lime"], strict=True))
    assert not np.array_equal(batches["ours"][1][0], image)  # the rows do switch superpixels off


def test_partition_shap_with_an_inpainting_masker_sees_the_image(tiny_cnn):
    """shap's inpainting maskers need 0..255 pixels; on [0, 1] pixels every map came out constant."""
    images = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    images[:, :, :8] *= 0.2  # a dark half, so that masking one half changes the prediction
    maps = explainers.partition_shap_maps(tiny_cnn, images, torch.tensor([1]), max_evals=64, masker="inpaint_telea",
                                          batch_size=16)
    assert len(torch.unique(maps[0])) > 4
    predict = explainers.lime_predict_fn(tiny_cnn)
    picture = images[0].permute(1, 2, 0).double().numpy()
    # Fully masked, shap's inpainting masker fills the image with its mean colour.
    gap = predict(picture[None])[0, 1] - predict(np.broadcast_to(picture.mean((0, 1)), picture.shape)[None].copy())[0, 1]
    assert maps[0].sum().item() == pytest.approx(gap, abs=1e-4)
    with pytest.raises(ValueError, match="masker"):
        explainers.partition_shap_maps(tiny_cnn, images, torch.tensor([1]), masker="zeros")
