"""Settings that make the chapters faster without changing a printed digit, each against what it
replaced, in the same process.

- ``repro.seed_everything`` keeps torch's deterministic algorithms but switches off their NaN
  fill of every new tensor (``torch.utils.deterministic.fill_uninitialized_memory``): timed on
  Integrated Gradients (16 steps) of two ImageNet images, with the fill and without.
- ``classvis.class_model`` freezes the model's parameters while it climbs (``inference.frozen``),
  so the float64 depthwise convolutions compute no weight gradient: timed on 5 float64 steps of
  four 112-pixel class models, with the parameters frozen and (the earlier code) not.
- ``classvis``'s float64 depthwise convolutions sum their kernel taps in compiled loops over the
  model's channels-last arrays (``_compiled_sums``, numba) instead of one ``addcmul_`` per tap
  over whole tensors: the same 5 float64 steps of four class models. The first call in a process
  compiles the loops (about 10 s), which the ratio leaves out.
- ``classvis.class_model`` folds the batch norms of its float64 copy of the model into the
  convolutions (``inference.batch_norms_folded``): 40 float64 steps of the same four class models
  (the fold costs a copy and three passes once, which 5 steps would not repay), the copy as
  converted against the folded one. The sums are taken in another order, so the
  results differ in the last bits (about 1e-15 of the largest value), far below the printed digits.
- ``evaluation.deletion_insertion`` and ``explainers.lime_predict_fn`` (LIME, SHAP's Partition
  explainer) run their forward passes through a copy of the model with its batch norms folded
  (``inference.for_inference``): the curves of four maps of two ImageNet images (10 steps, shared
  ends), and LIME with 1,000 samples on three pollen images, each with the model itself against the
  folded copy. Their results differ in the last bits of float32 (about 1e-7 to 1e-6).
- ``hooks.reduce_activations(stop_after=True)`` ends each pass at the last recorded layer: timed
  on chapter 1's recording of stage 4 for 20 images, whole passes against stopped ones.
- Chapter 1 records its ImageNet stages 2 images per pass instead of 10: the same stage-4
  recording, stopped passes, 10 images per pass against 2.
- ``evaluation.deletion_insertion(answers=...)`` passes the untouched images and the full
  reference once for several maps of the same images (chapter 10's ImageNet tables): the curves
  of four maps of two ImageNet images (10 steps), each call on its own against shared answers.
- ``explainers.lime_maps(answers=...)`` answers a batch of perturbed images the model has already
  seen from the caller's dict (chapter 12's runs with 300, 1,000 and 2,000 samples and one seed):
  three pollen images (the pollen CNN), the three runs on their own against shared answers.
- ``explainers.lime_maps`` builds LIME's perturbed images a batch at a time
  (``_lime_explainer_class``) instead of lime 0.2.0.1's loop over rows and superpixels: the
  1,000 perturbed images of each of three pollen images (``data_labels`` with a classifier that
  costs nothing), lime's own ``LimeImageExplainer`` (its bar silenced) against it.
- ``attribution.smoothgrad_sweep`` gives both averages of one run of noisy copies (chapter 6's
  figures): two ``smoothgrad`` calls (signed, absolute) against one sweep, two ImageNet images.
- ``evaluation.cascading_randomization(explained=(0, -1))`` explains only the two steps the
  closing chapter's scorecard reads: saliency on the pollen CNN's five layers, four images.
- ``continual.forgetting_interval`` counts how often each resample draws each test image instead
  of gathering the draws (chapter 14's intervals): two learners of the committed record, 2,000
  resamples, the gathered mean (what it replaced) against the counts.

Each pair runs alternately (three rounds, the median of each), and each line says whether the two
results are identical, or else their largest difference relative to the largest value. Ratios are
printed, not asserted. A last line gives the price of float64 that chapter 8 states: the same
class-model steps in float64 against float32 (other results, by design).

    python benchmarks/runtime_settings.py    # (make bench)
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable, Optional, Sequence
from unittest import mock

import numpy as np
import torch

from _results import imagenet_batch, machine
from xaihelpers import (attribution, classvis, continual, evaluation, explainers, hooks, inference, methods, pollen,
                        repro, zoo)
from xaihelpers.chapter import POLLEN_RANDOMIZATION_LAYERS


def alternately(baseline: Callable[[], torch.Tensor], faster: Callable[[], torch.Tensor],
                rounds: int = 3) -> tuple[float, float, float]:
    """Median seconds of ``baseline`` and ``faster``, run one after the other ``rounds`` times
    after one warm-up each, and the largest difference of their last results relative to the
    baseline's largest value (0 where they are equal)."""
    times: dict[str, list[float]] = {"baseline": [], "faster": []}
    results = {}
    for round_ in range(rounds + 1):
        for name, run in (("baseline", baseline), ("faster", faster)):
            start = time.perf_counter()
            results[name] = run()
            if round_:
                times[name].append(time.perf_counter() - start)
    baseline_result, faster_result = results["baseline"], results["faster"]
    difference = 0.0 if torch.equal(baseline_result, faster_result) else \
        float((baseline_result - faster_result).abs().max() / baseline_result.abs().max())
    return statistics.median(times["baseline"]), statistics.median(times["faster"]), difference


def unfolded(run: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """``run`` with every forward pass through the model itself instead of its folded copy."""
    def as_before() -> torch.Tensor:
        with mock.patch.object(inference, "for_inference", lambda model, example: model):
            return run()
    return as_before


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
    print(f"settings that keep every printed result, each against what it replaced ({machine()})")
    print(f"{'case':66s} {'before s':>9s} {'after s':>8s} {'ratio':>6s}  identical")

    def integrated_gradients() -> torch.Tensor:
        return attribution.integrated_gradients(model, images, target, steps=16)

    def class_models(steps: int = 5) -> torch.Tensor:
        return classvis.class_model(model, [55, 76, 130, 951], steps=steps, size=112, blur_every=4, jitter=4,
                                    dtype=torch.float64).images

    def parameters_as_they_are() -> torch.Tensor:
        with mock.patch.object(inference, "frozen", lambda model: contextlib.nullcontext(model)):
            return class_models()

    def batch_norms_as_they_are(steps: int) -> torch.Tensor:
        with mock.patch.object(inference, "batch_norms_folded", lambda model, example: model):
            return class_models(steps)

    def sums_per_tap() -> torch.Tensor:
        with mock.patch.object(classvis, "_compiled_sums_for", lambda tensor: None):
            return class_models()

    stage4 = classifier.conv_stages["stage4"]
    twenty = torch.cat([images] * 10)

    def stage4_means(stop_after: bool, batch_size: int = 10) -> torch.Tensor:
        return hooks.reduce_activations(model, [stage4], twenty, lambda layer, maps, chunk: maps.mean(dim=(2, 3)),
                                        batch_size=batch_size, stop_after=stop_after)[stage4]

    maps = [torch.rand(len(images), *images.shape[-2:], generator=torch.Generator().manual_seed(seed))
            for seed in range(4)]

    def curves(shared: bool) -> torch.Tensor:
        answers = {} if shared else None
        return torch.cat([torch.cat([curve.deletion, curve.insertion], dim=1) for curve in (
            evaluation.deletion_insertion(model, images, random_map, target, steps=10, answers=answers)
            for random_map in maps)])

    pollen_model, _ = zoo.load("pollen_cnn")
    pollen_images = inference.to_float(pollen.load_split("test").images[:4])
    pollen_target = inference.predict_proba(pollen_model, pollen_images).argmax(dim=1)

    def lime_runs(shared: bool) -> torch.Tensor:
        answers = {} if shared else None
        return torch.cat([explainers.lime_maps(pollen_model, pollen_images[:3], pollen_target[:3], num_samples=count,
                                               batch_size=200, answers=answers) for count in (300, 1000, 2000)])

    def lime_thousand() -> torch.Tensor:
        return explainers.lime_maps(pollen_model, pollen_images[:3], pollen_target[:3], num_samples=1000,
                                    batch_size=200)

    def smoothgrad_averages(swept: bool) -> torch.Tensor:
        samples = attribution.SMOOTHGRAD["samples"]
        if swept:
            run = attribution.smoothgrad_sweep(model, images, target, sigma=attribution.SMOOTHGRAD["sigma"],
                                               counts=[samples])
            return torch.cat([run["signed", samples], run["absolute", samples]])
        return torch.cat([attribution.smoothgrad(model, images, target, average=average)
                          for average in ("signed", "absolute")])

    pollen_pictures = [picture.permute(1, 2, 0).double().numpy() for picture in pollen_images[:3]]

    def lime_perturbations(lime_s_own: bool) -> torch.Tensor:
        lime_image = repro.import_keeping_generators("lime.lime_image")
        explainer = (lime_image.LimeImageExplainer if lime_s_own else explainers._lime_explainer_class())(random_state=0)
        segment, answers = explainers.slic_segmentation(), []
        with mock.patch.object(lime_image, "tqdm", lambda rows: rows):
            for picture in pollen_pictures:
                # A classifier that costs nothing: what is timed is the making of the images.
                _, labels = explainer.data_labels(picture, picture * 0.5, segment(picture),
                                                  lambda batch: batch.reshape(len(batch), -1).sum(axis=1)[:, None],
                                                  1000, batch_size=200)
                answers.append(torch.from_numpy(labels))
        return torch.cat(answers)

    saliency = methods.bind("saliency")

    def randomization(explained: Optional[Sequence[int]]) -> torch.Tensor:
        result = evaluation.cascading_randomization(pollen_model, saliency, pollen_images, pollen_target,
                                                    POLLEN_RANDOMIZATION_LAYERS, explained=explained)
        return result.spearman[[0, -1]]

    learners = [entry["correct"] for entry in continual.read_correct_record(continual.CORRECT_RECORD).values()][:2]

    def gathered_forgetting(correct, chosen):
        drops = []
        for per_task, indices in zip(correct, chosen):
            accuracy = per_task[:, indices].mean(axis=2)
            drops.append(accuracy[:-1].max(axis=0) - accuracy[-1])
        return np.mean(drops, axis=0)

    def forgetting(gathered: bool) -> torch.Tensor:
        with mock.patch.object(continual, "_forgetting_from_correct", gathered_forgetting) if gathered \
                else contextlib.nullcontext():
            interval = continual.forgetting_interval(*learners)
        return torch.tensor([interval.low, interval.mean, interval.high])

    cases = [("deterministic mode: NaN fill -> none (IG, 16 steps, 2 images)", with_nan_fill(integrated_gradients),
              integrated_gradients),
             ("float64 class models: parameters as they are -> frozen", parameters_as_they_are, class_models),
             ("float64 depthwise sums: addcmul_ per tap -> compiled", sums_per_tap, class_models),
             ("float64 class models, 40 steps: batch norms as they are -> folded", lambda: batch_norms_as_they_are(40),
              lambda: class_models(40)),
             ("reduce_activations, stage 4 of 20 images: whole -> stop_after", lambda: stage4_means(False),
              lambda: stage4_means(True)),
             ("stage 4 of 20 images, stopped passes: 10 -> 2 images per pass", lambda: stage4_means(True),
              lambda: stage4_means(True, batch_size=2)),
             ("curves of 4 maps, 2 ImageNet images: alone -> shared ends", lambda: curves(False), lambda: curves(True)),
             ("LIME 300/1000/2000 samples, 3 images: alone -> shared answers", lambda: lime_runs(False),
              lambda: lime_runs(True)),
             ("curves of 4 maps, 2 ImageNet images: model -> batch norms folded", unfolded(lambda: curves(True)),
              lambda: curves(True)),
             ("LIME 1,000 samples, 3 pollen images: model -> batch norms folded", unfolded(lime_thousand),
              lime_thousand),
             ("LIME's 1,000 perturbed images, 3 pollen images: loop -> batched", lambda: lime_perturbations(True),
              lambda: lime_perturbations(False)),
             ("SmoothGrad signed + absolute, 2 images: two runs -> one sweep", lambda: smoothgrad_averages(False),
              lambda: smoothgrad_averages(True)),
             ("randomisation, saliency, 5 layers: every step -> first, last", lambda: randomization(None),
              lambda: randomization((0, -1))),
             ("forgetting interval, 2,000 resamples: gathered -> counted", lambda: forgetting(True),
              lambda: forgetting(False))]
    for name, baseline, faster in cases:
        before, after, difference = alternately(baseline, faster)
        print(f"{name:66s} {before:9.2f} {after:8.2f} {before / after:6.2f}  "
              f"{'yes' if difference == 0 else f'no: {difference:.0e}'}")

    def float32_class_models() -> torch.Tensor:
        return classvis.class_model(model, [55, 76, 130, 951], steps=5, size=112, blur_every=4, jitter=4).images

    single, double, _ = alternately(float32_class_models, class_models)
    print(f"\nfloat64 class-model steps (5 steps, 4 classes) take {double / single:.1f}x the float32 ones "
          "(chapter 8: about twice)")


if __name__ == "__main__":
    main()
