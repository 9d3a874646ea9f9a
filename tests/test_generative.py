"""Generative replay after BI-R: frozen pretrained layers, a class-conditional feature VAE, replay
with distillation, the pretraining source, the CIFAR-100 split, and the committed runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaihelpers import continual, hooks, strategies, training, zoo
from xaihelpers.feature_vae import FeatureVAE, train_vae

from conftest import _write_image, fake_cifar


def _pretrained_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return continual.MultiHeadCNN(1, 4).hidden_state()


def test_freezing_loads_the_pretrained_layers_and_keeps_them_fixed_and_in_eval_mode():
    state = _pretrained_state(1)
    model = continual.MultiHeadCNN(2, 2)
    model.freeze_hidden(state)
    assert all(torch.equal(model.state_dict()[name], value) for name, value in state.items())
    shared = model.shared_parameters()
    assert shared and all(name.startswith("features.conv5.") for name in shared)
    model.train()
    assert not model.features.conv1[1].training and model.features.conv5[1].training
    tasks = continual.split_tasks(fake_cifar(16), fake_cifar(4, seed=1), 2)
    parameters = list(model.shared_parameters().values()) + list(model.heads[0].parameters())
    training.fit(model, tasks[0].train_images, tasks[0].train_labels, epochs=1, batch_size=8, task=0,
                 head=lambda out, ids: strategies.task_logits(out, ids, 2), parameters=parameters, progress=False)
    after = model.state_dict()
    # Frozen batch norm keeps its running statistics too.
    assert all(torch.equal(after[name], value) for name, value in state.items())
    with pytest.raises(ValueError, match="exactly the layers below"):
        continual.MultiHeadCNN(2, 2).freeze_hidden({k: v for k, v in state.items() if "conv1" not in k})


def test_hidden_then_from_hidden_is_the_forward_pass():
    model = continual.MultiHeadCNN(3, 2).eval()
    images = torch.rand(4, 3, 32, 32)
    hidden = model.hidden(images)
    with hooks.LayerRecorder(model, [continual.REPLAY_LAYER]) as recorder:
        model(images)
    assert hidden.shape == (4, 64, 8, 8) and torch.equal(hidden, recorder.activations[continual.REPLAY_LAYER])
    assert torch.allclose(model.from_hidden(hidden), model(images))


def test_the_feature_vae_learns_class_conditional_features():
    # Two classes of 64x8x8 "feature maps": class c is bright in channels of its half.
    generator = torch.Generator().manual_seed(0)
    classes = torch.arange(2).repeat_interleave(64)
    features = torch.rand(128, 64, 8, 8, generator=generator) * 0.2
    features[classes == 0, :32] += 1.0
    features[classes == 1, 32:] += 1.0
    torch.manual_seed(0)
    vae = FeatureVAE((64, 8, 8), classes=2, hidden=64, latent=8)
    losses = train_vae(vae, features, classes, epochs=100, generator=generator, batch_size=32, learning_rate=3e-3)
    assert losses[-1] < 0.1 * losses[0]
    generated = vae.generate(torch.tensor([0] * 16 + [1] * 16), generator)
    assert generated.shape == (32, 64, 8, 8) and generated.min() >= 0
    first, second = generated[:16].mean(dim=(0, 2, 3)), generated[16:].mean(dim=(0, 2, 3))
    # Each class's generated maps are bright where that class's are, several times the other half.
    assert first[:32].mean() > 3 * first[32:].mean() and second[32:].mean() > 3 * second[:32].mean()


def test_generative_replay_distils_generated_features_of_earlier_classes_only():
    tasks = continual.split_tasks(fake_cifar(16), fake_cifar(4, seed=1), 2)
    replay = strategies.GenerativeReplay(_pretrained_state(), classes=4, classes_per_task=2, vae_epochs=2,
                                         hidden=32, latent=4, replay_batch=8)
    model = continual.MultiHeadCNN(2, 2)
    replay.prepare(model)
    assert replay.extra_loss(model) is None  # nothing learned yet
    global_state = torch.random.get_rng_state()
    replay.after_task(model, tasks[0].train_images, tasks[0].train_labels, 0, torch.Generator())
    assert torch.equal(torch.random.get_rng_state(), global_state)  # the library seeds its own generators
    assert replay.learned == [0, 1] and len(replay.vae_losses) == 1
    # Right after the task the network is its own teacher: the distillation loss is zero (in eval
    # mode; in training mode batch norm would use the generated batch's statistics).
    model.eval()
    assert replay.extra_loss(model).item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        model.heads[0].weight.add_(1.0)  # drift on task 0's head ...
        model.heads[1].weight.add_(5.0)  # ... and on task 1's, which replay must not see
    loss = replay.extra_loss(model)
    assert loss.item() > 0
    loss.backward()
    head1 = model.heads[1].weight.grad
    assert (head1 is None or not head1.any()) and model.features.conv1[0].weight.grad is None
    assert model.heads[0].weight.grad.abs().sum() > 0 and model.features.conv5[0].weight.grad.abs().sum() > 0


def test_generative_replay_refuses_bad_settings():
    with pytest.raises(ValueError, match="pretrained state"):
        strategies.GenerativeReplay({}, classes=4, classes_per_task=2)
    with pytest.raises(ValueError, match="temperature"):
        strategies.GenerativeReplay(_pretrained_state(), classes=4, classes_per_task=2, temperature=0)


def test_rotation_task_labels_every_quarter_turn():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4)
    turned, labels = continual.rotation_task(images)
    assert turned.shape == (8, 3, 4, 4) and labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert torch.equal(turned[2], torch.rot90(images[0], 1, dims=(-2, -1)))


def test_the_cifar10_fallback_pretrains_on_imagenet_samples_not_on_cifar(fake_root):
    source = continual.pretraining_source("cifar10", fake_root)
    assert (source.name, source.objective, source.classes) == ("imagenet_samples", "rotation", 4)
    assert source.images.shape == (12, 3, 32, 32) and source.images.dtype == torch.uint8


def _synthetic_cifar100(root, per_class: int = 2) -> None:
    """A CIFAR-100-shaped folder (100 class folders of 32x32 JPEGs, both splits) and a CIFAR-10 one."""
    for name, classes in (("cifar100", 100), ("cifar10", 10)):
        for split in ("train", "test"):
            for label in range(classes):
                for i in range(per_class):
                    _write_image(root / name / split / f"class{label:03d}" / f"{i:04d}.jpg", seed=label * 7 + i)


def test_with_cifar100_the_study_runs_ten_tasks_of_ten_classes_pretrained_on_cifar10(tmp_path):
    _synthetic_cifar100(tmp_path)
    assert continual.choose_dataset(tmp_path) == ("cifar100", 10)
    source = continual.pretraining_source("cifar100", tmp_path)
    assert (source.name, source.objective, source.classes, len(source.images)) == ("cifar10", "classification", 10, 20)
    payload = continual.train_run("generative", root=tmp_path, progress=False, epochs=1, pretrain_epochs=1,
                                  vae_epochs=1, vae_hidden=16, latent=4, replay_batch=4, batch_size=8)
    meta = payload["meta"]
    assert (meta["dataset"], meta["tasks"], meta["classes_per_task"]) == ("cifar100", 10, 10)
    assert len(payload["states"]) == 10 and len(meta["accuracy"]) == 10 and len(meta["class_accuracy"][0]) == 100
    assert meta["pretraining"]["source"] == "cifar10" and len(meta["vae_losses"]) == 10
    # The frozen layers are the pretrained ones in every state.
    first, last = payload["states"][0], payload["states"][-1]
    assert torch.equal(first["features.conv1.0.weight"], last["features.conv1.0.weight"])
    assert not torch.equal(first["features.conv5.0.weight"], last["features.conv5.0.weight"])
    with pytest.raises(ValueError, match="vae_epochs"):
        continual.train_run("baseline", root=tmp_path, progress=False, vae_epochs=1)


def _measured_accuracy(networks, tasks) -> np.ndarray:
    """The accuracy matrix of a run's networks (one after each task) on ``tasks``' test images,
    measured now; only the tasks learned so far (what forgetting reads), later ones are NaN."""
    matrix = np.full((len(networks), len(tasks)), np.nan)
    for after, network in enumerate(networks):
        matrix[after, :after + 1] = continual.evaluate(network, tasks[:after + 1])[0]
    return matrix


def test_the_committed_generative_run_forgets_less_than_the_baseline(cifar10_test_subset):
    # The committed networks, evaluated now on 1,000 real test images (200 per task).
    tasks = continual.evaluation_tasks(cifar10_test_subset, 2)
    forgetting = {}
    for name in ("continual_baseline", "continual_generative"):
        networks, meta = zoo.load(name)
        measured = _measured_accuracy(networks, tasks)
        recorded = np.array(meta["accuracy"])
        learned = ~np.isnan(measured)
        # Each entry within about three standard errors (0.03 for 200 images) of the one recorded on
        # all 2,000 test images of the task, and the forgetting within 0.05 of the recorded one.
        assert np.abs(measured - recorded)[learned].max() < 0.1, (name, measured, recorded)
        forgetting[name] = continual.average_forgetting(measured)
        assert forgetting[name] == pytest.approx(continual.average_forgetting(recorded), abs=0.05)
    assert forgetting["continual_generative"] < forgetting["continual_baseline"] - 0.1, forgetting
    _, generative = zoo.load("continual_generative")
    _, frozen_only = zoo.load("continual_generative_no_replay")
    assert generative["pretraining"]["source"] == "imagenet_samples"  # no CIFAR-10 image before the tasks
    assert frozen_only["replay_batch"] == 0 and frozen_only["vae_losses"] == []
