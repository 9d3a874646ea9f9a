"""The registry of attribution methods: one calling convention, the book's settings, known costs."""

from __future__ import annotations

import pytest
import torch
from captum.attr import IntegratedGradients, Saliency

from xaihelpers import attribution, cifar, evaluation, methods, repro

# Four flat quadrants with a little noise: structure for LIME's superpixels, texture for gradients.
_QUADRANTS = torch.rand(2, 3, 2, 2, generator=torch.Generator().manual_seed(0)).repeat_interleave(8, 2).repeat_interleave(8, 3)
IMAGES = (_QUADRANTS + 0.05 * torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
TARGET = torch.tensor([0, 2])
NEEDS = {"Grad-CAM": {"layer": "conv2"}, "SHAP (gradient)": {"background": IMAGES.flip(0), "nsamples": 4},
         "LIME": {"num_samples": 20, "superpixels": 4}, "SHAP (partition)": {"max_evals": 64, "masker": "blur(4,4)"}}
#: The registered methods that run on the tiny CNN: all but CAM, which needs a CAM-ready network.
ON_ANY_MODEL = [name for name in methods.METHODS if name != "CAM"]


@pytest.mark.parametrize("name", ON_ANY_MODEL)
def test_every_method_returns_one_map_per_image_at_the_input_size(name, tiny_cnn):
    maps = methods.get(name)(tiny_cnn, IMAGES, TARGET, **NEEDS.get(name, {}))
    assert maps.shape == (2, 16, 16) and torch.isfinite(maps).all()
    assert maps.flatten(1).std(dim=1).gt(0).all(), f"{name} gave a constant map"


def test_the_registry_computes_what_the_libraries_compute(tiny_cnn):
    saliency = Saliency(tiny_cnn).attribute(IMAGES.clone().requires_grad_(), target=TARGET)
    assert torch.equal(methods.get("saliency")(tiny_cnn, IMAGES, TARGET), saliency.abs().amax(dim=1))
    ig = IntegratedGradients(tiny_cnn).attribute(IMAGES, target=TARGET, n_steps=32, internal_batch_size=2)
    assert torch.allclose(methods.get("Integrated Gradients")(tiny_cnn, IMAGES, TARGET), ig.sum(dim=1))
    smooth = methods.get("SmoothGrad")(tiny_cnn, IMAGES, TARGET)
    reference = _signed_smoothgrad(tiny_cnn, IMAGES, TARGET, sigma=0.05, samples=50, seed=0)
    assert torch.allclose(smooth, reference, rtol=1e-5, atol=1e-10)
    assert not torch.allclose(smooth, Saliency(tiny_cnn).attribute(IMAGES.clone().requires_grad_(), target=TARGET)
                              .abs().amax(dim=1), rtol=1e-2)  # the noise matters at sigma 0.05


def _signed_smoothgrad(model, images, target, *, sigma, samples, seed):
    """SmoothGrad as Smilkov et al. (2017) define it, written out: the mean over ``samples`` noisy
    copies ``x + eps``, ``eps ~ N(0, sigma^2)``, of the signed gradient of the class score, then the
    largest magnitude over channels, one copy at a time. The noise: copy k of every image is the
    k-th draw of repro.gaussian from a generator seeded with ``seed``."""
    total, generator = torch.zeros_like(images), torch.Generator().manual_seed(seed)
    for _ in range(samples):
        noisy = (images + sigma * repro.gaussian(images.shape, generator)).requires_grad_()
        score = model(noisy).gather(1, target[:, None]).sum()
        (gradient,) = torch.autograd.grad(score, noisy)
        total += gradient
    return (total / samples).abs().amax(dim=1)


def test_settings_are_checked_when_bound_and_the_needed_ones_are_named():
    with pytest.raises(TypeError, match="needs \\['layer'\\]"):
        methods.bind("Grad-CAM")
    with pytest.raises(TypeError, match="'reduction', 'return_convergence_delta', 'steps'\\], not \\['samples'\\]"):
        methods.bind("Integrated Gradients", samples=3)
    with pytest.raises(KeyError, match="the book's methods are: random, edge detector"):
        methods.get("occlusion")  # hooks.occlusion_by_position zeroes a hidden layer: not registered
    explain = methods.bind("SmoothGrad", samples=2)
    assert explain.__name__ == "SmoothGrad"


def test_bound_methods_plug_into_the_evaluation(tiny_cnn):
    explain = evaluation.in_passes(methods.bind("saliency"), pixels_per_pass=16 * 16)
    maps, cost = evaluation.measure_cost(tiny_cnn, lambda: explain(tiny_cnn, IMAGES, TARGET), len(IMAGES))
    assert maps.shape == (2, 16, 16) and (cost.forward, cost.backward) == (1.0, 1.0)
    assert (cost.forward, cost.backward) == methods.get("saliency").cost()


FEWER_PASSES = {"SmoothGrad": {"samples": 3}, "Integrated Gradients": {"steps": 5}}
COUNTED = {"random": (0, 0), "edge detector": (0, 0), "saliency": (1, 1), "guided backprop": (1, 1),
           "SmoothGrad": (3, 3), "Integrated Gradients": (5, 5), "Grad-CAM": (1, 1), "LIME": (20, 0),
           # shap runs the model once on the background (2 images) for every image it explains.
           "SHAP (gradient)": (4 + 2, 4), "SHAP (partition)": (64, 0)}


@pytest.mark.parametrize("name", ON_ANY_MODEL)
def test_the_registered_cost_is_the_counted_one(name, tiny_cnn):
    settings = {**NEEDS.get(name, {}), **FEWER_PASSES.get(name, {})}
    _, cost = evaluation.measure_cost(tiny_cnn, lambda: methods.get(name)(tiny_cnn, IMAGES, TARGET, **settings), 2)
    assert (cost.forward, cost.backward) == COUNTED[name]
    assert methods.get(name).cost(**settings) == COUNTED[name]


BOOK_COMPARISON = ["random", "edge detector", "saliency", "guided backprop", "SmoothGrad", "Integrated Gradients",
                   "Grad-CAM", "LIME", "SHAP (gradient)"]


def test_the_cost_table_lists_the_compared_methods_with_their_papers():
    # The nine methods chapters 10 and 15 compare, as their stored tables print them; the methods
    # registered for one chapter's own models are listed only when asked for.
    assert methods.COMPARED == tuple(BOOK_COMPARISON)
    table = methods.cost_table(SmoothGrad={"samples": 50})
    assert list(table.index) == BOOK_COMPARISON
    assert table.loc["SmoothGrad", "backward passes"] == 50
    assert table.loc["LIME", "backward passes"] == 0 and table.loc["LIME", "forward passes"] == 300
    assert table["defined by"].str.len().gt(0).all()
    everything = methods.cost_table(list(methods.METHODS), CAM={})
    assert list(everything.index) == [*BOOK_COMPARISON, "SHAP (partition)", "CAM"]
    assert tuple(everything.loc["SHAP (partition)", ["forward passes", "backward passes"]]) == (500, 0)
    assert tuple(everything.loc["CAM", ["forward passes", "backward passes"]]) == (1, 0)
    with pytest.raises(KeyError, match=r"Settings for \['CAM'\], which the table does not list"):
        methods.cost_table(CAM={})


def test_integrated_gradients_gives_captums_convergence_delta(tiny_cnn):
    maps, delta = methods.get("Integrated Gradients")(tiny_cnn, IMAGES, TARGET, steps=8, return_convergence_delta=True)
    ig, captum_delta = IntegratedGradients(tiny_cnn).attribute(IMAGES, target=TARGET, n_steps=8,
                                                               internal_batch_size=2, return_convergence_delta=True)
    assert torch.allclose(maps, ig.sum(dim=1)) and torch.allclose(delta, captum_delta)
    # The delta is what completeness leaves over: the attributions' sum minus the score's change.
    with torch.no_grad():
        change = (tiny_cnn(IMAGES) - tiny_cnn(torch.zeros_like(IMAGES))).gather(1, TARGET[:, None])[:, 0]
    assert torch.allclose(delta, maps.sum(dim=(1, 2)) - change, atol=1e-5)
    settings = {"steps": 8, "return_convergence_delta": True}
    _, cost = evaluation.measure_cost(tiny_cnn, lambda: methods.get("Integrated Gradients")(tiny_cnn, IMAGES, TARGET,
                                                                                         **settings), 2)
    assert (cost.forward, cost.backward) == methods.get("Integrated Gradients").cost(**settings) == (10, 8)


def test_batching_is_one_pixel_budget_and_does_not_change_the_maps(tiny_cnn):
    from xaihelpers import inference

    for name in ("SmoothGrad", "Integrated Gradients", "Grad-CAM", "LIME", "SHAP (partition)", "CAM"):
        assert methods.get(name).defaults["pixels_per_pass"] == inference.PIXELS_PER_PASS, name
    settings = {"SmoothGrad": {"samples": 4}, "Integrated Gradients": {"steps": 4}}
    for name in ("SmoothGrad", "Integrated Gradients", "Grad-CAM", "LIME"):
        chosen = {**NEEDS.get(name, {}), **settings.get(name, {})}
        # SmoothGrad on one image: captum draws a chunk's noise image by image, so with several
        # images the chunk decides which draws each image gets (the same noise, shared otherwise).
        images, target = (IMAGES[:1], TARGET[:1]) if name == "SmoothGrad" else (IMAGES, TARGET)
        whole = methods.get(name)(tiny_cnn, images, target, **chosen)
        with evaluation.PassCounter(tiny_cnn) as counter:
            one_by_one = methods.get(name)(tiny_cnn, images, target, pixels_per_pass=16 * 16, **chosen)
        # captum splits Integrated Gradients by steps only: a pass holds one step of every image.
        per_pass = len(images) if name == "Integrated Gradients" else 1
        assert counter.forward_images == per_pass * counter.forward_calls, f"{name}: more images in a pass"
        assert torch.allclose(whole, one_by_one, rtol=1e-4, atol=1e-7), name


def test_cam_is_zhou_et_als_class_activation_map_upsampled():
    torch.manual_seed(0)
    model = cifar.build("gap").eval()
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([4, 0, 9])
    maps = methods.get("CAM")(model, images, target, pixels_per_pass=2 * 32 * 32)
    # By hand (Zhou et al. 2016, Eq. 2): M_c(x, y) = sum_k w_ck f_k(x, y), the last block's output f
    # weighted by the linear head's weights of class c; over the 4 x 4 positions (the pooling's mean).
    with torch.no_grad():
        block = model.features(model.normalize(images))
        by_hand = torch.einsum("nk,nkhw->nhw", model.classifier[-1].weight[target], block) / 16
        logits = model(images)
    assert torch.allclose(by_hand.sum(dim=(1, 2)) + model.classifier[-1].bias[target],
                          logits.gather(1, target[:, None])[:, 0], atol=1e-5)
    expected = torch.nn.functional.interpolate(by_hand[:, None], size=(32, 32), mode="bilinear",
                                               align_corners=False)[:, 0]
    assert maps.shape == (3, 32, 32) and torch.allclose(maps, expected, atol=1e-6)
    _, cost = evaluation.measure_cost(model, lambda: methods.get("CAM")(model, images, target), 3)
    assert (cost.forward, cost.backward) == methods.get("CAM").cost() == (1, 0)


def test_cam_refuses_networks_without_a_class_activation_map(tiny_cnn):
    with pytest.raises(TypeError, match="CAM needs a network with an exact class activation map.*TinyCNN has none"):
        methods.get("CAM")(tiny_cnn, IMAGES, TARGET)
    with pytest.raises(TypeError, match="dense head that mixes positions"):
        methods.get("CAM")(cifar.build("plain").eval(), torch.rand(1, 3, 32, 32), 0)


def test_integrated_gradients_takes_the_books_baselines_and_reductions(tiny_cnn):
    images = torch.nn.functional.interpolate(IMAGES, size=64)  # the blur baseline's kernel must fit the image
    blur = attribution.baseline(images, "blur")
    ig = IntegratedGradients(tiny_cnn).attribute(images, baselines=blur, target=TARGET, n_steps=8, internal_batch_size=2)
    assert torch.allclose(methods.get("Integrated Gradients")(tiny_cnn, images, TARGET, steps=8, baseline="blur",
                                                             reduction="abs_sum"), ig.abs().sum(dim=1))


def test_the_pollen_chapters_bind_every_method_with_the_last_block_and_a_training_background():
    from xaihelpers import chapter, pollen

    train = pollen.PollenData(torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8),
                              torch.zeros(64, dtype=torch.long), [f"{i}.jpg" for i in range(64)], ["a", "b"])
    explainers = chapter.pollen_explainers(train)
    assert list(explainers) == list(methods.COMPARED)
    assert chapter.POLLEN_RANDOMIZATION_LAYERS == ["classifier", "features.3", "features.2", "features.1", "features.0"]
    torch.manual_seed(0)
    model = pollen.PollenCNN(2, (0.5,) * 3, (0.25,) * 3).eval()
    images, target = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])
    assert torch.equal(explainers["Grad-CAM"](model, images, target),
                       methods.METHODS["Grad-CAM"](model, images, target, layer="features.3"))


def test_shared_maps_are_stored_once_and_read_back_only_for_the_same_method_settings_model_images_and_targets(
        tiny_cnn, tmp_path, monkeypatch):
    from xaihelpers import chapter

    monkeypatch.setenv("XAI_CACHE_DIR", str(tmp_path))
    tiny_cnn.eval()
    smoothgrad = methods.bind("SmoothGrad", samples=2)
    made = chapter.shared_maps(smoothgrad, tiny_cnn, IMAGES, TARGET)
    assert torch.equal(made, methods.get("SmoothGrad")(tiny_cnn, IMAGES, TARGET, samples=2))
    # What a first chapter stores is what a later one reads: a planted value comes back, nothing is run.
    planted = torch.full_like(made, 7.0)
    other_images = IMAGES.flip(-1)
    assert torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, other_images, TARGET, computed=planted), planted)
    assert torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, other_images, TARGET), planted)
    assert torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, IMAGES, TARGET, computed=planted), made)
    # Any other method setting, target, mode or weight is another key: computed anew.
    other_setting = methods.bind("SmoothGrad", samples=3)
    assert torch.equal(chapter.shared_maps(other_setting, tiny_cnn, other_images, TARGET),
                       methods.get("SmoothGrad")(tiny_cnn, other_images, TARGET, samples=3))
    assert not torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, other_images, TARGET.flip(0)), planted)
    tiny_cnn.train()
    assert not torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, other_images, TARGET), planted)
    tiny_cnn.eval()
    with torch.no_grad():
        next(tiny_cnn.parameters()).mul_(2)
    assert torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, IMAGES, TARGET),
                       methods.get("SmoothGrad")(tiny_cnn, IMAGES, TARGET, samples=2))
    assert not torch.equal(chapter.shared_maps(smoothgrad, tiny_cnn, IMAGES, TARGET), made)


def test_shared_maps_want_a_bound_method():
    from xaihelpers import chapter

    with pytest.raises(TypeError, match="methods.bind"):
        chapter.shared_maps(lambda model, images, target: images.mean(1), torch.nn.Identity(), IMAGES, TARGET)
