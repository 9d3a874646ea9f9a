"""The pollen split, the CNN and the committed checkpoint."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from xaihelpers import checkpoints, inference, pollen, repro, training, zoo


def test_split_is_stratified_and_reproducible():
    files = [f"c{c}/{i}.jpg" for c in range(3) for i in range(20 if c else 10)]
    labels = [int(f[1]) for f in files]
    first = pollen.make_split(files, labels, seed=0)
    assert first == pollen.make_split(files, labels, seed=0)
    assert first != pollen.make_split(files, labels, seed=1)
    for label, size in ((0, 10), (1, 20)):
        counts = Counter(s for f, s in first.items() if f.startswith(f"c{label}/"))
        assert counts == {"train": round(0.6 * size), "val": round(0.2 * size), "test": round(0.2 * size)}


def test_committed_split_matches_the_seed_rule():
    rows = pollen.read_split()
    assert len(rows) == 790
    counts = Counter((c, s) for _, c, s in rows)
    assert all(counts[c, "test"] == 7 for c in {c for _, c, _ in rows} if c != "anadenanthera")
    rebuilt = pollen.make_split([f for f, _, _ in rows], [c for _, c, _ in rows], seed=0)
    assert rebuilt == {f: s for f, _, s in rows}


def test_write_split_never_replaces_a_different_manifest(tmp_path):
    path = tmp_path / "split.csv"
    pollen.write_split({"a.jpg": "train"}, {"a.jpg": "x"}, path)
    pollen.write_split({"a.jpg": "train"}, {"a.jpg": "x"}, path)  # same content: fine
    with pytest.raises(FileExistsError):
        pollen.write_split({"a.jpg": "test"}, {"a.jpg": "x"}, path)


def test_cnn_shapes_and_modules():
    model = pollen.PollenCNN(23).eval()
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 23)
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 4 and len({id(m) for m in relus}) == 4
    for name in pollen.POLLEN_CONV_BLOCKS:
        model.get_submodule(name)


def test_missing_checkpoint_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m xaihelpers.retrain pollen_cnn"):
        zoo.load("pollen_cnn", tmp_path / "none.pt")


def test_save_refuses_to_overwrite(tmp_path):
    model = pollen.PollenCNN(3)
    meta = {"classes": ["a", "b", "c"], "mean": [0.5] * 3, "std": [0.2] * 3}
    path = checkpoints.save({"state_dict": model.state_dict(), "meta": meta}, tmp_path / "m.pt")
    with pytest.raises(FileExistsError):
        checkpoints.save({"state_dict": model.state_dict(), "meta": meta}, path)
    loaded, _ = zoo.load("pollen_cnn", path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


def test_grain_mask_finds_a_dark_disc_on_a_bright_background():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    disc = ((yy - 16) ** 2 + (xx - 16) ** 2) < 100
    image = torch.where(disc, 60, 200).to(torch.uint8).expand(1, 3, 32, 32)
    assert torch.equal(pollen.grain_mask(image)[0], disc)


def test_checkpoint_reaches_its_recorded_test_accuracy(mirror_root):
    model, meta = zoo.load("pollen_cnn")
    test = pollen.load_split("test")
    assert len(test.labels) == 158
    measured = inference.accuracy(model, test.images, test.labels)
    assert measured == pytest.approx(meta["test_accuracy"], abs=0.01)
    assert measured > 0.5  # chance is 1/23


def _tiny_pollen(symmetric: bool) -> pollen.PollenData:
    """Eight 16-pixel images of two classes. Symmetric ones are rings of one colour each around
    the centre: every flip and quarter turn leaves them exactly as they are."""
    generator = torch.Generator().manual_seed(0)
    if symmetric:
        side = torch.arange(16)
        to_border = torch.minimum(torch.minimum(side[:, None], side[None, :]),
                                  torch.minimum(15 - side[:, None], 15 - side[None, :]))
        images = torch.randint(0, 256, (8, 3, 8), generator=generator)[..., to_border]
    else:
        images = torch.randint(0, 256, (8, 3, 16, 16), generator=generator)
    return pollen.PollenData(images.to(torch.uint8), torch.arange(8) % 2, [f"{i}.png" for i in range(8)], ["a", "b"])


def _train_on(data: pollen.PollenData, monkeypatch, **settings):
    """``pollen.train`` for one epoch, for real, on ``data`` as its train, validation and test split."""
    monkeypatch.setattr(pollen, "load_split", lambda split, **kwargs: data)
    model, history, meta = pollen.train(epochs=1, progress=False, **settings)
    return [tensor.clone() for tensor in model.state_dict().values()], model, history, meta


def _same(first, second) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first, second))


def test_train_runs_the_training_loop_with_the_augmentation_and_dropout_it_is_asked_for(monkeypatch):
    state = torch.random.get_rng_state()
    asymmetric, symmetric = _tiny_pollen(symmetric=False), _tiny_pollen(symmetric=True)
    book, model, history, meta = _train_on(asymmetric, monkeypatch)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is left alone
    assert not model.training and len(history.train_loss) == len(history.val_accuracy) == 1
    assert meta["augment"] is True and meta["dropout"] == 0.3 == model.dropout.p and meta["epochs"] == 1
    assert meta["train_seconds"] > 0  # recorded for every new run
    assert _same(book, _train_on(asymmetric, monkeypatch)[0])  # seeded: the same weights again
    with repro.seeded(0):
        untrained = pollen.PollenCNN(2, *training.channel_statistics(asymmetric.images))
    assert not _same(book, untrained.state_dict().values())  # the loop has run
    # The book's augmentation flips and turns: on images that no flip or quarter turn changes it
    # changes nothing, on the others it changes what the network learns.
    plain, _, _, meta = _train_on(asymmetric, monkeypatch, augment=False)
    assert meta["augment"] is False and not _same(book, plain)
    assert _same(_train_on(symmetric, monkeypatch)[0], _train_on(symmetric, monkeypatch, augment=False)[0])
    stronger, model, _, meta = _train_on(asymmetric, monkeypatch, dropout=0.5)
    assert meta["dropout"] == 0.5 == model.dropout.p and not _same(book, stronger)
    with pytest.raises(ValueError, match="dropout"):
        pollen.train(epochs=1, progress=False, dropout=1.0)


def test_the_zoo_trains_a_pollen_checkpoint_that_records_its_recipe_and_seconds(monkeypatch, tmp_path):
    tiny = _tiny_pollen(symmetric=False)
    monkeypatch.setattr(pollen, "load_split", lambda split, **kwargs: tiny)
    path = zoo.train("pollen_cnn", out=tmp_path / "pollen.pt", progress=False, epochs=1, dropout=0.5)
    model, meta = zoo.load("pollen_cnn", path)
    assert meta["model"] == "pollen_cnn" and meta["epochs"] == 1 and meta["augment"] is True
    assert meta["dropout"] == 0.5 == model.dropout.p and meta["train_seconds"] > 0
    with torch.no_grad():
        right = (model(tiny.images.float() / 255).argmax(dim=1) == tiny.labels).sum().item()
    assert meta["test_accuracy"] == pytest.approx(right / 8)
