"""Continual learning: task splits, the multi-head model, training runs, the accuracy matrix, the
heat-map study. The strategies themselves are tested in test_strategies.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaihelpers import checkpoints, continual, forgetting, strategies, zoo

from conftest import _write_image, fake_cifar


def test_split_tasks_keeps_classes_together():
    train, test = fake_cifar(10), fake_cifar(5, seed=1)
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
    for layer in forgetting.STUDY_LAYERS:
        model.get_submodule(layer)
    assert not any(name.startswith("heads") for name in model.shared_parameters())


@pytest.mark.parametrize("strategy", continual.STRATEGY_NAMES)
def test_a_tiny_two_task_run_gives_an_accuracy_matrix(strategy):
    tasks = continual.split_tasks(fake_cifar(16), fake_cifar(8, seed=1), 2)
    generative = {"pretrained": continual.MultiHeadCNN(1, 4).hidden_state(), "classes": 4, "classes_per_task": 2,
                  "vae_epochs": 1, "hidden": 16} if strategy == "generative" else {}
    chosen = strategies.make(strategy, fisher_samples=4, memory_size=8, **generative)
    run = continual.train_sequence(chosen, tasks, epochs=1, batch_size=16, progress=False)
    assert run.strategy == strategy
    matrix = np.array(run.accuracy)
    assert matrix.shape == (2, 2)
    # Each entry is the share of a task's test images that the network after task i gets right
    # with that task's head, counted here from the stored weights.
    for after, state in enumerate(run.states):
        network = continual.MultiHeadCNN(2, 2)
        network.load_state_dict(state)
        with torch.no_grad():
            for task in tasks:
                logits = network.eval()(task.test_images.float() / 255)[:, 2 * task.index:2 * task.index + 2]
                right = (logits.argmax(dim=1) == task.test_labels).float().mean().item()
                assert matrix[after, task.index] == pytest.approx(right), (after, task.index)
    assert np.array(run.class_accuracy).shape == (2, 4)
    assert len(run.states) == 2
    assert np.isfinite(continual.average_forgetting(run.accuracy))


def test_forgetting_and_accuracy_known_answer():
    matrix = [[0.9, 0.5, 0.5], [0.7, 0.8, 0.5], [0.6, 0.8, 0.9]]
    assert continual.average_forgetting(matrix) == pytest.approx(((0.9 - 0.6) + (0.8 - 0.8)) / 2)
    assert continual.average_accuracy(matrix) == pytest.approx((0.6 + 0.8 + 0.9) / 3)


def test_train_sequence_wants_a_strategy_object():
    tasks = continual.split_tasks(fake_cifar(4), fake_cifar(2, seed=1), 2)
    with pytest.raises(TypeError, match="strategies.make"):
        continual.train_sequence("ewc", tasks)


def test_checkpoints_round_trip_and_are_never_replaced(tmp_path):
    tasks = continual.split_tasks(fake_cifar(4), fake_cifar(2, seed=1), 2)
    run = continual.train_sequence(strategies.Baseline(), tasks, epochs=1, batch_size=8, progress=False)
    meta = {"tasks": 2, "classes_per_task": 2, "mean": [0.5] * 3, "std": [0.25] * 3, "accuracy": run.accuracy}
    path = checkpoints.save({"states": run.states, "meta": meta}, tmp_path / "run.pt")
    with pytest.raises(FileExistsError):
        checkpoints.save({"states": run.states, "meta": meta}, path)
    models, loaded = zoo.load("continual_baseline", path)
    assert len(models) == 2 and loaded["accuracy"] == run.accuracy
    x = torch.rand(2, 3, 32, 32)
    reference = continual.MultiHeadCNN(2, 2, meta["mean"], meta["std"])
    reference.load_state_dict(run.states[1])
    assert torch.allclose(models[1](x), reference.eval()(x), atol=1e-5)  # loaded channels-last: same up to rounding
    with pytest.raises(FileNotFoundError, match="python -m xaihelpers.retrain continual_ewc"):
        zoo.load("continual_ewc", tmp_path / "none.pt")


@pytest.fixture(scope="module")
def tiny_baseline_run():
    """A two-task baseline run on fake CIFAR data: (runs, metas, tasks) as heatmap_study takes them."""
    tasks = continual.split_tasks(fake_cifar(8), fake_cifar(4, seed=1), 2)
    run = continual.train_sequence(strategies.Baseline(), tasks, epochs=1, batch_size=8, progress=False)
    meta = {"classes_per_task": 2, "class_accuracy": run.class_accuracy}
    models = []
    for state in run.states:
        model = continual.MultiHeadCNN(2, 2)
        model.load_state_dict(state)
        models.append(model.eval())
    return {"baseline": models}, {"baseline": meta}, tasks


def test_heatmap_study_has_one_row_per_strategy_checkpoint_class_and_layer(tiny_baseline_run):
    table = forgetting.heatmap_study(*tiny_baseline_run, images_per_class=2)
    # after task 0: 2 classes; after task 1: 4 classes; two layers each
    assert len(table) == (2 + 4) * 2
    assert {"lacunarity_2", "lacunarity_4", "lacunarity_8", "red", "orange", "yellow", "other"} <= set(table.columns)
    fractions = table[["red", "orange", "yellow", "other"]].sum(axis=1)
    assert np.allclose(fractions, 1.0)
    assert (table["lacunarity_4"].dropna() >= 1.0 - 1e-12).all()


def test_the_binary_heatmap_study_measures_maps_of_zeros_and_ones(tiny_baseline_run):
    grey = forgetting.heatmap_study(*tiny_baseline_run, images_per_class=2)
    binary = forgetting.heatmap_study(*tiny_baseline_run, images_per_class=2, binarize=0.5)
    assert len(binary) == len(grey)
    # A binary map has only the lowest and the highest colour: no orange or yellow pixels.
    assert np.allclose(binary[["orange", "yellow"]], 0.0)
    assert not np.allclose(grey[["orange", "yellow"]], 0.0)
    assert (binary["lacunarity_2"].dropna() >= 1.0 - 1e-12).all()


def test_mean_task_loss_is_the_cross_entropy_on_each_tasks_own_head(tiny_baseline_run):
    runs, _, tasks = tiny_baseline_run
    model = runs["baseline"][-1]
    expected = []
    with torch.no_grad():
        for task in tasks:
            logits = continual.task_logits(model(task.test_images.float() / 255), task.index, 2)
            expected.append(torch.nn.functional.cross_entropy(logits, task.test_labels, reduction="none"))
    assert continual.mean_task_loss(model, tasks) == pytest.approx(torch.cat(expected).mean().item(), abs=1e-5)


def test_a_pretrained_start_loads_the_layers_below_the_replay_layer_and_keeps_them_trainable():
    tasks = continual.split_tasks(fake_cifar(8), fake_cifar(4, seed=1), 2)
    torch.manual_seed(7)
    pretrained = continual.MultiHeadCNN(1, 4).hidden_state()
    weight = "features.conv1.0.weight"
    # With a zero learning rate the weights stay where they started: the pretrained ones.
    still = continual.train_sequence(strategies.make("baseline"), tasks[:1], epochs=1, batch_size=8, learning_rate=0.0,
                                     pretrained=pretrained, progress=False)
    assert torch.equal(still.states[0][weight], pretrained[weight])
    scratch = continual.train_sequence(strategies.make("baseline"), tasks[:1], epochs=1, batch_size=8,
                                       learning_rate=0.0, progress=False)
    assert not torch.equal(scratch.states[0][weight], pretrained[weight])
    # Fine-tuned, not frozen: with a learning rate they move.
    moved = continual.train_sequence(strategies.make("baseline"), tasks[:1], epochs=1, batch_size=8,
                                     pretrained=pretrained, progress=False)
    assert not torch.equal(moved.states[0][weight], pretrained[weight])
    with pytest.raises(ValueError, match="exactly the layers below features.pool2; missing"):
        continual.train_sequence(strategies.make("baseline"), tasks[:1], pretrained={"normalize.mean": torch.zeros(3)},
                                 progress=False)


def test_run_settings_are_the_strategys_own_and_refuse_a_generative_run_from_scratch():
    assert set(continual.run_settings("baseline")) == {"epochs", "train_per_class", "batch_size", "learning_rate",
                                                       "start", "pretrain_epochs", "seed"}
    assert "pretrain_epochs" not in continual.run_settings("ewc", "scratch")
    assert continual.run_settings("ewc")["fisher_samples"] == 1000  # BI-R's --fisher-n
    with pytest.raises(ValueError, match="cannot start from scratch"):
        continual.run_settings("generative", "scratch")
    with pytest.raises(ValueError, match="Unknown start 'random'"):
        continual.run_settings("baseline", "random")
    with pytest.raises(ValueError, match="Unknown settings \\['memory_size'\\]"):
        continual.train_run("ewc", memory_size=5)


def test_equal_states_hash_equal_and_any_changed_value_or_name_changes_the_hash():
    state = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2, dtype=torch.int64)}
    same = {"b": torch.zeros(2, dtype=torch.int64), "a": torch.arange(6.0).reshape(2, 3).clone()}
    assert continual.state_sha256(state) == continual.state_sha256(same)
    changed = {**state, "a": state["a"].clone().index_put_((torch.tensor([0]), torch.tensor([0])), torch.tensor(1e-7))}
    assert continual.state_sha256(changed) != continual.state_sha256(state)
    assert continual.state_sha256({"c": state["a"], "b": state["b"]}) != continual.state_sha256(state)
    assert continual.state_sha256({**state, "a": state["a"].reshape(3, 2)}) != continual.state_sha256(state)


def test_the_list_of_differences_from_the_study_states_every_setting_of_the_book_learners_recipes():
    recipes = {s: zoo.MODELS[f"continual_{s}"].recipe for s in continual.STRATEGY_NAMES}
    table = continual.study_differences(recipes)
    stated = {key.strip() for keys in table["recipe keys"] for key in keys.split(",") if key.strip()}
    every = {key for recipe in recipes.values() for key in recipe} - {"strategy"}
    assert every == stated, f"recipe settings the table leaves out: {sorted(every - stated)}"
    book = table["this book"]
    assert "lambda 1,000, Fisher from 1,000 samples" == book["EWC"] == table["BI-R (the study)"]["EWC"]
    assert "memory of 500 images" in book["replay"] and "2,000 training images per class" in book["data"]
    assert "3 epochs of 4,000 images, batch 64" in book["training per task"] and "30 epochs" in book["starting point"]
    changed = continual.study_differences({**recipes, "ewc": {**recipes["ewc"], "fisher_samples": 200}})
    assert "Fisher from 200 samples" in changed["this book"]["EWC"]


def test_forgetting_interval_is_paired_over_the_test_images_and_centred_on_the_measured_difference():
    rng = np.random.default_rng(0)
    tasks, images = 3, 400
    learned = [rng.random(images) < 0.9 for _ in range(tasks - 1)]  # right right after its task
    # B forgets nothing; A loses task 0's images 0-79 after the last task.
    b = [np.repeat(row[None], tasks - j, axis=0) for j, row in enumerate(learned)]
    a = [c.copy() for c in b]
    a[0][-1, :80] = False
    matrix = np.full((tasks, tasks), 0.5)
    for j in range(tasks - 1):
        for row, after in enumerate(range(j, tasks)):
            matrix[after, j] = a[j][row].mean()
    expected = continual.average_forgetting(matrix)
    assert expected == pytest.approx(learned[0][:80].sum() / images / 2)  # tasks 0 and 1 count, task 1 drops 0
    interval = continual.forgetting_interval(a, b)
    assert interval.mean == pytest.approx(expected) and interval.excludes_zero and interval.n == (tasks - 1) * images
    # Sampling error of a share of about 0.18 lost out of 400 images, halved by the average over 2 tasks.
    spread = np.sqrt(0.18 * 0.82 / images) / 2
    assert interval.high - interval.low == pytest.approx(2 * 1.96 * spread, rel=0.25)
    same = continual.forgetting_interval(a, a)
    assert (same.low, same.mean, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same tasks and images"):
        continual.forgetting_interval(a, [c[:, :10] for c in b])
    with pytest.raises(ValueError, match="checkpoints from that task on"):
        continual.forgetting_interval([c[:1] for c in a], [c[:1] for c in b])


def test_resampled_forgetting_counts_draws_to_the_bits_of_the_mean_over_the_gathered_draws():
    rng = np.random.default_rng(1)
    correct = [rng.random((4 - j, 300)) < 0.7 for j in range(3)]
    chosen = [rng.integers(0, 300, size=(50, 300)) for _ in correct]
    # The definition: gather each resample's draws and average them.
    drops = []
    for per_task, indices in zip(correct, chosen):
        accuracy = per_task[:, indices].mean(axis=2)
        drops.append(accuracy[:-1].max(axis=0) - accuracy[-1])
    assert np.array_equal(continual._forgetting_from_correct(correct, chosen), np.mean(drops, axis=0))


def test_correct_per_image_reads_each_earlier_task_from_its_own_checkpoint_on():
    tasks = continual.split_tasks(fake_cifar(8), fake_cifar(6, seed=1), 2)  # two tasks
    run = continual.train_sequence(strategies.make("baseline"), tasks, epochs=1, batch_size=8, progress=False)
    models = []
    for state in run.states:
        model = continual.MultiHeadCNN(2, 2)
        model.load_state_dict(state)
        models.append(model.eval())
    correct = continual.correct_per_image(models, tasks)
    assert [c.shape for c in correct] == [(2, len(tasks[0].test_images))]  # the last task does not enter
    for row, after in enumerate((0, 1)):
        assert correct[0][row].mean() == pytest.approx(run.accuracy[after][0])
    with pytest.raises(ValueError, match="one checkpoint per task"):
        continual.correct_per_image(models[:1], tasks)


def test_task_scores_give_the_accuracies_and_the_loss_of_one_pass(tiny_baseline_run):
    runs, metas, tasks = tiny_baseline_run
    model = runs["baseline"][-1]
    scores = continual.task_scores(model, tasks, batch_size=3)  # batches that do not divide the images
    with torch.no_grad():
        for task, accuracy in zip(tasks, scores.accuracy):
            logits = model(task.test_images.float() / 255)[:, 2 * task.index:2 * task.index + 2]
            assert accuracy == pytest.approx((logits.argmax(1) == task.test_labels).float().mean().item())
    assert scores.class_accuracy == pytest.approx(metas["baseline"]["class_accuracy"][-1])
    assert scores.loss == pytest.approx(continual.mean_task_loss(model, tasks))


def test_the_record_of_correct_images_is_read_only_for_the_networks_and_images_it_measured(tiny_baseline_run, tmp_path):
    runs, _, tasks = tiny_baseline_run
    models = runs["baseline"]
    measured = continual.correct_per_image(models, tasks)
    record = tmp_path / "correct.npz"
    assert continual.read_correct_record(record) == {}
    # A planted entry with every answer flipped shows that the record, not a new measurement, is read.
    flipped = [~per_task for per_task in measured]
    continual.write_correct_record({continual.sequence_key(models, tasks): {"name": "tiny", "machine": "here",
                                                                           "correct": flipped}}, record)
    read = continual.recorded_correct_per_image(models, tasks, record=record)
    assert [r.tolist() for r in read] == [f.tolist() for f in flipped]
    # Another network (one weight changed) or other test images are measured, not read.
    changed = [model for model in models[:-1]] + [continual.MultiHeadCNN(2, 2)]
    changed[-1].load_state_dict(models[-1].state_dict())
    with torch.no_grad():
        changed[-1].heads[0].weight[0, 0] += 1.0
    assert continual.sequence_key(changed, tasks) != continual.sequence_key(models, tasks)
    again = continual.recorded_correct_per_image(changed, tasks, record=record)
    assert [a.tolist() for a in again] == [c.tolist() for c in continual.correct_per_image(changed, tasks)]
    fewer = [continual.Task(t.index, t.classes, t.train_images, t.train_labels, t.test_images[:-1], t.test_labels[:-1])
             for t in tasks]
    assert continual.sequence_key(models, fewer) != continual.sequence_key(models, tasks)
    assert [a.shape for a in continual.recorded_correct_per_image(models, fewer, record=record)] == \
        [(2, len(tasks[0].test_images) - 1)]


def test_the_committed_record_holds_the_zoo_learners_as_their_training_measured_them():
    """The record's per-image answers, averaged, give the accuracy matrix the training loop measured
    (by continual.evaluate, while training) for every checkpoint and earlier task; a few images of
    one learner are measured again here from the weights."""
    from xaihelpers import cifar, data

    if not data.available().get("cifar10"):
        pytest.skip("CIFAR-10 is not under the data root")
    record = continual.read_correct_record()
    names = {entry["name"]: key for key, entry in record.items()}
    learners = [name for name in zoo.MODELS if name.startswith("continual_") and zoo.get(name).checkpoint.exists()]
    assert sorted(names) == sorted(learners), "run: python -m xaihelpers.forgetting record"
    tasks = continual.evaluation_tasks(cifar.load_cifar("cifar10", "test"), 2)
    for name in learners:
        models, meta = zoo.load(name)
        assert continual.sequence_key(models, tasks) == names[name], f"{name}: its checkpoint changed since the record"
        for j, per_task in enumerate(record[names[name]]["correct"]):
            for row, after in enumerate(range(j, len(tasks))):
                # One image either way: the training measured in other batch sizes, and an argmax tie may fall otherwise.
                assert abs(per_task[row].mean() - meta["accuracy"][after][j]) <= 1 / per_task.shape[1] + 1e-9, (name, after, j)
    models, _ = zoo.load("continual_baseline")
    head = [continual.Task(t.index, t.classes, t.train_images, t.train_labels, t.test_images[:200], t.test_labels[:200])
            for t in tasks]
    live = continual.correct_per_image(models, head)
    stored = record[names["continual_baseline"]]["correct"]
    assert sum(int((l != s[:, :200]).sum()) for l, s in zip(live, stored)) <= 1


def test_the_record_command_keeps_what_it_holds_and_replaces_a_learners_stale_entry(tmp_path):
    """On a CIFAR-10-shaped folder of 100 test images (the whole test set would take the committed
    record's measurement again, which test_the_committed_record_holds_... checks on a sample): an
    entry under the learner's key is kept, a stale one is replaced, and the new entry says, per image,
    whether each checkpoint from the task on picks the true class with that task's head."""
    from xaihelpers import cifar

    for label in range(10):
        for i in range(10):
            _write_image(tmp_path / "cifar10" / "test" / f"class{label:03d}" / f"{i:04d}.jpg", seed=label * 7 + i)
    record = tmp_path / "correct.npz"
    models, meta = zoo.load("continual_replay_scratch")
    tasks = continual.evaluation_tasks(cifar.load_cifar("cifar10", "test", root=tmp_path), 2)
    key = continual.sequence_key(models, tasks)
    planted = [np.zeros((len(tasks) - j, len(tasks[j].test_images)), dtype=bool) for j in range(len(tasks) - 1)]
    continual.write_correct_record({key: {"name": "continual_replay_scratch", "machine": "planted", "correct": planted}},
                                   record)
    assert forgetting.record_correct(["continual_replay_scratch"], root=tmp_path, record=record, progress=False) == \
        ["continual_replay_scratch: already recorded"]
    continual.write_correct_record({"0" * 64: {"name": "continual_replay_scratch", "machine": "planted",
                                               "correct": planted}}, record)
    said = forgetting.record_correct(["continual_replay_scratch"], root=tmp_path, record=record, progress=False)
    assert said == ["continual_replay_scratch: replaced 000000000000"]
    entries = continual.read_correct_record(record)
    assert list(entries) == [key] and entries[key]["machine"] != "planted"
    k = meta["classes_per_task"]
    for j, task in enumerate(tasks[:-1]):
        with torch.no_grad():
            expected = [(model(task.test_images.float() / 255)[:, j * k:(j + 1) * k].argmax(dim=1) == task.test_labels).numpy()
                        for model in models[j:]]
        assert entries[key]["correct"][j].tolist() == np.stack(expected).tolist()