"""The book's settings against the libraries' defaults: same explanations, time ratios.

    python benchmarks/evaluation_speed.py            # print the table
    python benchmarks/evaluation_speed.py --write    # also store it for the evaluation chapter

Each row runs one explanation twice, with the anchor's defaults and with the book's setting,
interleaved and repeated (median), and prints ``default seconds / book seconds`` (above 1: the
book's setting is faster) and how close the two outputs are:

- Integrated Gradients (captum default ``internal_batch_size=None``: all steps in one batch;
  the book: passes of the image batch, ``pixels_per_pass`` = batch x 224 x 224), 32 steps, on the ImageNet model (with 50 steps,
  captum's default, the one-batch run needs about 2 GiB per image on EfficientNet-Lite0);
- SmoothGrad (captum ``NoiseTunnel`` default: all noisy copies in one batch; the book: chunks of
  about 32 images), signed, with the book's setting (``attribution.SMOOTHGRAD``), on the ImageNet
  model; the chunks draw the noise in another order, so the two maps are two samples of the same
  estimator and agree only up to noise;
- Grad-CAM (pytorch-grad-cam's ``GradCAM`` against the book's captum-based ``grad_cam``), on the
  ImageNet model's last convolutional stage;
- LIME (lime's default ``batch_size=10`` against the book's 64), 300 samples, on the pollen CNN.
"""

from __future__ import annotations

import argparse
import warnings

import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency

from xaihelpers import attribution, explainers, features, inference, methods, pollen, repro, zoo
from xaihelpers.hooks import get_layer

import _results

OUT = _results.OUT


def _similarity(a: torch.Tensor, b: torch.Tensor) -> str:
    difference = (a - b).abs().max().item()
    if difference < 1e-4 * max(a.abs().max().item(), 1e-12):
        return f"equal (max diff {difference:.0e})"
    return f"corr {features.pearson_per_image(a.flatten(0, -3) if a.dim() > 3 else a, b.flatten(0, -3) if b.dim() > 3 else b).mean():.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"store the table under {OUT}")
    args = parser.parse_args()
    repro.seed_everything()
    warnings.filterwarnings("ignore")
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    classifier, images, target = _results.imagenet_batch(args.batch)
    model = classifier.model

    samples, sigma = attribution.SMOOTHGRAD["samples"], attribution.SMOOTHGRAD["sigma"]

    def smoothgrad(chunk):
        torch.manual_seed(0)
        # abs=False: the signed average, SmoothGrad as the book (and its paper) defines it.
        return NoiseTunnel(Saliency(model)).attribute(images.clone().requires_grad_(), nt_type="smoothgrad",
                                                      nt_samples=samples, stdevs=sigma, target=target,
                                                      nt_samples_batch_size=chunk, abs=False)

    def anchor_grad_cam():
        with GradCAM(model=model, target_layers=[get_layer(model, classifier.target_layer)]) as cam:
            return torch.from_numpy(cam(input_tensor=images, targets=[ClassifierOutputTarget(int(t)) for t in target]))

    pollen_model, _ = zoo.load("pollen_cnn")
    pollen_images = inference.to_float(pollen.load_split("test").images[:4])
    pollen_target = inference.predict_proba(pollen_model, pollen_images).argmax(dim=1)

    def lime_default():
        return explainers.lime_maps(pollen_model, pollen_images, pollen_target, num_samples=300,
                                    batch_size=10, segmentation=explainers.slic_segmentation(40))

    # The book's side of every row is the registry's method (xaihelpers.methods) with these settings.
    rows = [
        ("Integrated Gradients, 32 steps", "captum: one batch", "chunks of the batch size",
         lambda: IntegratedGradients(model).attribute(images, target=target, n_steps=32),
         lambda: methods.get("Integrated Gradients")(model, images, target, steps=32,
                                                     pixels_per_pass=args.batch * 224 * 224)),
        (f"SmoothGrad, {samples} samples", "captum: one batch", "about 32 images per chunk",
         lambda: smoothgrad(None),
         lambda: methods.get("SmoothGrad")(model, images, target, pixels_per_pass=32 * 224 * 224)),
        ("Grad-CAM", "pytorch-grad-cam GradCAM", "captum LayerGradCam",
         anchor_grad_cam, lambda: methods.get("Grad-CAM")(model, images, target, layer=classifier.target_layer)),
        ("LIME, 300 samples (pollen CNN)", "lime: batch_size=10", "batch_size=64",
         lime_default, lambda: methods.get("LIME")(pollen_model, pollen_images, pollen_target)),
    ]
    results = []
    for name, default_label, book_label, default_run, book_run in rows:
        book_run()  # warm-up
        default_output, default_seconds = _results.median_seconds(default_run, args.repeats)
        book_output, book_seconds = _results.median_seconds(book_run, args.repeats)
        if default_output.dim() == 4:  # captum's per-channel output; the registry's maps are reduced
            reduce = "sum" if name.startswith("Integrated") else "max_abs"
            default_output = attribution.channel_reduce(default_output, reduce)
        results.append((name, default_label, book_label, default_seconds, book_seconds,
                        default_seconds / book_seconds, _similarity(default_output, book_output)))
    machine = _results.machine()
    print(f"{classifier.describe()}; batch of {args.batch} images; {machine}")
    print(f"{'method':32s} {'default':26s} {'book':26s} {'default s':>9s} {'book s':>7s} {'ratio':>6s}  output")
    for name, default_label, book_label, default_seconds, book_seconds, ratio, similar in results:
        print(f"{name:32s} {default_label:26s} {book_label:26s} {default_seconds:9.2f} {book_seconds:7.2f} "
              f"{ratio:6.2f}  {similar}")
    if args.write:
        _results.write("evaluation_speed",
                       ["method", "default", "book", "default seconds", "book seconds", "default / book", "outputs"],
                       [(n, d, b, f"{ds:.2f}", f"{bs:.2f}", f"{r:.2f}", s) for n, d, b, ds, bs, r, s in results],
                       {"model": classifier.name, "batch": args.batch, "machine": machine}, sep=";")


if __name__ == "__main__":
    main()
