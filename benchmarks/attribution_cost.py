"""Time each gradient attribution method as a multiple of one forward + backward pass.

    python benchmarks/attribution_cost.py                 # print the table
    python benchmarks/attribution_cost.py --write         # also store it for the IG chapter

The baseline (one forward and one backward pass of the same batch) is measured in the same
process, interleaved with the methods, so the ratios do not depend on the machine's speed.

SmoothGrad and IG process their N (or S) copies of the batch in chunks (captum's
``nt_samples_batch_size`` and ``internal_batch_size``, which the registry sets from ``pixels_per_pass``). On a CPU a chunk as large as the image
batch is fastest per image: bigger chunks outgrow the caches. The last rows measure that choice,
IG with all S steps in one chunk, so the book's setting is checked rather than assumed.
"""

from __future__ import annotations

import argparse
import warnings

from xaihelpers import attribution, methods, repro

import _results

OUT = _results.OUT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--samples", type=int, default=attribution.SMOOTHGRAD["samples"],
                        help="SmoothGrad samples N (default: the book's setting)")
    parser.add_argument("--steps", type=int, default=16, help="Integrated Gradients steps S")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"store the table under {OUT}")
    args = parser.parse_args()

    repro.seed_everything()
    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations")
    classifier, images, target = _results.imagenet_batch(args.batch)
    model = classifier.model

    def forward_backward():
        x = images.clone().requires_grad_()
        model(x).gather(1, target[:, None]).sum().backward()

    # The registry's methods (xaihelpers.methods), with the settings each row names. SmoothGrad runs
    # one noisy copy of the batch per pass (as many images as the batch), IG one step per pass, then
    # all steps in one pass.
    rows_to_run = {
        "saliency": ("saliency", {}),
        "guided backprop": ("guided backprop", {}),
        "Grad-CAM": ("Grad-CAM", {"layer": classifier.target_layer}),
        f"SmoothGrad (N={args.samples})": ("SmoothGrad", {"samples": args.samples,
                                                          "pixels_per_pass": args.batch * 224 * 224}),
        f"Integrated Gradients (S={args.steps})": ("Integrated Gradients", {"steps": args.steps,
                                                                            "pixels_per_pass": args.batch * 224 * 224}),
        f"IG (S={args.steps}) in one chunk": ("Integrated Gradients", {"steps": args.steps,
                                                                       "pixels_per_pass": args.batch * args.steps * 224 * 224}),
    }
    forward_backward()  # warm-up
    rows = []
    for name, (method, settings) in rows_to_run.items():
        run = lambda method=method, settings=settings: methods.get(method)(model, images, target, **settings)  # noqa: E731
        passes = int(methods.get(method).cost(**settings)[1])
        run()  # warm-up
        baseline = _results.median_seconds(forward_backward, args.repeats)[1]
        seconds = _results.median_seconds(run, args.repeats)[1]
        rows.append((name, passes, seconds / baseline, seconds / args.batch))
    machine = _results.machine()
    print(f"{classifier.describe()}; batch of {args.batch} images; {machine}")
    header = f"{'method':28s} {'passes/image':>12s} {'x fwd+bwd':>10s} {'s/image':>8s}"
    print(header)
    for name, passes, ratio, per_image in rows:
        print(f"{name:28s} {passes:12d} {ratio:10.1f} {per_image:8.3f}")
    if args.write:
        _results.write("attribution_cost", ["method", "passes per image", "x forward+backward", "seconds per image"],
                       [(n, str(p), f"{r:.1f}", f"{s:.3f}") for n, p, r, s in rows],
                       {"model": classifier.name, "batch": args.batch, "machine": machine})


if __name__ == "__main__":
    main()
