"""Class-model visualisation: the image a classifier finds most typical of a class.

Gradient ascent on a class score from a neutral grey image, with L2 regularisation
(Simonyan et al. 2013, "Deep Inside Convolutional Networks"), optionally with the regularisers
of Yosinski et al. 2015 ("Understanding Neural Networks Through Deep Visualization"): a Gaussian
blur every ``blur_every`` steps, which removes the high frequencies the gradient keeps adding,
and random jitter (a shift of the image before each step), which keeps the optimisation from
relying on exact pixel positions. No library in the book's stack provides this, so it lives here.

Cost: one forward and one backward pass per step for the whole batch of classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur
from tqdm import tqdm

from xaihelpers import checks

#: Grey level of the neutral starting image (the middle of the [0, 1] pixel range).
NEUTRAL = 0.5


@dataclass
class ClassModelResult:
    """What :func:`class_model` returns.

    Attributes:
        images: The optimised images, (C, 3, H, W) in [0, 1], one per requested class.
        scores: The class score (logit) of each image after every step, (steps + 1, C); row 0 is
            the score of the starting image.
        probabilities: Softmax probability of each image's class at the end, (C,).
        predicted: The class the model predicts for each image after every step, (steps + 1, C):
            when the network "changes its mind" when starting from a photo.
    """

    images: torch.Tensor
    scores: torch.Tensor
    probabilities: torch.Tensor
    predicted: Optional[torch.Tensor] = None


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a batch (N, 3, H, W) with standard deviation ``sigma`` in pixels.

    The kernel spans about three standard deviations on each side.
    """
    if sigma <= 0:
        return images
    radius = max(1, int(3 * sigma + 0.5))
    return gaussian_blur(images, kernel_size=[2 * radius + 1, 2 * radius + 1], sigma=[sigma, sigma])


def high_frequency_energy(images: torch.Tensor, cutoff: float = 0.25) -> torch.Tensor:
    """Share of each image's spectral energy above a spatial frequency, (N,).

    The mean grey level (DC component) is removed first, so the value measures how much of the
    image's *variation* is fine detail: 0 for a smooth image, close to 1 for pixel noise.

    Args:
        images: (N, C, H, W).
        cutoff: Frequency in cycles per pixel (0.5 is the Nyquist limit) above which energy counts
            as high-frequency.
    """
    centred = images - images.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(centred).abs().pow(2).sum(dim=1)
    fy = torch.fft.fftfreq(images.shape[-2])[:, None]
    fx = torch.fft.fftfreq(images.shape[-1])[None, :]
    high = (fy.pow(2) + fx.pow(2)).sqrt() > cutoff
    total = power.flatten(1).sum(1).clamp_min(1e-20)
    return (power * high).flatten(1).sum(1) / total


def typical_wavelength(images: torch.Tensor) -> torch.Tensor:
    """The typical size of each image's patterns: the power-weighted mean spatial wavelength of its
    grey levels, in pixels, (N,). A pattern that repeats every ``w`` pixels gives about ``w``;
    larger shapes give larger values. The mean grey level is removed first.

    Raises:
        ValueError: If ``images`` is not a batch ``(N, C, H, W)`` or an image is constant.
    """
    checks.images(images)
    gray = images.mean(dim=1)
    power = torch.fft.rfft2(gray - gray.mean(dim=(1, 2), keepdim=True)).abs().pow(2)
    if bool((power.flatten(1).sum(dim=1) == 0).any()):
        raise ValueError("a constant image has no patterns, hence no wavelength.")
    fy = torch.fft.fftfreq(gray.shape[-2])[:, None].abs()
    fx = torch.fft.rfftfreq(gray.shape[-1])[None, :]
    radius = (fy ** 2 + fx ** 2).sqrt()
    return 1 / ((power * radius).sum(dim=(1, 2)) / power.sum(dim=(1, 2)))


def _blur_plan(blur_every, blur_sigma, count: int) -> dict[tuple[int, float], list[int]]:
    """Which images to blur how: {(every, sigma): image positions}, from scalars or per-image lists."""
    def per_image(value, name):
        if isinstance(value, (list, tuple)):
            if len(value) != count:
                raise ValueError(f"{name} has {len(value)} values for {count} classes: give one value, "
                                 f"or one per class.")
            return list(value)
        return [value] * count

    plan: dict[tuple[int, float], list[int]] = {}
    for position, (every, sigma) in enumerate(zip(per_image(blur_every, "blur_every"),
                                                  per_image(blur_sigma, "blur_sigma"))):
        if every is None:
            continue
        checks.positive_int(every, "blur_every")
        checks.positive(sigma, "blur_sigma")
        plan.setdefault((every, float(sigma)), []).append(position)
    return plan


def class_model(
    model: nn.Module,
    classes: Sequence[int],
    *,
    steps: int = 100,
    size: int = 128,
    step_size: float = 0.01,
    l2: float = 0.01,
    blur_every: Optional[int] | Sequence[Optional[int]] = None,
    blur_sigma: float | Sequence[float] = 1.0,
    jitter: int = 0,
    seed: int = 0,
    progress: bool = False,
    start: Optional[torch.Tensor] = None,
    score: str = "logit",
    total_variation: float = 0.0,
) -> ClassModelResult:
    r"""Optimise one image per class to maximise the class score.

    Maximises :math:`S_c(x) - \lambda \lVert x - x_0 \rVert_2^2` by normalised gradient ascent
    (the gradient is divided by its root mean square, so a typical pixel moves by ``step_size``
    per step whatever the gradient's scale), keeping
    pixels in [0, 1]; :math:`x_0` is the neutral grey image and :math:`S_c` the unnormalised score
    (logit), as Simonyan et al. recommend, since maximising the softmax probability can be done by
    lowering the other classes.

    Args:
        model: A classifier that takes images in [0, 1] and returns logits; it is used in eval mode.
        classes: Class indices (a class may repeat); the images are optimised together as one
            batch, each independently of the others.
        steps: Number of gradient-ascent steps.
        size: Side of the square image in pixels.
        step_size: Typical (root-mean-square) change of a pixel per step.
        l2: Weight :math:`\lambda` of the L2 penalty.
        blur_every: Blur the image every this many steps (``None``: never); or one such value
            per class, to compare settings in one batch (faster than one run per setting).
        blur_sigma: Standard deviation of that blur in pixels; or one value per class.
        jitter: Largest random shift in pixels applied (circularly) before each step.
        seed: Seed of the jitter and of the tiny noise that breaks the symmetry of the start image.
        progress: Show a tqdm progress bar.
        start: Start images ``(C, 3, H, W)`` in [0, 1] instead of the neutral grey (for example a
            photo of another class); ``size`` is then theirs. The L2 penalty still pulls towards
            grey: pass ``l2=0`` to leave the photo alone but for the ascent.
        score: What is maximised: ``"logit"`` (Simonyan et al.'s choice) or ``"log_probability"``
            (the log-softmax, which can also rise by lowering the other classes).
        total_variation: Weight of a total-variation penalty (the mean squared difference between
            neighbouring pixels, times the number of values): an alternative to the blur.

    Returns:
        The images, the score history and the final probabilities.

    Raises:
        ValueError: If ``classes`` is empty, or ``steps`` or ``size`` is not positive.
    """
    if len(classes) == 0:
        raise ValueError("classes is empty: give at least one class index")
    checks.positive_int(steps, "steps")
    checks.positive_int(size, "size")
    if score not in ("logit", "log_probability"):
        raise ValueError(f"score must be 'logit' or 'log_probability', got {score!r}.")
    checks.non_negative(total_variation, "total_variation")
    if start is not None:
        checks.images(start, "start")
        if start.shape[:2] != (len(classes), 3):
            raise ValueError(f"start must hold one RGB image per class, ({len(classes)}, 3, H, W); "
                             f"got {tuple(start.shape)}.")
        if start.min() < 0 or start.max() > 1:
            raise ValueError("start images must have pixels in [0, 1] (the model's input range).")
    checks.positive(step_size, "step_size")
    checks.non_negative(l2, "l2")
    blur_plan = _blur_plan(blur_every, blur_sigma, len(classes))
    if isinstance(jitter, bool) or not isinstance(jitter, int) or jitter < 0:
        raise ValueError(f"jitter must be a whole number of pixels, 0 or more, got {jitter!r}.")
    checks.targets(list(classes), len(classes), "classes")
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    target = torch.as_tensor(list(classes), device=device)
    rows = torch.arange(len(target), device=device)
    if start is None:
        noise = torch.randn(len(target), 3, size, size, generator=generator) * 0.01
        image = (torch.full((len(target), 3, size, size), NEUTRAL) + noise).to(device)
    else:
        image = start.detach().clone().to(device)
    scores, predicted = [], []
    try:
        for step in tqdm(range(steps + 1), desc="class model", disable=not progress):
            shift = (0, 0)
            if jitter:
                shift = tuple(int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=generator))
            image.requires_grad_(True)
            logits = model(torch.roll(image, shifts=shift, dims=(-2, -1)))
            if step == 0:
                checks.targets(target, len(target), "classes", classes=logits.shape[1])
            scores.append(logits[rows, target].detach().cpu())
            predicted.append(logits.argmax(dim=1).detach().cpu())
            if step == steps:
                probabilities = logits.softmax(dim=1)[rows, target].detach().cpu()
                break
            maximised = logits[rows, target] if score == "logit" else logits.log_softmax(dim=1)[rows, target]
            objective = maximised.sum() - l2 * (image - NEUTRAL).pow(2).sum()
            if total_variation:
                # The squared differences (Mahendran and Vedaldi's beta = 2): the absolute value's
                # gradient is a sign, whose normalised steps add pixel-level noise instead of removing it.
                variation = ((image[..., 1:, :] - image[..., :-1, :]).pow(2).mean(dim=(1, 2, 3))
                             + (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean(dim=(1, 2, 3)))
                objective = objective - total_variation * image[0].numel() * variation.sum()
            (gradient,) = torch.autograd.grad(objective, image)
            with torch.no_grad():
                scale = gradient.pow(2).flatten(1).mean(dim=1).sqrt().clamp_min(1e-12)[:, None, None, None]
                image = (image + step_size * gradient / scale).clamp(0, 1)
                for (every, sigma), members in blur_plan.items():
                    if (step + 1) % every == 0:
                        image[members] = blur(image[members], sigma)
    finally:
        model.train(was_training)
    return ClassModelResult(image.detach().cpu(), torch.stack(scores), probabilities, torch.stack(predicted))


def for_display(images: torch.Tensor, percentile: float = 1.0) -> torch.Tensor:
    """Stretch each image's contrast to [0, 1] between two percentiles, (N, H, W, 3) for imshow.

    Optimised images stay close to the neutral grey (the L2 penalty sees to it); stretching, as
    Simonyan et al. do for their figures, makes their structure visible.
    """
    flat = images.flatten(1)
    low = torch.quantile(flat, percentile / 100, dim=1)[:, None, None, None]
    high = torch.quantile(flat, 1 - percentile / 100, dim=1)[:, None, None, None]
    return ((images - low) / (high - low).clamp_min(1e-12)).clamp(0, 1).permute(0, 2, 3, 1)
