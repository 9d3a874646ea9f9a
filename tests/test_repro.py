"""One call makes random draws repeatable and fixes the thread count."""

import os
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
    # Deterministic mode without its NaN fill of every new tensor, which costs time and changes no result.
    assert not torch.utils.deterministic.fill_uninitialized_memory
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


def test_gaussian_draws_are_standard_normal():
    from scipy import stats

    draws = repro.gaussian((200_000,), torch.Generator().manual_seed(0))
    assert draws.dtype == torch.float32 and draws.shape == (200_000,)
    # Kolmogorov-Smirnov against N(0, 1): at this sample size a wrong mean, scale or shape of the
    # order of 1% gives a p-value far below 1e-3.
    assert stats.kstest(draws.double().numpy(), "norm").pvalue > 1e-3
    assert stats.kstest((draws * 1.02).double().numpy(), "norm").pvalue < 1e-3


def test_gaussian_draws_continue_one_stream():
    generator = torch.Generator().manual_seed(3)
    first, second = repro.gaussian((5, 7), generator), repro.gaussian((11,), generator)
    together = repro.gaussian((46,), torch.Generator().manual_seed(3))
    assert torch.equal(torch.cat([first.flatten(), second]), together)
    assert not torch.equal(together, repro.gaussian((46,), torch.Generator().manual_seed(4)))


def test_gaussian_draws_are_the_same_without_vector_instructions():
    # torch's scalar kernels (ATEN_CPU_CAPABILITY=default, as on a CPU without AVX2) draw other
    # randn values from the same seed; repro.gaussian must not.
    import hashlib
    import subprocess
    import sys

    code = ("import hashlib, torch; from xaihelpers import repro; "
            "print(hashlib.sha256(repro.gaussian((1_000_000,), torch.Generator().manual_seed(1))"
            ".numpy().tobytes()).hexdigest())")
    here = repro.gaussian((1_000_000,), torch.Generator().manual_seed(1))
    scalar = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "ATEN_CPU_CAPABILITY": "default"}).stdout.strip()
    assert scalar == hashlib.sha256(here.numpy().tobytes()).hexdigest()


def test_the_machine_line_names_the_cpu_its_instructions_cores_and_torch():
    line = repro.machine()
    assert torch.backends.cpu.get_cpu_capability() in line
    assert f"{os.cpu_count()} cores" in line and f"torch {torch.__version__}" in line
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            model = next((l.split(":", 1)[1].strip() for l in handle if l.startswith("model name")), None)
        if model:
            assert line.startswith(model)
