"""What the benchmark scripts share: the machine line and storing a measured table."""

from __future__ import annotations

import json
import statistics
import time
from typing import Callable, Sequence

import torch

from xaihelpers import data, imagenet, repro

OUT = data.MEASURED_DIR


def machine() -> str:
    """The CPU, its vector instructions, core count and torch version: the context every stored ratio needs."""
    return repro.machine()


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[object, float]:
    """``run()``'s last result and the median of its wall times over ``repeats`` runs."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def write(name: str, header: Sequence[str], rows: Sequence[Sequence[str]], meta: dict, sep: str = ",") -> None:
    """Store ``OUT/name.csv`` (the table) and ``OUT/name.json`` (model, batch, machine)."""
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [sep.join(header)] + [sep.join(row) for row in rows]
    (OUT / f"{name}.csv").write_text("\n".join(lines) + "\n")
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"written to {OUT}")


def imagenet_batch(size: int) -> tuple[imagenet.ImageNetClassifier, torch.Tensor, torch.Tensor]:
    """The ImageNet model (by the switch), ``size`` sample images spread over the classes, and the
    model's predicted class for each."""
    classifier = imagenet.load_imagenet_model()
    samples = data.load_dataset("imagenet_samples", "all", transform=classifier.preprocess)
    images = torch.stack([samples[i][0] for i in range(0, 1000, 1000 // size)][:size])
    with torch.no_grad():
        target = classifier.model(images).argmax(dim=1)
    return classifier, images, target
