"""The shared-results cache, the results folder, and the CIFAR comparison that uses the cache."""

from __future__ import annotations

import os

import pytest
import torch

from xaihelpers import cache, cifar, comparison, tables


def test_memoize_computes_once_per_key_and_never_serves_another_key(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    calls = []

    def compute(value):
        calls.append(value)
        return torch.full((2,), float(value))

    first = cache.memoize_tensor("numbers", {"value": 1}, lambda: compute(1))
    again = cache.memoize_tensor("numbers", {"value": 1}, lambda: compute(1))
    other = cache.memoize_tensor("numbers", {"value": 2}, lambda: compute(2))
    assert calls == [1, 2]
    assert torch.equal(first, again) and other.tolist() == [2.0, 2.0]
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(oct(f.stat().st_mode)[-3:] == "644" for f in files)
    assert not [f for f in files if f.name.startswith(".")]  # no temporary file left behind


def test_a_damaged_cache_file_is_computed_again(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    cache.memoize_tensor("numbers", {"value": 1}, lambda: torch.ones(3))
    (stored,) = tmp_path.iterdir()
    stored.write_bytes(b"not a tensor file")
    assert cache.memoize_tensor("numbers", {"value": 1}, lambda: torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert cache.memoize_tensor("numbers", {"value": 1}, lambda: torch.ones(3)).tolist() == [0.0, 0.0, 0.0]


def test_an_unwritable_cache_still_returns_the_result(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocked / "cache"))
    assert cache.memoize_tensor("numbers", {}, lambda: torch.ones(1)).item() == 1.0


def test_digests_follow_content():
    a = torch.arange(6).view(2, 3)
    assert cache.tensor_digest(a) == cache.tensor_digest(a.clone())
    assert cache.tensor_digest(a) != cache.tensor_digest(a.view(3, 2))
    assert cache.tensor_digest(a) != cache.tensor_digest(a.float())
    with pytest.raises(ValueError, match="file name"):
        cache.memoize_tensor("../escape", {}, lambda: a)


def test_results_dir_follows_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(tables.RESULTS_ENV, str(tmp_path))
    assert tables.results_dir("continual_learning") == tmp_path / "continual_learning"
    monkeypatch.delenv(tables.RESULTS_ENV)
    assert tables.results_dir("x").parts[-2:] == ("results", "x")
    with pytest.raises(ValueError, match="one folder name"):
        tables.results_dir("../x")


def test_the_test_run_writes_results_and_cache_outside_the_repository():
    for variable in (tables.RESULTS_ENV, cache.CACHE_ENV):
        folder = os.environ.get(variable, "")
        assert folder and not os.path.realpath(folder).startswith(str(cifar.data.REPO_ROOT))


def test_compare_models_predicts_every_image_and_reuses_the_cache(fake_root, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    compared = comparison.compare_models(("gap", "allconv"), root=fake_root, counts={})
    assert set(compared.probabilities) == {"gap", "allconv"}
    for probabilities in compared.probabilities.values():
        assert probabilities.shape == (6, 10)
        assert torch.allclose(probabilities.sum(dim=1), torch.ones(6), atol=1e-5)
    assert sorted(compared.order.tolist()) == list(range(6))
    model = compared.models["gap"]
    expected = torch.softmax(model(compared.test.images.float() / 255), dim=1)
    assert torch.allclose(compared.probabilities["gap"], expected, atol=1e-5)
    assert len(list((tmp_path / "cache").iterdir())) == 2
    again = comparison.compare_models(("gap", "allconv"), root=fake_root, counts={})
    assert all(torch.equal(again.probabilities[a], compared.probabilities[a]) for a in again.probabilities)
    table = compared.accuracy_table()
    assert list(table.index) == ["gap", "allconv"] and table["test accuracy"].between(0, 1).all()
    loss = -compared.probabilities["gap"].gather(1, compared.test.labels.view(-1, 1)).log().mean().item()
    assert table.loc["gap", "test loss"] == pytest.approx(loss, abs=1e-3)
