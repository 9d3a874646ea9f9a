"""The pollen split, the CNN and the committed checkpoint."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from xaihelpers import checkpoints, pollen, training, zoo


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
    with pytest.raises(FileNotFoundError, match="python -m xaihelpers.train pollen_cnn"):
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
    measured = training.accuracy(model, test.images, test.labels)
    assert measured == pytest.approx(meta["test_accuracy"], abs=0.01)
    assert measured > 0.5  # chance is 1/23


def test_train_passes_the_augmentation_and_dropout_it_is_asked_for(monkeypatch):
    seen = {}

    def fake_fit(model, images, labels, **options):
        seen["augment"], seen["dropout"] = options["augment"], model.dropout.p
        return training.History(train_loss=[1.0], val_accuracy=[0.5])

    fake = pollen.PollenData(torch.zeros(4, 3, 64, 64, dtype=torch.uint8), torch.tensor([0, 1, 0, 1]),
                             ["a", "b", "c", "d"], ["x", "y"])
    monkeypatch.setattr(pollen, "load_split", lambda split, **kwargs: fake)
    monkeypatch.setattr(training, "fit", fake_fit)
    _, _, meta = pollen.train(epochs=1, progress=False)
    assert seen == {"augment": training.flips_and_rotations, "dropout": 0.3}
    assert meta["augment"] is True and meta["dropout"] == 0.3
    _, _, meta = pollen.train(epochs=1, progress=False, augment=False, dropout=0.5)
    assert seen == {"augment": None, "dropout": 0.5}
    assert meta["augment"] is False and meta["dropout"] == 0.5
    with pytest.raises(ValueError, match="dropout"):
        pollen.train(epochs=1, progress=False, dropout=1.0)


