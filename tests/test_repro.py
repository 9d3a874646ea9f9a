"""One call makes random draws repeatable and fixes the thread count."""

import random

import numpy as np
import pytest
import torch

from xaihelpers import repro


def test_seed_everything_repeats_every_generator():
    def draw():
        generator = repro.seed_everything(123, threads=1)
        return random.random(), np.random.rand(), torch.rand(3), torch.rand(2, generator=generator)

    first, second = draw(), draw()
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
    assert torch.get_num_threads() == 1
    assert torch.are_deterministic_algorithms_enabled()
    repro.seed_everything()
    assert torch.get_num_threads() == repro.DEFAULT_THREADS


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        repro.seed_everything(threads=0)


def test_an_import_that_draws_random_numbers_leaves_the_callers_streams_alone(tmp_path, monkeypatch):
    import random

    import numpy as np

    (tmp_path / "draws_on_import.py").write_text(
        "import random, numpy, torch\nVALUES = (random.random(), numpy.random.rand(), torch.rand(1).item())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    module = repro.import_keeping_generators("draws_on_import")
    assert module.VALUES == expected  # it did draw, from the caller's streams
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected  # which then went on unmoved
