"""The model zoo and its command: every model of the book is registered with the recipe its
shipped checkpoint was made with, loads by name, and trains by one command that never replaces a
checkpoint unless told to."""

from __future__ import annotations

import pytest
import torch

from xaihelpers import checkpoints, continual, retrain, zoo


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
    # The recipe is what retraining uses: it must be what the committed checkpoint was trained with,
    # every setting recorded in the file, or (only where the file predates the setting) known from
    # the code history and said so.
    raw = torch.load(spec.checkpoint, weights_only=True)["meta"]
    from_history = {key for key in recipe if key not in raw}
    expected = {"pollen_cnn": {"augment", "dropout"}, "continual_baseline_scratch": {"start"},
                "continual_replay_scratch": {"start"}}
    assert from_history == expected.get(name, set()), (name, from_history)
    for key, value in recipe.items():
        assert key in meta and meta[key] == value, (name, key, meta.get(key), value)
    assert set(meta.get("unrecorded", {})) == from_history | ({"train_seconds"} if spec.family == "pollen" else set())
    assert spec.command == f"python -m xaihelpers.retrain {name}"
    assert spec.checkpoint.is_file() and spec.checkpoint.is_relative_to(zoo.CHECKPOINT_DIR)


def test_what_a_shipped_checkpoint_does_not_record_is_reported_unknown_or_sourced():
    _, meta = zoo.load("pollen_cnn")
    assert (meta["augment"], meta["dropout"]) == (True, 0.3) and "eff7549" in meta["unrecorded"]["augment"]
    assert meta["train_seconds"] is None and meta["unrecorded"]["train_seconds"].startswith("unknown")
    for name in ("pollen_cnn_seed1", "pollen_cnn_no_augment", "pollen_cnn_dropout05"):
        _, meta = zoo.load(name)
        assert meta["train_seconds"] is None and set(meta["unrecorded"]) == {"train_seconds"}
    _, meta = zoo.load("cifar10_gap")
    assert meta["train_seconds"] > 0 and "unrecorded" not in meta


def test_the_registry_covers_every_shipped_checkpoint():
    shipped = {path.resolve() for path in zoo.CHECKPOINT_DIR.rglob("*.pt")}
    assert shipped == {spec.checkpoint.resolve() for spec in zoo.MODELS.values()}


def test_every_entry_writes_its_own_file_also_under_an_out_dir(tmp_path, capsys):
    shipped = [spec.checkpoint.resolve() for spec in zoo.MODELS.values()]
    assert len(set(shipped)) == len(zoo.MODELS)
    # Under --out-dir the checkpoints keep their place relative to the shipped folder, so the
    # three EWC runs (and the two of replay and of generative replay) land in three files.
    expected = {"continual_ewc": tmp_path / "continual_ewc.pt",
                "continual_ewc_strength_100": tmp_path / "exercises" / "ewc_strength_100" / "continual_ewc.pt",
                "continual_ewc_strength_10000": tmp_path / "exercises" / "ewc_strength_10000" / "continual_ewc.pt",
                "pollen_cnn": tmp_path / "pollen_cnn.pt"}
    for name, path in expected.items():
        assert zoo.checkpoint_path(name, tmp_path) == path
    assert zoo.checkpoint_path("pollen_cnn") == zoo.CHECKPOINT_DIR / "pollen_cnn.pt"
    targets = {name: zoo.checkpoint_path(name, tmp_path) for name in zoo.MODELS}
    assert len(set(targets.values())) == len(zoo.MODELS)
    for path in targets.values():  # every target exists: the command keeps them all, naming each
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert retrain.main(["all", "--out-dir", str(tmp_path)]) == 0
    kept = [line.split(": ", 1) for line in capsys.readouterr().out.splitlines()]
    assert {name: line for name, line in kept} == {name: f"{path} exists; kept (--force replaces it)"
                                                   for name, path in targets.items()}


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
    assert retrain.main(["all"]) == 0  # every checkpoint exists: nothing is trained
    out = capsys.readouterr().out
    assert out.count("exists; kept") == len(zoo.MODELS)
    assert retrain.resolve(["exercises"]) == [n for n, s in zoo.MODELS.items() if s.exercise]
    assert retrain.resolve(["pollen_cnn", "all"])[0] == "pollen_cnn" and len(retrain.resolve(["all", "all"])) == len(zoo.MODELS)
    assert retrain.main(["--list"]) == 0 and "continual_replay_memory_250" in capsys.readouterr().out


def test_settings_from_the_command_line_take_the_recipes_types():
    assert retrain.parse_settings("pollen_cnn", ["seed=1", "augment=false", "dropout=0.5"]) == \
        {"seed": 1, "augment": False, "dropout": 0.5}
    for bad in ("seed", "epochs=ten", "augment=maybe", "lr=1"):
        with pytest.raises(ValueError, match="--set"):
            retrain.parse_settings("pollen_cnn", [bad])
    with pytest.raises(SystemExit):
        retrain.main(["pollen_cnn", "--set", "seed=1"])  # a variant needs --out-dir


@pytest.mark.parametrize("strategy", continual.STRATEGY_NAMES)
def test_zoo_trains_each_strategy_end_to_end_into_a_loadable_checkpoint(strategy, fake_root, tmp_path, monkeypatch):
    from xaihelpers import data

    monkeypatch.setenv(data.DATA_ROOT_ENV, str(fake_root))  # CIFAR-10 with 2 classes of 3 images
    state = torch.random.get_rng_state()
    own = {"ewc": {"fisher_samples": 2}, "replay": {"memory_size": 2}}.get(strategy, {})
    out = zoo.train(f"continual_{strategy}", out=tmp_path / "run.pt", progress=False, epochs=1, train_per_class=3,
                    pretrain_epochs=1, **own)
    assert torch.equal(state, torch.random.get_rng_state())  # the library does not touch the global generator
    models, meta = zoo.load(f"continual_{strategy}", out)
    assert meta["model"] == f"continual_{strategy}" and meta["strategy"] == strategy
    assert meta["dataset"] == "cifar10" and meta["tasks"] == 1 and len(models) == 1
    assert meta["train_per_class"] == 3 and meta["epochs"] == 1
    assert meta["start"] == "pretrained" and meta["frozen"] == (strategy == "generative")
    # Every strategy starts from the layers its pretraining recorded; generative replay keeps them.
    kept = continual.state_sha256(models[0].hidden_state()) == meta["pretraining"]["state_sha256"]
    assert kept == (strategy == "generative")
    with pytest.raises(checkpoints.CheckpointError, match="is a checkpoint of 'continual_"):
        _load_as_another_family(out)


def _load_as_another_family(path):
    """A continual checkpoint that says which model it is, loaded as a CIFAR CNN."""
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = payload["states"][0]
    fake = path.with_name("relabelled.pt")
    torch.save(payload, fake)
    return zoo.load("cifar10_gap", fake)


def test_every_book_learner_starts_from_the_same_pretrained_layers_and_the_ablations_from_scratch():
    """The strategies differ only in the strategy (the study ran all of them with BI-R's --pre-convE);
    the from-scratch runs are the named ablation."""
    book = ("baseline", "ewc", "replay", "generative")
    hashes = {}
    for name, spec in zoo.MODELS.items():
        if spec.family != "continual":
            continue
        models, meta = zoo.load(name)
        if spec.recipe["start"] == "scratch":
            assert "pretraining" not in meta and name.endswith("_scratch"), name
            continue
        hashes[name] = meta["pretraining"]["state_sha256"]
        if meta["strategy"] == "generative":  # frozen: every state still holds the pretrained layers
            for model in models:
                assert continual.state_sha256(model.hidden_state()) == hashes[name], name
    assert len(set(hashes.values())) == 1, hashes
    assert {f"continual_{s}" for s in book} <= set(hashes)
    assert {f"continual_{s}_scratch" for s in ("baseline", "ewc", "replay")} <= set(zoo.MODELS)


def test_the_command_pretrains_once_for_all_its_continual_learners(fake_root, tmp_path, monkeypatch, capsys):
    from xaihelpers import data

    monkeypatch.setenv(data.DATA_ROOT_ENV, str(fake_root))
    calls = []
    real = continual.pretrain_features

    def counted(*args, **kwargs):
        calls.append(kwargs["epochs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(continual, "pretrain_features", counted)
    tiny = ["--set", "epochs=1", "--set", "train_per_class=3", "--set", "pretrain_epochs=1"]
    for name in ("continual_baseline", "continual_replay"):  # separate commands: each pretrains
        assert retrain.main([name, "--out-dir", str(tmp_path / "out"), *tiny]) == 0
    assert calls == [1, 1]
    calls.clear()
    with continual.shared_pretraining():
        first = zoo.train("continual_baseline", out=tmp_path / "a.pt", progress=False, epochs=1, train_per_class=3,
                          pretrain_epochs=1)
        second = zoo.train("continual_generative", out=tmp_path / "b.pt", progress=False, epochs=1,
                           train_per_class=3, pretrain_epochs=1, vae_epochs=1, replay_batch=0)
        other = zoo.train("continual_ewc", out=tmp_path / "c.pt", progress=False, epochs=1, train_per_class=3,
                          pretrain_epochs=2, fisher_samples=2)
    assert calls == [1, 2]  # the second run with the same pretraining reused the first's
    hashes = [zoo.load(name, path)[1]["pretraining"]["state_sha256"]
              for name, path in (("continual_baseline", first), ("continual_generative", second), ("continual_ewc", other))]
    assert hashes[0] == hashes[1] != hashes[2]
    generative, _ = zoo.load("continual_generative", second)
    assert continual.state_sha256(generative[0].hidden_state()) == hashes[0]  # the reused state is the one frozen
    assert continual._SHARED_PRETRAINING is None  # nothing kept after the block
