"""The model zoo and its command: every model of the book is registered with the recipe its
shipped checkpoint was made with, loads by name, and trains by one command that never replaces a
checkpoint unless told to."""

from __future__ import annotations

import pytest
import torch

from xaihelpers import checkpoints, continual, train, zoo


@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_each_shipped_checkpoint_was_made_with_its_registry_recipe(name):
    spec = zoo.get(name)
    loaded, meta = zoo.load(name)
    recipe = dict(spec.recipe)
    if spec.family == "continual":
        assert meta.pop("strategy") == recipe.pop("strategy")
        assert len(loaded) == meta["tasks"] and all(not m.training for m in loaded)
    else:
        assert not loaded.training
    # The recipe is what retraining uses: it must be what the committed checkpoint was trained with.
    for key, value in recipe.items():
        assert meta.get(key, value) == value, (name, key, meta.get(key), value)
    assert spec.command == f"python -m xaihelpers.train {name}"
    assert spec.checkpoint.is_file() and spec.checkpoint.is_relative_to(zoo.CHECKPOINT_DIR)


def test_the_registry_covers_every_shipped_checkpoint():
    shipped = {path.resolve() for path in zoo.CHECKPOINT_DIR.rglob("*.pt")}
    assert shipped == {spec.checkpoint.resolve() for spec in zoo.MODELS.values()}


def test_unknown_names_and_settings_are_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="pollen_cnn, pollen_cnn_seed1"):
        zoo.get("pollen")
    with pytest.raises(TypeError, match="has no \\['lr'\\]"):
        zoo.recipe("pollen_cnn", lr=1.0)
    assert zoo.recipe("continual_ewc", ewc_strength=5.0)["ewc_strength"] == 5.0


def test_train_refuses_to_replace_a_checkpoint_and_a_variant_the_books_own(tmp_path):
    with pytest.raises(FileExistsError, match="--force"):
        zoo.train("pollen_cnn")
    with pytest.raises(ValueError, match="would replace the book's checkpoint"):
        zoo.train("pollen_cnn", seed=1, force=True)


def test_the_command_keeps_what_exists_and_resolves_groups(capsys):
    assert train.main(["all"]) == 0  # every checkpoint exists: nothing is trained
    out = capsys.readouterr().out
    assert out.count("exists; kept") == len(zoo.MODELS)
    assert train.resolve(["exercises"]) == [n for n, s in zoo.MODELS.items() if s.exercise]
    assert train.resolve(["pollen_cnn", "all"])[0] == "pollen_cnn" and len(train.resolve(["all", "all"])) == len(zoo.MODELS)
    assert train.main(["--list"]) == 0 and "continual_replay_memory_250" in capsys.readouterr().out


def test_settings_from_the_command_line_take_the_recipes_types():
    assert train.parse_settings("pollen_cnn", ["seed=1", "augment=false", "dropout=0.5"]) == \
        {"seed": 1, "augment": False, "dropout": 0.5}
    for bad in ("seed", "epochs=ten", "augment=maybe", "lr=1"):
        with pytest.raises(ValueError, match="--set"):
            train.parse_settings("pollen_cnn", [bad])
    with pytest.raises(SystemExit):
        train.main(["pollen_cnn", "--set", "seed=1"])  # a variant needs --out-dir


@pytest.mark.parametrize("strategy", continual.STRATEGIES)
def test_zoo_trains_each_strategy_end_to_end_into_a_loadable_checkpoint(strategy, fake_root, tmp_path, monkeypatch):
    from xaihelpers import data

    monkeypatch.setenv(data.DATA_ROOT_ENV, str(fake_root))  # CIFAR-10 with 2 classes of 3 images
    state = torch.random.get_rng_state()
    out = zoo.train(f"continual_{strategy}", out=tmp_path / "run.pt", progress=False, epochs=1, train_per_class=3,
                    fisher_samples=2, memory_size=2)
    assert torch.equal(state, torch.random.get_rng_state())  # the library does not touch the global generator
    models, meta = zoo.load(f"continual_{strategy}", out)
    assert meta["model"] == f"continual_{strategy}" and meta["strategy"] == strategy
    assert meta["dataset"] == "cifar10" and meta["tasks"] == 1 and len(models) == 1
    assert meta["train_per_class"] == 3 and meta["epochs"] == 1
    with pytest.raises(checkpoints.CheckpointError, match="is a checkpoint of 'continual_"):
        _load_as_another_family(out)


def _load_as_another_family(path):
    """A continual checkpoint that says which model it is, loaded as a CIFAR CNN."""
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = payload["states"][0]
    fake = path.with_name("relabelled.pt")
    torch.save(payload, fake)
    return zoo.load("cifar10_gap", fake)
