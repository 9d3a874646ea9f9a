"""The continual-learning strategies: EWC's penalty, the replay memory, and the hooks through which
they change the one training loop (a strategy whose hook is removed fails here)."""

from __future__ import annotations

import copy

import pytest
import torch

from xaihelpers import continual, strategies, training

from conftest import fake_cifar


def test_ewc_penalty_is_zero_at_the_anchor_and_grows_away_from_it():
    torch.manual_seed(0)
    model = continual.MultiHeadCNN(tasks=2, classes_per_task=2)
    ewc = strategies.EWC(strength=10.0)
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
    memory = strategies.ReplayMemory(capacity=10, seed=0)
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
        strategies.ReplayMemory(capacity=3).add_task(0, torch.zeros(8, 3, 2, 2), torch.arange(4).repeat(2))


def _two_tasks():
    return continual.split_tasks(fake_cifar(24), fake_cifar(8, seed=1), 2)


def _fisher_weighted_drift(strategy: strategies.Strategy) -> float:
    """``sum_i F_i (theta_i - theta*_i)^2`` between the weights after task 0 and after task 1, with
    the Fisher of task 0 at ``theta*``: how far the weights that matter for task 0 moved."""
    tasks = _two_tasks()
    run = continual.train_sequence(strategy, tasks, epochs=2, batch_size=8, progress=False)
    first, last = continual.MultiHeadCNN(2, 2), continual.MultiHeadCNN(2, 2)
    first.load_state_dict(run.states[0])
    last.load_state_dict(run.states[1])
    measure = strategies.EWC(strength=2.0, fisher_samples=16)
    measure.consolidate(first, tasks[0].train_images[:16], 0)
    return measure.penalty(last).item()


def test_the_ewc_penalty_holds_the_weights_that_matter_for_the_first_task():
    # Without the penalty (its extra_loss hook) EWC trains as the baseline does, and the weights
    # that matter for task 0 move as far.
    baseline = _fisher_weighted_drift(strategies.Baseline())
    ewc = _fisher_weighted_drift(strategies.EWC(strength=1e4, fisher_samples=16))
    assert ewc < 0.3 * baseline, (ewc, baseline)


def test_fit_adds_the_strategys_extra_loss_to_every_step(tiny_cnn):
    class Penalised(strategies.Strategy):
        calls = 0

        def extra_loss(self, model):
            Penalised.calls += 1
            return 1e3 * sum(p.pow(2).sum() for p in model.parameters())

    images, labels = torch.rand(16, 3, 16, 16), torch.randint(0, 3, (16,))
    plain = training.fit(copy.deepcopy(tiny_cnn), images, labels, epochs=1, batch_size=8, progress=False)
    penalised = training.fit(copy.deepcopy(tiny_cnn), images, labels, epochs=1, batch_size=8, strategy=Penalised(),
                             progress=False)
    assert Penalised.calls == 2  # one per step
    assert penalised.train_loss[0] > plain.train_loss[0] + 1.0


def test_replay_puts_as_many_memory_images_into_every_batch_with_their_own_tasks():
    tasks = _two_tasks()
    replay = strategies.Replay(memory_size=8, seed=0)
    replay.after_task(None, tasks[0].train_images, tasks[0].train_labels, 0, torch.Generator())
    model = continual.MultiHeadCNN(2, 2)
    seen = []

    def head(outputs, task_ids):
        seen.append(task_ids.clone())
        return strategies.task_logits(outputs, task_ids, 2)

    training.fit(model, tasks[1].train_images, tasks[1].train_labels, epochs=1, batch_size=8, task=1, head=head,
                 strategy=replay, progress=False)
    assert seen and all(len(ids) == 16 for ids in seen)  # 8 images of task 1 + 8 from the memory
    assert all(torch.equal(ids[:8], torch.ones(8, dtype=ids.dtype)) and (ids[8:] == 0).all() for ids in seen)
    # fit calls after_task once the task is learned: the memory now holds both tasks.
    assert len(replay.memory) == 8 and {t for t, _ in replay.memory.class_counts()} == {0, 1}


def test_replay_adds_nothing_before_the_first_task_is_learned():
    assert strategies.Replay(4).extra_batch(8, torch.Generator()) is None


def test_ewc_after_task_consolidates_on_its_fisher_samples_and_leaves_the_model_as_it_was():
    tasks = _two_tasks()
    model = continual.MultiHeadCNN(2, 2).train()
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    ewc = strategies.EWC(strength=1.0, fisher_samples=5)
    ewc.after_task(model, tasks[0].train_images, tasks[0].train_labels, 0, torch.Generator().manual_seed(0))
    assert len(ewc.fishers) == len(ewc.anchors) == 1
    assert model.training  # mode restored
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())  # .grad untouched
    assert ewc.penalty(model).item() == 0.0  # at the anchor


def test_make_builds_each_strategy_and_refuses_unknown_names():
    generative = {"pretrained": continual.MultiHeadCNN(1, 2).hidden_state(), "classes": 4, "classes_per_task": 2}
    assert [type(strategies.make(name, **(generative if name == "generative" else {}))).__name__
            for name in strategies.STRATEGIES] == ["Baseline", "EWC", "Replay", "GenerativeReplay"]
    assert strategies.make("generative", replay_batch=3, **generative).replay_batch == 3
    assert strategies.make("ewc", ewc_strength=5.0).strength == 5.0
    assert strategies.make("replay", memory_size=7).memory.capacity == 7
    with pytest.raises(ValueError, match="Unknown strategy 'lwf'"):
        strategies.make("lwf")
