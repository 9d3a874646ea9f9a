"""Reproducibility: one call that makes a chapter's printed numbers repeatable on a CPU."""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import random
from typing import Iterator, Optional, Sequence

import numpy as np
import torch

#: The seed every chapter uses unless it says otherwise.
DEFAULT_SEED = 0
#: Thread count fixed for all chapters: the order of floating-point reductions (and so the last
#: digits of every printed number) depends on how many threads share the work.
DEFAULT_THREADS = 2


def seed_everything(seed: int = DEFAULT_SEED, threads: int = DEFAULT_THREADS) -> torch.Generator:
    """Seed Python, NumPy and torch, and make torch deterministic.

    Sets ``torch.use_deterministic_algorithms(True)`` (warn-only, so that operations without a
    deterministic kernel still run) and fixes the number of intra-op threads, because the outcome
    of a parallel reduction depends on how the work is split. Deterministic mode would also fill
    every new tensor with NaN before use (``torch.utils.deterministic.fill_uninitialized_memory``),
    a guard against kernels that read memory they never wrote; no result changes without it, and
    on a CPU it made passes of the ImageNet model 1.15x to 1.5x slower
    (``benchmarks/runtime_settings.py``), so it is switched off.

    Args:
        seed: The seed for every generator.
        threads: Number of intra-op threads torch may use.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for code that wants its own stream.

    Raises:
        ValueError: If ``threads`` is not positive.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    # PYTHONHASHSEED is not set here: Python reads it only at start-up, so setting it now would
    # change nothing. Nothing in the book depends on the order of a set of strings.
    # Needed by cuBLAS for deterministic results when a reader runs a chapter on a GPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def gaussian(shape: Sequence[int], generator: torch.Generator) -> torch.Tensor:
    """Standard normal draws of ``shape`` (float32, on the CPU) whose bits are the same on every
    x86 CPU, drawn from ``generator`` (a CPU generator).

    torch's own ``randn`` and ``normal`` are not: their vectorised kernels (AVX2, AVX-512) and the
    scalar one that a CPU without them runs give different draws from the same seed, and the
    optimisations that start from such noise amplify the difference into other printed numbers
    (chapters 6 and 8). ``rand`` gives the same uniforms everywhere, so the draws are made from
    them by the Box-Muller transform (Box and Muller 1958), in float64: the vectorised and scalar
    ``log`` and ``cos`` differ by at most an ulp in float64, far below float32's rounding. Each
    draw takes the next two uniforms of the stream, so drawing ``a`` and then ``b`` values gives
    the same numbers as drawing ``a + b`` at once.
    """
    count = math.prod(shape)
    uniforms = torch.rand(count, 2, generator=generator, dtype=torch.float64)
    # 1 - u lies in (0, 1], so the logarithm is finite.
    radius = torch.sqrt(-2.0 * torch.log1p(-uniforms[:, 0]))
    return (radius * torch.cos(2.0 * math.pi * uniforms[:, 1])).to(torch.float32).reshape(tuple(shape))


@contextlib.contextmanager
def seeded(seed: int, device: Optional[torch.device | str] = None) -> Iterator[None]:
    """Run a block with torch's global generator seeded with ``seed``, and restore it afterwards.

    For library code that must draw from the global generator (a module's default initialiser,
    dropout, a library that takes no generator): the block is reproducible, and the caller's
    random stream continues afterwards as if the block had not run. With a CUDA ``device`` its
    generator is forked and seeded too.
    """
    device = torch.device(device or "cpu")
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if devices:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        yield


@contextlib.contextmanager
def keeping_generators() -> Iterator[None]:
    """Put Python's, NumPy's and torch's global (CPU) generators back as they were after the block,
    also when it raises: for library calls that draw from them as a side effect."""
    python_state, numpy_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        torch.set_rng_state(torch_state)


def import_keeping_generators(name: str):
    """Import module ``name`` with :func:`keeping_generators`: some libraries draw from the global
    generators while they are first imported (lime 0.2.0.1 and shap 0.51 from Python's
    ``random``), which would move a caller's random stream."""
    with keeping_generators():
        return importlib.import_module(name)


def machine() -> str:
    """The machine a measurement ran on, for every stored figure: the CPU's model name and family
    (from ``/proc/cpuinfo`` where there is one), the vector instructions torch uses (AVX512, AVX2
    or DEFAULT), the core count and torch's version."""
    import platform

    name, family, model = platform.processor() or platform.machine(), "", ""
    try:
        with open("/proc/cpuinfo") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line and not line.isspace())
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        name = fields.get("model name", name)
        family, model = fields.get("cpu family", ""), fields.get("model", "")
    except OSError:
        pass
    where = f" (family {family} model {model})" if family else ""
    return (f"{name}{where}, {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}")


def best_device() -> torch.device:
    """The device chapters run on: CUDA when present, else the CPU.

    The committed outputs are produced on the CPU; on a GPU the figures look the same but the last
    printed digits may differ.
    """
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
