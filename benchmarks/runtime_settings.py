"""Three settings that make the chapters faster without changing a printed digit, each against
what it replaced, in the same process.

- ``repro.seed_everything`` keeps torch's deterministic algorithms but switches off their NaN
  fill of every new tensor (``torch.utils.deterministic.fill_uninitialized_memory``): timed on
  Integrated Gradients (16 steps) of two ImageNet images, with the fill and without.
- ``classvis.class_model`` freezes the model's parameters while it climbs (``inference.frozen``),
  so the float64 depthwise convolutions compute no weight gradient: timed on 5 float64 steps of
  four 112-pixel class models, with the parameters frozen and (the earlier code) not.
- ``hooks.reduce_activations(stop_after=True)`` ends each pass at the last recorded layer: timed
  on chapter 1's recording of stage 4 for 20 images, whole passes against stopped ones.

Each pair runs alternately (three rounds, the median of each), and each line says whether the two
results are identical. Ratios are printed, not asserted.

    python benchmarks/runtime_settings.py    # (make bench)
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable
from unittest import mock

import torch

from _results import imagenet_batch, machine
from xaihelpers import attribution, classvis, hooks, inference, repro


def alternately(baseline: Callable[[], torch.Tensor], faster: Callable[[], torch.Tensor],
                rounds: int = 3) -> tuple[float, float, bool]:
    """Median seconds of ``baseline`` and ``faster``, run one after the other ``rounds`` times
    after one warm-up each, and whether their last results are equal."""
    times: dict[str, list[float]] = {"baseline": [], "faster": []}
    results = {}
    for round_ in range(rounds + 1):
        for name, run in (("baseline", baseline), ("faster", faster)):
            start = time.perf_counter()
            results[name] = run()
            if round_:
                times[name].append(time.perf_counter() - start)
    return (statistics.median(times["baseline"]), statistics.median(times["faster"]),
            torch.equal(results["baseline"], results["faster"]))


def with_nan_fill(run: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    def filled() -> torch.Tensor:
        torch.utils.deterministic.fill_uninitialized_memory = True
        try:
            return run()
        finally:
            torch.utils.deterministic.fill_uninitialized_memory = False
    return filled


def main() -> None:
    repro.seed_everything()
    classifier, images, target = imagenet_batch(2)
    model = classifier.model
    print(f"settings that keep every result, each against what it replaced ({machine()})")
    print(f"{'case':58s} {'before s':>9s} {'after s':>8s} {'ratio':>6s}  identical")

    def integrated_gradients() -> torch.Tensor:
        return attribution.integrated_gradients(model, images, target, steps=16)

    def class_models() -> torch.Tensor:
        return classvis.class_model(model, [55, 76, 130, 951], steps=5, size=112, blur_every=4, jitter=4,
                                    dtype=torch.float64).images

    def parameters_as_they_are() -> torch.Tensor:
        with mock.patch.object(inference, "frozen", lambda model: contextlib.nullcontext(model)):
            return class_models()

    stage4 = classifier.conv_stages["stage4"]
    twenty = torch.cat([images] * 10)

    def stage4_means(stop_after: bool) -> torch.Tensor:
        return hooks.reduce_activations(model, [stage4], twenty, lambda layer, maps, chunk: maps.mean(dim=(2, 3)),
                                        batch_size=10, stop_after=stop_after)[stage4]

    cases = [("deterministic mode: NaN fill -> none (IG, 16 steps, 2 images)", with_nan_fill(integrated_gradients),
              integrated_gradients),
             ("float64 class models: parameters as they are -> frozen", parameters_as_they_are, class_models),
             ("reduce_activations, stage 4 of 20 images: whole -> stop_after", lambda: stage4_means(False),
              lambda: stage4_means(True))]
    for name, baseline, faster in cases:
        before, after, identical = alternately(baseline, faster)
        print(f"{name:58s} {before:9.2f} {after:8.2f} {before / after:6.2f}  {'yes' if identical else 'NO'}")


if __name__ == "__main__":
    main()
