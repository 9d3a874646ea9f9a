"""Data root resolution, the registry, the missing-data error and verified downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision import transforms

from xaihelpers import data, fetch


def test_data_root_defaults_to_repository_data(monkeypatch):
    monkeypatch.delenv(data.DATA_ROOT_ENV, raising=False)
    assert data.data_root() == data.DEFAULT_DATA_ROOT
    assert data.DEFAULT_DATA_ROOT == Path(__file__).resolve().parents[1] / "data"
    assert data.REPO_ROOT == Path(__file__).resolve().parents[1]


def test_data_root_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path))
    assert data.data_root() == tmp_path.resolve()


def test_missing_data_root_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DataRootError, match=data.DATA_ROOT_ENV):
        data.data_root()


def test_missing_dataset_error_names_variable_and_download_command(tmp_path):
    with pytest.raises(data.DatasetNotFoundError) as caught:
        data.dataset_dir("cifar10", tmp_path)
    message = str(caught.value)
    assert data.DATA_ROOT_ENV in message
    assert "python -m xaihelpers.fetch get cifar10" in message
    assert str(tmp_path / "cifar10") in message


def test_missing_pollen_error_says_where_to_get_it(tmp_path):
    with pytest.raises(data.DatasetNotFoundError, match="python -m xaihelpers.fetch get pollen"):
        data.load_dataset("pollen", split="all", root=tmp_path)


def test_unknown_dataset_and_split_are_refused(fake_root):
    with pytest.raises(KeyError, match="Known data sets"):
        data.dataset_dir("mnist", fake_root)
    with pytest.raises(ValueError, match="splits"):
        data.load_dataset("cifar10", split="validation", root=fake_root)


def test_registry_lists_the_books_datasets():
    assert set(data.REGISTRY) == {"cifar10", "cifar100", "pollen", "imagenet_samples"}
    assert data.available(Path("/nonexistent")) == dict.fromkeys(data.REGISTRY, False)


def test_cifar_mirror_layout_reads_as_imagefolder(fake_root):
    dataset = data.load_dataset("cifar10", "test", transforms.ToTensor(), root=fake_root)
    assert len(dataset) == 6
    assert dataset.classes == ["airplane", "automobile"]
    image, label = dataset[5]
    assert image.shape == (3, 32, 32) and label == 1


def test_imagenet_samples_are_labelled_by_wnid(fake_root):
    dataset = data.load_dataset("imagenet_samples", "all", root=fake_root)
    assert dataset.targets == [0, 2, 4]
    image, label = dataset[1]
    assert image.mode == "RGB" and image.size == (48, 40) and label == 2


def test_imagenet_samples_need_the_class_index(fake_root):
    (fake_root / "imagenet" / "imagenet_class_index.json").unlink()
    with pytest.raises(data.DatasetNotFoundError, match="class index"):
        data.ImageNetSamples(fake_root)


def test_datasets_without_direct_download_explain_how(tmp_path):
    with pytest.raises(ValueError, match="python -m xaihelpers.fetch get pollen"):
        fetch.download_official("pollen", tmp_path)


def test_cli_info_lists_every_dataset(capsys, monkeypatch, fake_root):
    monkeypatch.setenv(data.DATA_ROOT_ENV, str(fake_root))
    assert fetch._main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cifar10            present" in out
    assert "pollen             missing" in out


# --- the real data root (the offline mirror in CI) -------------------------------------------


def test_mirror_cifar10_has_the_official_classes_and_sizes(mirror_root):
    test = data.load_dataset("cifar10", "test", transforms.ToTensor())
    assert len(test) == 10_000
    assert test.classes == ["airplane", "automobile", "bird", "cat", "deer",
                            "dog", "frog", "horse", "ship", "truck"]
    image, _ = test[0]
    assert image.shape == (3, 32, 32)


def test_mirror_pollen_reads_tiff_behind_jpg_names(mirror_root):
    pollen = data.load_dataset("pollen", "all")
    assert len(pollen) == 790 and len(pollen.classes) == 23
    tiff_index = next(i for i, (path, _) in enumerate(pollen.samples) if open(path, "rb").read(2) in (b"II", b"MM"))
    image, _ = pollen[tiff_index]
    assert image.mode == "RGB"


def test_mirror_imagenet_samples_cover_every_class_in_order(mirror_root):
    samples = data.load_dataset("imagenet_samples", "all")
    assert len(samples) == 1000
    assert samples.targets == list(range(1000))
    assert torch.tensor(samples.targets).unique().numel() == 1000
