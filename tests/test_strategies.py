"""The continual-learning strategies: EWC's penalty, the replay memory, and the hooks through which
they change the one training loop (a strategy whose hook is removed fails here)."""

from __future__ import annotations

import copy

import pytest
import torch

from xaihelpers import continual, strategies, training, zoo

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


def test_ewc_consolidation_gives_every_module_its_own_mode_back():
    tasks = _two_tasks()
    model = continual.MultiHeadCNN(2, 2).train()
    model.features[0].eval()  # one block deliberately in eval mode, the rest training
    modes = {name: module.training for name, module in model.named_modules()}
    strategies.EWC(fisher_samples=2).after_task(model, tasks[0].train_images, tasks[0].train_labels, 0,
                                                torch.Generator().manual_seed(0))
    assert {name: module.training for name, module in model.named_modules()} == modes


def test_ewc_keeps_its_anchors_and_fisher_where_the_parameters_are():
    # fit hands each task's model back on the CPU, where EWC consolidates, and trains the next task
    # on its device (a GPU): the penalty must follow the parameters there. The meta device stands
    # in for a GPU, so that the test runs on every machine.
    torch.manual_seed(0)
    model = continual.MultiHeadCNN(tasks=2, classes_per_task=2)
    ewc = strategies.EWC(strength=10.0, fisher_samples=2)
    images = (torch.rand(2, 3, 32, 32) * 255).to(torch.uint8)
    ewc.consolidate(model, images, task=0)
    model.to("meta")
    penalty = ewc.penalty(model)
    assert penalty.device.type == "meta" and penalty.shape == ()
    stored = [tensor for task in (*ewc.anchors, *ewc.fishers) for tensor in task.values()]
    assert {tensor.device.type for tensor in stored} == {"meta"}
    ewc.consolidate(model, images, task=1)  # the images stay on the CPU, the model is elsewhere
    assert {tensor.device.type for task in (ewc.anchors[1], ewc.fishers[1]) for tensor in task.values()} == {"meta"}
    # A float64 model is consolidated in float64: the anchors are its weights, not rounded copies.
    double = continual.MultiHeadCNN(tasks=2, classes_per_task=2).double()
    ewc = strategies.EWC(fisher_samples=2)
    ewc.consolidate(double, images, task=0)
    assert {tensor.dtype for task in (*ewc.anchors, *ewc.fishers) for tensor in task.values()} == {torch.float64}
    assert ewc.penalty(double).item() == 0.0


def test_make_passes_every_setting_on_and_defaults_to_the_committed_runs():
    book = zoo.MODELS  # the recipes the committed checkpoints were trained with
    ewc = strategies.make("ewc")
    assert (ewc.strength, ewc.fisher_samples) == (book["continual_ewc"].recipe["ewc_strength"], 1000)
    replay = strategies.make("replay")
    assert replay.memory.capacity == book["continual_replay"].recipe["memory_size"] == 500
    assert replay.memory.generator.initial_seed() == book["continual_replay"].recipe["seed"] == 0
    assert strategies.make("ewc", fisher_samples=7).fisher_samples == 7
    assert strategies.make("replay", seed=3).memory.generator.initial_seed() == 3
    generative = {"pretrained": continual.MultiHeadCNN(1, 2).hidden_state(), "classes": 4, "classes_per_task": 2}
    assert strategies.make("generative", **generative).seed == book["continual_generative"].recipe["seed"]
    assert strategies.make("generative", seed=5, **generative).seed == 5


def test_the_replay_memory_holds_each_class_under_its_own_label_and_draws_from_its_own_generator():
    labels = torch.tensor([0, 1, 2] * 4)
    images = labels.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).to(torch.uint8)  # each image shows its label
    before = torch.random.get_rng_state()
    memory = strategies.ReplayMemory(capacity=6)
    memory.add_task(0, images, labels)
    assert all((stored == label).all() for (_, label), stored in memory.store.items())
    drawn, tasks, drawn_labels = memory.sample(200)
    assert torch.equal(drawn[:, 0, 0, 0].long(), drawn_labels) and (tasks == 0).all()
    assert set(drawn_labels.tolist()) == {0, 1, 2}
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator is not touched
    # The default seed is 0: the same choice and the same draws as a memory seeded 0 by name.
    again = strategies.ReplayMemory(capacity=6, seed=0)
    again.add_task(0, images, labels)
    assert torch.equal(again.sample(200)[0], drawn)


def test_the_replay_memory_draws_every_stored_image():
    memory = strategies.ReplayMemory(capacity=2, seed=0)
    memory.add_task(0, torch.arange(2, dtype=torch.uint8).view(2, 1, 1, 1), torch.tensor([0, 1]))
    first_pixels = memory.sample(100)[0].flatten()
    assert set(first_pixels.tolist()) == {0, 1}
    assert len(strategies.ReplayMemory(capacity=1)) == 0  # one image is a memory too
    with pytest.raises(ValueError, match="capacity must be positive"):
        strategies.ReplayMemory(capacity=0)


def test_replay_defaults_to_the_committed_runs_and_passes_its_seed_on():
    book = zoo.MODELS["continual_replay"].recipe
    replay = strategies.Replay()
    assert replay.memory.capacity == book["memory_size"] and replay.memory.generator.initial_seed() == book["seed"]
    assert strategies.Replay(4, seed=3).memory.generator.initial_seed() == 3


def test_ewc_draws_its_fisher_samples_from_the_training_loops_generator():
    tasks = _two_tasks()
    images = tasks[0].train_images
    torch.manual_seed(0)
    model = continual.MultiHeadCNN(2, 2)
    before = torch.random.get_rng_state()
    ewc = strategies.EWC(fisher_samples=3)
    ewc.after_task(model, images, tasks[0].train_labels, 0, torch.Generator().manual_seed(4))
    assert torch.equal(torch.random.get_rng_state(), before)
    by_hand = strategies.EWC(fisher_samples=3)
    by_hand.consolidate(model, images[torch.randperm(len(images), generator=torch.Generator().manual_seed(4))[:3]], 0)
    assert all(torch.equal(ewc.fishers[0][name], by_hand.fishers[0][name]) for name in by_hand.fishers[0])


class _LogisticTask(torch.nn.Module):
    """One task of two classes, logits ``W x + b`` in float64: logistic regression, whose Fisher is
    known in closed form, ``F_W[j, i] = p0 p1 x_i^2`` and ``F_b[j] = p0 p1`` for either class ``j``."""

    classes_per_task = 2

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2).double()
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]], dtype=torch.float64))
            self.linear.bias.copy_(torch.tensor([0.1, -0.2], dtype=torch.float64))

    def forward(self, x):
        return self.linear(x.flatten(1))

    def shared_parameters(self):
        return dict(self.named_parameters())


def test_ewc_fisher_and_penalty_are_those_of_logistic_regression():
    import math

    images = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 2.0, 1.0]])  # float32: EWC casts them
    weight, bias = [[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]], [0.1, -0.2]
    fisher_weight, fisher_bias = [0.0, 0.0, 0.0], 0.0
    for x in images.tolist():
        z = [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(weight, bias)]
        p0 = 1 / (1 + math.exp(z[1] - z[0]))
        fisher_bias += p0 * (1 - p0) / len(images)
        fisher_weight = [f + p0 * (1 - p0) * v ** 2 / len(images) for f, v in zip(fisher_weight, x)]
    model = _LogisticTask()
    ewc = strategies.EWC(strength=3.0)
    ewc.consolidate(model, images, task=0)
    expected_weight = torch.tensor([fisher_weight, fisher_weight], dtype=torch.float64)
    assert torch.allclose(ewc.fishers[0]["linear.weight"], expected_weight, rtol=1e-12, atol=0)
    assert torch.allclose(ewc.fishers[0]["linear.bias"], torch.tensor([fisher_bias] * 2, dtype=torch.float64),
                          rtol=1e-12, atol=0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1)
    # lambda / 2 * sum_i F_i * 0.1^2, over the six weights and the two biases.
    expected = 3.0 / 2 * 0.01 * (2 * sum(fisher_weight) + 2 * fisher_bias)
    assert ewc.penalty(model).item() == pytest.approx(expected, rel=1e-12)


def test_ewc_defaults_to_the_committed_runs_and_accepts_the_smallest_settings():
    book = zoo.MODELS["continual_ewc"].recipe  # BI-R's --lambda and --fisher-n
    assert (strategies.EWC().strength, strategies.EWC().fisher_samples) == (book["ewc_strength"], book["fisher_samples"])
    assert (book["ewc_strength"], book["fisher_samples"]) == (1000.0, 1000)
    assert strategies.EWC(strength=0.0).strength == 0.0 and strategies.EWC(strength=0.5).strength == 0.5
    assert strategies.EWC(fisher_samples=1).fisher_samples == 1
    with pytest.raises(ValueError, match="strength must be non-negative"):
        strategies.EWC(strength=-1.0)
    with pytest.raises(ValueError, match="fisher_samples must be positive"):
        strategies.EWC(fisher_samples=0)


def _generative(**settings):
    torch.manual_seed(0)
    pretrained = continual.MultiHeadCNN(1, 4).hidden_state()
    return strategies.GenerativeReplay(pretrained, classes=4, classes_per_task=2, **settings)


def test_generative_replay_defaults_to_the_committed_run_and_checks_its_settings():
    book, replay = continual.GENERATIVE_DEFAULTS, _generative()
    assert (replay.vae_epochs, replay.latent, replay.hidden, replay.replay_batch, replay.temperature, replay.seed) == (
        book["vae_epochs"], book["latent"], book["vae_hidden"], book["replay_batch"], book["temperature"],
        continual.DEFAULTS["seed"])
    smallest = _generative(vae_epochs=1, replay_batch=0, temperature=0.5)  # the ablation replays nothing
    assert (smallest.vae_epochs, smallest.replay_batch, smallest.temperature) == (1, 0, 0.5)
    for bad in ({"vae_epochs": 0}, {"replay_batch": -1}, {"temperature": 0.0}):
        with pytest.raises(ValueError, match="vae_epochs must be positive"):
            _generative(**bad)


def test_generative_replay_without_replay_trains_no_vae():
    tasks = continual.split_tasks(fake_cifar(4), fake_cifar(2, seed=1), 2)
    replay, model = _generative(replay_batch=0), continual.MultiHeadCNN(2, 2)
    replay.prepare(model)
    replay.after_task(model, tasks[0].train_images, tasks[0].train_labels, 0, torch.Generator())
    assert replay.vae is None and replay.vae_losses == [] and replay.extra_loss(model) is None


def test_generative_replay_distils_with_the_temperature_squared_kl_per_feature_map():
    import math

    tasks = continual.split_tasks(fake_cifar(4), fake_cifar(2, seed=1), 2)
    replay = _generative(vae_epochs=1, hidden=8, latent=2, replay_batch=5, temperature=3.0)
    model = continual.MultiHeadCNN(2, 2)
    replay.prepare(model)
    for task in (0, 1):
        replay.after_task(model, tasks[task].train_images, tasks[task].train_labels, task, torch.Generator())
    assert replay.learned == [0, 1, 2, 3] and replay.vae.latent == 2
    assert [len(losses) for losses in replay.vae_losses] == [1, 1] and all(
        isinstance(loss, float) for losses in replay.vae_losses for loss in losses)
    model.eval()
    with torch.no_grad():
        for head in model.heads:  # the network drifts from the copy kept after task 1
            head.weight[0].add_(0.5)
    # The same draws by hand: classes, then their feature maps, from the strategy's generator.
    draws = torch.Generator()
    draws.set_state(replay.generator.get_state())
    loss = replay.extra_loss(model).item()
    classes = torch.tensor([0, 1, 2, 3])[torch.randint(0, 4, (5,), generator=draws)]
    features = replay.vae.generate(classes, draws)
    with torch.no_grad():
        teacher = replay.previous.from_hidden(features).view(5, 2, 2)[torch.arange(5), classes // 2].tolist()
        student = model.from_hidden(features).view(5, 2, 2)[torch.arange(5), classes // 2].tolist()
    total = 0.0
    for old, new in zip(teacher, student):  # KL(softmax(old / T) || softmax(new / T)), T = 3
        p = [math.exp(v / 3) / sum(math.exp(w / 3) for w in old) for v in old]
        q = [math.exp(v / 3) / sum(math.exp(w / 3) for w in new) for v in new]
        total += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    assert loss == pytest.approx(9 * total / 5, rel=1e-5)


def test_ewc_adds_its_penalty_to_the_loss():
    model = _LogisticTask()
    ewc = strategies.EWC(strength=2.0)
    assert ewc.extra_loss(model).item() == 0.0  # nothing consolidated yet
    ewc.consolidate(model, torch.tensor([[1.0, 0.0, 2.0]]), task=0)
    with torch.no_grad():
        model.linear.bias.add_(0.1)
    # One image: F_b = p0 p1 for either bias; the penalty is lambda / 2 * 2 * F_b * 0.1^2.
    import math

    p0 = 1 / (1 + math.exp((0.0 * 1 + 1.0 * 0 - 0.5 * 2 - 0.2) - (0.5 * 1 - 1.0 * 0 + 2.0 * 2 + 0.1)))
    assert ewc.extra_loss(model).item() == pytest.approx(2.0 / 2 * 2 * p0 * (1 - p0) * 0.01, rel=1e-12)


def test_generative_replay_trains_the_vae_on_each_tasks_classes_and_replays_the_earlier_ones():
    # The prior mean m_c of a class moves only when a batch holds class c: the current task's
    # classes, and from the second task on the earlier ones that the VAE replays to itself.
    tasks = continual.split_tasks(fake_cifar(4), fake_cifar(2, seed=1), 2)
    replay = _generative(vae_epochs=1, hidden=8, latent=2, replay_batch=5)
    model = continual.MultiHeadCNN(2, 2)
    replay.prepare(model)
    replay.after_task(model, tasks[0].train_images, tasks[0].train_labels, 0, torch.Generator())
    from xaihelpers import repro
    from xaihelpers.feature_vae import FeatureVAE

    with repro.seeded(replay.seed):  # the VAE as the strategy made it, before any training
        initial = FeatureVAE(replay.vae.shape, 4, 8, 2).prior_means.detach()
    after_first = replay.vae.prior_means.detach().clone()
    assert not torch.equal(after_first[:2], initial[:2]) and torch.equal(after_first[2:], initial[2:])
    replay.after_task(model, tasks[1].train_images, tasks[1].train_labels, 1, torch.Generator())
    after_second = replay.vae.prior_means.detach()
    assert not torch.equal(after_second[2:], initial[2:])  # task 1's classes, 2 and 3
    assert not torch.equal(after_second[:2], after_first[:2])  # classes 0 and 1, replayed
