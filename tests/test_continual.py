"""Continual learning: task splits, EWC's penalty, the replay memory, the accuracy matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaihelpers import continual
from xaihelpers.cifar import CifarData


def _fake_cifar(per_class: int, classes: int = 4, seed: int = 0) -> CifarData:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)
    # Class c is brighter in channel c % 3: learnable in a few steps.
    images = torch.randint(0, 120, (len(labels), 3, 32, 32), generator=generator, dtype=torch.uint8)
    images[torch.arange(len(labels)), labels % 3] += 120
    return CifarData(images, labels, [f"class{c}" for c in range(classes)])


def test_split_tasks_keeps_classes_together():
    train, test = _fake_cifar(10), _fake_cifar(5, seed=1)
    tasks = continual.split_tasks(train, test, 2, train_per_class=6)
    assert [t.classes for t in tasks] == [["class0", "class1"], ["class2", "class3"]]
    assert all(len(t.train_images) == 12 and len(t.test_images) == 10 for t in tasks)
    assert all(set(t.train_labels.tolist()) == {0, 1} for t in tasks)
    with pytest.raises(ValueError, match="cannot be split"):
        continual.split_tasks(train, test, 3)


def test_model_outputs_every_head_and_names_its_layers():
    model = continual.MultiHeadCNN(tasks=3, classes_per_task=2).eval()
    out = model(torch.rand(4, 3, 32, 32))
    assert out.shape == (4, 6)
    assert torch.equal(continual.task_logits(out, 1, 2), out[:, 2:4])
    rows = continual.task_logits(out, torch.tensor([0, 2, 1, 0]), 2)
    assert torch.equal(rows[1], out[1, 4:6])
    assert [n for n in dict(model.features.named_children()) if n.startswith("conv")] == [f"conv{i}" for i in range(1, 6)]
    for layer in continual.STUDY_LAYERS:
        model.get_submodule(layer)
    assert not any(name.startswith("heads") for name in model.shared_parameters())


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away_from_it():
    torch.manual_seed(0)
    model = continual.MultiHeadCNN(tasks=2, classes_per_task=2)
    ewc = continual.EWC(strength=10.0)
    assert ewc.penalty(model).item() == 0.0
    ewc.consolidate(model, (torch.rand(6, 3, 32, 32) * 255).to(torch.uint8), task=0)
    assert ewc.penalty(model).item() == 0.0
    assert all((f >= 0).all() for f in ewc.fishers[0].values())
    anchor = {n: p.detach().clone() for n, p in model.shared_parameters().items()}
    direction = {n: torch.randn_like(p) for n, p in anchor.items()}
    penalties = []
    for step in (0.01, 0.02, 0.04):
        with torch.no_grad():
            for name, p in model.shared_parameters().items():
                p.copy_(anchor[name] + step * direction[name])
        penalties.append(ewc.penalty(model).item())
    assert 0 < penalties[0] < penalties[1] < penalties[2]
    assert penalties[1] == pytest.approx(4 * penalties[0], rel=1e-4)  # quadratic in the distance
    # The heads are task-specific and never penalised.
    with torch.no_grad():
        for name, p in model.shared_parameters().items():
            p.copy_(anchor[name])
        model.heads[0].weight.add_(1.0)
    assert ewc.penalty(model).item() == 0.0


def test_replay_memory_stays_balanced_and_bounded():
    memory = continual.ReplayMemory(capacity=10, seed=0)
    for task in range(3):
        labels = torch.tensor([0] * 20 + [1] * 7)
        images = torch.full((27, 3, 2, 2), task, dtype=torch.uint8)
        memory.add_task(task, images, labels)
        counts = memory.class_counts()
        assert len(memory) <= 10
        assert len(set(counts.values())) == 1, counts  # balanced
    assert memory.class_counts() == {(t, c): 1 for t in range(3) for c in (0, 1)}
    images, tasks, labels = memory.sample(50)
    assert images.shape == (50, 3, 2, 2)
    assert torch.equal(images[:, 0, 0, 0].long(), tasks)  # each image comes with its own task
    with pytest.raises(ValueError, match="cannot hold"):
        continual.ReplayMemory(capacity=3).add_task(0, torch.zeros(8, 3, 2, 2), torch.arange(4).repeat(2))


@pytest.mark.parametrize("strategy", continual.STRATEGIES)
def test_a_tiny_two_task_run_gives_an_accuracy_matrix(strategy):
    tasks = continual.split_tasks(_fake_cifar(16), _fake_cifar(8, seed=1), 2)
    run = continual.train_sequence(strategy, tasks, epochs=1, batch_size=16, fisher_samples=4, memory_size=8,
                                   progress=False)
    matrix = np.array(run.accuracy)
    assert matrix.shape == (2, 2)
    assert ((matrix >= 0) & (matrix <= 1)).all()
    assert np.array(run.class_accuracy).shape == (2, 4)
    assert len(run.states) == 2
    assert np.isfinite(continual.average_forgetting(run.accuracy))


def test_forgetting_and_accuracy_known_answer():
    matrix = [[0.9, 0.5, 0.5], [0.7, 0.8, 0.5], [0.6, 0.8, 0.9]]
    assert continual.average_forgetting(matrix) == pytest.approx(((0.9 - 0.6) + (0.8 - 0.8)) / 2)
    assert continual.average_accuracy(matrix) == pytest.approx((0.6 + 0.8 + 0.9) / 3)


def test_checkpoints_round_trip_and_are_never_replaced(tmp_path):
    tasks = continual.split_tasks(_fake_cifar(4), _fake_cifar(2, seed=1), 2)
    run = continual.train_sequence("baseline", tasks, epochs=1, batch_size=8, progress=False)
    meta = {"tasks": 2, "classes_per_task": 2, "mean": [0.5] * 3, "std": [0.25] * 3}
    path = continual.save_run(run, meta, tmp_path / "run.pt")
    with pytest.raises(FileExistsError):
        continual.save_run(run, meta, path)
    models, loaded = continual.load_run("baseline", path)
    assert len(models) == 2 and loaded["accuracy"] == run.accuracy
    x = torch.rand(2, 3, 32, 32)
    reference = continual.MultiHeadCNN(2, 2, meta["mean"], meta["std"])
    reference.load_state_dict(run.states[1])
    assert torch.allclose(models[1](x), reference.eval()(x), atol=1e-5)  # loaded channels-last: same up to rounding
    with pytest.raises(FileNotFoundError, match="python -m xaihelpers.continual train"):
        continual.load_run("ewc", tmp_path / "none.pt")


@pytest.fixture(scope="module")
def tiny_baseline_run():
    """A two-task baseline run on fake CIFAR data: (runs, metas, tasks) as heatmap_study takes them."""
    tasks = continual.split_tasks(_fake_cifar(8), _fake_cifar(4, seed=1), 2)
    run = continual.train_sequence("baseline", tasks, epochs=1, batch_size=8, progress=False)
    meta = {"classes_per_task": 2, "class_accuracy": run.class_accuracy}
    models = []
    for state in run.states:
        model = continual.MultiHeadCNN(2, 2)
        model.load_state_dict(state)
        models.append(model.eval())
    return {"baseline": models}, {"baseline": meta}, tasks


def test_heatmap_study_has_one_row_per_strategy_checkpoint_class_and_layer(tiny_baseline_run):
    table = continual.heatmap_study(*tiny_baseline_run, images_per_class=2)
    # after task 0: 2 classes; after task 1: 4 classes; two layers each
    assert len(table) == (2 + 4) * 2
    assert {"lacunarity_2", "lacunarity_4", "lacunarity_8", "red", "orange", "yellow", "other"} <= set(table.columns)
    fractions = table[["red", "orange", "yellow", "other"]].sum(axis=1)
    assert np.allclose(fractions, 1.0)
    assert (table["lacunarity_4"].dropna() >= 1.0 - 1e-12).all()


def test_the_binary_heatmap_study_measures_maps_of_zeros_and_ones(tiny_baseline_run):
    grey = continual.heatmap_study(*tiny_baseline_run, images_per_class=2)
    binary = continual.heatmap_study(*tiny_baseline_run, images_per_class=2, binarize=0.5)
    assert len(binary) == len(grey)
    # A binary map has only the lowest and the highest colour: no orange or yellow pixels.
    assert np.allclose(binary[["orange", "yellow"]], 0.0)
    assert not np.allclose(grey[["orange", "yellow"]], 0.0)
    assert (binary["lacunarity_2"].dropna() >= 1.0 - 1e-12).all()


@pytest.mark.parametrize("name", sorted(continual.EXERCISE_RUNS))
def test_the_exercise_runs_differ_from_the_committed_ones_only_in_their_settings(name):
    models, meta = continual.load_exercise_run(name)
    strategy, settings = continual.EXERCISE_RUNS[name]
    assert meta["strategy"] == strategy and len(models) == meta["tasks"]
    assert {key: meta[key] for key in continual.DEFAULTS} == {**continual.DEFAULTS, **settings}
    assert continual.exercise_command(name).startswith(continual.TRAIN_COMMAND + f" --strategy {strategy}")
    with pytest.raises(ValueError, match="Unknown exercise run"):
        continual.load_exercise_run("ewc_strength_7")


def test_mean_task_loss_is_the_cross_entropy_on_each_tasks_own_head(tiny_baseline_run):
    runs, _, tasks = tiny_baseline_run
    model = runs["baseline"][-1]
    expected = []
    with torch.no_grad():
        for task in tasks:
            logits = continual.task_logits(model(task.test_images.float() / 255), task.index, 2)
            expected.append(torch.nn.functional.cross_entropy(logits, task.test_labels, reduction="none"))
    assert continual.mean_task_loss(model, tasks) == pytest.approx(torch.cat(expected).mean().item(), abs=1e-5)
